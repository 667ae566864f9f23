/* window.c: count and event-time windows, tumbling and hopping, with a watermark. */
#include "windwatch/window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ww_window_s {
  ww_window_conf_t conf; /* validated copy; slide filled in */
  size_t n, cap;         /* readings buffered / room for */
  int64_t *ts;           /* [cap] event time, ms */
  uint32_t *present;     /* [cap] present-value bits */
  uint8_t *anom;         /* [cap] 1 = flagged anomalous */
  double *vals;          /* [cap * n_values] values, row per reading */
  double *gather;        /* [cap] one sensor's values of the closing window */
  int64_t *gts;          /* [cap] their event times */
  double *scratch;       /* [cap] sort space for percentiles */
  int64_t seq;           /* next window sequence number */
  /* count windows */
  int64_t added;       /* readings added since reset */
  int64_t since_close; /* readings added since the last close */
  /* time windows */
  int64_t max_ts;     /* largest event time accepted, ms */
  int have_ts;        /* max_ts is valid */
  int64_t watermark;  /* max_ts - allowed lateness, or an advance() */
  int64_t next_start; /* start of the oldest window not yet closed */
  int have_next;      /* next_start is valid */
};

const char *ww_window_type_name(ww_window_type_t type) {
  return type == WW_WINDOW_COUNT ? "count" : "time";
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    q--;
  return q;
}

/* Start of the oldest aligned window that contains ts: the smallest
 * multiple of slide that is > ts - size. */
static int64_t first_start(const ww_window_t *win, int64_t ts) {
  return (floor_div(ts - win->conf.size, win->conf.slide) + 1) * win->conf.slide;
}

ww_window_t *ww_window_new(const ww_window_conf_t *conf, char *errstr, size_t errstr_size) {
  ww_window_t *win = NULL;
  ww_window_conf_t c = *conf;
  if (c.slide == 0)
    c.slide = c.size;
  if (c.size <= 0) {
    snprintf(errstr, errstr_size, "window size must be > 0 (got %lld)", (long long)c.size);
    goto err;
  }
  if (c.slide <= 0 || c.slide > c.size) {
    snprintf(errstr, errstr_size,
             "window slide must be > 0 and <= the window size %lld (got %lld); "
             "set it to the size for tumbling windows",
             (long long)c.size, (long long)c.slide);
    goto err;
  }
  if (c.n_values < 1 || c.n_values > WW_MAX_SENSORS) {
    snprintf(errstr, errstr_size, "window values per reading must be 1..%d (got %d)",
             WW_MAX_SENSORS, c.n_values);
    goto err;
  }
  if (c.allowed_lateness_ms < 0) {
    snprintf(errstr, errstr_size, "allowed lateness must be >= 0 ms (got %lld)",
             (long long)c.allowed_lateness_ms);
    goto err;
  }
  win = calloc(1, sizeof(*win));
  if (!win) {
    snprintf(errstr, errstr_size, "out of memory");
    goto err;
  }
  win->conf = c;
  ww_window_reset(win);
  return win;
err:
  free(win);
  return NULL;
}

void ww_window_destroy(ww_window_t *win) {
  if (!win)
    return;
  free(win->ts);
  free(win->present);
  free(win->anom);
  free(win->vals);
  free(win->gather);
  free(win->gts);
  free(win->scratch);
  free(win);
}

void ww_window_reset(ww_window_t *win) {
  win->n = 0;
  win->seq = 0;
  win->added = 0;
  win->since_close = 0;
  win->have_ts = 0;
  win->max_ts = INT64_MIN;
  win->watermark = INT64_MIN;
  win->have_next = 0;
  win->next_start = 0;
}

int64_t ww_window_watermark(const ww_window_t *win) {
  return win->watermark;
}
size_t ww_window_pending(const ww_window_t *win) {
  return win->n;
}

int ww_window_is_late(const ww_window_t *win, int64_t ts_ms) {
  return win->conf.type == WW_WINDOW_TIME && ts_ms < win->watermark;
}

