/*
 * metrics.c: a Prometheus registry with lock-free updates and a /metrics
 * endpoint on a libmicrohttpd thread.
 *
 * Values are doubles stored as their bit patterns in _Atomic uint64_t, so an
 * update is one compare-and-swap loop and a scrape reads a consistent value
 * without stopping writers. The registry's lists only grow while it lives;
 * the mutex orders registration against rendering, never against updates.
 */
#include "windwatch/metrics.h"

#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "windwatch/log.h"

#define MAX_BOUNDS 64

typedef enum kind_e { K_COUNTER, K_GAUGE, K_HISTOGRAM } kind_t;

typedef struct family_s {
  char *name;                /* metric name, validated */
  char *help;                /* HELP text, unescaped */
  kind_t kind;               /* every series of the family has it */
  double bounds[MAX_BOUNDS]; /* histogram upper bounds, increasing */
  int n_bounds;              /* entries in bounds */
  ww_metric_t *first;        /* series in registration order */
  ww_metric_t *last;
  struct family_s *next;
} family_t;

struct ww_metric_s {
  family_t *fam;             /* owning family */
  char *labels;              /* rendered pairs `a="x",b="y"` or "" */
  _Atomic uint64_t bits;     /* counter/gauge value, or histogram sum, as double bits */
  _Atomic uint64_t *buckets; /* histogram: n_bounds + 1 non-cumulative counts (last = +Inf) */
  ww_metric_fn_t fn;         /* gauge computed at scrape time, or NULL */
  void *opaque;              /* argument of fn */
  ww_metric_t *next;
};

struct ww_metrics_s {
  pthread_mutex_t mu; /* guards the lists against concurrent registration/rendering */
  family_t *first;
  family_t *last;
  struct MHD_Daemon *mhd; /* /metrics server, or NULL */
};

/* ---- atomic doubles ----------------------------------------------------- */

static inline uint64_t d2u(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof(u));
  return u;
}

static inline double u2d(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof(d));
  return d;
}

static void atomic_add_double(_Atomic uint64_t *a, double v) {
  uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(a, &old, d2u(u2d(old) + v), memory_order_relaxed,
                                                memory_order_relaxed))
    ;
}

/* ---- registration ------------------------------------------------------- */

ww_metrics_t *ww_metrics_new(void) {
  ww_metrics_t *reg = calloc(1, sizeof(*reg));
  if (!reg)
    return NULL;
  if (pthread_mutex_init(&reg->mu, NULL) != 0) {
    free(reg);
    return NULL;
  }
  return reg;
}

void ww_metrics_destroy(ww_metrics_t *reg) {
  if (!reg)
    return;
  if (reg->mhd)
    MHD_stop_daemon(reg->mhd);
  for (family_t *f = reg->first, *fn; f; f = fn) {
    fn = f->next;
    for (ww_metric_t *m = f->first, *mn; m; m = mn) {
      mn = m->next;
      free(m->labels);
      free(m->buckets);
      free(m);
    }
    free(f->name);
    free(f->help);
    free(f);
  }
  pthread_mutex_destroy(&reg->mu);
  free(reg);
}

static int valid_name(const char *s, int label) {
  if (!s || !*s)
    return 0;
  for (const char *p = s; *p; p++) {
    char c = *p;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':') ||
             (p != s && c >= '0' && c <= '9');
    if (!ok)
      return 0;
  }
  return 1;
}

/* Growable string for rendering. */
typedef struct sbuf_s {
  char *buf;
  size_t len, cap;
  int oom;
} sbuf_t;

static void sb_grow(sbuf_t *sb, size_t need) {
  size_t cap;
  char *nb;
  if (sb->oom || sb->len + need + 1 <= sb->cap)
    return;
  cap = sb->cap ? sb->cap : 1024;
  while (cap < sb->len + need + 1)
    cap *= 2;
  nb = realloc(sb->buf, cap);
  if (!nb) {
    sb->oom = 1;
    return;
  }
  sb->buf = nb;
  sb->cap = cap;
}

static void sb_putn(sbuf_t *sb, const char *s, size_t n) {
  sb_grow(sb, n);
  if (sb->oom)
    return;
  memcpy(sb->buf + sb->len, s, n);
  sb->len += n;
  sb->buf[sb->len] = '\0';
}

static void sb_puts(sbuf_t *sb, const char *s) {
  sb_putn(sb, s, strlen(s));
}

