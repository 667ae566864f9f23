/* test_processor_engine.c: the engine end to end with an in-memory output. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "processor.h"
#include "windwatch/config.h"
#include "windwatch/timeutil.h"
#include "ww_test.h"

#define MAXMSG 256

typedef struct msg_s {
  ww_proc_out_t out;
  char key[64];
  char val[4096];
  char hdrs[512]; /* "name=value;" ... */
} msg_t;

typedef struct cap_s {
  int n;
  msg_t m[MAXMSG];
  int per[WW_OUT__COUNT];
  int alert_events;           /* alert_event hook calls */
  int alert_events_unmatched; /* ... whose JSON was not the next alert produced */
  char summary[512];          /* the last one's summary */
  char json[4096];            /* the last one's JSON */
} cap_t;

static void cap_alert_event(void *opaque, const char *json, size_t len, const char *summary) {
  cap_t *c = opaque;
  c->alert_events++;
  snprintf(c->json, sizeof(c->json), "%.*s", (int)len, json);
  snprintf(c->summary, sizeof(c->summary), "%s", summary);
}

static int cap_produce(void *opaque, ww_proc_out_t out, const char *key, size_t key_len,
                       const char *val, size_t len, const ww_proc_header_t *hdrs, int n_hdrs) {
  cap_t *c = opaque;
  msg_t *m;
  c->per[out]++;
  if (c->n >= MAXMSG)
    return 0;
  m = &c->m[c->n++];
  m->out = out;
  snprintf(m->key, sizeof(m->key), "%.*s", (int)key_len, key ? key : "");
  snprintf(m->val, sizeof(m->val), "%.*s", (int)len, val);
  if (out == WW_OUT_ALERTS) { /* the hook saw this event just before */
    if (strcmp(c->json, m->val) != 0)
      c->alert_events_unmatched++;
  }
  m->hdrs[0] = '\0';
  for (int i = 0; i < n_hdrs; i++) {
    size_t o = strlen(m->hdrs);
    snprintf(m->hdrs + o, sizeof(m->hdrs) - o, "%s=%.*s;", hdrs[i].name, (int)hdrs[i].len,
             hdrs[i].value);
  }
  return 0;
}

static const msg_t *nth(const cap_t *c, ww_proc_out_t out, int k) {
  for (int i = 0; i < c->n; i++)
    if (c->m[i].out == out && k-- == 0)
      return &c->m[i];
  return NULL;
}

static int64_t offset_counter;

static void feed(ww_proc_t *proc, const char *line, const char *comp, int64_t ts, double t,
                 double h, double s, const char *injected, int64_t episode) {
  char buf[1024], tsb[WW_TS_BUFSZ], inj[64], epi[32];
  ww_proc_src_t src = {"sensor-data", 0, offset_counter++, line, strlen(line)};
  int n;
  ww_ts_format(ts, tsb, sizeof(tsb));
  if (injected)
    snprintf(inj, sizeof(inj), "\"%s\"", injected);
  else
    snprintf(inj, sizeof(inj), "null");
  if (episode)
    snprintf(epi, sizeof(epi), "%" PRId64, episode);
  else
    snprintf(epi, sizeof(epi), "null");
  n = snprintf(buf, sizeof(buf),
               "{\"v\":1,\"production_line\":\"%s\",\"component_id\":\"%s\",\"timestamp\":\"%s\","
               "\"sequence_number\":1,\"temperature\":%.2f,\"humidity\":%.2f,\"sound_level\":%.2f,"
               "\"injected_anomaly\":%s,\"episode_id\":%s}",
               line, comp, tsb, t, h, s, inj, epi);
  ww_proc_message(proc, buf, (size_t)n, &src);
}

/* Four normal readings of turbine-line-1/Blade from t0, a second apart:
 * temperature 20, 22, 24, 26 (mean 23, std 2.2361). */
static void feed_normal4(ww_proc_t *proc, int64_t t0) {
  for (int i = 0; i < 4; i++)
    feed(proc, "turbine-line-1", "Blade", t0 + i * 1000, 20 + 2 * i, 50, 60, NULL, 0);
}

/* Injected spike episode 7 on Blade at t0 + 5 s and + 6 s: 45 and 46 degrees
 * (over the critical 40), so it opens an alert. */
static void feed_spike7(ww_proc_t *proc, int64_t t0) {
  feed(proc, "turbine-line-1", "Blade", t0 + 5000, 45, 50, 60, "spike", 7);
  feed(proc, "turbine-line-1", "Blade", t0 + 6000, 46, 50, 60, "spike", 7);
}

/* What the Kafka side does after an aborted transaction: the engine takes
 * back the work since the last commit, then the lines are reset. */
static void rewind_to_commit(ww_proc_t *proc) {
  ww_proc_rewound(proc);
  ww_proc_revoke(proc, 0);
}

static const ww_factory_t *factory(ww_config_t **cfgp) {
  char err[256];
  char *argv[] = {"x", NULL};
  *cfgp = ww_config_load_yaml(WW_ROLE_PROCESSOR, NULL, 0, NULL, 1, argv, err, sizeof(err));
  if (!*cfgp) {
    fprintf(stderr, "config: %s\n", err);
    return NULL;
  }
  return ww_config_factory(*cfgp);
}

/* An engine on count windows of 4 readings, alerts opening after 2
 * anomalous readings and resolving after 3 normal ones, rules only, its
 * outputs captured in \p c; \p grade as ww_proc_conf_t.grade.
 * @returns it, or NULL (checked; \p cfgp freed). */
static ww_proc_t *rules_proc(cap_t *c, ww_config_t **cfgp, int grade) {
  const ww_factory_t *fac = factory(cfgp);
  ww_proc_conf_t pc;
  ww_proc_output_t out = {cap_produce, c, NULL, cap_alert_event, NULL};
  ww_proc_t *proc;
  char err[256];
  CHECK(fac != NULL);
  if (!fac)
    return NULL;
  memset(c, 0, sizeof(*c));
  ww_proc_conf_defaults(&pc);
  pc.window_type = WW_WINDOW_COUNT;
  pc.window_size = 4;
  pc.alert_min_count = 2;
  pc.alert_clear_count = 3;
  pc.stuck_count = 0;      /* humidity and sound are constant here */
  pc.model.train_size = 0; /* rules only; the model has its own test */
  pc.grade = grade;
  proc = ww_proc_new(fac, &pc, &out, err, sizeof(err));
  CHECK(proc != NULL);
  if (!proc)
    ww_config_destroy(*cfgp);
  return proc;
}

