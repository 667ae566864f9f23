/* processor_metrics.c: the processor's Prometheus metrics (--metrics-listen). */
#include "processor_kctx.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "windwatch/log.h"
#include "windwatch/timeutil.h"

static const double commit_bounds[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                       0.1,   0.2,   0.5,   1,    5};                 /* s */
static const double close_bounds[] = {0.5, 1, 2, 5, 6, 8, 10, 15, 30, 60, 300, 3600}; /* s */

/* A window was published: how long after its end (event time) it closed.
 * In real time this is the allowed lateness plus the time readings take
 * to arrive; replaying old data it is the data's age. */
void ww__pk_window_closed(void *opaque, int line_idx, int64_t end_ms) {
  kctx_t *k = opaque;
  (void)line_idx;
  if (k->reg && end_ms != INT64_MAX)
    ww_metric_observe(k->m_close_lag, (double)(ww_now_ms() - end_ms) / 1000.0);
}

int ww__pk_metrics_start(kctx_t *k, const char *listen, char *errstr, size_t n) {
  int port = 0;
  k->reg = ww_metrics_new();
  if (!k->reg) {
    snprintf(errstr, n, "out of memory for metrics");
    return -1;
  }
  k->m_in = ww_metrics_counter(k->reg, "windwatch_processor_records_in_total",
                               "input messages consumed", NULL);
  k->m_readings = ww_metrics_counter(k->reg, "windwatch_processor_readings_total",
                                     "valid readings scored and produced to sensor-scored", NULL);
  k->m_windows = ww_metrics_counter(k->reg, "windwatch_processor_windows_total",
                                    "windows closed (window-stats messages)", NULL);
  k->m_alerts =
      ww_metrics_counter(k->reg, "windwatch_processor_alerts_total", "alert episodes opened", NULL);
  k->m_alert_events = ww_metrics_counter(k->reg, "windwatch_processor_alert_events_total",
                                         "alert messages (opened, updated, resolved)", NULL);
  k->m_anomalous = ww_metrics_counter(k->reg, "windwatch_processor_anomalous_readings_total",
                                      "readings scored warning or critical", NULL);
  k->m_models = ww_metrics_counter(k->reg, "windwatch_processor_models_total",
                                   "model versions trained", NULL);
  for (int r = 1; r < WW_DLQ__COUNT; r++)
    k->m_dlq[r] = ww_metrics_counter(k->reg, "windwatch_processor_dead_letters_total",
                                     "messages sent to the dead-letter topic", "reason",
                                     ww_dlq_reason_name((ww_dlq_reason_t)r), NULL);
  k->m_commits = ww_metrics_counter(k->reg, "windwatch_processor_commits_total",
                                    "transactions (or offset commits) completed", NULL);
  k->m_rewinds = ww_metrics_counter(k->reg, "windwatch_processor_rewinds_total",
                                    "aborted transactions whose input is processed again", NULL);
  k->m_renewals = ww_metrics_counter(k->reg, "windwatch_processor_producer_renewals_total",
                                     "producers replaced after a fatal error (fenced)", NULL);
  k->m_replayed = ww_metrics_counter(k->reg, "windwatch_processor_replayed_readings_total",
                                     "input messages replayed to restore the lines' windows", NULL);
  k->m_replay_s = ww_metrics_counter(k->reg, "windwatch_processor_replay_seconds_total",
                                     "time spent replaying, with no new input taken", NULL);
  k->m_commit_ms = ww_metrics_histogram(
      k->reg, "windwatch_processor_commit_seconds", "time to commit outputs and offsets, seconds",
      commit_bounds, (int)(sizeof(commit_bounds) / sizeof(commit_bounds[0])), NULL);
  for (int i = 0; i < 3; i++)
    k->m_sev[i] = ww_metrics_counter(k->reg, "windwatch_processor_readings_by_severity_total",
                                     "readings by severity", "severity",
                                     ww_severity_name((ww_severity_t)i), NULL);
  for (int i = 0; i < 10; i++) {
    char lo[8];
    snprintf(lo, sizeof(lo), "0.%d", i);
    k->m_decile[i] = ww_metrics_counter(k->reg, "windwatch_processor_score_decile_total",
                                        "readings by anomaly_score decile (label: lower bound)",
                                        "from", lo, NULL);
  }
  k->m_close_lag = ww_metrics_histogram(
      k->reg, "windwatch_processor_window_close_lag_seconds",
      "wall-clock time from a window's end (event time) to its window-stats message, seconds",
      close_bounds, (int)(sizeof(close_bounds) / sizeof(close_bounds[0])), NULL);
  k->m_outq = ww_metrics_gauge(k->reg, "windwatch_processor_output_queue",
                               "messages waiting in the producer queue", NULL);
  if (ww_metrics_serve(k->reg, listen, &port, errstr, n) != 0)
    return -1;
  WW_LOG(WW_LOG_NOTICE, "METRICS", "serving http://%s/metrics (port %d)", listen, port);
  return 0;
}

