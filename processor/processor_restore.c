/* processor_restore.c: the newest model of each line, read back from the
 * compacted models topic, for lines that have none (start-up, or lines that
 * just moved here in a rebalance); the alerts those lines left open, read
 * back from the alerts topic; and their windows and baselines, by a replay
 * of the input before the committed offsets (time windows: back in event
 * time; count windows: from the counts kept with the offsets). */
#include "processor_restore.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/kafka.h"
#include "windwatch/log.h"
#include "windwatch/reading.h"
#include "windwatch/timeutil.h"

#define WW_RESTORE_POLL_MS 200

/* The newest message per line id (the topic is keyed by line). */
typedef struct latest_s {
  char **key;
  char **val;
  size_t *len;
  int n, cap;
} latest_t;

/* read_topic's callback for the models topic: keep the newest message per key. */
static int keep(void *opaque, const rd_kafka_message_t *m) {
  latest_t *l = opaque;
  int i;
  char *v;
  if (!m->key)
    return 0;
  for (i = 0; i < l->n; i++)
    if (strlen(l->key[i]) == m->key_len && memcmp(l->key[i], m->key, m->key_len) == 0)
      break;
  if (i == l->n) {
    if (l->n == l->cap) {
      int ncap = l->cap ? l->cap * 2 : 8;
      char **nk = realloc(l->key, (size_t)ncap * sizeof(*nk));
      char **nv = nk ? realloc(l->val, (size_t)ncap * sizeof(*nv)) : NULL;
      size_t *nl = nv ? realloc(l->len, (size_t)ncap * sizeof(*nl)) : NULL;
      if (nk)
        l->key = nk;
      if (nv)
        l->val = nv;
      if (!nl)
        return -1;
      l->len = nl;
      l->cap = ncap;
    }
    l->key[i] = strndup(m->key, m->key_len);
    if (!l->key[i])
      return -1;
    l->val[i] = NULL;
    l->n++;
  }
  if (!m->payload) { /* a tombstone: the line's model was deleted */
    free(l->val[i]);
    l->val[i] = NULL;
    l->len[i] = 0;
    return 0;
  }
  v = malloc(m->len);
  if (!v)
    return -1;
  memcpy(v, m->payload, m->len);
  free(l->val[i]);
  l->val[i] = v;
  l->len[i] = m->len;
  return 0;
}

static void latest_free(latest_t *l) {
  for (int i = 0; i < l->n; i++) {
    free(l->key[i]);
    free(l->val[i]);
  }
  free(l->key);
  free(l->val);
  free(l->len);
}

/* A consumer that reads committed messages of partitions it is assigned
 * (not subscribed: no group membership and nothing committed, so every
 * processor reads what it asks for; group.id is only a requirement), with
 * end-of-partition events. librdkafka before 2.1 stops fetching a partition
 * whose prefetch queue holds queued.min.messages and looks again only when
 * its broker thread wakes up (see refill_prefetch() in processor_kafka.c):
 * with the default 100,000, a replay of 200,000 messages a partition took
 * 2.3 s instead of 0.9 s. The prefetch stays bounded by
 * queued.max.messages.kbytes (64 MiB). @returns it, or NULL with errstr set. */
static rd_kafka_t *restore_consumer(const ww_config_t *cfg, int probe, char *errstr, size_t n) {
  rd_kafka_conf_t *conf = ww_kafka_conf_new(cfg, "windwatch-processor-restore", errstr, n);
  rd_kafka_t *rk;
  if (!conf)
    return NULL;
  if (ww_kafka_conf_set(conf, "group.id", "windwatch-processor-restore", errstr, n) != 0 ||
      ww_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, n) != 0 ||
      ww_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, n) != 0 ||
      ww_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, n) != 0 ||
      /* Reading: fetch ahead as much as the bytes limit allows (the default
       * stalls, librdkafka < 2.1). Probing single offsets (one_each()):
       * little fetching ahead, no wait at the end of a partition, and no
       * backoff once the little is queued (librdkafka < 2.1 backs a full
       * queue off by fetch.error.backoff.ms, which a new probe inherits). */
      ww_kafka_conf_set(conf, "queued.min.messages", probe ? "1000" : "1000000", errstr, n) != 0 ||
      (probe && (ww_kafka_conf_set(conf, "fetch.wait.max.ms", "10", errstr, n) != 0 ||
                 ww_kafka_conf_set(conf, "fetch.error.backoff.ms", "10", errstr, n) != 0))) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rk = ww_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, n);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