static void test_count_windows_and_alerts(void) {
  static cap_t c;
  ww_config_t *cfg;
  ww_proc_counters_t cnt;
  ww_proc_t *proc = rules_proc(&c, &cfg, 1);
  char summary[2048];
  const msg_t *m;
  int64_t t0 = 1700000000000;
  if (!proc)
    return;
  /* 4 normal readings: one window; values 20, 22, 24, 26 -> mean 23 */
  feed_normal4(proc, t0);
  CHECK_INT_EQ(c.per[WW_OUT_SCORED], 4);
  CHECK_INT_EQ(c.per[WW_OUT_STATS], 1);
  m = nth(&c, WW_OUT_STATS, 0);
  CHECK(m != NULL);
  if (m) {
    CHECK_STR_EQ(m->key, "turbine-line-1");
    CHECK_STR_CONTAINS(m->val, "\"window_type\":\"count\"");
    CHECK_STR_CONTAINS(m->val, "\"count\":4,\"anomalous\":0");
    CHECK_STR_CONTAINS(m->val, "\"temperature\":{\"count\":4,\"mean\":23.0000,\"std\":2.2361,"
                               "\"min\":20.0000,\"max\":26.0000,\"p50\":23.0000,\"p95\":25.7000");
    CHECK_STR_CONTAINS(m->val, "\"window_start\":\"2023-11-14T22:13:20.000Z\"");
    /* No model configured: version 0 and nothing gathering. */
    CHECK_STR_CONTAINS(m->val, "},\"model_version\":0}");
    CHECK(strstr(m->val, "\"training\"") == NULL);
  }
  m = nth(&c, WW_OUT_SCORED, 0);
  if (m) {
    CHECK_STR_CONTAINS(m->val, "\"anomaly_score\"");
    CHECK_STR_CONTAINS(m->val, "\"severity\":\"normal\"");
  }
  /* Critical temperature (45 > max 40) on one component: a critical reading
   * opens an alert at once. */
  feed(proc, "turbine-line-1", "Blade", t0 + 5000, 45, 50, 60, "spike", 7);
  CHECK_INT_EQ(c.per[WW_OUT_ALERTS], 1);
  /* z-score against the previous window: |45-23|/2.236 = 9.8 */
  m = nth(&c, WW_OUT_SCORED, 4);
  if (m) {
    CHECK_STR_CONTAINS(m->val, "\"severity\":\"critical\"");
    CHECK_STR_CONTAINS(m->val, "\"zscore\":9.8");
  }
  feed(proc, "turbine-line-1", "Blade", t0 + 6000, 46, 50, 60, "spike", 7);
  CHECK_INT_EQ(c.per[WW_OUT_ALERTS], 1);
  /* The console's line came with the event, without reading the JSON back. */
  CHECK_INT_EQ(c.alert_events, 1);
  CHECK_STR_EQ(c.summary, "turbine-line-1-1700000005000-1 opened turbine-line-1/Blade severity "
                          "critical type threshold max_score 0.897 readings 1");
  CHECK_STR_CONTAINS(c.json, "\"max_score\":0.8970,\"readings\":1,");
  m = nth(&c, WW_OUT_ALERTS, 0);
  if (m) {
    CHECK_STR_CONTAINS(m->val, "\"alert_id\":\"turbine-line-1-1700000005000-1\"");
    CHECK_STR_CONTAINS(m->val, "\"event\":\"opened\"");
    CHECK_STR_CONTAINS(m->val, "\"component_id\":\"Blade\"");
    CHECK_STR_CONTAINS(m->val, "\"anomaly_type\":\"threshold\"");
    CHECK_STR_CONTAINS(m->val, "\"severity\":\"critical\"");
  }
  /* another component's normal reading does not resolve Blade's alert */
  feed(proc, "turbine-line-1", "Curing Oven", t0 + 7000, 23, 50, 60, NULL, 0);
  CHECK_INT_EQ(c.per[WW_OUT_ALERTS], 1);
  /* three normal Blade readings resolve it (clear count 3); the first one
   * completes window 2: B45 B46 CO B24, two of them anomalous */
  for (int i = 0; i < 3; i++)
    feed(proc, "turbine-line-1", "Blade", t0 + 8000 + i * 1000, 24, 50, 60, NULL, 0);
  CHECK_INT_EQ(c.per[WW_OUT_STATS], 1 + 1);
  m = nth(&c, WW_OUT_STATS, 1);
  if (m)
    CHECK_STR_CONTAINS(m->val, "\"count\":4,\"anomalous\":2");
  CHECK_INT_EQ(c.per[WW_OUT_ALERTS], 2);
  CHECK_INT_EQ(c.alert_events, 2);
  CHECK_INT_EQ(c.alert_events_unmatched, 0);
  CHECK(strncmp(c.summary, "turbine-line-1-1700000005000-1 resolved turbine-line-1/Blade ", 61) ==
        0);
  m = nth(&c, WW_OUT_ALERTS, 1);
  if (m) {
    CHECK_STR_CONTAINS(m->val, "\"alert_id\":\"turbine-line-1-1700000005000-1\"");
    CHECK_STR_CONTAINS(m->val, "\"event\":\"resolved\",\"state\":\"resolved\"");
    CHECK_STR_CONTAINS(m->val, "\"resolved_at\":\"2023-11-14T22:13:30.000Z\"");
  }
  for (int i = 0; i < 2; i++)
    feed(proc, "turbine-line-1", "Curing Oven", t0 + 11000 + i, 23, 50, 60, NULL, 0);

  /* bad input: dead letters with the original bytes and headers */
  {
    ww_proc_src_t src = {"sensor-data", 2, 41, NULL, 0};
    const char *bad = "{not json";
    ww_proc_message(proc, bad, strlen(bad), &src);
    m = nth(&c, WW_OUT_DLQ, 0);
    CHECK(m != NULL);
    if (m) {
      CHECK_STR_EQ(m->val, bad);
      CHECK_STR_CONTAINS(m->hdrs, "reason=malformed_json;");
      CHECK_STR_CONTAINS(m->hdrs, "source_topic=sensor-data;source_partition=2;source_offset=41;");
    }
  }
  feed(proc, "no-such-line", "Blade", t0, 20, 50, 60, NULL, 0);
  m = nth(&c, WW_OUT_DLQ, 1);
  if (m)
    CHECK_STR_CONTAINS(m->hdrs, "reason=unknown_line;");

  ww_proc_finish(proc); /* 12 readings: no partial window left */
  ww_proc_counters(proc, &cnt);
  CHECK_INT_EQ(cnt.readings, 12);
  CHECK_INT_EQ(cnt.windows, 3);
  CHECK_INT_EQ(cnt.alerts, 1);
  CHECK_INT_EQ(cnt.alert_events, 2);
  CHECK_INT_EQ(cnt.dead_letters, 2);
  CHECK_INT_EQ(cnt.produce_errors, 0);
  CHECK(ww_proc_summary(proc, summary, sizeof(summary)) < sizeof(summary));
  CHECK_STR_CONTAINS(summary, "\"readings\":12,\"windows\":3,\"alerts\":1");
  CHECK_STR_CONTAINS(summary,
                     "\"dead_letters\":2,\"dead_letters_by_reason\":{\"malformed_json\":1");
  /* ground truth: one spike episode, detected by the one alert */
  CHECK_STR_CONTAINS(summary,
                     "\"quality\":{\"episodes\":1,\"detected\":1,\"alerts\":1,"
                     "\"true_alerts\":1,\"precision\":1.0000,\"recall\":1.0000,\"f1\":1.0000");
  CHECK_STR_CONTAINS(summary, "\"spike\":{\"episodes\":1,\"detected\":1");
  ww_proc_destroy(proc);
  ww_config_destroy(cfg);
}