/* Grow every per-reading array together so they always share one capacity. */
static int grow(ww_window_t *win) {
  size_t ncap = win->cap ? win->cap * 2 : 64;
  size_t nv = (size_t)win->conf.n_values;
  void *p;
#define WW_GROW(field, elems)                                                                      \
  do {                                                                                             \
    p = realloc(win->field, (elems) * sizeof(*win->field));                                        \
    if (!p)                                                                                        \
      return -1;                                                                                   \
    win->field = p;                                                                                \
  } while (0)
  WW_GROW(ts, ncap);
  WW_GROW(present, ncap);
  WW_GROW(anom, ncap);
  WW_GROW(vals, ncap * nv);
  WW_GROW(gather, ncap);
  WW_GROW(gts, ncap);
  WW_GROW(scratch, ncap);
#undef WW_GROW
  win->cap = ncap;
  return 0;
}

/* Summarise buffered readings [from, to) whose event time is in [lo, hi). */
static void emit(ww_window_t *win, size_t from, size_t to, int64_t lo, int64_t hi, int64_t start_ms,
                 int64_t end_ms, ww_window_close_cb cb, void *opaque) {
  ww_window_result_t res;
  size_t nv = (size_t)win->conf.n_values;
  int64_t tmin = INT64_MAX, tmax = INT64_MIN;
  memset(&res, 0, sizeof(res));
  res.type = win->conf.type;
  /* A time window's place in event time, the same for whoever computes it
   * (another processor after a rebalance or a restart); a count window's
   * place among those this engine closed. */
  res.seq = win->conf.type == WW_WINDOW_TIME ? floor_div(start_ms, win->conf.slide) : win->seq;
  win->seq++;
  res.n_values = win->conf.n_values;
  for (size_t i = from; i < to; i++) {
    if (win->ts[i] < lo || win->ts[i] >= hi)
      continue;
    res.count++;
    res.anomalous += win->anom[i];
    if (win->ts[i] < tmin)
      tmin = win->ts[i];
    if (win->ts[i] > tmax)
      tmax = win->ts[i];
  }
  for (size_t k = 0; k < nv; k++) {
    size_t m = 0;
    for (size_t i = from; i < to; i++) {
      if (win->ts[i] < lo || win->ts[i] >= hi || !(win->present[i] & (1u << k)))
        continue;
      win->gather[m] = win->vals[i * nv + k];
      win->gts[m] = win->ts[i];
      m++;
    }
    ww_stats_compute(win->gather, win->gts, m, win->scratch, win->conf.trend_threshold,
                     &res.stats[k]);
  }
  if (win->conf.type == WW_WINDOW_COUNT) {
    res.start_ms = res.count ? tmin : 0;
    res.end_ms = res.count ? tmax : 0;
  } else {
    res.start_ms = start_ms;
    res.end_ms = end_ms;
  }
  if (cb)
    cb(opaque, &res);
}

/* Drop the first k buffered readings (count windows keep arrival order). */
static void drop_front(ww_window_t *win, size_t k) {
  size_t nv = (size_t)win->conf.n_values, rest = win->n - k;
  memmove(win->ts, win->ts + k, rest * sizeof(*win->ts));
  memmove(win->present, win->present + k, rest * sizeof(*win->present));
  memmove(win->anom, win->anom + k, rest * sizeof(*win->anom));
  memmove(win->vals, win->vals + k * nv, rest * nv * sizeof(*win->vals));
  win->n = rest;
}

/* Drop readings older than ts_min (time windows; any order). @returns the
 * smallest remaining event time, or INT64_MAX if none remain. */
static int64_t purge_before(ww_window_t *win, int64_t ts_min) {
  size_t nv = (size_t)win->conf.n_values, w = 0;
  int64_t mn = INT64_MAX;
  for (size_t i = 0; i < win->n; i++) {
    if (win->ts[i] < ts_min)
      continue;
    if (w != i) {
      win->ts[w] = win->ts[i];
      win->present[w] = win->present[i];
      win->anom[w] = win->anom[i];
      memcpy(win->vals + w * nv, win->vals + i * nv, nv * sizeof(*win->vals));
    }
    if (win->ts[w] < mn)
      mn = win->ts[w];
    w++;
  }
  win->n = w;
  return mn;
}

static int64_t min_ts(const ww_window_t *win) {
  int64_t mn = INT64_MAX;
  for (size_t i = 0; i < win->n; i++)
    if (win->ts[i] < mn)
      mn = win->ts[i];
  return mn;
}

