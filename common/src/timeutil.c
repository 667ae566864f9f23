/* timeutil.c: clocks and RFC 3339 formatting/parsing without locale or TZ. */
#include "windwatch/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t ww_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ww_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ww_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ww_sleep_ms(int64_t ms) {
  struct timespec ts;
  if (ms <= 0)
    return;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  nanosleep(&ts, NULL); /* EINTR: return early so the caller sees the signal */
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* The date and time of the second last formatted or parsed by this thread:
 * readings come in time order, many within the same second. */
static _Thread_local int64_t fmt_secs = INT64_MIN;
static _Thread_local char fmt_dt[19];
static _Thread_local int parse_ok;
static _Thread_local char parse_dt[19];
static _Thread_local int64_t parse_secs;

size_t ww_ts_format(int64_t ms, char *buf, size_t size) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int msec = (int)(ms - secs * 1000);
  int64_t days, y;
  int sod;
  unsigned mo, d;
  char t[WW_TS_BUFSZ];
  size_t n;
  if (secs == fmt_secs) {
    memcpy(t, fmt_dt, sizeof(fmt_dt));
    goto fraction;
  }
  days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  sod = (int)(secs - days * 86400);
  civil_from_days(days, &y, &mo, &d);
  if (y < 0 || y > 9999) { /* outside what the fixed layout can hold */
    int w = snprintf(buf, size, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", (int)y, mo, d, sod / 3600,
                     (sod / 60) % 60, sod % 60, msec);
    return w < 0 ? 0 : (size_t)w;
  }
  /* Fixed layout written digit by digit: this runs for every message. */
  t[0] = (char)('0' + y / 1000);
  t[1] = (char)('0' + y / 100 % 10);
  t[2] = (char)('0' + y / 10 % 10);
  t[3] = (char)('0' + y % 10);
  t[4] = '-';
  t[5] = (char)('0' + mo / 10);
  t[6] = (char)('0' + mo % 10);
  t[7] = '-';
  t[8] = (char)('0' + d / 10);
  t[9] = (char)('0' + d % 10);
  t[10] = 'T';
  t[11] = (char)('0' + sod / 36000);
  t[12] = (char)('0' + sod / 3600 % 10);
  t[13] = ':';
  t[14] = (char)('0' + sod / 60 % 60 / 10);
  t[15] = (char)('0' + sod / 60 % 10);
  t[16] = ':';
  t[17] = (char)('0' + sod % 60 / 10);
  t[18] = (char)('0' + sod % 10);
  memcpy(fmt_dt, t, sizeof(fmt_dt));
  fmt_secs = secs;
fraction:
  t[19] = '.';
  t[20] = (char)('0' + msec / 100);
  t[21] = (char)('0' + msec / 10 % 10);
  t[22] = (char)('0' + msec % 10);
  t[23] = 'Z';
  t[24] = '\0';
  n = 24;
  if (size) {
    size_t c = n < size ? n : size - 1;
    memcpy(buf, t, c);
    buf[c] = '\0';
  }
  return n;
}

static int digits(const char *s, size_t len, size_t *i, int n, int *out) {
  int v = 0;
  for (int k = 0; k < n; k++, (*i)++) {
    if (*i >= len || s[*i] < '0' || s[*i] > '9')
      return -1;
    v = v * 10 + (s[*i] - '0');
  }
  *out = v;
  return 0;
}

int ww_ts_parse(const char *s, size_t len, int64_t *ms) {
  size_t i = 0;
  int y, mo, d, h, mi, se, frac_ms = 0, off_min = 0;
  int64_t secs;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  /* The same date and time as the last one parsed: already checked. */
  if (parse_ok && len >= sizeof(parse_dt) && memcmp(s, parse_dt, sizeof(parse_dt)) == 0) {
    i = sizeof(parse_dt);
    secs = parse_secs;
    goto fraction;
  }
  if (digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' || digits(s, len, &i, 2, &mo) ||
      i >= len || s[i++] != '-' || digits(s, len, &i, 2, &d))
    return -1;
  if (i >= len || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
    return -1;
  i++;
  if (digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || digits(s, len, &i, 2, &mi) ||
      i >= len || s[i++] != ':' || digits(s, len, &i, 2, &se))
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
    return -1;
  if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    return -1;
  if (se == 60)
    se = 59; /* leap second: clamp, as most systems do */
  secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
  if (i == sizeof(parse_dt)) {
    memcpy(parse_dt, s, sizeof(parse_dt));
    parse_secs = secs;
    parse_ok = 1;
  }
fraction:
  if (i < len && (s[i] == '.' || s[i] == ',')) {
    int scale = 100, nd = 0;
    i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      frac_ms += (s[i] - '0') * scale;
      scale /= 10;
      i++;
      nd++;
    }
    if (nd == 0)
      return -1;
  }
  if (i < len) {
    if (s[i] == 'Z' || s[i] == 'z') {
      i++;
    } else if (s[i] == '+' || s[i] == '-') {
      int sign = s[i] == '-' ? -1 : 1, oh, om;
      i++;
      if (digits(s, len, &i, 2, &oh))
        return -1;
      if (i < len && s[i] == ':')
        i++;
      if (digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
        return -1;
      off_min = sign * (oh * 60 + om);
    } else {
      return -1;
    }
  }
  if (i != len)
    return -1;
  *ms = (secs - (int64_t)off_min * 60) * 1000 + frac_ms;
  return 0;
}
