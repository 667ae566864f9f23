/**
 * @file timeutil.h
 * @brief Clocks and RFC 3339 timestamps. All times are milliseconds.
 */
#ifndef WW_TIMEUTIL_H
#define WW_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/** Wall-clock time, ms since the Unix epoch (UTC). */
int64_t ww_now_ms(void);
/** Monotonic time in ms, for intervals and deadlines. */
int64_t ww_mono_ms(void);
/** Monotonic time in ns, for latency measurement. */
int64_t ww_mono_ns(void);

/** Room for "2026-11-25T19:34:44.123Z" plus NUL. */
#define WW_TS_BUFSZ 32

/**
 * @brief Format \p ms as RFC 3339 UTC with milliseconds ("...T..:..:...mmmZ").
 * @returns the length written (24), never more than WW_TS_BUFSZ-1.
 */
size_t ww_ts_format(int64_t ms, char *buf, size_t size);

/**
 * @brief Parse an RFC 3339 / ISO 8601 timestamp into ms since the epoch.
 *
 * Accepts "YYYY-MM-DDTHH:MM:SS[.fff...][Z|+hh:mm|-hh:mm]" and the original
 * system's "YYYY-MM-DD HH:MM:SS[.ffffff]" (space separator, no zone = UTC).
 * @returns 0 on success, -1 if \p s (of length \p len) is not such a timestamp.
 */
int ww_ts_parse(const char *s, size_t len, int64_t *ms);

/** Sleep up to \p ms milliseconds (returns early on a signal). */
void ww_sleep_ms(int64_t ms);

#endif /* WW_TIMEUTIL_H */
