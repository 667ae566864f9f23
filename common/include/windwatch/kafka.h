/**
 * @file kafka.h
 * @brief librdkafka helpers shared by the binaries.
 *
 * Configuration, logging and error callbacks routed into WW_LOG, fatal-error
 * detection, clean shutdown with a flush deadline, and partition-EOF tracking
 * for --mode batch.
 */
#ifndef WW_KAFKA_H
#define WW_KAFKA_H

#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>

#include "windwatch/config.h"

/**
 * @brief A new rd_kafka_conf_t with bootstrap.servers (--brokers), client.id,
 *        the YAML `kafka.properties` and -X pairs applied in that order,
 *        and log/error callbacks routed into WW_LOG.
 * @returns a conf the caller owns (rd_kafka_conf_destroy, or pass it to
 *          ww_kafka_new which takes it), or NULL with \p errstr naming the
 *          key, the value and librdkafka's reason.
 */
rd_kafka_conf_t *ww_kafka_conf_new(const ww_config_t *cfg, const char *client_id, char *errstr,
                                   size_t errstr_size);

/** rd_kafka_conf_set with an error message that names key and value. @returns 0 or -1. */
int ww_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val, char *errstr,
                      size_t errstr_size);

/**
 * @brief Set \p key to \p val unless the user set it (-X or `kafka.properties`):
 *        windwatch's defaults, which the user's own settings always override.
 * @returns 0 or -1 with \p errstr set.
 */
int ww_kafka_conf_default(const ww_config_t *cfg, rd_kafka_conf_t *conf, const char *key,
                          const char *val, char *errstr, size_t errstr_size);

/**
 * @brief The sink's consumer defaults (see docs/operations.md, Kafka client
 *        defaults; the processor bounds its prefetch instead and wakes the
 *        fetch itself, processor_kafka.c): a prefetch queue of
 *        128 MiB (queued.max.messages.kbytes), its message count raised to
 *        librdkafka's maximum (queued.min.messages=1000000) so the bytes bind.
 *        When the queue is full librdkafka 2.0 waits a whole second before
 *        fetching again, which starved a consumer that drains the default
 *        100,000 messages in less than that.
 * @returns 0 or -1 with \p errstr set.
 */
int ww_kafka_consumer_defaults(const ww_config_t *cfg, rd_kafka_conf_t *conf, char *errstr,
                               size_t errstr_size);

/**
 * @brief Defaults of every consumer that subscribes (processor, sink):
 *        topic.metadata.refresh.interval.ms 10 s instead of librdkafka's
 *        5 min, so a subscribed topic created after the consumer started is
 *        picked up within 10 s (it sat idle for minutes otherwise). Replaced
 *        by -X or kafka.properties like any default.
 * @returns 0 or -1 with \p errstr set.
 */
int ww_kafka_group_defaults(const ww_config_t *cfg, rd_kafka_conf_t *conf, char *errstr,
                            size_t errstr_size);

/**
 * @brief What to do about a consumer error, for its log line: for an unknown
 *        topic, create it (and how soon it is picked up); "" otherwise.
 */
const char *ww_kafka_consume_hint(rd_kafka_resp_err_t err);

/**
 * @brief Create a producer or consumer handle.
 * @remark takes ownership of \p conf on success; on failure the caller keeps it.
 */
rd_kafka_t *ww_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
                         size_t errstr_size);

/**
 * @brief Flush for at most \p timeout_ms and destroy the producer.
 * @returns the number of messages that were still undelivered (0 = all delivered).
 */
int ww_kafka_producer_close(rd_kafka_t *rk, int timeout_ms);

/** Close the consumer (leaves the group cleanly) and destroy it. NULL is a no-op. */
void ww_kafka_consumer_close(rd_kafka_t *rk);

/**
 * @brief Subscribe \p rk to the \p n topics in \p topics.
 * @returns 0 or -1 with \p errstr set.
 */
int ww_kafka_subscribe(rd_kafka_t *rk, const char *const *topics, int n, char *errstr,
                       size_t errstr_size);

/**
 * @brief Wait until the cluster answers a metadata request, for at most \p timeout_ms.
 * @returns 0 or -1 with \p errstr set ("no broker answered at 127.0.0.1:9092 within 10 s").
 */
int ww_kafka_wait_ready(rd_kafka_t *rk, int timeout_ms, char *errstr, size_t errstr_size);

