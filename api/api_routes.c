/*
 * api_routes.c: the original system's JSON endpoints, same paths and field
 * names, with its bugs fixed: newest data first, sound_level everywhere, a
 * health check that queries the database, tables by allow-list only.
 */
#include "api_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "windwatch/timeutil.h"

#define DB_FAIL(req, err)                                                                          \
  api_send_error((req), MHD_HTTP_SERVICE_UNAVAILABLE, "database unavailable: %s", (err))

static json_t *now_json(void) {
  return api_ts_json(ww_now_ms());
}

const char *api_scorer(ww_api_t *api) {
  return api_models_loaded(api) > 0 ? "model" : "threshold";
}

void api_score_thresholds(ww_api_t *api, double *warning, double *critical) {
  (void)api;
  /* The dashboard's levels in the original; one set of severities everywhere.
   * A model's own thresholds (metadata "thresholds") override per line. */
  *warning = 0.6;
  *critical = 0.8;
}

/* The newest model per line: {"line": {"version", "trained_at", "samples", "metadata"}}. */
static json_t *models_newest(api_req_t *req, char *err, size_t errsz) {
  sqlite3_stmt *st = api_stmt(req->api, Q_MODEL_NEWEST, err, errsz);
  json_t *o;
  int rc;
  if (!st)
    return NULL;
  o = json_object();
  while (o && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *m = json_object();
    json_object_set_new(m, "version", api_col_json(st, 1));
    json_object_set_new(m, "trained_at", api_ts_json(sqlite3_column_int64(st, 2)));
    json_object_set_new(m, "samples", api_col_json(st, 3));
    json_object_set_new(m, "metadata", api_col_parse(st, 4));
    json_object_set_new(o, (const char *)sqlite3_column_text(st, 0), m);
  }
  if (o && rc != SQLITE_DONE) {
    snprintf(err, errsz, "%s", sqlite3_errmsg(sqlite3_db_handle(st)));
    json_decref(o);
    o = NULL;
  }
  sqlite3_reset(st);
  return o;
}

enum MHD_Result api_h_health(api_req_t *req) {
  char err[256];
  sqlite3_stmt *st = api_stmt(req->api, Q_HEALTH, err, sizeof(err));
  int64_t last_ms = -1, models = 0;
  int rc;
  if (!st)
    goto fail;
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    snprintf(err, sizeof(err), "%s", sqlite3_errmsg(sqlite3_db_handle(st)));
    sqlite3_reset(st);
    goto fail;
  }
  if (sqlite3_column_type(st, 1) != SQLITE_NULL)
    last_ms = sqlite3_column_int64(st, 1);
  models = sqlite3_column_int64(st, 2);
  sqlite3_reset(st);
  return api_send_json(
      req, MHD_HTTP_OK,
      json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:o}", "status", "healthy", "database",
                "connected", "model", models > 0 ? "loaded" : "not_loaded", "scoring",
                api_scorer(req->api), "timestamp", now_json(), "last_reading_at",
                api_ts_json(last_ms), "uptime_seconds",
                (json_int_t)((ww_now_ms() - req->api->started_ms) / 1000), "data_age_seconds",
                last_ms < 0 ? json_null() : json_real((double)(ww_now_ms() - last_ms) / 1000.0)));
fail:
  return api_send_json(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                       json_pack("{s:s, s:s, s:s, s:s, s:o}", "status", "unhealthy", "database",
                                 "error", "error", err, "model", "unknown", "timestamp",
                                 now_json()));
}

void api_lines_age(json_t *lines, int64_t now_ms) {
  const char *id;
  json_t *line;
  json_object_foreach(lines, id, line) {
    const char *t = json_string_value(json_object_get(line, "last_reading_at"));
    int64_t ts;
    if (t && ww_ts_parse(t, strlen(t), &ts) == 0)
      json_object_set_new(line, "age_seconds", json_real((double)(now_ms - ts) / 1000.0));
  }
}

