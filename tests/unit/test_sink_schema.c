/* test_sink_schema.c: the schema migrates forward, and the hot queries use indexes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "windwatch/config.h"
#include "windwatch/db.h"
#include "ww_test.h"

static ww_config_t *cfg;
static char dir[64];

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

/* EXPLAIN QUERY PLAN of \p sql, its detail lines joined with "; ". */
static const char *plan(sqlite3 *db, const char *sql) {
  static char buf[2048];
  char eqp[1024];
  sqlite3_stmt *st = NULL;
  size_t o = 0;
  buf[0] = '\0';
  snprintf(eqp, sizeof(eqp), "EXPLAIN QUERY PLAN %s", sql);
  if (sqlite3_prepare_v2(db, eqp, -1, &st, NULL) != SQLITE_OK) {
    snprintf(buf, sizeof(buf), "(prepare failed: %s)", sqlite3_errmsg(db));
    return buf;
  }
  while (sqlite3_step(st) == SQLITE_ROW && o < sizeof(buf) - 1) {
    int k = snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? "; " : "",
                     (const char *)sqlite3_column_text(st, 3));
    if (k < 0)
      break;
    o += (size_t)k;
  }
  sqlite3_finalize(st);
  return buf;
}

/* A query is acceptable when it searches \p index and never scans a whole table
 * or sorts in a temporary B-tree. */
static void check_indexed(sqlite3 *db, const char *sql, const char *index) {
  const char *p = plan(db, sql);
  int ok = strstr(p, index) != NULL && !strstr(p, "TEMP B-TREE");
  /* "SCAN t" without an index is a full table scan; "SCAN t USING INDEX"
   * walking an index from one end (ORDER BY ... LIMIT) is fine. */
  for (const char *s = strstr(p, "SCAN "); s; s = strstr(s + 1, "SCAN ")) {
    const char *end = strchr(s, ';'), *using = strstr(s, "USING");
    if (!using || (end && using > end))
      ok = 0;
  }
  CHECK(ok);
  if (!ok)
    fprintf(stderr, "  query: %s\n  plan:  %s\n  want:  %s\n", sql, p, index);
}

static void test_fresh_file(void) {
  char path[128], errstr[256];
  sqlite3 *db;
  snprintf(path, sizeof(path), "%s/fresh.db", dir);
  db = ww_db_open_rw(path, ww_config_factory(cfg), errstr, sizeof(errstr));
  CHECK(db != NULL);
  if (!db)
    return;
  CHECK_INT_EQ(ww_db_schema_version(db), WW_DB_SCHEMA_VERSION);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM production_lines"), ww_config_factory(cfg)->n_lines);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                         "('production_lines','sensor_readings','window_stats','alerts','models',"
                         "'dead_letters','readings_rollup_1m','kafka_offsets')"),
               8);
  ww_db_close(db);
  /* Opening again is a no-op migration and keeps the data. */
  db = ww_db_open_rw(path, ww_config_factory(cfg), errstr, sizeof(errstr));
  CHECK(db != NULL);
  if (db) {
    CHECK_INT_EQ(ww_db_schema_version(db), WW_DB_SCHEMA_VERSION);
    ww_db_close(db);
  }
}

/* A file from before windwatch (user_version 0, foreign table): migrated forward,
 * its own table untouched. */
static void test_old_file(void) {
  char path[128], errstr[256];
  sqlite3 *db = NULL;
  snprintf(path, sizeof(path), "%s/old.db", dir);
  CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_INT_EQ(sqlite3_exec(db, "CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES('keep');",
                            NULL, NULL, NULL),
               SQLITE_OK);
  sqlite3_close(db);
  db = ww_db_open_rw(path, ww_config_factory(cfg), errstr, sizeof(errstr));
  CHECK(db != NULL);
  if (!db) {
    fprintf(stderr, "  %s\n", errstr);
    return;
  }
  CHECK_INT_EQ(ww_db_schema_version(db), WW_DB_SCHEMA_VERSION);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM notes"), 1);
  CHECK_INT_EQ(q_int(db, "SELECT count(*) FROM kafka_offsets"), 0);
  CHECK_INT_EQ(q_int(db, "PRAGMA journal_mode = WAL") >= -1, 1);
  ww_db_close(db);
}

