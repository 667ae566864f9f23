/*
 * api_db.c: one read-only SQLite connection per worker thread, its prepared
 * statements, and row-to-JSON helpers.
 *
 * Every SQL text is a constant in this file. Request values reach SQLite
 * only as bound parameters; a table name from a URL only selects one of the
 * allow-listed constant queries in api_table_sql().
 */
#include "api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/db.h"
#include "windwatch/log.h"
#include "windwatch/timeutil.h"

/* Columns read by api_reading_json(), in this order. */
#define READING_COLS                                                                               \
  "timestamp, production_line, component_id, temperature, humidity, sound_level, "                 \
  "is_anomaly, anomaly_score, severity, model_version, extra_values, id"
/* Columns read by api_alert_json(), in this order. */
#define ALERT_COLS                                                                                 \
  "alert_id, production_line, component_id, state, severity, anomaly_type, opened_ms, "            \
  "updated_ms, resolved_ms, max_score, readings, sensors, last_event"
#define HISTORY(col)                                                                               \
  "SELECT timestamp, production_line, " col ", is_anomaly, anomaly_score, component_id "           \
  "FROM sensor_readings WHERE ts_ms >= ?2 AND ts_ms <= ?3 "                                        \
  "AND (?1 IS NULL OR production_line = ?1) ORDER BY ts_ms DESC, id DESC LIMIT ?4"
/* The same for one line: "production_line = ?1" alone lets SQLite use the (line, ts) index. */
#define HISTORY_LINE(col)                                                                          \
  "SELECT timestamp, production_line, " col ", is_anomaly, anomaly_score, component_id "           \
  "FROM sensor_readings WHERE production_line = ?1 AND ts_ms >= ?2 AND ts_ms <= ?3 "               \
  "ORDER BY ts_ms DESC, id DESC LIMIT ?4"
#define WINDOW_COLS                                                                                \
  "id, production_line, window_type, window_start_ms, window_end_ms, count, anomalous, stats, "    \
  "model_version, training_readings, training_needed"