static void test_stuck_and_model(void) {
  static cap_t c;
  ww_config_t *cfg;
  const ww_factory_t *fac = factory(&cfg);
  ww_proc_conf_t pc;
  ww_proc_output_t out = {cap_produce, &c, NULL, NULL, NULL};
  ww_proc_counters_t cnt;
  ww_proc_t *proc;
  char err[256];
  const msg_t *m;
  int64_t t0 = 1700000000000;
  uint64_t s = 99;
  char models_dir[] = "/tmp/ww-test-models.XXXXXX", path[256];
  if (!fac) {
    CHECK(fac != NULL);
    return;
  }
  memset(&c, 0, sizeof(c));
  ww_proc_conf_defaults(&pc);
  pc.window_type = WW_WINDOW_COUNT;
  pc.window_size = 30;
  pc.model.train_size = 64;
  pc.model.n_trees = 50;
  pc.model.max_samples = 64;
  if (!mkdtemp(models_dir)) {
    CHECK(0);
    ww_config_destroy(cfg);
    return;
  }
  pc.models_dir = models_dir;
  proc = ww_proc_new(fac, &pc, &out, err, sizeof(err));
  if (!proc) {
    CHECK(proc != NULL);
    ww_config_destroy(cfg);
    return;
  }
  /* 120 noisy normal readings: four windows; from the first window on the
   * readings have a baseline, and 64 of those train the model. */
  for (int i = 0; i < 120; i++) {
    double u[3];
    for (int k = 0; k < 3; k++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      u[k] = (double)(s >> 11) * 0x1.0p-53 - 0.5;
    }
    feed(proc, "turbine-line-2", "Gearbox", t0 + i * 1000, 25 + u[0], 50 + 2 * u[1], 65 + u[2],
         NULL, 0);
  }
  ww_proc_counters(proc, &cnt);
  CHECK_INT_EQ(cnt.models, 1);
  CHECK_INT_EQ(c.per[WW_OUT_MODELS], 1);
  /* Windows of 30 readings: the first closes before any reading has a
   * baseline to train on, the second while the first version gathers its
   * 64 readings, the fourth after it is trained. */
  CHECK_INT_EQ(c.per[WW_OUT_STATS], 4);
  m = nth(&c, WW_OUT_STATS, 0);
  if (m)
    CHECK_STR_CONTAINS(m->val,
                       "},\"model_version\":0,\"training\":{\"readings\":0,\"needed\":64}}");
  m = nth(&c, WW_OUT_STATS, 1);
  if (m) {
    const char *t = strstr(m->val, "\"model_version\":0,\"training\":{\"readings\":");
    int got = -1;
    CHECK(t != NULL);
    if (t)
      got = atoi(t + strlen("\"model_version\":0,\"training\":{\"readings\":"));
    CHECK(got > 0 && got < 64);
    CHECK_STR_CONTAINS(m->val, ",\"needed\":64}}");
  }
  m = nth(&c, WW_OUT_STATS, 3);
  if (m) {
    CHECK_STR_CONTAINS(m->val, "},\"model_version\":1}");
    CHECK(strstr(m->val, "\"training\"") == NULL);
  }
  {
    ww_model_state_t ms = {-1, -1, -1};
    CHECK_INT_EQ(ww_proc_line_model(proc, 1, &ms), 1); /* turbine-line-2 */
    CHECK_INT_EQ(ms.version, 1);
    CHECK_INT_EQ(ms.needed, 0);
    CHECK_INT_EQ(ww_proc_line_model(proc, 0, &ms), 0); /* no reading of turbine-line-1 */
  }
  m = nth(&c, WW_OUT_MODELS, 0);
  if (m) {
    CHECK_STR_EQ(m->key, "turbine-line-2");
    CHECK_STR_CONTAINS(m->val, "\"model_type\":\"IsolationForest\",\"version\":1,");
    CHECK_STR_CONTAINS(m->val, "\"samples\":64,\"n_estimators\":50,\"max_samples\":64,");
    CHECK_STR_CONTAINS(m->val, "\"features\":[\"temperature_z\",\"temperature_zcur\"");
    CHECK_STR_CONTAINS(m->val, "\"forest\":{\"n_features\":6,");
  }
  m = nth(&c, WW_OUT_SCORED, 119);
  if (m)
    CHECK_STR_CONTAINS(m->val, "\"model_version\":1");
  /* Normal readings mostly score normal with thresholds from the training scores. */
  CHECK(cnt.anomalous <= 3);
  /* A stuck humidity: the same value again and again. Three repeats make it
   * stuck (the fourth identical reading), two stuck readings open an alert. */
  for (int i = 0; i < 5; i++)
    feed(proc, "turbine-line-2", "Gearbox", t0 + (130 + i) * 1000, 25.1 + 0.01 * i, 50.37,
         65 + 0.02 * i, "stuck", 3);
  m = NULL;
  for (int k = 0; k < c.per[WW_OUT_ALERTS]; k++)
    if (nth(&c, WW_OUT_ALERTS, k) && strstr(nth(&c, WW_OUT_ALERTS, k)->val, "\"stuck\""))
      m = nth(&c, WW_OUT_ALERTS, k);
  CHECK(m != NULL);
  if (m) {
    CHECK_STR_CONTAINS(m->val, "\"event\":\"opened\"");
    CHECK_STR_CONTAINS(m->val, "\"sensors\":[\"humidity\"]");
    CHECK_STR_CONTAINS(m->val, "\"opened_at\":\"2023-11-14T22:15:33.000Z\"");
  }
  ww_proc_destroy(proc);

  /* The model file written to --models-dir starts a new engine scoring at once. */
  snprintf(path, sizeof(path), "%s/turbine-line-2-v1.json", models_dir);
  memset(&c, 0, sizeof(c));
  proc = ww_proc_new(fac, &pc, &out, err, sizeof(err));
  CHECK(proc != NULL);
  if (proc) {
    CHECK_INT_EQ(ww_proc_load_model(proc, path, err, sizeof(err)), 0);
    /* It scores as soon as the first window gives the readings a baseline. */
    for (int i = 0; i < 31; i++)
      feed(proc, "turbine-line-2", "Gearbox", t0 + i * 1000, 25 + 0.1 * (i % 3), 50 + 0.1 * (i % 5),
           65 + 0.1 * (i % 7), NULL, 0);
    m = nth(&c, WW_OUT_SCORED, 29);
    if (m)
      CHECK_STR_CONTAINS(m->val, "\"model_version\":0");
    m = nth(&c, WW_OUT_SCORED, 30);
    if (m)
      CHECK_STR_CONTAINS(m->val, "\"model_version\":1");
    CHECK_INT_EQ(c.per[WW_OUT_MODELS], 0); /* loaded, not trained */
    CHECK_INT_EQ(ww_proc_load_model(proc, "/nonexistent/model.json", err, sizeof(err)), -1);
    CHECK_STR_CONTAINS(err, "/nonexistent/model.json");
    ww_proc_destroy(proc);
  }
  remove(path);
  rmdir(models_dir);
  ww_config_destroy(cfg);
}

