/* sink_consumer.c: Kafka in, batched SQLite transactions out, offsets from the database. */
#include "sink_consumer.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_retention.h"
#include "sink_stats.h"
#include "sink_writer.h"
#include "windwatch/kafka.h"
#include "windwatch/log.h"
#include "windwatch/metrics.h"
#include "windwatch/signal.h"
#include "windwatch/timeutil.h"

#define WW_SINK_POLL_MS           100  /* longest wait in poll, so signals and timers stay prompt */
#define WW_SINK_BACKOFF_MIN_MS    100  /* first retry after a database fault */
#define WW_SINK_BACKOFF_MAX_MS    5000 /* retries never wait longer than this */
#define WW_SINK_SHUTDOWN_RETRY_MS 10000 /* how long shutdown keeps retrying the last batch */
#define WW_SINK_ERRSTR            512
#define WW_SINK_WATERMARK_MS      5000 /* bound on reading a partition's first offset */

/* Messages gathered for one transaction. Index-aligned arrays, all owned. */
typedef struct sink_batch_s {
  rd_kafka_message_t **rkms; /* the messages themselves (payloads are borrowed from them) */
  ww_sink_msg_t *msgs;       /* the store's view */
  ww_sink_pre_t *pre;        /* readings decoded on the consumer thread */
  char **hdrs;               /* NUL-terminated DLQ header copies, or NULL */
  size_t n, cap;
  int64_t t0; /* ww_mono_ms() when the first message arrived */
} sink_batch_t;

typedef struct ww_sink_s {
  const ww_config_t *cfg;   /* borrowed */
  sqlite3 *db;              /* borrowed; used by the writer thread while a batch is in flight */
  rd_kafka_t *rk;           /* owned */
  ww_sink_store_t *store;   /* owned */
  ww_sink_writer_t *writer; /* owned */
  ww_sink_retention_t *ret; /* owned */
  ww_sink_stats_t *stats;   /* owned */
  ww_metrics_t *metrics;    /* owned; NULL without --metrics-listen */
  ww_eof_t *eof;            /* owned; --mode batch only */
  const char *topics[WW_SINK__KINDS]; /* borrowed from cfg */
  int64_t batch_size;                 /* messages per transaction, at most (unless retrying) */
  int64_t batch_ms;                   /* age of the oldest batched message that forces a commit */
  /* Double buffering: the writer stores *flight while *open fills up. */
  sink_batch_t bufs[2];
  sink_batch_t *open;     /* being filled by the consumer */
  sink_batch_t *flight;   /* submitted, or failed and waiting for its retry */
  int in_flight;          /* flight is with the writer thread */
  int failed;             /* flight failed; resubmit at retry_at */
  int64_t retry_at;       /* ww_mono_ms() of the next attempt */
  int64_t backoff_ms;     /* current retry delay; 0 = not failing */
  int paused;             /* partitions paused while the database fails */
  int fatal;              /* a fatal error: stop and exit 1 */
  int64_t next_retention; /* ww_mono_ms() of the next retention pass */
  int ret_more;           /* the last retention step was full: keep going */
  int64_t next_gauges;    /* ww_mono_ms() of the next gauge refresh */
  int64_t first_ns;       /* ww_mono_ns() of the first message consumed; 0 = none yet */
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
  sink_batch_t *b = s->open;
  ww_sink_msg_t *m;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 1024;
    rd_kafka_message_t **r = realloc(b->rkms, cap * sizeof(*r));
    ww_sink_msg_t *mm;
    ww_sink_pre_t *pp;
    char **hh;
    if (r)
      b->rkms = r;
    mm = r ? realloc(b->msgs, cap * sizeof(*mm)) : NULL;
    if (mm)
      b->msgs = mm;
    pp = mm ? realloc(b->pre, cap * sizeof(*pp)) : NULL;
    if (pp)
      b->pre = pp;
    hh = pp ? realloc(b->hdrs, cap * sizeof(*hh)) : NULL;
    if (!hh)
      return -1;
    b->hdrs = hh;
    b->cap = cap;
  }
  m = &b->msgs[b->n];
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
  b->hdrs[b->n] = NULL;
  if (m->kind == WW_SINK_DLQ && dlq_headers(rkm, m, &b->hdrs[b->n]) != 0)
    return -1;
  /* Decoding here, on the consumer thread, overlaps it with the writer's SQLite work. */
  if (m->kind == WW_SINK_READINGS && m->payload)
    ww_sink_predecode(ww_config_factory(s->cfg), m, &b->pre[b->n]);
  b->rkms[b->n] = rkm;
  if (b->n++ == 0)
    b->t0 = ww_mono_ms();
  return 0;
}

