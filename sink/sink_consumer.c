/* sink_consumer.c: Kafka in, batched SQLite transactions out, offsets from the database. */
#include "sink_consumer.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_retention.h"
#include "sink_stats.h"
#include "windwatch/kafka.h"
#include "windwatch/log.h"
#include "windwatch/metrics.h"
#include "windwatch/signal.h"
#include "windwatch/timeutil.h"

#define WW_SINK_POLL_MS 100          /* longest wait in poll, so signals and timers stay prompt */
#define WW_SINK_BACKOFF_MIN_MS 100   /* first retry after a database fault */
#define WW_SINK_BACKOFF_MAX_MS 5000  /* retries never wait longer than this */
#define WW_SINK_SHUTDOWN_RETRY_MS 10000 /* how long shutdown keeps retrying the last batch */
#define WW_SINK_ERRSTR 512

typedef struct ww_sink_s {
  const ww_config_t *cfg;      /* borrowed */
  sqlite3 *db;                 /* borrowed */
  rd_kafka_t *rk;              /* owned */
  ww_sink_store_t *store;      /* owned */
  ww_sink_retention_t *ret;    /* owned */
  ww_sink_stats_t *stats;      /* owned */
  ww_metrics_t *metrics;       /* owned; NULL without --metrics-listen */
  ww_eof_t *eof;               /* owned; --mode batch only */
  const char *topics[WW_SINK__KINDS]; /* borrowed from cfg */
  int64_t batch_size;          /* messages per transaction, at most */
  int64_t batch_ms;            /* age of the oldest batched message that forces a commit */
  /* The open batch: messages (owned) and their store view, index-aligned. */
  rd_kafka_message_t **rkms;
  ww_sink_msg_t *msgs;
  char **hdrs;                 /* owned NUL-terminated DLQ header copies, or NULL */
  size_t n, cap;
  int64_t batch_t0;            /* ww_mono_ms() when the first message of the batch arrived */
  int64_t retry_at;            /* ww_mono_ms() of the next attempt after a fault; 0 = none */
  int64_t backoff_ms;          /* current retry delay */
  int paused;                  /* partitions paused while the database fails */
  int fatal;                   /* a fatal error: stop and exit 1 */
  ww_sink_counts_t total;
} ww_sink_t;

static ww_sink_kind_t topic_kind(const ww_sink_t *s, const char *topic) {
  for (int k = 0; k < WW_SINK__KINDS; k++)
    if (!strcmp(s->topics[k], topic))
      return (ww_sink_kind_t)k;
  return WW_SINK_DLQ; /* unreachable: we subscribe to these topics only */
}