static void test_time_windows_late(void) {
  static cap_t c;
  ww_config_t *cfg;
  const ww_factory_t *fac = factory(&cfg);
  ww_proc_conf_t pc;
  ww_proc_output_t out = {cap_produce, &c, NULL, NULL, NULL};
  ww_proc_counters_t cnt;
  ww_proc_t *proc;
  char err[256];
  const msg_t *m;
  int64_t t0 = 1700000000000;
  if (!fac) {
    CHECK(fac != NULL);
    return;
  }
  memset(&c, 0, sizeof(c));
  ww_proc_conf_defaults(&pc);
  pc.window_type = WW_WINDOW_TIME;
  pc.window_size = 10;
  pc.allowed_lateness_ms = 2000;
  proc = ww_proc_new(fac, &pc, &out, err, sizeof(err));
  if (!proc) {
    CHECK(proc != NULL);
    ww_config_destroy(cfg);
    return;
  }
  feed(proc, "turbine-line-2", "Gearbox", t0 + 1000, 25, 50, 60, NULL, 0);
  feed(proc, "turbine-line-2", "Gearbox", t0 + 9000, 26, 50, 60, NULL, 0);
  feed(proc, "turbine-line-2", "Gearbox", t0 + 11000, 27, 50, 60, NULL, 0); /* wm 9 s */
  feed(proc, "turbine-line-2", "Gearbox", t0 + 8000, 28, 50, 60, NULL, 0);  /* late */
  feed(proc, "turbine-line-1", "Blade", t0 + 100, 28, 50, 60, NULL, 0);     /* other line: fine */
  CHECK_INT_EQ(c.per[WW_OUT_DLQ], 1);
  m = nth(&c, WW_OUT_DLQ, 0);
  if (m) {
    CHECK_STR_CONTAINS(m->hdrs, "reason=late;");
    CHECK_STR_CONTAINS(m->hdrs, "1000 ms behind the watermark");
  }
  CHECK_INT_EQ(c.per[WW_OUT_STATS], 0);
  feed(proc, "turbine-line-2", "Gearbox", t0 + 12500, 27, 50, 60, NULL, 0); /* wm 10.5 s */
  CHECK_INT_EQ(c.per[WW_OUT_STATS], 1);
  m = nth(&c, WW_OUT_STATS, 0);
  if (m) {
    CHECK_STR_CONTAINS(m->val, "\"production_line\":\"turbine-line-2\",\"window_type\":\"time\"");
    CHECK_STR_CONTAINS(m->val, "\"window_start\":\"2023-11-14T22:13:20.000Z\","
                               "\"window_end\":\"2023-11-14T22:13:30.000Z\",\"count\":2");
    CHECK_STR_CONTAINS(m->val, "\"temperature\":{\"count\":2,\"mean\":25.5000");
  }
  ww_proc_counters(proc, &cnt);
  CHECK_INT_EQ(cnt.dlq_by_reason[WW_DLQ_LATE], 1);
  CHECK_INT_EQ(cnt.readings, 5);
  ww_proc_destroy(proc);
  ww_config_destroy(cfg);
}

/* Open alerts carried over to a processor that starts with no state: the
 * replay of the alerts topic's events leaves Blade's alert open, the new
 * processor resolves it under the same alert_id; a line that is already live
 * keeps its own state; a later replay that resolves a carried alert clears it. */
