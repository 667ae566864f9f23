/* test_stats.c: window statistics against hand-computed values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/stats.h"
#include "ww_test.h"

static void test_known_values(void) {
  /* mean 5, deviations -3 -1 -1 -1 0 0 2 4: sum of squares 32, /8 = 4, std 2.
   * p50: rank 3.5 -> 4 + 0.5*(5-4) = 4.5; p95: rank 6.65 -> 7 + 0.65*(9-7) = 8.3. */
  const double v[] = {9, 4, 2, 5, 4, 7, 4, 5};
  double scratch[8];
  ww_stats_t st;
  ww_stats_compute(v, NULL, 8, scratch, 0.1, &st);
  CHECK_INT_EQ(st.count, 8);
  CHECK_DBL_NEAR(st.mean, 5.0, 1e-12);
  CHECK_DBL_NEAR(st.std, 2.0, 1e-12);
  CHECK_DBL_NEAR(st.min, 2.0, 0);
  CHECK_DBL_NEAR(st.max, 9.0, 0);
  CHECK_DBL_NEAR(st.p50, 4.5, 1e-12);
  CHECK_DBL_NEAR(st.p95, 8.3, 1e-12);
  /* the input is not reordered */
  CHECK_DBL_NEAR(v[0], 9.0, 0);
}

static void test_trend(void) {
  const int64_t ts[] = {0, 60000, 120000};
  const int64_t ts_sec[] = {0, 1000, 2000};
  const double up[] = {1, 2, 3}, down[] = {3, 2, 1}, flat[] = {5, 5.05, 5.1};
  double scratch[3];
  ww_stats_t st;
  ww_stats_compute(up, ts, 3, scratch, 0.1, &st);
  CHECK_DBL_NEAR(st.slope_per_min, 1.0, 1e-12);
  CHECK_INT_EQ(st.trend, WW_TREND_INCREASING);
  CHECK_STR_EQ(ww_trend_name(st.trend), "increasing");
  ww_stats_compute(down, ts, 3, scratch, 0.1, &st);
  CHECK_DBL_NEAR(st.slope_per_min, -1.0, 1e-12);
  CHECK_INT_EQ(st.trend, WW_TREND_DECREASING);
  ww_stats_compute(flat, ts, 3, scratch, 0.1, &st);
  CHECK_DBL_NEAR(st.slope_per_min, 0.05, 1e-12);
  CHECK_INT_EQ(st.trend, WW_TREND_STABLE);
  /* one unit per second is 60 per minute */
  ww_stats_compute(up, ts_sec, 3, scratch, 0.1, &st);
  CHECK_DBL_NEAR(st.slope_per_min, 60.0, 1e-9);
  /* all at the same instant: no spread, no slope */
  {
    const int64_t same[] = {5, 5, 5};
    ww_stats_compute(up, same, 3, scratch, 0.1, &st);
    CHECK_DBL_NEAR(st.slope_per_min, 0.0, 0);
    CHECK_INT_EQ(st.trend, WW_TREND_STABLE);
  }
}

static void test_trend_needs_significance(void) {
  /* x = 0,1,2,3 min, y = 0,10,-10,1: mean y 0.25, sxx 5, sxy -8.5, slope -1.7/min
   * (well past the 0.1 threshold), but residual SS 186.3, se = sqrt(186.3/2/5) = 4.32,
   * |t| = 0.39 < 2: noise, so stable. */
  const int64_t ts[] = {0, 60000, 120000, 180000};
  const double y[] = {0, 10, -10, 1};
  double scratch[4];
  ww_stats_t st;
  ww_stats_compute(y, ts, 4, scratch, 0.1, &st);
  CHECK_DBL_NEAR(st.slope_per_min, -1.7, 1e-12);
  CHECK_INT_EQ(st.trend, WW_TREND_STABLE);
}

static void test_edge_cases(void) {
  double scratch[4];
  const double one[] = {42.5};
  ww_stats_t st;
  ww_stats_compute(NULL, NULL, 0, scratch, 0.1, &st);
  CHECK_INT_EQ(st.count, 0);
  CHECK_DBL_NEAR(st.mean, 0, 0);
  ww_stats_compute(one, NULL, 1, scratch, 0.1, &st);
  CHECK_INT_EQ(st.count, 1);
  CHECK_DBL_NEAR(st.mean, 42.5, 0);
  CHECK_DBL_NEAR(st.std, 0, 0);
  CHECK_DBL_NEAR(st.p50, 42.5, 0);
  CHECK_DBL_NEAR(st.p95, 42.5, 0);
  /* a large offset must not destroy the variance (two-pass) */
  {
    const double big[] = {1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4};
    ww_stats_compute(big, NULL, 4, scratch, 0.1, &st);
    CHECK_DBL_NEAR(st.std, 1.118033988749895, 1e-6);
  }
}

static void test_percentile(void) {
  const double s[] = {10, 20, 30, 40, 50};
  CHECK_DBL_NEAR(ww_stats_percentile_sorted(s, 5, 0), 10, 0);
  CHECK_DBL_NEAR(ww_stats_percentile_sorted(s, 5, 100), 50, 0);
  CHECK_DBL_NEAR(ww_stats_percentile_sorted(s, 5, 50), 30, 1e-12);
  CHECK_DBL_NEAR(ww_stats_percentile_sorted(s, 5, 95), 48, 1e-12); /* rank 3.8 */
  CHECK_DBL_NEAR(ww_stats_percentile_sorted(s, 5, 25), 20, 1e-12);
  CHECK_DBL_NEAR(ww_stats_percentile_sorted(s, 0, 50), 0, 0);
}

