/* test_sink_store.c: the sink's row writers, offsets and retention on a temp SQLite file. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink_retention.h"
#include "sink_store.h"
#include "sink_writer.h"
#include "windwatch/config.h"
#include "windwatch/db.h"
#include "windwatch/reading.h"
#include "windwatch/timeutil.h"
#include "ww_test.h"

#define T_SCORED   "t.sensor-scored"
#define T_WINDOWS  "t.window-stats"
#define T_ALERTS   "t.alerts"
#define T_DLQ      "t.sensor-data-dlq"
#define T_MODELS   "t.models"
#define N_READINGS 200
#define MSG_MAX    1024

static ww_config_t *cfg;
static const ww_factory_t *fac;
static char dir[64];
static int db_seq;

/* Payloads live here so the messages can point at them. */
static char payloads[N_READINGS][MSG_MAX];
static ww_sink_msg_t readings[N_READINGS];

static sqlite3 *open_db(void) {
  char path[128], errstr[256];
  sqlite3 *db;
  snprintf(path, sizeof(path), "%s/t%d.db", dir, db_seq++);
  db = ww_db_open_rw(path, fac, errstr, sizeof(errstr));
  if (!db)
    fprintf(stderr, "open %s: %s\n", path, errstr);
  return db;
}

/* A store on \p db (NULL if db is), or NULL with the reason printed. */
static ww_sink_store_t *new_store(sqlite3 *db) {
  char errstr[256];
  ww_sink_store_t *st = db ? ww_sink_store_new(db, fac, errstr, sizeof(errstr)) : NULL;
  if (db && !st)
    fprintf(stderr, "store: %s\n", errstr);
  return st;
}

