/* processor_kafka.c: consume sensor-data in a group, produce outputs, commit. */
#include "processor_kafka.h"
#include "processor_kctx.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "processor.h"
#include "processor_handlers.h"
#include "processor_restore.h"
#include "windwatch/iforest.h"
#include "windwatch/kafka.h"
#include "windwatch/log.h"
#include "windwatch/metrics.h"
#include "windwatch/signal.h"
#include "windwatch/timeutil.h"

#define WW_TXN_TIMEOUT_MS     60000 /* bound on init/commit/abort of a transaction */
#define WW_FLUSH_TIMEOUT_MS   30000 /* at-least-once: wait this long for deliveries */
#define WW_POLL_MS            100   /* consumer poll timeout */
#define WW_TURN_MAX           1024  /* messages taken before housekeeping (a scoring batch) */
#define WW_TURN_MS            5     /* ... or this long, whichever comes first */
#define WW_SCORED_RING        8192  /* scored readings between the loop and their thread */
#define WW_REFILL_TIMEOUT_MS  100   /* the wake-up request of refill_prefetch() */
#define WW_RESTORE_TIMEOUT_MS 30000 /* bound on reading the models or alerts topic back */
#define WW_BATCH_COMMIT_MS    1000  /* --commit-interval's default in batch mode */
#define WW_OFFSETS_TIMEOUT_MS 5000  /* bound on reading committed offsets or watermarks */
#define WW_TXN_SETTLE_US      2000  /* after a commit, see settle() */
#define WW_HISTORY_MAX        500000 /* messages replayed per partition at most, see note_history() */
/* How far back alert events are read to carry open alerts over. */
#define WW_CARRY_LOOKBACK_MS (24 * 3600 * 1000LL)

/*
 * Backpressure: when the producer's queue of outputs passes the high
 * watermark, pause every assigned input partition and keep polling (the
 * group membership stays alive, deliveries drain the queue); resume at the
 * low watermark. Partitions assigned while paused are paused on the next
 * turn. Blocking inside produce stays only as the last resort.
 */
static void backpressure(kctx_t *k) {
  int q = rd_kafka_outq_len(k->producer);
  rd_kafka_topic_partition_list_t *parts = NULL;
  if (!k->paused && q < k->outq_high)
    return;
  if (rd_kafka_assignment(k->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
    return;
  if (k->paused && q <= k->outq_low) {
    rd_kafka_resume_partitions(k->consumer, parts);
    k->paused = 0;
    WW_LOG(WW_LOG_DEBUG, "BACKPRESSURE", "output queue down to %d: input resumed", q);
  } else {
    rd_kafka_pause_partitions(k->consumer, parts);
    if (!k->paused) {
      k->paused = 1;
      k->pauses++;
      WW_LOG(WW_LOG_INFO, "BACKPRESSURE", "output queue at %d of %d: input paused", q,
             k->outq_high);
    }
    rd_kafka_poll(k->producer, 10);
  }
  rd_kafka_topic_partition_list_destroy(parts);
}

/* Alert events wait here until their transaction commits (handlers outside
 * Kafka must not act on events an abort takes back). */
static void stage_alert(void *opaque, const char *val, size_t len, const char *summary) {
  kctx_t *k = opaque;
  size_t slen = strlen(summary);
  char *copy;
  if (k->n_staged == k->cap_staged) {
    size_t ncap = k->cap_staged ? k->cap_staged * 2 : 16;
    staged_t *ns = realloc(k->staged, ncap * sizeof(*ns));
    if (!ns)
      return;
    k->staged = ns;
    k->cap_staged = ncap;
  }
  /* One block: the JSON, its NUL, the summary, its NUL. */
  copy = malloc(len + slen + 2);
  if (!copy)
    return;
  memcpy(copy, val, len);
  copy[len] = '\0';
  memcpy(copy + len + 1, summary, slen + 1);
  k->staged[k->n_staged].json = copy;
  k->staged[k->n_staged++].len = len;
}

/* @param deliver hand the staged events to the handlers (committed) or drop them. */
static void release_alerts(kctx_t *k, int deliver) {
  for (size_t i = 0; i < k->n_staged; i++) {
    staged_t *s = &k->staged[i];
    if (deliver)
      ww_handlers_submit(k->handlers, s->json, s->len, s->json + s->len + 1);
    free(s->json);
  }
  k->n_staged = 0;
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  kctx_t *k = opaque;
  if (m->err) {
    char fatal[8];
    /* (the scored-readings thread serves delivery reports too, when the queue is full) */
    int64_t n = __atomic_add_fetch(&k->delivery_failures, 1, __ATOMIC_RELAXED);
    /* A failed transaction fails every output queued in it, tens of
     * thousands in a catch-up: failures 1, 2, 4, 8... are logged, each
     * with the count so far. After a fatal error producer_lost() reports. */
    if ((n & (n - 1)) == 0 &&
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal)) == RD_KAFKA_RESP_ERR_NO_ERROR)
      WW_LOG(WW_LOG_ERROR, "PRODUCE", "delivery to %s failed: %s (%" PRId64 " failed deliveries)",
             rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err), n);
  }
}

/* Queue one output. \p ts_ms is its timestamp (0: librdkafka reads the
 * clock), \p key_hash the key's ww_kafka_key_hash() or NULL (see
 * open_topics()). @returns 0, or -1 (counted, logged). */
