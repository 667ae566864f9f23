/* test_window.c: count and time windows, tumbling and hopping, watermark, lateness. */
#include <stdint.h>
#include <string.h>

#include "windwatch/window.h"
#include "ww_test.h"

#define MAXW 32

typedef struct cap_s {
  int n;
  ww_window_result_t w[MAXW];
} cap_t;

static void on_close(void *opaque, const ww_window_result_t *res) {
  cap_t *c = opaque;
  if (c->n < MAXW)
    c->w[c->n] = *res;
  c->n++;
}

static ww_window_t *mk(ww_window_type_t type, int64_t size, int64_t slide, int64_t late) {
  ww_window_conf_t wc;
  char err[256];
  ww_window_t *win;
  memset(&wc, 0, sizeof(wc));
  wc.type = type;
  wc.size = size;
  wc.slide = slide;
  wc.allowed_lateness_ms = late;
  wc.n_values = 2;
  wc.trend_threshold = 0.1;
  win = ww_window_new(&wc, err, sizeof(err));
  if (!win)
    fprintf(stderr, "ww_window_new: %s\n", err);
  return win;
}

static void add(ww_window_t *win, int64_t ts, double v, int anom, cap_t *c) {
  double vals[2] = {v, v * 10};
  CHECK_INT_EQ(ww_window_add(win, ts, vals, 0x3, anom, on_close, c), WW_OK);
}

static void test_count_tumbling(void) {
  cap_t c = {0};
  ww_window_t *win = mk(WW_WINDOW_COUNT, 3, 0, 0);
  CHECK(win != NULL);
  if (!win)
    return;
  add(win, 1000, 1, 0, &c);
  add(win, 2000, 2, 1, &c);
  CHECK_INT_EQ(c.n, 0);
  add(win, 3000, 3, 0, &c);
  CHECK_INT_EQ(c.n, 1);
  CHECK_INT_EQ(c.w[0].count, 3);
  CHECK_INT_EQ(c.w[0].anomalous, 1);
  CHECK_DBL_NEAR(c.w[0].stats[0].mean, 2.0, 1e-12);
  CHECK_DBL_NEAR(c.w[0].stats[1].mean, 20.0, 1e-12);
  CHECK_INT_EQ(c.w[0].start_ms, 1000);
  CHECK_INT_EQ(c.w[0].end_ms, 3000);
  /* The window emptied on close (the original's never did and re-fired). */
  CHECK_INT_EQ(ww_window_pending(win), 0);
  add(win, 4000, 10, 0, &c);
  CHECK_INT_EQ(c.n, 1);
  add(win, 5000, 20, 0, &c);
  add(win, 6000, 30, 0, &c);
  CHECK_INT_EQ(c.n, 2);
  CHECK_INT_EQ(c.w[1].seq, 1);
  CHECK_INT_EQ(c.w[1].count, 3);
  CHECK_INT_EQ(c.w[1].anomalous, 0);
  CHECK_DBL_NEAR(c.w[1].stats[0].mean, 20.0, 1e-12);
  CHECK_DBL_NEAR(c.w[1].stats[0].min, 10.0, 0);
  CHECK_INT_EQ(ww_window_pending(win), 0);
  add(win, 7000, 5, 0, &c);
  CHECK_INT_EQ(c.n, 2);
  CHECK_INT_EQ(ww_window_flush(win, on_close, &c), 1);
  CHECK_INT_EQ(c.n, 3);
  CHECK_INT_EQ(c.w[2].count, 1);
  CHECK_INT_EQ(ww_window_flush(win, on_close, &c), 0); /* nothing left: no re-fire */
  CHECK_INT_EQ(c.n, 3);
  ww_window_destroy(win);
}

static void test_count_hopping(void) {
  cap_t c = {0};
  ww_window_t *win = mk(WW_WINDOW_COUNT, 4, 2, 0);
  CHECK(win != NULL);
  if (!win)
    return;
  for (int i = 1; i <= 8; i++)
    add(win, i * 1000, i, 0, &c);
  /* windows: readings 1-4, 3-6, 5-8 */
  CHECK_INT_EQ(c.n, 3);
  CHECK_DBL_NEAR(c.w[0].stats[0].mean, 2.5, 1e-12);
  CHECK_DBL_NEAR(c.w[1].stats[0].mean, 4.5, 1e-12);
  CHECK_DBL_NEAR(c.w[2].stats[0].mean, 6.5, 1e-12);
  CHECK_INT_EQ(c.w[1].count, 4);
  CHECK_INT_EQ(ww_window_pending(win), 2); /* 7 and 8 are shared with the next window */
  ww_window_destroy(win);
}

/* A count window that goes on from a count (ww_window_set_count()): A takes
 * readings 1-11; B is told that 2 readings came before (window_seq 0 next)
 * and takes readings 3-11. From the first window whose readings B all has
 * (3-6), B closes A's windows. */
