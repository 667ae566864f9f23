/* test_reading.c: the reading codec, round trips and every dead-letter reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/config.h"
#include "windwatch/reading.h"
#include "ww_test.h"

static const ww_factory_t *fac;

static ww_dlq_reason_t dec(const char *json, ww_reading_t *r, char *err) {
  return ww_reading_decode(fac, json, strlen(json), 0, r, err, 256);
}

static void test_original_body_decodes(void) {
  ww_reading_t r;
  char err[256];
  const char *body = "{\"production_line\":\"turbine-line-1\",\"component_id\":\"Blade\","
                     "\"temperature\":27.3,\"humidity\":48.2,\"sound_level\":66.1,"
                     "\"timestamp\":\"2026-01-01 00:00:00\"}";
  CHECK_INT_EQ(dec(body, &r, err), WW_DLQ_NONE);
  CHECK_INT_EQ(r.line_idx, 0);
  CHECK_INT_EQ(r.component_idx, 0);
  CHECK_DBL_NEAR(r.values[0], 27.3, 0);
  CHECK_DBL_NEAR(r.values[1], 48.2, 0);
  CHECK_DBL_NEAR(r.values[2], 66.1, 0);
  CHECK_INT_EQ(r.present, 7);
  CHECK_INT_EQ(r.ts_ms, 1767225600000LL);
  CHECK_INT_EQ(r.seq, -1);
  CHECK_STR_EQ(r.injected_anomaly, "");
}

static void test_round_trip(void) {
  ww_reading_t r, back;
  ww_score_t sc = {0.4321, WW_SEV_WARNING, 3, -2.5}, sc2;
  char buf[1024], err[256];
  size_t n;
  memset(&r, 0, sizeof(r));
  r.line_idx = 1;
  strcpy(r.component_id, "Gear \"box\"\\1");
  r.ts_ms = 1764099284123LL;
  r.seq = 42;
  r.values[0] = -12.25;
  r.values[1] = 0.1 + 0.2; /* not two decimals: must survive exactly */
  r.values[2] = 66;
  r.present = 7;
  strcpy(r.injected_anomaly, "spike");
  r.episode_id = 9;
  n = ww_reading_encode(fac, &r, buf, sizeof(buf));
  CHECK(n < sizeof(buf));
  CHECK_STR_CONTAINS(buf, "\"timestamp\":\"2025-11-25T19:34:44.123Z\"");
  CHECK_STR_CONTAINS(buf, "\"temperature\":-12.25");
  CHECK_STR_CONTAINS(buf, "\"sound_level\":66,");
  CHECK_INT_EQ(ww_reading_decode(fac, buf, n, 0, &back, err, sizeof(err)), WW_DLQ_NONE);
  CHECK_STR_EQ(back.component_id, r.component_id);
  CHECK_INT_EQ(back.ts_ms, r.ts_ms);
  CHECK_INT_EQ(back.seq, 42);
  CHECK(back.values[1] == r.values[1]);
  CHECK(back.values[0] == r.values[0]);
  CHECK_STR_EQ(back.injected_anomaly, "spike");
  CHECK_INT_EQ(back.episode_id, 9);
  CHECK_INT_EQ(back.component_idx, -1);

  n = ww_scored_encode(fac, &r, &sc, buf, sizeof(buf));
  CHECK(n < sizeof(buf));
  CHECK_INT_EQ(ww_scored_decode(fac, buf, n, &back, &sc2, err, sizeof(err)), WW_DLQ_NONE);
  CHECK_DBL_NEAR(sc2.anomaly_score, 0.4321, 0);
  CHECK_INT_EQ(sc2.severity, WW_SEV_WARNING);
  CHECK_INT_EQ(sc2.model_version, 3);
  CHECK_DBL_NEAR(sc2.zscore, -2.5, 0);
  /* A plain reading is not a scored one. */
  n = ww_reading_encode(fac, &r, buf, sizeof(buf));
  CHECK_INT_EQ(ww_scored_decode(fac, buf, n, &back, &sc2, err, sizeof(err)), WW_DLQ_MISSING_FIELD);
  /* Truncation reports the needed size, like snprintf. */
  CHECK_INT_EQ(ww_reading_encode(fac, &r, buf, 10), n);
  CHECK_INT_EQ(strlen(buf), 9);
}