json_t *api_lines_status(api_req_t *req, char *err, size_t errsz) {
  const ww_factory_t *fac = req->api->conf.fac;
  json_t *lines = json_object();

  for (int l = 0; lines && l < fac->n_lines; l++) {
    const ww_line_def_t *ld = &fac->lines[l];
    json_t *line = json_object(), *comps = json_array(), *sensors = json_object();
    sqlite3_stmt *st = api_stmt(req->api, Q_LATEST_LINE, err, errsz);
    int rc;
    for (int c = 0; c < ld->n_components; c++)
      json_array_append_new(comps, json_string(ld->components[c]));
    json_object_set_new(line, "name", json_string(ld->name));
    json_object_set_new(line, "components", comps);
    if (!st) {
      json_decref(line);
      json_decref(sensors);
      goto err;
    }
    sqlite3_bind_text(st, 1, ld->id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      json_t *r = api_reading_json(st);
      for (int s = 0; s < ld->n_sensors; s++) {
        const char *name = fac->sensors[ld->sensor_idx[s]].name;
        json_t *v = json_object_get(r, name);
        json_object_set(sensors, name, v ? v : json_null());
      }
      json_object_set(line, "anomaly_score", json_object_get(r, "anomaly_score"));
      json_object_set(line, "status", json_object_get(r, "severity"));
      json_object_set(line, "component_id", json_object_get(r, "component_id"));
      json_object_set(line, "model_version", json_object_get(r, "model_version"));
      json_object_set(line, "last_reading_at", json_object_get(r, "timestamp"));
      json_decref(r);
    } else if (rc == SQLITE_DONE) {
      for (int s = 0; s < ld->n_sensors; s++)
        json_object_set_new(sensors, fac->sensors[ld->sensor_idx[s]].name, json_null());
      json_object_set_new(line, "anomaly_score", json_null());
      json_object_set_new(line, "status", json_string("no_data"));
      json_object_set_new(line, "last_reading_at", json_null());
    } else {
      snprintf(err, errsz, "%s", sqlite3_errmsg(sqlite3_db_handle(st)));
      sqlite3_reset(st);
      json_decref(line);
      json_decref(sensors);
      goto err;
    }
    sqlite3_reset(st);
    json_object_set_new(line, "sensors", sensors);
    json_object_set_new(lines, ld->id, line);
  }
  if (lines)
    api_lines_age(lines, ww_now_ms());
  return lines;
err:
  json_decref(lines);
  return NULL;
}

/* Newest \p limit readings as a JSON array, or NULL with \p err set. */
static json_t *recent(api_req_t *req, int64_t limit, char *err, size_t errsz) {
  sqlite3_stmt *st = api_stmt(req->api, Q_RECENT, err, errsz);
  json_t *a;
  int rc;
  if (!st)
    return NULL;
  sqlite3_bind_int64(st, 1, limit);
  a = json_array();
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    json_array_append_new(a, api_reading_json(st));
  return api_rows_done(st, rc, a, err, errsz);
}

static json_t *sensor_names(const ww_factory_t *fac) {
  json_t *a = json_array();
  for (int s = 0; s < fac->n_sensors; s++)
    json_array_append_new(a, json_string(fac->sensors[s].name));
  return a;
}

/*
 * The lines without a stored model whose newest window says their first
 * model is gathering its training readings: line id -> {"readings",
 * "needed", "as_of" (that window's end), "readings_per_minute" (how fast
 * they were gathered between the two newest windows, by their event times;
 * null until there are two)}. NULL with \p err set.
 */
static json_t *lines_training(api_req_t *req, const json_t *models, char *err, size_t errsz) {
  const ww_factory_t *fac = req->api->conf.fac;
  json_t *o = json_object();
  for (int l = 0; o && l < fac->n_lines; l++) {
    const char *id = fac->lines[l].id;
    int64_t end[2] = {0, 0}, got[2] = {-1, -1}, need = -1;
    sqlite3_stmt *st;
    int rc, n = 0;
    if (json_object_get(models, id))
      continue;
    /* The newest two, newest first, on the (line, end) index. */
    if (!(st = api_stmt(req->api, Q_WINDOW_TRAINING_LINE, err, errsz)))
      goto err;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < 2) {
      end[n] = sqlite3_column_int64(st, 0);
      if (sqlite3_column_type(st, 1) != SQLITE_NULL && sqlite3_column_type(st, 2) != SQLITE_NULL) {
        got[n] = sqlite3_column_int64(st, 1);
        if (n == 0)
          need = sqlite3_column_int64(st, 2);
      }
      n++;
    }
    if (api_step_done(st, rc, err, errsz) != 0)
      goto err;
    if (need > 0 && got[0] >= 0) {
      json_t *rate =
          got[1] >= 0 && got[0] > got[1] && end[0] > end[1]
              ? json_real((double)(got[0] - got[1]) * 60000.0 / (double)(end[0] - end[1]))
              : json_null();
      json_object_set_new(o, id,
                          json_pack("{s:I, s:I, s:o, s:o}", "readings", (json_int_t)got[0],
                                    "needed", (json_int_t)need, "as_of", api_ts_json(end[0]),
                                    "readings_per_minute", rate));
    }
  }
  return o;