/* Close, in order, every time window whose end is <= wm. */
static int close_time(ww_window_t *win, int64_t wm, ww_window_close_cb cb, void *opaque) {
  int closed = 0;
  int64_t size = win->conf.size, slide = win->conf.slide, mn;
  /* Most readings move the watermark without closing anything: answer that
   * without the scan for the oldest reading (the skip below only ever moves
   * next_start later, so it cannot close a window that is open here). */
  if (!win->have_next || win->n == 0 || win->next_start > wm - size)
    return 0;
  mn = min_ts(win);
  while (win->n > 0) {
    /* Skip the empty windows of a gap in event time without visiting each. */
    int64_t s = first_start(win, mn);
    if (s > win->next_start)
      win->next_start = s;
    if (win->next_start > wm - size) /* end > wm: still open */
      break;
    emit(win, 0, win->n, win->next_start, win->next_start + size, win->next_start,
         win->next_start + size, cb, opaque);
    closed++;
    win->next_start += slide;
    mn = purge_before(win, win->next_start);
  }
  if (win->n == 0)
    win->have_next = 0;
  return closed;
}

ww_err_t ww_window_add(ww_window_t *win, int64_t ts_ms, const double *values, uint32_t present,
                       int anomalous, ww_window_close_cb cb, void *opaque) {
  size_t nv = (size_t)win->conf.n_values, i;
  if (ww_window_is_late(win, ts_ms))
    return WW_ERR_RANGE;
  if (win->n == win->cap && grow(win) != 0)
    return WW_ERR_NOMEM;
  i = win->n++;
  win->ts[i] = ts_ms;
  win->present[i] = present;
  win->anom[i] = anomalous ? 1 : 0;
  memcpy(win->vals + i * nv, values, nv * sizeof(*values));

  if (win->conf.type == WW_WINDOW_COUNT) {
    int64_t size = win->conf.size, slide = win->conf.slide;
    win->added++;
    win->since_close++;
    if (win->added >= size && (win->added - size) % slide == 0) {
      /* The buffer holds the last `size` readings: the window (fewer only
       * after ww_window_set_count(), when the history before is missing). */
      emit(win, win->n > (size_t)size ? win->n - (size_t)size : 0, win->n, INT64_MIN, INT64_MAX, 0,
           0, cb, opaque);
      win->since_close = 0;
      /* Keep only what the next hopping window shares with this one. */
      if (win->n > (size_t)(size - slide))
        drop_front(win, win->n - (size_t)(size - slide));
    }
    return WW_OK;
  }

  {
    int64_t s0 = first_start(win, ts_ms);
    if (!win->have_next || s0 < win->next_start) {
      win->next_start = s0;
      win->have_next = 1;
    }
  }
  if (!win->have_ts || ts_ms > win->max_ts) {
    int64_t wm;
    win->max_ts = ts_ms;
    win->have_ts = 1;
    wm = ts_ms - win->conf.allowed_lateness_ms;
    if (wm > win->watermark) {
      win->watermark = wm;
      close_time(win, wm, cb, opaque);
    }
  }
  return WW_OK;
}

int ww_window_set_count(ww_window_t *win, int64_t added, int64_t seq) {
  int64_t size = win->conf.size, slide = win->conf.slide;
  if (win->conf.type != WW_WINDOW_COUNT || win->n > 0 || added < 0 || seq < 0)
    return -1;
  win->added = added;
  win->seq = seq;
  win->since_close = added >= size ? (added - size) % slide : added;
  return 0;
}

int64_t ww_window_count(const ww_window_t *win, int64_t *seq) {
  if (seq)
    *seq = win->seq;
  return win->conf.type == WW_WINDOW_COUNT ? win->added : -1;
}

int ww_window_advance(ww_window_t *win, int64_t watermark_ms, ww_window_close_cb cb, void *opaque) {
  if (win->conf.type != WW_WINDOW_TIME || watermark_ms <= win->watermark)
    return 0;
  win->watermark = watermark_ms;
  return close_time(win, watermark_ms, cb, opaque);
}

int ww_window_flush(ww_window_t *win, ww_window_close_cb cb, void *opaque) {
  int closed = 0;
  if (win->conf.type == WW_WINDOW_COUNT) {
    if (win->since_close > 0 && win->n > 0) {
      emit(win, 0, win->n, INT64_MIN, INT64_MAX, 0, 0, cb, opaque);
      closed = 1;
    }
    win->n = 0;
    win->since_close = 0;
    win->added = 0;
    return closed;
  }
  closed = close_time(win, INT64_MAX - win->conf.size, cb, opaque);
  return closed;
}
