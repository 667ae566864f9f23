/**
 * @file log.h
 * @brief Logging to stderr, text or JSON lines. stdout is for data only.
 *
 * WW_LOG checks the level before it formats, so a disabled debug line costs
 * one integer compare. Thread-safe: each line is written with one write(2).
 */
#ifndef WW_LOG_H
#define WW_LOG_H

#include <stdarg.h>

typedef enum ww_log_level_e {
  WW_LOG_ERROR = 3,
  WW_LOG_WARN = 4,
  WW_LOG_NOTICE = 5,
  WW_LOG_INFO = 6,
  WW_LOG_DEBUG = 7,
} ww_log_level_t;

typedef enum ww_log_format_e {
  WW_LOG_FORMAT_TEXT = 0, /* "2026-11-25T19:34:44.123Z INFO  PRODUCER  message" */
  WW_LOG_FORMAT_JSON =
      1, /* {"ts":"...","level":"info","facility":"...","prog":"...","msg":"..."} */
} ww_log_format_t;

/** Current threshold; lines with level > this are skipped. Read via the macro. */
extern volatile int ww_log_level_current;

/** @brief Set the program name shown in each line (borrowed; must outlive logging). */
void ww_log_init(const char *prog, ww_log_level_t level, ww_log_format_t format);
void ww_log_set_level(ww_log_level_t level);
/** @returns WW_OK-like 0 and sets \p *out, or -1 if \p name is not a level name. */
int ww_log_level_parse(const char *name, ww_log_level_t *out);
const char *ww_log_level_name(ww_log_level_t level);

void ww_log_write(ww_log_level_t level, const char *facility, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ww_log_vwrite(ww_log_level_t level, const char *facility, const char *fmt, va_list ap);

#define WW_LOG(level, facility, ...)                                                               \
  do {                                                                                             \
    if ((int)(level) <= ww_log_level_current)                                                      \
      ww_log_write((level), (facility), __VA_ARGS__);                                              \
  } while (0)

#endif /* WW_LOG_H */
