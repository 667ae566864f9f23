/* sink_stats.c: counters and the periodic stats line. */
#include "sink_stats.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/log.h"
#include "windwatch/timeutil.h"

struct ww_sink_stats_s {
  ww_sink_counts_t total; /* since start */
  ww_sink_counts_t last;  /* total at the previous stats line */
  int64_t last_mono;      /* ww_mono_ms() of the previous stats line */
  int64_t batches;        /* transactions committed */
  int64_t batch_ns_sum;   /* since the previous line, for the mean */
  int64_t batch_ns_max;   /* since the previous line */
  int64_t batches_window; /* batches since the previous line */
  int64_t faults;         /* failed transactions (retried) */
  int64_t del_readings;   /* rows deleted by retention */
  int64_t del_rollups;
  int64_t db_size; /* bytes, as of the last ww_sink_stats_gauges with a database; -1 unknown */
  /* Prometheus mirrors (NULL when metrics are off; updates on NULL are no-ops). */
  ww_metric_t *m_rows[5];      /* rows by table: readings, windows, alerts, dead letters, models */
  ww_metric_t *m_records;      /* messages stored */
  ww_metric_t *m_skipped;      /* messages already in the database */
  ww_metric_t *m_batch;        /* histogram of batch transaction seconds */
  ww_metric_t *m_faults;       /* failed transactions */
  ww_metric_t *m_del_readings; /* retention deletions */
  ww_metric_t *m_del_rollups;
  ww_metric_t *m_lag;      /* messages behind the high watermarks */
  ww_metric_t *m_db_bytes; /* database file size (main file, not the WAL) */
};

static const char *const table_names[5] = {"sensor_readings", "window_stats", "alerts",
                                           "dead_letters", "models"};

static void register_metrics(ww_sink_stats_t *stats, ww_metrics_t *reg) {
  static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  for (int i = 0; i < 5; i++)
    stats->m_rows[i] = ww_metrics_counter(reg, "windwatch_sink_rows_total",
                                          "rows written, by table", "table", table_names[i], NULL);
  stats->m_records = ww_metrics_counter(reg, "windwatch_sink_records_total",
                                        "Kafka messages stored (each exactly once)", NULL);
  stats->m_skipped = ww_metrics_counter(reg, "windwatch_sink_duplicates_skipped_total",
                                        "messages below the stored offset, already stored", NULL);
  stats->m_batch = ww_metrics_histogram(reg, "windwatch_sink_batch_seconds",
                                        "duration of one batch transaction (rows and offsets)",
                                        bounds, (int)(sizeof(bounds) / sizeof(bounds[0])), NULL);
  stats->m_faults = ww_metrics_counter(reg, "windwatch_sink_batch_failures_total",
                                       "batch transactions that failed and were retried", NULL);
  stats->m_del_readings =
      ww_metrics_counter(reg, "windwatch_sink_retention_deleted_total",
                         "rows deleted by retention, by table", "table", "sensor_readings", NULL);
  stats->m_del_rollups = ww_metrics_counter(reg, "windwatch_sink_retention_deleted_total",
                                            "rows deleted by retention, by table", "table",
                                            "readings_rollup_1m", NULL);
  stats->m_lag = ww_metrics_gauge(reg, "windwatch_sink_lag_messages",
                                  "messages not yet stored, summed over assigned partitions", NULL);
  stats->m_db_bytes =
      ww_metrics_gauge(reg, "windwatch_sink_db_bytes", "size of the SQLite database file", NULL);
}

ww_sink_stats_t *ww_sink_stats_new(ww_metrics_t *reg) {
  ww_sink_stats_t *stats = calloc(1, sizeof(*stats));
  if (!stats)
    return NULL;
  stats->last_mono = ww_mono_ms();
  stats->db_size = -1;
  if (reg)
    register_metrics(stats, reg);
  return stats;
}

void ww_sink_stats_destroy(ww_sink_stats_t *stats) {
  free(stats);
}