err:
  json_decref(o);
  return NULL;
}

/* The database part of GET /api/current-status: {"lines", "recent",
 * "models", "training"} (new reference), or NULL with \p err set. */
static json_t *status_db(api_req_t *req, char *err, size_t errsz) {
  json_t *lines = NULL, *rec = NULL, *models = NULL, *training = NULL;
  if (!(lines = api_lines_status(req, err, errsz)) || !(rec = recent(req, 10, err, errsz)) ||
      !(models = models_newest(req, err, errsz)) ||
      !(training = lines_training(req, models, err, errsz))) {
    json_decref(lines);
    json_decref(rec);
    json_decref(models);
    return NULL;
  }
  return json_pack("{s:o, s:o, s:o, s:o}", "lines", lines, "recent", rec, "models", models,
                   "training", training);
}

/* Built from the database once per change of it (a sink commit), on each
 * worker thread: dashboards poll this. Only the ages and the clock are new. */
enum MHD_Result api_h_current_status(api_req_t *req) {
  char err[256];
  int64_t version;
  json_t *db = api_cache_get(req->api, API_CACHE_STATUS, &version), *models, *lines;
  int loaded;
  enum MHD_Result ret;
  if (!db) {
    if (!(db = status_db(req, err, sizeof(err))))
      return DB_FAIL(req, err);
    api_cache_put(req->api, API_CACHE_STATUS, version, db);
  }
  lines = json_object_get(db, "lines");
  models = json_object_get(db, "models");
  api_lines_age(lines, ww_now_ms());
  loaded = json_object_size(models) > 0;
  ret = api_send_json(
      req, MHD_HTTP_OK,
      json_pack("{s:{s:o, s:b, s:s, s:b, s:s, s:O, s:O}, s:O, s:O, s:o}", "model_status",
                "features", sensor_names(req->api->conf.fac), "model_loaded", loaded, "model_type",
                "IsolationForest", "scaler_loaded", loaded, "scoring", api_scorer(req->api),
                "models", models, "training", json_object_get(db, "training"), "production_lines",
                lines, "recent_data", json_object_get(db, "recent"), "timestamp", now_json()));
  json_decref(db);
  return ret;
}

enum MHD_Result api_h_production_lines(api_req_t *req) {
  char err[256];
  json_t *lines = api_lines_status(req, err, sizeof(err));
  if (!lines)
    return DB_FAIL(req, err);
  return api_send_json(req, MHD_HTTP_OK, lines);
}

/* A raw reading of one sensor, and a one-minute rollup (value = mean). */
static const api_jw_field_t raw_fields[] = {
    {"timestamp", API_JW_COL, 0},     {"production_line", API_JW_COL, 1},
    {"value", API_JW_COL, 2},         {"is_anomaly", API_JW_BOOL, 3},
    {"anomaly_score", API_JW_COL, 4}, {"component_id", API_JW_COL, 5}};
static const api_jw_field_t rollup_fields[] = {
    {"timestamp", API_JW_TS, 0},    {"production_line", API_JW_COL, 1},
    {"value", API_JW_COL, 2},       {"min", API_JW_COL, 3},
    {"max", API_JW_COL, 4},         {"count", API_JW_COL, 5},
    {"is_anomaly", API_JW_FALSE, 0}};
#define N_FIELDS(f) ((int)(sizeof(f) / sizeof((f)[0])))

/* The rows of history query \p q (?1 line or NULL, ?2 since, ?3 until,
 * ?4 limit, ?5 \p arg5 when not NULL), each as an object of the \p nf
 * fields \p f, comma-separated, into \p w. @returns their number, or -1
 * with \p err set. */