/* Copy the DLQ headers into one owned buffer ("reason\0detail\0topic\0"). */
static int dlq_headers(rd_kafka_message_t *rkm, ww_sink_msg_t *m, char **mem) {
  static const char *const names[3] = {"reason", "detail", "source_topic"};
  const void *val[3] = {NULL, NULL, NULL};
  size_t len[3] = {0, 0, 0}, total = 0, o = 0;
  rd_kafka_headers_t *hdrs = NULL;
  const char **out[3] = {&m->h_reason, &m->h_detail, &m->h_src_topic};
  char *buf;

  *mem = NULL;
  if (rd_kafka_message_headers(rkm, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return 0; /* no headers at all: stored with reason "unknown" */
  for (int i = 0; i < 3; i++) {
    if (rd_kafka_header_get_last(hdrs, names[i], &val[i], &len[i]) != RD_KAFKA_RESP_ERR_NO_ERROR)
      val[i] = NULL, len[i] = 0;
    total += len[i] + 1;
  }
  if (!(buf = malloc(total + 64)))
    return -1;
  for (int i = 0; i < 3; i++) {
    if (!val[i])
      continue;
    memcpy(buf + o, val[i], len[i]);
    buf[o + len[i]] = '\0';
    *out[i] = buf + o;
    o += len[i] + 1;
  }
  /* Numeric headers, parsed through the same buffer's tail. */
  for (int i = 0; i < 2; i++) {
    const char *name = i ? "source_offset" : "source_partition";
    const void *v;
    size_t vl;
    char num[32], *end;
    long long x;
    if (rd_kafka_header_get_last(hdrs, name, &v, &vl) != RD_KAFKA_RESP_ERR_NO_ERROR || !v ||
        vl == 0 || vl >= sizeof(num))
      continue;
    memcpy(num, v, vl);
    num[vl] = '\0';
    x = strtoll(num, &end, 10);
    if (*end || x < 0)
      continue;
    if (i)
      m->h_src_offset = x;
    else
      m->h_src_partition = (int32_t)x;
  }
  *mem = buf;
  return 0;
}

/* Take ownership of \p rkm into the open batch. @returns 0 or -1 (out of memory). */
static int batch_add(ww_sink_t *s, rd_kafka_message_t *rkm) {
  ww_sink_msg_t *m;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    rd_kafka_message_t **r = realloc(s->rkms, cap * sizeof(*r));
    ww_sink_msg_t *mm;
    char **hh;
    if (r)
      s->rkms = r;
    mm = r ? realloc(s->msgs, cap * sizeof(*mm)) : NULL;
    if (mm)
      s->msgs = mm;
    hh = mm ? realloc(s->hdrs, cap * sizeof(*hh)) : NULL;
    if (!hh)
      return -1;
    s->hdrs = hh;
    s->cap = cap;
  }
  m = &s->msgs[s->n];
  memset(m, 0, sizeof(*m));
  m->topic = rd_kafka_topic_name(rkm->rkt);
  m->kind = topic_kind(s, m->topic);
  m->partition = rkm->partition;
  m->offset = rkm->offset;
  m->ts_ms = rd_kafka_message_timestamp(rkm, NULL);
  m->key = rkm->key;
  m->key_len = rkm->key_len;
  m->payload = rkm->payload;
  m->len = rkm->len;
  m->h_src_partition = -1;
  m->h_src_offset = -1;
  s->hdrs[s->n] = NULL;
  if (m->kind == WW_SINK_DLQ && dlq_headers(rkm, m, &s->hdrs[s->n]) != 0)
    return -1;
  s->rkms[s->n] = rkm;
  if (s->n++ == 0)
    s->batch_t0 = ww_mono_ms();
  return 0;
}

static void batch_clear(ww_sink_t *s) {
  for (size_t i = 0; i < s->n; i++) {
    rd_kafka_message_destroy(s->rkms[i]);
    free(s->hdrs[i]);
  }
  s->n = 0;
}

/* Tell Kafka how far the database got, so lag tools see it. The database
 * stays the source of truth: assignment seeks to its offsets, not these. */
static void commit_to_kafka(ww_sink_t *s) {
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
  rd_kafka_resp_err_t err;
  for (size_t i = 0; i < s->n; i++) {
    const ww_sink_msg_t *m = &s->msgs[i];
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(parts, m->topic,
                                                                        m->partition);
    if (!tp)
      tp = rd_kafka_topic_partition_list_add(parts, m->topic, m->partition);
    if (m->offset + 1 > tp->offset)
      tp->offset = m->offset + 1;
  }
  if (parts->cnt > 0 && (err = rd_kafka_commit(s->rk, parts, 1)) != RD_KAFKA_RESP_ERR_NO_ERROR)
    WW_LOG(WW_LOG_DEBUG, "SINK", "offset commit to Kafka (for lag only): %s", rd_kafka_err2str(err));
  rd_kafka_topic_partition_list_destroy(parts);
}

static void pause_all(ww_sink_t *s, int pause) {
  rd_kafka_topic_partition_list_t *parts = NULL;
  if (rd_kafka_assignment(s->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
    return;
  if (pause)
    rd_kafka_pause_partitions(s->rk, parts);
  else
    rd_kafka_resume_partitions(s->rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  s->paused = pause;
}

/*
 * Store the open batch in one transaction. On a database fault nothing is
 * stored and no offset moves: the batch is kept for the next attempt, the
 * partitions are paused, and the retry waits with exponential backoff.
 * @returns 0 (stored, or nothing to store) or -1 (kept for a retry).
 */
static int batch_flush(ww_sink_t *s) {
  char errstr[WW_SINK_ERRSTR];
  ww_sink_counts_t c;
  int64_t t0;
  ww_err_t err;

  if (s->n == 0)
    return 0;
  memset(&c, 0, sizeof(c));
  t0 = ww_mono_ns();
  err = ww_sink_store_apply(s->store, s->msgs, s->n, &c, errstr, sizeof(errstr));
  if (err != WW_OK) {
    ww_sink_stats_fault(s->stats);
    WW_LOG(s->backoff_ms >= WW_SINK_BACKOFF_MAX_MS ? WW_LOG_ERROR : WW_LOG_WARN, "SINK",
           "%s (%s); %zu messages kept, offsets not advanced, retrying in %" PRId64 " ms%s",
           errstr, ww_err2str(err), s->n, s->backoff_ms ? s->backoff_ms : WW_SINK_BACKOFF_MIN_MS,
           err == WW_ERR_FULL ? " (free disk space)" : "");
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : WW_SINK_BACKOFF_MIN_MS;
    if (s->backoff_ms > WW_SINK_BACKOFF_MAX_MS)
      s->backoff_ms = WW_SINK_BACKOFF_MAX_MS;
    s->retry_at = ww_mono_ms() + s->backoff_ms;
    if (!s->paused)
      pause_all(s, 1);
    return -1;
  }
  ww_sink_stats_batch(s->stats, &c, ww_mono_ns() - t0);
  if (s->retry_at)
    WW_LOG(WW_LOG_NOTICE, "SINK", "database writable again; stored %zu kept messages", s->n);
  commit_to_kafka(s);
  batch_clear(s);
  s->retry_at = 0;
  s->backoff_ms = 0;
  if (s->paused)
    pause_all(s, 0);
  /* accumulate */
  s->total.records += c.records;
  s->total.readings += c.readings;
  s->total.windows += c.windows;
  s->total.alerts += c.alerts;
  s->total.dead_letters += c.dead_letters;
  s->total.models += c.models;
  s->total.skipped += c.skipped;
  s->total.tombstones += c.tombstones;
  return 0;
}

/* Keep retrying the open batch until stored, stop requested, or \p max_ms passed. */
static int batch_flush_wait(ww_sink_t *s, int64_t max_ms) {
  int64_t deadline = ww_mono_ms() + max_ms;
  while (batch_flush(s) != 0) {
    int64_t now = ww_mono_ms();
    if (now >= deadline)
      return -1;
    ww_sleep_ms(s->retry_at < deadline ? s->retry_at - now : deadline - now);
  }
  return 0;
}

/* Set every partition of \p parts to its offset in the database (beginning if none).
 * Retries database faults: assigning at a guessed offset could lose or repeat rows. */
static int offsets_from_db(ww_sink_t *s, rd_kafka_topic_partition_list_t *parts) {
  char errstr[WW_SINK_ERRSTR];
  for (int i = 0; i < parts->cnt; i++) {
    rd_kafka_topic_partition_t *tp = &parts->elems[i];
    int64_t next = -1, backoff = WW_SINK_BACKOFF_MIN_MS;
    ww_err_t err;
    while ((err = ww_sink_store_offset(s->store, tp->topic, tp->partition, &next, errstr,
                                       sizeof(errstr))) != WW_OK && err != WW_ERR_NOENT) {
      WW_LOG(WW_LOG_WARN, "SINK", "%s; retrying in %" PRId64 " ms", errstr, backoff);
      if (ww_signal_stop_requested())
        return -1;
      ww_sleep_ms(backoff);
      backoff = backoff * 2 > WW_SINK_BACKOFF_MAX_MS ? WW_SINK_BACKOFF_MAX_MS : backoff * 2;
    }
    tp->offset = err == WW_OK ? next : RD_KAFKA_OFFSET_BEGINNING;
    if (err == WW_OK)
      WW_LOG(WW_LOG_INFO, "SINK", "assigned %s [%d] at stored offset %" PRId64, tp->topic,
             (int)tp->partition, next);
    else
      WW_LOG(WW_LOG_INFO, "SINK", "assigned %s [%d] at the beginning (no stored offset)",
             tp->topic, (int)tp->partition);
  }
  return 0;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
  ww_sink_t *s = opaque;
  int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
  rd_kafka_error_t *error = NULL;
  rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;

  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (offsets_from_db(s, parts) != 0) {
      s->fatal = 1;
      return;
    }
    if (s->eof)
      ww_eof_assign(s->eof, parts);
    if (coop)
      error = rd_kafka_incremental_assign(rk, parts);
    else
      aerr = rd_kafka_assign(rk, parts);
    s->paused = 0;
  } else {
    /* Store what we have before giving the partitions away. If the database
     * refuses, drop the batch: its offsets were not stored, so whoever owns
     * the partitions next re-reads it from the database offsets. */
    if (batch_flush_wait(s, WW_SINK_SHUTDOWN_RETRY_MS) != 0) {
      WW_LOG(WW_LOG_WARN, "SINK", "revocation: dropping %zu unstored messages; they will be "
             "read again from the stored offsets", s->n);
      batch_clear(s);
      s->retry_at = 0;
      s->backoff_ms = 0;
    }
    if (s->eof)
      ww_eof_revoke(s->eof, parts);
    if (coop)
      error = rd_kafka_incremental_unassign(rk, parts);
    else
      aerr = rd_kafka_assign(rk, NULL);
  }
  if (error) {
    WW_LOG(WW_LOG_ERROR, "SINK", "rebalance: %s", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    s->fatal = 1;
  } else if (aerr) {
    WW_LOG(WW_LOG_ERROR, "SINK", "rebalance: %s", rd_kafka_err2str(aerr));
    s->fatal = 1;
  }
}

static rd_kafka_t *consumer_new(ww_sink_t *s, int batch_mode) {
  char errstr[WW_SINK_ERRSTR];
  rd_kafka_conf_t *conf = ww_kafka_conf_new(s->cfg, "windwatch-sink", errstr, sizeof(errstr));
  rd_kafka_t *rk;
  if (!conf)
    goto err;
  /* The database holds the offsets; Kafka's committed offsets are only for lag tools. */
  if (ww_kafka_conf_set(conf, "group.id", ww_config_str(s->cfg, "group"), errstr,
                        sizeof(errstr)) != 0 ||
      ww_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof(errstr)) != 0 ||
      ww_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) != 0 ||
      ww_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, sizeof(errstr)) != 0 ||
      ww_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof(errstr)) != 0 ||
      ww_kafka_conf_set(conf, "enable.partition.eof", batch_mode ? "true" : "false", errstr,
                        sizeof(errstr)) != 0)
    goto err;
  rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
  rd_kafka_conf_set_opaque(conf, s);
  if (!(rk = ww_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr))))
    goto err;
  rd_kafka_poll_set_consumer(rk);
  return rk;