static void restore_consumer_close(rd_kafka_t *rk) {
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

/* Hand every committed message of \p topic to \p fn, in order within each
 * partition, up to the end each partition has now: from the beginning, or,
 * when \p since_ms >= 0, from the first message with a timestamp at or after
 * it. @returns 0, or -1 with errstr set (fn's -1 stops the read: out of memory). */
static int read_topic(const ww_config_t *cfg, const char *topic, int64_t since_ms, int timeout_ms,
                      int (*fn)(void *opaque, const rd_kafka_message_t *m), void *opaque,
                      char *errstr, size_t n) {
  rd_kafka_t *rk = restore_consumer(cfg, 0, errstr, n);
  const rd_kafka_metadata_t *md = NULL;
  rd_kafka_topic_partition_list_t *parts = NULL;
  rd_kafka_topic_t *rkt = NULL;
  rd_kafka_resp_err_t err;
  int rc = -1, at_end = 0, n_parts;
  char *ended = NULL; /* [n_parts]: this partition's end was reached */
  int64_t deadline = ww_mono_ms() + timeout_ms;
  if (!rk)
    return -1;
  rkt = rd_kafka_topic_new(rk, topic, NULL);
  err = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) : rd_kafka_last_error();
  if (err || md->topic_cnt != 1 || md->topics[0].err) {
    snprintf(errstr, n, "topic %s: %s", topic,
             rd_kafka_err2str(err                  ? err
                              : md->topic_cnt == 1 ? md->topics[0].err
                                                   : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
    goto done;
  }
  n_parts = md->topics[0].partition_cnt;
  parts = rd_kafka_topic_partition_list_new(n_parts > 0 ? n_parts : 1);
  if (!(ended = calloc((size_t)(n_parts > 0 ? n_parts : 1), 1))) {
    snprintf(errstr, n, "out of memory reading %s", topic);
    goto done;
  }
  for (int i = 0; i < n_parts; i++)
    rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
        since_ms >= 0 ? since_ms : RD_KAFKA_OFFSET_BEGINNING;
  /* A timestamp becomes the offset of the first message at or after it
   * (RD_KAFKA_OFFSET_END where there is none). */
  if (since_ms >= 0 && n_parts > 0 &&
      (err = rd_kafka_offsets_for_times(rk, parts, timeout_ms)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    snprintf(errstr, n, "topic %s: offsets for times: %s", topic, rd_kafka_err2str(err));
    goto done;
  }
  for (int i = 0; since_ms >= 0 && i < parts->cnt; i++)
    if (parts->elems[i].err) {
      snprintf(errstr, n, "topic %s [%" PRId32 "]: offsets for times: %s", topic,
               parts->elems[i].partition, rd_kafka_err2str(parts->elems[i].err));
      goto done;
    }
  /* Where each partition ends now: one with nothing to read from its start
   * is done at once, without waiting for its end-of-partition event, and
   * is not assigned. The others start at an offset: librdkafka's own lookup
   * of BEGINNING or END right after the assignment can wait half a second
   * for a leader. (Whether the broker reports the high watermark or the last
   * stable offset, a start at or past it has nothing committed to read.) */
  for (int i = 0; i < parts->cnt; i++) {
    rd_kafka_topic_partition_t *p = &parts->elems[i];
    int64_t lo, hi;
    if (rd_kafka_query_watermark_offsets(rk, topic, p->partition, &lo, &hi, timeout_ms) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
      continue; /* librdkafka looks it up itself */
    if (p->offset == RD_KAFKA_OFFSET_BEGINNING)
      p->offset = lo;
    else if (p->offset == RD_KAFKA_OFFSET_END)
      p->offset = hi;
    if (p->offset >= hi) {
      ended[i] = 1;
      at_end++;
    }
  }
  if (at_end < n_parts) {
    rd_kafka_topic_partition_list_t *todo = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
      if (!ended[i])
        rd_kafka_topic_partition_list_add(todo, topic, parts->elems[i].partition)->offset =
            parts->elems[i].offset;
    err = rd_kafka_assign(rk, todo);
    rd_kafka_topic_partition_list_destroy(todo);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      snprintf(errstr, n, "topic %s: assign: %s", topic, rd_kafka_err2str(err));
      goto done;
    }
  }
  while (at_end < n_parts) {
    rd_kafka_message_t *m;
    if (ww_mono_ms() > deadline) {
      snprintf(errstr, n, "topic %s: not read to its end within %d ms", topic, timeout_ms);
      goto done;
    }
    m = rd_kafka_consumer_poll(rk, WW_RESTORE_POLL_MS);
    if (!m)
      continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      /* Once per partition: on a live topic a partition can reach its end
       * again (new messages) before the others reach theirs. */
      for (int i = 0; i < n_parts; i++)
        if (md->topics[0].partitions[i].id == m->partition && !ended[i]) {
          ended[i] = 1;
          at_end++;
        }
    } else if (m->err) {
      WW_LOG(WW_LOG_WARN, "RESTORE", "reading %s: %s", topic, rd_kafka_message_errstr(m));
    } else if (fn(opaque, m) != 0) {
      rd_kafka_message_destroy(m);
      snprintf(errstr, n, "out of memory reading %s", topic);
      goto done;
    }
    rd_kafka_message_destroy(m);
  }
  rc = 0;
done:
  free(ended);
  if (parts)
    rd_kafka_topic_partition_list_destroy(parts);
  if (md)
    rd_kafka_metadata_destroy(md);
  if (rkt)
    rd_kafka_topic_destroy(rkt);
  restore_consumer_close(rk);
  return rc;
}

int ww_proc_restore_models(const ww_config_t *cfg, ww_proc_t *proc, const char *topic,
                           int timeout_ms) {
  latest_t l;
  char errstr[512], from[300];
  int loaded = 0;
  memset(&l, 0, sizeof(l));
  if (read_topic(cfg, topic, -1, timeout_ms, keep, &l, errstr, sizeof(errstr)) != 0) {
    WW_LOG(WW_LOG_WARN, "MODEL", "cannot restore models: %s; lines without a model train one",
           errstr);
    latest_free(&l);
    return -1;
  }
  snprintf(from, sizeof(from), "topic %s", topic);
  for (int i = 0; i < l.n; i++) {
    int r;
    if (!l.val[i])
      continue;
    r = ww_proc_load_model_json(proc, l.val[i], l.len[i], from, 1, errstr, sizeof(errstr));
    if (r < 0)
      WW_LOG(WW_LOG_WARN, "MODEL", "not restored: %s; the line trains a model instead", errstr);
    else
      loaded += r;
  }
  latest_free(&l);
  return loaded;
}

/* read_topic's callback for the alerts topic: replay each event. */
static int replay(void *opaque, const rd_kafka_message_t *m) {
  if (m->payload)
    ww_proc_carry_event(opaque, m->payload, m->len); /* malformed events are skipped */
  return 0;
}

int ww_proc_restore_alerts(const ww_config_t *cfg, ww_proc_t *proc, const char *topic,
                           int64_t lookback_ms, int timeout_ms) {
  char errstr[512];
  ww_proc_carry_t *c = ww_proc_carry_begin(proc);
  int carried;
  if (!c) {
    WW_LOG(WW_LOG_WARN, "ALERT", "cannot carry open alerts over: out of memory");
    return -1;
  }
  if (read_topic(cfg, topic, ww_now_ms() - lookback_ms, timeout_ms, replay, c, errstr,
                 sizeof(errstr)) != 0) {
    WW_LOG(WW_LOG_WARN, "ALERT",
           "cannot carry open alerts over: %s; alerts left open by the "
           "lines' previous owner stay open until a restart carries them over",
           errstr);
    ww_proc_carry_abort(c);
    /* What an earlier carry-over gave lines without state here may have been
     * resolved since by their owner: with no replay to tell, forget it. */
    if ((c = ww_proc_carry_begin(proc)))
      ww_proc_carry_end(c);
    return -1;
  }
  carried = ww_proc_carry_end(c);
  return carried;
}

/* One partition of a history replay: [from, to) of the input. */
typedef struct span_s {
  int32_t partition;
  int64_t from, to; /* to: the committed offset, where live processing resumes */
  int64_t ts;       /* timestamp of the last message before it, -1 unknown */
  int64_t ev;       /* its event time, -1 unknown (not a reading) */
  int done;
  /* one_each()'s round: the offset read from, whether the span takes part
   * and whether it has what it needs. */
  int64_t probe;
  int active, got;
  /* trim_spans()'s search: [lo, hi) holds the first offset whose event
   * time is at or after `target`; lo moves up only past readings before it. */
  int64_t lo, hi, target, got_off, got_ev;
  int first;
} span_t;

static span_t *span_of(span_t *s, int n, int32_t partition) {
  for (int i = 0; i < n; i++)
    if (s[i].partition == partition)
      return &s[i];
  return NULL;
}

/* Read from each span's start with a fresh consumer until every span is done;
 * \p step handles one message of its span and says whether the span is done.
 * @returns 0, or -1 with errstr set. */
static int read_spans(const ww_config_t *cfg, const char *topic, span_t *s, int n, int64_t deadline,
                      int (*step)(void *opaque, span_t *sp, rd_kafka_message_t *m), void *opaque,
                      char *errstr, size_t errn) {
  rd_kafka_t *rk = restore_consumer(cfg, 0, errstr, errn);
  rd_kafka_topic_partition_list_t *parts;
  int left = 0, rc = -1;
  if (!rk)
    return -1;
  parts = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
  for (int i = 0; i < n; i++)
    if (!s[i].done) {
      rd_kafka_topic_partition_list_add(parts, topic, s[i].partition)->offset = s[i].from;
      left++;
    }
  if (left > 0 && rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    snprintf(errstr, errn, "topic %s: cannot assign its partitions", topic);
    left = -1;
  }
  while (left > 0) {
    rd_kafka_message_t *m;
    span_t *sp;
    if (ww_mono_ms() > deadline) {
      snprintf(errstr, errn, "topic %s: history not read within the time allowed", topic);
      break;
    }
    if (!(m = rd_kafka_consumer_poll(rk, WW_RESTORE_POLL_MS)))
      continue;
    sp = span_of(s, n, m->partition);
    if (sp && !sp->done) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        sp->done = 1; /* the partition ends before the span does: nothing more to read */
      else if (m->err)
        WW_LOG(WW_LOG_WARN, "RESTORE", "reading %s: %s", topic, rd_kafka_message_errstr(m));
      else
        sp->done = step(opaque, sp, m);
      if (sp->done)
        left--;
    }
    rd_kafka_message_destroy(m);
  }
  if (left == 0)
    rc = 0;
  rd_kafka_topic_partition_list_destroy(parts);
  restore_consumer_close(rk);
  return rc;
}

/* The event time of a message of the input, -1 when it is not a reading. */
static int64_t event_time(const ww_factory_t *fac, const rd_kafka_message_t *m) {
  ww_reading_t r;
  if (!m->payload || ww_reading_decode(fac, m->payload, m->len, 0, &r, NULL, 0) != WW_DLQ_NONE)
    return -1;
  return r.ts_ms;
}

/* One message of each active span at or after its probe offset, on the
 * probe consumer \p rk: \p take looks at each message (an end-of-partition
 * event included) until it sets the span's `got`; a span whose partition
 * cannot be read drops out (active = 0). @returns 0, or -1 when the
 * deadline passed or the partitions could not be assigned. */
static int one_each(rd_kafka_t *rk, const char *topic, const ww_factory_t *fac, span_t *s, int n,
                    int64_t deadline,
                    void (*take)(span_t *sp, const rd_kafka_message_t *m,
                                 const ww_factory_t *fac)) {
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
  int left = 0;
  for (int i = 0; i < n; i++)
    if (s[i].active) {
      s[i].got = 0;
      rd_kafka_topic_partition_list_add(parts, topic, s[i].partition)->offset = s[i].probe;
      left++;
    }
  if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
    left = -1;
  rd_kafka_topic_partition_list_destroy(parts);
  while (left > 0 && ww_mono_ms() <= deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, WW_RESTORE_POLL_MS);
    span_t *sp = m ? span_of(s, n, m->partition) : NULL;
    if (sp && sp->active && !sp->got) {
      if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        WW_LOG(WW_LOG_WARN, "RESTORE", "reading %s: %s", topic, rd_kafka_message_errstr(m));
        sp->active = 0;
        left--;
      } else {
        take(sp, m, fac);
        if (sp->got)
          left--;
      }
    }
    if (m)
      rd_kafka_message_destroy(m);
  }
  rd_kafka_assign(rk, NULL);
  return left == 0 ? 0 : -1;
}