/* Escape for label values (\\, \", \n) or, with help=1, HELP text (\\, \n). */
static void sb_escaped(sbuf_t *sb, const char *s, int help) {
  for (; *s; s++) {
    if (*s == '\\')
      sb_puts(sb, "\\\\");
    else if (*s == '\n')
      sb_puts(sb, "\\n");
    else if (*s == '"' && !help)
      sb_puts(sb, "\\\"");
    else
      sb_putn(sb, s, 1);
  }
}

/* Shortest text that reads back as the same double; +Inf/-Inf/NaN as Prometheus spells them. */
static void sb_double(sbuf_t *sb, double v) {
  char tmp[40];
  if (isnan(v))
    snprintf(tmp, sizeof(tmp), "NaN");
  else if (isinf(v))
    snprintf(tmp, sizeof(tmp), v > 0 ? "+Inf" : "-Inf");
  else if (v == floor(v) && fabs(v) < 1e15)
    snprintf(tmp, sizeof(tmp), "%.0f", v);
  else {
    snprintf(tmp, sizeof(tmp), "%.15g", v);
    if (strtod(tmp, NULL) != v)
      snprintf(tmp, sizeof(tmp), "%.17g", v);
  }
  sb_puts(sb, tmp);
}

/* Render the label pairs of a va_list (name, value, ..., NULL) into `a="x",b="y"`. */
static char *labels_render(va_list ap) {
  sbuf_t sb = {0};
  const char *k;
  sb_puts(&sb, "");
  while ((k = va_arg(ap, const char *)) != NULL) {
    const char *v = va_arg(ap, const char *);
    if (!valid_name(k, 1) || !v || strcmp(k, "le") == 0) {
      free(sb.buf);
      return NULL;
    }
    if (sb.len)
      sb_puts(&sb, ",");
    sb_puts(&sb, k);
    sb_puts(&sb, "=\"");
    sb_escaped(&sb, v, 0);
    sb_puts(&sb, "\"");
  }
  if (sb.oom) {
    free(sb.buf);
    return NULL;
  }
  return sb.buf;
}

static ww_metric_t *series_get(ww_metrics_t *reg, kind_t kind, const char *name, const char *help,
                               const double *bounds, int n_bounds, ww_metric_fn_t fn, void *opaque,
                               va_list ap) {
  ww_metric_t *m = NULL;
  family_t *f;
  char *labels = NULL;
  if (!reg || !valid_name(name, 0) || !help || n_bounds < 0 || n_bounds > MAX_BOUNDS)
    return NULL;
  for (int i = 0; i < n_bounds; i++)
    if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
      return NULL;
  if (!(labels = labels_render(ap)))
    return NULL;
  pthread_mutex_lock(&reg->mu);
  for (f = reg->first; f; f = f->next)
    if (strcmp(f->name, name) == 0)
      break;
  if (f && f->kind != kind)
    goto done; /* type clash: NULL */
  if (f)
    for (ww_metric_t *s = f->first; s; s = s->next)
      if (strcmp(s->labels, labels) == 0) {
        m = s;
        goto done;
      }
  if (!f) {
    if (!(f = calloc(1, sizeof(*f))) || !(f->name = strdup(name)) || !(f->help = strdup(help))) {
      if (f) {
        free(f->name);
        free(f);
      }
      goto done;
    }
    f->kind = kind;
    f->n_bounds = n_bounds;
    if (n_bounds)
      memcpy(f->bounds, bounds, sizeof(double) * (size_t)n_bounds);
    if (reg->last)
      reg->last->next = f;
    else
      reg->first = f;
    reg->last = f;
  }
  if (!(m = calloc(1, sizeof(*m))))
    goto done;
  if (kind == K_HISTOGRAM && !(m->buckets = calloc((size_t)f->n_bounds + 1, sizeof(*m->buckets)))) {
    free(m);
    m = NULL;
    goto done;
  }
  m->fam = f;
  m->labels = labels;
  labels = NULL;
  m->fn = fn;
  m->opaque = opaque;
  atomic_init(&m->bits, d2u(0.0));
  if (f->last)
    f->last->next = m;
  else
    f->first = m;
  f->last = m;
done:
  pthread_mutex_unlock(&reg->mu);
  free(labels);
  return m;
}

ww_metric_t *ww_metrics_counter(ww_metrics_t *reg, const char *name, const char *help, ...) {
  va_list ap;
  ww_metric_t *m;
  va_start(ap, help);
  m = series_get(reg, K_COUNTER, name, help, NULL, 0, NULL, NULL, ap);
  va_end(ap);
  return m;
}