err:
  if (conf)
    rd_kafka_conf_destroy(conf);
  WW_LOG(WW_LOG_ERROR, "SINK", "%s", errstr);
  return NULL;
}

/* One retention step when due; keeps stepping each loop while rows remain. */
static void retention_tick(ww_sink_t *s, int64_t now_mono, int64_t *next_at, int *more) {
  char errstr[WW_SINK_ERRSTR];
  int64_t readings = 0, rollups = 0;
  ww_err_t err;
  if (!*more && now_mono < *next_at)
    return;
  err = ww_sink_retention_step(s->ret, ww_now_ms(), more, &readings, &rollups, errstr,
                               sizeof(errstr));
  if (err != WW_OK)
    WW_LOG(WW_LOG_WARN, "SINK", "%s (%s); retention retries later", errstr, ww_err2str(err));
  else
    ww_sink_stats_retention(s->stats, readings, rollups);
  if (!*more)
    *next_at = now_mono + ww_config_duration_ms(s->cfg, "retention-interval");
}

static void handle_event(ww_sink_t *s, rd_kafka_message_t *rkm) {
  char errstr[WW_SINK_ERRSTR];
  if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (s->eof)
      ww_eof_reached(s->eof, rd_kafka_topic_name(rkm->rkt), rkm->partition);
  } else if (ww_kafka_fatal(s->rk, errstr, sizeof(errstr))) {
    WW_LOG(WW_LOG_ERROR, "SINK", "fatal Kafka error: %s", errstr);
    s->fatal = 1;
  } else {
    WW_LOG(WW_LOG_WARN, "SINK", "consumer: %s%s%s", rd_kafka_message_errstr(rkm),
           rkm->rkt ? " on " : "", rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "");
  }
  rd_kafka_message_destroy(rkm);
}