static int64_t q_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "prepare %s: %s\n", sql, sqlite3_errmsg(db));
    return -999;
  }
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static double q_dbl(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  double v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return -999;
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* The first text column of the first row, copied into a static buffer. */
static const char *q_str(sqlite3 *db, const char *sql) {
  static char buf[2048];
  sqlite3_stmt *st = NULL;
  buf[0] = '\0';
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return "(prepare failed)";
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(buf, sizeof(buf), "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return buf;
}

static ww_sink_msg_t msg(ww_sink_kind_t kind, const char *topic, int32_t part, int64_t off,
                         const char *payload) {
  ww_sink_msg_t m;
  memset(&m, 0, sizeof(m));
  m.kind = kind;
  m.topic = topic;
  m.partition = part;
  m.offset = off;
  m.ts_ms = 1700000000000;
  m.payload = payload;
  m.len = payload ? strlen(payload) : 0;
  m.h_src_partition = -1;
  m.h_src_offset = -1;
  return m;
}

/* N_READINGS scored readings, alternately on partitions 0 and 1, one per
 * second from \p t0_ms, line 0 on even, line 1 on odd indexes. */
static void make_readings(int64_t t0_ms) {
  for (int i = 0; i < N_READINGS; i++) {
    ww_reading_t r;
    ww_score_t sc;
    size_t len;
    memset(&r, 0, sizeof(r));
    memset(&sc, 0, sizeof(sc));
    r.ts_ms = t0_ms + i * 1000;
    r.seq = i;
    r.line_idx = i % 2;
    r.component_idx = 0;
    snprintf(r.component_id, sizeof(r.component_id), "%s", fac->lines[i % 2].components[0]);
    for (int s = 0; s < fac->n_sensors; s++) {
      r.present |= 1u << s;
      r.values[s] = 20.0 + s * 10 + (i % 10);
    }
    sc.anomaly_score = (i % 10) / 10.0;
    sc.severity = i % 10 == 9 ? WW_SEV_CRITICAL : WW_SEV_NORMAL;
    sc.model_version = 3;
    sc.zscore = 0.5;
    len = ww_scored_encode(fac, &r, &sc, payloads[i], MSG_MAX);
    CHECK(len < MSG_MAX);
    readings[i] = msg(WW_SINK_READINGS, T_SCORED, i % 2, i / 2, payloads[i]);
  }
}

static ww_err_t apply(ww_sink_store_t *st, const ww_sink_msg_t *m, size_t n, ww_sink_counts_t *c) {
  char errstr[512];
  ww_err_t err = ww_sink_store_apply(st, m, n, c, errstr, sizeof(errstr));
  if (err != WW_OK)
    fprintf(stderr, "apply: %s (%s)\n", errstr, ww_err2str(err));
  return err;
}

static void test_apply_once(void) {
  sqlite3 *db = open_db();
  char errstr[256];
  ww_sink_store_t *st = new_store(db);
  ww_sink_counts_t c;
  int64_t next = 0;
  CHECK(st != NULL);
  if (!st)
    goto done;
  memset(&c, 0, sizeof(c));
  make_readings(ww_now_ms() - 600000);
  CHECK_INT_EQ(apply(st, readings, N_READINGS, &c), WW_OK);
  CHECK_INT_EQ(c.records, N_READINGS);
  CHECK_INT_EQ(c.readings, N_READINGS);
  CHECK_INT_EQ(c.skipped, 0);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings"), N_READINGS);
  CHECK_INT_EQ(q_int(db, "SELECT count(DISTINCT src_partition || ':' || src_offset) "
                         "FROM sensor_readings"),
               N_READINGS);
  CHECK_INT_EQ(ww_sink_store_offset(st, T_SCORED, 0, &next, errstr, sizeof(errstr)), WW_OK);
  CHECK_INT_EQ(next, N_READINGS / 2);
  CHECK_INT_EQ(ww_sink_store_offset(st, T_SCORED, 7, &next, errstr, sizeof(errstr)), WW_ERR_NOENT);
  /* Contents of one row: line, columns, score, severity. */
  CHECK_STR_EQ(q_str(db, "SELECT production_line FROM sensor_readings WHERE sequence_number=9"),
               fac->lines[1].id);
  CHECK_STR_EQ(q_str(db, "SELECT severity FROM sensor_readings WHERE sequence_number=9"),
               "critical");
  CHECK_INT_EQ(q_int(db, "SELECT is_anomaly FROM sensor_readings WHERE sequence_number=9"), 1);
  CHECK_DBL_NEAR(q_dbl(db, "SELECT temperature FROM sensor_readings WHERE sequence_number=9"), 29.0,
                 1e-9);
  CHECK_DBL_NEAR(q_dbl(db, "SELECT sound_level FROM sensor_readings WHERE sequence_number=9"), 49.0,
                 1e-9);
  CHECK_DBL_NEAR(q_dbl(db, "SELECT anomaly_score FROM sensor_readings WHERE sequence_number=9"),
                 0.9, 1e-9);
  CHECK_INT_EQ(q_int(db, "SELECT model_version FROM sensor_readings WHERE sequence_number=9"), 3);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings WHERE timestamp LIKE '%Z'"),
               N_READINGS);

  /* The same batch again: the stored offsets say it is there already. */
  memset(&c, 0, sizeof(c));
  CHECK_INT_EQ(apply(st, readings, N_READINGS, &c), WW_OK);
  CHECK_INT_EQ(c.skipped, N_READINGS);
  CHECK_INT_EQ(c.records, 0);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings"), N_READINGS);
  CHECK_INT_EQ(q_int(db, "SELECT sum(count) FROM readings_rollup_1m"),
               (int64_t)N_READINGS * fac->n_sensors);
done:
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

/* Readings go in 100 at a time (one INSERT of 100 rows). A row the database
 * refuses fails its whole statement: those rows go in one at a time again,
 * and only the refused one becomes a dead letter. */
static void test_refused_row(void) {
  sqlite3 *db = open_db();
  ww_sink_store_t *st = new_store(db);
  ww_sink_counts_t c;
  CHECK(st != NULL);
  if (!st)
    goto done;
  CHECK_INT_EQ(sqlite3_exec(db,
                            "CREATE TRIGGER refuse77 BEFORE INSERT ON sensor_readings "
                            "WHEN NEW.sequence_number = 77 BEGIN SELECT RAISE(ABORT, 'no 77'); END",
                            NULL, NULL, NULL),
               SQLITE_OK);
  memset(&c, 0, sizeof(c));
  make_readings(ww_now_ms() - 600000);
  CHECK_INT_EQ(apply(st, readings, N_READINGS, &c), WW_OK);
  CHECK_INT_EQ(c.records, N_READINGS);
  CHECK_INT_EQ(c.readings, N_READINGS - 1);
  CHECK_INT_EQ(c.dead_letters, 1);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings"), N_READINGS - 1);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings WHERE sequence_number=77"), 0);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings WHERE sequence_number IN (76, 78)"),
               2);
  CHECK_STR_EQ(q_str(db, "SELECT reason FROM dead_letters"), "rejected_by_database");
  CHECK_STR_CONTAINS(q_str(db, "SELECT detail FROM dead_letters"), "no 77");
  CHECK_INT_EQ(q_int(db, "SELECT src_offset FROM dead_letters"), 77 / 2);
  CHECK_INT_EQ(q_int(db, "SELECT sum(count) FROM readings_rollup_1m"),
               (int64_t)(N_READINGS - 1) * fac->n_sensors);
  ww_sink_store_destroy(st);
  ww_db_close(db);
  /* A SQLite older than 3.32 allows 999 variables: 55 rows per INSERT. */
  st = NULL;
  if ((db = open_db()))
    sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, 999);
  st = new_store(db);
  CHECK(st != NULL);
  if (!st)
    goto done;
  memset(&c, 0, sizeof(c));
  CHECK_INT_EQ(apply(st, readings, N_READINGS, &c), WW_OK);
  CHECK_INT_EQ(c.readings, N_READINGS);
  CHECK_INT_EQ(q_int(db, "SELECT count(DISTINCT src_partition || ':' || src_offset) "
                         "FROM sensor_readings"),
               N_READINGS);
done:
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

/* A batch overlapping the stored offsets stores only the new part. */
static void test_overlap(void) {
  sqlite3 *db = open_db();
  ww_sink_store_t *st = new_store(db);
  ww_sink_counts_t c;
  CHECK(st != NULL);
  if (!st)
    goto done;
  memset(&c, 0, sizeof(c));
  make_readings(ww_now_ms() - 600000);
  CHECK_INT_EQ(apply(st, readings, 120, &c), WW_OK);
  CHECK_INT_EQ(apply(st, readings + 60, N_READINGS - 60, &c), WW_OK);
  CHECK_INT_EQ(c.records, N_READINGS);
  CHECK_INT_EQ(c.skipped, 60);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings"), N_READINGS);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM (SELECT src_partition, src_offset FROM "
                         "sensor_readings GROUP BY 1, 2 HAVING count(*) > 1)"),
               0);