static int produce(kctx_t *k, ww_proc_out_t o, const char *key, size_t key_len, const char *val,
                   size_t len, const ww_proc_header_t *hdrs, int n_hdrs, int64_t ts_ms,
                   const uint32_t *key_hash) {
  rd_kafka_resp_err_t err;
  rd_kafka_headers_t *h = NULL;
  if (n_hdrs > 0) {
    h = rd_kafka_headers_new((size_t)n_hdrs);
    for (int i = 0; i < n_hdrs; i++)
      rd_kafka_header_add(h, hdrs[i].name, -1, hdrs[i].value, (ssize_t)hdrs[i].len);
  }
  for (;;) {
    if (h)
      err = rd_kafka_producev(k->producer, RD_KAFKA_V_RKT(k->rkt[o]), RD_KAFKA_V_KEY(key, key_len),
                              RD_KAFKA_V_VALUE((void *)val, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                              RD_KAFKA_V_END);
    else
      err = rd_kafka_producev(k->producer, RD_KAFKA_V_RKT(k->rkt[o]), RD_KAFKA_V_KEY(key, key_len),
                              RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_TIMESTAMP(ts_ms),
                              RD_KAFKA_V_OPAQUE((void *)key_hash),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
      break;
    /* Backpressure: the output queue is full, so stop reading input until
     * deliveries drain it. Nothing is dropped. */
    rd_kafka_poll(k->producer, 10);
  }
  if (err) {
    if (h)
      rd_kafka_headers_destroy(h);
    /* Once a transaction fails, every output refused until its abort: as
     * for deliveries, refusals 1, 2, 4, 8... are logged. After a fatal
     * error producer_lost() reports. */
    int64_t n = __atomic_add_fetch(&k->produce_refusals, 1, __ATOMIC_RELAXED);
    if ((n & (n - 1)) == 0 && err != RD_KAFKA_RESP_ERR__FATAL)
      WW_LOG(WW_LOG_ERROR, "PRODUCE", "cannot produce to %s: %s (%" PRId64 " outputs refused)",
             rd_kafka_topic_name(k->rkt[o]), rd_kafka_err2str(err), n);
    return -1;
  }
  return 0;
}

static int out_produce(void *opaque, ww_proc_out_t o, const char *key, size_t key_len,
                       const char *val, size_t len, const ww_proc_header_t *hdrs, int n_hdrs) {
  return produce(opaque, o, key, key_len, val, len, hdrs, n_hdrs, 0, NULL);
}

/* ww_scored_send_fn, on the scored-readings thread: encode one reading and
 * queue it like every output (produce() serves delivery reports while the
 * producer's queue is full, which holds back the loop once the ring fills:
 * nothing is dropped). The chunk's clock reading and the line's key hash
 * spare librdkafka a clock read and a hash per message. */
static int send_scored(void *opaque, const ww_reading_t *r, const ww_score_t *sc, int64_t now_ms) {
  kctx_t *k = opaque;
  const ww_factory_t *fac = ww_config_factory(k->cfg);
  int ln = r->line_idx;
  char buf[WW_OUT_BUFSZ];
  size_t n = ww_scored_encode(fac, r, sc, buf, sizeof(buf));
  if (n >= sizeof(buf))
    return -1;
  return produce(k, WW_OUT_SCORED, fac->lines[ln].id, k->line_key_len[ln], buf, n, NULL, 0, now_ms,
                 &k->line_hash[ln]);
}

static int put_scored(void *opaque, const ww_reading_t *r, const ww_score_t *sc) {
  kctx_t *k = opaque;
  ww_scored_stage_put(k->scored, r, sc);
  return 0;
}

/* Every scored reading handed over is in the producer's queue (a commit,
 * an abort or a flush is about to look at it). */
static void drain_scored(kctx_t *k) {
  if (k->scored)
    ww_proc_add_produce_errors(k->proc, ww_scored_stage_drain(k->scored));
}

/* Remember that everything before offset+1 of this partition is processed. */
static void pending_store(kctx_t *k, const char *topic, int32_t partition, int64_t offset) {
  rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(k->pending, topic, partition);
  if (!p)
    p = rd_kafka_topic_partition_list_add(k->pending, topic, partition);
  p->offset = offset + 1;
  k->uncommitted++;
}

/*
 * A fatal producer error ends this producer, not the processor. Typical
 * cause: the process stood still (a stalled VM, a swap storm, SIGSTOP) for
 * longer than transaction.timeout.ms, the broker aborted the open
 * transaction and fenced its producer epoch, and librdkafka's next call
 * reports _FENCED. The uncommitted part is gone with that transaction, so
 * the run loop makes a new producer with the same transactional.id (its
 * init_transactions fences the old epoch for good) and rewinds to the
 * committed offsets, as a restart would, without leaving the group.
 * Renewing more often than WW_RENEWALS times in WW_RENEWAL_WINDOW_MS means
 * a cause a new producer does not cure (another process using the same
 * --transactional-id fences this one each time): exit, for supervision.
 */
static void producer_lost(kctx_t *k) {
  int64_t now = ww_mono_ms();
  char reason[512];
  k->txn_open = 0;
  if (k->need_producer)
    return; /* seen already (a commit in the rebalance callback, then the loop's check) */
  if (ww_kafka_fatal(k->producer, reason, sizeof(reason)) == 0)
    snprintf(reason, sizeof(reason), "unknown");
  if (k->renewed_ms[0] > 0 && now - k->renewed_ms[0] < WW_RENEWAL_WINDOW_MS) {
    WW_LOG(WW_LOG_ERROR, "KAFKA",
           "the producer failed fatally again (%s), %d times in %d minutes%s%s%s; exiting", reason,
           WW_RENEWALS + 1, WW_RENEWAL_WINDOW_MS / 60000,
           k->eos ? ": is another processor using transactional-id '" : "", k->eos ? k->tid : "",
           k->eos ? "'?" : "");
    k->failed = k->fatal = 1;
    ww_signal_request_stop();
    return;
  }
  WW_LOG(WW_LOG_WARN, "KAFKA",
         "the producer failed fatally (%s): replacing it and going back to the last "
         "committed offsets",
         reason);
  memmove(k->renewed_ms, k->renewed_ms + 1, (WW_RENEWALS - 1) * sizeof(k->renewed_ms[0]));
  k->renewed_ms[WW_RENEWALS - 1] = now;
  k->need_producer = 1;
  k->need_rewind = 1;
}

/* Handle a transactional API error. @returns 0 if the call should be retried. */
static int txn_error(kctx_t *k, const char *what, rd_kafka_error_t *error) {
  int retry = rd_kafka_error_is_retriable(error);
  WW_LOG(retry ? WW_LOG_WARN : WW_LOG_ERROR, "TXN", "%s: %s%s", what, rd_kafka_error_string(error),
         retry ? " (retrying)" : "");
  if (rd_kafka_error_is_fatal(error)) {
    rd_kafka_error_destroy(error);
    producer_lost(k);
    return -1;
  }
  if (!retry && rd_kafka_error_txn_requires_abort(error)) {
    rd_kafka_error_t *e2 = rd_kafka_abort_transaction(k->producer, WW_TXN_TIMEOUT_MS);
    if (e2) {
      WW_LOG(WW_LOG_ERROR, "TXN", "abort_transaction: %s", rd_kafka_error_string(e2));
      if (rd_kafka_error_is_fatal(e2))
        producer_lost(k); /* the broker aborted it already, and fenced the producer */
      rd_kafka_error_destroy(e2);
    }
    k->txn_open = 0;
    /* The outputs of the aborted transaction are gone and its offsets were
     * not committed: go back to the committed offsets, as a restart would
     * (rewind(), from the run loop). Typical cause: a rebalance fenced the
     * group generation (ILLEGAL_GENERATION) mid-transaction. */
    WW_LOG(WW_LOG_WARN, "TXN", "transaction aborted: rewinding to the last committed offsets");
    k->need_rewind = 1;
    rd_kafka_error_destroy(error);
    return -1;
  }
  rd_kafka_error_destroy(error);
  if (!retry) {
    k->failed = 1;
    ww_signal_request_stop();
  }
  return retry ? 0 : -1;
}

/*
 * The lines of input partitions that are assigned here (at start-up, in a
 * rebalance, or after a rewind reset them) get their windows and baselines
 * back by a replay of the input before the committed offsets
 * (ww_proc_restore_history()): the windows that were open there close with
 * every reading they had, and z-scores and model features have their
 * baselines from the first reading on. Count windows: the replay starts
 * from the counts each commit keeps with the offsets (attach_counts(),
 * ww_proc_restore_counts()). Time windows: the replay goes back the window
 * size, two slides and the allowed lateness (the oldest open window, and the
 * two panes before a component's current one, which its baseline is made
 * of) in the messages' timestamps, at most WW_HISTORY_MAX messages per
 * partition: 150 s of a partition that carries a third of 10,000
 * readings/s, which covers a 60 s window and its lateness (replayed at
 * 370,000 to 450,000 readings/s here). A backlog produced
 * faster than real time spans more event time per second of timestamps: the
 * replay then starts at the first reading within the lookback in event time
 * (a binary search, trim_spans() in processor_restore.c), and the cap bounds
 * it if that fails.
 */
static void note_history(kctx_t *k, const rd_kafka_topic_partition_list_t *parts) {
  if (!k->history_ms && !k->history_counts)
    return;
  for (int i = 0; i < parts->cnt; i++) {
    const rd_kafka_topic_partition_t *p = &parts->elems[i];
    rd_kafka_topic_partition_t *h;
    if (p->offset <= 0)
      continue; /* nothing committed: nothing before it to replay */
    h = rd_kafka_topic_partition_list_find(k->history, p->topic, p->partition);
    if (!h)
      h = rd_kafka_topic_partition_list_add(k->history, p->topic, p->partition);
    h->offset = p->offset;
    /* Count windows: the counts committed with it (attach_counts()). */
    free(h->metadata);
    h->metadata = NULL;
    h->metadata_size = 0;
    if (k->history_counts && p->metadata_size > 0 && (h->metadata = malloc(p->metadata_size))) {
      memcpy(h->metadata, p->metadata, p->metadata_size);
      h->metadata_size = p->metadata_size;
    }
  }
}

static void restore_history(kctx_t *k) {
  int64_t t0 = ww_mono_ms(), n;
  if (k->history->cnt == 0)
    return;
  n = k->history_counts
          ? ww_proc_restore_counts(k->cfg, k->proc, k->history, WW_HISTORY_MAX,
                                   WW_RESTORE_TIMEOUT_MS)
          : ww_proc_restore_history(k->cfg, k->proc, k->history, k->history_ms,
                                    k->history_disorder_ms, WW_HISTORY_MAX, WW_RESTORE_TIMEOUT_MS);
  if (k->reg) {
    if (n > 0)
      ww_metric_add(k->m_replayed, (double)n);
    ww_metric_add(k->m_replay_s, (double)(ww_mono_ms() - t0) / 1000.0);
  }
  if (n >= 0)
    WW_LOG(WW_LOG_INFO, "RESTORE",
           "replayed %" PRId64 " readings of %d partition(s) in %" PRId64
           " ms: the lines' windows and baselines go on from their committed offsets",
           n, k->history->cnt, ww_mono_ms() - t0);
  rd_kafka_topic_partition_list_destroy(k->history);
  k->history = rd_kafka_topic_partition_list_new(4);
}

/* After an aborted transaction: seek every assigned partition back to its
 * committed offset and drop the state built from the aborted readings.
 * @returns 0, or -1 (marks the run failed). */
static int rewind_to_committed(kctx_t *k) {
  rd_kafka_topic_partition_list_t *parts = NULL;
  rd_kafka_error_t *error = NULL;
  rd_kafka_resp_err_t err;
  k->need_rewind = 0;
  k->need_restore = k->restore; /* the lines are reset below, models included */
  release_alerts(k, 0);         /* their transaction was aborted */
  ww_proc_rewound(k->proc);     /* the summary counts them once, when done again */
  if (k->reg)
    ww_metric_inc(k->m_rewinds);
  err = rd_kafka_assignment(k->consumer, &parts);
  if (!err)
    err = ww_kafka_resume_offsets(k->consumer, parts, WW_TXN_TIMEOUT_MS, WW_OFFSETS_TIMEOUT_MS);
  if (!err) {
    for (int i = 0; i < parts->cnt; i++)
      ww_proc_revoke(k->proc, parts->elems[i].partition);
    if (k->restore)
      note_history(k, parts);
    error = parts->cnt > 0 ? rd_kafka_seek_partitions(k->consumer, parts, WW_TXN_TIMEOUT_MS) : NULL;
    if (k->eof) {
      /* An end seen before the seek is not the end any more. */
      ww_eof_revoke(k->eof, parts);
      ww_eof_assign(k->eof, parts);
    }
  }
  if (parts)
    rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_topic_partition_list_destroy(k->pending);
  k->pending = rd_kafka_topic_partition_list_new(8);
  k->uncommitted = 0;
  if (err || error) {
    WW_LOG(WW_LOG_ERROR, "TXN",
           "cannot rewind to the committed offsets: %s; exiting so a "
           "restart resumes from them",
           error ? rd_kafka_error_string(error) : rd_kafka_err2str(err));
    if (error)
      rd_kafka_error_destroy(error);
    k->failed = 1;
    ww_signal_request_stop();
    return -1;
  }
  return 0;
}

static int txn_begin(kctx_t *k) {
  rd_kafka_error_t *error;
  if (!k->eos || k->txn_open || k->failed || k->need_rewind)
    return 0;
  error = rd_kafka_begin_transaction(k->producer);
  if (error)
    return txn_error(k, "begin_transaction", error), -1;
  k->txn_open = 1;
  return 0;
}

/* The broker answers a commit before it has finished it: it still writes the
 * commit markers into every partition of the transaction. A transaction whose
 * first output comes in that time has its partitions refused
 * (AddPartitionsToTxn: CONCURRENT_TRANSACTIONS), and librdkafka retries only
 * after a fixed 20 ms, so every output of that transaction, an alert among
 * them, waits 20 ms more. At 10,000 readings/s 17-33 % of the commits took
 * over 10 ms (most 12-17 ms; the rest 1-3). Holding the first input after a
 * commit until WW_TXN_SETTLE_US after it gives the broker that time: 3-4 %
 * (3 interleaved runs of 30 s each), the alert p50 about 4 ms lower. With sparse
 * input the next reading comes later anyway, and nothing waits. */
static void settle(kctx_t *k) {
  int64_t left = k->settle_ns - ww_mono_ns();
  k->settle_ns = 0;
  if (left > 0) {
    struct timespec ts = {0, (long)left};
    nanosleep(&ts, NULL);
  }
}

/* Commit outputs and consumed offsets together (exactly-once), or after all
 * outputs are delivered (at-least-once). @returns 0 or -1. */
static int commit_inner(kctx_t *k);

static int commit(kctx_t *k) {
  int64_t t0 = ww_mono_ns();
  int rc = commit_inner(k);
  if (rc == 0) {
    ww_proc_committed(k->proc);
    release_alerts(k, 1);
    if (k->eos)
      k->settle_ns = ww_mono_ns() + WW_TXN_SETTLE_US * 1000LL;
  }
  if (rc == 0 && k->reg) {
    ww_metric_inc(k->m_commits);
    ww_metric_observe(k->m_commit_ms, (double)(ww_mono_ns() - t0) / 1e9);
  }
  return rc;
}

/* Count windows: each offset to commit carries the counts of the lines read
 * from its partition (ww_proc_counts_save()), so that whoever resumes from
 * it closes the same windows (ww_proc_restore_counts()). Kafka keeps up to
 * offset.metadata.max.bytes with an offset (4096 by default) and refuses the
 * whole commit beyond: longer counts are left out, with a warning. */
#define WW_COUNTS_MAX 4000

static void attach_counts(kctx_t *k) {
  char buf[WW_COUNTS_MAX];
  for (int i = 0; k->history_counts && i < k->pending->cnt; i++) {
    rd_kafka_topic_partition_t *p = &k->pending->elems[i];
    size_t n = ww_proc_counts_save(k->proc, p->partition, buf, sizeof(buf));
    free(p->metadata);
    p->metadata = NULL;
    p->metadata_size = 0;
    if (n >= sizeof(buf)) {
      if (!k->counts_too_long++)
        WW_LOG(WW_LOG_WARN, "COMMIT",
               "%s [%" PRId32 "]: the count windows' counts of its lines take %zu bytes, more "
               "than the %d kept with an offset: a processor that resumes from it starts their "
               "windows again (fewer lines or shorter ids per partition avoid this)",
               p->topic, p->partition, n, WW_COUNTS_MAX);
    } else if (n > 0 && (p->metadata = malloc(n))) {
      memcpy(p->metadata, buf, n);
      p->metadata_size = n;
    }
  }
}

static int commit_inner(kctx_t *k) {
  drain_scored(k);
  attach_counts(k);
  if (k->failed || k->need_rewind)
    return -1;
  if (k->eos) {
    rd_kafka_error_t *error;
    if (!k->txn_open)
      return 0;
    if (k->pending->cnt > 0) {
      rd_kafka_consumer_group_metadata_t *gm = rd_kafka_consumer_group_metadata(k->consumer);
      do {
        error =
            rd_kafka_send_offsets_to_transaction(k->producer, k->pending, gm, WW_TXN_TIMEOUT_MS);
      } while (error && txn_error(k, "send_offsets_to_transaction", error) == 0);
      rd_kafka_consumer_group_metadata_destroy(gm);
      if (k->failed || k->need_rewind)
        return -1;
    }
    do {
      error = rd_kafka_commit_transaction(k->producer, WW_TXN_TIMEOUT_MS);
    } while (error && txn_error(k, "commit_transaction", error) == 0);
    if (k->failed || k->need_rewind)
      return -1;
    k->txn_open = 0;
  } else {
    int64_t before = __atomic_load_n(&k->delivery_failures, __ATOMIC_RELAXED);
    rd_kafka_resp_err_t err = rd_kafka_flush(k->producer, WW_FLUSH_TIMEOUT_MS);
    if (err || __atomic_load_n(&k->delivery_failures, __ATOMIC_RELAXED) != before) {
      WW_LOG(WW_LOG_ERROR, "COMMIT",
             "outputs not delivered (%s, %" PRId64 " failures): "
             "offsets not committed; exiting so a restart reprocesses them",
             rd_kafka_err2str(err), k->delivery_failures - before);
      k->failed = 1;
      ww_signal_request_stop();
      return -1;
    }
    if (k->pending->cnt > 0) {
      err = rd_kafka_commit(k->consumer, k->pending, 0);
      if (err) {
        WW_LOG(WW_LOG_ERROR, "COMMIT", "offset commit failed: %s", rd_kafka_err2str(err));
        /* Not fatal: outputs may be repeated after a restart (at-least-once). */
      }
    }
  }
  rd_kafka_topic_partition_list_destroy(k->pending);
  k->pending = rd_kafka_topic_partition_list_new(8);
  k->uncommitted = 0;
  return 0;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
  kctx_t *k = opaque;
  int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  rd_kafka_error_t *error = NULL;
  rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < parts->cnt; i++) {
      if (k->from_beginning)
        parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
      WW_LOG(WW_LOG_INFO, "REBALANCE", "assigned %s [%" PRId32 "]", parts->elems[i].topic,
             parts->elems[i].partition);
    }
    /* Absolute offsets start fetching at once: left to librdkafka, "the
     * beginning" (no committed offset, or --from-beginning) is looked up
     * right after the group join and can wait half a second for a leader.
     * Offsets that cannot be read stay unset, for librdkafka to look up. */
    if (k->from_beginning)
      ww_kafka_resolve_beginning(rk, parts, WW_OFFSETS_TIMEOUT_MS);
    else if (parts->cnt > 0)
      ww_kafka_resume_offsets(rk, parts, WW_OFFSETS_TIMEOUT_MS, WW_OFFSETS_TIMEOUT_MS);
    if (cooperative)
      error = rd_kafka_incremental_assign(rk, parts);
    else
      rerr = rd_kafka_assign(rk, parts);
    if (k->eof)
      ww_eof_assign(k->eof, parts);
    /* Lines that move here bring no model and no alerts: their newest model
     * is on the models topic, their open alerts on the alerts topic. */
    if (parts->cnt > 0)
      k->need_restore = k->restore;
    if (k->restore && !k->from_beginning)
      note_history(k, parts);
  } else {
    /* Revoked or lost: commit what was done for these partitions while we
     * still own them, then drop the lines' state (their new owner rebuilds it). */
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !rd_kafka_assignment_lost(rk)) {
      ww_proc_flush(k->proc);
      if (commit(k) == 0)
        txn_begin(k);
    }
    for (int i = 0; i < parts->cnt; i++) {
      ww_proc_revoke(k->proc, parts->elems[i].partition);
      rd_kafka_topic_partition_list_del(k->history, parts->elems[i].topic,
                                        parts->elems[i].partition);
      WW_LOG(WW_LOG_INFO, "REBALANCE", "revoked %s [%" PRId32 "]", parts->elems[i].topic,
             parts->elems[i].partition);
    }
    if (cooperative)
      error = rd_kafka_incremental_unassign(rk, parts);
    else
      rerr = rd_kafka_assign(rk, NULL);
    if (k->eof)
      ww_eof_revoke(k->eof, parts);
  }
  if (error) {
    WW_LOG(WW_LOG_ERROR, "REBALANCE", "assignment change failed: %s", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  } else if (rerr) {
    WW_LOG(WW_LOG_ERROR, "REBALANCE", "assign failed: %s", rd_kafka_err2str(rerr));
  }
}

