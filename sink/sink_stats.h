/**
 * @file sink_stats.h
 * @brief The sink's counters: rows per table, batch latency, faults, retention,
 *        consumer lag and database size, logged as one stats line on stderr.
 */
#ifndef WW_SINK_STATS_H
#define WW_SINK_STATS_H

#include <librdkafka/rdkafka.h>
#include <sqlite3.h>
#include <stdint.h>

#include "sink_store.h"
#include "windwatch/metrics.h"

typedef struct ww_sink_stats_s ww_sink_stats_t;

/**
 * @brief New zeroed counters, mirrored into Prometheus series of \p reg
 *        (borrowed, may be NULL for none; must outlive the stats).
 * @returns counters to free with ww_sink_stats_destroy(), or NULL if out of memory.
 */
ww_sink_stats_t *ww_sink_stats_new(ww_metrics_t *reg);
void ww_sink_stats_destroy(ww_sink_stats_t *stats);

/** A batch was stored: \p c rows in \p ns nanoseconds (the whole transaction). */
void ww_sink_stats_batch(ww_sink_stats_t *stats, const ww_sink_counts_t *c, int64_t ns);
/** A batch could not be stored (it will be retried). */
void ww_sink_stats_fault(ww_sink_stats_t *stats);
/** Retention deleted \p readings raw readings and \p rollups rollup rows. */
void ww_sink_stats_retention(ww_sink_stats_t *stats, int64_t readings, int64_t rollups);

/** Refresh the lag and database-size gauges (cheap: cached watermarks, two pragmas).
 *  \p db may be NULL while another thread writes: the size is then left as it was. */
void ww_sink_stats_gauges(ww_sink_stats_t *stats, rd_kafka_t *rk, sqlite3 *db);

/**
 * @brief Log one stats line: rows/s per table since the last line, batches and their
 *        latency, faults, retention deletions, lag of the assigned partitions
 *        (from cached watermarks, no network call) and the database size.
 * @param rk, db borrowed; either may be NULL (lag omitted; the last known size is shown).
 */
void ww_sink_stats_log(ww_sink_stats_t *stats, rd_kafka_t *rk, sqlite3 *db);

#endif /* WW_SINK_STATS_H */
