/* test_db.c: schema creation, migration, read-only opens, query plans. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "windwatch/config.h"
#include "windwatch/db.h"
#include "ww_test.h"

static char dir[] = "/tmp/ww-test-db.XXXXXX";

static int count_rows(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  int n = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return n;
}

/* The plan of \p sql must search an index, never scan a table. */
static void check_plan_uses_index(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  char eqp[1024];
  int scans = 0, searches = 0;
  snprintf(eqp, sizeof(eqp), "EXPLAIN QUERY PLAN %s", sql);
  CHECK_INT_EQ(sqlite3_prepare_v2(db, eqp, -1, &st, NULL), SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *d = (const char *)sqlite3_column_text(st, 3);
    if (strncmp(d, "SCAN ", 5) == 0 && !strstr(d, "USING INDEX") && !strstr(d, "COVERING INDEX"))
      scans++, fprintf(stderr, "  plan of %s: %s\n", sql, d);
    if (strstr(d, "INDEX") || strstr(d, "PRIMARY KEY"))
      searches++;
  }
  sqlite3_finalize(st);
  CHECK_INT_EQ(scans, 0);
  CHECK(searches > 0);
}

static void test_create_and_reopen(const ww_factory_t *fac) {
  char err[512], path[256];
  sqlite3 *db, *ro;
  snprintf(path, sizeof(path), "%s/a.db", dir);
  db = ww_db_open_rw(path, fac, err, sizeof(err));
  CHECK(db != NULL);
  if (!db) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  CHECK_INT_EQ(ww_db_schema_version(db), WW_DB_SCHEMA_VERSION);
  CHECK_INT_EQ(count_rows(db, "SELECT count(*) FROM production_lines"), 2);
  CHECK_INT_EQ(count_rows(db, "SELECT count(*) FROM production_lines WHERE id='turbine-line-1' "
                              "AND components='[\"Blade\",\"Resin Infusion\",\"Curing Oven\"]'"),
               1);
  CHECK_INT_EQ(count_rows(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode='wal'"),
               1);
  CHECK_INT_EQ(
      ww_db_exec(db,
                 "INSERT INTO sensor_readings(timestamp, ts_ms, production_line, "
                 "component_id, temperature) VALUES('t', 1, 'turbine-line-1', 'Blade', 20)",
                 err, sizeof(err)),
      0);
  /* A reader sees committed rows while the writer is open (WAL). */
  ro = ww_db_open_ro(path, err, sizeof(err));
  CHECK(ro != NULL);
  if (ro) {
    CHECK_INT_EQ(count_rows(ro, "SELECT count(*) FROM sensor_readings"), 1);
    CHECK(ww_db_exec(ro, "DELETE FROM sensor_readings", err, sizeof(err)) != 0);
    check_plan_uses_index(ro, "SELECT * FROM sensor_readings ORDER BY ts_ms DESC LIMIT 50");
    check_plan_uses_index(ro, "SELECT * FROM sensor_readings WHERE production_line = 'x' "
                              "ORDER BY ts_ms DESC LIMIT 50");
    check_plan_uses_index(ro, "SELECT * FROM sensor_readings WHERE ts_ms BETWEEN 1 AND 2");
    check_plan_uses_index(ro, "SELECT * FROM alerts WHERE state = 'open' ORDER BY updated_ms "
                              "DESC LIMIT 10");
    check_plan_uses_index(ro, "SELECT * FROM window_stats WHERE production_line = 'x' ORDER BY "
                              "window_end_ms DESC LIMIT 1");
    check_plan_uses_index(ro, "SELECT * FROM readings_rollup_1m WHERE production_line = 'x' AND "
                              "sensor = 'temperature' AND minute_ms >= 0");
    ww_db_close(ro);
  }
  ww_db_close(db);
  /* Re-opening migrates nothing and keeps the rows. */
  db = ww_db_open_rw(path, fac, err, sizeof(err));
  CHECK(db != NULL);
  if (db) {
    CHECK_INT_EQ(count_rows(db, "SELECT count(*) FROM sensor_readings"), 1);
    ww_db_close(db);
  }
}

/* A version-1 file with rows migrates forward and keeps them. */
static void test_old_file_migrates(const ww_factory_t *fac) {
  char err[512], path[256];
  sqlite3 *db;
  snprintf(path, sizeof(path), "%s/v1.db", dir);
  CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_INT_EQ(ww_db_migrate_to(db, 1, err, sizeof(err)), 0);
  CHECK_INT_EQ(ww_db_schema_version(db), 1);
  CHECK_INT_EQ(ww_db_exec(db,
                          "INSERT INTO readings_rollup_1m VALUES('l','temperature',60000,2,"
                          "50,20,30)",
                          err, sizeof(err)),
               0);
  CHECK_INT_EQ(ww_db_exec(db,
                          "INSERT INTO window_stats(production_line, window_start_ms, "
                          "window_end_ms, window_type, count, stats) "
                          "VALUES('l',0,60000,'time',5,'{}')",
                          err, sizeof(err)),
               0);
  CHECK_INT_EQ(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name="
                              "'readings_rollup_1m_minute'"),
               0);
  sqlite3_close(db);
  db = ww_db_open_rw(path, fac, err, sizeof(err));
  CHECK(db != NULL);
  if (!db)
    return;
  CHECK_INT_EQ(ww_db_schema_version(db), WW_DB_SCHEMA_VERSION);
  CHECK_INT_EQ(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name="
                              "'readings_rollup_1m_minute'"),
               1);
  CHECK_INT_EQ(count_rows(db, "SELECT count FROM readings_rollup_1m"), 2);
  /* Version 3's columns: NULL in the rows that were there before. */
  CHECK_INT_EQ(count_rows(db, "SELECT count(*) FROM window_stats WHERE count = 5 AND "
                              "model_version IS NULL AND training_readings IS NULL AND "
                              "training_needed IS NULL"),
               1);
  ww_db_close(db);
}

static void test_refuses_newer_and_missing(void) {
  char err[512], path[256];
  sqlite3 *db;
  snprintf(path, sizeof(path), "%s/newer.db", dir);
  CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_INT_EQ(ww_db_exec(db, "PRAGMA user_version = 999", err, sizeof(err)), 0);
  sqlite3_close(db);
  CHECK(ww_db_open_rw(path, NULL, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "newer");
  CHECK(ww_db_open_ro(path, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "999");
  snprintf(path, sizeof(path), "%s/missing.db", dir);
  CHECK(ww_db_open_ro(path, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "missing.db");
}

int main(void) {
  char err[256];
  char *argv[] = {"x", NULL};
  ww_config_t *cfg;
  if (!mkdtemp(dir))
    return 1;
  cfg = ww_config_load_yaml(WW_ROLE_SINK, NULL, 0, NULL, 1, argv, err, sizeof(err));
  if (!cfg)
    return 1;
  test_create_and_reopen(ww_config_factory(cfg));
  fprintf(stderr, "ran test_create_and_reopen\n");
  test_old_file_migrates(ww_config_factory(cfg));
  fprintf(stderr, "ran test_old_file_migrates\n");
  RUN(test_refuses_newer_and_missing);
  ww_config_destroy(cfg);
  {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", dir);
  }
  return WW_TEST_RESULT();
}
