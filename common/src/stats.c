/* stats.c: window statistics (mean, population std, min, max, p50, p95, trend). */
#include "windwatch/stats.h"

#include <math.h>
#include <stddef.h>
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

/* Rearrange v[0..n) so that v[k] is the value a sort would put there, with
 * nothing larger before it and nothing smaller after it (Wirth's selection,
 * pivot the median of three): a window's percentiles need two ranks, not a
 * sort. */
static void select_rank(double *v, size_t n, size_t k) {
  ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
  while (lo < hi) {
    double a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi], t;
    double x = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
    ptrdiff_t i = lo, j = hi;
    do {
      while (v[i] < x)
        i++;
      while (x < v[j])
        j--;
      if (i <= j) {
        t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < kk)
      lo = i;
    if (kk < i)
      hi = j;
  }
}

/* The q-th percentile (0..100) of v[0..n), interpolated between ranks as
 * ww_stats_percentile_sorted() does on a sorted copy, and with the same result.
 * Only v[from..n) is searched: the caller knows the rank is not below \p from
 * and that v[from..n) holds exactly the values of those ranks. */
static double percentile_select(double *v, size_t n, size_t from, double q) {
  double pos = q / 100.0 * (double)(n - 1), frac, next;
  size_t lo = (size_t)pos;
  frac = pos - (double)lo;
  if (lo >= n - 1)
    lo = n - 1, frac = 0;
  select_rank(v + from, n - from, lo - from);
  if (frac == 0)
    return v[lo];
  /* The next rank is the smallest value after it. */
  next = v[lo + 1];
  for (size_t i = lo + 2; i < n; i++)
    if (v[i] < next)
      next = v[i];
  return v[lo] + frac * (next - v[lo]);
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

  out->count = (int64_t)n;
  out->mean = mean;
  out->std = sqrt(ss / (double)n);
  out->min = mn;
  out->max = mx;
  /* p95's rank is at or above p50's, and the selection for p50 left the
   * higher ranks after it: p95 searches only those. */
  out->p50 = percentile_select(scratch, n, 0, 50);
  out->p95 = percentile_select(scratch, n, (size_t)(0.5 * (double)(n - 1)), 95);
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
