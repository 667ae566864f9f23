/*
 * producer_kafka.c: delivery, backpressure and the producer's counters.
 *
 * Hot path: readings are copied into a per-partition batch (a fixed arena,
 * allocated once per line) and handed to librdkafka with one
 * rd_kafka_produce_batch() per batch, which takes the partition's lock once
 * instead of once per message. The partition of a key is the one the
 * configured built-in partitioner (default consistent_random: CRC32 of the
 * key) chooses for the topic's partition count, computed with librdkafka's
 * own partitioner function, so batching changes no message's partition.
 * Batches are flushed when full, whenever the caller polls or waits, and at
 * close, so pacing adds no delay. With the "random" partitioner or a
 * partitioner callback every reading goes through rd_kafka_producev().
 *
 * Routing: while the partition count is unknown (no broker yet, a topic that
 * the first produce or an operator creates later) readings go one by one
 * through rd_kafka_producev() and the count is asked for again at most once a
 * second, from ww_pkafka_poll() (never per reading); once known, it is checked
 * as often as librdkafka refreshes metadata (topic.metadata.refresh.interval.ms),
 * so added partitions are followed when librdkafka's partitioner follows them.
 * A change of count opens a new route: readings produced under the old one
 * may still sit in librdkafka's queue for unassigned messages or in flight to
 * the old partition, so batches wait (like a full queue) until every one of
 * them has its delivery report. No reading of a key overtakes an earlier one.
 *
 * The message opaque is the route the reading was produced under; it points
 * back at the handle, so the delivery callback needs no conf opaque (which
 * libwindwatch's callbacks may use).
 */
#include "producer_kafka.h"

#include <inttypes.h>
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
#define FAIL_LOG_MAX        10
#define BATCH_MAX           512          /* readings per partition batch */
#define BATCH_ARENA         (256 * 1024) /* payload bytes per partition batch */
#define MAX_BATCHES         64           /* distinct keys batched; more go one by one */
#define METADATA_TIMEOUT_MS 5000         /* wait for the partition count at start */
#define REFRESH_TIMEOUT_MS  200          /* wait for it later, from ww_pkafka_poll() */
#define REFRESH_UNKNOWN_MS  1000         /* ask again this often while unknown or a change waits */

/* librdkafka's built-in partitioner functions, all of one signature. */
typedef int32_t (*partitioner_t)(const rd_kafka_topic_t *rkt, const void *key, size_t keylen,
                                 int32_t partition_cnt, void *rkt_opaque, void *msg_opaque);

/* Readings produced under one partition count (see "Routing" above). */
typedef struct route_s {
  struct ww_pkafka_s *pk; /* back pointer for the delivery callback */
  int64_t inflight;       /* produced under this route, delivery report still to come */
} route_t;

/* Readings of one key waiting for rd_kafka_produce_batch(). */
typedef struct batch_s {
  char key[256]; /* the message key (a line id) */
  size_t key_len;
  int32_t partition;                  /* where the configured partitioner sends the key */
  int n;                              /* pending messages in msgs[] */
  size_t used;                        /* arena bytes in use */
  rd_kafka_message_t msgs[BATCH_MAX]; /* payload points into arena */
  char arena[BATCH_ARENA];
} batch_t;

