/*
 * ww_test.h: the smallest test harness that says what failed.
 *
 * Each CHECK prints file, line, the expression and both values, counts the
 * failure, and lets the test go on; WW_TEST_MAIN returns non-zero if any
 * CHECK failed or if no CHECK ran at all (a test that asserts nothing fails).
 */
#ifndef WW_TEST_H
#define WW_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int ww_test_failures;
static int ww_test_checks;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    ww_test_checks++;                                                                              \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                     \
      ww_test_failures++;                                                                          \
    }                                                                                              \
  } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
  do {                                                                                             \
    long long ww_a_ = (long long)(a), ww_b_ = (long long)(b);                                      \
    ww_test_checks++;                                                                              \
    if (ww_a_ != ww_b_) {                                                                          \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, ww_a_, \
              ww_b_);                                                                              \
      ww_test_failures++;                                                                          \
    }                                                                                              \
  } while (0)

#define CHECK_DBL_NEAR(a, b, eps)                                                                  \
  do {                                                                                             \
    double ww_a_ = (double)(a), ww_b_ = (double)(b);                                               \
    ww_test_checks++;                                                                              \
    if (!(fabs(ww_a_ - ww_b_) <= (eps))) {                                                         \
      fprintf(stderr, "%s:%d: %s ~= %s failed: %.10g != %.10g (eps %g)\n", __FILE__, __LINE__, #a, \
              #b, ww_a_, ww_b_, (double)(eps));                                                    \
      ww_test_failures++;                                                                          \
    }                                                                                              \
  } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
  do {                                                                                             \
    const char *ww_a_ = (a), *ww_b_ = (b);                                                         \
    ww_test_checks++;                                                                              \
    if (!ww_a_ || !ww_b_ || strcmp(ww_a_, ww_b_) != 0) {                                           \
      fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b,    \
              ww_a_ ? ww_a_ : "(null)", ww_b_ ? ww_b_ : "(null)");                                 \
      ww_test_failures++;                                                                          \
    }                                                                                              \
  } while (0)

/* CHECK that string a contains b. */
#define CHECK_STR_CONTAINS(a, b)                                                                   \
  do {                                                                                             \
    const char *ww_a_ = (a), *ww_b_ = (b);                                                         \
    ww_test_checks++;                                                                              \
    if (!ww_a_ || !ww_b_ || !strstr(ww_a_, ww_b_)) {                                               \
      fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,               \
              ww_a_ ? ww_a_ : "(null)", ww_b_ ? ww_b_ : "(null)");                                 \
      ww_test_failures++;                                                                          \
    }                                                                                              \
  } while (0)

#define RUN(fn)                                                                                    \
  do {                                                                                             \
    int ww_before_ = ww_test_failures;                                                             \
    fn();                                                                                          \
    fprintf(stderr, "%s %s\n", ww_test_failures == ww_before_ ? "ok  " : "FAIL", #fn);             \
  } while (0)

#define WW_TEST_RESULT()                                                                           \
  (ww_test_checks == 0                                                                             \
       ? (fprintf(stderr, "no CHECK ran: a test must assert something\n"), 1)                      \
       : (fprintf(stderr, "%d checks, %d failed\n", ww_test_checks, ww_test_failures),             \
          ww_test_failures ? 1 : 0))

#endif /* WW_TEST_H */
