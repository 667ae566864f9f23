/*
 * api_parse.c: everything the handlers parse from outside input, as pure
 * functions over strings and bytes: no libmicrohttpd connection, no database,
 * no clock (callers pass "now"). The handlers call these; so do the unit
 * tests and the fuzz target tests/fuzz/fuzz_http.c, which checks the
 * invariants documented in api_internal.h on arbitrary input.
 */
#include "api_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "windwatch/timeutil.h"

#define REL_MAX_N 999999999LL /* largest count in a relative time ("-15m") */
#define DAY_MS    (24LL * 3600 * 1000)

/* ------------------------------------------------------------ integers */

/* Plain decimal: optional '-', then 1..18 digits (no spaces, no '+', no overflow). */
static int parse_dec(const char *v, int64_t *out) {
  int neg = 0;
  int64_t n = 0;
  size_t digits = 0;
  if (*v == '-') {
    neg = 1;
    v++;
  }
  for (; *v; v++, digits++) {
    if (*v < '0' || *v > '9' || digits >= 18)
      return -1;
    n = n * 10 + (*v - '0');
  }
  if (digits == 0)
    return -1;
  *out = neg ? -n : n;
  return 0;
}

int api_parse_int(const char *v, int64_t def, int64_t min, int64_t max, int64_t *out) {
  int64_t n;
  if (!v || !*v) {
    *out = def;
    return 0;
  }
  if (parse_dec(v, &n) != 0 || n < min || n > max)
    return -1;
  *out = n;
  return 0;
}

/* --------------------------------------------------------------- times */

int api_parse_time(const char *v, int64_t def, int64_t now_ms, int64_t *out) {
  int64_t n, unit;
  size_t len;
  if (!v || !*v) {
    *out = def;
    return 0;
  }
  len = strlen(v);
  if (!strcmp(v, "now")) {
    *out = now_ms;
    return 0;
  }
  if (v[0] == '-') { /* relative to now: -30s, -15m, -2h, -7d */
    char num[16];
    switch (v[len - 1]) {
    case 's': unit = 1000; break;
    case 'm': unit = 60 * 1000; break;
    case 'h': unit = 3600 * 1000; break;
    case 'd': unit = DAY_MS; break;
    default: return -1;
    }
    if (len < 3 || len - 2 >= sizeof(num))
      return -1;
    memcpy(num, v + 1, len - 2);
    num[len - 2] = '\0';
    if (num[0] == '-' || parse_dec(num, &n) != 0 || n > REL_MAX_N)
      return -1;
    /* n * unit <= 1e9 days in ms < 2^63: no overflow; clamp at the epoch. */
    *out = now_ms - n * unit > 0 ? now_ms - n * unit : 0;
    return 0;
  }
  if (v[0] >= '0' && v[0] <= '9' && parse_dec(v, &n) == 0) { /* epoch milliseconds */
    *out = n;
    return 0;
  }
  return ww_ts_parse(v, len, out);
}

/* -------------------------------------------------------------- cursors */

int api_parse_cursor(const char *v, int64_t *ms, char *id, size_t id_size) {
  const char *colon;
  char num[24];
  size_t nlen, ilen;
  if (!v || !(colon = strchr(v, ':')))
    return -1;
  nlen = (size_t)(colon - v);
  ilen = strlen(colon + 1);
  if (nlen == 0 || nlen >= sizeof(num) || ilen == 0 || ilen >= id_size ||
      ilen >= WW_API_ALERT_ID_MAX)
    return -1;
  memcpy(num, v, nlen);
  num[nlen] = '\0';
  if (num[0] == '-' || parse_dec(num, ms) != 0)
    return -1;
  for (size_t i = 0; i < ilen; i++)
    if ((unsigned char)colon[1 + i] < 0x20 || colon[1 + i] == 0x7f)
      return -1;
  memcpy(id, colon + 1, ilen + 1);
  return 0;
}

int api_format_cursor(int64_t ms, const char *id, char *buf, size_t size) {
  int n = snprintf(buf, size, "%lld:%s", (long long)ms, id);
  return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ----------------------------------------------------------- static paths */

static const struct {
  const char *ext;
  const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".webmanifest", "application/manifest+json"},
};

static const char *content_type(const char *path) {
  const char *dot = strrchr(path, '.');
  if (!dot || strchr(dot, '/'))
    return NULL;
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if (!strcmp(dot, types[i].ext))
      return types[i].type;
  return NULL;
}

/*
 * Every segment plain: not empty, not starting with '.', no backslash or
 * control byte, and not node_modules (only /vendor/uplot/ reaches a package).
 */
static int path_is_plain(const char *p) {
  if (p[0] != '/')
    return 0;
  for (const char *s = p + 1;;) {
    const char *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 0 || s[0] == '.' || (n == 12 && !memcmp(s, "node_modules", 12)))
      return 0;
    for (size_t i = 0; i < n; i++)
      if (s[i] == '\\' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
        return 0;
    if (!e)
      return 1;
    s = e + 1;
  }
}

