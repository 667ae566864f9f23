/*
 * producer_kafka.c: delivery, backpressure and the producer's counters.
 *
 * Hot path: one rd_kafka_producev() per reading with RD_KAFKA_MSG_F_COPY, so
 * the caller encodes into a stack buffer and nothing here allocates. The
 * handle rides along as the message opaque, so the delivery callback needs
 * no conf opaque (which libwindwatch's callbacks may use).
 */
#include "producer_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "windwatch/kafka.h"
#include "windwatch/log.h"
#include "windwatch/signal.h"
#include "windwatch/timeutil.h"

/* Failed deliveries logged one by one before the log goes quiet (the count
 * still reaches the stats line and the final summary). */
#define FAIL_LOG_MAX 10

struct ww_pkafka_s {
  rd_kafka_t *rk;           /* owned */
  rd_kafka_topic_t *rkt;    /* owned; saves a topic lookup per message */
  int drop_on_full;         /* --on-full drop */
  ww_pkafka_stats_t st;     /* counters; queue_depth filled on demand */
  ww_metric_t *m_produced;  /* counters mirrored for /metrics (may be NULL) */
  ww_metric_t *m_delivered;
  ww_metric_t *m_failed;
  ww_metric_t *m_dropped;
  ww_metric_t *m_stall;     /* seconds */
  ww_metric_t *m_queue;     /* gauge, updated on poll */
  ww_metric_t *m_latency;   /* histogram of produce-to-ack latency, seconds */
};

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  ww_pkafka_t *pk = msg->_private;
  (void)rk;
  (void)opaque;
  if (!pk)
    return;
  if (msg->err) {
    pk->st.failed++;
    ww_metric_inc(pk->m_failed);
    if (pk->st.failed <= FAIL_LOG_MAX)
      WW_LOG(WW_LOG_WARN, "PRODUCER", "reading not delivered to %s [%d]: %s%s",
             rd_kafka_topic_name(msg->rkt), (int)msg->partition, rd_kafka_err2str(msg->err),
             pk->st.failed == FAIL_LOG_MAX ? " (further failures are only counted)" : "");
    return;
  }
  pk->st.delivered++;
  ww_metric_inc(pk->m_delivered);
  if (pk->m_latency) {
    int64_t us = rd_kafka_message_latency(msg);
    if (us >= 0)
      ww_metric_observe(pk->m_latency, (double)us / 1e6);
  }
}

/* Set \p key to \p val unless -X or kafka.properties already did. */
static int conf_default(const ww_config_t *cfg, rd_kafka_conf_t *conf, const char *key,
                        const char *val, char *errstr, size_t errstr_size) {
  for (size_t i = 0; i < ww_config_kafka_prop_count(cfg); i++) {
    const char *k, *v;
    ww_config_kafka_prop(cfg, i, &k, &v);
    if (strcmp(k, key) == 0)
      return 0;
  }
  return ww_kafka_conf_set(conf, key, val, errstr, errstr_size);
}

static void register_metrics(ww_pkafka_t *pk, ww_metrics_t *reg, const char *topic) {
  static const double lat_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1,   0.25,   0.5,   1,    2.5,   10, 60};
  if (!reg)
    return;
  pk->m_produced = ww_metrics_counter(reg, "windwatch_producer_readings_produced_total",
                                      "readings accepted by the Kafka client", "topic", topic,
                                      NULL);
  pk->m_delivered = ww_metrics_counter(reg, "windwatch_producer_readings_delivered_total",
                                       "readings acknowledged by the broker", "topic", topic,
                                       NULL);
  pk->m_failed = ww_metrics_counter(reg, "windwatch_producer_readings_failed_total",
                                    "readings whose delivery failed", "topic", topic, NULL);
  pk->m_dropped = ww_metrics_counter(reg, "windwatch_producer_readings_dropped_total",
                                     "readings dropped on a full queue (--on-full drop)",
                                     "topic", topic, NULL);
  pk->m_stall = ww_metrics_counter(reg, "windwatch_producer_stall_seconds_total",
                                   "time spent waiting for room in a full queue", "topic",
                                   topic, NULL);
  pk->m_queue = ww_metrics_gauge(reg, "windwatch_producer_queue_depth",
                                 "messages held by the Kafka client, not yet acknowledged",
                                 "topic", topic, NULL);
  pk->m_latency = ww_metrics_histogram(reg, "windwatch_producer_delivery_latency_seconds",
                                       "time from produce to broker acknowledgement",
                                       lat_bounds, (int)(sizeof(lat_bounds) / sizeof(double)),
                                       "topic", topic, NULL);
}

