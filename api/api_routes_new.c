/* api_routes_new.c: endpoints the original did not have: alerts, windows, lines, models. */
#include "api_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/timeutil.h"

#define DB_FAIL(req, err)                                                                          \
  api_send_error((req), MHD_HTTP_SERVICE_UNAVAILABLE, "database unavailable: %s", (err))

/* Step \p st to the end, appending each row converted by \p conv to a new array. */
static json_t *collect(sqlite3_stmt *st, json_t *(*conv)(sqlite3_stmt *, int), int arg, char *err,
                       size_t errsz) {
  json_t *a = json_array();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    json_array_append_new(a, conv(st, arg));
  return api_rows_done(st, rc, a, err, errsz);
}

static int one_of(const char *v, const char *const *allowed) {
  for (; *allowed; allowed++)
    if (!strcmp(v, *allowed))
      return 1;
  return 0;
}

enum MHD_Result api_h_alerts(api_req_t *req) {
  static const char *const states[] = {"open", "resolved", NULL};
  static const char *const sevs[] = {"warning", "critical", NULL};
  const ww_factory_t *fac = req->api->conf.fac;
  const char *line = api_arg(req, "line"), *state = api_arg(req, "state");
  const char *sev = api_arg(req, "severity"), *cursor = api_arg(req, "cursor");
  int64_t limit, since, cur_ms = INT64_MAX;
  char cur_id[WW_API_ALERT_ID_MAX] = "\xff"; /* sorts after every id */
  enum MHD_Result ret = MHD_NO;
  char err[256];
  sqlite3_stmt *st;
  json_t *alerts, *next = json_null(), *last;

  if (line && ww_factory_line_find(fac, line, strlen(line)) < 0)
    return api_send_error(req, MHD_HTTP_BAD_REQUEST,
                          "unknown production line '%.64s' in ?line=", line);
  if (state && !one_of(state, states))
    return api_send_error(req, MHD_HTTP_BAD_REQUEST,
                          "?state= must be open or resolved (got '%.32s')", state);
  if (sev && !one_of(sev, sevs))
    return api_send_error(req, MHD_HTTP_BAD_REQUEST,
                          "?severity= must be warning or critical (got '%.32s')", sev);
  if (api_arg_int(req, "limit", 50, 1, 1000, &limit, &ret) != 0 ||
      api_arg_time(req, "since", 0, &since, &ret) != 0)
    return ret;
  if (cursor && *cursor && api_parse_cursor(cursor, &cur_ms, cur_id, sizeof(cur_id)) != 0)
    return api_send_error(req, MHD_HTTP_BAD_REQUEST,
                          "?cursor= is not a next_cursor value from a previous page");
  if (!(st = api_stmt(req->api, Q_ALERTS, err, sizeof(err))))
    return DB_FAIL(req, err);
  api_bind_text_or_null(st, 1, line);
  api_bind_text_or_null(st, 2, state);
  api_bind_text_or_null(st, 3, sev);
  sqlite3_bind_int64(st, 4, since);
  sqlite3_bind_int64(st, 5, cur_ms);
  sqlite3_bind_text(st, 6, cur_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 7, limit);
  if (!(alerts = collect(st, api_alert_json, 0, err, sizeof(err))))
    return DB_FAIL(req, err);
  if ((int64_t)json_array_size(alerts) == limit) {
    int64_t ms;
    last = json_array_get(alerts, json_array_size(alerts) - 1);
    const char *upd = json_string_value(json_object_get(last, "updated_at"));
    char buf[WW_API_ALERT_ID_MAX + 32];
    const char *id = json_string_value(json_object_get(last, "alert_id"));
    if (upd && id && ww_ts_parse(upd, strlen(upd), &ms) == 0 &&
        api_format_cursor(ms, id, buf, sizeof(buf)) == 0)
      next = json_string(buf);
  }
  return api_send_json(req, MHD_HTTP_OK,
                       json_pack("{s:I, s:o, s:o}", "count", (json_int_t)json_array_size(alerts),
                                 "alerts", alerts, "next_cursor", next));
}

enum MHD_Result api_h_alert_one(api_req_t *req, const char *id) {
  char err[256];
  sqlite3_stmt *st;
  json_t *o = NULL;
  int rc;
  if (strlen(id) >= WW_API_ALERT_ID_MAX)
    return api_send_error(req, MHD_HTTP_NOT_FOUND, "no such alert");
  if (!(st = api_stmt(req->api, Q_ALERT_ONE, err, sizeof(err))))
    return DB_FAIL(req, err);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    o = api_alert_json(st, 1);
  else if (rc != SQLITE_DONE)
    snprintf(err, sizeof(err), "%s", sqlite3_errmsg(sqlite3_db_handle(st)));
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return api_send_error(req, MHD_HTTP_NOT_FOUND, "no alert with id '%.128s'", id);
  if (rc != SQLITE_ROW)
    return DB_FAIL(req, err);
  return api_send_json(req, MHD_HTTP_OK, o);
}

/* Columns i, i+1 (training_readings, training_needed) as a window's
 * "training": {"readings","needed"} while the line's first model gathered
 * its readings, else null. */
static json_t *training_json(sqlite3_stmt *st, int i) {
  if (sqlite3_column_type(st, i) == SQLITE_NULL || sqlite3_column_type(st, i + 1) == SQLITE_NULL)
    return json_null();
  return json_pack("{s:I, s:I}", "readings", (json_int_t)sqlite3_column_int64(st, i), "needed",
                   (json_int_t)sqlite3_column_int64(st, i + 1));
}