static void test_count_resume(void) {
  cap_t a = {0}, b = {0};
  ww_window_t *wa = mk(WW_WINDOW_COUNT, 4, 2, 0), *wb = mk(WW_WINDOW_COUNT, 4, 2, 0);
  ww_window_t *wt = mk(WW_WINDOW_TIME, 4000, 0, 0);
  int64_t seq = -1;
  CHECK(wa != NULL && wb != NULL && wt != NULL);
  if (!wa || !wb || !wt) {
    ww_window_destroy(wa);
    ww_window_destroy(wb);
    ww_window_destroy(wt);
    return;
  }
  CHECK_INT_EQ(ww_window_set_count(wt, 2, 0), -1); /* time windows: no */
  CHECK_INT_EQ(ww_window_count(wt, NULL), -1);
  CHECK_INT_EQ(ww_window_set_count(wb, 2, 0), 0);
  for (int i = 1; i <= 11; i++) {
    add(wa, i * 1000, i, 0, &a);
    if (i >= 3)
      add(wb, i * 1000, i, 0, &b);
  }
  /* A: 1-4, 3-6, 5-8, 7-10; B: [3, 4] (all it had), 3-6, 5-8, 7-10 */
  CHECK_INT_EQ(a.n, 4);
  CHECK_INT_EQ(b.n, 4);
  CHECK_INT_EQ(b.w[0].seq, 0);
  CHECK_INT_EQ(b.w[0].count, 2);
  for (int k = 1; k < 4 && k < b.n; k++) {
    CHECK_INT_EQ(b.w[k].seq, a.w[k].seq);
    CHECK_INT_EQ(b.w[k].count, 4);
    CHECK_DBL_NEAR(b.w[k].stats[0].mean, a.w[k].stats[0].mean, 0);
  }
  CHECK_INT_EQ(ww_window_count(wa, &seq), 11);
  CHECK_INT_EQ(seq, 4);
  CHECK_INT_EQ(ww_window_count(wb, &seq), 11);
  CHECK_INT_EQ(seq, 4);
  CHECK_INT_EQ(ww_window_set_count(wb, 20, 4), -1); /* it holds readings */
  /* The end closes what is open and starts the windows again, numbering on. */
  CHECK_INT_EQ(ww_window_flush(wa, on_close, &a), 1);
  CHECK_INT_EQ(ww_window_count(wa, &seq), 0);
  CHECK_INT_EQ(seq, 5);
  ww_window_destroy(wa);
  ww_window_destroy(wb);
  ww_window_destroy(wt);
}

static void test_time_tumbling(void) {
  cap_t c = {0};
  ww_window_t *win = mk(WW_WINDOW_TIME, 10000, 0, 0);
  CHECK(win != NULL);
  if (!win)
    return;
  for (int i = 0; i < 10; i++)
    add(win, 1700000000000 + i * 1000, i, i == 4, &c);
  CHECK_INT_EQ(c.n, 0);
  add(win, 1700000010000, 100, 0, &c); /* watermark reaches 10 s: [0,10) closes */
  CHECK_INT_EQ(c.n, 1);
  CHECK_INT_EQ(c.w[0].count, 10);
  CHECK_INT_EQ(c.w[0].anomalous, 1);
  CHECK_INT_EQ(c.w[0].start_ms, 1700000000000);
  CHECK_INT_EQ(c.w[0].end_ms, 1700000010000);
  CHECK_DBL_NEAR(c.w[0].stats[0].mean, 4.5, 1e-12);
  /* 9 values rising one per second: 60 per minute */
  CHECK_DBL_NEAR(c.w[0].stats[0].slope_per_min, 60.0, 1e-9);
  CHECK_INT_EQ(c.w[0].stats[0].trend, WW_TREND_INCREASING);
  CHECK_INT_EQ(ww_window_pending(win), 1);
  /* A jump of an hour closes [10,20) with its one reading and skips the empty
   * windows in between without emitting them. */
  add(win, 1700003600000, 7, 0, &c);
  CHECK_INT_EQ(c.n, 2);
  CHECK_INT_EQ(c.w[1].count, 1);
  CHECK_INT_EQ(c.w[1].start_ms, 1700000010000);
  CHECK_INT_EQ(ww_window_pending(win), 1);
  CHECK_INT_EQ(ww_window_flush(win, on_close, &c), 1);
  CHECK_INT_EQ(c.w[2].start_ms, 1700003600000);
  CHECK_INT_EQ(ww_window_pending(win), 0);
  ww_window_destroy(win);
}