static int64_t history_rows(api_req_t *req, api_q_t q, const char *line, int64_t since,
                            int64_t until, int64_t limit, const char *arg5, const api_jw_field_t *f,
                            int nf, api_jw_t *w, char *err, size_t errsz) {
  sqlite3_stmt *st = api_stmt(req->api, q, err, errsz);
  int64_t n = 0;
  int rc;
  if (!st)
    return -1;
  api_bind_text_or_null(st, 1, line);
  sqlite3_bind_int64(st, 2, since);
  sqlite3_bind_int64(st, 3, until);
  sqlite3_bind_int64(st, 4, limit);
  if (arg5)
    sqlite3_bind_text(st, 5, arg5, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n++)
      API_JW_LIT(w, ",");
    api_jw_row(w, st, f, nf);
  }
  return api_step_done(st, rc, err, errsz) == 0 ? n : -1;
}

/* Raw readings of one sensor (raw_fields), or its one-minute rollups
 * (rollup_fields), into \p w. @returns as history_rows(). */
static int64_t history(api_req_t *req, int sensor_idx, int rollup, const char *line, int64_t since,
                       int64_t until, int64_t limit, api_jw_t *w, char *err, size_t errsz) {
  const char *name = req->api->conf.fac->sensors[sensor_idx].name;
  char path[WW_ID_MAX + 4];
  api_q_t q;
  if (rollup)
    return history_rows(req, Q_HISTORY_ROLLUP, line, since, until, limit, name, rollup_fields,
                        N_FIELDS(rollup_fields), w, err, errsz);
  q = !strcmp(name, "temperature")   ? (line ? Q_HISTORY_TEMP_LINE : Q_HISTORY_TEMP)
      : !strcmp(name, "humidity")    ? (line ? Q_HISTORY_HUM_LINE : Q_HISTORY_HUM)
      : !strcmp(name, "sound_level") ? (line ? Q_HISTORY_SOUND_LINE : Q_HISTORY_SOUND)
                                     : (line ? Q_HISTORY_EXTRA_LINE : Q_HISTORY_EXTRA);
  /* Other sensors live in extra_values: ?5 is their JSON path there. */
  snprintf(path, sizeof(path), "$.\"%s\"", name);
  return history_rows(req, q, line, since, until, limit,
                      q == Q_HISTORY_EXTRA || q == Q_HISTORY_EXTRA_LINE ? path : NULL, raw_fields,
                      N_FIELDS(raw_fields), w, err, errsz);
}

#define ROLLUP_AUTO_MS (6 * 3600 * 1000LL) /* ranges longer than this use rollups by default */

enum MHD_Result api_h_sensor_history(api_req_t *req, const char *sensor) {
  const ww_factory_t *fac = req->api->conf.fac;
  int idx = ww_factory_sensor_find(fac, sensor, strlen(sensor));
  const char *line = api_arg(req, "line"), *res;
  int64_t limit, since, until;
  enum MHD_Result ret = MHD_NO;
  char err[256];
  api_jw_t rows = {0}, body = {0};
  int64_t n;
  int rollup;
  if (idx < 0)
    return api_send_error(req, MHD_HTTP_NOT_FOUND,
                          "unknown sensor '%.64s' (configured sensors: see /api/thresholds)",
                          sensor);
  if (line && ww_factory_line_find(fac, line, strlen(line)) < 0)
    return api_send_error(req, MHD_HTTP_NOT_FOUND, "unknown production line '%.64s'", line);
  if (api_arg_int(req, "limit", 100, 1, WW_API_LIMIT_MAX, &limit, &ret) != 0 ||
      api_arg_time(req, "since", 0, &since, &ret) != 0 ||
      api_arg_time(req, "until", INT64_MAX, &until, &ret) != 0)
    return ret;
  res = api_arg(req, "resolution");
  if (res && strcmp(res, "raw") && strcmp(res, "1m") && strcmp(res, "auto"))
    return api_send_error(req, MHD_HTTP_BAD_REQUEST,
                          "query parameter resolution must be raw, 1m or auto (got '%.32s')", res);
  /* auto: raw readings, unless a bounded range is longer than ROLLUP_AUTO_MS. */
  rollup = (res && !strcmp(res, "1m")) || ((!res || !strcmp(res, "auto")) && since > 0 &&
                                           until != INT64_MAX && until - since > ROLLUP_AUTO_MS);
  /* Written as text, not built as jansson values (api_jsonw.c): the rows
   * first, then the head, which needs their count, in front of them. */
  n = history(req, idx, rollup, line, since, until, limit, &rows, err, sizeof(err));
  if (n < 0) {
    free(rows.p);
    return DB_FAIL(req, err);
  }
  API_JW_LIT(&body, "{\"sensor_type\":");
  api_jw_str(&body, fac->sensors[idx].name, strlen(fac->sensors[idx].name));
  API_JW_LIT(&body, ",\"unit\":");
  api_jw_str(&body, fac->sensors[idx].unit, strlen(fac->sensors[idx].unit));
  if (rollup)
    API_JW_LIT(&body, ",\"resolution\":\"1m\",\"count\":");
  else
    API_JW_LIT(&body, ",\"resolution\":\"raw\",\"count\":");
  api_jw_int(&body, n);
  API_JW_LIT(&body, ",\"data\":[");
  api_jw_raw(&body, rows.p ? rows.p : "", rows.len);
  API_JW_LIT(&body, "]}");
  free(rows.p);
  if (rows.oom)
    body.oom = 1;
  return api_send_jw(req, MHD_HTTP_OK, &body);
}