static void test_dead_letter_reasons(void) {
  ww_reading_t r;
  char err[256];
  const char *head = "{\"production_line\":\"turbine-line-1\",\"component_id\":\"Blade\","
                     "\"timestamp\":\"2026-01-01T00:00:00Z\",";
  char buf[512];
  struct {
    const char *tail;
    ww_dlq_reason_t want;
    const char *say;
  } cases[] = {
      {"\"temperature\":20}", WW_DLQ_NONE, ""},
      {"\"temperature\":\"20\"}", WW_DLQ_BAD_TYPE, "temperature"},
      {"\"temperature\":NaN}", WW_DLQ_NOT_FINITE, "temperature"},
      {"\"temperature\":-Infinity}", WW_DLQ_NOT_FINITE, "temperature"},
      {"\"temperature\":1e999}", WW_DLQ_NOT_FINITE, "temperature"},
      {"\"temperature\":9000}", WW_DLQ_IMPOSSIBLE_VALUE, "physical"},
      {"\"humidity\":-1}", WW_DLQ_IMPOSSIBLE_VALUE, "humidity"},
      {"\"temperature\":20,}", WW_DLQ_MALFORMED_JSON, ""},
      {"\"temperature\":20", WW_DLQ_MALFORMED_JSON, ""},
      {"\"temperature\":20} x", WW_DLQ_MALFORMED_JSON, "trailing"},
      {"\"temperature\":01}", WW_DLQ_MALFORMED_JSON, ""},
      {"\"extra\":{\"a\":[1,2,{\"b\":null}]},\"temperature\":20}", WW_DLQ_NONE, ""},
      {"\"note\":\"\\ud83d\\ude00\",\"temperature\":20}", WW_DLQ_NONE, ""},
      {"\"note\":\"\\ud83d\",\"temperature\":20}", WW_DLQ_MALFORMED_JSON, "surrogate"},
      {"\"note\":\"a\\qb\",\"temperature\":20}", WW_DLQ_MALFORMED_JSON, "bad escape \\q"},
      {"\"sequence_number\":1.5,\"temperature\":20}", WW_DLQ_BAD_TYPE, "sequence_number"},
      {"\"other\":1}", WW_DLQ_MISSING_FIELD, "sensor"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ww_dlq_reason_t got;
    snprintf(buf, sizeof(buf), "%s%s", head, cases[i].tail);
    got = dec(buf, &r, err);
    if (got != cases[i].want)
      fprintf(stderr, "case %zu (%s): %s\n", i, cases[i].tail, err);
    CHECK_INT_EQ(got, cases[i].want);
    if (cases[i].want != WW_DLQ_NONE)
      CHECK_STR_CONTAINS(err, cases[i].say);
  }
  /* Every one-letter escape decodes to its byte. */
  CHECK_INT_EQ(dec("{\"production_line\":\"turbine-line-1\",\"component_id\":"
                   "\"q\\\"s\\\\l\\/b\\bf\\fn\\nr\\rt\\t\",\"timestamp\":\"2026-01-01T00:00:00Z\","
                   "\"temperature\":1}",
                   &r, err),
               WW_DLQ_NONE);
  CHECK_STR_EQ(r.component_id, "q\"s\\l/b\bf\fn\nr\rt\t");
  CHECK_INT_EQ(dec("", &r, err), WW_DLQ_MALFORMED_JSON);
  CHECK_INT_EQ(dec("[1]", &r, err), WW_DLQ_MALFORMED_JSON);
  CHECK_INT_EQ(dec("{\"component_id\":\"B\",\"timestamp\":\"2026-01-01T00:00:00Z\","
                   "\"temperature\":1}",
                   &r, err),
               WW_DLQ_MISSING_FIELD);
  CHECK_STR_CONTAINS(err, "production_line");
  CHECK_INT_EQ(dec("{\"production_line\":\"line-9\",\"component_id\":\"B\",\"timestamp\":"
                   "\"2026-01-01T00:00:00Z\",\"temperature\":1}",
                   &r, err),
               WW_DLQ_UNKNOWN_LINE);
  CHECK_STR_CONTAINS(err, "line-9");
  CHECK_INT_EQ(dec("{\"production_line\":\"turbine-line-1\",\"component_id\":\"B\","
                   "\"timestamp\":\"yesterday\",\"temperature\":1}",
                   &r, err),
               WW_DLQ_BAD_TIMESTAMP);
  CHECK_INT_EQ(dec("{\"production_line\":\"turbine-line-1\",\"component_id\":\"B\","
                   "\"temperature\":1}",
                   &r, err),
               WW_DLQ_MISSING_FIELD);
  CHECK_STR_CONTAINS(err, "timestamp");
  CHECK_STR_EQ(ww_dlq_reason_name(WW_DLQ_LATE), "late");
  CHECK_STR_EQ(ww_dlq_reason_name(WW_DLQ_MALFORMED_JSON), "malformed_json");
}

static void test_flags(void) {
  ww_reading_t r;
  char err[256];
  const char *noTs = "{\"production_line\":\"turbine-line-2\",\"component_id\":\"Gearbox\","
                     "\"temperature\":20,\"humidity\":50}";
  CHECK_INT_EQ(
      ww_reading_decode(fac, noTs, strlen(noTs), WW_DECODE_TS_OPTIONAL, &r, err, sizeof(err)),
      WW_DLQ_NONE);
  CHECK(r.ts_ms > 1700000000000LL);
  CHECK_INT_EQ(ww_reading_decode(fac, noTs, strlen(noTs),
                                 WW_DECODE_TS_OPTIONAL | WW_DECODE_ALL_SENSORS, &r, err,
                                 sizeof(err)),
               WW_DLQ_MISSING_FIELD);
  CHECK_STR_EQ(err, "missing required field: sound_level");
}

/* The decoder's number parser must give exactly strtod's double, and the
 * encoder's text must read back as the same double. */
static void test_numbers_exact(void) {
  ww_reading_t r;
  char err[256], json[512], out[1024];
  uint64_t x = 88172645463325252ULL;
  int bad_dec = 0, bad_enc = 0;
  for (int i = 0; i < 20000; i++) {
    char num[64];
    double want;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    switch (i % 4) {
    case 0: snprintf(num, sizeof(num), "%.2f", (double)(x % 25000) / 100.0 - 40); break;
    case 1: snprintf(num, sizeof(num), "%.*f", (int)(x % 9), (double)(x % 1000000) / 997.0); break;
    case 2: snprintf(num, sizeof(num), "%.17g", (double)(x % 100000) / 7919.0); break;
    default: snprintf(num, sizeof(num), "%lde-%d", (long)(x % 100000), (int)(x % 5)); break;
    }
    want = strtod(num, NULL);
    if (want < -50 || want > 190)
      continue;
    snprintf(json, sizeof(json),
             "{\"production_line\":\"turbine-line-1\",\"component_id\":"
             "\"Blade\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"temperature\":%s}",
             num);
    if (dec(json, &r, err) != WW_DLQ_NONE || r.values[0] != want) {
      if (bad_dec++ < 3)
        fprintf(stderr, "decoded %s as %.17g, strtod says %.17g\n", num, r.values[0], want);
      continue;
    }
    size_t n = ww_reading_encode(fac, &r, out, sizeof(out));
    ww_reading_t back;
    if (ww_reading_decode(fac, out, n, 0, &back, err, sizeof(err)) != WW_DLQ_NONE ||
        back.values[0] != want) {
      if (bad_enc++ < 3)
        fprintf(stderr, "re-encoded %s as %s\n", num, out);
    }
  }
  CHECK_INT_EQ(bad_dec, 0);
  CHECK_INT_EQ(bad_enc, 0);
}

static void test_severity(void) {
  const ww_sensor_def_t *t = &fac->sensors[0];
  CHECK_INT_EQ(ww_sensor_severity(t, 25), WW_SEV_NORMAL);
  CHECK_INT_EQ(ww_sensor_severity(t, 30), WW_SEV_NORMAL);
  CHECK_INT_EQ(ww_sensor_severity(t, 30.5), WW_SEV_WARNING);
  CHECK_INT_EQ(ww_sensor_severity(t, 40.5), WW_SEV_CRITICAL);
  CHECK_INT_EQ(ww_sensor_severity(t, 9.9), WW_SEV_CRITICAL);
  CHECK_STR_EQ(ww_severity_name(WW_SEV_CRITICAL), "critical");
}

/* Decode the first n bytes of s from an exact-size copy: a sanitized build
 * reports any read past the end. */
static ww_dlq_reason_t dec_exact(const char *s, size_t n, ww_reading_t *r, char *err) {
  char *copy = malloc(n ? n : 1);
  ww_dlq_reason_t got;
  if (!copy)
    abort();
  memcpy(copy, s, n);
  got = ww_reading_decode(fac, copy, n, 0, r, err, 256);
  free(copy);
  return got;
}

/* A reading whose component_id string (left open) holds \p plain then
 * \p rest, decoded from an exact-size copy. */
static ww_dlq_reason_t dec_component(const char *plain, const char *rest, ww_reading_t *r,
                                     char *err) {
  char buf[512];
  snprintf(buf, sizeof(buf),
           "{\"production_line\":\"turbine-line-1\",\"timestamp\":\"2026-01-01T00:00:00Z\","
           "\"temperature\":1,\"component_id\":\"%s%s",
           plain, rest);
  return dec_exact(buf, strlen(buf), r, err);
}

/* \p rest after \p plain closes the string and the object, and decodes to
 * \p decoded after \p plain. */
static void check_component(const char *plain, const char *rest, const char *decoded) {
  ww_reading_t r;
  char err[256], want[64];
  CHECK_INT_EQ(dec_component(plain, rest, &r, err), WW_DLQ_NONE);
  snprintf(want, sizeof(want), "%s%s", plain, decoded);
  CHECK_STR_EQ(r.component_id, want);
}

/* Strings are scanned sixteen bytes at a time, then eight: an escape, a raw
 * control byte, non-ASCII bytes and DEL, and the document's end, each after
 * 0 to 39 plain bytes, i.e. at every offset of both steps. */
static void test_string_offsets(void) {
  ww_reading_t r;
  char err[256], plain[48];
  for (int k = 0; k < 40; k++) {
    for (int i = 0; i < k; i++)
      plain[i] = (char)('A' + i % 26);
    plain[k] = '\0';
    check_component(plain, "\\tz\"}", "\tz");
    CHECK_INT_EQ(dec_component(plain, "\x01z\"}", &r, err), WW_DLQ_MALFORMED_JSON);
    CHECK_STR_CONTAINS(err, "control character");
    check_component(plain, "\xc3\xa9\x7f\"}", "\xc3\xa9\x7f");
    CHECK_INT_EQ(dec_component(plain, "", &r, err), WW_DLQ_MALFORMED_JSON);
  }
}

/* Strings without escapes are read in place, those with escapes decoded:
 * both must name fields and sensors alike, and error messages must show
 * the value alone, never the bytes after it. */
static void test_in_place_strings(void) {
  ww_reading_t r;
  char err[256], json[1024], id[300];
  /* Escaped field and sensor names are the same names. */
  CHECK_INT_EQ(dec("{\"production\\u005fline\":\"turbine-line-1\",\"component_id\":\"B\","
                   "\"\\u0074imestamp\":\"2026-01-01T00:00:00Z\",\"temperatur\\u0065\":21.5}",
                   &r, err),
               WW_DLQ_NONE);
  CHECK_INT_EQ(r.line_idx, 0);
  CHECK_INT_EQ(r.ts_ms, 1767225600000LL);
  CHECK(r.present == 1u && r.values[0] == 21.5);
  /* A bad timestamp's message shows it, and only it (at most 40 bytes). */
  CHECK_INT_EQ(dec("{\"production_line\":\"turbine-line-1\",\"component_id\":\"B\","
                   "\"timestamp\":\"soon\",\"temperature\":1}",
                   &r, err),
               WW_DLQ_BAD_TIMESTAMP);
  CHECK_STR_CONTAINS(err, "is 'soon', expected");
  CHECK_INT_EQ(dec("{\"production_line\":\"turbine-line-1\",\"component_id\":\"B\",\"temperature\":"
                   "1,\"timestamp\":\"2026-01-01T00:00:00Z and then some more text\"}",
                   &r, err),
               WW_DLQ_BAD_TIMESTAMP);
  CHECK_STR_CONTAINS(err, "is '2026-01-01T00:00:00Z and then some more ', expected");
  /* A bad key's message shows the key alone. */
  CHECK_INT_EQ(dec("{\"production_line\":\"turbine-line-1\",\"episode_id\":1.5}", &r, err),
               WW_DLQ_BAD_TYPE);
  CHECK_STR_CONTAINS(err, "field 'episode_id' is a fraction");
  /* Line ids of 255 and 256 bytes: neither is in the config, and the
   * message shows the first 64 bytes either way. */
  for (int len = 255; len <= 256; len++) {
    memset(id, 'x', (size_t)len);
    id[len] = '\0';
    snprintf(json, sizeof(json),
             "{\"production_line\":\"%s\",\"component_id\":\"B\","
             "\"timestamp\":\"2026-01-01T00:00:00Z\",\"temperature\":1}",
             id);
    CHECK_INT_EQ(dec(json, &r, err), WW_DLQ_UNKNOWN_LINE);
    id[64] = '\0';
    CHECK_STR_CONTAINS(err, id);
    CHECK(strstr(err, "xxxxx'") != NULL);
  }
}

int main(void) {
  char err[256];
  char *argv[] = {"x", NULL};
  ww_config_t *cfg =
      ww_config_load_yaml(WW_ROLE_PROCESSOR, NULL, 0, NULL, 1, argv, err, sizeof(err));
  if (!cfg) {
    fprintf(stderr, "config: %s\n", err);
    return 1;
  }
  fac = ww_config_factory(cfg);
  RUN(test_original_body_decodes);
  RUN(test_round_trip);
  RUN(test_dead_letter_reasons);
  RUN(test_flags);
  RUN(test_numbers_exact);
  RUN(test_severity);
  RUN(test_string_offsets);
  RUN(test_in_place_strings);
  ww_config_destroy(cfg);
  return WW_TEST_RESULT();
}