done:
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

static void test_rollups(void) {
  sqlite3 *db = open_db();
  char sql[256];
  ww_sink_store_t *st = new_store(db);
  ww_sink_counts_t c;
  int64_t t0 = (ww_now_ms() / 60000 - 10) * 60000; /* on a minute boundary */
  CHECK(st != NULL);
  if (!st)
    goto done;
  memset(&c, 0, sizeof(c));
  make_readings(t0); /* 200 s: minutes 0..3, 60+60+60+20 readings, half per line */
  CHECK_INT_EQ(apply(st, readings, N_READINGS, &c), WW_OK);
  snprintf(sql, sizeof(sql),
           "SELECT count FROM readings_rollup_1m WHERE production_line='%s' "
           "AND sensor='temperature' AND minute_ms=%lld",
           fac->lines[0].id, (long long)t0);
  CHECK_INT_EQ(q_int(db, sql), 30);
  snprintf(sql, sizeof(sql),
           "SELECT min || '/' || max || '/' || sum FROM readings_rollup_1m "
           "WHERE production_line='%s' AND sensor='temperature' AND minute_ms=%lld",
           fac->lines[0].id, (long long)t0);
  /* line 0 = even i in 0..58: temperature 20 + i%10 over {0,2,4,6,8}, 6 times each */
  CHECK_STR_EQ(q_str(db, sql), "20.0/28.0/720.0");
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM readings_rollup_1m"),
               4 * 2 * (int64_t)fac->n_sensors);
done:
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

static const char *alert_json(char *buf, size_t n, const char *event, const char *state,
                              const char *sev, int64_t updated_s, int readings_n) {
  snprintf(
      buf, n,
      "{\"v\":1,\"alert_id\":\"turbine-line-1-1700000000000-1\",\"event\":\"%s\","
      "\"state\":\"%s\",\"production_line\":\"turbine-line-1\",\"component_id\":\"Blade\","
      "\"severity\":\"%s\",\"anomaly_type\":\"threshold\","
      "\"opened_at\":\"2023-11-14T22:13:20.000Z\",\"updated_at\":\"2023-11-14T22:%02d:%02d.000Z\","
      "\"resolved_at\":%s,\"max_score\":0.8%d,\"readings\":%d,\"sensors\":[\"temperature\"],"
      "\"details\":{\"temperature\":44.1}}",
      event, state, sev, (int)(13 + updated_s / 60), (int)(20 + updated_s % 60) % 60,
      strcmp(state, "resolved") ? "null" : "\"2023-11-14T22:20:00.000Z\"", readings_n, readings_n);
  return buf;
}