static void test_time_late(void) {
  cap_t c = {0};
  double vals[2] = {1, 1};
  ww_window_t *win = mk(WW_WINDOW_TIME, 10000, 0, 2000);
  CHECK(win != NULL);
  if (!win)
    return;
  CHECK(!ww_window_is_late(win, 0)); /* nothing seen: nothing late */
  add(win, 5000, 1, 0, &c);
  add(win, 11000, 2, 0, &c); /* watermark 9 s: [0,10) still open */
  CHECK_INT_EQ(ww_window_watermark(win), 9000);
  CHECK_INT_EQ(c.n, 0);
  add(win, 9500, 3, 0, &c); /* out of order but within the allowed lateness */
  CHECK(ww_window_is_late(win, 8999));
  CHECK_INT_EQ(ww_window_add(win, 8000, vals, 0x3, 0, on_close, &c), WW_ERR_RANGE);
  add(win, 12000, 4, 0, &c); /* watermark 10 s: [0,10) closes with 5 s and 9.5 s */
  CHECK_INT_EQ(c.n, 1);
  CHECK_INT_EQ(c.w[0].count, 2);
  CHECK_DBL_NEAR(c.w[0].stats[0].mean, 2.0, 1e-12);
  /* Anything before the watermark is now refused, even inside the open window. */
  CHECK_INT_EQ(ww_window_add(win, 9999, vals, 0x3, 0, on_close, &c), WW_ERR_RANGE);
  add(win, 10000, 5, 0, &c);
  CHECK_INT_EQ(ww_window_pending(win), 3);
  /* advance() moves the watermark without a reading (idle line) */
  CHECK_INT_EQ(ww_window_advance(win, 20000, on_close, &c), 1);
  CHECK_INT_EQ(c.w[1].count, 3);
  ww_window_destroy(win);
}

static void test_time_hopping(void) {
  cap_t c = {0};
  ww_window_t *win = mk(WW_WINDOW_TIME, 10000, 5000, 0);
  CHECK(win != NULL);
  if (!win)
    return;
  for (int i = 0; i < 20; i++)
    add(win, i * 1000, i, 0, &c);
  /* watermark 19 s: [-5,5) [0,10) [5,15) closed */
  CHECK_INT_EQ(c.n, 3);
  CHECK_INT_EQ(c.w[0].start_ms, -5000);
  CHECK_INT_EQ(c.w[0].count, 5);
  CHECK_INT_EQ(c.w[1].start_ms, 0);
  CHECK_INT_EQ(c.w[1].count, 10);
  CHECK_INT_EQ(c.w[2].start_ms, 5000);
  CHECK_INT_EQ(c.w[2].count, 10);
  CHECK_DBL_NEAR(c.w[2].stats[0].mean, 9.5, 1e-12);
  CHECK_INT_EQ(ww_window_flush(win, on_close, &c), 2);
  CHECK_INT_EQ(c.n, 5);
  CHECK_INT_EQ(c.w[3].count, 10);
  CHECK_INT_EQ(c.w[4].start_ms, 15000);
  CHECK_INT_EQ(c.w[4].count, 5);
  ww_window_destroy(win);
}

static void test_missing_values(void) {
  cap_t c = {0};
  double vals[2] = {1, 99};
  ww_window_t *win = mk(WW_WINDOW_COUNT, 2, 0, 0);
  CHECK(win != NULL);
  if (!win)
    return;
  CHECK_INT_EQ(ww_window_add(win, 1, vals, 0x1, 0, on_close, &c), WW_OK); /* value 1 absent */
  vals[0] = 3;
  vals[1] = 7;
  CHECK_INT_EQ(ww_window_add(win, 2, vals, 0x3, 0, on_close, &c), WW_OK);
  CHECK_INT_EQ(c.n, 1);
  CHECK_INT_EQ(c.w[0].stats[0].count, 2);
  CHECK_INT_EQ(c.w[0].stats[1].count, 1);
  CHECK_DBL_NEAR(c.w[0].stats[1].mean, 7, 0);
  ww_window_destroy(win);
}

static void test_bad_conf(void) {
  ww_window_conf_t wc;
  char err[256];
  memset(&wc, 0, sizeof(wc));
  wc.type = WW_WINDOW_TIME;
  wc.size = 10;
  wc.slide = 20;
  wc.n_values = 1;
  CHECK(ww_window_new(&wc, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "slide");
  wc.slide = 0;
  wc.size = 0;
  CHECK(ww_window_new(&wc, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "size");
  ww_window_destroy(NULL);
}

static void test_reset(void) {
  cap_t c = {0};
  ww_window_t *win = mk(WW_WINDOW_TIME, 10000, 0, 0);
  if (!win) {
    CHECK(win != NULL);
    return;
  }
  add(win, 50000, 1, 0, &c);
  CHECK(ww_window_is_late(win, 1000));
  ww_window_reset(win);
  CHECK(!ww_window_is_late(win, 1000));
  CHECK_INT_EQ(ww_window_pending(win), 0);
  ww_window_destroy(win);
}

int main(void) {
  RUN(test_count_tumbling);
  RUN(test_count_hopping);
  RUN(test_count_resume);
  RUN(test_time_tumbling);
  RUN(test_time_late);
  RUN(test_time_hopping);
  RUN(test_missing_values);
  RUN(test_bad_conf);
  RUN(test_reset);
  return WW_TEST_RESULT();
}