enum MHD_Result api_h_thresholds(api_req_t *req) {
  const ww_factory_t *fac = req->api->conf.fac;
  double warn, crit;
  json_t *sensors = json_object();
  api_score_thresholds(req->api, &warn, &crit);
  for (int s = 0; s < fac->n_sensors; s++) {
    const ww_sensor_def_t *sd = &fac->sensors[s];
    json_object_set_new(sensors, sd->name,
                        json_pack("{s:f, s:f, s:f, s:s}", "min", sd->min, "max", sd->max, "warning",
                                  sd->warning, "unit", sd->unit));
  }
  /* normal below warning_threshold, warning below anomaly_threshold, then critical. */
  return api_send_json(req, MHD_HTTP_OK,
                       json_pack("{s:f, s:f, s:f, s:o}", "anomaly_threshold", crit,
                                 "normal_threshold", warn, "warning_threshold", warn,
                                 "sensor_thresholds", sensors));
}

#define SUMMARY_DEFAULT_MS                                                                         \
  (3600 * 1000LL) /* data-samples summarises the newest hour by default                            \
                   */

/* Event time of the newest reading, or -1 when there is none (or on error, with \p err set). */
static int64_t newest_ms(api_req_t *req, char *err, size_t errsz, int *failed) {
  sqlite3_stmt *st = api_stmt(req->api, Q_HEALTH, err, errsz);
  int64_t ms = -1;
  *failed = 1;
  if (!st)
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW) {
    *failed = 0;
    if (sqlite3_column_type(st, 1) != SQLITE_NULL)
      ms = sqlite3_column_int64(st, 1);
  } else {
    snprintf(err, errsz, "%s", sqlite3_errmsg(sqlite3_db_handle(st)));
  }
  sqlite3_reset(st);
  return ms;
}

/*
 * The summary is an aggregate over a time range, so its cost grows with the
 * rows in it: by default it covers the newest hour of data (not the whole
 * table, which may hold millions of rows); ?since= / ?until= choose another.
 */