/* The mock cluster names itself "mockCluster<hex>" in metadata. */
static int on_mock_cluster(rd_kafka_t *rk) {
  char *id = rd_kafka_clusterid(rk, 10000);
  int mock = id && strncmp(id, "mockCluster", 11) == 0;
  if (id)
    rd_kafka_mem_free(rk, id);
  return mock;
}

static rd_kafka_t *make_producer(kctx_t *k, char *errstr, size_t n) {
  const ww_config_t *cfg = k->cfg;
  rd_kafka_conf_t *conf = ww_kafka_conf_new(cfg, "windwatch-processor", errstr, n);
  rd_kafka_t *rk = NULL;
  if (!conf)
    return NULL;
  /* Idempotence keeps retries from duplicating outputs (transactions need it).
   * A commit blocks until every output is sent: in real time a short linger
   * keeps that wait short (the loop stands still meanwhile); a batch run
   * lingers longer for fewer, bigger batches (less CPU here and in the
   * broker). lz4 halves the bytes. */
  if (ww_kafka_conf_set(conf, "enable.idempotence", "true", errstr, n) != 0 ||
      ww_kafka_conf_default(cfg, conf, "linger.ms", k->batch ? "50" : "5", errstr, n) != 0 ||
      ww_kafka_conf_default(cfg, conf, "compression.type", "lz4", errstr, n) != 0)
    goto err;
  if (k->eos) {
    char host[128];
    const char *id = ww_config_str(cfg, "transactional-id");
    if (id) {
      snprintf(k->tid, sizeof(k->tid), "%s", id);
    } else {
      if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
      host[sizeof(host) - 1] = '\0';
      snprintf(k->tid, sizeof(k->tid), "%s-%s-%ld", ww_config_str(cfg, "group"), host,
               (long)getpid());
    }
    /* A crashed instance's open transaction holds back read_committed
     * readers until the broker aborts it: when the same transactional.id
     * restarts it is fenced at once, otherwise after this timeout.
     * A transaction that starts while the broker still writes the previous
     * commit's markers (a few ms) has its AddOffsetsToTxn refused with
     * CONCURRENT_TRANSACTIONS; librdkafka retries after retry.backoff.ms,
     * 100 ms by default, and the commit and the loop wait that long. With
     * commits back to back (an alert event just after a commit) 21 of 358
     * did; a 10 ms retry lands once the markers are written. */
    if (ww_kafka_conf_set(conf, "transactional.id", k->tid, errstr, n) != 0 ||
        ww_kafka_conf_default(cfg, conf, "transaction.timeout.ms", "10000", errstr, n) != 0 ||
        ww_kafka_conf_default(cfg, conf, "retry.backoff.ms", "10", errstr, n) != 0)
      goto err;
  }
  /* (Every delivery is reported, though dr_msg_cb() acts on failures only:
   * with delivery.report.only.error, rd_kafka_flush() and so each commit of
   * a transaction learn of the last delivery only at their next 10 ms poll,
   * not at once, which put 10 ms on every alert's latency.) */
  rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
  rd_kafka_conf_set_opaque(conf, k);
  rk = ww_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, n);
  if (!rk)
    goto err;
  return rk;