static void test_carry_over(void) {
  static cap_t a, b;
  ww_config_t *cfg;
  const ww_factory_t *fac = factory(&cfg);
  ww_proc_conf_t pc;
  ww_proc_output_t out_a = {cap_produce, &a, NULL, NULL, NULL},
                   out_b = {cap_produce, &b, NULL, NULL, NULL};
  ww_proc_t *pa, *pb;
  ww_proc_carry_t *carry;
  char err[256], opened[4096];
  const msg_t *m;
  int64_t t0 = 1700000000000;
  CHECK(fac != NULL);
  if (!fac)
    return;
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  ww_proc_conf_defaults(&pc);
  pc.window_type = WW_WINDOW_COUNT;
  pc.window_size = 4;
  pc.alert_min_count = 2;
  pc.alert_clear_count = 3;
  pc.stuck_count = 0;
  pc.model.train_size = 0;
  pa = ww_proc_new(fac, &pc, &out_a, err, sizeof(err));
  pb = ww_proc_new(fac, &pc, &out_b, err, sizeof(err));
  CHECK(pa != NULL && pb != NULL);
  if (!pa || !pb)
    goto done;
  feed_normal4(pa, t0);
  feed(pa, "turbine-line-1", "Blade", t0 + 5000, 45, 50, 60, NULL, 0);
  CHECK_INT_EQ(a.per[WW_OUT_ALERTS], 1);
  m = nth(&a, WW_OUT_ALERTS, 0);
  CHECK(m != NULL);
  if (!m)
    goto done;
  snprintf(opened, sizeof(opened), "%s", m->val);

  /* The replay: noise the carry must skip, then the open alert. */
  carry = ww_proc_carry_begin(pb);
  CHECK(carry != NULL);
  if (!carry)
    goto done;
  CHECK_INT_EQ(ww_proc_carry_event(carry, "{not json", 9), 0);
  {
    const char *other =
        "{\"alert_id\":\"x-1\",\"state\":\"open\",\"production_line\":\"no-such-line\","
        "\"component_id\":\"Blade\",\"severity\":\"warning\"}";
    const char *bad =
        "{\"alert_id\":\"y-1\",\"state\":\"open\",\"production_line\":\"turbine-line-2\","
        "\"component_id\":\"Gearbox\",\"severity\":\"warning\"}"; /* no times */
    CHECK_INT_EQ(ww_proc_carry_event(carry, other, strlen(other)), 0);
    CHECK_INT_EQ(ww_proc_carry_event(carry, bad, strlen(bad)), -1);
  }
  CHECK_INT_EQ(ww_proc_carry_event(carry, opened, strlen(opened)), 0);
  CHECK_INT_EQ(ww_proc_carry_end(carry), 1);

  /* Three normal readings resolve the carried alert: same alert_id, its figures kept. */
  for (int i = 0; i < 3; i++)
    feed(pb, "turbine-line-1", "Blade", t0 + 8000 + i * 1000, 24, 50, 60, NULL, 0);
  CHECK_INT_EQ(b.per[WW_OUT_ALERTS], 1);
  m = nth(&b, WW_OUT_ALERTS, 0);
  if (m) {
    CHECK_STR_CONTAINS(m->val, "\"alert_id\":\"turbine-line-1-1700000005000-1\"");
    CHECK_STR_CONTAINS(m->val, "\"event\":\"resolved\"");
    CHECK_STR_CONTAINS(m->val, "\"opened_at\":\"2023-11-14T22:13:25.000Z\"");
    CHECK_STR_CONTAINS(m->val, "\"severity\":\"critical\",\"anomaly_type\":\"threshold\"");
    CHECK_STR_CONTAINS(m->val, "\"sensors\":[\"temperature\"]");
    CHECK_STR_CONTAINS(m->val, "\"details\":{\"temperature\":45.00");
  }

  /* turbine-line-1 is live in pb now: a replay does not touch it. */
  carry = ww_proc_carry_begin(pb);
  CHECK(carry != NULL);
  if (carry) {
    CHECK_INT_EQ(ww_proc_carry_event(carry, opened, strlen(opened)), 0);
    CHECK_INT_EQ(ww_proc_carry_end(carry), 0);
  }
  for (int i = 0; i < 3; i++)
    feed(pb, "turbine-line-1", "Blade", t0 + 11000 + i * 1000, 24, 50, 60, NULL, 0);
  CHECK_INT_EQ(b.per[WW_OUT_ALERTS], 1);
  ww_proc_destroy(pb);

  /* A fresh processor given the alert, then a replay where it is resolved:
   * the second replay takes it back, and normal readings say nothing. */
  memset(&b, 0, sizeof(b));
  pb = ww_proc_new(fac, &pc, &out_b, err, sizeof(err));
  CHECK(pb != NULL);
  if (!pb)
    goto done;
  carry = ww_proc_carry_begin(pb);
  if (carry) {
    ww_proc_carry_event(carry, opened, strlen(opened));
    CHECK_INT_EQ(ww_proc_carry_end(carry), 1);
  }
  carry = ww_proc_carry_begin(pb); /* the same again: nothing new to carry */
  if (carry) {
    ww_proc_carry_event(carry, opened, strlen(opened));
    CHECK_INT_EQ(ww_proc_carry_end(carry), 0);
  }
  carry = ww_proc_carry_begin(pb);
  if (carry) {
    char res[4096];
    char *st;
    snprintf(res, sizeof(res), "%s", opened);
    st = strstr(res, "\"state\":\"open\"");
    CHECK(st != NULL);
    if (st) {
      /* "open" -> "resolved" */
      char tail[4096];
      snprintf(tail, sizeof(tail), "%s", st + strlen("\"state\":\"open\""));
      snprintf(st, sizeof(res) - (size_t)(st - res), "\"state\":\"resolved\"%s", tail);
    }
    ww_proc_carry_event(carry, opened, strlen(opened));
    ww_proc_carry_event(carry, res, strlen(res));
    CHECK_INT_EQ(ww_proc_carry_end(carry), 0);
  }
  for (int i = 0; i < 3; i++)
    feed(pb, "turbine-line-1", "Blade", t0 + 8000 + i * 1000, 24, 50, 60, NULL, 0);
  CHECK_INT_EQ(b.per[WW_OUT_ALERTS], 0);
done:
  ww_proc_destroy(pa);
  ww_proc_destroy(pb);
  ww_config_destroy(cfg);
}

/* A rewind (aborted transaction) takes the work since the last commit back
 * from the summary, which reports what was committed: the readings done
 * again count once, and so do the alert and the ground-truth episode. */
