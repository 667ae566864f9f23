/**
 * @file metrics.h
 * @brief Prometheus metrics: counters, gauges and histograms in a registry,
 *        rendered in the text exposition format (version 0.0.4) and served
 *        at GET /metrics by libmicrohttpd on --metrics-listen HOST:PORT.
 *
 * Registration takes a mutex and may allocate; updates are lock-free atomics
 * and never allocate, so they are safe on any thread's hot path. A series is
 * a (name, label set) pair; registering the same pair twice returns the same
 * series. Series of one name share one # HELP / # TYPE header and must share
 * its type. Series live until ww_metrics_destroy().
 *
 *   ww_metrics_t *reg = ww_metrics_new();
 *   ww_metric_t *sent = ww_metrics_counter(reg, "ww_producer_readings_total",
 *                                          "readings produced", "line", "turbine-line-1", NULL);
 *   ww_metric_inc(sent);
 *   ww_metrics_serve(reg, "127.0.0.1:9101", &port, errstr, sizeof(errstr));
 */
#ifndef WW_METRICS_H
#define WW_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ww_metrics_s ww_metrics_t;
typedef struct ww_metric_s ww_metric_t;

/** A gauge whose value is computed at scrape time (on the HTTP thread). */
typedef double (*ww_metric_fn_t)(void *opaque);

/** @returns an empty registry, or NULL if out of memory. Free with ww_metrics_destroy(). */
ww_metrics_t *ww_metrics_new(void);

/** Stop serving (if started) and free every series. NULL is a no-op. */
void ww_metrics_destroy(ww_metrics_t *reg);

/**
 * @brief Register (or find) a counter series.
 * @param name  metric name, [a-zA-Z_:][a-zA-Z0-9_:]*, by convention ending in _total
 * @param help  one line (copied)
 * @param ...   label name/value string pairs, then NULL (names and values copied;
 *              values are escaped when rendered)
 * @returns the series (owned by \p reg), or NULL for an invalid name or label,
 *          a type clash with an existing series of that name, or no memory.
 */
ww_metric_t *ww_metrics_counter(ww_metrics_t *reg, const char *name, const char *help, ...)
    __attribute__((sentinel));
/** @brief Register (or find) a gauge series. Arguments as ww_metrics_counter(). */
ww_metric_t *ww_metrics_gauge(ww_metrics_t *reg, const char *name, const char *help, ...)
    __attribute__((sentinel));
/**
 * @brief Register (or find) a gauge whose value is \p fn(\p opaque), called on
 *        every scrape from the HTTP thread (so \p fn must be thread-safe).
 */
ww_metric_t *ww_metrics_gauge_fn(ww_metrics_t *reg, const char *name, const char *help,
                                 ww_metric_fn_t fn, void *opaque, ...) __attribute__((sentinel));
/**
 * @brief Register (or find) a histogram series.
 * @param bounds  \p n_bounds strictly increasing finite upper bounds (copied);
 *                the +Inf bucket is implicit. At most 64.
 */
ww_metric_t *ww_metrics_histogram(ww_metrics_t *reg, const char *name, const char *help,
                                  const double *bounds, int n_bounds, ...)
    __attribute__((sentinel));

/** Counter or gauge += 1. NULL is a no-op (so an unregistered metric costs nothing). */
void ww_metric_inc(ww_metric_t *m);
/** Counter or gauge += \p v (a counter ignores negative \p v). NULL is a no-op. */
void ww_metric_add(ww_metric_t *m, double v);
/** Gauge = \p v. NULL is a no-op. */
void ww_metric_set(ww_metric_t *m, double v);
/** Histogram: count one observation of \p v. NULL is a no-op. */
void ww_metric_observe(ww_metric_t *m, double v);
/** @returns the current value of a counter or gauge (the count of a histogram). */
double ww_metric_value(const ww_metric_t *m);

/**
 * @brief Render every series in the text exposition format.
 * @returns a NUL-terminated string the caller frees with free(), or NULL if
 *          out of memory; its length in \p *len if \p len is not NULL.
 */
char *ww_metrics_render(ww_metrics_t *reg, size_t *len);

/**
 * @brief Serve GET /metrics on \p listen ("HOST:PORT", "[v6]:PORT" or ":PORT"
 *        for all interfaces; PORT 0 picks a free port) on a libmicrohttpd thread.
 * @param port  set to the bound port if not NULL
 * @returns 0, or -1 with \p errstr naming the address and the reason.
 */
int ww_metrics_serve(ww_metrics_t *reg, const char *listen, int *port, char *errstr,
                     size_t errstr_size);

#endif /* WW_METRICS_H */