struct ww_pkafka_s {
  rd_kafka_t *rk;          /* owned */
  rd_kafka_topic_t *rkt;   /* owned; saves a topic lookup per message */
  int drop_on_full;        /* --on-full drop */
  ww_pkafka_stats_t st;    /* counters; queue_depth filled on demand */
  ww_metric_t *m_produced; /* counters mirrored for /metrics (may be NULL) */
  ww_metric_t *m_delivered;
  ww_metric_t *m_failed;
  ww_metric_t *m_dropped;
  ww_metric_t *m_stall;          /* seconds */
  ww_metric_t *m_queue;          /* gauge, updated on poll */
  ww_metric_t *m_latency;        /* histogram of produce-to-ack latency, seconds */
  ww_metric_t *m_batches;        /* rd_kafka_produce_batch() calls that handed readings over */
  ww_metric_t *m_batched;        /* readings handed over in batches */
  partitioner_t partitioner;     /* the topic's partitioner; NULL = never batch */
  int32_t partition_cnt;         /* partition count batches use; 0 = unknown: one by one */
  route_t routes[2];             /* the current route and the one before */
  int cur;                       /* index of the current route in routes[] */
  int draining;                  /* routes[!cur] still has readings in flight */
  int64_t next_refresh_ns;       /* monotonic time of the next partition count query */
  int64_t refresh_known_ns;      /* query period once the count is known, ns */
  int n_batches;                 /* entries in batches */
  batch_t *batches[MAX_BATCHES]; /* owned, one per key seen */
};

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  route_t *rt = msg->_private;
  ww_pkafka_t *pk;
  (void)rk;
  (void)opaque;
  if (!rt)
    return;
  pk = rt->pk;
  rt->inflight--;
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

static void register_metrics(ww_pkafka_t *pk, ww_metrics_t *reg, const char *topic) {
  static const double lat_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,    1,     2.5,  10,    60};
  if (!reg)
    return;
  pk->m_produced =
      ww_metrics_counter(reg, "windwatch_producer_readings_produced_total",
                         "readings accepted by the Kafka client", "topic", topic, NULL);
  pk->m_delivered = ww_metrics_counter(reg, "windwatch_producer_readings_delivered_total",
                                       "readings acknowledged by the broker", "topic", topic, NULL);
  pk->m_failed = ww_metrics_counter(reg, "windwatch_producer_readings_failed_total",
                                    "readings whose delivery failed", "topic", topic, NULL);
  pk->m_dropped =
      ww_metrics_counter(reg, "windwatch_producer_readings_dropped_total",
                         "readings dropped on a full queue (--on-full drop)", "topic", topic, NULL);
  pk->m_stall =
      ww_metrics_counter(reg, "windwatch_producer_stall_seconds_total",
                         "time spent waiting for room in a full queue", "topic", topic, NULL);
  pk->m_queue = ww_metrics_gauge(reg, "windwatch_producer_queue_depth",
                                 "messages held by the Kafka client, not yet acknowledged", "topic",
                                 topic, NULL);
  pk->m_latency =
      ww_metrics_histogram(reg, "windwatch_producer_delivery_latency_seconds",
                           "time from produce to broker acknowledgement", lat_bounds,
                           (int)(sizeof(lat_bounds) / sizeof(double)), "topic", topic, NULL);
  pk->m_batches =
      ww_metrics_counter(reg, "windwatch_producer_batches_total",
                         "per-partition batches handed to the Kafka client", "topic", topic, NULL);
  pk->m_batched = ww_metrics_counter(reg, "windwatch_producer_readings_batched_total",
                                     "readings handed to the Kafka client in per-partition batches "
                                     "(the rest went one by one)",
                                     "topic", topic, NULL);
}

/*
 * The partitioner librdkafka uses for this topic (the last "partitioner"
 * of kafka.properties and -X, default consistent_random), if batching can
 * reproduce it; NULL for "random" and for a partitioner callback.
 */
static partitioner_t partitioner_of(const ww_config_t *cfg) {
  static const struct {
    const char *name;
    partitioner_t fn;
  } builtin[] = {
      {"consistent_random", rd_kafka_msg_partitioner_consistent_random},
      {"consistent", rd_kafka_msg_partitioner_consistent},
      {"murmur2_random", rd_kafka_msg_partitioner_murmur2_random},
      {"murmur2", rd_kafka_msg_partitioner_murmur2},
      {"fnv1a_random", rd_kafka_msg_partitioner_fnv1a_random},
      {"fnv1a", rd_kafka_msg_partitioner_fnv1a},
  };
  const char *name = "consistent_random";
  for (size_t i = 0; i < ww_config_kafka_prop_count(cfg); i++) {
    const char *k, *v;
    ww_config_kafka_prop(cfg, i, &k, &v);
    if (strcmp(k, "partitioner_cb") == 0)
      return NULL; /* the user's callback decides, message by message */
    if (strcmp(k, "partitioner") == 0)
      name = v;
  }
  for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
    if (strcmp(name, builtin[i].name) == 0)
      return builtin[i].fn;
  return NULL; /* "random": no key decides the partition */
}