/**
 * @brief The hash by which librdkafka's default partitioner
 *        (`partitioner=consistent_random`) places a message with a non-empty
 *        \p key: CRC-32 (IEEE), partition = hash % partition count.
 */
uint32_t ww_kafka_key_hash(const void *key, size_t len);

/**
 * @brief A topic configuration for \p rk whose partitioner takes the hash of
 *        each message's key from its opaque (RD_KAFKA_V_OPAQUE: a `const
 *        uint32_t *` from ww_kafka_key_hash()), so that a producer of many
 *        messages under a few keys (production lines) hashes each key once,
 *        not each message. The partitions are those of the default
 *        partitioner; a message without an opaque has its key hashed as
 *        usual, and delivery reports see the opaque as `_private`.
 * @returns the configuration for rd_kafka_topic_new() (which takes it), or
 *          NULL, for the defaults, when another partitioner is configured
 *          (`-X partitioner=...`): that choice is kept.
 */
rd_kafka_topic_conf_t *ww_kafka_key_hash_topic_conf(rd_kafka_t *rk);

/** @returns non-zero if a fatal error was raised on \p rk (reason in \p errstr). */
int ww_kafka_fatal(rd_kafka_t *rk, char *errstr, size_t errstr_size);

/**
 * @brief rd_kafka_committed() that asks again, every 250 ms, while the group
 *        coordinator moves or loads (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
 *        COORDINATOR_NOT_AVAILABLE, REQUEST_TIMED_OUT, a lost connection), as it
 *        does after a broker restart, until \p timeout_ms have passed or a stop
 *        is requested.
 * @returns 0 with every partition's committed offset in \p parts (or
 *          RD_KAFKA_OFFSET_INVALID where nothing is committed), or the error;
 *          a partition whose offset could not be read is an error, never
 *          "nothing committed".
 */
rd_kafka_resp_err_t ww_kafka_committed(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                       int timeout_ms);

/**
 * @brief Replaces every RD_KAFKA_OFFSET_BEGINNING in \p parts by that
 *        partition's low watermark, asked of its leader.
 *
 * A partition assigned at a logical offset waits for librdkafka's offset
 * query, which right after a group join finds no leader thread yet and
 * retries half a second later; an absolute offset starts fetching at once.
 * A partition whose watermark cannot be read keeps RD_KAFKA_OFFSET_BEGINNING
 * (correct, only slower).
 */
void ww_kafka_resolve_beginning(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                int timeout_ms);

/**
 * @brief Sets every partition of \p parts to where its consumer group resumes:
 *        the committed offset (ww_kafka_committed(), within \p committed_ms), or,
 *        with nothing committed, the low watermark (auto.offset.reset=earliest,
 *        through ww_kafka_resolve_beginning(), within \p watermark_ms each: a
 *        watermark not read only leaves RD_KAFKA_OFFSET_BEGINNING). The
 *        metadata committed with an offset comes with it.
 * @returns 0, or the error that kept the committed offsets from being read,
 *          with \p parts unchanged.
 */
rd_kafka_resp_err_t ww_kafka_resume_offsets(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                            int committed_ms, int watermark_ms);

/**
 * Partition-EOF tracking for --mode batch: done once every assigned partition
 * has reported EOF with nothing consumed after it. Not thread-safe.
 */
typedef struct ww_eof_s ww_eof_t;
ww_eof_t *ww_eof_new(void);
void ww_eof_destroy(ww_eof_t *eof);
/** Record an assignment (adds partitions) or a revocation (removes them). */
void ww_eof_assign(ww_eof_t *eof, const rd_kafka_topic_partition_list_t *parts);
void ww_eof_revoke(ww_eof_t *eof, const rd_kafka_topic_partition_list_t *parts);
/** A message arrived on topic/partition: that partition is no longer at EOF. */
void ww_eof_message(ww_eof_t *eof, const char *topic, int32_t partition);
/** RD_KAFKA_RESP_ERR__PARTITION_EOF arrived for topic/partition. */
void ww_eof_reached(ww_eof_t *eof, const char *topic, int32_t partition);
/** @returns non-zero when at least one partition is assigned and all are at EOF. */
int ww_eof_all(const ww_eof_t *eof);

#endif /* WW_KAFKA_H */
