/* test_timeutil.c: RFC 3339 formatting and parsing. */
#include <string.h>

#include "windwatch/timeutil.h"
#include "ww_test.h"

static void test_format(void) {
  char buf[WW_TS_BUFSZ];
  CHECK_INT_EQ(ww_ts_format(0, buf, sizeof(buf)), 24);
  CHECK_STR_EQ(buf, "1970-01-01T00:00:00.000Z");
  ww_ts_format(1764099284123LL, buf, sizeof(buf));
  CHECK_STR_EQ(buf, "2025-11-25T19:34:44.123Z");
  ww_ts_format(951782400000LL, buf, sizeof(buf)); /* leap day 2000 */
  CHECK_STR_EQ(buf, "2000-02-29T00:00:00.000Z");
  ww_ts_format(-1, buf, sizeof(buf));
  CHECK_STR_EQ(buf, "1969-12-31T23:59:59.999Z");
}

static void test_parse(void) {
  int64_t ms;
  const char *ok[] = {"2025-11-25T19:34:44.123Z",         "2025-11-25t19:34:44.123z",
                      "2025-11-25 19:34:44.123",          "2025-11-25T20:34:44.123+01:00",
                      "2025-11-25T18:34:44.123456-01:00", "2025-11-25T19:34:44.1239Z"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    CHECK_INT_EQ(ww_ts_parse(ok[i], strlen(ok[i]), &ms), 0);
    CHECK_INT_EQ(ms, 1764099284123LL);
  }
  CHECK_INT_EQ(ww_ts_parse("2026-01-01 00:00:00", 19, &ms), 0);
  CHECK_INT_EQ(ms, 1767225600000LL);
  const char *bad[] = {"",
                       "2025-13-01T00:00:00Z",
                       "2025-02-29T00:00:00Z",
                       "2025-11-25",
                       "2025-11-25T24:00:00Z",
                       "2025-11-25T19:34:44.Z",
                       "2025-11-25T19:34:44Zx",
                       "20251125T193444Z",
                       "2025-11-25T19:34:44+0100x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = ww_ts_parse(bad[i], strlen(bad[i]), &ms);
    if (rc == 0)
      fprintf(stderr, "accepted: %s\n", bad[i]);
    CHECK_INT_EQ(rc, -1);
  }
}

static void test_round_trip_many(void) {
  char buf[WW_TS_BUFSZ];
  int64_t back, bad = 0;
  for (int64_t ms = -86400000LL * 400; ms < 86400000LL * 365 * 200; ms += 86400000LL * 7 + 3601337)
    if (ww_ts_parse(buf, ww_ts_format(ms, buf, sizeof(buf)), &back) != 0 || back != ms)
      bad++;
  CHECK_INT_EQ(bad, 0);
}

/* Both remember the last second they saw: the same second with other
 * milliseconds, or another offset or suffix, must come out as without it. */
static void test_same_second(void) {
  char buf[WW_TS_BUFSZ];
  int64_t ms, bad = 0;
  const char *p[] = {"2026-01-01T00:00:07.250Z", "2026-01-01T00:00:07Z",
                     "2026-01-01T00:00:07.5+01:00", "2026-01-01T00:00:07.999-00:30"};
  const int64_t want[] = {1767225607250LL, 1767225607000LL, 1767222007500LL, 1767227407999LL};
  for (int64_t t = 1767225600000LL; t < 1767225600000LL + 5000; t += 7) {
    int64_t back;
    if (ww_ts_parse(buf, ww_ts_format(t, buf, sizeof(buf)), &back) != 0 || back != t)
      bad++;
  }
  CHECK_INT_EQ(bad, 0);
  ww_ts_format(1767225607001LL, buf, sizeof(buf));
  CHECK_STR_EQ(buf, "2026-01-01T00:00:07.001Z");
  ww_ts_format(1767225607999LL, buf, sizeof(buf));
  CHECK_STR_EQ(buf, "2026-01-01T00:00:07.999Z");
  ww_ts_format(1767225608000LL, buf, sizeof(buf));
  CHECK_STR_EQ(buf, "2026-01-01T00:00:08.000Z");
  for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
    CHECK_INT_EQ(ww_ts_parse(p[i], strlen(p[i]), &ms), 0);
    CHECK_INT_EQ(ms, want[i]);
  }
  /* a known date and time with a bad rest is still refused */
  CHECK_INT_EQ(ww_ts_parse("2026-01-01T00:00:07.Z", 21, &ms), -1);
  CHECK_INT_EQ(ww_ts_parse("2026-01-01T00:00:07Zx", 21, &ms), -1);
  CHECK_INT_EQ(ww_ts_parse("2026-01-01T00:00:07", 18, &ms), -1);
}

int main(void) {
  RUN(test_format);
  RUN(test_same_second);
  RUN(test_parse);
  RUN(test_round_trip_many);
  return WW_TEST_RESULT();
}
