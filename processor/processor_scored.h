/**
 * @file processor_scored.h
 * @brief The scored-readings stage: a thread of its own turns each scored
 *        reading into its sensor-scored message and hands it to the producer,
 *        so that the loop's thread goes on to the next reading meanwhile.
 *
 * One reading in, one message out, in the order put: a single-producer,
 * single-consumer ring between the loop's thread (put, kick, drain) and the
 * stage's thread (send). Internal to ww_processor.
 */
#ifndef WW_PROCESSOR_SCORED_H
#define WW_PROCESSOR_SCORED_H

#include <stddef.h>
#include <stdint.h>

#include "windwatch/reading.h"

/**
 * Runs on the stage's thread for each reading, in order. \p now_ms is the
 * wall clock read once for the chunk of readings this one is part of (at
 * most WW_SCORED_CHUNK, sent within a millisecond or so; longer only while
 * a full producer queue holds the stage back), for the message's
 * timestamp. @returns 0, or -1 (counted).
 */
typedef int (*ww_scored_send_fn)(void *opaque, const ww_reading_t *r, const ww_score_t *sc,
                                 int64_t now_ms);

typedef struct ww_scored_stage_s ww_scored_stage_t;

/**
 * @brief Start a stage whose ring holds \p capacity readings (rounded up to a
 *        power of two, at least 2) and whose thread calls \p send.
 * @returns NULL with \p errstr set.
 */
ww_scored_stage_t *ww_scored_stage_new(size_t capacity, ww_scored_send_fn send, void *opaque,
                                       char *errstr, size_t errstr_size);

/**
 * @brief Queue a copy of \p r and \p sc. Waits while the ring is full (the
 *        stage's thread is behind: backpressure). The reading is sent after
 *        the next ww_scored_stage_kick() or ww_scored_stage_drain(), or when
 *        the ring fills.
 */
void ww_scored_stage_put(ww_scored_stage_t *s, const ww_reading_t *r, const ww_score_t *sc);

/** @brief Let the stage's thread send what was put so far; does not wait. */
void ww_scored_stage_kick(ww_scored_stage_t *s);

/**
 * @brief Return once every reading put so far has been sent.
 * @returns how many sends failed since the last drain.
 */
int64_t ww_scored_stage_drain(ww_scored_stage_t *s);

/** @brief Drain, stop the thread and free. NULL is ignored. */
void ww_scored_stage_destroy(ww_scored_stage_t *s);

#endif /* WW_PROCESSOR_SCORED_H */