static const char *const sql_text[Q__COUNT] = {
    [Q_HEALTH] = "SELECT (SELECT count(*) FROM (SELECT 1 FROM sensor_readings LIMIT 1)), "
                 "(SELECT max(ts_ms) FROM sensor_readings), (SELECT count(*) FROM models)",
    [Q_MODEL_NEWEST] = "SELECT production_line, max(version), trained_ms, samples, metadata "
                       "FROM models GROUP BY production_line",
    [Q_LATEST_LINE] = "SELECT " READING_COLS " FROM sensor_readings WHERE production_line = ?1 "
                      "ORDER BY ts_ms DESC, id DESC LIMIT 1",
    [Q_RECENT] = "SELECT " READING_COLS " FROM sensor_readings ORDER BY ts_ms DESC, id DESC "
                 "LIMIT ?1",
    [Q_HISTORY_TEMP] = HISTORY("temperature"),
    [Q_HISTORY_HUM] = HISTORY("humidity"),
    [Q_HISTORY_SOUND] = HISTORY("sound_level"),
    [Q_HISTORY_EXTRA] = HISTORY("json_extract(extra_values, ?5)"),
    [Q_HISTORY_TEMP_LINE] = HISTORY_LINE("temperature"),
    [Q_HISTORY_HUM_LINE] = HISTORY_LINE("humidity"),
    [Q_HISTORY_SOUND_LINE] = HISTORY_LINE("sound_level"),
    [Q_HISTORY_EXTRA_LINE] = HISTORY_LINE("json_extract(extra_values, ?5)"),
    [Q_HISTORY_ROLLUP] = "SELECT minute_ms, production_line, sum / count, min, max, count "
                         "FROM readings_rollup_1m WHERE sensor = ?5 AND minute_ms >= ?2 "
                         "AND minute_ms <= ?3 AND (?1 IS NULL OR production_line = ?1) "
                         "ORDER BY minute_ms DESC, production_line LIMIT ?4",
    [Q_COUNT_RANGE] = "SELECT count(*), min(ts_ms), max(ts_ms) FROM sensor_readings",
    [Q_SUMMARY] = "SELECT count(*), avg(temperature), avg(humidity), avg(sound_level), "
                  "avg(anomaly_score), min(ts_ms), max(ts_ms), total(is_anomaly) "
                  "FROM sensor_readings WHERE ts_ms >= ?1 AND ts_ms <= ?2",
    [Q_ALERTS] =
        "SELECT " ALERT_COLS " FROM alerts WHERE (?1 IS NULL OR production_line = ?1) "
        "AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR severity = ?3) "
        "AND updated_ms >= ?4 AND (updated_ms < ?5 OR (updated_ms = ?5 AND alert_id < ?6)) "
        "ORDER BY updated_ms DESC, alert_id DESC LIMIT ?7",
    [Q_ALERT_ONE] = "SELECT " ALERT_COLS " FROM alerts WHERE alert_id = ?1",
    [Q_ALERTS_ACTIVE_LINE] = "SELECT " ALERT_COLS " FROM alerts WHERE state = 'open' "
                             "AND production_line = ?1 ORDER BY updated_ms DESC LIMIT 50",
    [Q_WINDOWS] = "SELECT " WINDOW_COLS " FROM window_stats WHERE window_end_ms >= ?2 "
                  "AND window_end_ms <= ?3 AND (?1 IS NULL OR production_line = ?1) "
                  "ORDER BY window_end_ms DESC, id DESC LIMIT ?4",
    [Q_WINDOW_LATEST_LINE] = "SELECT " WINDOW_COLS " FROM window_stats WHERE production_line = ?1 "
                             "ORDER BY window_end_ms DESC, id DESC LIMIT 1",
    [Q_WINDOW_TRAINING_LINE] = "SELECT window_end_ms, training_readings, training_needed "
                               "FROM window_stats WHERE production_line = ?1 "
                               "ORDER BY window_end_ms DESC, id DESC LIMIT 2",
    [Q_MODELS] = "SELECT production_line, version, trained_ms, samples, metadata, length(model) "
                 "FROM models ORDER BY production_line, version DESC",
    [Q_STREAM_MARKS] = "SELECT (SELECT coalesce(max(updated_ms), 0) FROM alerts), "
                       "(SELECT coalesce(max(id), 0) FROM window_stats)",
    [Q_ALERTS_SINCE] = "SELECT " ALERT_COLS " FROM alerts WHERE updated_ms > ?1 "
                       "OR (updated_ms = ?1 AND alert_id > ?2) ORDER BY updated_ms, alert_id "
                       "LIMIT 200",
    [Q_MODEL_VERSIONS] =
        "SELECT production_line, max(version) FROM models GROUP BY production_line",
    [Q_MODEL_BLOB] = "SELECT model FROM models WHERE production_line = ?1 AND version = ?2",
    /* Model features (api_features.c): on the (production_line, ts_ms) index,
     * whose ties are in rowid order, i.e. the order the sink stored them. */
    [Q_FEAT_PANES] = "SELECT ts_ms, severity, temperature, humidity, sound_level, extra_values "
                     "FROM sensor_readings INDEXED BY sensor_readings_line_ts "
                     "WHERE production_line = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 "
                     "AND component_id = ?4 ORDER BY ts_ms, id",
    [Q_FEAT_LAST] = "SELECT ts_ms, severity, temperature, humidity, sound_level, extra_values, "
                    "component_id FROM sensor_readings INDEXED BY sensor_readings_line_ts "
                    "WHERE production_line = ?1 AND ts_ms < ?2 ORDER BY ts_ms DESC, id DESC "
                    "LIMIT ?3",
    [Q_WINDOWS_SINCE] = "SELECT " WINDOW_COLS " FROM window_stats WHERE id > ?1 ORDER BY id "
                        "LIMIT 200",
    [Q_DATA_VERSION] = "PRAGMA data_version",
};

/* The tables /api/table-data may show, each with its one fixed query (?1 = limit).
 * Blobs are left out or shown as text. */
static const struct {
  const char *name;
  const char *sql;
} tables[] = {
    {"sensor_readings",
     "SELECT id, timestamp, production_line, component_id, sequence_number, temperature, "
     "humidity, sound_level, extra_values, is_anomaly, anomaly_score, severity, model_version, "
     "zscore, injected_anomaly, episode_id FROM sensor_readings ORDER BY ts_ms DESC, id DESC "
     "LIMIT ?1"},
    {"window_stats", "SELECT " WINDOW_COLS " FROM window_stats ORDER BY window_end_ms DESC, "
                     "id DESC LIMIT ?1"},
    {"alerts", "SELECT " ALERT_COLS " FROM alerts ORDER BY updated_ms DESC LIMIT ?1"},
    {"models", "SELECT production_line, version, trained_ms, samples, metadata FROM models "
               "ORDER BY trained_ms DESC LIMIT ?1"},
    {"model_metadata", "SELECT model_version, training_date, metrics FROM model_metadata "
                       "LIMIT ?1"},
    {"production_lines", "SELECT id, name, components, sensors FROM production_lines "
                         "ORDER BY id LIMIT ?1"},
    {"dead_letters", "SELECT id, received_ms, reason, detail, src_topic, src_partition, "
                     "src_offset, CAST(payload AS TEXT) AS payload FROM dead_letters "
                     "ORDER BY received_ms DESC, id DESC LIMIT ?1"},
    {"readings_rollup_1m", "SELECT production_line, sensor, minute_ms, count, sum, min, max "
                           "FROM readings_rollup_1m ORDER BY minute_ms DESC LIMIT ?1"},
};

