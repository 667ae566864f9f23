/* kafka.c: librdkafka set-up, callbacks into WW_LOG, shutdown, EOF tracking. */
#include "windwatch/kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/log.h"
#include "windwatch/signal.h"
#include "windwatch/timeutil.h"

/* librdkafka syslog levels → ours. */
static ww_log_level_t map_level(int level) {
  if (level <= 3)
    return WW_LOG_ERROR;
  if (level == 4)
    return WW_LOG_WARN;
  if (level == 5)
    return WW_LOG_NOTICE;
  if (level == 6)
    return WW_LOG_INFO;
  return WW_LOG_DEBUG;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  (void)rk;
  WW_LOG(map_level(level), "KAFKA", "%s: %s", fac, buf);
}

/*
 * Most errors librdkafka reports here are transient (a broker went away and
 * the client reconnects by itself), so they are warnings; fatal errors (an
 * idempotent or transactional producer that was fenced, say) are errors and
 * the owner of the handle checks ww_kafka_fatal() in its loop.
 */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)opaque;
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    WW_LOG(WW_LOG_ERROR, "KAFKA", "fatal error %s: %s", rd_kafka_err2name(ferr), fatal);
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    WW_LOG(WW_LOG_WARN, "KAFKA",
           "all brokers are down (%s); retrying. Check --brokers and that "
           "the broker runs (deploy/kafka/kafka.sh status)",
           reason);
  else
    WW_LOG(WW_LOG_WARN, "KAFKA", "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

int ww_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val, char *errstr,
                      size_t errstr_size) {
  char why[256];
  if (rd_kafka_conf_set(conf, key, val, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
    snprintf(errstr, errstr_size,
             "kafka property %s=%s rejected: %s (see librdkafka's "
             "CONFIGURATION.md)",
             key, val, why);
    return -1;
  }
  return 0;
}

int ww_kafka_conf_default(const ww_config_t *cfg, rd_kafka_conf_t *conf, const char *key,
                          const char *val, char *errstr, size_t errstr_size) {
  for (size_t i = 0; i < ww_config_kafka_prop_count(cfg); i++) {
    const char *k, *v;
    ww_config_kafka_prop(cfg, i, &k, &v);
    if (strcmp(k, key) == 0)
      return 0;
  }
  return ww_kafka_conf_set(conf, key, val, errstr, errstr_size);
}

int ww_kafka_consumer_defaults(const ww_config_t *cfg, rd_kafka_conf_t *conf, char *errstr,
                               size_t errstr_size) {
  /* A full prefetch queue makes librdkafka 2.0 wait 1 s before its next
   * fetch, so the queue must hold more than a second of input at full speed
   * (about 400,000 readings here) or the consumer idles. 1,000,000 messages
   * is librdkafka's maximum count, which leaves the 128 MiB byte budget as
   * the limit. Newer librdkafka (2.1+) makes that wait configurable:
   * fetch.queue.backoff.ms. */
  if (ww_kafka_conf_default(cfg, conf, "queued.min.messages", "1000000", errstr, errstr_size) ||
      ww_kafka_conf_default(cfg, conf, "queued.max.messages.kbytes", "131072", errstr, errstr_size))
    return -1;
  if (rd_kafka_version() >= 0x020100ff &&
      ww_kafka_conf_default(cfg, conf, "fetch.queue.backoff.ms", "10", errstr, errstr_size))
    return -1;
  return 0;
}

int ww_kafka_group_defaults(const ww_config_t *cfg, rd_kafka_conf_t *conf, char *errstr,
                            size_t errstr_size) {
  return ww_kafka_conf_default(cfg, conf, "topic.metadata.refresh.interval.ms", "10000", errstr,
                               errstr_size);
}

const char *ww_kafka_consume_hint(rd_kafka_resp_err_t err) {
  if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    return " (create the topic: deploy/kafka/kafka.sh topics, or kafka-topics.sh --create; it is "
           "picked up within topic.metadata.refresh.interval.ms, 10 s by default)";
  return "";
}

rd_kafka_conf_t *ww_kafka_conf_new(const ww_config_t *cfg, const char *client_id, char *errstr,
                                   size_t errstr_size) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  const char *brokers = ww_config_str(cfg, "brokers");
  if (!conf) {
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  if (!brokers || !*brokers) {
    snprintf(errstr, errstr_size,
             "--brokers is empty: give the Kafka bootstrap servers, e.g. "
             "--brokers 127.0.0.1:9092");
    goto err;
  }
  if (ww_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) != 0 ||
      ww_kafka_conf_set(conf, "client.id", client_id, errstr, errstr_size) != 0 ||
      /* Surface problems through error_cb/log_cb instead of stderr. */
      ww_kafka_conf_set(conf, "log.connection.close", "false", errstr, errstr_size) != 0)
    goto err;
  for (size_t i = 0; i < ww_config_kafka_prop_count(cfg); i++) {
    const char *k, *v;
    ww_config_kafka_prop(cfg, i, &k, &v);
    if (ww_kafka_conf_set(conf, k, v, errstr, errstr_size) != 0)
      goto err;
  }
  rd_kafka_conf_set_log_cb(conf, log_cb);
  rd_kafka_conf_set_error_cb(conf, error_cb);
  return conf;
err:
  rd_kafka_conf_destroy(conf);
  return NULL;
}