err:
  rd_kafka_conf_destroy(conf);
  return NULL;
}

/* The output topics' handles on k->producer. @returns 0 or -1 (logged). */
static int open_topics(kctx_t *k) {
  const ww_config_t *cfg = k->cfg;
  const char *names[WW_OUT__COUNT] = {
      ww_config_str(cfg, "topic-sensor-scored"), ww_config_str(cfg, "topic-window-stats"),
      ww_config_str(cfg, "topic-alerts"), ww_config_str(cfg, "topic-dlq"),
      ww_config_str(cfg, "topic-models")};
  for (int i = 0; i < WW_OUT__COUNT; i++) {
    /* sensor-scored, a message per reading keyed by line: each line's key is
     * hashed once (the same partitions as the default partitioner). */
    k->rkt[i] =
        rd_kafka_topic_new(k->producer, names[i],
                           i == WW_OUT_SCORED ? ww_kafka_key_hash_topic_conf(k->producer) : NULL);
    if (!k->rkt[i]) {
      WW_LOG(WW_LOG_ERROR, "KAFKA", "topic %s: %s", names[i],
             rd_kafka_err2str(rd_kafka_last_error()));
      return -1;
    }
  }
  return 0;
}

static void close_topics(kctx_t *k) {
  for (int i = 0; i < WW_OUT__COUNT; i++) {
    if (k->rkt[i])
      rd_kafka_topic_destroy(k->rkt[i]);
    k->rkt[i] = NULL;
  }
}

