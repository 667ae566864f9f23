/* db.c: the one SQLite schema, its forward migrations, and connection set-up. */
#include "windwatch/db.h"

#include <stdio.h>
#include <string.h>

#include "windwatch/log.h"

#define WW_DB_BUSY_TIMEOUT_MS 5000 /* a writer holds the lock for one batch at most */

/*
 * Migration N takes a database from user_version N-1 to N. Never edit a
 * migration that has shipped; add a new one. Every api query must be an
 * index range scan over these tables (tests/unit/test_db.c checks with
 * EXPLAIN QUERY PLAN).
 */
static const char *const migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE production_lines ("
    "  id TEXT PRIMARY KEY," /* turbine-line-1 */
    "  name TEXT NOT NULL,"
    "  components TEXT NOT NULL," /* JSON array of component ids */
    "  sensors TEXT NOT NULL"     /* JSON array of sensor names */
    ");"
    /* One row per reading, the original sensor_readings columns and more. */
    "CREATE TABLE sensor_readings ("
    "  id INTEGER PRIMARY KEY,"
    "  timestamp TEXT NOT NULL," /* RFC 3339 UTC, ms */
    "  ts_ms INTEGER NOT NULL,"  /* the same instant, ms since epoch */
    "  production_line TEXT NOT NULL,"
    "  component_id TEXT NOT NULL,"
    "  sequence_number INTEGER,"
    "  temperature REAL,"  /* degC */
    "  humidity REAL,"     /* %RH */
    "  sound_level REAL,"  /* dB */
    "  extra_values TEXT," /* JSON object of other configured sensors, or NULL */
    "  is_anomaly INTEGER NOT NULL DEFAULT 0," /* 1 when severity != normal */
    "  anomaly_score REAL,"                    /* 0..1 */
    "  severity TEXT,"                         /* normal | warning | critical */
    "  model_version INTEGER,"
    "  zscore REAL,"
    "  injected_anomaly TEXT," /* ground truth from the simulator, or NULL */
    "  episode_id INTEGER,"
    "  src_partition INTEGER," /* Kafka coordinates of the scored message */
    "  src_offset INTEGER"
    ");"
    "CREATE INDEX sensor_readings_ts ON sensor_readings(ts_ms);"
    "CREATE INDEX sensor_readings_line_ts ON sensor_readings(production_line, ts_ms);"
    "CREATE TABLE window_stats ("
    "  id INTEGER PRIMARY KEY,"
    "  production_line TEXT NOT NULL,"
    "  window_start_ms INTEGER NOT NULL,"
    "  window_end_ms INTEGER NOT NULL,"
    "  window_type TEXT NOT NULL," /* time | count */
    "  count INTEGER NOT NULL,"
    "  anomalous INTEGER NOT NULL DEFAULT 0,"
    "  stats TEXT NOT NULL" /* JSON: per sensor mean, std, min, max, p50, p95, trend */
    ");"
    "CREATE INDEX window_stats_end ON window_stats(window_end_ms);"
    "CREATE INDEX window_stats_line_end ON window_stats(production_line, window_end_ms);"
    /* One row per alert episode, updated through its lifecycle. */
    "CREATE TABLE alerts ("
    "  alert_id TEXT PRIMARY KEY,"
    "  production_line TEXT NOT NULL,"
    "  component_id TEXT,"
    "  state TEXT NOT NULL," /* open | resolved */
    "  severity TEXT NOT NULL,"
    "  anomaly_type TEXT,"
    "  opened_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  resolved_ms INTEGER,"
    "  max_score REAL,"
    "  readings INTEGER NOT NULL DEFAULT 0,"
    "  sensors TEXT,"            /* JSON array */
    "  last_event TEXT NOT NULL" /* the newest alert message, JSON */
    ");"
    "CREATE INDEX alerts_updated ON alerts(updated_ms);"
    "CREATE INDEX alerts_line_updated ON alerts(production_line, updated_ms);"
    "CREATE INDEX alerts_state_updated ON alerts(state, updated_ms);"
    "CREATE TABLE models ("
    "  production_line TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  trained_ms INTEGER NOT NULL,"
    "  samples INTEGER NOT NULL,"
    "  metadata TEXT NOT NULL," /* JSON: features, quantiles, thresholds */
    "  model BLOB,"             /* the serialized model */
    "  PRIMARY KEY (production_line, version)"
    ");"
    /* The original's model_metadata table, kept as a view. */
    "CREATE VIEW model_metadata AS SELECT production_line || '-v' || version AS model_version,"
    "  strftime('%Y-%m-%dT%H:%M:%fZ', trained_ms / 1000.0, 'unixepoch') AS training_date,"
    "  metadata AS metrics FROM models;"
    "CREATE TABLE dead_letters ("
    "  id INTEGER PRIMARY KEY,"
    "  received_ms INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  detail TEXT,"
    "  src_topic TEXT,"
    "  src_partition INTEGER,"
    "  src_offset INTEGER,"
    "  payload BLOB" /* the original bytes, unchanged */
    ");"
    "CREATE INDEX dead_letters_received ON dead_letters(received_ms);"
    /* One-minute rollups, kept longer than raw readings. */
    "CREATE TABLE readings_rollup_1m ("
    "  production_line TEXT NOT NULL,"
    "  sensor TEXT NOT NULL,"
    "  minute_ms INTEGER NOT NULL," /* start of the minute, ms since epoch */
    "  count INTEGER NOT NULL,"
    "  sum REAL NOT NULL,"
    "  min REAL NOT NULL,"
    "  max REAL NOT NULL,"
    "  PRIMARY KEY (production_line, sensor, minute_ms)"
    ") WITHOUT ROWID;"
    /* Next offset to consume per partition, written in the same transaction as
     * the rows it covers: this is what makes the sink exactly-once. */
    "CREATE TABLE kafka_offsets ("
    "  topic TEXT NOT NULL,"
    "  partition INTEGER NOT NULL,"
    "  next_offset INTEGER NOT NULL,"
    "  PRIMARY KEY (topic, partition)"
    ") WITHOUT ROWID;",

    /* 2: indexes for the api's rollup history, table browsing and model list */
    "CREATE INDEX readings_rollup_1m_sensor_minute ON readings_rollup_1m(sensor, minute_ms DESC,"
    "  production_line);"
    "CREATE INDEX readings_rollup_1m_minute ON readings_rollup_1m(minute_ms);"
    "CREATE INDEX models_trained ON models(trained_ms);",

    /* 3: where the line's model stood when a window closed (window-stats'
     * model_version, and training while the first version gathers its rows);
     * NULL in rows from messages without them */
    "ALTER TABLE window_stats ADD COLUMN model_version INTEGER;"
    "ALTER TABLE window_stats ADD COLUMN training_readings INTEGER;"
    "ALTER TABLE window_stats ADD COLUMN training_needed INTEGER;",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == WW_DB_SCHEMA_VERSION,
               "add a migration for every schema version");

