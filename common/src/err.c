/* err.c: names of ww_err_t values, and error-buffer formatting. */
#include "windwatch/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *ww_err2str(ww_err_t err) {
  switch (err) {
  case WW_OK: return "success";
  case WW_ERR_INVALID: return "invalid argument";
  case WW_ERR_NOMEM: return "out of memory";
  case WW_ERR_IO: return "I/O error";
  case WW_ERR_PARSE: return "parse error";
  case WW_ERR_KAFKA: return "Kafka error";
  case WW_ERR_DB: return "database error";
  case WW_ERR_NOENT: return "not found";
  case WW_ERR_RANGE: return "out of range";
  case WW_ERR_BUSY: return "busy, retry";
  case WW_ERR_FULL: return "full";
  case WW_ERR_STATE: return "wrong state";
  case WW_ERR_HTTP: return "HTTP error";
  }
  return "unknown error";
}

void ww_errf(char *errstr, size_t errstr_size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errstr, errstr_size, fmt, ap);
  va_end(ap);
}
