/**
 * @file stats.h
 * @brief Descriptive statistics of one sensor over one window.
 *
 * Population standard deviation (divide by n, as the original), percentiles
 * by linear interpolation between closest ranks (numpy's default), and the
 * least-squares slope of value against event time, in units per minute.
 * A window's trend is increasing/decreasing when |slope| exceeds the
 * threshold and the slope is significant (|t| >= 2), so that sensor noise
 * alone does not read as a trend.
 * Nothing here allocates: callers pass scratch space.
 */
#ifndef WW_STATS_H
#define WW_STATS_H

#include <stddef.h>
#include <stdint.h>

/** Direction of the linear-fit trend. */
typedef enum ww_trend_e {
  WW_TREND_STABLE = 0,     /* |slope| <= threshold, or not significant */
  WW_TREND_INCREASING = 1, /* slope > threshold */
  WW_TREND_DECREASING = 2, /* slope < -threshold */
} ww_trend_t;

/** Statistics of one sensor over one window. All values in the sensor's unit. */
typedef struct ww_stats_s {
  int64_t count;        /* values summarised */
  double mean;          /* arithmetic mean */
  double std;           /* population standard deviation */
  double min;           /* smallest value */
  double max;           /* largest value */
  double p50;           /* median */
  double p95;           /* 95th percentile */
  double slope_per_min; /* least-squares slope, unit per minute of event time; 0 if no spread */
  ww_trend_t trend;     /* slope classed against the threshold */
} ww_stats_t;

/** @returns "stable", "increasing" or "decreasing". */
const char *ww_trend_name(ww_trend_t trend);

/**
 * @brief Percentile \p q (0..100) of the sorted array \p sorted of \p n values,
 *        interpolating linearly between closest ranks. @returns 0 when n == 0.
 */
double ww_stats_percentile_sorted(const double *sorted, size_t n, double q);

/**
 * @brief Compute \p out from \p n values and their event times.
 * @param ts_ms event times in ms (may be NULL: the slope is then taken against
 *        the index, one reading per minute).
 * @param scratch room for \p n doubles, overwritten (used to sort for percentiles).
 * @param trend_threshold |slope| per minute above which a trend is not stable.
 * @remark n == 0 yields all zeros. Borrows every pointer; allocates nothing.
 */
void ww_stats_compute(const double *values, const int64_t *ts_ms, size_t n, double *scratch,
                      double trend_threshold, ww_stats_t *out);

#endif /* WW_STATS_H */