static int loop(ww_sink_t *s, int batch_mode) {
  int64_t stats_every = ww_config_duration_ms(s->cfg, "stats-interval");
  int64_t next_stats = ww_mono_ms() + stats_every, next_retention = 0, next_gauges = 0;
  int ret_more = 0;

  while (!ww_signal_stop_requested() && !s->fatal) {
    int64_t now = ww_mono_ms(), wait = WW_SINK_POLL_MS;
    rd_kafka_message_t *rkm;
    if (s->n > 0 && !s->retry_at) {
      int64_t left = s->batch_t0 + s->batch_ms - now;
      wait = left < 0 ? 0 : left < wait ? left : wait;
    }
    rkm = rd_kafka_consumer_poll(s->rk, (int)wait);
    if (rkm && rkm->err) {
      handle_event(s, rkm);
    } else if (rkm) {
      if (s->eof)
        ww_eof_message(s->eof, rd_kafka_topic_name(rkm->rkt), rkm->partition);
      if (batch_add(s, rkm) != 0) {
        WW_LOG(WW_LOG_ERROR, "SINK", "out of memory holding a batch of %zu messages", s->n);
        rd_kafka_message_destroy(rkm);
        s->fatal = 1;
        break;
      }
    }
    now = ww_mono_ms();
    if (s->n > 0 && (s->retry_at ? now >= s->retry_at
                                 : ((int64_t)s->n >= s->batch_size ||
                                    now - s->batch_t0 >= s->batch_ms ||
                                    (s->eof && ww_eof_all(s->eof)))))
      batch_flush(s);
    if (batch_mode && s->n == 0 && ww_eof_all(s->eof))
      break;
    if (!s->retry_at)
      retention_tick(s, now, &next_retention, &ret_more);
    if (s->metrics && now >= next_gauges) {
      ww_sink_stats_gauges(s->stats, s->rk, s->db);
      next_gauges = now + 1000;
    }
    if (stats_every > 0 && now >= next_stats) {
      ww_sink_stats_log(s->stats, s->rk, s->db);
      next_stats = now + stats_every;
    }
  }
  /* Graceful stop: store the open batch (a second signal or the deadline gives up;
   * unstored messages are re-read from the stored offsets on the next start). */
  if (s->n > 0 && batch_flush_wait(s, WW_SINK_SHUTDOWN_RETRY_MS) != 0) {
    WW_LOG(WW_LOG_ERROR, "SINK", "shutdown: %zu messages not stored; they will be read again "
           "on the next start", s->n);
    batch_clear(s);
  }
  return s->fatal ? 1 : 0;
}

