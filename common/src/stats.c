/* stats.c: window statistics (mean, population std, min, max, p50, p95, trend). */
#include "windwatch/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* t statistic a slope needs to count as a trend (about 95 % two-sided). */
#define WW_TREND_MIN_T 2.0

const char *ww_trend_name(ww_trend_t trend) {
  switch (trend) {
  case WW_TREND_INCREASING: return "increasing";
  case WW_TREND_DECREASING: return "decreasing";
  default: return "stable";
  }
}

double ww_stats_percentile_sorted(const double *sorted, size_t n, double q) {
  double pos, frac;
  size_t lo;
  if (n == 0)
    return 0.0;
  if (q <= 0)
    return sorted[0];
  if (q >= 100)
    return sorted[n - 1];
  pos = q / 100.0 * (double)(n - 1);
  lo = (size_t)pos;
  frac = pos - (double)lo;
  if (lo + 1 >= n)
    return sorted[n - 1];
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

/* Insertion sort for the small windows that dominate, qsort beyond. */
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void sort_doubles(double *v, size_t n) {
  if (n > 32) {
    qsort(v, n, sizeof(*v), cmp_double);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    double x = v[i];
    size_t j = i;
    while (j > 0 && v[j - 1] > x) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
}

void ww_stats_compute(const double *values, const int64_t *ts_ms, size_t n, double *scratch,
                      double trend_threshold, ww_stats_t *out) {
  double sum = 0, mn, mx, mean, ss = 0;
  double xmean = 0, sxx = 0, sxy = 0;
  memset(out, 0, sizeof(*out));
  if (n == 0)
    return;
  mn = mx = values[0];
  for (size_t i = 0; i < n; i++) {
    double v = values[i];
    sum += v;
    if (v < mn)
      mn = v;
    if (v > mx)
      mx = v;
  }
  mean = sum / (double)n;
  /* Two passes: the textbook one-pass formula loses precision on values
   * with a large offset (sound around 65 dB with small variance). */
  for (size_t i = 0; i < n; i++)
    ss += (values[i] - mean) * (values[i] - mean);

  /* Slope against minutes since the first reading (x shifted for precision). */
  for (size_t i = 0; i < n; i++)
    xmean += ts_ms ? (double)(ts_ms[i] - ts_ms[0]) / 60000.0 : (double)i;
  xmean /= (double)n;
  for (size_t i = 0; i < n; i++) {
    double x = (ts_ms ? (double)(ts_ms[i] - ts_ms[0]) / 60000.0 : (double)i) - xmean;
    sxx += x * x;
    sxy += x * (values[i] - mean);
  }

  memcpy(scratch, values, n * sizeof(*values));
  sort_doubles(scratch, n);

  out->count = (int64_t)n;
  out->mean = mean;
  out->std = sqrt(ss / (double)n);
  out->min = mn;
  out->max = mx;
  out->p50 = ww_stats_percentile_sorted(scratch, n, 50);
  out->p95 = ww_stats_percentile_sorted(scratch, n, 95);
  out->slope_per_min = sxx > 0 ? sxy / sxx : 0.0;
  out->trend = WW_TREND_STABLE;
  if (sxx > 0 && fabs(out->slope_per_min) > trend_threshold) {
    /* Noise alone gives a window a slope; call it a trend only when the
     * slope is also significant: |t| = |b| / se(b) >= WW_TREND_MIN_T, with
     * se(b) = sqrt(residual variance / sxx). An exact fit has se = 0. */
    double b = out->slope_per_min, ssr = ss - b * sxy, se;
    if (ssr < 0)
      ssr = 0;
    se = n > 2 ? sqrt(ssr / (double)(n - 2) / sxx) : 0.0;
    if (se == 0.0 || fabs(b) / se >= WW_TREND_MIN_T)
      out->trend = b > 0 ? WW_TREND_INCREASING : WW_TREND_DECREASING;
  }
}
