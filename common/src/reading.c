/*
 * reading.c: the JSON codec for readings.
 *
 * The decoder is a single-pass scanner over one flat JSON object. It
 * validates the whole document (strings, escapes, numbers, nesting), never
 * allocates, and stops at the first problem with a reason for the dead-letter
 * topic. It runs on every message, so it avoids jansson's tree building.
 */
#include "windwatch/reading.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/timeutil.h"

#define WW_JSON_MAX_DEPTH 16  /* nesting allowed inside ignored fields */
#define WW_STR_MAX        256 /* longest string value we keep (ids, timestamps) */

static const char *const sev_names[] = {"normal", "warning", "critical"};

const char *ww_severity_name(ww_severity_t sev) {
  return (unsigned)sev < 3 ? sev_names[sev] : "normal";
}

int ww_severity_parse(const char *name, size_t len, ww_severity_t *out) {
  for (int i = 0; i < 3; i++)
    if (strlen(sev_names[i]) == len && memcmp(sev_names[i], name, len) == 0) {
      *out = (ww_severity_t)i;
      return 0;
    }
  return -1;
}

static const char *const dlq_names[WW_DLQ__COUNT] = {
    [WW_DLQ_NONE] = "none",
    [WW_DLQ_MALFORMED_JSON] = "malformed_json",
    [WW_DLQ_MISSING_FIELD] = "missing_field",
    [WW_DLQ_BAD_TYPE] = "bad_type",
    [WW_DLQ_NOT_FINITE] = "not_finite",
    [WW_DLQ_IMPOSSIBLE_VALUE] = "impossible_value",
    [WW_DLQ_UNKNOWN_LINE] = "unknown_line",
    [WW_DLQ_UNKNOWN_COMPONENT] = "unknown_component",
    [WW_DLQ_BAD_TIMESTAMP] = "bad_timestamp",
    [WW_DLQ_TOO_LARGE] = "too_large",
    [WW_DLQ_LATE] = "late",
};

const char *ww_dlq_reason_name(ww_dlq_reason_t reason) {
  return (unsigned)reason < WW_DLQ__COUNT ? dlq_names[reason] : "unknown";
}

ww_severity_t ww_sensor_severity(const ww_sensor_def_t *sd, double value) {
  if (value < sd->min || value > sd->max)
    return WW_SEV_CRITICAL;
  if (value > sd->warning)
    return WW_SEV_WARNING;
  return WW_SEV_NORMAL;
}

/* ---- scanner ------------------------------------------------------------- */

typedef enum tok_e { T_STRING, T_NUMBER, T_NULL, T_TRUE, T_FALSE, T_NONFINITE, T_NESTED } tok_t;

typedef struct scan_s {
  const char *p;   /* cursor */
  const char *end; /* one past the last byte */
  char *errstr;
  size_t errstr_size;
} scan_t;

typedef struct value_s {
  tok_t type;
  char str[WW_STR_MAX]; /* T_STRING: decoded text (truncated flag below) */
  size_t len;           /* T_STRING: decoded length */
  int truncated;        /* T_STRING: longer than str */
  double num;           /* T_NUMBER */
  int is_int;           /* T_NUMBER: no fraction or exponent */
} value_t;

