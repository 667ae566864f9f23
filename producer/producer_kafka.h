/**
 * @file producer_kafka.h
 * @brief The producer's Kafka output: idempotent producer, every delivery
 *        report counted, backpressure (wait or drop) when the queue is full.
 *
 * Not thread-safe: one thread sends, polls and closes. Delivery reports run
 * on that thread inside ww_pkafka_send/poll/close.
 */
#ifndef WW_PRODUCER_KAFKA_H
#define WW_PRODUCER_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "windwatch/config.h"
#include "windwatch/err.h"
#include "windwatch/metrics.h"

typedef struct ww_pkafka_stats_s {
  uint64_t produced;  /* readings accepted by librdkafka */
  uint64_t delivered; /* delivery reports without error */
  uint64_t failed;    /* delivery reports with an error (incl. purged at shutdown) */
  uint64_t dropped;   /* refused on a full queue under --on-full drop */
  uint64_t batches;   /* rd_kafka_produce_batch() calls that handed readings over */
  uint64_t batched;   /* readings handed over in those batches (the rest went one by one) */
  int64_t stall_ns;   /* waiting for room, or for a route to drain, ns */
  int queue_depth;    /* messages and requests librdkafka still holds */
} ww_pkafka_stats_t;

typedef enum ww_pkafka_send_e {
  WW_PKAFKA_OK = 0,      /* accepted; a delivery report will follow */
  WW_PKAFKA_DROPPED = 1, /* queue full and --on-full drop: counted, not sent */
  WW_PKAFKA_STOPPED = 2, /* a stop was requested while waiting for room: not accepted */
  WW_PKAFKA_FATAL = 3,   /* the producer raised a fatal error or refused the message */
} ww_pkafka_send_t;

typedef struct ww_pkafka_s ww_pkafka_t;

/**
 * @brief Create the producer for \p topic from \p cfg (brokers, -X, kafka.properties).
 *
 * Unless the user set them, applies enable.idempotence=true, acks=all and
 * compression.type=lz4.
 * @param drop_on_full  non-zero: a full queue drops the reading (counted)
 *                      instead of waiting for room
 * @param reg           metrics registry to register the producer's series in, or NULL (borrowed)
 * @param err           set on failure: WW_ERR_INVALID for a bad setting (a -X
 *                      property librdkafka rejects), WW_ERR_KAFKA otherwise
 * @returns a handle to close with ww_pkafka_close(), or NULL with \p errstr set.
 */
ww_pkafka_t *ww_pkafka_new(const ww_config_t *cfg, const char *topic, int drop_on_full,
                           ww_metrics_t *reg, ww_err_t *err, char *errstr, size_t errstr_size);

/**
 * @brief Produce one message (key and value are copied).
 *
 * The message may wait in a per-partition batch until the next send that
 * fills it, ww_pkafka_poll() or ww_pkafka_close(); it goes one by one while
 * the topic's partition count is unknown. When librdkafka's queue is
 * full it either waits, serving delivery reports (the stall is timed), or
 * drops and counts the readings it cannot place.
 * @returns WW_PKAFKA_OK when the reading was taken (queued or batched);
 *          WW_PKAFKA_DROPPED when it was dropped; WW_PKAFKA_STOPPED or
 *          WW_PKAFKA_FATAL when it was not taken.
 */
ww_pkafka_send_t ww_pkafka_send(ww_pkafka_t *pk, const char *key, size_t key_len, const char *val,
                                size_t val_len);

/**
 * @brief Hand pending batches to librdkafka (with backpressure), then serve
 *        delivery reports, waiting at most \p timeout_ms for one.
 *
 * Also where the topic's partition count is looked up again when it is due
 * (at most once a second while unknown, then every
 * topic.metadata.refresh.interval.ms): that may block for up to 200 ms when
 * no broker answers.
 * @returns WW_PKAFKA_OK, or WW_PKAFKA_STOPPED / WW_PKAFKA_FATAL as ww_pkafka_send.
 */
ww_pkafka_send_t ww_pkafka_poll(ww_pkafka_t *pk, int timeout_ms);

/** @returns non-zero if the producer raised a fatal error (reason in \p errstr). */
int ww_pkafka_fatal(ww_pkafka_t *pk, char *errstr, size_t errstr_size);

/** Current counters (queue_depth read now). */
void ww_pkafka_stats(ww_pkafka_t *pk, ww_pkafka_stats_t *st);

/**
 * @brief Hand over pending batches and flush, for at most \p timeout_ms in all;
 *        purge what is left (counted as failed), destroy the producer and fill
 *        \p st with the final counters.
 * @returns the number of readings still undelivered when the flush timed out.
 *          NULL \p pk is a no-op returning 0.
 */
int ww_pkafka_close(ww_pkafka_t *pk, int timeout_ms, ww_pkafka_stats_t *st);

#endif /* WW_PRODUCER_KAFKA_H */
