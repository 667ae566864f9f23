/**
 * @file err.h
 * @brief The one error-code enum used across libwindwatch.
 */
#ifndef WW_ERR_H
#define WW_ERR_H

#include <stddef.h>

typedef enum ww_err_e {
  WW_OK = 0,
  WW_ERR_INVALID = -1, /* bad argument, flag or config value */
  WW_ERR_NOMEM = -2,   /* allocation failed */
  WW_ERR_IO = -3,      /* file or socket I/O failed */
  WW_ERR_PARSE = -4,   /* malformed input (JSON, YAML, CSV) */
  WW_ERR_KAFKA = -5,   /* librdkafka call failed */
  WW_ERR_DB = -6,      /* SQLite call failed */
  WW_ERR_NOENT = -7,   /* not found */
  WW_ERR_RANGE = -8,   /* value outside its allowed range */
  WW_ERR_BUSY = -9,    /* resource temporarily unavailable; retry */
  WW_ERR_FULL = -10,   /* queue or disk full */
  WW_ERR_STATE = -11,  /* called in the wrong state */
  WW_ERR_HTTP = -12,   /* HTTP client or server failure */
} ww_err_t;

/** @returns a static, human-readable name for \p err. Never NULL. */
const char *ww_err2str(ww_err_t err);

/** snprintf into a caller's error buffer (\p errstr of \p errstr_size bytes). */
void ww_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* WW_ERR_H */
