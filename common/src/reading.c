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

#include "bytes.h"
#include "windwatch/timeutil.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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
  const char *s;        /* T_STRING: the decoded text, not NUL-terminated: in the message
                         * itself when it has no escape (almost always), else in buf */
  size_t len;           /* T_STRING: decoded length */
  int truncated;        /* T_STRING: len >= WW_STR_MAX (buf kept only the first bytes) */
  double num;           /* T_NUMBER */
  int is_int;           /* T_NUMBER: no fraction or exponent */
  char buf[WW_STR_MAX]; /* T_STRING with escapes: the first WW_STR_MAX - 1 decoded bytes */
} value_t;

/* How many bytes of a string value an error message shows, at most \p max. */
static int shown(const value_t *v, size_t max) {
  size_t n = v->len < max ? v->len : max;
  return (int)(n < WW_STR_MAX - 1 ? n : WW_STR_MAX - 1);
}

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
  if (v->len < sizeof(v->buf) - 1)
    v->buf[v->len] = c;
  else
    v->truncated = 1;
  v->len++;
}

/* The first byte of [p, end) that ends a plain run inside a string: a
 * quote, a backslash or a control byte (or end). Sixteen bytes at a time
 * with SSE2, then eight at a time in a word: for each test (byte ^ '"', byte ^ '\\', byte - 0x20),
 * (x - 0x01..) & ~x & 0x80.. flags the bytes that match, exactly up to the first match (a borrow
 * only wrongly flags bytes above a true one), so the lowest flag is the
 * answer. */
static inline __attribute__((always_inline)) const char *plain_run_end(const char *p,
                                                                       const char *end) {
#ifdef __SSE2__
  /* Sixteen bytes at a time: a quote, a backslash, or a byte <= 0x1f (the
   * unsigned max with 0x1f leaves only those equal to 0x1f). */
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
  while (end - p >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                               _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl));
    unsigned mask = (unsigned)_mm_movemask_epi8(hit);
    if (mask)
      return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
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

/* Scan a string at sc->p (which is '"'); decode into v when non-NULL. A
 * string without escapes (the usual case) is left where it is: v->s points
 * into the message. */
