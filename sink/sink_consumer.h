/**
 * @file sink_consumer.h
 * @brief The sink's run loop: consume the processor's topics (read_committed),
 *        batch messages by size and time, store each batch with its offsets,
 *        retry database faults with backoff, expire old rows, report stats.
 */
#ifndef WW_SINK_CONSUMER_H
#define WW_SINK_CONSUMER_H

#include <sqlite3.h>

#include "sink_store.h"
#include "windwatch/config.h"

/**
 * @brief Run until SIGINT/SIGTERM (real_time) or until every assigned partition
 *        has been read to its end and stored (--mode batch).
 * @param db opened with ww_db_open_rw (borrowed; the caller closes it afterwards).
 * @param total set to what was stored during the run.
 * @param active_s set to the seconds from the first message consumed to the
 *        end of the run, the final drain included (0 if none): start-up and
 *        the group join are not in it. In real time it also holds the idle
 *        time until the stop, so a rate from it means something in batch mode.
 * @returns 0 on a clean stop, 1 on a fatal error (logged).
 */
int ww_sink_run(const ww_config_t *cfg, sqlite3 *db, ww_sink_counts_t *total, double *active_s);

#endif /* WW_SINK_CONSUMER_H */