enum MHD_Result api_h_data_samples(api_req_t *req) {
  int64_t limit, since, until, newest;
  enum MHD_Result ret = MHD_NO;
  char err[256];
  json_t *rows, *summary;
  json_int_t total;
  sqlite3_stmt *st;
  int failed;
  if (api_arg_int(req, "limit", 50, 1, WW_API_LIMIT_MAX, &limit, &ret) != 0 ||
      api_arg_time(req, "since", -1, &since, &ret) != 0 ||
      api_arg_time(req, "until", INT64_MAX, &until, &ret) != 0)
    return ret;
  if (since < 0) {
    newest = newest_ms(req, err, sizeof(err), &failed);
    if (failed)
      return DB_FAIL(req, err);
    since = newest < 0 ? 0 : newest - SUMMARY_DEFAULT_MS;
  }
  if (!(rows = recent(req, limit, err, sizeof(err))))
    return DB_FAIL(req, err);
  if (!(st = api_stmt(req->api, Q_SUMMARY, err, sizeof(err)))) {
    json_decref(rows);
    return DB_FAIL(req, err);
  }
  sqlite3_bind_int64(st, 1, since);
  sqlite3_bind_int64(st, 2, until);
  if (sqlite3_step(st) != SQLITE_ROW) {
    snprintf(err, sizeof(err), "%s", sqlite3_errmsg(sqlite3_db_handle(st)));
    sqlite3_reset(st);
    json_decref(rows);
    return DB_FAIL(req, err);
  }
  summary = json_pack(
      "{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "total_readings",
      (json_int_t)sqlite3_column_int64(st, 0), "avg_temperature", api_col_json(st, 1),
      "avg_humidity", api_col_json(st, 2), "avg_sound_level", api_col_json(st, 3),
      "avg_anomaly_score", api_col_json(st, 4), "earliest_timestamp",
      sqlite3_column_type(st, 5) == SQLITE_NULL ? json_null()
                                                : api_ts_json(sqlite3_column_int64(st, 5)),
      "latest_timestamp",
      sqlite3_column_type(st, 6) == SQLITE_NULL ? json_null()
                                                : api_ts_json(sqlite3_column_int64(st, 6)),
      "anomaly_count", (json_int_t)sqlite3_column_double(st, 7));
  sqlite3_reset(st);
  json_object_set_new(summary, "since", api_ts_json(since));
  json_object_set_new(summary, "until", until == INT64_MAX ? json_null() : api_ts_json(until));
  total = json_integer_value(json_object_get(summary, "total_readings"));
  return api_send_json(req, MHD_HTTP_OK,
                       json_pack("{s:o, s:o, s:I}", "sensor_readings", rows, "summary", summary,
                                 "total_count", total));
}

enum MHD_Result api_h_table_data(api_req_t *req, const char *table) {
  const char *sql = api_table_sql(table);
  int64_t limit;
  enum MHD_Result ret = MHD_NO;
  char err[256];
  sqlite3 *db;
  sqlite3_stmt *st = NULL;
  json_t *data;
  int rc;
  if (!sql)
    return api_send_error(req, MHD_HTTP_NOT_FOUND,
                          "unknown table '%.64s' (tables: sensor_readings, window_stats, alerts, "
                          "models, model_metadata, production_lines, dead_letters, "
                          "readings_rollup_1m)",
                          table);
  if (api_arg_int(req, "limit", 100, 1, WW_API_LIMIT_MAX, &limit, &ret) != 0)
    return ret;
  if (!(db = api_db(req->api, err, sizeof(err))))
    return DB_FAIL(req, err);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, sizeof(err), "%s", sqlite3_errmsg(db));
    return DB_FAIL(req, err);
  }
  sqlite3_bind_int64(st, 1, limit);
  data = json_array();
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    json_array_append_new(data, api_row_json(st));
  if (rc != SQLITE_DONE) {
    snprintf(err, sizeof(err), "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    json_decref(data);
    return DB_FAIL(req, err);
  }
  sqlite3_finalize(st);
  return api_send_json(req, MHD_HTTP_OK,
                       json_pack("{s:s, s:I, s:o}", "table_name", table, "count",
                                 (json_int_t)json_array_size(data), "data", data));
}

enum MHD_Result api_h_debug_count(api_req_t *req) {
  char err[256];
  sqlite3_stmt *st = api_stmt(req->api, Q_COUNT_RANGE, err, sizeof(err));
  json_t *o;
  if (!st)
    return DB_FAIL(req, err);
  if (sqlite3_step(st) != SQLITE_ROW) {
    snprintf(err, sizeof(err), "%s", sqlite3_errmsg(sqlite3_db_handle(st)));
    sqlite3_reset(st);
    return DB_FAIL(req, err);
  }
  o = json_pack(
      "{s:I, s:o, s:o}", "total_count", (json_int_t)sqlite3_column_int64(st, 0),
      "earliest_timestamp",
      sqlite3_column_type(st, 1) == SQLITE_NULL ? json_null()
                                                : api_ts_json(sqlite3_column_int64(st, 1)),
      "latest_timestamp",
      sqlite3_column_type(st, 2) == SQLITE_NULL ? json_null()
                                                : api_ts_json(sqlite3_column_int64(st, 2)));
  sqlite3_reset(st);
  return api_send_json(req, MHD_HTTP_OK, o);
}