static ww_dlq_reason_t fail(scan_t *sc, ww_dlq_reason_t r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ww_dlq_reason_t fail(scan_t *sc, ww_dlq_reason_t r, const char *fmt, ...) {
  va_list ap;
  if (sc->errstr && sc->errstr_size) {
    va_start(ap, fmt);
    vsnprintf(sc->errstr, sc->errstr_size, fmt, ap);
    va_end(ap);
  }
  return r;
}

static void ws(scan_t *sc) {
  while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
    sc->p++;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static void put(value_t *v, char c) {
  if (v->len < sizeof(v->str) - 1)
    v->str[v->len] = c;
  else
    v->truncated = 1;
  v->len++;
}

/* The first byte of [p, end) that ends a plain run inside a string: a
 * quote, a backslash or a control byte (or end). Eight bytes at a time: for
 * each test (byte ^ '"', byte ^ '\\', byte - 0x20), (x - 0x01..) & ~x &
 * 0x80.. flags the bytes that match, exactly up to the first match (a borrow
 * only wrongly flags bytes above a true one), so the lowest flag is the
 * answer. */
static const char *plain_run_end(const char *p, const char *end) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  while (end - p >= 8) {
    uint64_t w, q, b, hit;
    memcpy(&w, p, 8);
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    hit = (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & highs;
    if (hit)
      return p + (__builtin_ctzll(hit) >> 3);
    p += 8;
  }
#endif
  while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
    p++;
  return p;
}

/* Scan a string at sc->p (which is '"'); decode into v when non-NULL. */
static ww_dlq_reason_t scan_string(scan_t *sc, value_t *v) {
  size_t at = (size_t)(sc->end - sc->p);
  sc->p++;
  if (v) {
    v->len = 0;
    v->truncated = 0;
  }
  while (sc->p < sc->end) {
    unsigned char c;
    /* Copy the plain run up to the next quote, escape or control byte in
     * one go: almost every string here has no escapes. */
    const char *run = sc->p;
    sc->p = plain_run_end(sc->p, sc->end);
    if (v && sc->p > run) {
      size_t n = (size_t)(sc->p - run);
      if (v->len + n < sizeof(v->str)) {
        memcpy(v->str + v->len, run, n);
        v->len += n;
      } else {
        for (const char *q = run; q < sc->p; q++)
          put(v, *q);
      }
    }
    if (sc->p >= sc->end)
      break;
    c = (unsigned char)*sc->p++;
    if (c == '"') {
      if (v)
        v->str[v->len < sizeof(v->str) ? v->len : sizeof(v->str) - 1] = '\0';
      return WW_DLQ_NONE;
    }
    if (c < 0x20)
      return fail(sc, WW_DLQ_MALFORMED_JSON, "control character inside a string");
    /* c is a backslash: plain_run_end() stops at nothing else. */
    if (sc->p >= sc->end)
      break;
    c = (unsigned char)*sc->p++;
    if (c != 'u') {
      /* The one-letter escapes, and the byte each stands for. */
      static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
      const char *esc = c ? strchr(from, c) : NULL;
      if (!esc)
        return fail(sc, WW_DLQ_MALFORMED_JSON, "bad escape \\%c in a string", c);
      if (v)
        put(v, to[esc - from]);
      continue;
    }
    { /* \uXXXX, a surrogate pair as two of them */
      unsigned cp = 0;
      if (sc->end - sc->p < 4)
        return fail(sc, WW_DLQ_MALFORMED_JSON, "truncated \\u escape");
      for (int i = 0; i < 4; i++) {
        int h = hexval(sc->p[i]);
        if (h < 0)
          return fail(sc, WW_DLQ_MALFORMED_JSON, "bad \\u escape");
        cp = cp << 4 | (unsigned)h;
      }
      sc->p += 4;
      if (cp >= 0xd800 && cp <= 0xdbff) { /* surrogate pair */
        unsigned lo = 0;
        if (sc->end - sc->p < 6 || sc->p[0] != '\\' || sc->p[1] != 'u')
          return fail(sc, WW_DLQ_MALFORMED_JSON, "lone surrogate in \\u escape");
        for (int i = 0; i < 4; i++) {
          int h = hexval(sc->p[2 + i]);
          if (h < 0)
            return fail(sc, WW_DLQ_MALFORMED_JSON, "bad \\u escape");
          lo = lo << 4 | (unsigned)h;
        }
        if (lo < 0xdc00 || lo > 0xdfff)
          return fail(sc, WW_DLQ_MALFORMED_JSON, "bad surrogate pair");
        sc->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return fail(sc, WW_DLQ_MALFORMED_JSON, "lone surrogate in \\u escape");
      }
      if (v) { /* UTF-8 encode */
        if (cp < 0x80) {
          put(v, (char)cp);
        } else if (cp < 0x800) {
          put(v, (char)(0xc0 | cp >> 6));
          put(v, (char)(0x80 | (cp & 0x3f)));
        } else if (cp < 0x10000) {
          put(v, (char)(0xe0 | cp >> 12));
          put(v, (char)(0x80 | ((cp >> 6) & 0x3f)));
          put(v, (char)(0x80 | (cp & 0x3f)));
        } else {
          put(v, (char)(0xf0 | cp >> 18));
          put(v, (char)(0x80 | ((cp >> 12) & 0x3f)));
          put(v, (char)(0x80 | ((cp >> 6) & 0x3f)));
          put(v, (char)(0x80 | (cp & 0x3f)));
        }
      }
    }
  }
  return fail(sc, WW_DLQ_MALFORMED_JSON, "unterminated string (at byte %zu from the end)", at);
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * Clinger's fast path: a decimal with at most 15 significant digits and a
 * power of ten up to 22 is exactly m / 10^k or m * 10^k with both operands
 * exact doubles, so one IEEE division or multiplication gives the correctly
 * rounded result, the same double strtod would. Readings look like "27.31",
 * so this avoids strtod (and its locale) on the hot path.
 * @returns 1 and sets \p out, or 0 when the text needs strtod.
 */
static int fast_decimal(const char *s, size_t n, double *out) {
  const char *p = s, *end = s + n;
  uint64_t m = 0;
  int digits = 0, frac = 0, neg = 0, exp10 = 0;
  if (p < end && *p == '-') {
    neg = 1;
    p++;
  }
  for (; p < end && *p >= '0' && *p <= '9'; p++) {
    m = m * 10 + (uint64_t)(*p - '0');
    if (m || digits)
      digits++;
    if (digits > 15)
      return 0;
  }
  if (p < end && *p == '.') {
    for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
      m = m * 10 + (uint64_t)(*p - '0');
      if (m || digits)
        digits++;
      frac++;
      if (digits > 15 || frac > 22)
        return 0;
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    int eneg = 0, e = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      eneg = *p++ == '-';
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
      e = e * 10 + (*p - '0');
      if (e > 400)
        return 0;
    }
    exp10 = eneg ? -e : e;
  }
  if (p != end)
    return 0;
  exp10 -= frac;
  if (exp10 < -22 || exp10 > 22)
    return 0;
  double v = (double)m;
  v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
  *out = neg ? -v : v;
  return 1;
}

static ww_dlq_reason_t scan_number(scan_t *sc, value_t *v) {
  const char *s = sc->p;
  char buf[64];
  size_t n;
  char *endp;
  v->is_int = 1;
  if (sc->p < sc->end && *sc->p == '-')
    sc->p++;
  if (sc->p >= sc->end)
    return fail(sc, WW_DLQ_MALFORMED_JSON, "truncated number");
  if (*sc->p == '0') {
    sc->p++;
  } else if (*sc->p >= '1' && *sc->p <= '9') {
    while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
      sc->p++;
  } else if (sc->end - sc->p >= 8 && memcmp(sc->p, "Infinity", 8) == 0) {
    sc->p += 8; /* "-Infinity" as Python's json writes it */
    v->type = T_NONFINITE;
    return WW_DLQ_NONE;
  } else {
    return fail(sc, WW_DLQ_MALFORMED_JSON, "bad number");
  }
  if (sc->p < sc->end && *sc->p == '.') {
    v->is_int = 0;
    sc->p++;
    if (sc->p >= sc->end || *sc->p < '0' || *sc->p > '9')
      return fail(sc, WW_DLQ_MALFORMED_JSON, "bad number: digits must follow '.'");
    while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
      sc->p++;
  }
  if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
    v->is_int = 0;
    sc->p++;
    if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
      sc->p++;
    if (sc->p >= sc->end || *sc->p < '0' || *sc->p > '9')
      return fail(sc, WW_DLQ_MALFORMED_JSON, "bad number: digits must follow the exponent");
    while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
      sc->p++;
  }
  n = (size_t)(sc->p - s);
  if (fast_decimal(s, n, &v->num)) {
    v->type = T_NUMBER;
    return WW_DLQ_NONE;
  }
  if (n >= sizeof(buf)) {
    v->type = T_NUMBER; /* absurdly long, but valid JSON: parse a prefix-safe copy */
    n = sizeof(buf) - 1;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
  errno = 0;
  v->num = strtod(buf, &endp);
  v->type = isfinite(v->num) ? T_NUMBER : T_NONFINITE;
  return WW_DLQ_NONE;
}

static ww_dlq_reason_t scan_value(scan_t *sc, value_t *v, int depth);

/* Skip an object or array, validating it. */
static ww_dlq_reason_t scan_nested(scan_t *sc, int depth) {
  char close = *sc->p == '{' ? '}' : ']';
  int is_obj = close == '}';
  value_t tmp;
  ww_dlq_reason_t r;
  if (depth > WW_JSON_MAX_DEPTH)
    return fail(sc, WW_DLQ_MALFORMED_JSON, "nesting deeper than %d levels", WW_JSON_MAX_DEPTH);
  sc->p++;
  ws(sc);
  if (sc->p < sc->end && *sc->p == close) {
    sc->p++;
    return WW_DLQ_NONE;
  }
  for (;;) {
    ws(sc);
    if (is_obj) {
      if (sc->p >= sc->end || *sc->p != '"')
        return fail(sc, WW_DLQ_MALFORMED_JSON, "expected a field name");
      if ((r = scan_string(sc, NULL)) != WW_DLQ_NONE)
        return r;
      ws(sc);
      if (sc->p >= sc->end || *sc->p != ':')
        return fail(sc, WW_DLQ_MALFORMED_JSON, "expected ':' after a field name");
      sc->p++;
    }
    if ((r = scan_value(sc, &tmp, depth + 1)) != WW_DLQ_NONE)
      return r;
    ws(sc);
    if (sc->p < sc->end && *sc->p == ',') {
      sc->p++;
      continue;
    }
    if (sc->p < sc->end && *sc->p == close) {
      sc->p++;
      return WW_DLQ_NONE;
    }
    return fail(sc, WW_DLQ_MALFORMED_JSON, "expected ',' or '%c'", close);
  }
}

static int lit(scan_t *sc, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(sc->end - sc->p) >= n && memcmp(sc->p, word, n) == 0) {
    sc->p += n;
    return 1;
  }
  return 0;
}

static ww_dlq_reason_t scan_value(scan_t *sc, value_t *v, int depth) {
  ws(sc);
  if (sc->p >= sc->end)
    return fail(sc, WW_DLQ_MALFORMED_JSON, "truncated document");
  switch (*sc->p) {
  case '"': v->type = T_STRING; return scan_string(sc, v);
  case '{':
  case '[': v->type = T_NESTED; return scan_nested(sc, depth);
  case 'n':
    if (!lit(sc, "null"))
      break;
    v->type = T_NULL;
    return WW_DLQ_NONE;
  case 't':
    if (!lit(sc, "true"))
      break;
    v->type = T_TRUE;
    return WW_DLQ_NONE;
  case 'f':
    if (!lit(sc, "false"))
      break;
    v->type = T_FALSE;
    return WW_DLQ_NONE;
  case 'N': /* NaN and Infinity are not JSON, but Python writes them: say what they are */
    if (!lit(sc, "NaN"))
      break;
    v->type = T_NONFINITE;
    return WW_DLQ_NONE;
  case 'I':
    if (!lit(sc, "Infinity"))
      break;
    v->type = T_NONFINITE;
    return WW_DLQ_NONE;
  default:
    if (*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9'))
      return scan_number(sc, v);
  }
  return fail(sc, WW_DLQ_MALFORMED_JSON, "unexpected character '%c'", *sc->p);
}

/* ---- field handling ------------------------------------------------------ */

static const char *type_name(tok_t t) {
  switch (t) {
  case T_STRING: return "a string";
  case T_NUMBER: return "a number";
  case T_NULL: return "null";
  case T_TRUE:
  case T_FALSE: return "a boolean";
  case T_NONFINITE: return "not finite";
  case T_NESTED: return "an object or array";
  }
  return "?";
}

enum {
  F_LINE = 1 << 0,
  F_COMPONENT = 1 << 1,
  F_TS = 1 << 2,
  F_SCORE = 1 << 3,
  F_SEVERITY = 1 << 4,
  F_MODEL = 1 << 5,
  F_ZSCORE = 1 << 6,
};

/* The known fields of a reading (and of a scored reading); FIELD_OTHER is a
 * sensor name or a field to ignore. */
typedef enum field_e {
  FIELD_OTHER,
  FIELD_LINE,
  FIELD_COMPONENT,
  FIELD_TS,
  FIELD_SEQ,
  FIELD_EPISODE,
  FIELD_MODEL,
  FIELD_INJECTED,
  FIELD_SCORE,
  FIELD_ZSCORE,
  FIELD_SEVERITY,
} field_t;

#define FIELD(name, id)                                                                            \
  { name, sizeof(name) - 1, id }
static const struct {
  const char *name;
  size_t len;
  field_t id;
} fields[] = {
    FIELD("production_line", FIELD_LINE),
    FIELD("component_id", FIELD_COMPONENT),
    FIELD("timestamp", FIELD_TS),
    FIELD("sequence_number", FIELD_SEQ),
    FIELD("episode_id", FIELD_EPISODE),
    FIELD("model_version", FIELD_MODEL),
    FIELD("injected_anomaly", FIELD_INJECTED),
    FIELD("anomaly_score", FIELD_SCORE),
    FIELD("zscore", FIELD_ZSCORE),
    FIELD("severity", FIELD_SEVERITY),
};
#undef FIELD

/* Which field a key names: runs for every field of every reading, so the
 * length is compared before any byte. */
static field_t field_of(const value_t *k) {
  if (k->truncated)
    return FIELD_OTHER;
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
    if (fields[i].len == k->len && memcmp(fields[i].name, k->str, k->len) == 0)
      return fields[i].id;
  return FIELD_OTHER;
}

static ww_dlq_reason_t decode(const ww_factory_t *fac, const char *buf, size_t len, int flags,
                              ww_reading_t *r, ww_score_t *score, char *errstr,
                              size_t errstr_size) {
  scan_t sc = {buf, buf + len, errstr, errstr_size};
  value_t key, val;
  unsigned seen = 0;
  ww_dlq_reason_t rc;
  char line_id[WW_STR_MAX] = "";
  size_t line_len = 0;

  if (errstr && errstr_size)
    errstr[0] = '\0';
  memset(r, 0, sizeof(*r));
  r->seq = -1;
  r->line_idx = -1;
  r->component_idx = -1;
  if (score)
    memset(score, 0, sizeof(*score));
  if (len > WW_READING_MAX_BYTES)
    return fail(&sc, WW_DLQ_TOO_LARGE, "message is %zu bytes, the limit is %d", len,
                WW_READING_MAX_BYTES);
  ws(&sc);
  if (sc.p >= sc.end || *sc.p != '{')
    return fail(&sc, WW_DLQ_MALFORMED_JSON, "a reading must be a JSON object");
  sc.p++;
  ws(&sc);
  if (sc.p < sc.end && *sc.p == '}') {
    sc.p++;
    goto closed;
  }
  for (;;) {
    int sidx;
    field_t kid;
    ws(&sc);
    if (sc.p >= sc.end || *sc.p != '"')
      return fail(&sc, WW_DLQ_MALFORMED_JSON, "expected a field name");
    if ((rc = scan_string(&sc, &key)) != WW_DLQ_NONE)
      return rc;
    ws(&sc);
    if (sc.p >= sc.end || *sc.p != ':')
      return fail(&sc, WW_DLQ_MALFORMED_JSON, "expected ':' after \"%s\"", key.str);
    sc.p++;
    if ((rc = scan_value(&sc, &val, 1)) != WW_DLQ_NONE)
      return rc;

    kid = field_of(&key);
    if (kid == FIELD_LINE) {
      if (val.type != T_STRING)
        return fail(&sc, WW_DLQ_BAD_TYPE, "field 'production_line' is %s, expected a string",
                    type_name(val.type));
      memcpy(line_id, val.str, sizeof(line_id));
      line_len = val.truncated ? sizeof(line_id) : val.len;
      seen |= F_LINE;
    } else if (kid == FIELD_COMPONENT) {
      if (val.type != T_STRING)
        return fail(&sc, WW_DLQ_BAD_TYPE, "field 'component_id' is %s, expected a string",
                    type_name(val.type));
      if (val.len == 0 || val.len >= sizeof(r->component_id))
        return fail(&sc, WW_DLQ_BAD_TYPE, "field 'component_id' must be 1..%zu bytes (got %zu)",
                    sizeof(r->component_id) - 1, val.len);
      memcpy(r->component_id, val.str, val.len + 1);
      seen |= F_COMPONENT;
    } else if (kid == FIELD_TS) {
      if (val.type == T_NULL && (flags & WW_DECODE_TS_OPTIONAL)) {
        /* absent: "now" below */
      } else if (val.type != T_STRING) {
        return fail(&sc, WW_DLQ_BAD_TYPE, "field 'timestamp' is %s, expected an RFC 3339 string",
                    type_name(val.type));
      } else if (val.truncated || ww_ts_parse(val.str, val.len, &r->ts_ms) != 0) {
        return fail(&sc, WW_DLQ_BAD_TIMESTAMP,
                    "field 'timestamp' is '%.40s', expected RFC 3339 like "
                    "2026-11-25T19:34:44.123Z",
                    val.str);
      } else {
        seen |= F_TS;
      }
    } else if (kid == FIELD_SEQ || kid == FIELD_EPISODE || kid == FIELD_MODEL) {
      int64_t *dst = kid == FIELD_SEQ       ? &r->seq
                     : kid == FIELD_EPISODE ? &r->episode_id
                     : score                ? &score->model_version
                                            : NULL;
      if (val.type == T_NULL) {
        /* absent */
      } else if (val.type != T_NUMBER || !val.is_int || fabs(val.num) > 9.0e15) {
        return fail(&sc, WW_DLQ_BAD_TYPE, "field '%s' is %s, expected a whole number", key.str,
                    val.type == T_NUMBER ? "a fraction" : type_name(val.type));
      } else if (dst) {
        *dst = (int64_t)val.num;
        if (kid == FIELD_MODEL)
          seen |= F_MODEL;
      }
    } else if (kid == FIELD_INJECTED) {
      if (val.type == T_STRING) {
        if (val.len >= sizeof(r->injected_anomaly))
          return fail(&sc, WW_DLQ_BAD_TYPE, "field 'injected_anomaly' is longer than %zu bytes",
                      sizeof(r->injected_anomaly) - 1);
        memcpy(r->injected_anomaly, val.str, val.len + 1);
      } else if (val.type != T_NULL) {
        return fail(&sc, WW_DLQ_BAD_TYPE,
                    "field 'injected_anomaly' is %s, expected a string or "
                    "null",
                    type_name(val.type));
      }
    } else if (score && (kid == FIELD_SCORE || kid == FIELD_ZSCORE)) {
      int is_score = kid == FIELD_SCORE;
      if (val.type == T_NONFINITE)
        return fail(&sc, WW_DLQ_NOT_FINITE, "field '%s' is not finite", key.str);
      if (val.type != T_NUMBER)
        return fail(&sc, WW_DLQ_BAD_TYPE, "field '%s' is %s, expected a number", key.str,
                    type_name(val.type));
      if (is_score) {
        score->anomaly_score = val.num;
        seen |= F_SCORE;
      } else {
        score->zscore = val.num;
        seen |= F_ZSCORE;
      }
    } else if (score && kid == FIELD_SEVERITY) {
      if (val.type != T_STRING || ww_severity_parse(val.str, val.len, &score->severity) != 0)
        return fail(&sc, WW_DLQ_BAD_TYPE, "field 'severity' must be normal, warning or critical");
      seen |= F_SEVERITY;
    } else if (!key.truncated && (sidx = ww_factory_sensor_find(fac, key.str, key.len)) >= 0) {
      const ww_sensor_def_t *sd = &fac->sensors[sidx];
      if (val.type == T_NULL)
        goto next;
      if (val.type == T_NONFINITE)
        return fail(&sc, WW_DLQ_NOT_FINITE, "field '%s' is NaN or infinite", sd->name);
      if (val.type != T_NUMBER)
        return fail(&sc, WW_DLQ_BAD_TYPE, "field '%s' is %s, expected a number", sd->name,
                    type_name(val.type));
      if (val.num < sd->physical_min || val.num > sd->physical_max)
        return fail(&sc, WW_DLQ_IMPOSSIBLE_VALUE,
                    "field '%s' is %g %s, outside the physical limits %g..%g", sd->name, val.num,
                    sd->unit, sd->physical_min, sd->physical_max);
      r->values[sidx] = val.num;
      r->present |= 1u << sidx;
    }
    /* other fields ("v", "is_anomaly", future ones) are ignored */
  next:
    ws(&sc);
    if (sc.p < sc.end && *sc.p == ',') {
      sc.p++;
      continue;
    }
    if (sc.p < sc.end && *sc.p == '}') {
      sc.p++;
      break;
    }
    return fail(&sc, WW_DLQ_MALFORMED_JSON, "expected ',' or '}' after field \"%s\"", key.str);
  }
closed:
  ws(&sc);
  if (sc.p != sc.end)
    return fail(&sc, WW_DLQ_MALFORMED_JSON, "trailing bytes after the JSON object");

  if (!(seen & F_LINE))
    return fail(&sc, WW_DLQ_MISSING_FIELD, "missing required field: production_line");
  r->line_idx = line_len < sizeof(line_id) ? ww_factory_line_find(fac, line_id, line_len) : -1;
  if (r->line_idx < 0)
    return fail(&sc, WW_DLQ_UNKNOWN_LINE, "production_line '%.64s' is not in the config", line_id);
  if (!(seen & F_COMPONENT))
    return fail(&sc, WW_DLQ_MISSING_FIELD, "missing required field: component_id");
  r->component_idx =
      ww_factory_component_find(fac, r->line_idx, r->component_id, strlen(r->component_id));
  if (!(seen & F_TS)) {
    if (!(flags & WW_DECODE_TS_OPTIONAL))
      return fail(&sc, WW_DLQ_MISSING_FIELD, "missing required field: timestamp");
    r->ts_ms = ww_now_ms();
  }
  {
    const ww_line_def_t *ld = &fac->lines[r->line_idx];
    int any = 0;
    for (int s = 0; s < ld->n_sensors; s++) {
      int sidx = ld->sensor_idx[s];
      if (r->present & (1u << sidx))
        any = 1;
      else if (flags & WW_DECODE_ALL_SENSORS)
        return fail(&sc, WW_DLQ_MISSING_FIELD, "missing required field: %s",
                    fac->sensors[sidx].name);
    }
    if (!any)
      return fail(&sc, WW_DLQ_MISSING_FIELD,
                  "no sensor value: a reading needs at least one of "
                  "the line's sensors");
  }
  if (score) {
    if (!(seen & F_SCORE))
      return fail(&sc, WW_DLQ_MISSING_FIELD, "missing required field: anomaly_score");
    if (!(seen & F_SEVERITY))
      return fail(&sc, WW_DLQ_MISSING_FIELD, "missing required field: severity");
  }
  return WW_DLQ_NONE;
}

ww_dlq_reason_t ww_reading_decode(const ww_factory_t *fac, const char *buf, size_t len, int flags,
                                  ww_reading_t *r, char *errstr, size_t errstr_size) {
  return decode(fac, buf, len, flags, r, NULL, errstr, errstr_size);
}

ww_dlq_reason_t ww_scored_decode(const ww_factory_t *fac, const char *buf, size_t len,
                                 ww_reading_t *r, ww_score_t *sc, char *errstr,
                                 size_t errstr_size) {
  return decode(fac, buf, len, 0, r, sc, errstr, errstr_size);
}

/* ---- encoder ------------------------------------------------------------- */

typedef struct out_s {
  char *buf;
  size_t size;
  size_t len; /* bytes needed so far (may exceed size) */
} out_t;

static void out_raw(out_t *o, const char *s, size_t n) {
  if (o->len < o->size) {
    size_t room = o->size - o->len;
    memcpy(o->buf + o->len, s, n < room ? n : room);
  }
  o->len += n;
}

static void out_str(out_t *o, const char *s) {
  out_raw(o, s, strlen(s));
}

static void out_json_string(out_t *o, const char *s) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  out_raw(o, "\"", 1);
  for (;;) {
    /* The run of bytes that need no escape, in one copy. */
    const unsigned char *run = p;
    while (*p >= 0x20 && *p != '"' && *p != '\\')
      p++;
    out_raw(o, (const char *)run, (size_t)(p - run));
    if (!*p)
      break;
    if (*p == '"' || *p == '\\') {
      char e[2] = {'\\', (char)*p};
      out_raw(o, e, 2);
    } else {
      char e[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
      out_raw(o, e, 6);
    }
    p++;
  }
  out_raw(o, "\"", 1);
}

static void out_scaled(out_t *o, int64_t r, int k);

static void out_int(out_t *o, int64_t v) {
  if (v > -(INT64_C(1) << 53) && v < (INT64_C(1) << 53)) {
    out_scaled(o, v, 0);
  } else {
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    out_raw(o, tmp, (size_t)n);
  }
}

/* Write the integer \p r (|r| < 2^53) divided by 10^k, trailing zeros dropped. */
static void out_scaled(out_t *o, int64_t r, int k) {
  char tmp[40];
  char *p = tmp + sizeof(tmp);
  int neg = r < 0;
  uint64_t ux = neg ? (uint64_t)(-r) : (uint64_t)r;
  int started = 0;
  for (int i = 0; i < k; i++) {
    unsigned d = (unsigned)(ux % 10);
    ux /= 10;
    if (d || started) {
      *--p = (char)('0' + d);
      started = 1;
    }
  }
  if (started)
    *--p = '.';
  do {
    *--p = (char)('0' + ux % 10);
    ux /= 10;
  } while (ux);
  if (neg)
    *--p = '-';
  out_raw(o, p, (size_t)(tmp + sizeof(tmp) - p));
}

/*
 * Shortest text that reads back as the same double. Readings and rounded
 * scores have at most six decimals: then r = v * 10^6, rounded, is an
 * integer whose quotient r / 10^6 (correctly rounded) is exactly v, and r's
 * text with its trailing zeros dropped is the shortest such decimal (a
 * shorter one would have made those digits of r zeros). For |v| < 10^9 the
 * product is off by less than 0.2, so the rounding finds r whenever it
 * exists. Anything else takes the printf route.
 */
static void out_double(out_t *o, double v) {
  char tmp[40];
  int n = 0;
  if (fabs(v) < 1e9) {
    double r = nearbyint(v * 1e6);
    if (r / 1e6 == v) {
      out_scaled(o, (int64_t)r, 6);
      return;
    }
  }
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
    if (prec == 17 || strtod(tmp, NULL) == v)
      break;
  }
  out_raw(o, tmp, (size_t)n);
}

/* Scores are shown to 1e-6; rounding them keeps the message short and fast. */
static double round6(double v) {
  return isfinite(v) ? nearbyint(v * 1e6) / 1e6 : 0.0;
}

static void encode_reading(out_t *o, const ww_factory_t *fac, const ww_reading_t *r) {
  char ts[WW_TS_BUFSZ];
  const ww_line_def_t *ld = &fac->lines[r->line_idx];
  out_str(o, "{\"v\":1,\"production_line\":");
  out_json_string(o, ld->id);
  out_str(o, ",\"component_id\":");
  out_json_string(o, r->component_id);
  out_str(o, ",\"timestamp\":\"");
  out_raw(o, ts, ww_ts_format(r->ts_ms, ts, sizeof(ts)));
  out_str(o, "\",\"sequence_number\":");
  if (r->seq >= 0)
    out_int(o, r->seq);
  else
    out_str(o, "null");
  for (int s = 0; s < fac->n_sensors; s++) {
    if (!(r->present & (1u << s)))
      continue;
    out_str(o, ",\"");
    out_str(o, fac->sensors[s].name);
    out_str(o, "\":");
    out_double(o, r->values[s]);
  }
  out_str(o, ",\"injected_anomaly\":");
  if (r->injected_anomaly[0])
    out_json_string(o, r->injected_anomaly);
  else
    out_str(o, "null");
  out_str(o, ",\"episode_id\":");
  if (r->episode_id)
    out_int(o, r->episode_id);
  else
    out_str(o, "null");
}

static size_t finish(out_t *o) {
  if (o->size) /* NUL-terminate when it fits, else at the last byte */
    o->buf[o->len < o->size ? o->len : o->size - 1] = '\0';
  return o->len;
}

size_t ww_reading_encode(const ww_factory_t *fac, const ww_reading_t *r, char *buf, size_t size) {
  out_t o = {buf, size, 0};
  encode_reading(&o, fac, r);
  out_raw(&o, "}", 1);
  return finish(&o);
}

size_t ww_scored_encode(const ww_factory_t *fac, const ww_reading_t *r, const ww_score_t *sc,
                        char *buf, size_t size) {
  out_t o = {buf, size, 0};
  encode_reading(&o, fac, r);
  out_str(&o, ",\"anomaly_score\":");
  out_double(&o, round6(sc->anomaly_score));
  out_str(&o, ",\"severity\":\"");
  out_str(&o, ww_severity_name(sc->severity));
  out_str(&o, "\",\"model_version\":");
  out_int(&o, sc->model_version);
  out_str(&o, ",\"zscore\":");
  out_double(&o, round6(sc->zscore));
  out_raw(&o, "}", 1);
  return finish(&o);
}