/* @returns 0, or -1 (logged) if the broker cannot start transactions. */
static int init_transactions(kctx_t *k) {
  rd_kafka_error_t *error = rd_kafka_init_transactions(k->producer, WW_TXN_TIMEOUT_MS);
  if (!error)
    return 0;
  WW_LOG(WW_LOG_ERROR, "TXN",
         "init_transactions failed: %s; is the broker reachable and does it support "
         "transactions? Otherwise run with --guarantee at-least-once",
         rd_kafka_error_string(error));
  rd_kafka_error_destroy(error);
  return -1;
}

/* After producer_lost(): the old producer's queue goes (its transaction is
 * aborted, the rewind redoes that part) and a new one takes its place.
 * @returns 0, or -1 (marks the run failed). */
static int renew_producer(kctx_t *k) {
  char errstr[512];
  k->need_producer = 0;
  /* Readings handed to the stage go to the old producer and fail there;
   * once drained, the stage's thread touches no producer until the next one. */
  drain_scored(k);
  rd_kafka_purge(k->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  close_topics(k);
  rd_kafka_destroy(k->producer);
  k->producer = make_producer(k, errstr, sizeof(errstr));
  if (!k->producer)
    WW_LOG(WW_LOG_ERROR, "KAFKA", "producer: %s", errstr);
  if (!k->producer || open_topics(k) != 0 || (k->eos && init_transactions(k) != 0)) {
    k->failed = k->fatal = 1; /* exit code 3, as when the first producer cannot start */
    ww_signal_request_stop();
    return -1;
  }
  WW_LOG(WW_LOG_NOTICE, "KAFKA", "a new producer is ready%s%s", k->eos ? ": transactional-id " : "",
         k->eos ? k->tid : "");
  if (k->reg)
    ww_metric_inc(k->m_renewals);
  return 0;
}

static rd_kafka_t *make_consumer(kctx_t *k, char *errstr, size_t n) {
  const ww_config_t *cfg = k->cfg;
  rd_kafka_conf_t *conf = ww_kafka_conf_new(cfg, "windwatch-processor", errstr, n);
  rd_kafka_t *rk = NULL;
  if (!conf)
    return NULL;
  if (ww_kafka_conf_set(conf, "group.id", ww_config_str(cfg, "group"), errstr, n) != 0 ||
      ww_kafka_conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", errstr, n) ||
      ww_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, n) != 0 ||
      ww_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, n) != 0 ||
      ww_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, n) != 0 ||
      ww_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, n) != 0 ||
      ww_kafka_conf_set(conf, "enable.partition.eof", k->batch ? "true" : "false", errstr, n) ||
      /* max.partition.fetch.bytes stays at librdkafka's 1 MiB (about 27,000
       * compressed readings a fetch). At 8 MiB, the first fetch of a
       * catch-up took some 140 ms to arrive, with the processor idle, and
       * the prefetch held 40 MB more. */
      ww_kafka_conf_default(cfg, conf, "fetch.wait.max.ms", "10", errstr, n) != 0 ||
      /* The prefetch stops at 100,000 readings (some 40 MB), not at the whole
       * backlog: memory the loop frees is fetched into again, where a
       * prefetch of 1M readings made the kernel zero 400 MB of new pages
       * (a sixth of the processor's CPU in a catch-up). */
      ww_kafka_conf_default(cfg, conf, "queued.min.messages", "100000", errstr, n) != 0 ||
      ww_kafka_conf_default(cfg, conf, "queued.max.messages.kbytes", "65536", errstr, n) != 0 ||
      (rd_kafka_version() >= 0x020100ff &&
       ww_kafka_conf_default(cfg, conf, "fetch.queue.backoff.ms", "10", errstr, n) != 0) ||
      ww_kafka_group_defaults(cfg, conf, errstr, n) != 0)
    goto err;
  rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
  rd_kafka_conf_set_opaque(conf, k);
  rk = ww_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, n);
  if (!rk)
    goto err;
  rd_kafka_poll_set_consumer(rk);
  if (rd_kafka_version() < 0x020100ff) {
    char v[32];
    size_t vsz = sizeof(v);
    long qmin = 100000;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "queued.min.messages", v, &vsz) == RD_KAFKA_CONF_OK)
      qmin = strtol(v, NULL, 10);
    k->refill_q = rd_kafka_queue_get_consumer(rk);
    k->refill_at = qmin / 4 > 0 ? qmin / 4 : 1;
  }
  return rk;