int api_static_map(const char *url, char *rel, size_t rel_size, const char **ctype) {
  const char *path = url, *prefix = "", *sub;
  int n;
  if (!url)
    return -1;
  /* The original's page URLs. */
  if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
    path = "/index.html";
  else if (!strcmp(url, "/predictions"))
    path = "/predictions.html";
  else if (!strcmp(url, "/data-view"))
    path = "/data-view.html";
  if (strlen(path) >= WW_API_URL_MAX || !path_is_plain(path) || !(*ctype = content_type(path)))
    return -1;
  sub = path;
  if (!strncmp(path, "/vendor/uplot/", 14)) {
    prefix = "/node_modules/uplot/dist";
    sub = path + 13; /* keeps the leading '/' */
  }
  n = snprintf(rel, rel_size, "%s%s", prefix, sub);
  return n < 0 || (size_t)n >= rel_size ? -1 : 0;
}

/* --------------------------------------------------------- predict bodies */

static unsigned fail(api_parse_err_t *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static unsigned fail(api_parse_err_t *e, const char *field, const char *fmt, ...) {
  va_list ap;
  e->status = 400;
  e->field = field;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
  va_end(ap);
  return e->status;
}

unsigned api_predict_parse(const ww_factory_t *fac, const char *body, size_t len, int64_t now_ms,
                           api_predict_in_t *in, api_parse_err_t *e) {
  json_error_t jerr;
  json_t *root = NULL, *v;
  unsigned st = 0;
  const char *s;
  int l;

  memset(in, 0, sizeof(*in));
  memset(e, 0, sizeof(*e));
  in->rd.seq = -1;
  in->rd.component_idx = -1;
  if (!body || len == 0)
    return fail(e, NULL, "empty body: send a JSON object");
  root = json_loadb(body, len, 0, &jerr);
  if (!root)
    return fail(e, NULL, "body is not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                jerr.column);
  if (!json_is_object(root)) {
    st = fail(e, NULL, "body must be a JSON object");
    goto done;
  }
  v = json_object_get(root, "production_line");
  if (!v) {
    st = fail(e, "production_line", "Missing required field: production_line");
    goto done;
  }
  if (!json_is_string(v)) {
    st = fail(e, "production_line", "field production_line must be a string");
    goto done;
  }
  s = json_string_value(v);
  if ((l = ww_factory_line_find(fac, s, json_string_length(v))) < 0) {
    st = fail(e, "production_line",
              "field production_line: unknown line '%.64s' (see /api/production-lines)", s);
    goto done;
  }
  in->rd.line_idx = l;
  v = json_object_get(root, "component_id");
  if (v && !json_is_null(v)) {
    if (!json_is_string(v)) {
      st = fail(e, "component_id", "field component_id must be a string");
      goto done;
    }
    s = json_string_value(v);
    in->rd.component_idx = ww_factory_component_find(fac, l, s, json_string_length(v));
    if (in->rd.component_idx < 0) {
      st = fail(e, "component_id", "field component_id: '%.64s' is not a component of %s", s,
                fac->lines[l].id);
      goto done;
    }
    in->has_component = 1;
    snprintf(in->rd.component_id, sizeof(in->rd.component_id), "%s",
             fac->lines[l].components[in->rd.component_idx]);
  } else {
    in->rd.component_idx = 0;
    snprintf(in->rd.component_id, sizeof(in->rd.component_id), "%s", fac->lines[l].components[0]);
  }
  v = json_object_get(root, "timestamp");
  if (!v || json_is_null(v)) {
    in->rd.ts_ms = now_ms;
  } else if (!json_is_string(v) ||
             ww_ts_parse(json_string_value(v), json_string_length(v), &in->rd.ts_ms) != 0) {
    st = fail(e, "timestamp",
              "field timestamp must be an ISO 8601 string such as "
              "\"2026-01-01 00:00:00\" or \"2026-01-01T00:00:00Z\"");
    goto done;
  }
  for (int i = 0; i < fac->lines[l].n_sensors; i++) {
    int si = fac->lines[l].sensor_idx[i];
    const ww_sensor_def_t *sd = &fac->sensors[si];
    double x;
    v = json_object_get(root, sd->name);
    if (!v) {
      st = fail(e, sd->name, "Missing required field: %s", sd->name);
      goto done;
    }
    if (!json_is_number(v) || !isfinite(x = json_number_value(v))) {
      st = fail(e, sd->name, "field %s must be a number", sd->name);
      goto done;
    }
    if (x < sd->physical_min || x > sd->physical_max) {
      st = fail(e, sd->name, "field %s: %g is outside the physically possible range %g..%g",
                sd->name, x, sd->physical_min, sd->physical_max);
      goto done;
    }
    in->rd.values[si] = x;
    in->rd.present |= 1u << si;
  }
done:
  json_decref(root);
  return st;
}