/* one_each()'s take of the first pass, from the span's end - 1: the
 * timestamp and event time of the last message before the end (or of the
 * first after it, where a transaction's marker sits just before the end). */
static void take_last(span_t *sp, const rd_kafka_message_t *m, const ww_factory_t *fac) {
  if (!m->err) {
    sp->ts = rd_kafka_message_timestamp(m, NULL);
    sp->ev = event_time(fac, m);
  }
  sp->got = 1;
}

/* one_each()'s take of trim_spans(): the first reading at or after the
 * probe, or an offset >= hi (no reading in [probe, hi)). */
static void take_probe(span_t *sp, const rd_kafka_message_t *m, const ww_factory_t *fac) {
  if (m->err || m->offset >= sp->hi) {
    sp->got_off = sp->hi;
    sp->got = 1;
  } else if (m->offset >= sp->probe && (sp->got_ev = event_time(fac, m)) >= 0) {
    sp->got_off = m->offset;
    sp->got = 1;
  }
}

/* Where each span's replay can start by event time: at the first reading
 * whose event time is at or after the span's target (its last reading's
 * event time minus the lookback and the allowed disorder), found by binary
 * search over the offsets (a reading a round). The replay's start by
 * timestamps is right for a live stream, whose event time follows the
 * clock; a backlog produced faster than real time (a backfill, a replayed
 * file) has far more event time per second of timestamps, and would be
 * replayed whole. The first probe, at the start found by timestamps, ends
 * the search for a live stream. The search takes the input's event time to
 * grow with its offsets, give or take the disorder. */