err:
  rd_kafka_conf_destroy(conf);
  return NULL;
}

/* Lines of this processor whose first model is still gathering readings:
 * " training <line> <readings>/<needed>" each, into \p buf. */
static void training_note(kctx_t *k, char *buf, size_t size) {
  const ww_factory_t *fac = ww_config_factory(k->cfg);
  size_t off = 0;
  buf[0] = '\0';
  for (int li = 0; li < fac->n_lines; li++) {
    ww_model_state_t ms;
    int n;
    if (!ww_proc_line_model(k->proc, li, &ms) || ms.needed <= 0)
      continue;
    n = snprintf(buf + off, size - off, " training %s %d/%d", fac->lines[li].id, ms.readings,
                 ms.needed);
    if (n < 0 || (size_t)n >= size - off) {
      buf[off] = '\0'; /* (the lines that fit) */
      break;
    }
    off += (size_t)n;
  }
}

static void stats_line(kctx_t *k, int64_t *last_ms, int64_t *last_readings) {
  ww_proc_counters_t c;
  int64_t now = ww_mono_ms(), dt = now - *last_ms;
  char training[512];
  ww_proc_counters(k->proc, &c);
  training_note(k, training, sizeof(training));
  WW_LOG(WW_LOG_INFO, "STATS",
         "readings %" PRId64 " (%.0f/s) windows %" PRId64 " alerts %" PRId64
         " dead_letters %" PRId64 " anomalous %" PRId64 " out_queue %d%s",
         c.readings, dt > 0 ? (double)(c.readings - *last_readings) * 1000.0 / (double)dt : 0.0,
         c.windows, c.alerts, c.dead_letters, c.anomalous,
         k->producer ? rd_kafka_outq_len(k->producer) : 0, /* (none after a failed renewal) */
         training);
  *last_ms = now;
  *last_readings = c.readings;
}

/* Run-loop state kept across calls of run_loop(). */
typedef struct loop_s {
  int64_t commit_ms;       /* --commit-interval */
  int64_t alert_commit_ms; /* --alert-commit-delay */
  int64_t stats_ms;        /* --stats-interval, 0 = none */
  int64_t last_commit;     /* monotonic ms of the last commit */
  int64_t last_stats;      /* monotonic ms of the last stats line */
  int64_t last_readings;   /* readings at the last stats line */
  int64_t first_msg_ns;    /* monotonic ns of the first message, 0 before */
  int64_t since_check;     /* messages since the last housekeeping */
  int64_t last_turn;       /* monotonic ms of the last housekeeping */
} loop_t;

/* How long the loop may wait for input: never past the moment the open
 * transaction is due, so that with sparse input (a plant's few readings a
 * second) an alert event still commits within --alert-commit-delay and
 * outputs within --commit-interval, not at the next reading. */
static int poll_timeout(const kctx_t *k, const loop_t *lp) {
  int64_t due, left;
  if (k->uncommitted == 0)
    return WW_POLL_MS;
  due = lp->last_commit + (k->n_staged > 0 && !k->batch && lp->alert_commit_ms < lp->commit_ms
                               ? lp->alert_commit_ms
                               : lp->commit_ms);
  left = due - ww_mono_ms();
  return left <= 0 ? 0 : left < WW_POLL_MS ? (int)left : WW_POLL_MS;
}

/*
 * librdkafka before 2.1 stops fetching a partition when the prefetch queue
 * holds queued.min.messages, and looks again only when its broker thread
 * wakes up: on any request or response of that broker, else after a second
 * (a full second idle in every refill of a catch-up). Once the loop has
 * taken a quarter of the queue's size and the queue is down to a quarter,
 * a request to each assigned partition's leader (ListOffsets, an
 * offsets-for-times lookup) wakes the broker threads and the fetch goes on.
 * In real time this asks once per that many readings (25,000 by default:
 * every 2.5 s at 10,000 readings/s).
 */
static void refill_prefetch(kctx_t *k) {
  rd_kafka_topic_partition_list_t *parts = NULL;
  int64_t queued;
  if (!k->refill_q || k->taken < k->refill_at ||
      (queued = (int64_t)rd_kafka_queue_length(k->refill_q)) > k->refill_at)
    return;
  k->taken = 0;
  WW_LOG(WW_LOG_DEBUG, "FETCH", "prefetch down to %" PRId64 " readings: waking the fetch", queued);
  if (rd_kafka_assignment(k->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
    return;
  for (int i = 0; i < parts->cnt; i++)
    parts->elems[i].offset = RD_KAFKA_OFFSET_END; /* as a timestamp: the latest offset */
  if (parts->cnt > 0)
    rd_kafka_offsets_for_times(k->consumer, parts, WW_REFILL_TIMEOUT_MS);
  rd_kafka_topic_partition_list_destroy(parts);
}

/* Consume, process and commit until a stop is requested, a failure, or (batch)
 * the end of every partition. @returns 1 at the end of input, else 0. */
static int run_loop(kctx_t *k, loop_t *lp) {
  char errstr[512];
  while (!ww_signal_stop_requested()) {
    if (k->need_producer && renew_producer(k) != 0)
      break;
    if (k->need_rewind) {
      /* (set by an aborted transaction, here or in the rebalance callback) */
      if (rewind_to_committed(k) != 0)
        break;
      if (txn_begin(k) != 0) {
        if (k->need_rewind)
          continue; /* the producer failed fatally: renewed at the top */
        break;
      }
    }
    backpressure(k);
    /* Wait for input only when nothing is waiting to be finished: once a
     * message is taken, the turn after the input runs dry does the
     * housekeeping at once. */
    rd_kafka_message_t *m = rd_kafka_consumer_poll(
        k->consumer, k->paused || lp->since_check > 0 ? 0 : poll_timeout(k, lp));
    if (k->need_restore) {
      /* (set by an assignment inside that poll) before the lines' first
       * readings. Reading the topics back can take seconds: commit what the
       * open transaction holds first, so it cannot outlive
       * transaction.timeout.ms and get the producer fenced. */
      k->need_restore = 0;
      if (k->uncommitted > 0) {
        ww_proc_flush(k->proc);
        if (commit(k) != 0 || txn_begin(k) != 0 || k->need_rewind) {
          if (m) /* not processed: the rewind (or a restart) reads it again */
            rd_kafka_message_destroy(m);
          if (k->need_rewind)
            continue; /* rewinds, and restores again, at the top of the loop */
          break;
        }
        lp->last_commit = ww_mono_ms();
      }
      if (ww_config_int(k->cfg, "train-size") > 0) /* 0: no models to restore into */
        ww_proc_restore_models(k->cfg, k->proc, ww_config_str(k->cfg, "topic-models"),
                               WW_RESTORE_TIMEOUT_MS);
      ww_proc_restore_alerts(k->cfg, k->proc, ww_config_str(k->cfg, "topic-alerts"),
                             WW_CARRY_LOOKBACK_MS, WW_RESTORE_TIMEOUT_MS);
      restore_history(k); /* after the alerts: they go to lines without state */
    }
    if (m) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (k->eof)
          ww_eof_reached(k->eof, rd_kafka_topic_name(m->rkt), m->partition);
      } else if (m->err) {
        WW_LOG(WW_LOG_WARN, "CONSUME", "%s%s", rd_kafka_message_errstr(m),
               ww_kafka_consume_hint(m->err));
      } else {
        ww_proc_src_t src = {rd_kafka_topic_name(m->rkt), m->partition, m->offset, m->key,
                             m->key_len};
        if (!lp->first_msg_ns)
          lp->first_msg_ns = ww_mono_ns();
        if (k->eof)
          ww_eof_message(k->eof, src.topic, m->partition);
        if (k->settle_ns)
          settle(k);
        ww_proc_enqueue(k->proc, m->payload, m->len, &src);
        pending_store(k, src.topic, m->partition, m->offset);
        k->taken++;
      }
      rd_kafka_message_destroy(m);
    }
    /* Keep taking what is at hand; when the input runs dry, or after
     * WW_TURN_MAX messages or WW_TURN_MS, finish the waiting readings (their
     * model scores in one batch), serve delivery reports and commit if due. */
    if (m && ++lp->since_check < WW_TURN_MAX &&
        ((lp->since_check & 15) != 0 || ww_mono_ms() - lp->last_turn < WW_TURN_MS))
      continue; /* (the clock is read every 16th message, some 50 us of work apart) */
    lp->since_check = 0;
    lp->last_turn = ww_mono_ms();
    ww_proc_flush(k->proc);
    ww_scored_stage_kick(k->scored);
    refill_prefetch(k);
    rd_kafka_poll(k->producer, 0);
    if (ww_kafka_fatal(k->consumer, errstr, sizeof(errstr))) {
      WW_LOG(WW_LOG_ERROR, "KAFKA", "fatal consumer error: %s", errstr);
      k->failed = k->fatal = 1;
      break;
    }
    if (ww_kafka_fatal(k->producer, errstr, sizeof(errstr))) {
      producer_lost(k);
      continue; /* renews the producer and rewinds, at the top of the loop (or stops) */
    }
    if (k->eof && ww_eof_all(k->eof))
      return 1;
    /* An alert event in the open transaction is invisible to read_committed
     * consumers until the commit: in real time it commits within
     * --alert-commit-delay instead of waiting for the interval. */
    if (k->uncommitted > 0 &&
        (ww_mono_ms() - lp->last_commit >= lp->commit_ms ||
         (k->n_staged > 0 && !k->batch && ww_mono_ms() - lp->last_commit >= lp->alert_commit_ms))) {
      if ((commit(k) != 0 || txn_begin(k) != 0) && !k->need_rewind)
        break;
      lp->last_commit = ww_mono_ms();
    }
    if (lp->stats_ms > 0 && ww_mono_ms() - lp->last_stats >= lp->stats_ms)
      stats_line(k, &lp->last_stats, &lp->last_readings);
    ww__pk_metrics_update(k);
  }

  return 0;
}