static void test_alert_lifecycle(void) {
  sqlite3 *db = open_db();
  char a[4][1024];
  ww_sink_store_t *st = new_store(db);
  ww_sink_counts_t c;
  ww_sink_msg_t m[4];
  CHECK(st != NULL);
  if (!st)
    goto done;
  memset(&c, 0, sizeof(c));
  m[0] = msg(WW_SINK_ALERTS, T_ALERTS, 0, 0,
             alert_json(a[0], sizeof(a[0]), "opened", "open", "warning", 0, 1));
  m[1] = msg(WW_SINK_ALERTS, T_ALERTS, 0, 1,
             alert_json(a[1], sizeof(a[1]), "updated", "open", "critical", 10, 5));
  m[2] = msg(WW_SINK_ALERTS, T_ALERTS, 0, 2,
             alert_json(a[2], sizeof(a[2]), "resolved", "resolved", "critical", 30, 7));
  /* A stale update (older updated_at) must neither reopen nor regress the alert. */
  m[3] = msg(WW_SINK_ALERTS, T_ALERTS, 0, 3,
             alert_json(a[3], sizeof(a[3]), "updated", "open", "warning", 20, 6));
  CHECK_INT_EQ(apply(st, m, 1, &c), WW_OK);
  CHECK_STR_EQ(q_str(db, "SELECT state || '/' || severity FROM alerts"), "open/warning");
  CHECK_INT_EQ(apply(st, m + 1, 1, &c), WW_OK);
  CHECK_STR_EQ(q_str(db, "SELECT state || '/' || severity || '/' || readings FROM alerts"),
               "open/critical/5");
  CHECK_INT_EQ(apply(st, m + 2, 2, &c), WW_OK);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM alerts"), 1);
  CHECK_STR_EQ(q_str(db, "SELECT state || '/' || severity || '/' || readings FROM alerts"),
               "resolved/critical/7");
  CHECK(q_int(db, "SELECT resolved_ms FROM alerts") > 0);
  CHECK_INT_EQ(q_int(db, "SELECT opened_ms FROM alerts"), 1700000000000);
  CHECK_STR_CONTAINS(q_str(db, "SELECT last_event FROM alerts"), "\"resolved\"");
  CHECK_STR_EQ(q_str(db, "SELECT sensors FROM alerts"), "[\"temperature\"]");
  CHECK_INT_EQ(c.alerts, 4);
  /* Everything again: offsets say it is stored; the row stays. */
  CHECK_INT_EQ(apply(st, m, 4, &c), WW_OK);
  CHECK_INT_EQ(c.skipped, 4);
  CHECK_STR_EQ(q_str(db, "SELECT state FROM alerts"), "resolved");
done:
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

static void test_windows_models_dead(void) {
  sqlite3 *db = open_db();
  ww_sink_store_t *st = new_store(db);
  ww_sink_counts_t c;
  ww_sink_msg_t m[8];
  CHECK(st != NULL);
  if (!st)
    goto done;
  memset(&c, 0, sizeof(c));
  m[0] = msg(
      WW_SINK_WINDOWS, T_WINDOWS, 0, 0,
      "{\"v\":1,\"production_line\":\"turbine-line-2\",\"window_type\":\"time\","
      "\"window_start\":\"2026-11-25T19:34:00.000Z\",\"window_end\":\"2026-11-25T19:35:00.000Z\","
      "\"count\":60,\"anomalous\":2,\"sensors\":{\"temperature\":{\"mean\":25.5,\"std\":1.5,"
      "\"min\":20,\"max\":31,\"p50\":25,\"p95\":30,\"trend\":\"stable\",\"slope_per_min\":0.1}}}");
  m[1] = msg(WW_SINK_WINDOWS, T_WINDOWS, 0, 1, "{\"v\":1,\"production_line\":\"turbine-line-2\"}");
  m[2] = msg(WW_SINK_READINGS, T_SCORED, 0, 0, "{not json");
  m[3] = msg(WW_SINK_DLQ, T_DLQ, 0, 0, "{\"temperature\":\"hot\"}");
  m[3].h_reason = "bad_type";
  m[3].h_detail = "field 'temperature' is a string, expected a number";
  m[3].h_src_topic = "sensor-data";
  m[3].h_src_partition = 2;
  m[3].h_src_offset = 41;
  m[4] = msg(WW_SINK_MODELS, T_MODELS, 0, 0,
             "{\"v\":1,\"production_line\":\"turbine-line-1\",\"version\":4,"
             "\"trained_at\":\"2026-11-25T19:00:00.000Z\",\"samples\":256,\"trees\":[[1,2,3]]}");
  m[5] = msg(WW_SINK_MODELS, T_MODELS, 0, 1, NULL); /* compaction tombstone */
  m[6] = msg(WW_SINK_ALERTS, T_ALERTS, 0, 0, "{\"alert_id\":\"x\",\"state\":\"maybe\"}");
  CHECK_INT_EQ(apply(st, m, 7, &c), WW_OK);
  CHECK_INT_EQ(c.records, 7);
  CHECK_INT_EQ(c.windows, 1);
  CHECK_INT_EQ(c.models, 1);
  CHECK_INT_EQ(c.tombstones, 1);
  CHECK_INT_EQ(c.dead_letters, 4);
  CHECK_INT_EQ(q_int(db, "SELECT count FROM window_stats"), 60);
  CHECK_INT_EQ(q_int(db, "SELECT window_end_ms - window_start_ms FROM window_stats"), 60000);
  CHECK_STR_CONTAINS(q_str(db, "SELECT stats FROM window_stats"), "\"p95\":30");
  CHECK_STR_EQ(q_str(db, "SELECT reason FROM dead_letters WHERE src_topic='" T_WINDOWS "'"),
               "missing_field");
  CHECK_STR_EQ(q_str(db, "SELECT reason FROM dead_letters WHERE src_topic='" T_SCORED "'"),
               "malformed_json");
  CHECK_STR_EQ(q_str(db, "SELECT reason || '@' || src_topic || ':' || src_partition || ':' || "
                         "src_offset FROM dead_letters WHERE reason='bad_type'"),
               "bad_type@sensor-data:2:41");
  CHECK_STR_EQ(q_str(db, "SELECT CAST(payload AS TEXT) FROM dead_letters WHERE reason='bad_type'"),
               "{\"temperature\":\"hot\"}");
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM dead_letters WHERE src_topic='" T_ALERTS "'"), 1);
  CHECK_STR_EQ(q_str(db, "SELECT production_line || ':' || version || ':' || samples FROM models"),
               "turbine-line-1:4:256");
  CHECK(strstr(q_str(db, "SELECT metadata FROM models"), "trees") == NULL);
  CHECK_STR_CONTAINS(q_str(db, "SELECT CAST(model AS TEXT) FROM models"), "\"trees\"");
done:
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

/* A window-stats message of line-2 with \p extra spliced in after "sensors". */
#define WINDOW_MSG(extra)                                                                          \
  "{\"v\":1,\"production_line\":\"turbine-line-2\",\"window_type\":\"time\","                      \
  "\"window_start\":\"2026-11-25T19:34:00.000Z\",\"window_end\":\"2026-11-25T19:35:00.000Z\","     \
  "\"count\":60,\"anomalous\":0,\"sensors\":{}" extra "}"

/* Where the line's model stood: model_version and training into their
 * columns, NULL when absent; a malformed training object is a dead letter. */
static void test_window_model_state(void) {
  sqlite3 *db = open_db();
  ww_sink_store_t *st = new_store(db);
  ww_sink_counts_t c;
  ww_sink_msg_t m[6];
  CHECK(st != NULL);
  if (!st)
    goto done;
  memset(&c, 0, sizeof(c));
  m[0] = msg(WW_SINK_WINDOWS, T_WINDOWS, 0, 0,
             WINDOW_MSG(",\"model_version\":0,\"training\":{\"readings\":640,\"needed\":2048}"));
  m[1] = msg(WW_SINK_WINDOWS, T_WINDOWS, 0, 1, WINDOW_MSG(",\"model_version\":3"));
  m[2] = msg(WW_SINK_WINDOWS, T_WINDOWS, 0, 2, WINDOW_MSG(""));
  m[3] = msg(WW_SINK_WINDOWS, T_WINDOWS, 0, 3, WINDOW_MSG(",\"model_version\":0,\"training\":5"));
  m[4] = msg(WW_SINK_WINDOWS, T_WINDOWS, 0, 4,
             WINDOW_MSG(",\"model_version\":0,\"training\":{\"readings\":1}"));
  m[5] = msg(WW_SINK_WINDOWS, T_WINDOWS, 0, 5, WINDOW_MSG(",\"model_version\":-2"));
  CHECK_INT_EQ(apply(st, m, 6, &c), WW_OK);
  CHECK_INT_EQ(c.windows, 3);
  CHECK_INT_EQ(c.dead_letters, 3);
  CHECK_STR_EQ(q_str(db, "SELECT group_concat(coalesce(model_version, 'null') || '/' || "
                         "coalesce(training_readings, 'null') || '/' || "
                         "coalesce(training_needed, 'null'), ' ') FROM "
                         "(SELECT * FROM window_stats ORDER BY id)"),
               "0/640/2048 3/null/null null/null/null");
  CHECK_STR_EQ(q_str(db, "SELECT group_concat(reason || ':' || detail, ' | ') FROM "
                         "(SELECT * FROM dead_letters ORDER BY src_offset)"),
               "bad_type:field 'training' is not an object | "
               "missing_field:field 'needed' is missing | "
               "bad_value:field 'model_version' is negative: -2");
done:
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

/* A model message of version v with member (one or more members) after its
 * metadata. An '@' in member marks the byte a malformed message must be
 * reported at and is left out. @returns that byte's offset in buf, or the
 * message's length without an '@' (the error is that it ends too soon). */
static size_t model_msg(char *buf, size_t n, int v, const char *member) {
  const char *at = strchr(member, '@');
  int pre = snprintf(buf, n,
                     "{\"v\":1,\"production_line\":\"turbine-line-1\",\"version\":%d,"
                     "\"trained_at\":\"2026-11-25T19:00:00.000Z\",\"samples\":256,",
                     v);
  if (!at) {
    snprintf(buf + pre, n - (size_t)pre, "%s}", member);
    return strlen(buf);
  }
  snprintf(buf + pre, n - (size_t)pre, "%.*s%s}", (int)(at - member), member, at + 1);
  return (size_t)pre + (size_t)(at - member);
}

/* The verdicts on model messages m[0..n), of which the first nb are bad:
 * jansson (the api's loader) must agree with the sink's checker on every one,
 * and each bad one be a malformed_json dead letter naming byte at[i]. */
static void check_model_verdicts(sqlite3 *db, const ww_sink_msg_t *m, const size_t *at, int nb,
                                 int n) {
  for (int i = 0; i < n; i++) {
    json_error_t jerr;
    json_t *j = json_loadb(m[i].payload, m[i].len, 0, &jerr);
    char sql[192], want[96];
    if ((j != NULL) != (i >= nb))
      fprintf(stderr, "model case %d: jansson %s it (%s): %s\n", i, j ? "accepts" : "refuses",
              j ? "" : jerr.text, m[i].payload);
    CHECK((j != NULL) == (i >= nb));
    json_decref(j);
    if (i >= nb)
      continue;
    snprintf(sql, sizeof(sql),
             "SELECT reason || ': ' || detail FROM dead_letters WHERE src_topic='" T_MODELS
             "' AND src_offset=%lld",
             (long long)m[i].offset);
    snprintf(want, sizeof(want), "malformed_json: not JSON: malformed at byte %zu", at[i]);
    CHECK_STR_EQ(q_str(db, sql), want);
  }
  /* The metadata column holds the members beside the body, never the body. */
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM models WHERE metadata LIKE '%forest%' OR "
                         "metadata LIKE '%trees%'"),
               0);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM models WHERE metadata LIKE '%\"samples\":256%'"),
               n - nb);
}