enum MHD_Result api_h_dashboard_data(api_req_t *req) {
  char err[256];
  int64_t limit;
  enum MHD_Result ret = MHD_NO;
  json_t *lines, *rec, *scores, *hist;
  double warn, crit;
  int64_t n_norm = 0, n_warn = 0, n_crit = 0;
  size_t i;
  json_t *r;

  if (api_arg_int(req, "limit", 100, 1, WW_API_LIMIT_MAX, &limit, &ret) != 0)
    return ret;
  if (!(lines = api_lines_status(req, err, sizeof(err))))
    return DB_FAIL(req, err);
  if (!(rec = recent(req, limit, err, sizeof(err)))) {
    json_decref(lines);
    return DB_FAIL(req, err);
  }
  api_score_thresholds(req->api, &warn, &crit);
  scores = json_array();
  hist = json_object();
  for (int s = 0; s < req->api->conf.fac->n_sensors; s++)
    json_object_set_new(hist, req->api->conf.fac->sensors[s].name, json_array());
  json_array_foreach(rec, i, r) {
    const char *sev = json_string_value(json_object_get(r, "severity"));
    json_t *sc = json_object_get(r, "anomaly_score");
    const char *key;
    json_t *arr;
    if (sev && !strcmp(sev, "critical"))
      n_crit++;
    else if (sev && !strcmp(sev, "warning"))
      n_warn++;
    else
      n_norm++;
    if (json_is_number(sc))
      json_array_append(scores, sc);
    json_object_foreach(hist, key, arr) {
      json_t *v = json_object_get(r, key);
      json_array_append_new(arr, json_pack("{s:O, s:O, s:O}", "timestamp",
                                           json_object_get(r, "timestamp"), "production_line",
                                           json_object_get(r, "production_line"), "value",
                                           v ? v : json_null()));
    }
  }
  return api_send_json(req, MHD_HTTP_OK,
                       json_pack("{s:{s:I, s:I, s:I, s:I, s:o}, s:o, s:o, s:o, s:o}",
                                 "anomaly_distribution", "normal_count", (json_int_t)n_norm,
                                 "warning_count", (json_int_t)n_warn, "anomaly_count",
                                 (json_int_t)n_crit, "critical_count", (json_int_t)n_crit, "scores",
                                 scores, "production_lines", lines, "recent_data", rec,
                                 "sensor_history", hist, "timestamp", now_json()));
}

enum MHD_Result api_h_database_stats(api_req_t *req) {
  static const char *const names[] = {"sensor_readings", "window_stats", "alerts",
                                      "models",          "dead_letters", "readings_rollup_1m",
                                      "production_lines"};
  /* Fixed texts, one per table above: no name is ever pasted into SQL. */
  static const char *const counts[] = {
      "SELECT count(*) FROM sensor_readings", "SELECT count(*) FROM window_stats",
      "SELECT count(*) FROM alerts",          "SELECT count(*) FROM models",
      "SELECT count(*) FROM dead_letters",    "SELECT count(*) FROM readings_rollup_1m",
      "SELECT count(*) FROM production_lines"};
  char err[256];
  sqlite3 *db = api_db(req->api, err, sizeof(err));
  json_t *tables, *o;
  struct stat sb;
  sqlite3_stmt *st;
  if (!db)
    return DB_FAIL(req, err);
  tables = json_object();
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (sqlite3_prepare_v2(db, counts[i], -1, &st, NULL) != SQLITE_OK) {
      snprintf(err, sizeof(err), "%s", sqlite3_errmsg(db));
      json_decref(tables);
      return DB_FAIL(req, err);
    }
    if (sqlite3_step(st) == SQLITE_ROW)
      json_object_set_new(tables, names[i],
                          json_pack("{s:I}", "row_count", (json_int_t)sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
  }
  o = json_pack(
      "{s:o, s:s, s:I, s:I}", "tables", tables, "database_path", req->api->conf.db_path,
      "database_size_bytes", (json_int_t)(stat(req->api->conf.db_path, &sb) == 0 ? sb.st_size : 0),
      "total_readings",
      json_integer_value(json_object_get(json_object_get(tables, "sensor_readings"), "row_count")));
  json_object_set_new(o, "timestamp", now_json());
  return api_send_json(req, MHD_HTTP_OK, o);
}
