/*
 * fuzz_http.c: the api's parsers of outside input (api_parse.c and friends)
 * must never crash, hang or read out of bounds, and what they accept must
 * satisfy the invariants below (abort() otherwise).
 *
 * The first input byte selects the parser; the rest is its input: a query
 * value (up to the first NUL, as libmicrohttpd hands them over), a path, or
 * for POST /api/predict the raw body bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "windwatch/config.h"
#include "windwatch/reading.h"
#include "windwatch/timeutil.h"

#define NOW_MS        1764099284123LL /* fixed "now": 2025-11-25T19:34:44.123Z */
#define YEAR_10000_MS 253402300800000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ww_factory_t *factory(void) {
  static ww_config_t *cfg;
  char err[256];
  if (!cfg) {
    char *argv[] = {"fuzz", NULL};
    cfg = ww_config_load_yaml(WW_ROLE_API, NULL, 0, NULL, 1, argv, err, sizeof(err));
    if (!cfg)
      abort();
  }
  return ww_config_factory(cfg);
}

/* Only digits, at most 18 of them: every such value in range must be accepted. */
static int all_digits(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 18)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return 0;
  return 1;
}

static void check_int(const char *v) {
  static const int64_t bounds[][2] = {
      {1, WW_API_LIMIT_MAX}, {1, 1000}, {-1, INT64_MAX}, {0, 0}, {INT64_MIN, INT64_MAX}};
  for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
    int64_t out = 12345;
    if (api_parse_int(v, 7, bounds[i][0], bounds[i][1], &out) == 0) {
      if (!*v && out != 7)
        abort();
      if (*v && (out < bounds[i][0] || out > bounds[i][1]))
        abort();
    } else if (all_digits(v)) {
      long long n = strtoll(v, NULL, 10);
      if (n >= bounds[i][0] && n <= bounds[i][1])
        abort(); /* refused a plain in-range number */
    }
  }
}

static void check_time(const char *v) {
  int64_t a = -7, b = -8;
  char buf[WW_TS_BUFSZ];
  if (api_parse_time(v, -1, NOW_MS, &a) != 0)
    return;
  if (api_parse_time(v, -1, NOW_MS, &b) != 0 || a != b)
    abort(); /* not deterministic */
  if (!*v && a != -1)
    abort();
  if (!strcmp(v, "now") && a != NOW_MS)
    abort();
  if (v[0] == '-' && (a < 0 || a > NOW_MS))
    abort(); /* relative times lie between the epoch and now */
  if (*v && a >= 0 && a < YEAR_10000_MS && v[0] != '-' && strcmp(v, "now") != 0) {
    /* Whatever time is accepted formats as RFC 3339 and reads back the same. */
    size_t n = ww_ts_format(a, buf, sizeof(buf));
    if (n == 0 || n >= sizeof(buf) || api_parse_time(buf, -1, NOW_MS, &b) != 0 || a != b)
      abort();
  }
}

static void check_cursor(const char *v) {
  int64_t ms = -1, ms2 = -1;
  char id[WW_API_ALERT_ID_MAX], id2[WW_API_ALERT_ID_MAX], buf[WW_API_ALERT_ID_MAX + 32];
  if (api_parse_cursor(v, &ms, id, sizeof(id)) != 0)
    return;
  if (ms < 0 || !id[0] || strlen(id) >= WW_API_ALERT_ID_MAX)
    abort();
  for (const char *p = id; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      abort();
  /* A cursor we format reads back to the same position. */
  if (api_format_cursor(ms, id, buf, sizeof(buf)) != 0 ||
      api_parse_cursor(buf, &ms2, id2, sizeof(id2)) != 0 || ms2 != ms || strcmp(id, id2) != 0)
    abort();
}

static void check_static(const char *v) {
  char rel[4096];
  const char *ctype = NULL;
  if (api_static_map(v, rel, sizeof(rel), &ctype) != 0)
    return;
  if (!ctype || rel[0] != '/')
    abort();
  /* Only plain segments: the path can never climb out of the web root. */
  for (const char *s = rel + 1;;) {
    const char *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 0 || s[0] == '.' || (n == 2 && !memcmp(s, "..", 2)))
      abort();
    for (size_t i = 0; i < n; i++)
      if (s[i] == '\\' || (unsigned char)s[i] < 0x20)
        abort();
    if (!e)
      break;
    s = e + 1;
  }
  if (strstr(rel, "/..") || strstr(rel, "//"))
    abort();
  /* Of the npm packages only uPlot's dist/ is reachable: no other node_modules segment. */
  const char *nm = strstr(rel, "/node_modules/");
  if (nm && (nm != rel || strncmp(rel, "/node_modules/uplot/dist/", 25) != 0 ||
             strstr(rel + 25, "/node_modules/") || !strncmp(rel + 25, "node_modules/", 13)))
    abort();
}