/*
 * librdkafka 2.0 can miss its first connection attempt: when its main thread
 * looks for a broker while rd_kafka_new() is still adding the bootstrap
 * servers, neither connects, and the client waits for its 1-s timer (one
 * start in 10 to 40 here, a second lost before the first reading). A
 * metadata request asks for a connection again; each try waits a little
 * longer than librdkafka's 50-ms guard between connection attempts. With no
 * broker up this gives up after 0.3 s and the client goes on trying as it
 * would have.
 */
static void connect_now(rd_kafka_t *rk) {
  for (int i = 0; i < 5; i++) {
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 0, NULL, &md, 60) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
      return;
    }
  }
}

rd_kafka_t *ww_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
                         size_t errstr_size) {
  char why[512];
  rd_kafka_t *rk = rd_kafka_new(type, conf, why, sizeof(why));
  if (!rk) {
    snprintf(errstr, errstr_size, "cannot create Kafka %s: %s",
             type == RD_KAFKA_PRODUCER ? "producer" : "consumer", why);
    return NULL;
  }
  if (type == RD_KAFKA_CONSUMER)
    rd_kafka_poll_set_consumer(rk);
  connect_now(rk);
  return rk;
}

int ww_kafka_producer_close(rd_kafka_t *rk, int timeout_ms) {
  int left;
  if (!rk)
    return 0;
  rd_kafka_flush(rk, timeout_ms);
  left = rd_kafka_outq_len(rk);
  if (left > 0) {
    /* Purge so that their delivery reports (as failures) reach the callback
     * and are counted by the caller, then serve them. */
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk, 0);
    rd_kafka_flush(rk, 1000);
  }
  rd_kafka_destroy(rk);
  return left;
}

void ww_kafka_consumer_close(rd_kafka_t *rk) {
  rd_kafka_resp_err_t err;
  if (!rk)
    return;
  err = rd_kafka_consumer_close(rk);
  if (err)
    WW_LOG(WW_LOG_WARN, "KAFKA", "consumer close: %s", rd_kafka_err2str(err));
  rd_kafka_destroy(rk);
}

int ww_kafka_subscribe(rd_kafka_t *rk, const char *const *topics, int n, char *errstr,
                       size_t errstr_size) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
  rd_kafka_resp_err_t err;
  if (!list) {
    snprintf(errstr, errstr_size, "out of memory");
    return -1;
  }
  for (int i = 0; i < n; i++)
    rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
  err = rd_kafka_subscribe(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err) {
    snprintf(errstr, errstr_size, "cannot subscribe to %s%s: %s", topics[0],
             n > 1 ? " and others" : "", rd_kafka_err2str(err));
    return -1;
  }
  return 0;
}