static void test_large_sort(void) {
  /* 100 values 100..1, in descending order. p50 = 50.5, p95 rank 94.05 -> 95.05 */
  double v[100], scratch[100];
  ww_stats_t st;
  for (int i = 0; i < 100; i++)
    v[i] = 100 - i;
  ww_stats_compute(v, NULL, 100, scratch, 0.1, &st);
  CHECK_DBL_NEAR(st.p50, 50.5, 1e-9);
  CHECK_DBL_NEAR(st.p95, 95.05, 1e-9);
  CHECK_DBL_NEAR(st.mean, 50.5, 1e-9);
  CHECK_INT_EQ(st.trend, WW_TREND_DECREASING);
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* p50 and p95 come from a selection, not a sort: they must equal the sorted
 * percentiles exactly, for every size and the orders and ties windows have. */
static void test_percentiles_match_sort(void) {
  static double v[1201], scratch[1201], sorted[1201];
  uint64_t x = 88172645463325252ULL;
  int bad = 0;
  for (size_t n = 1; n <= 1201; n += (n < 80 ? 1 : 37)) {
    for (int shape = 0; shape < 6; shape++) {
      ww_stats_t st;
      for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        switch (shape) {
        case 0: v[i] = (double)(x % 1000000) / 1000.0; break; /* distinct-ish */
        case 1: v[i] = (double)(x % 5); break;                /* many ties */
        case 2: v[i] = (double)i; break;                      /* ascending */
        case 3: v[i] = (double)(n - i); break;                /* descending */
        case 4: v[i] = 7.25; break;                           /* all equal */
        default: v[i] = (double)(i % 2 ? i : n - i); break;   /* organ pipe */
        }
      }
      memcpy(sorted, v, n * sizeof(*v));
      qsort(sorted, n, sizeof(*sorted), cmp_dbl);
      ww_stats_compute(v, NULL, n, scratch, 0.1, &st);
      if (st.p50 != ww_stats_percentile_sorted(sorted, n, 50) ||
          st.p95 != ww_stats_percentile_sorted(sorted, n, 95)) {
        if (bad++ < 5)
          fprintf(stderr, "n %zu shape %d: p50 %.17g p95 %.17g, sorted %.17g %.17g\n", n, shape,
                  st.p50, st.p95, ww_stats_percentile_sorted(sorted, n, 50),
                  ww_stats_percentile_sorted(sorted, n, 95));
      }
    }
  }
  CHECK_INT_EQ(bad, 0);
}

/* Windows of 4096 values and more find their percentiles through buckets
 * between min and max: the same results to the bit as a sort, for the
 * shapes that stress buckets (one far outlier, so nearly every value shares
 * a bucket; a range of a few ulps; negatives; ranks on a bucket's edge). */
static void test_bucket_percentiles_match_sort(void) {
  static const size_t sizes[] = {4095, 4096, 4097, 5000, 8193, 40011};
  static double v[40011], scratch[40011], sorted[40011];
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  int bad = 0, checked = 0;
  for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
    size_t n = sizes[si];
    for (int shape = 0; shape < 8; shape++) {
      ww_stats_t st;
      for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        switch (shape) {
        case 0: v[i] = 60.0 + (double)(x % 1000000) / 1e5; break;            /* a sensor's spread */
        case 1: v[i] = (double)(x % 7); break;                               /* many ties */
        case 2: v[i] = i == n / 3 ? 1e9 : (double)(x % 1000) / 10; break;    /* one far outlier */
        case 3: v[i] = 1.0 + (double)(x % 4) * 2.220446049250313e-16; break; /* a few ulps */
        case 4: v[i] = -50.0 + (double)(x % 100000) / 1e3; break;            /* negatives */
        case 5: v[i] = (double)(n - i); break;                               /* descending */
        case 6: v[i] = i % 4096 == 0 ? 0.0 : 4096.0; break;                  /* two values */
        default: v[i] = (double)(i % 4096); break; /* one value per bucket, ranks on edges */
        }
      }
      memcpy(sorted, v, n * sizeof(*v));
      qsort(sorted, n, sizeof(*sorted), cmp_dbl);
      ww_stats_compute(v, NULL, n, scratch, 0.1, &st);
      checked++;
      if (st.p50 != ww_stats_percentile_sorted(sorted, n, 50) ||
          st.p95 != ww_stats_percentile_sorted(sorted, n, 95) || st.min != sorted[0] ||
          st.max != sorted[n - 1]) {
        if (bad++ < 5)
          fprintf(stderr, "n %zu shape %d: p50 %.17g p95 %.17g, sorted %.17g %.17g\n", n, shape,
                  st.p50, st.p95, ww_stats_percentile_sorted(sorted, n, 50),
                  ww_stats_percentile_sorted(sorted, n, 95));
      }
    }
  }
  CHECK_INT_EQ(checked, 48);
  CHECK_INT_EQ(bad, 0);
}

int main(void) {
  RUN(test_known_values);
  RUN(test_trend);
  RUN(test_trend_needs_significance);
  RUN(test_edge_cases);
  RUN(test_percentile);
  RUN(test_large_sort);
  RUN(test_percentiles_match_sort);
  RUN(test_bucket_percentiles_match_sort);
  return WW_TEST_RESULT();
}