int ww_proc_run(const ww_config_t *cfg) {
  kctx_t k;
  ww_proc_conf_t pc;
  ww_proc_output_t out;
  char errstr[512];
  const char *topic_in = ww_config_str(cfg, "topic-sensor-data");
  loop_t lp;
  int64_t end_ns = 0; /* end of processing, for the summary's rate */
  int rc = 1, done = 0, undelivered;

  memset(&k, 0, sizeof(k));
  memset(&lp, 0, sizeof(lp));
  lp.commit_ms = ww_config_duration_ms(cfg, "commit-interval");
  lp.alert_commit_ms = ww_config_duration_ms(cfg, "alert-commit-delay");
  lp.stats_ms = ww_config_duration_ms(cfg, "stats-interval");
  k.cfg = cfg;
  for (int i = 0; i < ww_config_factory(cfg)->n_lines; i++) {
    const char *id = ww_config_factory(cfg)->lines[i].id;
    k.line_key_len[i] = strlen(id);
    k.line_hash[i] = ww_kafka_key_hash(id, k.line_key_len[i]);
  }
  k.eos = strcmp(ww_config_str(cfg, "guarantee"), "exactly-once") == 0;
  k.batch = strcmp(ww_config_str(cfg, "mode"), "batch") == 0;
  /* In batch mode no one waits to see outputs early, and each transaction
   * drains the producer's pipeline and costs the broker its markers: at 1 s
   * instead of 100 ms, a 1M-reading batch makes 3 transactions, not 22, and
   * its loop stands still for some 25 ms instead of 190. */
  if (k.batch && !ww_config_is_set(cfg, "commit-interval"))
    lp.commit_ms = WW_BATCH_COMMIT_MS;
  k.from_beginning = ww_config_bool(cfg, "from-beginning");
  /* --from-beginning reprocesses from scratch: state from scratch too. */
  k.restore = ww_config_bool(cfg, "restore-models") && !k.from_beginning;
  k.pending = rd_kafka_topic_partition_list_new(8);
  k.history = rd_kafka_topic_partition_list_new(4);

  if (ww_proc_conf_load(cfg, &pc, errstr, sizeof(errstr)) != 0) {
    WW_LOG(WW_LOG_ERROR, "CONFIG", "%s", errstr);
    rc = 2;
    goto done;
  }
  /* Only a batch run prints a summary: in real time the grading would keep
   * every injected episode forever, and copy them at every commit. */
  pc.grade = k.batch;
  if (pc.window_type == WW_WINDOW_TIME) { /* see note_history() */
    k.history_ms =
        (pc.window_size + 2 * (pc.window_slide > 0 ? pc.window_slide : pc.window_size)) * 1000 +
        pc.allowed_lateness_ms;
    k.history_disorder_ms = pc.allowed_lateness_ms;
  } else {
    k.history_counts = 1;
  }
  memset(&out, 0, sizeof(out));
  out.produce = out_produce;
  out.scored = put_scored;
  out.opaque = &k;
  out.window_closed = ww__pk_window_closed;
  out.alert_event = stage_alert;
  k.proc = ww_proc_new(ww_config_factory(cfg), &pc, &out, errstr, sizeof(errstr));
  if (!k.proc) {
    WW_LOG(WW_LOG_ERROR, "CONFIG", "%s", errstr);
    rc = 2;
    goto done;
  }
  if (ww_config_str(cfg, "model")) {
    /* A comma-separated list: one file per line. */
    char files[4096], *save = NULL;
    snprintf(files, sizeof(files), "%s", ww_config_str(cfg, "model"));
    for (char *f = strtok_r(files, ",", &save); f; f = strtok_r(NULL, ",", &save))
      if (ww_proc_load_model(k.proc, f, errstr, sizeof(errstr)) != 0) {
        WW_LOG(WW_LOG_ERROR, "MODEL", "%s", errstr);
        rc = 2;
        goto done;
      }
  }
  {
    ww_handlers_conf_t hc;
    memset(&hc, 0, sizeof(hc));
    hc.console = 1;
    hc.webhook_url = ww_config_str(cfg, "webhook");
    hc.webhook_retries = (int)ww_config_int(cfg, "webhook-retries");
    hc.webhook_timeout_ms = ww_config_duration_ms(cfg, "webhook-timeout");
    hc.queue_max = (int)ww_config_int(cfg, "webhook-queue");
    hc.email_url = ww_config_str(cfg, "alert-email");
    hc.email_from = ww_config_str(cfg, "alert-email-from");
    hc.email_to = ww_config_str(cfg, "alert-email-to");
    hc.email_interval_ms = ww_config_duration_ms(cfg, "alert-email-interval");
    k.handlers = ww_handlers_new(&hc, errstr, sizeof(errstr));
    if (!k.handlers) {
      WW_LOG(WW_LOG_ERROR, "CONFIG", "%s", errstr);
      rc = 2;
      goto done;
    }
  }
  if (ww_config_str(cfg, "metrics-listen") &&
      ww__pk_metrics_start(&k, ww_config_str(cfg, "metrics-listen"), errstr, sizeof(errstr)) != 0) {
    WW_LOG(WW_LOG_ERROR, "METRICS", "--metrics-listen: %s", errstr);
    rc = 2;
    goto done;
  }
  if (k.batch && !(k.eof = ww_eof_new())) {
    WW_LOG(WW_LOG_ERROR, "MAIN", "out of memory");
    goto done;
  }
  if (!(k.producer = make_producer(&k, errstr, sizeof(errstr)))) {
    WW_LOG(WW_LOG_ERROR, "KAFKA", "producer: %s", errstr);
    rc = 2;
    goto done;
  }
  if (k.eos && on_mock_cluster(k.producer)) {
    /* librdkafka's mock cluster (kafka.sh start --mock) accepts transactions
     * but keeps nothing durable: promising exactly-once there would be a lie. */
    WW_LOG(WW_LOG_WARN, "TXN",
           "the broker is librdkafka's mock cluster, which only fakes "
           "transactions: running at-least-once (use a real broker for exactly-once)");
    rd_kafka_destroy(k.producer);
    k.eos = 0;
    if (!(k.producer = make_producer(&k, errstr, sizeof(errstr)))) {
      WW_LOG(WW_LOG_ERROR, "KAFKA", "producer: %s", errstr);
      rc = 2;
      goto done;
    }
  }
  if (open_topics(&k) != 0)
    goto done;
  /* Encoding and producing each scored reading is a third of the loop's
   * work: a thread of its own does it while the loop reads and scores on. */
  if (!(k.scored = ww_scored_stage_new(WW_SCORED_RING, send_scored, &k, errstr, sizeof(errstr)))) {
    WW_LOG(WW_LOG_ERROR, "MAIN", "%s", errstr);
    goto done;
  }
  if (k.eos) {
    if (init_transactions(&k) != 0) {
      rc = 3; /* fatal Kafka error (documented exit code) */
      goto done;
    }
    if (txn_begin(&k) != 0)
      goto done;
  }
  WW_LOG(WW_LOG_NOTICE, "MAIN",
         "%s mode, %s, %s windows of %" PRId64 "%s, group %s, input %s, commits every %" PRId64
         " ms, isolation forest kernel %s",
         k.batch ? "batch" : "real_time", k.eos ? "exactly-once" : "at-least-once",
         ww_window_type_name(pc.window_type), pc.window_size,
         pc.window_type == WW_WINDOW_TIME ? " s" : " readings", ww_config_str(cfg, "group"),
         topic_in, lp.commit_ms, ww_iforest_kernel_name(ww_iforest_kernel()));
  {
    char qmax[32];
    size_t qsz = sizeof(qmax);
    long maxq = 100000; /* librdkafka's default queue.buffering.max.messages */
    if (rd_kafka_conf_get(rd_kafka_conf(k.producer), "queue.buffering.max.messages", qmax, &qsz) ==
        RD_KAFKA_CONF_OK)
      maxq = strtol(qmax, NULL, 10);
    k.outq_high = (int)(maxq * 8 / 10);
    k.outq_low = (int)(maxq / 2);
  }
  if (!(k.consumer = make_consumer(&k, errstr, sizeof(errstr)))) {
    WW_LOG(WW_LOG_ERROR, "KAFKA", "consumer: %s", errstr);
    rc = 2;
    goto done;
  }
  if (ww_kafka_subscribe(k.consumer, &topic_in, 1, errstr, sizeof(errstr)) != 0) {
    WW_LOG(WW_LOG_ERROR, "KAFKA", "%s", errstr);
    goto done;
  }

  lp.last_commit = lp.last_stats = ww_mono_ms();
  for (;;) {
    done = run_loop(&k, &lp);
    if (!k.failed && !k.need_rewind) {
      /* A stop can come while readings wait for their batch: their offsets
       * are pending, so their outputs must go into this last transaction. */
      if (done)
        ww_proc_finish(k.proc);
      else
        ww_proc_flush(k.proc);
      end_ns = ww_mono_ns();
      /* Graceful stop: what was processed is committed with its outputs. */
      if (commit(&k) == 0)
        rc = 0;
    }
    if (k.need_rewind && !k.failed && !ww_signal_stop_requested())
      continue; /* the last transaction was aborted: process that part again */
    if (k.need_rewind && !k.failed)
      rc = 0; /* stopping: nothing of the aborted part was committed; a restart redoes it */
    break;
  }
  if (k.fatal)
    rc = 3; /* fatal Kafka error (documented exit code) */
  stats_line(&k, &lp.last_stats, &lp.last_readings);
  if (done && rc == 0) {
    char summary[4096];
    size_t n = ww_proc_summary(k.proc, summary, sizeof(summary));
    ww_proc_counters_t c;
    double secs = lp.first_msg_ns ? (double)(end_ns - lp.first_msg_ns) / 1e9 : 0.0;
    ww_proc_committed_counters(k.proc, &c);
    /* The engine's summary plus the processing time, first message to the
     * last commit (group join and start-up excluded), and the valid readings
     * scored per second of it (dead letters are not readings). */
    if (n > 0 && n < sizeof(summary)) {
      fprintf(stdout, "%.*s,\"seconds\":%.3f,\"readings_per_s\":%.0f}\n", (int)(n - 1), summary,
              secs, secs > 0 ? (double)c.readings / secs : 0.0);
      fflush(stdout);
    }
  }

done:
  if (k.refill_q)
    rd_kafka_queue_destroy(k.refill_q);
  if (k.consumer) {
    /* Leaving the group revokes: nothing is pending now, so no commit runs. */
    ww_kafka_consumer_close(k.consumer);
  }
  /* Before an abort or the last flush, every reading handed over is queued. */
  drain_scored(&k);
  ww_scored_stage_destroy(k.scored);
  k.scored = NULL;
  if (k.producer) {
    if (k.txn_open) {
      rd_kafka_error_t *error = rd_kafka_abort_transaction(k.producer, WW_TXN_TIMEOUT_MS);
      if (error)
        rd_kafka_error_destroy(error);
    }
    close_topics(&k);
    undelivered = ww_kafka_producer_close(k.producer, WW_FLUSH_TIMEOUT_MS);
    if (undelivered > 0) {
      WW_LOG(WW_LOG_ERROR, "PRODUCE", "%d output messages were not delivered", undelivered);
      if (rc == 0)
        rc = 1;
    }
  }
  release_alerts(&k, 0);
  free(k.staged);
  /* Give queued webhook posts and mails a few seconds to go out. */
  ww_handlers_destroy(k.handlers, 5000);
  ww_metrics_destroy(k.reg);
  ww_eof_destroy(k.eof);
  ww_proc_destroy(k.proc);
  rd_kafka_topic_partition_list_destroy(k.pending);
  rd_kafka_topic_partition_list_destroy(k.history);
  return rc;
}