int ww_kafka_wait_ready(rd_kafka_t *rk, int timeout_ms, char *errstr, size_t errstr_size) {
  int64_t deadline = ww_mono_ms() + timeout_ms;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
  while (ww_mono_ms() < deadline) {
    const struct rd_kafka_metadata *md = NULL;
    int64_t left = deadline - ww_mono_ms();
    err = rd_kafka_metadata(rk, 0, NULL, &md, (int)(left < 1000 ? (left > 0 ? left : 1) : 1000));
    if (!err) {
      int brokers = md->broker_cnt;
      rd_kafka_metadata_destroy(md);
      if (brokers > 0)
        return 0;
    }
  }
  snprintf(errstr, errstr_size,
           "no Kafka broker answered within %d ms (%s); check --brokers "
           "and that the broker runs (deploy/kafka/kafka.sh status)",
           timeout_ms, rd_kafka_err2str(err));
  return -1;
}

rd_kafka_resp_err_t ww_kafka_committed(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                       int timeout_ms) {
  int64_t deadline = ww_mono_ms() + timeout_ms;
  for (;;) {
    int64_t left = deadline - ww_mono_ms();
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, parts, left > 1 ? (int)left : 1);
    /* Taking an unreadable offset for "nothing committed" would rewind the
     * partition to its beginning and publish its outputs twice. */
    for (int i = 0; !err && i < parts->cnt; i++)
      err = parts->elems[i].err;
    if (!err)
      return err;
    if ((err != RD_KAFKA_RESP_ERR_NOT_COORDINATOR &&
         err != RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS &&
         err != RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE &&
         err != RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT && err != RD_KAFKA_RESP_ERR__TRANSPORT) ||
        ww_mono_ms() + 250 >= deadline || ww_signal_stop_requested())
      return err;
    WW_LOG(WW_LOG_WARN, "KAFKA", "reading the committed offsets: %s (retrying)",
           rd_kafka_err2str(err));
    ww_sleep_ms(250);
  }
}

void ww_kafka_resolve_beginning(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                int timeout_ms) {
  for (int i = 0; i < parts->cnt; i++) {
    rd_kafka_topic_partition_t *p = &parts->elems[i];
    int64_t lo, hi;
    rd_kafka_resp_err_t err;
    if (p->offset != RD_KAFKA_OFFSET_BEGINNING)
      continue;
    err = rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi, timeout_ms);
    if (!err)
      p->offset = lo;
    else
      WW_LOG(WW_LOG_DEBUG, "KAFKA",
             "%s [%" PRId32 "]: low watermark not read (%s): starting at BEGINNING", p->topic,
             p->partition, rd_kafka_err2str(err));
  }
}

rd_kafka_resp_err_t ww_kafka_resume_offsets(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                                            int committed_ms, int watermark_ms) {
  rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(parts);
  rd_kafka_resp_err_t err = ww_kafka_committed(rk, c, committed_ms);
  if (!err) {
    for (int i = 0; i < parts->cnt; i++) {
      rd_kafka_topic_partition_t *p = &parts->elems[i], *q = &c->elems[i];
      p->offset = q->offset >= 0 ? q->offset : RD_KAFKA_OFFSET_BEGINNING;
      /* The metadata committed with it moves over (the processor's counts). */
      free(p->metadata);
      p->metadata = q->offset >= 0 ? q->metadata : NULL;
      p->metadata_size = q->offset >= 0 ? q->metadata_size : 0;
      if (q->offset >= 0) {
        q->metadata = NULL;
        q->metadata_size = 0;
      }
    }
    ww_kafka_resolve_beginning(rk, parts, watermark_ms);
  }
  rd_kafka_topic_partition_list_destroy(c);
  return err;
}