static void test_summary_after_rewind(void) {
  static cap_t c;
  ww_config_t *cfg;
  ww_proc_counters_t cnt;
  ww_proc_t *proc = rules_proc(&c, &cfg, 1);
  char summary[2048];
  int64_t t0 = 1700000000000;
  if (!proc)
    return;
  feed_normal4(proc, t0);
  ww_proc_committed(proc);
  for (int pass = 0; pass < 2; pass++) {
    /* a spike episode (opens an alert) and three normal readings (resolve it) */
    feed_spike7(proc, t0);
    for (int i = 0; i < 3; i++)
      feed(proc, "turbine-line-1", "Blade", t0 + 8000 + i * 1000, 24, 50, 60, NULL, 0);
    if (pass == 0)
      rewind_to_commit(proc);
  }
  ww_proc_finish(proc);
  ww_proc_committed(proc);
  ww_proc_counters(proc, &cnt); /* the work done, rewound part included */
  CHECK_INT_EQ(cnt.readings, 14);
  CHECK_INT_EQ(cnt.alerts, 2);
  ww_proc_committed_counters(proc, &cnt);
  CHECK_INT_EQ(cnt.readings, 9);
  CHECK_INT_EQ(cnt.alerts, 1);
  CHECK_INT_EQ(cnt.alert_events, 2);
  CHECK(ww_proc_summary(proc, summary, sizeof(summary)) < sizeof(summary));
  CHECK_STR_CONTAINS(summary, "{\"messages\":9,\"readings\":9,");
  CHECK_STR_CONTAINS(summary, "\"alerts\":1,\"alert_events\":2,");
  CHECK_STR_CONTAINS(summary, "\"quality\":{\"episodes\":1,\"detected\":1,\"alerts\":1,"
                              "\"true_alerts\":1,\"precision\":1.0000,\"recall\":1.0000");
  ww_proc_destroy(proc);
  ww_config_destroy(cfg);
}

/* An alert with no ground truth (a false one) opened before the last commit
 * stays in the summary's precision across a rewind, though the episode that
 * first brought ground truth came after that commit. */
static void test_summary_after_rewind_false_alert(void) {
  static cap_t c;
  ww_config_t *cfg;
  ww_proc_t *proc = rules_proc(&c, &cfg, 1);
  char summary[2048];
  int64_t t0 = 1700000000000;
  if (!proc)
    return;
  feed_normal4(proc, t0);
  /* critical, without ground truth: a false alert opens on Curing Oven */
  feed(proc, "turbine-line-1", "Curing Oven", t0 + 4000, 45, 50, 60, NULL, 0);
  ww_proc_committed(proc);
  for (int pass = 0; pass < 2; pass++) {
    feed_spike7(proc, t0);
    if (pass == 0)
      rewind_to_commit(proc);
  }
  ww_proc_committed(proc);
  CHECK(ww_proc_summary(proc, summary, sizeof(summary)) < sizeof(summary));
  CHECK_STR_CONTAINS(summary, "\"quality\":{\"episodes\":1,\"detected\":1,\"alerts\":2,"
                              "\"true_alerts\":1,\"precision\":0.5000,\"recall\":1.0000");
  ww_proc_destroy(proc);
  ww_config_destroy(cfg);
}

/* Without grading (real time: no summary) ground truth is not kept. */
static void test_no_grading(void) {
  static cap_t c;
  ww_config_t *cfg;
  ww_proc_t *proc = rules_proc(&c, &cfg, 0);
  char summary[2048];
  int64_t t0 = 1700000000000;
  if (!proc)
    return;
  feed_normal4(proc, t0);
  feed(proc, "turbine-line-1", "Blade", t0 + 5000, 45, 50, 60, "spike", 7);
  ww_proc_committed(proc);
  CHECK_INT_EQ(c.per[WW_OUT_ALERTS], 1); /* detection itself is the same */
  CHECK(ww_proc_summary(proc, summary, sizeof(summary)) < sizeof(summary));
  CHECK_STR_CONTAINS(summary, "\"alerts\":1,");
  CHECK(strstr(summary, "\"quality\"") == NULL);
  ww_proc_destroy(proc);
  ww_config_destroy(cfg);
}

/* A replay builds state and nothing else: an engine that is given the first
 * readings of a stream in replay mode, then the rest live, publishes exactly
 * what an engine that processed the whole stream published for the rest
 * (the windows open at the handover with every reading, the z-scores against
 * the same baselines, the same alert); during the replay, no output, no alert
 * event and no counter moves. A time window's window_seq is its start / slide. */
static void test_replay(void) {
  static cap_t a, b;
  ww_config_t *cfg;
  const ww_factory_t *fac = factory(&cfg);
  ww_proc_conf_t pc;
  ww_proc_output_t oa = {cap_produce, &a, NULL, cap_alert_event, NULL};
  ww_proc_output_t ob = {cap_produce, &b, NULL, cap_alert_event, NULL};
  ww_proc_counters_t cnt;
  ww_proc_t *pa, *pb;
  char err[256];
  const msg_t *m;
  int64_t t0 = 1700000000000; /* a multiple of 10 s */
  int mark = 0, mark_events = 0;
  const int n = 40, handover = 17;
  if (!fac) {
    CHECK(fac != NULL);
    return;
  }
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  ww_proc_conf_defaults(&pc);
  pc.window_type = WW_WINDOW_TIME;
  pc.window_size = 10;
  pc.window_slide = 5;
  pc.allowed_lateness_ms = 2000;
  pc.stuck_count = 0;
  pc.model.train_size = 0;
  pa = ww_proc_new(fac, &pc, &oa, err, sizeof(err));
  pb = ww_proc_new(fac, &pc, &ob, err, sizeof(err));
  if (!pa || !pb) {
    CHECK(pa != NULL && pb != NULL);
    ww_proc_destroy(pa);
    ww_proc_destroy(pb);
    ww_config_destroy(cfg);
    return;
  }
  for (int i = 0; i < n; i++) {
    /* a normal wave, then a spike over the critical 40 at 30-31 s */
    double t = i == 30 || i == 31 ? 45 + i - 30 : 20 + (double)(i % 5);
    int64_t ts = t0 + i * 1000;
    if (i == handover) {
      mark = a.n;
      mark_events = a.alert_events;
      ww_proc_replay_end(pb);
      ww_proc_counters(pb, &cnt);
      CHECK_INT_EQ(b.n, 0);
      CHECK_INT_EQ(b.alert_events, 0);
      CHECK_INT_EQ(cnt.messages, 0);
      CHECK_INT_EQ(cnt.readings, 0);
      CHECK_INT_EQ(cnt.windows, 0);
    }
    if (i == 0)
      ww_proc_replay_begin(pb);
    feed(pa, "turbine-line-2", "Gearbox", ts, t, 50 + (double)(i % 3), 60 + (double)(i % 4), NULL,
         0);
    feed(pb, "turbine-line-2", "Gearbox", ts, t, 50 + (double)(i % 3), 60 + (double)(i % 4), NULL,
         0);
  }
  /* what A published after the handover is what B published */
  CHECK(mark > 0);
  CHECK_INT_EQ(b.n, a.n - mark);
  for (int i = 0; i < b.n && mark + i < a.n; i++) {
    CHECK_INT_EQ(b.m[i].out, a.m[mark + i].out);
    CHECK_STR_EQ(b.m[i].val, a.m[mark + i].val);
  }
  CHECK_INT_EQ(b.per[WW_OUT_SCORED], n - handover);
  CHECK(b.per[WW_OUT_STATS] >= 4);
  CHECK(b.per[WW_OUT_ALERTS] >= 1);
  CHECK_INT_EQ(b.alert_events, a.alert_events - mark_events);
  /* the first window B closes, [5 s, 15 s) (closed by the first live reading
   * at 17 s, 2 s of lateness after its end), with all ten readings */
  m = nth(&b, WW_OUT_STATS, 0);
  if (m) {
    CHECK_STR_CONTAINS(m->val, "\"window_seq\":340000001,"); /* 1700000005000 / 5000 */
    CHECK_STR_CONTAINS(m->val, "\"count\":10,");
  }
  ww_proc_counters(pb, &cnt);
  CHECK_INT_EQ(cnt.readings, n - handover);
  ww_proc_destroy(pa);
  ww_proc_destroy(pb);
  ww_config_destroy(cfg);
}