/* Store the models made of \p bad (each must become a malformed_json dead
 * letter) and \p good (each stored as received, byte for byte) members in one
 * batch, and compare every verdict with jansson's (check_model_verdicts). */
#define WW_MODEL_CASES_MAX 48
static void run_model_cases(const char *const *bad, int nb, const char *const *good, int ng) {
  static char body[WW_MODEL_CASES_MAX][512];
  size_t at[WW_MODEL_CASES_MAX];
  ww_sink_msg_t m[WW_MODEL_CASES_MAX];
  sqlite3 *db = open_db();
  char sql[96];
  ww_sink_store_t *st = new_store(db);
  ww_sink_counts_t c;
  CHECK(nb + ng <= WW_MODEL_CASES_MAX);
  CHECK(st != NULL);
  if (!st || nb + ng > WW_MODEL_CASES_MAX)
    goto done;
  memset(&c, 0, sizeof(c));
  for (int i = 0; i < nb + ng; i++) {
    at[i] = model_msg(body[i], sizeof(body[i]), i + 1, i < nb ? bad[i] : good[i - nb]);
    m[i] = msg(WW_SINK_MODELS, T_MODELS, 0, i, body[i]);
  }
  CHECK_INT_EQ(apply(st, m, nb + ng, &c), WW_OK);
  CHECK_INT_EQ(c.models, ng);
  CHECK_INT_EQ(c.dead_letters, nb);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM dead_letters WHERE reason='malformed_json' AND "
                         "src_topic='" T_MODELS "'"),
               nb);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM models"), ng);
  for (int i = nb; i < nb + ng; i++) { /* stored as received, byte for byte */
    snprintf(sql, sizeof(sql), "SELECT CAST(model AS TEXT) FROM models WHERE version=%d", i + 1);
    CHECK_STR_EQ(q_str(db, sql), body[i]);
  }
  check_model_verdicts(db, m, at, nb, nb + ng);