ww_metric_t *ww_metrics_gauge(ww_metrics_t *reg, const char *name, const char *help, ...) {
  va_list ap;
  ww_metric_t *m;
  va_start(ap, help);
  m = series_get(reg, K_GAUGE, name, help, NULL, 0, NULL, NULL, ap);
  va_end(ap);
  return m;
}

ww_metric_t *ww_metrics_gauge_fn(ww_metrics_t *reg, const char *name, const char *help,
                                 ww_metric_fn_t fn, void *opaque, ...) {
  va_list ap;
  ww_metric_t *m;
  if (!fn)
    return NULL;
  va_start(ap, opaque);
  m = series_get(reg, K_GAUGE, name, help, NULL, 0, fn, opaque, ap);
  va_end(ap);
  return m;
}

ww_metric_t *ww_metrics_histogram(ww_metrics_t *reg, const char *name, const char *help,
                                  const double *bounds, int n_bounds, ...) {
  va_list ap;
  ww_metric_t *m;
  va_start(ap, n_bounds);
  m = series_get(reg, K_HISTOGRAM, name, help, bounds, n_bounds, NULL, NULL, ap);
  va_end(ap);
  return m;
}

/* ---- updates ------------------------------------------------------------ */

void ww_metric_inc(ww_metric_t *m) {
  ww_metric_add(m, 1.0);
}

void ww_metric_add(ww_metric_t *m, double v) {
  if (!m || m->fam->kind == K_HISTOGRAM || (m->fam->kind == K_COUNTER && !(v >= 0)))
    return;
  atomic_add_double(&m->bits, v);
}

void ww_metric_set(ww_metric_t *m, double v) {
  if (!m || m->fam->kind != K_GAUGE)
    return;
  atomic_store_explicit(&m->bits, d2u(v), memory_order_relaxed);
}

void ww_metric_observe(ww_metric_t *m, double v) {
  int i = 0;
  const family_t *f;
  if (!m || m->fam->kind != K_HISTOGRAM)
    return;
  f = m->fam;
  while (i < f->n_bounds && v > f->bounds[i]) /* le: v <= bound lands in the bucket */
    i++;
  atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
  atomic_add_double(&m->bits, v);
}

double ww_metric_value(const ww_metric_t *m) {
  double total = 0;
  if (!m)
    return 0.0;
  if (m->fam->kind == K_HISTOGRAM) {
    for (int i = 0; i <= m->fam->n_bounds; i++)
      total += (double)atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
    return total;
  }
  if (m->fn)
    return m->fn(m->opaque);
  return u2d(atomic_load_explicit(&((ww_metric_t *)m)->bits, memory_order_relaxed));
}

/* ---- rendering ---------------------------------------------------------- */

static void sb_series(sbuf_t *sb, const char *name, const char *suffix, const char *labels,
                      const char *extra) {
  sb_puts(sb, name);
  sb_puts(sb, suffix);
  if (*labels || extra) {
    sb_puts(sb, "{");
    sb_puts(sb, labels);
    if (extra) {
      if (*labels)
        sb_puts(sb, ",");
      sb_puts(sb, extra);
    }
    sb_puts(sb, "}");
  }
  sb_puts(sb, " ");
}

char *ww_metrics_render(ww_metrics_t *reg, size_t *len) {
  static const char *const kind_names[] = {"counter", "gauge", "histogram"};
  sbuf_t sb = {0};
  sb_puts(&sb, "");
  pthread_mutex_lock(&reg->mu);
  for (family_t *f = reg->first; f; f = f->next) {
    sb_puts(&sb, "# HELP ");
    sb_puts(&sb, f->name);
    sb_puts(&sb, " ");
    sb_escaped(&sb, f->help, 1);
    sb_puts(&sb, "\n# TYPE ");
    sb_puts(&sb, f->name);
    sb_puts(&sb, " ");
    sb_puts(&sb, kind_names[f->kind]);
    sb_puts(&sb, "\n");
    for (ww_metric_t *m = f->first; m; m = m->next) {
      if (f->kind != K_HISTOGRAM) {
        sb_series(&sb, f->name, "", m->labels, NULL);
        sb_double(&sb, ww_metric_value(m));
        sb_puts(&sb, "\n");
        continue;
      }
      /* Cumulative buckets; _count is the +Inf bucket, so they always agree. */
      uint64_t cum = 0;
      for (int i = 0; i <= f->n_bounds; i++) {
        sbuf_t le = {0};
        cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
        sb_puts(&le, "le=\"");
        if (i < f->n_bounds)
          sb_double(&le, f->bounds[i]);
        else
          sb_puts(&le, "+Inf");
        sb_puts(&le, "\"");
        sb_series(&sb, f->name, "_bucket", m->labels, le.oom ? "le=\"?\"" : le.buf);
        free(le.buf);
        sb_double(&sb, (double)cum);
        sb_puts(&sb, "\n");
      }
      sb_series(&sb, f->name, "_sum", m->labels, NULL);
      sb_double(&sb, u2d(atomic_load_explicit(&m->bits, memory_order_relaxed)));
      sb_puts(&sb, "\n");
      sb_series(&sb, f->name, "_count", m->labels, NULL);
      sb_double(&sb, (double)cum);
      sb_puts(&sb, "\n");
    }
  }
  pthread_mutex_unlock(&reg->mu);
  if (sb.oom) {
    free(sb.buf);
    return NULL;
  }
  if (len)
    *len = sb.len;
  return sb.buf;
}