/* Two engines (A and B) on count windows of 6 readings every 3, rules only,
 * capturing into \p a and \p b. @returns 0, or -1 (checked; all freed). */
static int count_pair(ww_config_t **cfg, cap_t *a, cap_t *b, ww_proc_t **pa, ww_proc_t **pb) {
  static ww_proc_output_t oa, ob;
  const ww_factory_t *fac = factory(cfg);
  ww_proc_conf_t pc;
  char err[256];
  CHECK(fac != NULL);
  if (!fac)
    return -1;
  oa = (ww_proc_output_t){cap_produce, a, NULL, cap_alert_event, NULL};
  ob = (ww_proc_output_t){cap_produce, b, NULL, cap_alert_event, NULL};
  memset(a, 0, sizeof(*a));
  memset(b, 0, sizeof(*b));
  ww_proc_conf_defaults(&pc);
  pc.window_type = WW_WINDOW_COUNT;
  pc.window_size = 6;
  pc.window_slide = 3;
  pc.stuck_count = 0;
  pc.model.train_size = 0;
  *pa = ww_proc_new(fac, &pc, &oa, err, sizeof(err));
  *pb = ww_proc_new(fac, &pc, &ob, err, sizeof(err));
  CHECK(*pa != NULL && *pb != NULL);
  if (*pa && *pb)
    return 0;
  ww_proc_destroy(*pa);
  ww_proc_destroy(*pb);
  ww_config_destroy(*cfg);
  return -1;
}

/* Count windows change hands: A runs through; at the handover B takes A's
 * committed counts (the text a commit keeps with the offset), is seeded with
 * them less the readings it is about to replay, replays the last R readings
 * and goes on live. B publishes what A published after the handover, window
 * numbers included. */
static void test_replay_counts(void) {
  static cap_t a, b;
  ww_config_t *cfg;
  const ww_factory_t *fac;
  ww_proc_conf_t pc;
  ww_proc_output_t ob = {cap_produce, &b, NULL, cap_alert_event, NULL};
  ww_proc_count_t counts[4];
  int64_t line_replayed = 0, comp_replayed[WW_MAX_COMPONENTS + 1] = {0};
  ww_proc_t *pa, *pb;
  char err[256], text[1024];
  const char *comps[] = {"Gearbox", "Generator"};
  int64_t t0 = 1700000000000;
  int mark = 0, li, ci[2], got;
  const int n = 60, handover = 37, replay = 20;
  if (count_pair(&cfg, &a, &b, &pa, &pb) != 0)
    return;
  fac = ww_config_factory(cfg);
  li = ww_factory_line_find(fac, "turbine-line-2", strlen("turbine-line-2"));
  ci[0] = ww_factory_component_find(fac, li, comps[0], strlen(comps[0]));
  ci[1] = ww_factory_component_find(fac, li, comps[1], strlen(comps[1]));
  CHECK(li >= 0 && ci[0] >= 0 && ci[1] >= 0);
  if (li < 0 || ci[0] < 0 || ci[1] < 0)
    goto done;
  CHECK_INT_EQ(ww_proc_counts_save(pa, 0, text, sizeof(text)), 0); /* no line read yet */
  for (int i = 0; i < n; i++) {
    /* two components, unevenly: Generator every third reading */
    int c = i % 3 == 2;
    double t = i == 45 || i == 46 ? 45 : 20 + (double)(i % 5);
    if (i == handover) {
      size_t len = ww_proc_counts_save(pa, 0, text, sizeof(text));
      CHECK(len > 0 && len < sizeof(text));
      CHECK_STR_CONTAINS(text, "\"size\":6,\"slide\":3,");
      CHECK_STR_CONTAINS(text, "{\"id\":\"turbine-line-2\",\"n\":37,\"w\":11,");
      CHECK_STR_CONTAINS(text, "\"Gearbox\":25,\"Generator\":12");
      CHECK_INT_EQ(ww_proc_counts_save(pa, 1, text + len + 1, sizeof(text) - len - 1), 0);
      got = ww_proc_counts_parse(pb, text, len, counts, 4, err, sizeof(err));
      CHECK_INT_EQ(got, 1);
      if (got == 1) {
        CHECK_INT_EQ(counts[0].line, li);
        CHECK_INT_EQ(counts[0].added, 37);
        CHECK_INT_EQ(counts[0].seq, 11);
        CHECK_INT_EQ(counts[0].seen[ci[1]], 12);
        CHECK_INT_EQ(ww_proc_counts_seed(pb, &counts[0], line_replayed, comp_replayed), 0);
      }
      /* the replay: the R readings before the handover */
      ww_proc_replay_begin(pb);
      for (int j = handover - replay; j < handover; j++) {
        int cj = j % 3 == 2;
        feed(pb, "turbine-line-2", comps[cj], t0 + j * 1000, 20 + (double)(j % 5),
             50 + (double)(j % 3), 60, NULL, 0);
      }
      ww_proc_replay_end(pb);
      CHECK_INT_EQ(b.n, 0);
      mark = a.n;
    }
    if (i == handover - replay) { /* (what the seed is told the replay holds) */
      line_replayed = replay;
      for (int j = handover - replay; j < handover; j++)
        comp_replayed[ci[j % 3 == 2]]++;
    }
    feed(pa, "turbine-line-2", comps[c], t0 + i * 1000, t, 50 + (double)(i % 3), 60, NULL, 0);
    if (i >= handover)
      feed(pb, "turbine-line-2", comps[c], t0 + i * 1000, t, 50 + (double)(i % 3), 60, NULL, 0);
  }
  CHECK(mark > 0);
  CHECK_INT_EQ(b.n, a.n - mark);
  for (int i = 0; i < b.n && mark + i < a.n; i++) {
    CHECK_INT_EQ(b.m[i].out, a.m[mark + i].out);
    /* The same windows and alerts; the same severities. A z-score can
     * differ a little: the components' long-run spread (the floor of the
     * z-score rule) learnt from 20 readings of history instead of 37. */
    if (b.m[i].out == WW_OUT_SCORED) {
      const char *sa = strstr(a.m[mark + i].val, "\"severity\""),
                 *sb = strstr(b.m[i].val, "\"severity\"");
      CHECK(sa && sb && strncmp(sa, sb, strcspn(sa, ",")) == 0);
    } else
      CHECK_STR_EQ(b.m[i].val, a.m[mark + i].val);
  }
  CHECK(b.per[WW_OUT_STATS] >= 7);
  CHECK(b.per[WW_OUT_ALERTS] >= 1);
  /* Counts of other windows, or of a line that has state, do not apply. */
  ww_proc_conf_defaults(&pc);
  pc.window_type = WW_WINDOW_COUNT;
  pc.window_size = 8;
  pc.window_slide = 3;
  {
    ww_proc_t *pc8 = ww_proc_new(fac, &pc, &ob, err, sizeof(err));
    size_t len = strlen(text);
    CHECK(pc8 != NULL);
    if (pc8) {
      CHECK_INT_EQ(ww_proc_counts_parse(pc8, text, len, counts, 4, err, sizeof(err)), -1);
      CHECK_STR_CONTAINS(err, "not of 8 every 3");
      ww_proc_destroy(pc8);
    }
    CHECK_INT_EQ(ww_proc_counts_parse(pb, "{\"ww_counts\":2}", 15, counts, 4, err, sizeof(err)),
                 -1);
    CHECK_INT_EQ(ww_proc_counts_parse(pb, text, len, counts, 4, err, sizeof(err)), 1);
    CHECK_INT_EQ(ww_proc_counts_seed(pb, &counts[0], 0, comp_replayed), -1);
  }
done:
  ww_proc_destroy(pa);
  ww_proc_destroy(pb);
  ww_config_destroy(cfg);
}