void ww_sink_stats_batch(ww_sink_stats_t *stats, const ww_sink_counts_t *c, int64_t ns) {
  stats->total.records += c->records;
  stats->total.readings += c->readings;
  stats->total.windows += c->windows;
  stats->total.alerts += c->alerts;
  stats->total.dead_letters += c->dead_letters;
  stats->total.models += c->models;
  stats->total.skipped += c->skipped;
  stats->batches++;
  stats->batches_window++;
  stats->batch_ns_sum += ns;
  if (ns > stats->batch_ns_max)
    stats->batch_ns_max = ns;
  ww_metric_add(stats->m_rows[0], (double)c->readings);
  ww_metric_add(stats->m_rows[1], (double)c->windows);
  ww_metric_add(stats->m_rows[2], (double)c->alerts);
  ww_metric_add(stats->m_rows[3], (double)c->dead_letters);
  ww_metric_add(stats->m_rows[4], (double)c->models);
  ww_metric_add(stats->m_records, (double)c->records);
  ww_metric_add(stats->m_skipped, (double)c->skipped);
  ww_metric_observe(stats->m_batch, (double)ns / 1e9);
}

void ww_sink_stats_fault(ww_sink_stats_t *stats) {
  stats->faults++;
  ww_metric_inc(stats->m_faults);
}

void ww_sink_stats_retention(ww_sink_stats_t *stats, int64_t readings, int64_t rollups) {
  stats->del_readings += readings;
  stats->del_rollups += rollups;
  ww_metric_add(stats->m_del_readings, (double)readings);
  ww_metric_add(stats->m_del_rollups, (double)rollups);
}

/* Sum of (high watermark - position) over the assignment; -1 if unknown. */
static int64_t lag(rd_kafka_t *rk) {
  rd_kafka_topic_partition_list_t *parts = NULL;
  int64_t sum = 0;
  if (!rk || rd_kafka_assignment(rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
    return -1;
  if (rd_kafka_position(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_topic_partition_list_destroy(parts);
    return -1;
  }
  for (int i = 0; i < parts->cnt; i++) {
    int64_t lo = 0, hi = 0;
    const rd_kafka_topic_partition_t *tp = &parts->elems[i];
    if (tp->offset >= 0 &&
        rd_kafka_get_watermark_offsets(rk, tp->topic, tp->partition, &lo, &hi) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        hi > tp->offset)
      sum += hi - tp->offset;
  }
  rd_kafka_topic_partition_list_destroy(parts);
  return sum;
}

static int64_t db_bytes(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  if (!db || sqlite3_prepare_v2(db,
                                "SELECT page_count * page_size FROM pragma_page_count(), "
                                "pragma_page_size()",
                                -1, &st, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

void ww_sink_stats_gauges(ww_sink_stats_t *stats, rd_kafka_t *rk, sqlite3 *db) {
  int64_t l = lag(rk), b = db ? db_bytes(db) : -1;
  if (l >= 0)
    ww_metric_set(stats->m_lag, (double)l);
  if (b >= 0) {
    stats->db_size = b;
    ww_metric_set(stats->m_db_bytes, (double)b);
  }
}

void ww_sink_stats_log(ww_sink_stats_t *stats, rd_kafka_t *rk, sqlite3 *db) {
  int64_t now = ww_mono_ms(), lg = lag(rk), b = db ? db_bytes(db) : stats->db_size;
  double secs = (double)(now - stats->last_mono) / 1000.0;
  const ww_sink_counts_t *t = &stats->total, *l = &stats->last;
  if (secs <= 0)
    secs = 1e-3;
  WW_LOG(WW_LOG_INFO, "STATS",
         "rows/s readings=%.0f windows=%.0f alerts=%.0f dead_letters=%.0f models=%.0f | "
         "total records=%" PRId64 " readings=%" PRId64 " skipped=%" PRId64 " | batches=%" PRId64
         " batch_ms avg=%.2f max=%.2f faults=%" PRId64 " | retention deleted readings=%" PRId64
         " rollups=%" PRId64 " | lag=%" PRId64 " db_bytes=%" PRId64,
         (double)(t->readings - l->readings) / secs, (double)(t->windows - l->windows) / secs,
         (double)(t->alerts - l->alerts) / secs, (double)(t->dead_letters - l->dead_letters) / secs,
         (double)(t->models - l->models) / secs, t->records, t->readings, t->skipped,
         stats->batches,
         stats->batches_window ? (double)stats->batch_ns_sum / stats->batches_window / 1e6 : 0.0,
         (double)stats->batch_ns_max / 1e6, stats->faults, stats->del_readings, stats->del_rollups,
         lg, b);
  if (lg >= 0)
    ww_metric_set(stats->m_lag, (double)lg);
  if (b >= 0)
    ww_metric_set(stats->m_db_bytes, (double)b);
  stats->last = stats->total;
  stats->last_mono = now;
  stats->batch_ns_sum = stats->batch_ns_max = stats->batches_window = 0;
}
