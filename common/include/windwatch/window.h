/**
 * @file window.h
 * @brief The window engine: one instance per production line.
 *
 * Count windows hold `size` readings and close on the reading that fills
 * them; time windows cover [start, start+size) in event time, aligned to
 * multiples of `slide` since the epoch, and close when the watermark passes
 * their end. slide < size makes windows hop (each reading is in size/slide
 * windows); slide == size is tumbling.
 *
 * Watermark (time windows): W = (largest event time seen) - allowed_lateness.
 * A reading with event time < W is late: ww_window_add() refuses it and the
 * caller sends it to the dead-letter topic. Every accepted reading therefore
 * lands in windows that are still open, and a closed window never changes.
 *
 * After a window closes its readings are dropped unless a later (hopping)
 * window still needs them: the buffer never grows without bound, and a
 * count window never fires twice (both bugs of the original).
 *
 * Not thread-safe; allocations only when the buffer grows (amortised doubling).
 */
#ifndef WW_WINDOW_H
#define WW_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "windwatch/config.h"
#include "windwatch/err.h"
#include "windwatch/stats.h"

typedef enum ww_window_type_e {
  WW_WINDOW_TIME = 0,  /* event-time windows, size and slide in ms */
  WW_WINDOW_COUNT = 1, /* count windows, size and slide in readings */
} ww_window_type_t;

/** @returns "time" or "count". */
const char *ww_window_type_name(ww_window_type_t type);

typedef struct ww_window_conf_s {
  ww_window_type_t type;
  int64_t size;  /* ms (time) or readings (count); > 0 */
  int64_t slide; /* same unit; 0 = size (tumbling); 0 < slide <= size */
  int64_t
      allowed_lateness_ms; /* time windows: how far behind the newest reading a reading may be */
  int n_values;            /* values per reading, 1..WW_MAX_SENSORS */
  double trend_threshold;  /* |slope| per minute above which the trend is not stable */
} ww_window_conf_t;

/** One closed window. */
typedef struct ww_window_result_s {
  ww_window_type_t type;
  int64_t seq;       /* time: window_start / slide since the epoch; count: 0, 1, 2, ... per
                        engine since creation or reset, or on from ww_window_set_count() */
  int64_t start_ms;  /* time: window start; count: earliest event time in it */
  int64_t end_ms;    /* time: window end (exclusive); count: latest event time in it */
  int64_t count;     /* readings in the window */
  int64_t anomalous; /* of those, flagged anomalous when added */
  int n_values;      /* entries in stats[] */
  ww_stats_t stats[WW_MAX_SENSORS]; /* per value index; stats[i].count counts present values */
} ww_window_result_t;

/** Called once per closed window, in order. \p res is borrowed for the call. */
typedef void (*ww_window_close_cb)(void *opaque, const ww_window_result_t *res);

typedef struct ww_window_s ww_window_t;

/**
 * @brief Create an engine. @returns NULL with \p errstr naming the bad field.
 * @remark the caller frees it with ww_window_destroy().
 */
ww_window_t *ww_window_new(const ww_window_conf_t *conf, char *errstr, size_t errstr_size);
/** NULL is a no-op. */
void ww_window_destroy(ww_window_t *win);
/** Drop every buffered reading, the watermark and the sequence (e.g. on partition revoke). */
void ww_window_reset(ww_window_t *win);

/** @returns non-zero if a reading at \p ts_ms would be refused as late. Count windows: never. */
int ww_window_is_late(const ww_window_t *win, int64_t ts_ms);
/** @returns the watermark in ms, or INT64_MIN before the first reading. */
int64_t ww_window_watermark(const ww_window_t *win);
/** @returns readings currently buffered. */
size_t ww_window_pending(const ww_window_t *win);

/**
 * @brief Count windows: go on as if \p added readings had been added since
 *        the windows (re)started, with \p seq the next window's window_seq:
 *        for a processor that takes over a line and replays the readings
 *        since a committed count (ww_window_count()). Windows that then
 *        close before the buffer holds `size` readings summarise what it holds.
 * @returns 0, or -1 for time windows, a buffer not empty or a count < 0.
 */
int ww_window_set_count(ww_window_t *win, int64_t added, int64_t seq);
/** @returns the readings added to count windows since creation, a reset, a
 *  flush (which starts them again, window_seq going on) or a
 *  ww_window_set_count() (which counts them too), with the next window's
 *  window_seq in \p seq (if not NULL); -1 for time windows. */
int64_t ww_window_count(const ww_window_t *win, int64_t *seq);

/**
 * @brief Add one reading and close every window it completes, calling \p cb for each.
 * @param values n_values values; only those with their bit set in \p present are used.
 * @returns WW_OK, WW_ERR_RANGE if the reading is late (nothing changed),
 *          WW_ERR_NOMEM if the buffer could not grow (nothing changed).
 */
ww_err_t ww_window_add(ww_window_t *win, int64_t ts_ms, const double *values, uint32_t present,
                       int anomalous, ww_window_close_cb cb, void *opaque);

/**
 * @brief Move the watermark to at least \p watermark_ms (time windows; e.g.
 *        processing time for an idle line) and close what it passes.
 * @returns the number of windows closed.
 */
int ww_window_advance(ww_window_t *win, int64_t watermark_ms, ww_window_close_cb cb, void *opaque);

/**
 * @brief End of input: close every window that holds readings. Count
 *        windows that are not full are emitted too (with count < size).
 * @returns the number of windows closed.
 */
int ww_window_flush(ww_window_t *win, ww_window_close_cb cb, void *opaque);

#endif /* WW_WINDOW_H */