static void trim_spans(rd_kafka_t *rk, const char *topic, const ww_factory_t *fac, span_t *s, int n,
                       int64_t back_ms, int64_t deadline) {
  int searching = 0;
  for (int i = 0; i < n; i++) {
    span_t *sp = &s[i];
    sp->active = sp->ev >= 0 && sp->from < sp->to;
    sp->lo = sp->from;
    sp->hi = sp->to;
    sp->target = sp->ev - back_ms;
    sp->first = 1;
    searching += sp->active;
  }
  while (searching > 0) {
    for (int i = 0; i < n; i++)
      if (s[i].active)
        s[i].probe = s[i].first ? s[i].lo : s[i].lo + (s[i].hi - s[i].lo) / 2;
    if (one_each(rk, topic, fac, s, n, deadline, take_probe) != 0)
      break;
    searching = 0;
    for (int i = 0; i < n; i++) {
      span_t *sp = &s[i];
      if (!sp->active)
        continue;
      if (sp->got_off >= sp->hi)
        sp->hi = sp->probe; /* no reading in [probe, hi) */
      else if (sp->got_ev < sp->target)
        sp->lo = sp->got_off + 1;
      else /* first probe: the start by timestamps is in time already */
        sp->hi = sp->first ? sp->lo : sp->got_off;
      sp->first = 0;
      sp->active = sp->lo < sp->hi;
      searching += sp->active;
    }
  }
  for (int i = 0; i < n; i++)
    if (s[i].lo > s[i].from)
      s[i].from = s[i].lo;
}

