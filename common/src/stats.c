/* stats.c: window statistics (mean, population std, min, max, p50, p95, trend). */
#include "windwatch/stats.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
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
/* The rank at or below the q-th percentile (0..100) of n > 0 values, and in
 * \p frac how far towards the next rank it lies (0: no interpolation), as
 * ww_stats_percentile_sorted() places it. */
static size_t percentile_rank(size_t n, double q, double *frac) {
  double pos = q / 100.0 * (double)(n - 1);
  size_t lo = (size_t)pos;
  *frac = pos - (double)lo;
  if (lo >= n - 1)
    lo = n - 1, *frac = 0;
  return lo;
}

static double percentile_select(double *v, size_t n, size_t from, double q) {
  double frac, next;
  size_t lo = percentile_rank(n, q, &frac);
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

/*
 * Percentiles of a large window without selecting among all its values.
 * One pass counts the values in WW_PCT_BUCKETS buckets of equal width
 * between min and max (the bucket of a value never decreases as the value
 * grows), which names the bucket of each rank p50 and p95 need; a second
 * pass copies only those buckets' values, and the selection runs among
 * them. For a 60-s window at 5,000 readings/s (300,000 values) that takes
 * some 0.6 ms per sensor instead of 4 ms, and the processor's loop stands
 * still while a window closes. The ranks (percentile_rank()) and the
 * interpolation are percentile_select()'s, so the results are the same to
 * the bit. @returns 0, or -1 when the range has no usable width (the caller
 * selects among all values then).
 */
#define WW_PCT_BUCKETS      4096
#define WW_PCT_BUCKET_MIN_N 4096

static inline size_t pct_bucket(double v, double mn, double scale) {
  size_t b = (size_t)((v - mn) * scale);
  return b < WW_PCT_BUCKETS ? b : WW_PCT_BUCKETS - 1;
}

static int bucket_percentiles(const double *v, size_t n, double mn, double mx, double *scratch,
                              ww_stats_t *out) {
  uint32_t cnt[WW_PCT_BUCKETS];
  const double qs[2] = {50, 95};
  double frac[2], val[4], scale = (double)WW_PCT_BUCKETS / (mx - mn);
  size_t rank[4], base[4], off[4], fill[4], tb[4], tcount[4];
  int nr = 0, nt = 0, rt[4];
  if (!(mx > mn) || !isfinite(scale) || n > UINT32_MAX)
    return -1;
  /* The ranks: each percentile's lower rank and, when it interpolates, the next. */
  for (int p = 0; p < 2; p++) {
    size_t lo = percentile_rank(n, qs[p], &frac[p]);
    rank[nr++] = lo;
    if (frac[p] != 0)
      rank[nr++] = lo + 1;
  }
  memset(cnt, 0, sizeof(cnt));
  for (size_t i = 0; i < n; i++)
    cnt[pct_bucket(v[i], mn, scale)]++;
  /* The ranks ascend: one walk over the cumulative counts finds their buckets. */
  {
    size_t cum = 0, b = 0;
    for (int r = 0; r < nr; r++) {
      while (cum + cnt[b] <= rank[r])
        cum += cnt[b++];
      if (nt == 0 || tb[nt - 1] != b) {
        tb[nt] = b;
        base[nt] = cum;
        tcount[nt] = cnt[b];
        off[nt] = nt ? off[nt - 1] + tcount[nt - 1] : 0;
        fill[nt] = 0;
        nt++;
      }
      rt[r] = nt - 1;
    }
  }
  /* cnt now marks the wanted buckets: slot + 1, or 0. */
  memset(cnt, 0, sizeof(cnt));
  for (int t = 0; t < nt; t++)
    cnt[tb[t]] = (uint32_t)t + 1;
  for (size_t i = 0; i < n; i++) {
    uint32_t s = cnt[pct_bucket(v[i], mn, scale)];
    if (s) {
      scratch[off[s - 1] + fill[s - 1]] = v[i];
      fill[s - 1]++;
    }
  }
  for (int r = 0; r < nr; r++) {
    int t = rt[r];
    size_t k = rank[r] - base[t];
    select_rank(scratch + off[t], tcount[t], k);
    val[r] = scratch[off[t] + k];
  }
  {
    int r = 0;
    double *dst[2] = {&out->p50, &out->p95};
    for (int p = 0; p < 2; p++) {
      double lo = val[r++];
      *dst[p] = frac[p] == 0 ? lo : lo + frac[p] * (val[r++] - lo);
    }
  }
  return 0;
}

void ww_stats_compute(const double *values, const int64_t *ts_ms, size_t n, double *scratch,
                      double trend_threshold, ww_stats_t *out) {
  double sum = 0, mn, mx, mean, ss = 0;
  double xmean = 0, sxx = 0, sxy = 0;
  memset(out, 0, sizeof(*out));
  if (n == 0)
    return;
  /* Two passes: the textbook one-pass formula loses precision on values
   * with a large offset (sound around 65 dB with small variance). The
   * slope is against minutes since the first reading, x shifted by its
   * mean for the same reason. Each pass keeps independent sums, which the
   * CPU adds side by side (a close of a large window waits on them). */
  mn = mx = values[0];
  for (size_t i = 0; i < n; i++) {
    double v = values[i];
    sum += v;
    if (v < mn)
      mn = v;
    if (v > mx)
      mx = v;
    xmean += ts_ms ? (double)(ts_ms[i] - ts_ms[0]) / 60000.0 : (double)i;
  }
  mean = sum / (double)n;
  xmean /= (double)n;
  for (size_t i = 0; i < n; i++) {
    double d = values[i] - mean;
    double x = (ts_ms ? (double)(ts_ms[i] - ts_ms[0]) / 60000.0 : (double)i) - xmean;
    ss += d * d;
    sxx += x * x;
    sxy += x * d;
  }

  out->count = (int64_t)n;
  out->mean = mean;
  out->std = sqrt(ss / (double)n);
  out->min = mn;
  out->max = mx;
  if (n < WW_PCT_BUCKET_MIN_N || bucket_percentiles(values, n, mn, mx, scratch, out) != 0) {
    memcpy(scratch, values, n * sizeof(*values));
    /* p95's rank is at or above p50's, and the selection for p50 left the
     * higher ranks after it: p95 searches only those. */
    out->p50 = percentile_select(scratch, n, 0, 50);
    out->p95 = percentile_select(scratch, n, (size_t)(0.5 * (double)(n - 1)), 95);
  }
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