done:
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

/* Model bodies are only checked, not parsed: every kind of malformed body
 * must still become a malformed_json dead letter, and valid ones (nested,
 * escapes, exponents, whitespace) must be stored as received. */
static void test_model_bodies(void) {
  static const char *const bad[] = {
      "\"forest\":{\"trees\":[[1,2,@]]}", /* trailing comma */
      "\"forest\":{\"trees\":[[0@1]]}",   /* leading zero */
      "\"forest\":{\"t\":\"@\\x\"}",      /* bad escape */
      "\"forest\":{\"t\":1.@}",           /* no fraction digits */
      "\"forest\":{\"t\":[1,2]",          /* unclosed object (error at the end) */
      "\"forest\":{\"t\":@tru}",          /* bad literal */
      "\"forest\":{\"t\":[1]} @x",        /* junk after the body */
  };
  static const char *const good[] = {
      "\"forest\":{\"trees\":[[1,-2.5e-3,3E+2],[]],\"s\":\"a\\\"b\\u00e9\",\"n\":null}",
      "\"forest\" : { \"t\" : [ true , false , 0 , -0.0 ] }",
  };
  run_model_cases(bad, (int)(sizeof(bad) / sizeof(bad[0])), good,
                  (int)(sizeof(good) / sizeof(good[0])));
}

/* Strings in a model body are checked as jansson checks them, so that the api
 * can load every model the sink stores: valid UTF-8 only (RFC 3629), no
 * \u0000, and UTF-16 surrogate escapes only as high-low pairs. (No \x escape
 * below is followed by a hex digit, which C would read as part of it.) */
