/*
 * api_export.c: /export-csv and /export-predictions-csv, streamed row by row
 * (RFC 4180) so an export of millions of rows needs one small buffer, with
 * no silent row limit: every matching row is written unless ?limit= says so.
 *
 * Each export has its own read-only connection, opened here and closed when
 * libmicrohttpd frees the response, so a long export never shares a
 * statement with the worker thread's other requests. It reads one snapshot
 * of the database (one read transaction) from the first row to the last.
 */
#include "api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/db.h"
#include "windwatch/log.h"

#define EXPORT_BLOCK 65536 /* bytes MHD asks for at a time */

static const char sql_readings[] =
    "SELECT timestamp, production_line, component_id, temperature, humidity, sound_level, "
    "is_anomaly, anomaly_score FROM sensor_readings WHERE ts_ms >= ?2 AND ts_ms <= ?3 "
    "AND (?1 IS NULL OR production_line = ?1) ORDER BY ts_ms DESC, id DESC LIMIT ?4";
static const char hdr_readings[] =
    "timestamp,production_line,component_id,temperature,humidity,sound_level,is_anomaly,"
    "anomaly_score\r\n";
static const char sql_predictions[] =
    "SELECT timestamp, production_line, component_id, temperature, humidity, sound_level, "
    "anomaly_score, severity, model_version FROM sensor_readings WHERE ts_ms >= ?2 "
    "AND ts_ms <= ?3 AND (?1 IS NULL OR production_line = ?1) AND anomaly_score IS NOT NULL "
    "ORDER BY ts_ms DESC, id DESC LIMIT ?4";
static const char hdr_predictions[] =
    "timestamp,production_line,component_id,temperature,humidity,sound_level,anomaly_score,"
    "status,model_version\r\n";

int api_csv_field(char *buf, size_t size, const char *s) {
  size_t o = 0;
  int quote = strpbrk(s, ",\"\r\n") != NULL;
  if (quote) {
    if (o + 1 > size)
      return -1;
    buf[o++] = '"';
  }
  for (const char *p = s; *p; p++) {
    size_t need = (*p == '"' && quote) ? 2 : 1;
    if (o + need > size)
      return -1;
    if (need == 2)
      buf[o++] = '"';
    buf[o++] = *p;
  }
  if (quote) {
    if (o + 1 > size)
      return -1;
    buf[o++] = '"';
  }
  return (int)o;
}

typedef struct export_s {
  sqlite3 *db;      /* own read-only connection */
  sqlite3_stmt *st; /* the export query */
  char line[4096];  /* the current row as CSV */
  size_t len, off;  /* bytes in line, bytes of it already sent */
  int done;         /* the statement is exhausted */
} export_t;

static void export_free(void *cls) {
  export_t *ex = cls;
  if (!ex)
    return;
  sqlite3_finalize(ex->st);
  ww_db_close(ex->db);
  free(ex);
}

/* Format the current row into ex->line. @returns 0 or -1 if it does not fit. */
static int format_row(export_t *ex) {
  int n = sqlite3_column_count(ex->st);
  size_t o = 0;
  for (int i = 0; i < n; i++) {
    char tmp[64];
    const char *v = tmp;
    int w;
    switch (sqlite3_column_type(ex->st, i)) {
    case SQLITE_INTEGER:
      snprintf(tmp, sizeof(tmp), "%lld", (long long)sqlite3_column_int64(ex->st, i));
      break;
    case SQLITE_FLOAT: snprintf(tmp, sizeof(tmp), "%.10g", sqlite3_column_double(ex->st, i)); break;
    case SQLITE_TEXT: v = (const char *)sqlite3_column_text(ex->st, i); break;
    default: tmp[0] = '\0'; break;
    }
    if (i > 0) {
      if (o + 1 >= sizeof(ex->line))
        return -1;
      ex->line[o++] = ',';
    }
    w = api_csv_field(ex->line + o, sizeof(ex->line) - o - 2, v);
    if (w < 0)
      return -1;
    o += (size_t)w;
  }
  ex->line[o++] = '\r';
  ex->line[o++] = '\n';
  ex->len = o;
  ex->off = 0;
  return 0;
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max) {
  export_t *ex = cls;
  size_t o = 0;
  (void)pos;
  while (o < max) {
    if (ex->off < ex->len) {
      size_t n = ex->len - ex->off;
      if (n > max - o)
        n = max - o;
      memcpy(buf + o, ex->line + ex->off, n);
      ex->off += n;
      o += n;
      continue;
    }
    if (ex->done)
      break;
    int rc = sqlite3_step(ex->st);
    if (rc == SQLITE_DONE) {
      ex->done = 1;
      break;
    }
    if (rc != SQLITE_ROW || format_row(ex) != 0) {
      WW_LOG(WW_LOG_WARN, "API", "CSV export ended early: %s", sqlite3_errmsg(ex->db));
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
  }
  if (o == 0 && ex->done)
    return MHD_CONTENT_READER_END_OF_STREAM;
  return (ssize_t)o;
}

enum MHD_Result api_h_export_csv(api_req_t *req, int predictions) {
  const char *line = api_arg(req, "line");
  int64_t limit, since, until;
  enum MHD_Result ret = MHD_NO;
  char err[256];
  export_t *ex;
  struct MHD_Response *resp;
  const char *hdr = predictions ? hdr_predictions : hdr_readings;

  if (line && ww_factory_line_find(req->api->conf.fac, line, strlen(line)) < 0)
    return api_send_error(req, MHD_HTTP_BAD_REQUEST,
                          "unknown production line '%.64s' in ?line=", line);
  if (api_arg_int(req, "limit", -1, -1, INT64_MAX, &limit, &ret) != 0 ||
      api_arg_time(req, "since", 0, &since, &ret) != 0 ||
      api_arg_time(req, "until", INT64_MAX, &until, &ret) != 0)
    return ret;
  if (!(ex = calloc(1, sizeof(*ex))))
    return MHD_NO;
  if (!(ex->db = ww_db_open_ro(req->api->conf.db_path, err, sizeof(err))) ||
      ww_db_prepare(ex->db, predictions ? sql_predictions : sql_readings, &ex->st, err,
                    sizeof(err)) != 0) {
    export_free(ex);
    return api_send_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "database unavailable: %s", err);
  }
  api_bind_text_or_null(ex->st, 1, line);
  sqlite3_bind_int64(ex->st, 2, since);
  sqlite3_bind_int64(ex->st, 3, until);
  sqlite3_bind_int64(ex->st, 4, limit);
  memcpy(ex->line, hdr, strlen(hdr));
  ex->len = strlen(hdr);
  resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, EXPORT_BLOCK, export_read, ex,
                                           export_free);
  if (!resp) {
    export_free(ex);
    return MHD_NO;
  }
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/csv; charset=utf-8");
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
                                predictions ? "attachment; filename=\"predictions.csv\""
                                            : "attachment; filename=\"sensor_readings.csv\"");
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return api_send_response(req, MHD_HTTP_OK, resp);
}