static void batch_clear(sink_batch_t *b) {
  for (size_t i = 0; i < b->n; i++) {
    rd_kafka_message_destroy(b->rkms[i]);
    free(b->hdrs[i]);
  }
  b->n = 0;
}

static void batch_free(sink_batch_t *b) {
  batch_clear(b);
  free(b->rkms);
  free(b->msgs);
  free(b->pre);
  free(b->hdrs);
}

/* Tell Kafka how far the database got, so lag tools see it. The database
 * stays the source of truth: assignment seeks to its offsets, not these. */
static void commit_to_kafka(ww_sink_t *s, const sink_batch_t *b) {
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
  rd_kafka_resp_err_t err;
  for (size_t i = 0; i < b->n; i++) {
    const ww_sink_msg_t *m = &b->msgs[i];
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(parts, m->topic, m->partition);
    if (!tp)
      tp = rd_kafka_topic_partition_list_add(parts, m->topic, m->partition);
    if (m->offset + 1 > tp->offset)
      tp->offset = m->offset + 1;
  }
  if (parts->cnt > 0 && (err = rd_kafka_commit(s->rk, parts, 1)) != RD_KAFKA_RESP_ERR_NO_ERROR)
    WW_LOG(WW_LOG_DEBUG, "SINK", "offset commit to Kafka (for lag only): %s",
           rd_kafka_err2str(err));
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

/* Hand s->flight to the writer thread. */
static void submit_flight(ww_sink_t *s) {
  sink_batch_t *b = s->flight;
  for (size_t i = 0; i < b->n; i++) /* the arrays may have moved since batch_add */
    b->msgs[i].pre = b->msgs[i].kind == WW_SINK_READINGS && b->msgs[i].payload ? &b->pre[i] : NULL;
  if (ww_sink_writer_submit(s->writer, b->msgs, b->n) != 0) {
    WW_LOG(WW_LOG_ERROR, "SINK", "internal: a batch was submitted while another was in flight");
    s->fatal = 1;
    return;
  }
  s->in_flight = 1;
  s->failed = 0;
}

/* Swap the open batch into flight and submit it. Only when nothing is in flight. */
static void submit_open(ww_sink_t *s) {
  sink_batch_t *t = s->flight;
  s->flight = s->open;
  s->open = t;
  submit_flight(s);
}

/*
 * The writer finished s->flight. Stored: tell Kafka, count, free. Failed:
 * nothing was stored and no offset moved, so keep the batch, pause the
 * partitions, and retry with exponential backoff.
 */
static void complete_flight(ww_sink_t *s, const ww_sink_result_t *res) {
  s->in_flight = 0;
  if (res->err != WW_OK) {
    ww_sink_stats_fault(s->stats);
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : WW_SINK_BACKOFF_MIN_MS;
    if (s->backoff_ms > WW_SINK_BACKOFF_MAX_MS)
      s->backoff_ms = WW_SINK_BACKOFF_MAX_MS;
    WW_LOG(s->backoff_ms >= WW_SINK_BACKOFF_MAX_MS ? WW_LOG_ERROR : WW_LOG_WARN, "SINK",
           "%s (%s); %zu messages kept, offsets not advanced, retrying in %" PRId64 " ms%s",
           res->errstr, ww_err2str(res->err), s->flight->n, s->backoff_ms,
           res->err == WW_ERR_FULL ? " (free disk space)" : "");
    s->failed = 1;
    s->retry_at = ww_mono_ms() + s->backoff_ms;
    if (!s->paused)
      pause_all(s, 1);
    return;
  }
  ww_sink_stats_batch(s->stats, &res->c, res->ns);
  if (s->backoff_ms)
    WW_LOG(WW_LOG_NOTICE, "SINK", "database writable again; stored %zu kept messages",
           s->flight->n);
  commit_to_kafka(s, s->flight);
  batch_clear(s->flight);
  s->failed = 0;
  s->backoff_ms = 0;
  if (s->paused)
    pause_all(s, 0);
  s->total.records += res->c.records;
  s->total.readings += res->c.readings;
  s->total.windows += res->c.windows;
  s->total.alerts += res->c.alerts;
  s->total.dead_letters += res->c.dead_letters;
  s->total.models += res->c.models;
  s->total.skipped += res->c.skipped;
  s->total.tombstones += res->c.tombstones;
}

/* Collect the writer's result, waiting up to \p timeout_ms (-1 = until done). */
static void reap(ww_sink_t *s, int timeout_ms) {
  ww_sink_result_t res;
  if (s->in_flight && ww_sink_writer_result(s->writer, timeout_ms, &res) == 1)
    complete_flight(s, &res);
}

/*
 * Store everything held (the batch in flight, a failed one, the open one),
 * retrying faults until \p max_ms has passed.
 * @returns 0 when nothing is left unstored, -1 otherwise.
 */
static int drain(ww_sink_t *s, int64_t max_ms) {
  int64_t deadline = ww_mono_ms() + max_ms;
  for (;;) {
    int64_t now;
    reap(s, -1);
    if (!s->failed && s->open->n == 0)
      return 0;
    now = ww_mono_ms();
    if (now >= deadline)
      return -1;
    if (s->failed) {
      if (now < s->retry_at)
        ww_sleep_ms(s->retry_at < deadline ? s->retry_at - now : deadline - now);
      submit_flight(s);
    } else {
      submit_open(s);
    }
    if (s->fatal)
      return -1;
  }
}

/* Give up on everything unstored: its offsets were not stored, so it is read
 * again from the database offsets (by us after re-assignment, or by another sink). */
static void drop_unstored(ww_sink_t *s, const char *why) {
  size_t n = s->open->n + (s->failed ? s->flight->n : 0);
  if (n)
    WW_LOG(WW_LOG_WARN, "SINK",
           "%s: dropping %zu unstored messages; they will be read again "
           "from the stored offsets",
           why, n);
  batch_clear(s->open);
  if (s->failed)
    batch_clear(s->flight);
  s->failed = 0;
  s->backoff_ms = 0;
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
                                       sizeof(errstr))) != WW_OK &&
           err != WW_ERR_NOENT) {
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
      WW_LOG(WW_LOG_INFO, "SINK", "assigned %s [%d] at the beginning (no stored offset)", tp->topic,
             (int)tp->partition);
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
    /* The offsets are read on this thread: the writer must not hold the connection
     * (with the cooperative protocol a batch can be in flight here). */
    reap(s, -1);
    if (offsets_from_db(s, parts) != 0) {
      s->fatal = 1;
      return;
    }
    /* "The beginning" as an absolute offset starts fetching at once; left to
     * librdkafka it is looked up after the assignment, half a second later
     * here (the processor does the same). */
    ww_kafka_resolve_beginning(rk, parts, WW_SINK_WATERMARK_MS);
    if (s->eof)
      ww_eof_assign(s->eof, parts);
    if (coop)
      error = rd_kafka_incremental_assign(rk, parts);
    else
      aerr = rd_kafka_assign(rk, parts);
    s->paused = 0;
    if (s->failed || s->backoff_ms) /* still failing: keep the new partitions paused too */
      pause_all(s, 1);
  } else {
    /* Store what we have before giving the partitions away. If the database
     * refuses, drop the batch: its offsets were not stored, so whoever owns
     * the partitions next re-reads it from the database offsets. */
    if (drain(s, WW_SINK_SHUTDOWN_RETRY_MS) != 0)
      drop_unstored(s, "revocation");
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
  if (ww_kafka_conf_set(conf, "group.id", ww_config_str(s->cfg, "group"), errstr, sizeof(errstr)) !=
          0 ||
      ww_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof(errstr)) != 0 ||
      ww_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) != 0 ||
      ww_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, sizeof(errstr)) != 0 ||
      ww_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof(errstr)) != 0 ||
      ww_kafka_conf_set(conf, "enable.partition.eof", batch_mode ? "true" : "false", errstr,
                        sizeof(errstr)) != 0 ||
      ww_kafka_consumer_defaults(s->cfg, conf, errstr, sizeof(errstr)) != 0 ||
      ww_kafka_group_defaults(s->cfg, conf, errstr, sizeof(errstr)) != 0)
    goto err;
  if (ww_config_str(s->cfg, "instance-id") &&
      ww_kafka_conf_set(conf, "group.instance.id", ww_config_str(s->cfg, "instance-id"), errstr,
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

/* Work that needs the database while the writer is idle: one retention step
 * when due (small, so the next batch waits little), and the size gauge. */
static void idle_work(ww_sink_t *s, int64_t now) {
  char errstr[WW_SINK_ERRSTR];
  int64_t readings = 0, rollups = 0;
  ww_err_t err;
  if (s->metrics && now >= s->next_gauges) {
    ww_sink_stats_gauges(s->stats, s->rk, s->db);
    s->next_gauges = now + 1000;
  }
  if (s->failed || (!s->ret_more && now < s->next_retention))
    return;
  err = ww_sink_retention_step(s->ret, ww_now_ms(), &s->ret_more, &readings, &rollups, errstr,
                               sizeof(errstr));
  if (err != WW_OK)
    WW_LOG(WW_LOG_WARN, "SINK", "%s (%s); retention retries later", errstr, ww_err2str(err));
  else
    ww_sink_stats_retention(s->stats, readings, rollups);
  if (!s->ret_more)
    s->next_retention = now + ww_config_duration_ms(s->cfg, "retention-interval");
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
    WW_LOG(WW_LOG_WARN, "SINK", "consumer: %s%s%s%s", rd_kafka_message_errstr(rkm),
           rkm->rkt ? " on " : "", rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "",
           ww_kafka_consume_hint(rkm->err));
  }
  rd_kafka_message_destroy(rkm);
}

static int open_ready(const ww_sink_t *s, int64_t now) {
  const sink_batch_t *b = s->open;
  return b->n > 0 && ((int64_t)b->n >= s->batch_size || now - b->t0 >= s->batch_ms ||
                      (s->eof && ww_eof_all(s->eof)));
}

static int loop(ww_sink_t *s, int batch_mode) {
  int64_t stats_every = ww_config_duration_ms(s->cfg, "stats-interval");
  int64_t next_stats = ww_mono_ms() + stats_every;

  while (!ww_signal_stop_requested() && !s->fatal) {
    int64_t now = ww_mono_ms(), wait = WW_SINK_POLL_MS;
    rd_kafka_message_t *rkm;

    if (s->in_flight && (int64_t)s->open->n >= s->batch_size) {
      /* Backpressure: the next batch is full; wait for the writer, not Kafka. */
      reap(s, WW_SINK_POLL_MS);
      rkm = NULL;
    } else {
      if (s->open->n > 0 && !s->in_flight && !s->failed) {
        int64_t left = s->open->t0 + s->batch_ms - now;
        wait = left < 0 ? 0 : left < wait ? left : wait;
      } else if (s->in_flight) {
        wait = 1; /* come back soon to collect the writer's result */
      }
      rkm = rd_kafka_consumer_poll(s->rk, (int)wait);
    }
    if (rkm && rkm->err) {
      handle_event(s, rkm);
    } else if (rkm) {
      if (s->eof)
        ww_eof_message(s->eof, rd_kafka_topic_name(rkm->rkt), rkm->partition);
      if (!s->first_ns)
        s->first_ns = ww_mono_ns();
      if (batch_add(s, rkm) != 0) {
        WW_LOG(WW_LOG_ERROR, "SINK", "out of memory holding a batch of %zu messages", s->open->n);
        rd_kafka_message_destroy(rkm);
        s->fatal = 1;
        break;
      }
    }
    reap(s, 0);
    now = ww_mono_ms();
    if (!s->in_flight) {
      idle_work(s, now);
      if (stats_every > 0 && now >= next_stats) {
        ww_sink_stats_log(s->stats, s->rk, s->db);
        next_stats = now + stats_every;
      }
      if (s->failed) {
        if (now >= s->retry_at)
          submit_flight(s);
      } else if (open_ready(s, now)) {
        submit_open(s);
      } else if (batch_mode && s->open->n == 0 && ww_eof_all(s->eof)) {
        break;
      }
    } else if (stats_every > 0 && now >= next_stats) {
      ww_sink_stats_log(s->stats, s->rk, NULL);
      next_stats = now + stats_every;
    }
  }
  if (batch_mode && !s->fatal && !s->in_flight && !ww_signal_stop_requested()) {
    /* Batch mode finishes its work: expired rows still pending go now. */
    do
      idle_work(s, ww_mono_ms());
    while (s->ret_more && !ww_signal_stop_requested());
  }
  /* Graceful stop: store what is held (the deadline gives up; unstored
   * messages are read again from the stored offsets on the next start). */
  if (drain(s, WW_SINK_SHUTDOWN_RETRY_MS) != 0)
    drop_unstored(s, "shutdown");
  return s->fatal ? 1 : 0;
}

int ww_sink_run(const ww_config_t *cfg, sqlite3 *db, ww_sink_counts_t *total, double *active_s) {
  char errstr[WW_SINK_ERRSTR];
  ww_sink_t s;
  int batch_mode = !strcmp(ww_config_str(cfg, "mode"), "batch");
  int rc = 1;

  memset(&s, 0, sizeof(s));
  memset(total, 0, sizeof(*total));
  *active_s = 0;
  s.open = &s.bufs[0];
  s.flight = &s.bufs[1];
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
      !(s.ret = ww_sink_retention_new(
            db, ww_config_factory(cfg), ww_config_duration_ms(cfg, "retention"),
            ww_config_duration_ms(cfg, "rollup-retention"),
            (int)ww_config_int(cfg, "retention-batch"), errstr, sizeof(errstr)))) {
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
  if (!(s.writer = ww_sink_writer_new(s.store))) {
    WW_LOG(WW_LOG_ERROR, "SINK", "cannot start the writer thread");
    goto done;
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
         ww_config_str(cfg, "group"), batch_mode ? "batch" : "real_time", ww_config_str(cfg, "db"));
  rc = loop(&s, batch_mode);
  if (s.first_ns) /* everything consumed is stored (or given up) by now */
    *active_s = (double)(ww_mono_ns() - s.first_ns) / 1e9;
  ww_sink_stats_log(s.stats, s.rk, s.in_flight ? NULL : s.db);
done:
  /* Closing the consumer runs the revoke callback, which needs the store and writer. */
  if (s.rk)
    ww_kafka_consumer_close(s.rk);
  if (s.writer)
    reap(&s, -1);
  ww_sink_writer_destroy(s.writer);
  *total = s.total;
  batch_free(&s.bufs[0]);
  batch_free(&s.bufs[1]);
  ww_eof_destroy(s.eof);
  ww_sink_stats_destroy(s.stats);
  ww_metrics_destroy(s.metrics);
  ww_sink_retention_destroy(s.ret);
  ww_sink_store_destroy(s.store);
  return rc;
}