int ww_sink_run(const ww_config_t *cfg, sqlite3 *db, ww_sink_counts_t *total) {
  char errstr[WW_SINK_ERRSTR];
  ww_sink_t s;
  int batch_mode = !strcmp(ww_config_str(cfg, "mode"), "batch");
  int rc = 1;

  memset(&s, 0, sizeof(s));
  memset(total, 0, sizeof(*total));
  s.cfg = cfg;
  s.db = db;
  s.batch_size = ww_config_int(cfg, "batch-size");
  s.batch_ms = ww_config_duration_ms(cfg, "batch-ms");
  s.topics[WW_SINK_READINGS] = ww_config_str(cfg, "topic-sensor-scored");
  s.topics[WW_SINK_WINDOWS] = ww_config_str(cfg, "topic-window-stats");
  s.topics[WW_SINK_ALERTS] = ww_config_str(cfg, "topic-alerts");
  s.topics[WW_SINK_DLQ] = ww_config_str(cfg, "topic-dlq");
  s.topics[WW_SINK_MODELS] = ww_config_str(cfg, "topic-models");

  if (!(s.store = ww_sink_store_new(db, ww_config_factory(cfg), errstr, sizeof(errstr))) ||
      !(s.ret = ww_sink_retention_new(db, ww_config_factory(cfg),
                                      ww_config_duration_ms(cfg, "retention"),
                                      ww_config_duration_ms(cfg, "rollup-retention"),
                                      (int)ww_config_int(cfg, "retention-batch"), errstr,
                                      sizeof(errstr)))) {
    WW_LOG(WW_LOG_ERROR, "SINK", "%s", errstr);
    goto done;
  }
  if (ww_config_str(cfg, "metrics-listen")) {
    int port = 0;
    if (!(s.metrics = ww_metrics_new())) {
      WW_LOG(WW_LOG_ERROR, "SINK", "out of memory");
      goto done;
    }
    if (ww_metrics_serve(s.metrics, ww_config_str(cfg, "metrics-listen"), &port, errstr,
                         sizeof(errstr)) != 0) {
      WW_LOG(WW_LOG_ERROR, "SINK", "--metrics-listen: %s", errstr);
      goto done;
    }
    WW_LOG(WW_LOG_INFO, "SINK", "Prometheus metrics at http://%s/metrics (port %d)",
           ww_config_str(cfg, "metrics-listen"), port);
  }
  if (!(s.stats = ww_sink_stats_new(s.metrics))) {
    WW_LOG(WW_LOG_ERROR, "SINK", "out of memory");
    goto done;
  }
  if (batch_mode && !(s.eof = ww_eof_new())) {
    WW_LOG(WW_LOG_ERROR, "SINK", "out of memory");
    goto done;
  }
  if (!(s.rk = consumer_new(&s, batch_mode)))
    goto done;
  if (ww_kafka_subscribe(s.rk, s.topics, WW_SINK__KINDS, errstr, sizeof(errstr)) != 0) {
    WW_LOG(WW_LOG_ERROR, "SINK", "%s", errstr);
    goto done;
  }
  WW_LOG(WW_LOG_INFO, "SINK", "consuming %s, %s, %s, %s, %s in group %s (%s mode) into %s",
         s.topics[0], s.topics[1], s.topics[2], s.topics[3], s.topics[4],
         ww_config_str(cfg, "group"), batch_mode ? "batch" : "real_time",
         ww_config_str(cfg, "db"));
  rc = loop(&s, batch_mode);
  ww_sink_stats_log(s.stats, s.rk, s.db);
done:
  /* Closing the consumer runs the revoke callback, which needs the store. */
  if (s.rk)
    ww_kafka_consumer_close(s.rk);
  batch_clear(&s);
  *total = s.total;
  free(s.rkms);
  free(s.msgs);
  free(s.hdrs);
  ww_eof_destroy(s.eof);
  ww_sink_stats_destroy(s.stats);
  ww_metrics_destroy(s.metrics);
  ww_sink_retention_destroy(s.ret);
  ww_sink_store_destroy(s.store);
  return rc;
}