/* A batch run's end closes the open count windows, and they start again:
 * the counts committed then say so (n 0), and a processor resuming from
 * them keeps the replayed readings out of its windows (baselines only). */
static void test_replay_counts_after_flush(void) {
  static cap_t a, b;
  ww_config_t *cfg;
  const ww_factory_t *fac;
  ww_proc_count_t counts[4];
  int64_t comp_replayed[WW_MAX_COMPONENTS + 1] = {0};
  ww_proc_t *pa, *pb;
  char err[256], text[1024];
  int64_t t0 = 1700000000000;
  int mark, li, ci, stats_before;
  const int n = 50, end = 29, replay = 20;
  if (count_pair(&cfg, &a, &b, &pa, &pb) != 0)
    return;
  fac = ww_config_factory(cfg);
  li = ww_factory_line_find(fac, "turbine-line-2", strlen("turbine-line-2"));
  ci = ww_factory_component_find(fac, li, "Gearbox", strlen("Gearbox"));
  CHECK(li >= 0 && ci >= 0);
  if (li < 0 || ci < 0)
    goto done;
  for (int i = 0; i < end; i++)
    feed(pa, "turbine-line-2", "Gearbox", t0 + i * 1000, 20 + (double)(i % 5), 50, 60, NULL, 0);
  stats_before = a.per[WW_OUT_STATS];
  ww_proc_finish(pa); /* 29 readings: windows closed at 6, 9, ..., 27; the end closes 25-29 */
  CHECK_INT_EQ(a.per[WW_OUT_STATS], stats_before + 1);
  CHECK(ww_proc_counts_save(pa, 0, text, sizeof(text)) < sizeof(text));
  CHECK_STR_CONTAINS(text, "{\"id\":\"turbine-line-2\",\"n\":0,\"w\":9,\"c\":{\"Gearbox\":29},");
  CHECK_INT_EQ(ww_proc_counts_parse(pb, text, strlen(text), counts, 4, err, sizeof(err)), 1);
  comp_replayed[ci] = replay;
  CHECK_INT_EQ(ww_proc_counts_seed(pb, &counts[0], replay, comp_replayed), 0);
  ww_proc_replay_begin(pb);
  for (int j = end - replay; j < end; j++)
    feed(pb, "turbine-line-2", "Gearbox", t0 + j * 1000, 20 + (double)(j % 5), 50, 60, NULL, 0);
  ww_proc_replay_end(pb);
  CHECK_INT_EQ(b.n, 0);
  mark = a.n;
  for (int i = end; i < n; i++) {
    double t = i == 40 || i == 41 ? 45 : 20 + (double)(i % 5);
    feed(pa, "turbine-line-2", "Gearbox", t0 + i * 1000, t, 50, 60, NULL, 0);
    feed(pb, "turbine-line-2", "Gearbox", t0 + i * 1000, t, 50, 60, NULL, 0);
  }
  /* the windows after the end: from the 30th reading on, window_seq 9 first */
  CHECK_INT_EQ(b.n, a.n - mark);
  for (int i = 0; i < b.n && mark + i < a.n; i++)
    if (b.m[i].out == WW_OUT_STATS)
      CHECK_STR_EQ(b.m[i].val, a.m[mark + i].val);
  CHECK_INT_EQ(b.per[WW_OUT_STATS], 6); /* closed at 6, 9, ..., 21 readings after the end */
  if (nth(&b, WW_OUT_STATS, 0))
    CHECK_STR_CONTAINS(nth(&b, WW_OUT_STATS, 0)->val, "\"window_seq\":9,");
done:
  ww_proc_destroy(pa);
  ww_proc_destroy(pb);
  ww_config_destroy(cfg);
}

int main(void) {
  RUN(test_count_windows_and_alerts);
  RUN(test_stuck_and_model);
  RUN(test_time_windows_late);
  RUN(test_carry_over);
  RUN(test_summary_after_rewind);
  RUN(test_summary_after_rewind_false_alert);
  RUN(test_no_grading);
  RUN(test_replay);
  RUN(test_replay_counts);
  RUN(test_replay_counts_after_flush);
  return WW_TEST_RESULT();
}