int ww_db_exec(sqlite3 *db, const char *sql, char *errstr, size_t errstr_size) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(errstr, errstr_size, "sqlite: %s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

int ww_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt, char *errstr,
                  size_t errstr_size) {
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL) != SQLITE_OK) {
    snprintf(errstr, errstr_size, "sqlite: cannot prepare statement: %s", sqlite3_errmsg(db));
    *stmt = NULL;
    return -1;
  }
  return 0;
}

int ww_db_schema_version(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  int v = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

int ww_db_migrate(sqlite3 *db, char *errstr, size_t errstr_size) {
  return ww_db_migrate_to(db, N_MIGRATIONS, errstr, errstr_size);
}

int ww_db_migrate_to(sqlite3 *db, int target, char *errstr, size_t errstr_size) {
  char sql[64];
  int v = ww_db_schema_version(db);
  if (v < 0) {
    snprintf(errstr, errstr_size, "sqlite: cannot read schema version: %s", sqlite3_errmsg(db));
    return -1;
  }
  if (v > N_MIGRATIONS) {
    snprintf(errstr, errstr_size,
             "database schema version %d is newer than this build understands (%d); "
             "upgrade windwatch or use another --db file",
             v, N_MIGRATIONS);
    return -1;
  }
  if (target < 0 || target > N_MIGRATIONS)
    target = N_MIGRATIONS;
  if (v >= target)
    return 0;
  if (ww_db_exec(db, "BEGIN IMMEDIATE", errstr, errstr_size) != 0)
    return -1;
  for (int i = v; i < target; i++) {
    if (ww_db_exec(db, migrations[i], errstr, errstr_size) != 0)
      goto err;
    WW_LOG(WW_LOG_INFO, "DB", "schema migrated to version %d", i + 1);
  }
  snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", target);
  if (ww_db_exec(db, sql, errstr, errstr_size) != 0)
    goto err;
  if (ww_db_exec(db, "COMMIT", errstr, errstr_size) != 0)
    goto err;
  return 0;
err:
  sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  return -1;
}

/* Keep production_lines equal to the config: insert or replace every line. */
static int sync_lines(sqlite3 *db, const ww_factory_t *fac, char *errstr, size_t errstr_size) {
  sqlite3_stmt *st = NULL;
  char comps[WW_MAX_COMPONENTS * (WW_ID_MAX + 4) + 4];
  char sens[WW_MAX_SENSORS * (WW_ID_MAX + 4) + 4];
  int rc = -1;

  if (ww_db_exec(db, "BEGIN IMMEDIATE", errstr, errstr_size) != 0)
    return -1;
  if (ww_db_prepare(db,
                    "INSERT INTO production_lines(id, name, components, sensors) VALUES(?,?,?,?) "
                    "ON CONFLICT(id) DO UPDATE SET name=excluded.name, "
                    "components=excluded.components, sensors=excluded.sensors",
                    &st, errstr, errstr_size) != 0)
    goto done;
  for (int i = 0; i < fac->n_lines; i++) {
    const ww_line_def_t *ld = &fac->lines[i];
    size_t o = 0;
    /* Ids come from the validated config (no quotes or backslashes). */
    o += (size_t)snprintf(comps + o, sizeof(comps) - o, "[");
    for (int c = 0; c < ld->n_components; c++)
      o += (size_t)snprintf(comps + o, sizeof(comps) - o, "%s\"%s\"", c ? "," : "",
                            ld->components[c]);
    snprintf(comps + o, sizeof(comps) - o, "]");
    o = 0;
    o += (size_t)snprintf(sens + o, sizeof(sens) - o, "[");
    for (int s = 0; s < ld->n_sensors; s++)
      o += (size_t)snprintf(sens + o, sizeof(sens) - o, "%s\"%s\"", s ? "," : "",
                            fac->sensors[ld->sensor_idx[s]].name);
    snprintf(sens + o, sizeof(sens) - o, "]");
    sqlite3_bind_text(st, 1, ld->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ld->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, comps, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sens, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
      snprintf(errstr, errstr_size, "sqlite: cannot store production line %s: %s", ld->id,
               sqlite3_errmsg(db));
      goto done;
    }
    sqlite3_reset(st);
  }
  if (ww_db_exec(db, "COMMIT", errstr, errstr_size) != 0)
    goto done;
  rc = 0;
done:
  sqlite3_finalize(st);
  if (rc != 0)
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

sqlite3 *ww_db_open_rw(const char *path, const ww_factory_t *fac, char *errstr,
                       size_t errstr_size) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    snprintf(errstr, errstr_size,
             "cannot open database %s: %s (check the --db path and its "
             "directory's permissions)",
             path, db ? sqlite3_errmsg(db) : "out of memory");
    goto err;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, WW_DB_BUSY_TIMEOUT_MS);
  if (ww_db_exec(db, "PRAGMA journal_mode=WAL", errstr, errstr_size) != 0 ||
      ww_db_exec(db, "PRAGMA synchronous=NORMAL", errstr, errstr_size) != 0 ||
      ww_db_exec(db, "PRAGMA foreign_keys=ON", errstr, errstr_size) != 0 ||
      ww_db_exec(db, "PRAGMA temp_store=MEMORY", errstr, errstr_size) != 0)
    goto err;
  if (ww_db_migrate(db, errstr, errstr_size) != 0)
    goto err;
  if (fac && sync_lines(db, fac, errstr, errstr_size) != 0)
    goto err;
  return db;
err:
  sqlite3_close(db);
  return NULL;
}