uint32_t ww_kafka_key_hash(const void *key, size_t len) {
  const unsigned char *p = key;
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; i++) {
    c ^= p[i];
    for (int b = 0; b < 8; b++)
      c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

/* The default partitioner, with the key's hash from the message's opaque. */
static int32_t key_hash_partitioner(const rd_kafka_topic_t *rkt, const void *key, size_t keylen,
                                    int32_t partition_cnt, void *rkt_opaque, void *msg_opaque) {
  if (msg_opaque && keylen > 0)
    return (int32_t)(*(const uint32_t *)msg_opaque % (uint32_t)partition_cnt);
  return rd_kafka_msg_partitioner_consistent_random(rkt, key, keylen, partition_cnt, rkt_opaque,
                                                    msg_opaque);
}

rd_kafka_topic_conf_t *ww_kafka_key_hash_topic_conf(rd_kafka_t *rk) {
  rd_kafka_topic_conf_t *tc = rd_kafka_default_topic_conf_dup(rk);
  char name[64];
  size_t n = sizeof(name);
  if (!tc)
    return NULL;
  if (rd_kafka_topic_conf_get(tc, "partitioner", name, &n) != RD_KAFKA_CONF_OK ||
      strcmp(name, "consistent_random") != 0) {
    rd_kafka_topic_conf_destroy(tc);
    return NULL;
  }
  rd_kafka_topic_conf_set_partitioner_cb(tc, key_hash_partitioner);
  return tc;
}

int ww_kafka_fatal(rd_kafka_t *rk, char *errstr, size_t errstr_size) {
  return rd_kafka_fatal_error(rk, errstr, errstr_size) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* ---- EOF tracking -------------------------------------------------------- */

typedef struct eof_part_s {
  char *topic;
  int32_t partition;
  int at_eof; /* EOF seen and nothing consumed since */
} eof_part_t;

struct ww_eof_s {
  eof_part_t *parts;
  size_t n, cap;
};

ww_eof_t *ww_eof_new(void) {
  return calloc(1, sizeof(ww_eof_t));
}

void ww_eof_destroy(ww_eof_t *eof) {
  if (!eof)
    return;
  for (size_t i = 0; i < eof->n; i++)
    free(eof->parts[i].topic);
  free(eof->parts);
  free(eof);
}

static eof_part_t *eof_find(const ww_eof_t *eof, const char *topic, int32_t partition) {
  for (size_t i = 0; i < eof->n; i++)
    if (eof->parts[i].partition == partition && strcmp(eof->parts[i].topic, topic) == 0)
      return &eof->parts[i];
  return NULL;
}

void ww_eof_assign(ww_eof_t *eof, const rd_kafka_topic_partition_list_t *parts) {
  for (int i = 0; i < parts->cnt; i++) {
    const rd_kafka_topic_partition_t *tp = &parts->elems[i];
    if (eof_find(eof, tp->topic, tp->partition))
      continue;
    if (eof->n == eof->cap) {
      size_t cap = eof->cap ? eof->cap * 2 : 16;
      eof_part_t *np = realloc(eof->parts, cap * sizeof(*np));
      if (!np)
        return; /* tracking a partition less only delays the end of a batch run */
      eof->parts = np;
      eof->cap = cap;
    }
    eof->parts[eof->n].topic = strdup(tp->topic);
    if (!eof->parts[eof->n].topic)
      return;
    eof->parts[eof->n].partition = tp->partition;
    eof->parts[eof->n].at_eof = 0;
    eof->n++;
  }
}

void ww_eof_revoke(ww_eof_t *eof, const rd_kafka_topic_partition_list_t *parts) {
  for (int i = 0; i < parts->cnt; i++) {
    eof_part_t *p = eof_find(eof, parts->elems[i].topic, parts->elems[i].partition);
    if (!p)
      continue;
    free(p->topic);
    *p = eof->parts[--eof->n];
  }
}

void ww_eof_message(ww_eof_t *eof, const char *topic, int32_t partition) {
  eof_part_t *p = eof_find(eof, topic, partition);
  if (p)
    p->at_eof = 0;
}

void ww_eof_reached(ww_eof_t *eof, const char *topic, int32_t partition) {
  eof_part_t *p = eof_find(eof, topic, partition);
  if (p)
    p->at_eof = 1;
}

int ww_eof_all(const ww_eof_t *eof) {
  if (eof->n == 0)
    return 0;
  for (size_t i = 0; i < eof->n; i++)
    if (!eof->parts[i].at_eof)
      return 0;
  return 1;
}