static void test_model_strings(void) {
  static const char *const bad[] = {
      "\"forest\":{\"t\":\"@\xC0\xAF\"}",          /* overlong 2 bytes ('/') */
      "\"forest\":{\"t\":\"@\xC1\xBF\"}",          /* overlong 2 bytes (U+007F) */
      "\"forest\":{\"t\":\"@\xE0\x80\xAF\"}",      /* overlong 3 bytes */
      "\"forest\":{\"t\":\"@\xE0\x9F\xBF\"}",      /* overlong 3 bytes (U+07FF) */
      "\"forest\":{\"t\":\"@\xF0\x80\x80\xAF\"}",  /* overlong 4 bytes */
      "\"forest\":{\"t\":\"@\xF0\x8F\xBF\xBF\"}",  /* overlong 4 bytes (U+FFFF) */
      "\"forest\":{\"t\":\"@\xED\xA0\x80\"}",      /* surrogate U+D800 in UTF-8 */
      "\"forest\":{\"t\":\"@\xED\xBF\xBF\"}",      /* surrogate U+DFFF in UTF-8 */
      "\"forest\":{\"t\":\"@\xF4\x90\x80\x80\"}",  /* U+110000, past U+10FFFF */
      "\"forest\":{\"t\":\"@\xF5\x80\x80\x80\"}",  /* lead byte F5 */
      "\"forest\":{\"t\":\"@\xFF\"}",              /* byte FF */
      "\"forest\":{\"t\":\"ok@\x80\"}",            /* stray continuation byte */
      "\"forest\":{\"t\":\"@\xC3\"}",              /* 2-byte sequence cut short */
      "\"forest\":{\"t\":\"@\xE2\x82\"}",          /* 3-byte sequence cut short */
      "\"forest\":{\"t\":\"@\xF0\x9F\x98\"}",      /* 4-byte sequence cut short */
      "\"forest\":{\"t\":\"@\xE2\x82z\"}",         /* continuation byte missing */
      "\"forest\":{\"@\xC0\xAF\":1}",              /* invalid UTF-8 in a body key */
      "\"forest\":[\"a\",\"b@\xED\xA0\x80\"]",     /* ... in an array element */
      "\"note@\xFF\":1,\"forest\":{}",             /* ... in a metadata key */
      "\"forest\":{\"t\":\"@\\u0000\"}",           /* \u0000 */
      "\"forest\":{\"@\\u0000\":1}",               /* \u0000 in a key */
      "\"forest\":{\"t\":\"@\\uD800\"}",           /* lone high surrogate */
      "\"forest\":{\"t\":\"@\\uDBFFx\"}",          /* high surrogate, then text */
      "\"forest\":{\"t\":\"@\\uD800\\u0041\"}",    /* high, then a non-surrogate */
      "\"forest\":{\"t\":\"@\\uD800\\uD800\"}",    /* high, then high */
      "\"forest\":{\"t\":\"@\\uD83D\\n\\uDE00\"}", /* high, then another escape */
      "\"forest\":{\"t\":\"@\\uDC00\"}",           /* lone low surrogate */
      "\"forest\":{\"t\":\"x@\\uDFFF\\uD800\"}",   /* low before high */
      "\"forest\":{\"t\":\"@\\uD83D\\uDE0\"}",     /* low surrogate escape cut short */
      "\"forest\":{\"t\":@1e309}",                 /* a real that overflows a double */
      "\"forest\":[0.5,@-2.5E+400]",               /* ... negative, capital E */
      "\"forest\":{\"n\":@9223372036854775808}",   /* an integer past 64 bits */
      "\"forest\":{\"n\":@-9223372036854775809}",  /* ... below them */
  };
  static const char *const good[] = {
      /* U+0080, U+00E9, U+20AC, U+D7FF, U+E000, U+FFFF, U+10000, U+1F600, U+10FFFF */
      "\"forest\":{\"s\":\"\xC2\x80\xC3\xA9\xE2\x82\xAC\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF"
      "\xF0\x90\x80\x80\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\"}",
      /* the same range as escapes, pairs included */
      "\"forest\":{\"s\":\"\\u0001\\u0080\\u00e9\\uD7FF\\uE000\\uFFFF\\uD800\\uDC00"
      "\\ud83d\\ude00\\uDBFF\\uDFFF\",\"\\u00E9\\u20ac\":[\"\xE2\x82\xAC\"]}",
      /* numbers at the edges jansson still takes (underflow is fine) */
      "\"forest\":[9223372036854775807,-9223372036854775808,1e-400,1.7e308,"
      "0.12345678901234567890123456789]",
  };
  run_model_cases(bad, (int)(sizeof(bad) / sizeof(bad[0])), good,
                  (int)(sizeof(good) / sizeof(good[0])));
}

/* A size-limited file: SQLITE_FULL rolls back rows and offsets; raising the
 * limit lets the very same batch through, once. */