const char *api_table_sql(const char *name) {
  for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
    if (!strcmp(tables[i].name, name))
      return tables[i].sql;
  return NULL;
}

/* State of one worker thread. */
typedef struct api_dbconn_s {
  sqlite3 *db;                        /* read-only connection, owned */
  sqlite3_stmt *st[Q__COUNT];         /* prepared lazily, owned */
  json_t *cache[API_CACHE_SLOTS];     /* api_cache_put()'s, owned */
  int64_t cache_ver[API_CACHE_SLOTS]; /* the data_version each was built at */
} api_dbconn_t;

static void dbconn_free(void *p) {
  api_dbconn_t *c = p;
  if (!c)
    return;
  for (int i = 0; i < API_CACHE_SLOTS; i++)
    json_decref(c->cache[i]);
  for (int i = 0; i < Q__COUNT; i++)
    sqlite3_finalize(c->st[i]);
  ww_db_close(c->db);
  free(c);
}

int api_db_init(ww_api_t *api) {
  if (pthread_key_create(&api->db_key, dbconn_free) != 0)
    return -1;
  api->db_key_ok = 1;
  return 0;
}

void api_db_fini(ww_api_t *api) {
  if (!api->db_key_ok)
    return;
  /* The worker threads have exited (their destructors closed their
   * connections); only a connection of the calling thread may remain. */
  dbconn_free(pthread_getspecific(api->db_key));
  (void)pthread_setspecific(api->db_key, NULL);
  pthread_key_delete(api->db_key);
  api->db_key_ok = 0;
}

static api_dbconn_t *dbconn(ww_api_t *api, char *errstr, size_t errstr_size) {
  api_dbconn_t *c = pthread_getspecific(api->db_key);
  if (c)
    return c;
  c = calloc(1, sizeof(*c));
  if (!c) {
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  /* A failed open is not cached: the next request tries again, so the api
   * may start before the sink has created the database. */
  c->db = ww_db_open_ro(api->conf.db_path, errstr, errstr_size);
  if (!c->db || pthread_setspecific(api->db_key, c) != 0) {
    if (c->db)
      snprintf(errstr, errstr_size, "cannot store the thread's database connection");
    dbconn_free(c);
    return NULL;
  }
  return c;
}

sqlite3 *api_db(ww_api_t *api, char *errstr, size_t errstr_size) {
  api_dbconn_t *c = dbconn(api, errstr, errstr_size);
  return c ? c->db : NULL;
}

sqlite3_stmt *api_stmt(ww_api_t *api, api_q_t q, char *errstr, size_t errstr_size) {
  api_dbconn_t *c = dbconn(api, errstr, errstr_size);
  if (!c)
    return NULL;
  if (!c->st[q]) {
    if (ww_db_prepare(c->db, sql_text[q], &c->st[q], errstr, errstr_size) != 0)
      return NULL;
  } else {
    sqlite3_reset(c->st[q]);
    sqlite3_clear_bindings(c->st[q]);
  }
  return c->st[q];
}

json_t *api_cache_get(ww_api_t *api, int slot, int64_t *version) {
  char err[256];
  sqlite3_stmt *st = api_stmt(api, Q_DATA_VERSION, err, sizeof(err));
  api_dbconn_t *c = pthread_getspecific(api->db_key);
  int64_t v;
  *version = -1;
  if (!st || sqlite3_step(st) != SQLITE_ROW) {
    if (st)
      sqlite3_reset(st);
    return NULL; /* the handler meets the error itself */
  }
  v = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  *version = v;
  if (c->cache[slot] && c->cache_ver[slot] == v)
    return json_incref(c->cache[slot]);
  return NULL;
}

void api_cache_put(ww_api_t *api, int slot, int64_t version, json_t *v) {
  api_dbconn_t *c = pthread_getspecific(api->db_key);
  if (!c || version < 0)
    return;
  json_decref(c->cache[slot]);
  c->cache[slot] = json_incref(v);
  c->cache_ver[slot] = version;
}

int api_bind_text_or_null(sqlite3_stmt *st, int idx, const char *s) {
  if (!s)
    return sqlite3_bind_null(st, idx);
  return sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
}

json_t *api_col_json(sqlite3_stmt *st, int i) {
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
  case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, i));
  case SQLITE_TEXT:
    return json_stringn((const char *)sqlite3_column_text(st, i),
                        (size_t)sqlite3_column_bytes(st, i));
  default: return json_null(); /* NULL, and blobs, which are never shown raw */
  }
}