/* read_spans' step of the replay: the messages before the span's end go to
 * the engine (in replay mode); the first at or after it ends the span. */
typedef struct replay_s {
  ww_proc_t *proc;
  const char *topic;
  int64_t replayed;
} replay_t;

static int feed(void *opaque, span_t *sp, rd_kafka_message_t *m) {
  replay_t *r = opaque;
  ww_proc_src_t src = {r->topic, m->partition, m->offset, m->key, m->key_len};
  if (m->offset >= sp->to)
    return 1;
  if (m->offset >= sp->from && m->payload) {
    ww_proc_enqueue(r->proc, m->payload, m->len, &src);
    r->replayed++;
  }
  return m->offset + 1 >= sp->to;
}

/* Replay the spans not done, in replay mode. @returns read_spans()'s. */
static int replay_spans(const ww_config_t *cfg, span_t *s, int n, int64_t deadline, replay_t *r,
                        char *errstr, size_t errn) {
  int rc;
  ww_proc_replay_begin(r->proc);
  rc = read_spans(cfg, r->topic, s, n, deadline, feed, r, errstr, errn);
  ww_proc_replay_end(r->proc);
  return rc;
}

static void replay_failed(int rc, const char *errstr) {
  if (rc != 0)
    WW_LOG(WW_LOG_WARN, "RESTORE",
           "cannot replay the input's history: %s; the lines' windows and baselines hold "
           "what was replayed, if anything, and fill from the next reading",
           errstr);
}