static ww_dlq_reason_t scan_string(scan_t *sc, value_t *v) {
  size_t at = (size_t)(sc->end - sc->p);
  const char *start = ++sc->p;
  sc->p = plain_run_end(start, sc->end);
  if (sc->p < sc->end && *sc->p == '"') {
    if (v) {
      v->s = start;
      v->len = (size_t)(sc->p - start);
      v->truncated = v->len >= WW_STR_MAX;
    }
    sc->p++;
    return WW_DLQ_NONE;
  }
  /* Escapes (or an error): decode into v->buf, from the plain run already
   * found ([start, sc->p)) on; each turn then finds the next run. */
  if (v) {
    v->s = v->buf;
    v->len = 0;
    v->truncated = 0;
  }
  for (const char *run = start;; run = sc->p, sc->p = plain_run_end(sc->p, sc->end)) {
    unsigned char c;
    if (v && sc->p > run) {
      size_t n = (size_t)(sc->p - run);
      if (v->len + n < sizeof(v->buf)) {
        memcpy(v->buf + v->len, run, n);
        v->len += n;
      } else {
        for (const char *q = run; q < sc->p; q++)
          put(v, *q);
      }
    }
    if (sc->p >= sc->end)
      break;
    c = (unsigned char)*sc->p++;
    if (c == '"')
      return WW_DLQ_NONE;
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
 * Scan a number, validating it as JSON, and convert it in the same pass.
 * Clinger's fast path: a decimal with at most 15 significant digits and a
 * power of ten up to 22 is exactly m / 10^k or m * 10^k with both operands
 * exact doubles, so one IEEE division or multiplication gives the correctly
 * rounded result, the same double strtod would. Readings look like "27.31",
 * so strtod (and its locale) stays off the hot path; anything else takes it.
 */
static ww_dlq_reason_t scan_number(scan_t *sc, value_t *v) {
  const char *s = sc->p, *p = sc->p, *end = sc->end;
  uint64_t m = 0;
  int sig = 0, frac = 0, neg = 0, e = 0, eneg = 0, exact = 1;
  char buf[64];
  size_t n;
  v->is_int = 1;
  if (p < end && *p == '-') {
    neg = 1;
    p++;
  }
  if (p >= end)
    return fail(sc, WW_DLQ_MALFORMED_JSON, "truncated number");
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    for (; p < end && *p >= '0' && *p <= '9'; p++) /* every digit is significant */
      if (++sig <= 15)
        m = m * 10 + (uint64_t)(*p - '0');
  } else if (end - p >= 8 && memcmp(p, "Infinity", 8) == 0) {
    sc->p = p + 8; /* "-Infinity" as Python's json writes it */
    v->type = T_NONFINITE;
    return WW_DLQ_NONE;
  } else {
    sc->p = p;
    return fail(sc, WW_DLQ_MALFORMED_JSON, "bad number");
  }
  if (p < end && *p == '.') {
    v->is_int = 0;
    p++;
    if (p >= end || *p < '0' || *p > '9') {
      sc->p = p;
      return fail(sc, WW_DLQ_MALFORMED_JSON, "bad number: digits must follow '.'");
    }
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
      if (m == 0 && sig == 0 && *p == '0') { /* a leading zero: not significant */
        frac++;
        continue;
      }
      if (++sig <= 15)
        m = m * 10 + (uint64_t)(*p - '0');
      frac++;
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    v->is_int = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      eneg = *p++ == '-';
    if (p >= end || *p < '0' || *p > '9') {
      sc->p = p;
      return fail(sc, WW_DLQ_MALFORMED_JSON, "bad number: digits must follow the exponent");
    }
    for (; p < end && *p >= '0' && *p <= '9'; p++)
      if (e <= 400)
        e = e * 10 + (*p - '0');
    if (e > 400)
      exact = 0;
  }
  sc->p = p;
  if (exact && sig <= 15 && frac <= 22) {
    int exp10 = (eneg ? -e : e) - frac;
    if (exp10 >= -22 && exp10 <= 22) {
      double d = (double)m;
      d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
      v->num = neg ? -d : d;
      v->type = T_NUMBER;
      return WW_DLQ_NONE;
    }
  }
  n = (size_t)(p - s);
  if (n >= sizeof(buf)) {
    v->type = T_NUMBER; /* absurdly long, but valid JSON: parse a prefix-safe copy */
    n = sizeof(buf) - 1;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
  errno = 0;
  v->num = strtod(buf, NULL);
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

static inline int lit_n(scan_t *sc, const char *word, size_t n) {
  if ((size_t)(sc->end - sc->p) >= n && ww__bytes_eq(sc->p, word, n)) {
    sc->p += n;
    return 1;
  }
  return 0;
}

/* Whether the literal \p word is next: then skip it. */
#define lit(sc, word) lit_n(sc, word, sizeof(word) - 1)

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

/* Whether key k is the field name \p name (a literal of 4 to 16 bytes):
 * two overlapping loads a side instead of a call to memcmp. */
#define KEY_IS(k, name)                                                                            \
  ((k)->len == sizeof(name) - 1 && ww__bytes_eq((k)->s, name, sizeof(name) - 1))

/* Which field a key names. This runs for every field of every reading: the
 * length and the first byte pick the one name to compare. */
static field_t field_of(const value_t *k) {
  if (k->len < 6 || k->len > 16)
    return FIELD_OTHER;
  switch (k->s[0]) {
  case 'a': return KEY_IS(k, "anomaly_score") ? FIELD_SCORE : FIELD_OTHER;
  case 'c': return KEY_IS(k, "component_id") ? FIELD_COMPONENT : FIELD_OTHER;
  case 'e': return KEY_IS(k, "episode_id") ? FIELD_EPISODE : FIELD_OTHER;
  case 'i': return KEY_IS(k, "injected_anomaly") ? FIELD_INJECTED : FIELD_OTHER;
  case 'm': return KEY_IS(k, "model_version") ? FIELD_MODEL : FIELD_OTHER;
  case 'p': return KEY_IS(k, "production_line") ? FIELD_LINE : FIELD_OTHER;
  case 's':
    return KEY_IS(k, "sequence_number") ? FIELD_SEQ
           : KEY_IS(k, "severity")      ? FIELD_SEVERITY
                                        : FIELD_OTHER;
  case 't': return KEY_IS(k, "timestamp") ? FIELD_TS : FIELD_OTHER;
  case 'z': return KEY_IS(k, "zscore") ? FIELD_ZSCORE : FIELD_OTHER;
  default: return FIELD_OTHER;
  }
}
#undef KEY_IS

static ww_dlq_reason_t decode(const ww_factory_t *fac, const char *buf, size_t len, int flags,
                              ww_reading_t *r, ww_score_t *score, char *errstr,
                              size_t errstr_size) {
  scan_t sc = {buf, buf + len, errstr, errstr_size};
  value_t key, val;
  unsigned seen = 0;
  ww_dlq_reason_t rc;
  char line_id[WW_STR_MAX]; /* (only its text is written: this runs for every message) */
  size_t line_len = 0;

  line_id[0] = '\0';
  if (errstr && errstr_size)
    errstr[0] = '\0';
  /* Each field set on its own: a memset of the whole reading costs more. */
  r->ts_ms = 0;
  r->seq = -1;
  r->line_idx = -1;
  r->component_idx = -1;
  r->component_id[0] = '\0';
  r->present = 0;
  for (int i = 0; i < WW_MAX_SENSORS; i++)
    r->values[i] = 0;
  r->injected_anomaly[0] = '\0';
  r->episode_id = 0;
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
      return fail(&sc, WW_DLQ_MALFORMED_JSON, "expected ':' after \"%.*s\"", shown(&key, SIZE_MAX),
                  key.s);
    sc.p++;
    if ((rc = scan_value(&sc, &val, 1)) != WW_DLQ_NONE)
      return rc;

    kid = field_of(&key);
    if (kid == FIELD_LINE) {
      if (val.type != T_STRING)
        return fail(&sc, WW_DLQ_BAD_TYPE, "field 'production_line' is %s, expected a string",
                    type_name(val.type));
      line_len = val.truncated ? sizeof(line_id) : val.len;
      memcpy(line_id, val.s, (size_t)shown(&val, SIZE_MAX));
      line_id[shown(&val, SIZE_MAX)] = '\0';
      seen |= F_LINE;
    } else if (kid == FIELD_COMPONENT) {
      if (val.type != T_STRING)
        return fail(&sc, WW_DLQ_BAD_TYPE, "field 'component_id' is %s, expected a string",
                    type_name(val.type));
      if (val.len == 0 || val.len >= sizeof(r->component_id))
        return fail(&sc, WW_DLQ_BAD_TYPE, "field 'component_id' must be 1..%zu bytes (got %zu)",
                    sizeof(r->component_id) - 1, val.len);
      memcpy(r->component_id, val.s, val.len);
      r->component_id[val.len] = '\0';
      seen |= F_COMPONENT;
    } else if (kid == FIELD_TS) {
      if (val.type == T_NULL && (flags & WW_DECODE_TS_OPTIONAL)) {
        /* absent: "now" below */
      } else if (val.type != T_STRING) {
        return fail(&sc, WW_DLQ_BAD_TYPE, "field 'timestamp' is %s, expected an RFC 3339 string",
                    type_name(val.type));
      } else if (val.truncated || ww_ts_parse(val.s, val.len, &r->ts_ms) != 0) {
        return fail(&sc, WW_DLQ_BAD_TIMESTAMP,
                    "field 'timestamp' is '%.*s', expected RFC 3339 like "
                    "2026-11-25T19:34:44.123Z",
                    shown(&val, 40), val.s);
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
        return fail(&sc, WW_DLQ_BAD_TYPE, "field '%.*s' is %s, expected a whole number",
                    shown(&key, SIZE_MAX), key.s,
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
        memcpy(r->injected_anomaly, val.s, val.len);
        r->injected_anomaly[val.len] = '\0';
      } else if (val.type != T_NULL) {
        return fail(&sc, WW_DLQ_BAD_TYPE,
                    "field 'injected_anomaly' is %s, expected a string or "
                    "null",
                    type_name(val.type));
      }
    } else if (score && (kid == FIELD_SCORE || kid == FIELD_ZSCORE)) {
      int is_score = kid == FIELD_SCORE;
      if (val.type == T_NONFINITE)
        return fail(&sc, WW_DLQ_NOT_FINITE, "field '%.*s' is not finite", shown(&key, SIZE_MAX),
                    key.s);
      if (val.type != T_NUMBER)
        return fail(&sc, WW_DLQ_BAD_TYPE, "field '%.*s' is %s, expected a number",
                    shown(&key, SIZE_MAX), key.s, type_name(val.type));
      if (is_score) {
        score->anomaly_score = val.num;
        seen |= F_SCORE;
      } else {
        score->zscore = val.num;
        seen |= F_ZSCORE;
      }
    } else if (score && kid == FIELD_SEVERITY) {
      if (val.type != T_STRING || ww_severity_parse(val.s, val.len, &score->severity) != 0)
        return fail(&sc, WW_DLQ_BAD_TYPE, "field 'severity' must be normal, warning or critical");
      seen |= F_SEVERITY;
    } else if (!key.truncated && (sidx = ww_factory_sensor_find(fac, key.s, key.len)) >= 0) {
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
    return fail(&sc, WW_DLQ_MALFORMED_JSON, "expected ',' or '}' after field \"%.*s\"",
                shown(&key, SIZE_MAX), key.s);
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

static inline void out_raw(out_t *o, const char *s, size_t n) {
  size_t room = o->len < o->size ? o->size - o->len : 0;
  if (n <= room) /* (a literal's n is a constant here: the copy is inlined) */
    memcpy(o->buf + o->len, s, n);
  else
    memcpy(o->buf + o->len, s, room);
  o->len += n;
}

static void out_str(out_t *o, const char *s) {
  out_raw(o, s, strlen(s));
}

/* A string literal: its length is known, and its copy inlined. */
#define OUT_LIT(o, lit) out_raw(o, lit, sizeof(lit) - 1)

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

static void out_scaled(out_t *o, int64_t r, int micro);

static void out_int(out_t *o, int64_t v) {
  if (v > -(INT64_C(1) << 53) && v < (INT64_C(1) << 53)) {
    out_scaled(o, v, 0);
  } else {
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    out_raw(o, tmp, (size_t)n);
  }
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* Write the digits of \p u ending just before \p p, two at a time. @returns the first. */
static char *put_digits(char *p, uint64_t u) {
  while (u >= 100) {
    unsigned d = (unsigned)(u % 100);
    u /= 100;
    p -= 2;
    memcpy(p, digit_pairs + 2 * d, 2);
  }
  if (u >= 10) {
    p -= 2;
    memcpy(p, digit_pairs + 2 * u, 2);
  } else {
    *--p = (char)('0' + u);
  }
  return p;
}

/* Write the integer \p r (|r| < 2^53), divided by 10^6 when \p micro, trailing zeros dropped. */
static void out_scaled(out_t *o, int64_t r, int micro) {
  char tmp[40];
  char *p = tmp + 24, *q = tmp + 24; /* integer part backwards from q, fraction forwards */
  int neg = r < 0;
  uint64_t ux = neg ? (uint64_t)(-r) : (uint64_t)r;
  uint32_t f = 0;
  if (micro) {
    f = (uint32_t)(ux % 1000000);
    ux /= 1000000;
  }
  p = put_digits(p, ux);
  if (neg)
    *--p = '-';
  if (f) { /* six digits, two at a time, then the trailing zeros dropped */
    *q++ = '.';
    memcpy(q, digit_pairs + 2 * (f / 10000), 2);
    memcpy(q + 2, digit_pairs + 2 * (f / 100 % 100), 2);
    memcpy(q + 4, digit_pairs + 2 * (f % 100), 2);
    q += 6;
    while (q[-1] == '0')
      q--;
  }
  out_raw(o, p, (size_t)(q - p));
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
      out_scaled(o, (int64_t)r, 1);
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
  OUT_LIT(o, "{\"v\":1,\"production_line\":");
  out_json_string(o, ld->id);
  OUT_LIT(o, ",\"component_id\":");
  out_json_string(o, r->component_id);
  OUT_LIT(o, ",\"timestamp\":\"");
  out_raw(o, ts, ww_ts_format(r->ts_ms, ts, sizeof(ts)));
  OUT_LIT(o, "\",\"sequence_number\":");
  if (r->seq >= 0)
    out_int(o, r->seq);
  else
    OUT_LIT(o, "null");
  for (int s = 0; s < fac->n_sensors; s++) {
    if (!(r->present & (1u << s)))
      continue;
    OUT_LIT(o, ",\"");
    out_str(o, fac->sensors[s].name);
    OUT_LIT(o, "\":");
    out_double(o, r->values[s]);
  }
  OUT_LIT(o, ",\"injected_anomaly\":");
  if (r->injected_anomaly[0])
    out_json_string(o, r->injected_anomaly);
  else
    OUT_LIT(o, "null");
  OUT_LIT(o, ",\"episode_id\":");
  if (r->episode_id)
    out_int(o, r->episode_id);
  else
    OUT_LIT(o, "null");
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
  OUT_LIT(&o, ",\"anomaly_score\":");
  out_double(&o, round6(sc->anomaly_score));
  OUT_LIT(&o, ",\"severity\":\"");
  out_str(&o, ww_severity_name(sc->severity));
  OUT_LIT(&o, "\",\"model_version\":");
  out_int(&o, sc->model_version);
  OUT_LIT(&o, ",\"zscore\":");
  out_double(&o, round6(sc->zscore));
  out_raw(&o, "}", 1);
  return finish(&o);
}
