/**
 * @file sink_retention.h
 * @brief Retention of raw readings and of one-minute rollups, deleted a small
 *        batch per transaction so the writer never waits long for the lock.
 */
#ifndef WW_SINK_RETENTION_H
#define WW_SINK_RETENTION_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "windwatch/config.h"
#include "windwatch/err.h"

typedef struct ww_sink_retention_s ww_sink_retention_t;

/**
 * @brief Prepare the delete statements on \p db.
 * @param retention_ms raw readings older than this are deleted; 0 keeps them forever.
 * @param rollup_retention_ms rollups older than this are deleted; 0 keeps them forever.
 * @param batch rows deleted per transaction (per line and sensor for rollups).
 * @param fac borrowed, must outlive the handle: its lines and sensors name the rollups.
 * @returns a handle the caller frees with ww_sink_retention_destroy() before closing
 *          \p db, or NULL with \p errstr set.
 */
ww_sink_retention_t *ww_sink_retention_new(sqlite3 *db, const ww_factory_t *fac,
                                           int64_t retention_ms, int64_t rollup_retention_ms,
                                           int batch, char *errstr, size_t errstr_size);

void ww_sink_retention_destroy(ww_sink_retention_t *ret);

/**
 * @brief Delete at most one batch of expired readings and one of expired rollups,
 *        in one short transaction, relative to wall-clock time \p now_ms.
 * @param more set non-zero if a batch was full (more rows may be expired).
 * @param readings, rollups incremented by the rows deleted (untouched on error).
 * @returns WW_OK, or an error (WW_ERR_BUSY, WW_ERR_FULL, WW_ERR_IO, WW_ERR_DB) with
 *          \p errstr set; nothing was deleted then.
 */
ww_err_t ww_sink_retention_step(ww_sink_retention_t *ret, int64_t now_ms, int *more,
                                int64_t *readings, int64_t *rollups, char *errstr,
                                size_t errstr_size);

#endif /* WW_SINK_RETENTION_H */