int64_t ww_proc_restore_history(const ww_config_t *cfg, ww_proc_t *proc,
                                const rd_kafka_topic_partition_list_t *parts, int64_t lookback_ms,
                                int64_t disorder_ms, int64_t max_messages, int timeout_ms) {
  char errstr[512];
  int64_t deadline = ww_mono_ms() + timeout_ms;
  const char *topic = parts->cnt > 0 ? parts->elems[0].topic : NULL;
  span_t *s = calloc((size_t)(parts->cnt > 0 ? parts->cnt : 1), sizeof(*s));
  rd_kafka_t *rk = NULL;
  rd_kafka_topic_partition_list_t *times = NULL;
  replay_t r = {proc, topic, 0};
  int n = 0, rc = -1;
  if (!s) {
    WW_LOG(WW_LOG_WARN, "RESTORE", "cannot replay the input's history: out of memory");
    return -1;
  }
  if (!topic) {
    free(s);
    return 0;
  }
  /* Where each span starts: at most max_messages before its end, never
   * before the partition's first message. */
  if (!(rk = restore_consumer(cfg, 1, errstr, sizeof(errstr))))
    goto done;
  for (int i = 0; i < parts->cnt; i++) {
    const rd_kafka_topic_partition_t *p = &parts->elems[i];
    int64_t lo, hi;
    if (p->offset <= 0 ||
        rd_kafka_query_watermark_offsets(rk, topic, p->partition, &lo, &hi, timeout_ms) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
      continue; /* nothing was processed before (or the partition cannot be asked) */
    if (p->offset <= lo)
      continue;
    s[n].partition = p->partition;
    s[n].to = p->offset;
    s[n].from = p->offset - max_messages > lo ? p->offset - max_messages : lo;
    s[n].ts = s[n].ev = -1;
    n++;
  }
  if (n == 0) {
    rc = 0;
    goto done;
  }
  /* How far back in time: lookback_ms before the last message processed. */
  for (int i = 0; i < n; i++) {
    s[i].active = 1;
    s[i].probe = s[i].to - 1;
  }
  if (one_each(rk, topic, ww_config_factory(cfg), s, n, deadline, take_last) != 0) {
    snprintf(errstr, sizeof(errstr), "topic %s: its last messages not read within the time allowed",
             topic);
    goto done;
  }
  times = rd_kafka_topic_partition_list_new(n);
  for (int i = 0; i < n; i++) {
    if (s[i].ts >= 0)
      rd_kafka_topic_partition_list_add(times, topic, s[i].partition)->offset =
          s[i].ts - lookback_ms;
  }
  if (times->cnt > 0 &&
      rd_kafka_offsets_for_times(rk, times, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
    for (int i = 0; i < times->cnt; i++) {
      span_t *sp = span_of(s, n, times->elems[i].partition);
      if (sp && !times->elems[i].err && times->elems[i].offset > sp->from)
        sp->from = times->elems[i].offset;
    }
  trim_spans(rk, topic, ww_config_factory(cfg), s, n, lookback_ms + disorder_ms, deadline);
  for (int i = 0; i < n; i++)
    if (s[i].from >= s[i].to)
      s[i].done = 1;
  rc = replay_spans(cfg, s, n, deadline, &r, errstr, sizeof(errstr));
done:
  replay_failed(rc, errstr);
  if (times)
    rd_kafka_topic_partition_list_destroy(times);
  if (rk)
    restore_consumer_close(rk);
  free(s);
  return rc == 0 ? r.replayed : -1;
}

/* Count windows: one span's committed counts, and what its read so far holds. */
typedef struct cspan_s {
  ww_proc_count_t c[WW_MAX_LINES]; /* the counts kept with the committed offset */
  int n;
  int64_t lo;                                        /* the partition's first offset */
  int final;                                         /* from is where the replay starts */
  int64_t line[WW_MAX_LINES];                        /* readings in [from, to) per line */
  int64_t comp[WW_MAX_LINES][WW_MAX_COMPONENTS + 1]; /* and per component slot */
} cspan_t;

typedef struct tally_s {
  const ww_factory_t *fac;
  span_t *s;
  cspan_t *cs;
} tally_t;

/* read_spans' step of the count: the readings of [from, to) per line and
 * component, as the engine will count them (what it sends to the dead-letter
 * topic is not counted). */
static int tally(void *opaque, span_t *sp, rd_kafka_message_t *m) {
  tally_t *t = opaque;
  cspan_t *cs = &t->cs[sp - t->s];
  ww_reading_t r;
  if (m->offset >= sp->to)
    return 1;
  if (m->offset >= sp->from && m->payload &&
      ww_reading_decode(t->fac, m->payload, m->len, 0, &r, NULL, 0) == WW_DLQ_NONE) {
    cs->line[r.line_idx]++;
    cs->comp[r.line_idx][r.component_idx >= 0 && r.component_idx < WW_MAX_COMPONENTS
                             ? r.component_idx
                             : WW_MAX_COMPONENTS]++;
  }
  return m->offset + 1 >= sp->to;
}

/* Whether [from, to) holds every reading the lines of \p cs need; \p need_all
 * adds up what they need. */
static int covered(const ww_proc_t *proc, const cspan_t *cs, int64_t *need_all) {
  int ok = 1;
  *need_all = 0;
  for (int e = 0; e < cs->n; e++) {
    const ww_proc_count_t *c = &cs->c[e];
    int64_t need = ww_proc_counts_needed(proc, c->added, 1), comps = 0;
    ok &= cs->line[c->line] >= need;
    for (int k = 0; k <= WW_MAX_COMPONENTS; k++) {
      int64_t nk = ww_proc_counts_needed(proc, c->seen[k], 0);
      ok &= cs->comp[c->line][k] >= nk;
      comps += nk;
    }
    *need_all += need > comps ? need : comps;
  }
  return ok;
}

int64_t ww_proc_restore_counts(const ww_config_t *cfg, ww_proc_t *proc,
                               const rd_kafka_topic_partition_list_t *parts, int64_t max_messages,
                               int timeout_ms) {
  char errstr[512] = "";
  int64_t deadline = ww_mono_ms() + timeout_ms;
  const ww_factory_t *fac = ww_config_factory(cfg);
  const char *topic = parts->cnt > 0 ? parts->elems[0].topic : NULL;
  int cnt = parts->cnt > 0 ? parts->cnt : 1;
  span_t *s = calloc((size_t)cnt, sizeof(*s));
  cspan_t *cs = calloc((size_t)cnt, sizeof(*cs));
  tally_t t = {fac, s, cs};
  replay_t r = {proc, topic, 0};
  rd_kafka_t *rk = NULL;
  int n = 0, rc = -1, left;
  if (!s || !cs) {
    snprintf(errstr, sizeof(errstr), "out of memory");
    goto done;
  }
  if (!topic) {
    rc = 0;
    goto done;
  }
  if (!(rk = restore_consumer(cfg, 1, errstr, sizeof(errstr))))
    goto done;
  for (int i = 0; i < parts->cnt; i++) {
    const rd_kafka_topic_partition_t *p = &parts->elems[i];
    char perr[256];
    int64_t lo, hi, need;
    if (p->offset <= 0 || !p->metadata || p->metadata_size == 0)
      continue; /* nothing processed before, or by a processor that kept no counts */
    cs[n].n = ww_proc_counts_parse(proc, p->metadata, p->metadata_size, cs[n].c, WW_MAX_LINES, perr,
                                   sizeof(perr));
    if (perr[0])
      WW_LOG(WW_LOG_WARN, "RESTORE",
             "%s [%" PRId32 "]: the counts kept with its committed offset: %s; "
             "the count windows of such lines start again at the next reading",
             topic, p->partition, perr);
    if (cs[n].n <= 0 || rd_kafka_query_watermark_offsets(rk, topic, p->partition, &lo, &hi,
                                                         timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
      continue;
    covered(proc, &cs[n], &need);
    s[n].partition = p->partition;
    s[n].to = p->offset;
    cs[n].lo = lo < p->offset ? lo : p->offset;
    /* A first guess: the readings needed, twice (other lines, dead letters). */
    need = 2 * need + 64 < max_messages ? 2 * need + 64 : max_messages;
    s[n].from = p->offset - need > cs[n].lo ? p->offset - need : cs[n].lo;
    n++;
  }
  restore_consumer_close(rk);
  rk = NULL;
  /* Count what [from, to) holds; while it holds less than the lines need,
   * go back four times as far (up to the partition's start, or
   * max_messages). */
  for (;;) {
    left = 0;
    for (int i = 0; i < n; i++) {
      s[i].done = cs[i].final || s[i].from >= s[i].to;
      if (!s[i].done) {
        memset(cs[i].line, 0, sizeof(cs[i].line));
        memset(cs[i].comp, 0, sizeof(cs[i].comp));
        left++;
      } else {
        cs[i].final = 1;
      }
    }
    if (left == 0)
      break;
    if (read_spans(cfg, topic, s, n, deadline, tally, &t, errstr, sizeof(errstr)) != 0)
      goto done;
    for (int i = 0; i < n; i++) {
      int64_t need, span = s[i].to - s[i].from;
      if (cs[i].final)
        continue;
      if (covered(proc, &cs[i], &need) || s[i].from <= cs[i].lo || span >= max_messages) {
        cs[i].final = 1;
        continue;
      }
      span = 4 * span < max_messages ? 4 * span : max_messages;
      s[i].from = s[i].to - span > cs[i].lo ? s[i].to - span : cs[i].lo;
    }
  }
  /* Each line goes on from its committed counts less what the replay gives it. */
  for (int i = 0; i < n; i++) {
    for (int e = 0; e < cs[i].n; e++) {
      const ww_proc_count_t *c = &cs[i].c[e];
      int64_t got = cs[i].line[c->line], need = ww_proc_counts_needed(proc, c->added, 1);
      if (ww_proc_counts_seed(proc, c, got, cs[i].comp[c->line]) != 0)
        continue; /* it has state here already, or the counts are not of this input */
      WW_LOG(WW_LOG_INFO, "RESTORE",
             "%s: count windows go on from reading %" PRId64 " of window %" PRId64 ", %" PRId64
             " of its readings replayed%s",
             fac->lines[c->line].id, c->added, c->seq, got,
             got < need ? " (fewer than its windows hold: the input before is gone)" : "");
    }
    s[i].done = s[i].from >= s[i].to;
  }
  rc = replay_spans(cfg, s, n, deadline, &r, errstr, sizeof(errstr));
done:
  replay_failed(rc, errstr);
  if (rk)
    restore_consumer_close(rk);
  free(s);
  free(cs);
  return rc == 0 ? r.replayed : -1;
}