/* ---- HTTP --------------------------------------------------------------- */

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned status, char *body,
                                  size_t len, enum MHD_ResponseMemoryMode mode) {
  enum MHD_Result ret;
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
  if (!resp) {
    if (mode == MHD_RESPMEM_MUST_FREE)
      free(body);
    return MHD_NO;
  }
  if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                              "text/plain; version=0.0.4; charset=utf-8") == MHD_NO) {
    MHD_destroy_response(resp);
    return MHD_NO;
  }
  ret = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  ww_metrics_t *reg = cls;
  char *body;
  size_t len = 0;
  if (strcmp(url, "/metrics") != 0)
    return queue_text(conn, MHD_HTTP_NOT_FOUND, "not found; try /metrics\n", 25,
                      MHD_RESPMEM_PERSISTENT);
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return queue_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET\n", 8, MHD_RESPMEM_PERSISTENT);
  if (!(body = ww_metrics_render(reg, &len)))
    return queue_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", 14,
                      MHD_RESPMEM_PERSISTENT);
  return queue_text(conn, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  if (WW_LOG_WARN <= ww_log_level_current)
    ww_log_vwrite(WW_LOG_WARN, "METRICS", fmt, ap);
}

int ww_metrics_serve(ww_metrics_t *reg, const char *listen, int *port, char *errstr,
                     size_t errstr_size) {
  char host[256];
  const char *colon, *portstr;
  struct addrinfo hints, *ai = NULL;
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  const union MHD_DaemonInfo *info;
  int rc = -1, gai;
  size_t hlen;

  if (reg->mhd) {
    snprintf(errstr, errstr_size, "metrics: already serving");
    goto done;
  }
  if (!listen || !(colon = strrchr(listen, ':'))) {
    snprintf(errstr, errstr_size,
             "--metrics-listen '%s' is not HOST:PORT; use e.g. 127.0.0.1:9101 or :9101",
             listen ? listen : "");
    goto done;
  }
  portstr = colon + 1;
  hlen = (size_t)(colon - listen);
  if (hlen >= 2 && listen[0] == '[' && listen[hlen - 1] == ']') {
    listen++;
    hlen -= 2;
  }
  if (hlen >= sizeof(host) || !*portstr || strspn(portstr, "0123456789") != strlen(portstr) ||
      atoi(portstr) > 65535) {
    snprintf(errstr, errstr_size,
             "--metrics-listen '%s': bad host or port; use e.g. 127.0.0.1:9101 or :9101", listen);
    goto done;
  }
  memcpy(host, listen, hlen);
  host[hlen] = '\0';
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = hlen ? AF_UNSPEC : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  if ((gai = getaddrinfo(hlen ? host : NULL, portstr, &hints, &ai)) != 0) {
    snprintf(errstr, errstr_size, "--metrics-listen '%s': cannot resolve host '%s': %s", listen,
             host, gai_strerror(gai));
    ai = NULL;
    goto done;
  }
  if (ai->ai_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  /* The logger goes first so that MHD reports even option errors through it. */
  reg->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, reg, MHD_OPTION_EXTERNAL_LOGGER,
                              mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
  if (!reg->mhd) {
    snprintf(errstr, errstr_size,
             "--metrics-listen '%s': cannot listen there (in use, or not a local address?)",
             listen);
    goto done;
  }
  if (port) {
    info = MHD_get_daemon_info(reg->mhd, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? (int)info->port : atoi(portstr);
  }
  rc = 0;
done:
  if (ai)
    freeaddrinfo(ai);
  return rc;
}
