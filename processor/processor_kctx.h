/**
 * @file processor_kctx.h
 * @brief The Kafka side of the processor (processor_kafka.c), shared with its
 *        Prometheus metrics (processor_metrics.c). Internal to ww_processor.
 */
#ifndef WW_PROCESSOR_KCTX_H
#define WW_PROCESSOR_KCTX_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "processor.h"
#include "processor_handlers.h"
#include "processor_scored.h"
#include "windwatch/config.h"
#include "windwatch/kafka.h"
#include "windwatch/metrics.h"

/* A producer may be replaced this many times in WW_RENEWAL_WINDOW_MS. */
#define WW_RENEWALS          3
#define WW_RENEWAL_WINDOW_MS (10 * 60 * 1000)

/* An alert event of the open transaction: json[len] is NUL, then the
 * console summary follows (one allocation, owned). */
typedef struct staged_s {
  char *json;
  size_t len;
} staged_t;

typedef struct kctx_s {
  const ww_config_t *cfg;
  rd_kafka_t *consumer;
  rd_kafka_t *producer;
  rd_kafka_topic_t *rkt[WW_OUT__COUNT]; /* output topic handles */
  uint32_t line_hash[WW_MAX_LINES];     /* ww_kafka_key_hash() of each line's id (its key) */
  size_t line_key_len[WW_MAX_LINES];    /* strlen() of each line's id */
  ww_proc_t *proc;
  ww_eof_t *eof;                            /* batch mode only */
  int eos;                                  /* exactly-once: transactions */
  int batch;                                /* --mode batch */
  int from_beginning;                       /* start assigned partitions at the beginning */
  int restore;                              /* read models and open alerts back from topics */
  int need_restore;                         /* assigned, or lines reset: restore next turn */
  rd_kafka_topic_partition_list_t *history; /* input partitions to replay before, at their
                                               committed offsets (restore_history()) */
  int64_t history_ms;                       /* how far back the replay goes; 0 = none */
  int64_t history_disorder_ms;              /* how far event time may run backwards in the input */
  int history_counts;  /* count windows: commits keep the lines' counts, the replay starts from them
                        */
  int counts_too_long; /* a commit's counts did not fit the offset's metadata (warned once) */
  int txn_open;        /* a transaction has begun */
  int64_t settle_ns;   /* monotonic ns: produce nothing before (0 = go) */
  int failed;          /* an unrecoverable error happened */
  int fatal;           /* ... a fatal Kafka error (exit code 3) */
  int need_rewind;     /* a transaction was aborted: rewind before going on */
  int need_producer;   /* the producer hit a fatal error: make a new one */
  int64_t renewed_ms[WW_RENEWALS];          /* monotonic ms of the last renewals, oldest first */
  char tid[256];                            /* transactional.id (exactly-once) */
  rd_kafka_topic_partition_list_t *pending; /* next offset per partition, not yet committed */
  int64_t uncommitted;                      /* messages consumed since the last commit */
  int64_t delivery_failures;                /* delivery reports with an error (atomic) */
  int64_t produce_refusals;                 /* outputs the producer refused (atomic) */
  ww_metrics_t *reg;                        /* Prometheus registry, NULL without --metrics-listen */
  ww_proc_counters_t published;             /* counters as last added to the registry */
  ww_metric_t *m_in, *m_readings, *m_windows, *m_alerts, *m_alert_events, *m_anomalous;
  ww_metric_t *m_dlq[WW_DLQ__COUNT]; /* dead letters by reason */
  ww_metric_t *m_commits, *m_commit_ms, *m_models, *m_outq;
  ww_metric_t *m_rewinds, *m_renewals;  /* aborted transactions redone, producers replaced */
  ww_metric_t *m_replayed, *m_replay_s; /* history replayed (restore_history()), and its time */
  ww_metric_t *m_close_lag;             /* window close latency histogram */
  ww_metric_t *m_sev[3];                /* readings by severity */
  ww_metric_t *m_decile[10];            /* readings by anomaly_score decile */
  int64_t metrics_ms;                   /* monotonic ms of the last metrics_update */
  ww_handlers_t *handlers;              /* console, webhook, e-mail */
  staged_t *staged;                     /* alert events of the open transaction (owned) */
  size_t n_staged, cap_staged;
  int paused;                 /* input paused: the output queue is too full */
  int outq_high, outq_low;    /* pause at/above, resume at/below (messages) */
  int64_t pauses;             /* times the input was paused */
  ww_scored_stage_t *scored;  /* sends sensor-scored from a thread of its own */
  rd_kafka_queue_t *refill_q; /* the consumer's queue, when librdkafka needs refill_prefetch() */
  int64_t refill_at;          /* wake the fetch when the queue is down to this many */
  int64_t taken;              /* messages taken since the last wake-up */
} kctx_t;

/** Register the metrics and serve them on \p listen. @returns 0 or -1 with errstr. */
int ww__pk_metrics_start(kctx_t *k, const char *listen, char *errstr, size_t n);

/** Move the engine's counters and the consumer lag into the registry (at most every 250 ms). */
void ww__pk_metrics_update(kctx_t *k);

/** ww_proc_output_t.window_closed: observe the window close latency. */
void ww__pk_window_closed(void *opaque, int line_idx, int64_t end_ms);

#endif /* WW_PROCESSOR_KCTX_H */