ww_pkafka_t *ww_pkafka_new(const ww_config_t *cfg, const char *topic, int drop_on_full,
                           ww_metrics_t *reg, ww_err_t *err, char *errstr, size_t errstr_size) {
  ww_pkafka_t *pk = calloc(1, sizeof(*pk));
  rd_kafka_conf_t *conf = NULL;
  *err = WW_ERR_INVALID;
  if (!pk) {
    *err = WW_ERR_NOMEM;
    snprintf(errstr, errstr_size, "out of memory");
    goto err;
  }
  if (!topic || !*topic) {
    snprintf(errstr, errstr_size, "--topic-sensor-data is empty; give a topic name");
    goto err;
  }
  pk->drop_on_full = drop_on_full;
  if (!(conf = ww_kafka_conf_new(cfg, "windwatch-producer", errstr, errstr_size)))
    goto err;
  /* Idempotence keeps retries from duplicating or reordering readings;
   * it implies acks=all, which is spelled out for anyone reading the dump. */
  if (conf_default(cfg, conf, "enable.idempotence", "true", errstr, errstr_size) != 0 ||
      conf_default(cfg, conf, "acks", "all", errstr, errstr_size) != 0 ||
      conf_default(cfg, conf, "compression.type", "lz4", errstr, errstr_size) != 0)
    goto err;
  rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
  *err = WW_ERR_KAFKA;
  if (!(pk->rk = ww_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size)))
    goto err;
  conf = NULL; /* owned by rk now */
  if (!(pk->rkt = rd_kafka_topic_new(pk->rk, topic, NULL))) {
    snprintf(errstr, errstr_size, "cannot create topic handle for '%s': %s", topic,
             rd_kafka_err2str(rd_kafka_last_error()));
    goto err;
  }
  register_metrics(pk, reg, topic);
  *err = WW_OK;
  return pk;
err:
  if (conf)
    rd_kafka_conf_destroy(conf);
  if (pk) {
    if (pk->rk)
      rd_kafka_destroy(pk->rk);
    free(pk);
  }
  return NULL;
}

ww_pkafka_send_t ww_pkafka_send(ww_pkafka_t *pk, const char *key, size_t key_len,
                                const char *val, size_t val_len) {
  int64_t stall_start = 0;
  char why[256];
  ww_pkafka_send_t rc = WW_PKAFKA_OK;
  for (;;) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(pk->rk, RD_KAFKA_V_RKT(pk->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)val, val_len),
                          RD_KAFKA_V_OPAQUE(pk), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      pk->st.produced++;
      ww_metric_inc(pk->m_produced);
      break;
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      WW_LOG(WW_LOG_ERROR, "PRODUCER", "cannot produce to %s: %s", rd_kafka_topic_name(pk->rkt),
             rd_kafka_err2str(err));
      rc = WW_PKAFKA_FATAL;
      break;
    }
    if (pk->drop_on_full) {
      pk->st.dropped++;
      ww_metric_inc(pk->m_dropped);
      rd_kafka_poll(pk->rk, 0);
      rc = WW_PKAFKA_DROPPED;
      break;
    }
    /* Backpressure: serve delivery reports until there is room. */
    if (!stall_start)
      stall_start = ww_mono_ns();
    if (ww_signal_stop_requested() || rd_kafka_fatal_error(pk->rk, why, sizeof(why))) {
      rc = ww_signal_stop_requested() ? WW_PKAFKA_STOPPED : WW_PKAFKA_FATAL;
      break;
    }
    rd_kafka_poll(pk->rk, 10);
  }
  if (stall_start) {
    int64_t ns = ww_mono_ns() - stall_start;
    pk->st.stall_ns += ns;
    ww_metric_add(pk->m_stall, (double)ns / 1e9);
  }
  return rc;
}

void ww_pkafka_poll(ww_pkafka_t *pk, int timeout_ms) {
  rd_kafka_poll(pk->rk, timeout_ms);
  ww_metric_set(pk->m_queue, (double)rd_kafka_outq_len(pk->rk));
}

int ww_pkafka_fatal(ww_pkafka_t *pk, char *errstr, size_t errstr_size) {
  return ww_kafka_fatal(pk->rk, errstr, errstr_size);
}

void ww_pkafka_stats(ww_pkafka_t *pk, ww_pkafka_stats_t *st) {
  *st = pk->st;
  st->queue_depth = rd_kafka_outq_len(pk->rk);
  ww_metric_set(pk->m_queue, (double)st->queue_depth);
}

int ww_pkafka_close(ww_pkafka_t *pk, int timeout_ms, ww_pkafka_stats_t *st) {
  int left = 0;
  if (!pk)
    return 0;
  if (pk->rkt)
    rd_kafka_topic_destroy(pk->rkt);
  /* ww_kafka_producer_close flushes, purges the rest and serves the purge
   * reports, which land in dr_msg_cb as failures before the destroy. */
  left = ww_kafka_producer_close(pk->rk, timeout_ms);
  if (st) {
    *st = pk->st;
    st->queue_depth = left;
  }
  free(pk);
  return left;
}