/* topic.metadata.refresh.interval.ms of the producer, in ns (at least 1 s). */
static int64_t refresh_interval_ns(rd_kafka_t *rk) {
  char buf[32];
  size_t size = sizeof(buf);
  long long ms = 300000; /* librdkafka's default */
  if (rd_kafka_conf_get(rd_kafka_conf(rk), "topic.metadata.refresh.interval.ms", buf, &size) ==
      RD_KAFKA_CONF_OK)
    ms = atoll(buf);
  if (ms < REFRESH_UNKNOWN_MS) /* -1 turns librdkafka's refresh off; still look now and then */
    ms = ms < 0 ? 300000 : REFRESH_UNKNOWN_MS;
  return (int64_t)ms * 1000000;
}

/* Partitions of the topic as the cluster reports them now, or 0 if it does not
 * (no broker answered within \p timeout_ms, the topic does not exist yet). */
static int32_t query_partition_cnt(ww_pkafka_t *pk, int timeout_ms) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t err;
  int32_t cnt = 0;
  err = rd_kafka_metadata(pk->rk, 0, pk->rkt, &md, timeout_ms);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && !md->topics[0].err)
    cnt = md->topics[0].partition_cnt;
  else
    WW_LOG(WW_LOG_DEBUG, "PRODUCER", "topic %s: no partition count yet: %s",
           rd_kafka_topic_name(pk->rkt),
           rd_kafka_err2str(err                  ? err
                            : md->topic_cnt == 1 ? md->topics[0].err
                                                 : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
  if (md)
    rd_kafka_metadata_destroy(md);
  return cnt;
}

/* Partition of batch \p b's key for the current partition count, as librdkafka chooses it. */
static void batch_route(ww_pkafka_t *pk, batch_t *b) {
  b->partition = pk->partitioner(pk->rkt, b->key, b->key_len, pk->partition_cnt, NULL, NULL);
}

/* @returns non-zero when batches may be handed over: nothing produced under
 * the previous route is still waiting for its delivery report. */
static int route_ready(ww_pkafka_t *pk) {
  if (pk->draining && pk->routes[!pk->cur].inflight > 0)
    return 0;
  if (pk->draining)
    WW_LOG(WW_LOG_DEBUG, "PRODUCER", "topic %s: earlier readings delivered; batches flow",
           rd_kafka_topic_name(pk->rkt));
  pk->draining = 0;
  return 1;
}

/*
 * Follow a partition count of \p cnt (> 0): a new route, every batch
 * re-partitioned. Needs the previous route drained (it is reused); otherwise
 * the change waits for the next query, a second later (route_refresh).
 */
static void route_change(ww_pkafka_t *pk, int32_t cnt) {
  route_t *old = &pk->routes[pk->cur];
  if (cnt == pk->partition_cnt || !route_ready(pk))
    return;
  if (pk->partition_cnt == 0)
    WW_LOG(WW_LOG_INFO, "PRODUCER",
           "topic %s has %d partitions; batching per partition from now on "
           "(%" PRId64 " readings sent one by one are still in flight)",
           rd_kafka_topic_name(pk->rkt), (int)cnt, old->inflight);
  else
    WW_LOG(WW_LOG_NOTICE, "PRODUCER",
           "topic %s now has %d partitions (was %d); keys are re-partitioned as "
           "librdkafka's partitioner does",
           rd_kafka_topic_name(pk->rkt), (int)cnt, (int)pk->partition_cnt);
  pk->partition_cnt = cnt;
  pk->cur = !pk->cur;
  pk->draining = old->inflight > 0;
  for (int i = 0; i < pk->n_batches; i++)
    batch_route(pk, pk->batches[i]);
}

/* Ask for the partition count when it is due (see "Routing" above). */
static void route_refresh(ww_pkafka_t *pk) {
  int64_t now = ww_mono_ns();
  int32_t cnt;
  if (!pk->partitioner || now < pk->next_refresh_ns)
    return;
  cnt = query_partition_cnt(pk, REFRESH_TIMEOUT_MS);
  if (cnt > 0)
    route_change(pk, cnt);
  /* Unknown, or a change postponed while the previous route drains: ask
   * again soon rather than after a whole metadata refresh interval. */
  pk->next_refresh_ns =
      ww_mono_ns() + (pk->partition_cnt > 0 && (cnt <= 0 || cnt == pk->partition_cnt)
                          ? pk->refresh_known_ns
                          : REFRESH_UNKNOWN_MS * 1000000LL);
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
  if (ww_kafka_conf_default(cfg, conf, "enable.idempotence", "true", errstr, errstr_size) != 0 ||
      ww_kafka_conf_default(cfg, conf, "acks", "all", errstr, errstr_size) != 0 ||
      ww_kafka_conf_default(cfg, conf, "compression.type", "lz4", errstr, errstr_size) != 0)
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
  pk->routes[0].pk = pk->routes[1].pk = pk;
  if ((pk->partitioner = partitioner_of(cfg))) {
    pk->refresh_known_ns = refresh_interval_ns(pk->rk);
    pk->partition_cnt = query_partition_cnt(pk, METADATA_TIMEOUT_MS);
    pk->next_refresh_ns = ww_mono_ns() + (pk->partition_cnt > 0 ? pk->refresh_known_ns
                                                                : REFRESH_UNKNOWN_MS * 1000000LL);
  }
  WW_LOG(WW_LOG_DEBUG, "PRODUCER", "topic %s: %s", topic,
         !pk->partitioner        ? "partitioner not reproducible; producing one by one"
         : pk->partition_cnt > 0 ? "batching per partition"
                                 : "partition count unknown; producing one by one for now");
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

/* Add \p ns of waiting for room to the stall counters. */
static void stalled(ww_pkafka_t *pk, int64_t since_ns) {
  if (since_ns) {
    int64_t ns = ww_mono_ns() - since_ns;
    pk->st.stall_ns += ns;
    ww_metric_add(pk->m_stall, (double)ns / 1e9);
  }
}

/* Wait for room in a full queue. @returns non-zero to give up (stop or fatal). */
static int wait_room(ww_pkafka_t *pk, int64_t deadline_ns, ww_pkafka_send_t *rc) {
  char why[256];
  if (rd_kafka_fatal_error(pk->rk, why, sizeof(why))) {
    *rc = WW_PKAFKA_FATAL;
    return 1;
  }
  if (deadline_ns ? ww_mono_ns() >= deadline_ns : ww_signal_stop_requested()) {
    *rc = WW_PKAFKA_STOPPED;
    return 1;
  }
  rd_kafka_poll(pk->rk, 10);
  return 0;
}

static void produce_failed(ww_pkafka_t *pk, rd_kafka_resp_err_t err) {
  WW_LOG(WW_LOG_ERROR, "PRODUCER", "cannot produce to %s: %s", rd_kafka_topic_name(pk->rkt),
         rd_kafka_err2str(err));
}

/* One reading through rd_kafka_producev (no batching). */
static ww_pkafka_send_t send_one(ww_pkafka_t *pk, const char *key, size_t key_len, const char *val,
                                 size_t val_len) {
  int64_t stall_start = 0;
  ww_pkafka_send_t rc = WW_PKAFKA_OK;
  for (;;) {
    route_t *rt = &pk->routes[pk->cur];
    rd_kafka_resp_err_t err =
        rd_kafka_producev(pk->rk, RD_KAFKA_V_RKT(pk->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)val, val_len),
                          RD_KAFKA_V_OPAQUE(rt), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rt->inflight++;
      pk->st.produced++;
      ww_metric_inc(pk->m_produced);
      break;
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      produce_failed(pk, err);
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
    if (!stall_start) /* backpressure: serve delivery reports until there is room */
      stall_start = ww_mono_ns();
    if (wait_room(pk, 0, &rc))
      break;
  }
  stalled(pk, stall_start);
  return rc;
}

/*
 * Hand batch \p b to librdkafka. Messages refused for a full queue are
 * dropped (--on-full drop) or retried after serving delivery reports, until
 * \p deadline_ns (monotonic) or, when that is 0, until a stop is requested.
 * While the previous route drains the batch waits the same way, unless
 * \p may_hold: then it stays as it is, for a later flush.
 * Whatever could not be handed over stays in the batch, in order.
 */
static ww_pkafka_send_t flush_batch(ww_pkafka_t *pk, batch_t *b, int64_t deadline_ns,
                                    int may_hold) {
  int64_t stall_start = 0;
  ww_pkafka_send_t rc = WW_PKAFKA_OK;
  while (b->n > 0) {
    int kept = 0, ok = 0;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__QUEUE_FULL;
    if (route_ready(pk)) {
      route_t *rt = &pk->routes[pk->cur];
      for (int i = 0; i < b->n; i++)
        b->msgs[i]._private = rt;
      ok = rd_kafka_produce_batch(pk->rkt, b->partition, RD_KAFKA_MSG_F_COPY, b->msgs, b->n);
      rt->inflight += ok;
      pk->st.produced += (uint64_t)ok;
      ww_metric_add(pk->m_produced, ok);
      if (ok > 0) {
        pk->st.batches++;
        pk->st.batched += (uint64_t)ok;
        ww_metric_inc(pk->m_batches);
        ww_metric_add(pk->m_batched, ok);
      }
      if (ok == b->n) {
        b->n = 0;
        break;
      }
      /* Keep the refused ones, in order. A full queue only empties when this
       * thread serves delivery reports, so once one message is refused the
       * rest of the batch is refused too: order is never broken. */
      err = RD_KAFKA_RESP_ERR_NO_ERROR;
      for (int i = 0; i < b->n; i++)
        if (b->msgs[i].err) {
          if (!err || err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            err = b->msgs[i].err;
          b->msgs[kept++] = b->msgs[i];
        }
      b->n = kept;
    } else if (may_hold) {
      break; /* earlier readings still in flight; a later flush hands these over */
    } else {
      kept = b->n; /* as good as a full queue: wait for the earlier readings */
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      produce_failed(pk, err);
      rc = WW_PKAFKA_FATAL;
      break;
    }
    if (pk->drop_on_full) {
      pk->st.dropped += (uint64_t)kept;
      ww_metric_add(pk->m_dropped, kept);
      b->n = 0;
      rd_kafka_poll(pk->rk, 0);
      rc = WW_PKAFKA_DROPPED;
      break;
    }
    if (!stall_start)
      stall_start = ww_mono_ns();
    if (wait_room(pk, deadline_ns, &rc))
      break;
  }
  if (b->n == 0)
    b->used = 0;
  stalled(pk, stall_start);
  return rc;
}

/* Flush every batch; @returns the first problem, or WW_PKAFKA_OK. */
static ww_pkafka_send_t flush_all(ww_pkafka_t *pk, int64_t deadline_ns, int may_hold) {
  ww_pkafka_send_t rc = WW_PKAFKA_OK;
  for (int i = 0; i < pk->n_batches; i++) {
    ww_pkafka_send_t r = flush_batch(pk, pk->batches[i], deadline_ns, may_hold);
    if (r == WW_PKAFKA_FATAL || r == WW_PKAFKA_STOPPED)
      return r;
    if (r != WW_PKAFKA_OK)
      rc = r;
  }
  return rc;
}

/* The batch of \p key, created on first use; NULL when it cannot be batched. */
static batch_t *batch_for(ww_pkafka_t *pk, const char *key, size_t key_len) {
  batch_t *b;
  for (int i = 0; i < pk->n_batches; i++)
    if (pk->batches[i]->key_len == key_len && memcmp(pk->batches[i]->key, key, key_len) == 0)
      return pk->batches[i];
  /* An empty key is partitioned at random (sticky) by librdkafka: not batched. */
  if (pk->n_batches == MAX_BATCHES || key_len == 0 || key_len > sizeof(b->key) ||
      !(b = malloc(sizeof(*b))))
    return NULL;
  memcpy(b->key, key, key_len);
  b->key_len = key_len;
  batch_route(pk, b);
  b->n = 0;
  b->used = 0;
  pk->batches[pk->n_batches++] = b;
  return b;
}

ww_pkafka_send_t ww_pkafka_send(ww_pkafka_t *pk, const char *key, size_t key_len, const char *val,
                                size_t val_len) {
  batch_t *b = pk->partition_cnt > 0 && val_len <= BATCH_ARENA ? batch_for(pk, key, key_len) : NULL;
  ww_pkafka_send_t rc = WW_PKAFKA_OK;
  rd_kafka_message_t *m;
  if (!b)
    return send_one(pk, key, key_len, val, val_len);
  if (b->n == BATCH_MAX || b->used + val_len > BATCH_ARENA) {
    rc = flush_batch(pk, b, 0, 0);
    if (b->n > 0) /* still full: stopped or fatal; this reading was not taken */
      return rc == WW_PKAFKA_OK ? WW_PKAFKA_FATAL : rc;
  }
  m = &b->msgs[b->n++];
  memset(m, 0, sizeof(*m));
  memcpy(b->arena + b->used, val, val_len);
  m->payload = b->arena + b->used;
  m->len = val_len;
  m->key = b->key;
  m->key_len = b->key_len;
  b->used += val_len;
  /* A reading dropped while flushing older ones was counted there; this one is queued. */
  return rc == WW_PKAFKA_DROPPED ? WW_PKAFKA_OK : rc;
}

ww_pkafka_send_t ww_pkafka_poll(ww_pkafka_t *pk, int timeout_ms) {
  ww_pkafka_send_t rc;
  route_refresh(pk);
  rc = flush_all(pk, 0, 1);
  rd_kafka_poll(pk->rk, timeout_ms);
  ww_metric_set(pk->m_queue, (double)rd_kafka_outq_len(pk->rk));
  return rc;
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
  int left = 0, unsent = 0;
  int64_t start;
  if (!pk)
    return 0;
  /* Pending batches get the same deadline as the flush that follows. */
  start = ww_mono_ns();
  flush_all(pk, start + (int64_t)timeout_ms * 1000000 + 1, 0);
  for (int i = 0; i < pk->n_batches; i++) {
    unsent += pk->batches[i]->n;
    free(pk->batches[i]);
  }
  if (unsent > 0) {
    WW_LOG(WW_LOG_ERROR, "PRODUCER",
           "%d readings could not be handed to the Kafka client "
           "before the flush timeout",
           unsent);
    pk->st.failed += (uint64_t)unsent;
    ww_metric_add(pk->m_failed, unsent);
  }
  timeout_ms -= (int)((ww_mono_ns() - start) / 1000000);
  if (pk->rkt)
    rd_kafka_topic_destroy(pk->rkt);
  /* ww_kafka_producer_close flushes, purges the rest and serves the purge
   * reports, which land in dr_msg_cb as failures before the destroy. */
  left = ww_kafka_producer_close(pk->rk, timeout_ms > 0 ? timeout_ms : 0) + unsent;
  if (st) {
    *st = pk->st;
    st->queue_depth = left;
  }
  free(pk);
  return left;
}