json_t *api_window_json(sqlite3_stmt *st, int unused) {
  (void)unused;
  return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", api_col_json(st, 0),
                   "production_line", api_col_json(st, 1), "window_type", api_col_json(st, 2),
                   "window_start", api_ts_json(sqlite3_column_int64(st, 3)), "window_end",
                   api_ts_json(sqlite3_column_int64(st, 4)), "count", api_col_json(st, 5),
                   "anomalous", api_col_json(st, 6), "sensors", api_col_parse(st, 7),
                   "model_version", api_col_json(st, 8), "training", training_json(st, 9));
}

enum MHD_Result api_h_windows(api_req_t *req) {
  const char *line = api_arg(req, "line");
  int64_t limit, since, until;
  enum MHD_Result ret = MHD_NO;
  char err[256];
  sqlite3_stmt *st;
  json_t *w;
  if (line && ww_factory_line_find(req->api->conf.fac, line, strlen(line)) < 0)
    return api_send_error(req, MHD_HTTP_BAD_REQUEST,
                          "unknown production line '%.64s' in ?line=", line);
  if (api_arg_int(req, "limit", 50, 1, WW_API_LIMIT_MAX, &limit, &ret) != 0 ||
      api_arg_time(req, "since", 0, &since, &ret) != 0 ||
      api_arg_time(req, "until", INT64_MAX, &until, &ret) != 0)
    return ret;
  if (!(st = api_stmt(req->api, Q_WINDOWS, err, sizeof(err))))
    return DB_FAIL(req, err);
  api_bind_text_or_null(st, 1, line);
  sqlite3_bind_int64(st, 2, since);
  sqlite3_bind_int64(st, 3, until);
  sqlite3_bind_int64(st, 4, limit);
  if (!(w = collect(st, api_window_json, 0, err, sizeof(err))))
    return DB_FAIL(req, err);
  return api_send_json(
      req, MHD_HTTP_OK,
      json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(w), "windows", w));
}

enum MHD_Result api_h_line_one(api_req_t *req, const char *id) {
  const ww_factory_t *fac = req->api->conf.fac;
  int l = ww_factory_line_find(fac, id, strlen(id));
  char err[256];
  json_t *lines, *line, *sensors, *win = json_null(), *alerts;
  sqlite3_stmt *st;
  int rc;
  if (l < 0)
    return api_send_error(req, MHD_HTTP_NOT_FOUND, "unknown production line '%.64s'", id);
  if (!(lines = api_lines_status(req, err, sizeof(err))))
    return DB_FAIL(req, err);
  line = json_incref(json_object_get(lines, fac->lines[l].id));
  json_decref(lines);
  /* Replace the plain latest values by the sensor definitions with their values. */
  sensors = json_object();
  for (int s = 0; s < fac->lines[l].n_sensors; s++) {
    const ww_sensor_def_t *sd = &fac->sensors[fac->lines[l].sensor_idx[s]];
    json_t *v = json_object_get(json_object_get(line, "sensors"), sd->name);
    json_object_set_new(sensors, sd->name,
                        json_pack("{s:s, s:f, s:f, s:f, s:O}", "unit", sd->unit, "min", sd->min,
                                  "max", sd->max, "warning", sd->warning, "value",
                                  v ? v : json_null()));
  }
  json_object_set_new(line, "sensors", sensors);
  json_object_set_new(line, "id", json_string(fac->lines[l].id));
  if (!(st = api_stmt(req->api, Q_WINDOW_LATEST_LINE, err, sizeof(err))))
    goto db_fail;
  sqlite3_bind_text(st, 1, fac->lines[l].id, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    win = api_window_json(st, 0);
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    snprintf(err, sizeof(err), "window_stats query failed");
    goto db_fail;
  }
  json_object_set_new(line, "latest_window", win);
  win = NULL;
  if (!(st = api_stmt(req->api, Q_ALERTS_ACTIVE_LINE, err, sizeof(err))))
    goto db_fail;
  sqlite3_bind_text(st, 1, fac->lines[l].id, -1, SQLITE_STATIC);
  if (!(alerts = collect(st, api_alert_json, 0, err, sizeof(err))))
    goto db_fail;
  json_object_set_new(line, "active_alerts", alerts);
  return api_send_json(req, MHD_HTTP_OK, line);
db_fail:
  json_decref(win);
  json_decref(line);
  return DB_FAIL(req, err);
}

static json_t *model_json(sqlite3_stmt *st, int unused) {
  (void)unused;
  return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "production_line", api_col_json(st, 0),
                   "version", api_col_json(st, 1), "trained_at",
                   api_ts_json(sqlite3_column_int64(st, 2)), "samples", api_col_json(st, 3),
                   "metadata", api_col_parse(st, 4), "size_bytes", api_col_json(st, 5));
}

enum MHD_Result api_h_models(api_req_t *req) {
  char err[256];
  sqlite3_stmt *st = api_stmt(req->api, Q_MODELS, err, sizeof(err));
  json_t *m;
  if (!st || !(m = collect(st, model_json, 0, err, sizeof(err))))
    return DB_FAIL(req, err);
  return api_send_json(req, MHD_HTTP_OK,
                       json_pack("{s:I, s:o, s:s}", "count", (json_int_t)json_array_size(m),
                                 "models", m, "scoring", api_scorer(req->api)));
}