/* Each line: its model version, and how far its first version's training
 * readings are gathered (1 once it has a model); both 0 for a line with no
 * state here (another processor's, or not seen yet), so that max by (line)
 * over every processor gives the owner's figures. */
static void model_gauges(kctx_t *k) {
  const ww_factory_t *fac = ww_config_factory(k->cfg);
  for (int li = 0; li < fac->n_lines; li++) {
    ww_model_state_t ms;
    const char *id = fac->lines[li].id;
    if (!ww_proc_line_model(k->proc, li, &ms))
      ms = (ww_model_state_t){0, 0, 0};
    ww_metric_set(ww_metrics_gauge(k->reg, "windwatch_processor_model_version",
                                   "the line's model version (0: none yet)", "line", id, NULL),
                  (double)ms.version);
    ww_metric_set(ww_metrics_gauge(k->reg, "windwatch_processor_model_training_ratio",
                                   "share of its first model's training readings the line has "
                                   "gathered (1 once it has a model)",
                                   "line", id, NULL),
                  ms.needed > 0    ? (double)ms.readings / ms.needed
                  : ms.version > 0 ? 1.0
                                   : 0.0);
  }
}

/* Move the engine's counters into the registry (as deltas), and refresh the
 * consumer lag of every assigned partition from librdkafka's cached watermarks. */
void ww__pk_metrics_update(kctx_t *k) {
  ww_proc_counters_t c;
  rd_kafka_topic_partition_list_t *parts = NULL;
  if (!k->reg || ww_mono_ms() - k->metrics_ms < 250)
    return;
  k->metrics_ms = ww_mono_ms();
  ww_proc_counters(k->proc, &c);
#define WW_DELTA(m, field) ww_metric_add(k->m, (double)(c.field - k->published.field))
  WW_DELTA(m_in, messages);
  WW_DELTA(m_readings, readings);
  WW_DELTA(m_windows, windows);
  WW_DELTA(m_alerts, alerts);
  WW_DELTA(m_alert_events, alert_events);
  WW_DELTA(m_anomalous, anomalous);
  WW_DELTA(m_models, models);
#undef WW_DELTA
  for (int r = 1; r < WW_DLQ__COUNT; r++)
    ww_metric_add(k->m_dlq[r], (double)(c.dlq_by_reason[r] - k->published.dlq_by_reason[r]));
  for (int i = 0; i < 3; i++)
    ww_metric_add(k->m_sev[i], (double)(c.by_severity[i] - k->published.by_severity[i]));
  for (int i = 0; i < 10; i++)
    ww_metric_add(k->m_decile[i], (double)(c.score_decile[i] - k->published.score_decile[i]));
  k->published = c;
  ww_metric_set(k->m_outq, (double)rd_kafka_outq_len(k->producer));
  model_gauges(k);
  if (rd_kafka_assignment(k->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
    return;
  if (rd_kafka_position(k->consumer, parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < parts->cnt; i++) {
      int64_t lo = 0, hi = 0;
      char pbuf[16];
      ww_metric_t *g;
      if (rd_kafka_get_watermark_offsets(k->consumer, parts->elems[i].topic,
                                         parts->elems[i].partition, &lo, &hi) != 0 ||
          hi < 0 || parts->elems[i].offset < 0)
        continue;
      snprintf(pbuf, sizeof(pbuf), "%d", (int)parts->elems[i].partition);
      g = ww_metrics_gauge(k->reg, "windwatch_processor_consumer_lag",
                           "input messages not yet consumed, per partition", "topic",
                           parts->elems[i].topic, "partition", pbuf, NULL);
      ww_metric_set(g, (double)(hi - parts->elems[i].offset));
    }
  }
  rd_kafka_topic_partition_list_destroy(parts);
}
