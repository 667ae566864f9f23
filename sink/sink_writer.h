/**
 * @file sink_writer.h
 * @brief A thread that runs one ww_sink_store_apply() at a time, so the
 *        consumer thread can poll and decode the next batch while SQLite
 *        writes the current one.
 *
 * The store's connection belongs to the writer while a batch is in flight;
 * the caller touches the database only when ww_sink_writer_idle() is true.
 */
#ifndef WW_SINK_WRITER_H
#define WW_SINK_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "sink_store.h"

typedef struct ww_sink_writer_s ww_sink_writer_t;

/** The outcome of one batch. */
typedef struct ww_sink_result_s {
  ww_err_t err;       /* WW_OK or the store's error */
  ww_sink_counts_t c; /* what was stored (zero on error) */
  int64_t ns;         /* transaction time */
  char errstr[512];   /* reason when err != WW_OK */
} ww_sink_result_t;

/** @returns a started writer over \p st (borrowed), or NULL. */
ww_sink_writer_t *ww_sink_writer_new(ww_sink_store_t *st);
/** Wait for the batch in flight, stop and join the thread. NULL is a no-op. */
void ww_sink_writer_destroy(ww_sink_writer_t *w);

/**
 * @brief Start storing \p n messages (borrowed until the result is taken).
 * @returns 0, or -1 if a batch is already in flight.
 */
int ww_sink_writer_submit(ww_sink_writer_t *w, const ww_sink_msg_t *msgs, size_t n);

/**
 * @brief Take the result of the batch in flight, waiting up to \p timeout_ms
 *        (-1 = until done, 0 = just look).
 * @returns 1 with \p res filled (the writer is idle again), 0 if still running,
 *          -1 if nothing is in flight.
 */
int ww_sink_writer_result(ww_sink_writer_t *w, int timeout_ms, ww_sink_result_t *res);

/** @returns non-zero when no batch is in flight (the caller may use the database). */
int ww_sink_writer_idle(ww_sink_writer_t *w);

#endif /* WW_SINK_WRITER_H */