/* A file from a newer build is refused, not damaged. */
static void test_newer_file(void) {
  char path[128], errstr[256], sql[64];
  sqlite3 *db = NULL;
  snprintf(path, sizeof(path), "%s/newer.db", dir);
  snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", WW_DB_SCHEMA_VERSION + 1);
  CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_INT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  errstr[0] = '\0';
  db = ww_db_open_rw(path, ww_config_factory(cfg), errstr, sizeof(errstr));
  CHECK(db == NULL);
  CHECK_STR_CONTAINS(errstr, "newer");
  ww_db_close(db);
}

static void test_query_plans(void) {
  char path[128], errstr[256];
  sqlite3 *db;
  snprintf(path, sizeof(path), "%s/plans.db", dir);
  db = ww_db_open_rw(path, ww_config_factory(cfg), errstr, sizeof(errstr));
  CHECK(db != NULL);
  if (!db)
    return;
  /* The api's reading queries: newest first, by time range, by line. */
  check_indexed(db, "SELECT * FROM sensor_readings ORDER BY ts_ms DESC, id DESC LIMIT 50",
                "sensor_readings_ts");
  check_indexed(db,
                "SELECT * FROM sensor_readings WHERE ts_ms >= ?2 AND ts_ms <= ?3 "
                "ORDER BY ts_ms DESC, id DESC LIMIT ?4",
                "sensor_readings_ts");
  check_indexed(db,
                "SELECT * FROM sensor_readings WHERE production_line = ?1 "
                "ORDER BY ts_ms DESC, id DESC LIMIT 1",
                "sensor_readings_line_ts");
  check_indexed(db,
                "SELECT * FROM sensor_readings WHERE production_line = ?1 AND ts_ms >= ?2 "
                "AND ts_ms <= ?3 ORDER BY ts_ms DESC LIMIT 100",
                "sensor_readings_line_ts");
  check_indexed(db, "SELECT max(ts_ms) FROM sensor_readings", "sensor_readings_ts");
  /* Alerts and windows. */
  check_indexed(db, "SELECT * FROM alerts ORDER BY updated_ms DESC LIMIT 50", "alerts_updated");
  check_indexed(db,
                "SELECT * FROM alerts WHERE production_line = ?1 ORDER BY updated_ms DESC "
                "LIMIT 50",
                "alerts_line_updated");
  check_indexed(db, "SELECT * FROM alerts WHERE alert_id = ?1", "sqlite_autoindex_alerts");
  check_indexed(db,
                "SELECT * FROM window_stats WHERE production_line = ?1 "
                "ORDER BY window_end_ms DESC, id DESC LIMIT 1",
                "window_stats_line_end");
  check_indexed(db,
                "SELECT window_end_ms, training_readings, training_needed "
                "FROM window_stats WHERE production_line = ?1 "
                "ORDER BY window_end_ms DESC, id DESC LIMIT 2",
                "window_stats_line_end");
  check_indexed(db,
                "SELECT * FROM window_stats WHERE window_end_ms >= ?1 "
                "ORDER BY window_end_ms DESC LIMIT 100",
                "window_stats_end");
  /* Rollups for long ranges, per line and sensor. */
  check_indexed(db,
                "SELECT minute_ms, count, sum, min, max FROM readings_rollup_1m "
                "WHERE production_line = ?1 AND sensor = ?2 AND minute_ms >= ?3 "
                "AND minute_ms <= ?4 ORDER BY minute_ms",
                "PRIMARY KEY");
  /* The sink's own: offsets lookup and the retention deletes. */
  check_indexed(db, "SELECT next_offset FROM kafka_offsets WHERE topic = ?1 AND partition = ?2",
                "PRIMARY KEY");
  check_indexed(db, "SELECT id FROM sensor_readings WHERE ts_ms < ?1 ORDER BY ts_ms LIMIT ?2",
                "sensor_readings_ts");
  check_indexed(db,
                "SELECT minute_ms FROM readings_rollup_1m WHERE production_line = ?1 AND "
                "sensor = ?2 AND minute_ms < ?3 ORDER BY minute_ms LIMIT ?4",
                "PRIMARY KEY");
  ww_db_close(db);
}

int main(void) {
  char errstr[512];
  snprintf(dir, sizeof(dir), "/tmp/ww-test-schema.XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  cfg = ww_config_load_yaml(WW_ROLE_SINK, "", 0, NULL, 0, NULL, errstr, sizeof(errstr));
  if (!cfg) {
    fprintf(stderr, "config: %s\n", errstr);
    return 1;
  }
  RUN(test_fresh_file);
  RUN(test_old_file);
  RUN(test_newer_file);
  RUN(test_query_plans);
  ww_config_destroy(cfg);
  if (!ww_test_failures) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", dir);
  }
  return WW_TEST_RESULT();
}
