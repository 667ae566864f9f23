/* api_metrics.c: request counters and latency histograms, and GET /metrics (Prometheus text). */
#include "api_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/timeutil.h"

/* Upper bounds of the latency buckets, microseconds; the last bucket is +Inf. */
static const int64_t bucket_us[11] = {500,   1000,   2500,   5000,   10000,  25000,
                                      50000, 100000, 250000, 500000, 1000000};
static const char *const bucket_le[12] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                          "0.05",   "0.1",   "0.25",   "0.5",   "1",    "+Inf"};
static const char *const route_names[R__COUNT] = {
    [R_OTHER] = "other",
    [R_HEALTH] = "health",
    [R_CURRENT] = "current_status",
    [R_LINES] = "production_lines",
    [R_HISTORY] = "sensor_history",
    [R_THRESHOLDS] = "thresholds",
    [R_SAMPLES] = "data_samples",
    [R_TABLE] = "table_data",
    [R_DEBUG_COUNT] = "debug_sensor_count",
    [R_DASHBOARD] = "dashboard_data",
    [R_DBSTATS] = "database_stats",
    [R_EXPORT] = "export_csv",
    [R_EXPORT_PRED] = "export_predictions_csv",
    [R_PREDICT] = "predict",
    [R_ALERTS] = "alerts",
    [R_ALERT_ONE] = "alert",
    [R_WINDOWS] = "windows",
    [R_LINE_ONE] = "line",
    [R_MODELS] = "models",
    [R_STREAM] = "stream",
    [R_METRICS] = "metrics",
    [R_STATIC] = "static",
};

void api_metrics_observe(api_metrics_t *m, int route, int status, int64_t dur_ns) {
  int cls = status >= 100 && status < 600 ? status / 100 : 0;
  int64_t us = dur_ns / 1000;
  int b = 0;
  if (route < 0 || route >= R__COUNT)
    route = R_OTHER;
  while (b < 11 && us > bucket_us[b])
    b++;
  __atomic_add_fetch(&m->requests[route][cls], 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&m->dur_bucket[route][b], 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&m->dur_sum_us[route], (uint64_t)us, __ATOMIC_RELAXED);
}

/* A growable text buffer; on allocation failure it stops growing and sets oom. */
typedef struct buf_s {
  char *p;
  size_t len, cap;
  int oom;
} buf_t;

static void bprintf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf_t *b, const char *fmt, ...) {
  va_list ap;
  int n;
  if (b->oom)
    return;
  for (;;) {
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = 1;
      return;
    }
    if ((size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap * 2 + (size_t)n + 1;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
}

static uint64_t ld(const uint64_t *p) {
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}

enum MHD_Result api_h_metrics(api_req_t *req) {
  api_metrics_t *m = &req->api->metrics;
  buf_t b = {malloc(8192), 0, 8192, 0};
  char err[256];
  sqlite3_stmt *st;
  enum MHD_Result ret;

  if (!b.p)
    return MHD_NO;
  bprintf(&b, "# HELP windwatch_api_requests_total HTTP requests answered, by route and status "
              "class.\n# TYPE windwatch_api_requests_total counter\n");
  for (int r = 0; r < R__COUNT; r++)
    for (int c = 0; c < 6; c++)
      if (ld(&m->requests[r][c]))
        bprintf(&b, "windwatch_api_requests_total{route=\"%s\",code=\"%s\"} %llu\n", route_names[r],
                c ? (const char *[]){"", "1xx", "2xx", "3xx", "4xx", "5xx"}[c] : "other",
                (unsigned long long)ld(&m->requests[r][c]));
  bprintf(&b, "# HELP windwatch_api_request_duration_seconds Time from request headers to "
              "response completion.\n# TYPE windwatch_api_request_duration_seconds histogram\n");
  for (int r = 0; r < R__COUNT; r++) {
    uint64_t cum = 0;
    for (int i = 0; i < 12; i++)
      cum += ld(&m->dur_bucket[r][i]);
    if (!cum)
      continue;
    cum = 0;
    for (int i = 0; i < 12; i++) {
      cum += ld(&m->dur_bucket[r][i]);
      bprintf(&b, "windwatch_api_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n",
              route_names[r], bucket_le[i], (unsigned long long)cum);
    }
    bprintf(&b, "windwatch_api_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_names[r],
            (double)ld(&m->dur_sum_us[r]) / 1e6);
    bprintf(&b, "windwatch_api_request_duration_seconds_count{route=\"%s\"} %llu\n", route_names[r],
            (unsigned long long)cum);
  }
  bprintf(&b,
          "# HELP windwatch_api_requests_in_flight Requests being handled.\n"
          "# TYPE windwatch_api_requests_in_flight gauge\n"
          "windwatch_api_requests_in_flight %llu\n",
          (unsigned long long)ld(&m->in_flight));
  bprintf(&b,
          "# HELP windwatch_api_stream_clients Open /api/stream connections.\n"
          "# TYPE windwatch_api_stream_clients gauge\nwindwatch_api_stream_clients %llu\n",
          (unsigned long long)ld(&m->sse_clients));
  bprintf(&b,
          "# HELP windwatch_api_stream_events_total Events written to stream clients.\n"
          "# TYPE windwatch_api_stream_events_total counter\n"
          "windwatch_api_stream_events_total %llu\n",
          (unsigned long long)ld(&m->sse_events));
  bprintf(&b,
          "# HELP windwatch_api_db_errors_total Requests answered 503 because the database "
          "failed.\n# TYPE windwatch_api_db_errors_total counter\n"
          "windwatch_api_db_errors_total %llu\n",
          (unsigned long long)ld(&m->db_errors));
  bprintf(&b,
          "# HELP windwatch_api_uptime_seconds Seconds since the server started.\n"
          "# TYPE windwatch_api_uptime_seconds gauge\nwindwatch_api_uptime_seconds %.3f\n",
          (double)(ww_now_ms() - req->api->started_ms) / 1000.0);
  st = api_stmt(req->api, Q_HEALTH, err, sizeof(err));
  bprintf(&b, "# HELP windwatch_api_database_up 1 if the last query of the database worked.\n"
              "# TYPE windwatch_api_database_up gauge\n");
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    bprintf(&b, "windwatch_api_database_up 1\n");
    if (sqlite3_column_type(st, 1) != SQLITE_NULL)
      bprintf(&b,
              "# HELP windwatch_last_reading_timestamp_seconds Event time of the newest "
              "stored reading.\n# TYPE windwatch_last_reading_timestamp_seconds gauge\n"
              "windwatch_last_reading_timestamp_seconds %.3f\n",
              (double)sqlite3_column_int64(st, 1) / 1000.0);
    bprintf(&b,
            "# HELP windwatch_models Stored model versions.\n# TYPE windwatch_models gauge\n"
            "windwatch_models %lld\n",
            (long long)sqlite3_column_int64(st, 2));
  } else {
    bprintf(&b, "windwatch_api_database_up 0\n");
  }
  if (st)
    sqlite3_reset(st);
  if (b.oom) {
    free(b.p);
    return MHD_NO;
  }
  ret = api_send_text(req, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
  free(b.p);
  return ret;
}