static void check_predict(const ww_factory_t *fac, const uint8_t *body, size_t len) {
  api_predict_in_t in;
  api_parse_err_t e;
  const ww_line_def_t *line;
  char out[2048], err[256];
  ww_reading_t back;
  size_t n;
  unsigned st = api_predict_parse(fac, (const char *)body, len, NOW_MS, &in, &e);
  if (st != 0) {
    if (st != 400 || e.status != 400 || !e.msg[0])
      abort();
    if (e.field && fac->lines[0].n_sensors > 0 && strcmp(e.field, "production_line") != 0 &&
        strcmp(e.field, "component_id") != 0 && strcmp(e.field, "timestamp") != 0 &&
        ww_factory_sensor_find(fac, e.field, strlen(e.field)) < 0)
      abort(); /* an error names a real field */
    return;
  }
  if (in.rd.line_idx < 0 || in.rd.line_idx >= fac->n_lines)
    abort();
  line = &fac->lines[in.rd.line_idx];
  if (in.rd.component_idx < 0 || in.rd.component_idx >= line->n_components ||
      strcmp(in.rd.component_id, line->components[in.rd.component_idx]) != 0)
    abort();
  for (int i = 0; i < line->n_sensors; i++) {
    int si = line->sensor_idx[i];
    const ww_sensor_def_t *sd = &fac->sensors[si];
    double x = in.rd.values[si];
    if (!(in.rd.present & (1u << si)) || !(x >= sd->physical_min && x <= sd->physical_max))
      abort();
  }
  /* An accepted body becomes a reading the processor decodes (it is produced to sensor-data). */
  n = ww_reading_encode(fac, &in.rd, out, sizeof(out));
  if (n >= sizeof(out) ||
      ww_reading_decode(fac, out, n, 0, &back, err, sizeof(err)) != WW_DLQ_NONE ||
      back.line_idx != in.rd.line_idx || back.present != in.rd.present ||
      strcmp(back.component_id, in.rd.component_id) != 0)
    abort();
}

static void check_names(const ww_factory_t *fac, const char *v) {
  const char *sql = api_table_sql(v);
  int i;
  if (sql) {
    if (!*v || !*sql)
      abort();
    for (const char *p = v; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
        abort(); /* only plain identifiers are tables */
  }
  if ((i = ww_factory_line_find(fac, v, strlen(v))) >= 0 && strcmp(fac->lines[i].id, v) != 0)
    abort();
  if ((i = ww_factory_sensor_find(fac, v, strlen(v))) >= 0 && strcmp(fac->sensors[i].name, v) != 0)
    abort();
}

static void check_listen(const char *v) {
  ww_api_conf_t c;
  char err[512];
  memset(&c, 0, sizeof(c));
  err[0] = '\0';
  if (ww_api_parse_listen(v, &c, err, sizeof(err)) == 0) {
    if (strlen(c.host) >= sizeof(c.host) || strlen(c.host) > strlen(v))
      abort();
  } else if (!strstr(err, "--listen")) {
    abort(); /* the error names the flag */
  }
}

static void check_csv(const char *v) {
  char buf[1024], back[1025]; /* back: the unquoted field and its NUL */
  int n = api_csv_field(buf, sizeof(buf), v);
  size_t o = 0;
  if (n < 0)
    return;
  if ((size_t)n > sizeof(buf))
    abort();
  /* Unquoting the field gives the input back. */
  if (n > 0 && buf[0] == '"') {
    if (n < 2 || buf[n - 1] != '"')
      abort();
    for (int i = 1; i < n - 1; i++) {
      if (buf[i] == '"') {
        if (buf[i + 1] != '"')
          abort();
        i++;
      }
      back[o++] = buf[i];
    }
  } else {
    for (int i = 0; i < n; i++) {
      if (buf[i] == '"' || buf[i] == ',' || buf[i] == '\n' || buf[i] == '\r')
        abort(); /* must have been quoted */
      back[o++] = buf[i];
    }
  }
  back[o] = '\0';
  if (strcmp(back, v) != 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const ww_factory_t *fac = factory();
  char *s;
  if (size == 0)
    return 0;
  /* Query values and paths are C strings: cut at the first NUL. */
  s = malloc(size);
  if (!s)
    abort();
  memcpy(s, data + 1, size - 1);
  s[size - 1] = '\0';
  switch (data[0] % 8) {
  case 0: check_int(s); break;
  case 1: check_time(s); break;
  case 2: check_cursor(s); break;
  case 3: check_static(s); break;
  case 4: check_predict(fac, data + 1, size - 1); break;
  case 5: check_names(fac, s); break;
  case 6: check_listen(s); break;
  default: check_csv(s); break;
  }
  free(s);
  return 0;
}