json_t *api_row_json(sqlite3_stmt *st) {
  json_t *o = json_object();
  int n = sqlite3_column_count(st);
  for (int i = 0; o && i < n; i++)
    if (json_object_set_new(o, sqlite3_column_name(st, i), api_col_json(st, i)) != 0) {
      json_decref(o);
      return NULL;
    }
  return o;
}

json_t *api_ts_json(int64_t ms) {
  char buf[WW_TS_BUFSZ];
  if (ms < 0)
    return json_null();
  ww_ts_format(ms, buf, sizeof(buf));
  return json_string(buf);
}

json_t *api_col_parse(sqlite3_stmt *st, int i) {
  json_t *v;
  if (sqlite3_column_type(st, i) != SQLITE_TEXT)
    return json_null();
  v = json_loadb((const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i),
                 JSON_DECODE_ANY, NULL);
  return v ? v : json_null();
}

static json_t *real_or_null(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
                                                   : json_real(sqlite3_column_double(st, i));
}

json_t *api_reading_json(sqlite3_stmt *st) {
  json_t *o = json_object(), *extra;
  const char *sev = (const char *)sqlite3_column_text(st, 8);
  if (!o)
    return NULL;
  json_object_set_new(o, "timestamp", api_col_json(st, 0));
  json_object_set_new(o, "production_line", api_col_json(st, 1));
  json_object_set_new(o, "component_id", api_col_json(st, 2));
  json_object_set_new(o, "temperature", real_or_null(st, 3));
  json_object_set_new(o, "humidity", real_or_null(st, 4));
  json_object_set_new(o, "sound_level", real_or_null(st, 5));
  json_object_set_new(o, "is_anomaly", json_boolean(sqlite3_column_int(st, 6)));
  json_object_set_new(o, "anomaly_score", real_or_null(st, 7));
  json_object_set_new(o, "severity", sev ? json_string(sev) : json_string("normal"));
  json_object_set_new(o, "status", sev ? json_string(sev) : json_string("normal"));
  json_object_set_new(o, "model_version", api_col_json(st, 9));
  /* Sensors beyond the three columns, flattened beside them. */
  extra = api_col_parse(st, 10);
  if (json_is_object(extra))
    json_object_update_missing(o, extra);
  json_decref(extra);
  json_object_set_new(o, "id", api_col_json(st, 11));
  return o;
}

json_t *api_alert_json(sqlite3_stmt *st, int full) {
  json_t *o = json_object(), *last;
  if (!o)
    return NULL;
  json_object_set_new(o, "alert_id", api_col_json(st, 0));
  json_object_set_new(o, "production_line", api_col_json(st, 1));
  json_object_set_new(o, "component_id", api_col_json(st, 2));
  json_object_set_new(o, "state", api_col_json(st, 3));
  json_object_set_new(o, "severity", api_col_json(st, 4));
  json_object_set_new(o, "anomaly_type", api_col_json(st, 5));
  json_object_set_new(o, "opened_at", api_ts_json(sqlite3_column_int64(st, 6)));
  json_object_set_new(o, "updated_at", api_ts_json(sqlite3_column_int64(st, 7)));
  json_object_set_new(o, "resolved_at",
                      sqlite3_column_type(st, 8) == SQLITE_NULL
                          ? json_null()
                          : api_ts_json(sqlite3_column_int64(st, 8)));
  json_object_set_new(o, "max_score", real_or_null(st, 9));
  json_object_set_new(o, "readings", api_col_json(st, 10));
  json_object_set_new(o, "sensors", api_col_parse(st, 11));
  last = api_col_parse(st, 12);
  if (json_is_object(last) && json_object_get(last, "details"))
    json_object_set(o, "details", json_object_get(last, "details"));
  else
    json_object_set_new(o, "details", json_null());
  if (full)
    json_object_set(o, "last_event", last);
  json_decref(last);
  return o;
}

int api_step_done(sqlite3_stmt *st, int rc, char *err, size_t errsz) {
  int ok = rc == SQLITE_DONE;
  if (!ok)
    snprintf(err, errsz, "%s", sqlite3_errmsg(sqlite3_db_handle(st)));
  sqlite3_reset(st);
  return ok ? 0 : -1;
}

json_t *api_rows_done(sqlite3_stmt *st, int rc, json_t *a, char *err, size_t errsz) {
  if (api_step_done(st, rc, err, errsz) != 0) {
    json_decref(a);
    a = NULL;
  }
  return a;
}
