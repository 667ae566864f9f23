/*
 * api_jsonw.c: a JSON text writer for the endpoints that answer with many
 * rows. Building a jansson value per field and dumping it spent three
 * quarters of /api/sensor-history's time in allocations and printf (100 rows:
 * some 700 objects); this writes the same text straight into one buffer.
 * Values come out exactly as api_send_json() would print them (reals as
 * jansson's JSON_REAL_PRECISION(10), strings escaped as jansson escapes
 * them), which test_api_util checks value by value.
 */
#include "api_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/timeutil.h"
#include "windwatch/utf8.h"

/* Room for \p need more bytes. @returns 0, or -1 with oom set. */
static int room(api_jw_t *w, size_t need) {
  size_t ncap;
  char *np;
  if (w->oom)
    return -1;
  if (w->cap - w->len > need)
    return 0;
  ncap = w->cap ? w->cap : 4096;
  while (ncap - w->len <= need)
    ncap *= 2;
  np = realloc(w->p, ncap);
  if (!np) {
    w->oom = 1;
    return -1;
  }
  w->p = np;
  w->cap = ncap;
  return 0;
}

void api_jw_raw(api_jw_t *w, const char *s, size_t n) {
  if (room(w, n) != 0)
    return;
  memcpy(w->p + w->len, s, n);
  w->len += n;
  w->p[w->len] = '\0';
}

/* Whether s[0..n) is UTF-8 as jansson accepts it. */
static int utf8_ok(const char *s, size_t n) {
  const char *p = s, *end = s + n;
  while (p < end) {
    int k = (unsigned char)*p < 0x80 ? 1 : ww_utf8_len(p, end);
    if (!k)
      return 0;
    p += k;
  }
  return 1;
}

void api_jw_str(api_jw_t *w, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF"; /* as jansson writes them */
  size_t i = 0;
  if (!utf8_ok(s, n)) {
    api_jw_raw(w, "null", 4); /* jansson would refuse the string */
    return;
  }
  /* At most 6 bytes per input byte, and the quotes. */
  if (room(w, 6 * n + 2) != 0)
    return;
  w->p[w->len++] = '"';
  while (i < n) {
    size_t run = i;
    while (run < n && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
      run++;
    memcpy(w->p + w->len, s + i, run - i);
    w->len += run - i;
    if (run == n)
      break;
    {
      unsigned char c = (unsigned char)s[run];
      char *o = w->p + w->len;
      switch (c) {
      case '"': o[0] = '\\', o[1] = '"', w->len += 2; break;
      case '\\': o[0] = '\\', o[1] = '\\', w->len += 2; break;
      case '\b': o[0] = '\\', o[1] = 'b', w->len += 2; break;
      case '\f': o[0] = '\\', o[1] = 'f', w->len += 2; break;
      case '\n': o[0] = '\\', o[1] = 'n', w->len += 2; break;
      case '\r': o[0] = '\\', o[1] = 'r', w->len += 2; break;
      case '\t': o[0] = '\\', o[1] = 't', w->len += 2; break;
      default:
        memcpy(o, "\\u00", 4);
        o[4] = hex[c >> 4];
        o[5] = hex[c & 15];
        w->len += 6;
      }
    }
    i = run + 1;
  }
  w->p[w->len++] = '"';
  w->p[w->len] = '\0';
}

void api_jw_real(api_jw_t *w, double v) {
  char buf[48], *e;
  int n;
  if (!isfinite(v)) {
    api_jw_raw(w, "null", 4); /* JSON has no such number (jansson refuses it) */
    return;
  }
  n = snprintf(buf, sizeof(buf), "%.10g", v);
  if (n < 0 || (size_t)n >= sizeof(buf) - 2)
    return;
  /* As jansson prints a real: always with a '.' or an exponent, and the
   * exponent without '+' or leading zeros (1e+20 -> 1e20, 1e-05 -> 1e-5). */
  if (!strchr(buf, '.') && !strchr(buf, 'e')) {
    memcpy(buf + n, ".0", 3);
    n += 2;
  }
  if ((e = strchr(buf, 'e')) != NULL) {
    char *start = e + 1, *end = start + 1;
    if (*start == '-')
      start++;
    while (*end == '0')
      end++;
    if (end != start) {
      memmove(start, end, strlen(end) + 1);
      n -= (int)(end - start);
    }
  }
  api_jw_raw(w, buf, (size_t)n);
}

void api_jw_int(api_jw_t *w, int64_t v) {
  char buf[24];
  int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
  api_jw_raw(w, buf, (size_t)n);
}

void api_jw_ts(api_jw_t *w, int64_t ms) {
  char buf[WW_TS_BUFSZ];
  if (ms < 0) {
    api_jw_raw(w, "null", 4);
    return;
  }
  ww_ts_format(ms, buf, sizeof(buf));
  api_jw_str(w, buf, strlen(buf));
}

void api_jw_col(api_jw_t *w, sqlite3_stmt *st, int i) {
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_INTEGER: api_jw_int(w, sqlite3_column_int64(st, i)); break;
  case SQLITE_FLOAT: api_jw_real(w, sqlite3_column_double(st, i)); break;
  case SQLITE_TEXT:
    api_jw_str(w, (const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
    break;
  default: api_jw_raw(w, "null", 4); /* NULL, and blobs, which are never shown raw */
  }
}

void api_jw_row(api_jw_t *w, sqlite3_stmt *st, const api_jw_field_t *f, int n) {
  for (int i = 0; i < n; i++) {
    api_jw_raw(w, i ? ",\"" : "{\"", 2);
    api_jw_raw(w, f[i].name, strlen(f[i].name));
    API_JW_LIT(w, "\":");
    switch (f[i].kind) {
    case API_JW_BOOL:
      if (sqlite3_column_int(st, f[i].col))
        API_JW_LIT(w, "true");
      else
        API_JW_LIT(w, "false");
      break;
    case API_JW_TS: api_jw_ts(w, sqlite3_column_int64(st, f[i].col)); break;
    case API_JW_FALSE: API_JW_LIT(w, "false"); break;
    default: api_jw_col(w, st, f[i].col);
    }
  }
  API_JW_LIT(w, "}");
}

enum MHD_Result api_send_jw(api_req_t *req, unsigned status, api_jw_t *w) {
  struct MHD_Response *resp;
  if (w->oom || !w->p) {
    free(w->p);
    w->p = NULL;
    return api_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory building JSON");
  }
  resp = MHD_create_response_from_buffer(w->len, w->p, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(w->p);
    w->p = NULL;
    return MHD_NO;
  }
  w->p = NULL; /* MHD frees it */
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return api_send_response(req, status, resp);
}
