/* log.c: one line per call on stderr, text or JSON, written with one write(2). */
#include "windwatch/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "windwatch/timeutil.h"

volatile int ww_log_level_current = WW_LOG_INFO;
static const char *log_prog = "windwatch";
static ww_log_format_t log_format = WW_LOG_FORMAT_TEXT;

static const char *const level_names[] = {
    [WW_LOG_ERROR] = "error", [WW_LOG_WARN] = "warn",   [WW_LOG_NOTICE] = "notice",
    [WW_LOG_INFO] = "info",   [WW_LOG_DEBUG] = "debug",
};

void ww_log_init(const char *prog, ww_log_level_t level, ww_log_format_t format) {
  if (prog)
    log_prog = prog;
  ww_log_level_current = (int)level;
  log_format = format;
}

void ww_log_set_level(ww_log_level_t level) {
  ww_log_level_current = (int)level;
}

const char *ww_log_level_name(ww_log_level_t level) {
  if (level < WW_LOG_ERROR || level > WW_LOG_DEBUG)
    return level < WW_LOG_ERROR ? "error" : "debug";
  return level_names[level];
}

int ww_log_level_parse(const char *name, ww_log_level_t *out) {
  for (int l = WW_LOG_ERROR; l <= WW_LOG_DEBUG; l++)
    if (strcmp(name, level_names[l]) == 0) {
      *out = (ww_log_level_t)l;
      return 0;
    }
  return -1;
}

/* Append \p s to buf as JSON string content (without quotes). */
static size_t json_escape(char *buf, size_t size, size_t o, const char *s) {
  for (; *s && o + 7 < size; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      buf[o++] = '\\';
      buf[o++] = (char)c;
    } else if (c < 0x20) {
      o += (size_t)snprintf(buf + o, size - o, "\\u%04x", c);
    } else {
      buf[o++] = (char)c;
    }
  }
  return o;
}

void ww_log_vwrite(ww_log_level_t level, const char *facility, const char *fmt, va_list ap) {
  char msg[2048], line[4608], ts[WW_TS_BUFSZ];
  size_t o;
  int n = vsnprintf(msg, sizeof(msg), fmt, ap);
  if (n < 0)
    return;
  /* Trailing newlines from librdkafka messages would split the line. */
  for (size_t l = strlen(msg); l > 0 && (msg[l - 1] == '\n' || msg[l - 1] == '\r'); l--)
    msg[l - 1] = '\0';
  ww_ts_format(ww_now_ms(), ts, sizeof(ts));
  if (log_format == WW_LOG_FORMAT_JSON) {
    o = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":\"", ts,
                         ww_log_level_name(level));
    o = json_escape(line, sizeof(line), o, log_prog);
    o += (size_t)snprintf(line + o, sizeof(line) - o, "\",\"facility\":\"");
    o = json_escape(line, sizeof(line), o, facility);
    o += (size_t)snprintf(line + o, sizeof(line) - o, "\",\"msg\":\"");
    o = json_escape(line, sizeof(line), o, msg);
    o += (size_t)snprintf(line + o, sizeof(line) - o, "\"}\n");
  } else {
    n = snprintf(line, sizeof(line), "%s %-6s %s %s: %s\n", ts, ww_log_level_name(level), log_prog,
                 facility, msg);
    o = n < 0 ? 0 : (size_t)n;
  }
  if (o >= sizeof(line)) {
    o = sizeof(line) - 1;
    line[o - 1] = '\n';
  }
  /* One write so lines from several threads never interleave. */
  ssize_t w = write(STDERR_FILENO, line, o);
  (void)w; /* nowhere left to report a failed log write */
}

void ww_log_write(ww_log_level_t level, const char *facility, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ww_log_vwrite(level, facility, fmt, ap);
  va_end(ap);
}