sqlite3 *ww_db_open_ro(const char *path, char *errstr, size_t errstr_size) {
  sqlite3 *db = NULL;
  int v;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    snprintf(errstr, errstr_size,
             "cannot open database %s read-only: %s (is the sink running "
             "with the same --db?)",
             path, db ? sqlite3_errmsg(db) : "out of memory");
    goto err;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, WW_DB_BUSY_TIMEOUT_MS);
  if (ww_db_exec(db, "PRAGMA query_only=ON", errstr, errstr_size) != 0)
    goto err;
  v = ww_db_schema_version(db);
  if (v < 0) {
    snprintf(errstr, errstr_size, "cannot read %s: %s", path, sqlite3_errmsg(db));
    goto err;
  }
  if (v != WW_DB_SCHEMA_VERSION) {
    snprintf(errstr, errstr_size,
             "database %s has schema version %d, this build reads %d "
             "(start the sink once to migrate it)",
             path, v, WW_DB_SCHEMA_VERSION);
    goto err;
  }
  return db;
err:
  sqlite3_close(db);
  return NULL;
}

void ww_db_close(sqlite3 *db) {
  if (!db)
    return;
  if (sqlite3_close(db) != SQLITE_OK)
    WW_LOG(WW_LOG_WARN, "DB", "close: %s (unfinalised statements)", sqlite3_errmsg(db));
}