static void test_full(void) {
  sqlite3 *db = open_db();
  char errstr[256], sql[128];
  ww_sink_store_t *st = new_store(db);
  ww_sink_counts_t c;
  int64_t pages, next = -1;
  CHECK(st != NULL);
  if (!st)
    goto done;
  memset(&c, 0, sizeof(c));
  make_readings(ww_now_ms() - 600000);
  pages = q_int(db, "PRAGMA page_count");
  snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", (long long)pages + 2);
  CHECK(q_int(db, sql) > 0);
  CHECK_INT_EQ(ww_sink_store_apply(st, readings, N_READINGS, &c, errstr, sizeof(errstr)),
               WW_ERR_FULL);
  CHECK_INT_EQ(c.records, 0);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings"), 0);
  CHECK_INT_EQ(ww_sink_store_offset(st, T_SCORED, 0, &next, errstr, sizeof(errstr)), WW_ERR_NOENT);
  CHECK(q_int(db, "PRAGMA max_page_count = 1000000") > 0);
  CHECK_INT_EQ(apply(st, readings, N_READINGS, &c), WW_OK);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings"), N_READINGS);
done:
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

/* Another writer holds the lock: BUSY, nothing stored; then it goes away. */
static void test_busy(void) {
  sqlite3 *db = open_db(), *other = NULL;
  char errstr[256];
  ww_sink_store_t *st = new_store(db);
  ww_sink_counts_t c;
  CHECK(st != NULL);
  if (!st)
    goto done;
  memset(&c, 0, sizeof(c));
  make_readings(ww_now_ms() - 600000);
  CHECK_INT_EQ(sqlite3_open(sqlite3_db_filename(db, "main"), &other), SQLITE_OK);
  CHECK_INT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 20);
  CHECK_INT_EQ(ww_sink_store_apply(st, readings, N_READINGS, &c, errstr, sizeof(errstr)),
               WW_ERR_BUSY);
  CHECK_INT_EQ(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
  CHECK_INT_EQ(apply(st, readings, N_READINGS, &c), WW_OK);
  CHECK_INT_EQ(c.readings, N_READINGS);
  /* A reader sees committed rows while the writer keeps going (WAL). */
  CHECK_INT_EQ(q_int(other, "SELECT count(*) FROM sensor_readings"), N_READINGS);
done:
  sqlite3_close(other);
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

static void test_retention(void) {
  sqlite3 *db = open_db();
  char errstr[256];
  ww_sink_store_t *st = new_store(db);
  ww_sink_retention_t *ret = NULL;
  ww_sink_counts_t c;
  int64_t now = ww_now_ms(), del_r = 0, del_u = 0;
  int more = 1, steps = 0;
  CHECK(st != NULL);
  if (!st)
    goto done;
  memset(&c, 0, sizeof(c));
  /* 200 readings from 100 s before the cut-off to 100 s after it. */
  make_readings(now - 3600000 - 100000);
  CHECK_INT_EQ(apply(st, readings, N_READINGS, &c), WW_OK);
  ret = ww_sink_retention_new(db, fac, 3600000, 3600000 + 30000, 30, errstr, sizeof(errstr));
  CHECK(ret != NULL);
  if (!ret)
    goto done;
  while (more && steps < 100) {
    CHECK_INT_EQ(ww_sink_retention_step(ret, now, &more, &del_r, &del_u, errstr, sizeof(errstr)),
                 WW_OK);
    steps++;
  }
  CHECK_INT_EQ(del_r, 100);
  CHECK(steps >= 4); /* 30 rows per transaction */
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings"), 100);
  CHECK(q_int(db, "SELECT min(ts_ms) FROM sensor_readings") >= now - 3600000);
  CHECK(del_u > 0);
  {
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM readings_rollup_1m WHERE minute_ms < %lld",
             (long long)(now - 3600000 - 30000));
    CHECK_INT_EQ(q_int(db, sql), 0);
  }
  CHECK(q_int(db, "SELECT count(*) FROM readings_rollup_1m") > 0);
  /* Alerts and models are never expired: nothing else changed. */
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM kafka_offsets"), 2);
done:
  ww_sink_retention_destroy(ret);
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

/* The writer thread: one batch in flight, results collected, the same
 * batch resubmitted is skipped by the offsets. Pre-decoded readings too. */
static void test_writer(void) {
  sqlite3 *db = open_db();
  ww_sink_store_t *st = new_store(db);
  ww_sink_writer_t *w = st ? ww_sink_writer_new(st) : NULL;
  static ww_sink_pre_t pre[N_READINGS];
  ww_sink_result_t res;
  CHECK(w != NULL);
  if (!w)
    goto done;
  make_readings(ww_now_ms() - 600000);
  for (int i = 0; i < N_READINGS; i++) {
    ww_sink_predecode(fac, &readings[i], &pre[i]);
    readings[i].pre = &pre[i];
  }
  CHECK_INT_EQ(ww_sink_writer_result(w, 0, &res), -1); /* nothing in flight */
  CHECK(ww_sink_writer_idle(w));
  CHECK_INT_EQ(ww_sink_writer_submit(w, readings, N_READINGS / 2), 0);
  CHECK_INT_EQ(ww_sink_writer_submit(w, readings, N_READINGS), -1); /* one at a time */
  CHECK_INT_EQ(ww_sink_writer_result(w, -1, &res), 1);
  CHECK_INT_EQ(res.err, WW_OK);
  CHECK_INT_EQ(res.c.readings, N_READINGS / 2);
  CHECK(ww_sink_writer_idle(w));
  CHECK_INT_EQ(ww_sink_writer_submit(w, readings, N_READINGS), 0);
  while (ww_sink_writer_result(w, 5, &res) == 0)
    ;
  CHECK_INT_EQ(res.err, WW_OK);
  CHECK_INT_EQ(res.c.readings, N_READINGS / 2);
  CHECK_INT_EQ(res.c.skipped, N_READINGS / 2);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings"), N_READINGS);
  CHECK_STR_EQ(q_str(db, "SELECT timestamp FROM sensor_readings WHERE sequence_number=0"),
               pre[0].ts);
  /* Destroy with a batch in flight: it finishes, it is not abandoned. */
  for (int i = 0; i < N_READINGS; i++)
    readings[i].offset += 1000;
  CHECK_INT_EQ(ww_sink_writer_submit(w, readings, N_READINGS), 0);
  ww_sink_writer_destroy(w);
  w = NULL;
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sensor_readings"), 2 * N_READINGS);
done:
  for (int i = 0; i < N_READINGS; i++)
    readings[i].pre = NULL;
  ww_sink_writer_destroy(w);
  ww_sink_store_destroy(st);
  ww_db_close(db);
}

int main(void) {
  char errstr[512];
  snprintf(dir, sizeof(dir), "/tmp/ww-test-sink.XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  cfg = ww_config_load_yaml(WW_ROLE_SINK, "", 0, NULL, 0, NULL, errstr, sizeof(errstr));
  if (!cfg) {
    fprintf(stderr, "config: %s\n", errstr);
    return 1;
  }
  fac = ww_config_factory(cfg);
  RUN(test_apply_once);
  RUN(test_overlap);
  RUN(test_refused_row);
  RUN(test_rollups);
  RUN(test_alert_lifecycle);
  RUN(test_windows_models_dead);
  RUN(test_window_model_state);
  RUN(test_model_bodies);
  RUN(test_model_strings);
  RUN(test_full);
  RUN(test_busy);
  RUN(test_retention);
  RUN(test_writer);
  ww_config_destroy(cfg);
  if (!ww_test_failures) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", dir);
  }
  return WW_TEST_RESULT();
}
