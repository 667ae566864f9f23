/**
 * @file processor_state.h
 * @brief The engine's state, shared by processor_engine.c (the per-reading
 *        work) and processor_outputs.c (what it publishes). Internal to
 *        ww_processor: callers use processor.h.
 */
#ifndef WW_PROCESSOR_STATE_H
#define WW_PROCESSOR_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "processor.h"
#include "processor_alert.h"
#include "processor_eval.h"
#include "processor_model.h"
#include "windwatch/window.h"

#define WW_SLOTS_PER_LINE (WW_MAX_COMPONENTS + 1) /* one alert slot per component + free text */

/* What the engine knows about one component of a line between readings. */
typedef struct comp_s {
  int64_t n[WW_MAX_SENSORS];      /* normal values in the current window */
  double shift[WW_MAX_SENSORS];   /* sums are taken relative to this (precision) */
  double sum[WW_MAX_SENSORS];     /* sum of (x - shift) of normal values */
  double sumsq[WW_MAX_SENSORS];   /* sum of (x - shift)^2 of normal values */
  int64_t n_all[WW_MAX_SENSORS];  /* all values in the current window */
  double sum_all[WW_MAX_SENSORS]; /* the same sums over all values */
  double sumsq_all[WW_MAX_SENSORS];
  uint32_t prev_ok;                  /* bit i: prev_mean/std[i] valid */
  double prev_mean[WW_MAX_SENSORS];  /* this component in window prev_pane[i] */
  double prev_std[WW_MAX_SENSORS];   /* sqrt(within-window variance + last mean shift^2) */
  int64_t prev_pane[WW_MAX_SENSORS]; /* the window prev_mean/std[i] come from */
  int have_pane;                     /* pane is valid */
  int64_t pane;                      /* window the running sums belong to */
  int64_t seen;                      /* readings of the component (count windows) */
  uint32_t have_last;                /* bit i: last[i] valid */
  double last[WW_MAX_SENSORS];       /* previous value, for stuck sensors */
  int repeats[WW_MAX_SENSORS];       /* times last[i] came again in a row */
  double std_ema[WW_MAX_SENSORS];    /* long-run spread of its panes (EMA of prev_std) */
  uint32_t ema_ok;                   /* bit i: std_ema[i] valid */
} comp_t;

/* Model features per sensor: z against the component's previous window and
 * against its current window so far. The component's windows are aligned
 * panes of the window slide in event time (time windows: [k*slide, (k+1)*slide)
 * ms since the epoch; count windows: the component's own readings in groups
 * of slide), not the line's watermark-driven closes, so that anyone holding
 * the stored readings (the api's /api/predict) computes the same features
 * from the reading's timestamp alone. A baseline is the component's previous
 * pane (k-1) only; the mean shift counts only against pane k-2. The
 * parameters are published with every model (processor_encode.c).
 * Raw values are left out on purpose:
 * they follow daily and hourly cycles, so a model trained in one hour would
 * call the next hour anomalous; deviations are stationary (the configured
 * thresholds judge raw values). */
#define WW_FEATS_PER_SENSOR 2
#define WW_MAX_FEATS        (WW_MAX_SENSORS * WW_FEATS_PER_SENSOR)
#define WW_ZCUR_MIN         5    /* values of the current window before it can confirm a z-score */
#define WW_BASE_MIN_COUNT   2    /* values a pane needs to be a baseline */
#define WW_BASE_MIN_STD     1e-9 /* a baseline spread at or below this gives no z-score */
#define WW_STD_EMA_ALPHA    0.1  /* weight of the newest pane in a component's long-run spread */
#define WW_STD_FLOOR        1.0  /* the z-score rule's spread is at least this x the long-run one */

typedef struct verdict_s {
  ww_score_t sc;              /* what goes on sensor-scored */
  const char *type;           /* anomaly_type, NULL if normal */
  uint32_t sensors;           /* sensors out of line */
  int opens_now;              /* critical by threshold or z-score: alert without a streak */
  int has_baseline;           /* every present sensor had a baseline: the features mean something */
  ww_severity_t rule_sev;     /* the threshold, z-score and stuck rules' severity */
  double feats[WW_MAX_FEATS]; /* model features of the reading */
} verdict_t;

/*
 * A reading between the two halves of its processing. Everything that later
 * readings' features depend on (stuck-sensor memory, the running sums of the
 * current pane, the watermark) is done at once, in order; the Isolation
 * Forest score and all that depends on it (severity, training, the baseline
 * of normal values, windows, alerts, outputs) waits until ww_proc_flush(), so
 * that the readings at hand are scored together by the batch path. The
 * outputs are exactly those of processing each reading alone: a reading
 * whose rules need state that waiting readings would still change (its
 * component starts a new pane, or it falls back to the line's last window)
 * flushes them first, and readings scored by a model that a waiting reading
 * then retrained are scored again.
 */
typedef struct pend_s {
  ww_reading_t r;     /* decoded reading */
  verdict_t v;        /* the rules' verdict; the model's part is filled in by the flush */
  int slot;           /* component slot in its line */
  int64_t pane;       /* its component pane */
  double mscore;      /* model score, valid when mver > 0 */
  ww_severity_t msev; /* the model's severity for it */
  int64_t mver;       /* model version that scored it; 0 = not scored */
} pend_t;

#define WW_PEND_MAX 1024 /* readings waiting for the batch scorer */

typedef struct line_s {
  ww_proc_t *proc;                  /* back-pointer for the window callback */
  int idx;                          /* index into the factory's lines */
  ww_window_t *win;                 /* the line's window engine */
  int32_t partition;                /* partition its readings last came from; -1 none */
  int64_t win_skip;                 /* replayed readings to keep out of its windows (count
                                       windows started again after them: ww_proc_counts_seed()) */
  int have_prev;                    /* a window has closed: prev_* valid */
  uint32_t prev_present;            /* bit i: prev_mean/std[i] valid */
  double prev_mean[WW_MAX_SENSORS]; /* previous closed window, per factory sensor */
  double prev_std[WW_MAX_SENSORS];
  int64_t alert_seq;                           /* alert episodes opened on this line */
  ww_alert_t alerts[WW_SLOTS_PER_LINE];        /* alert state per component */
  comp_t comps[WW_SLOTS_PER_LINE];             /* per-component baselines */
  ww_model_t *model;                           /* Isolation Forest of the line */
  int n_feats;                                 /* features per reading */
  char feat_name[WW_MAX_FEATS][WW_ID_MAX + 8]; /* "temperature", "temperature_z", ... */
  const char *feat_names[WW_MAX_FEATS];        /* pointers into feat_name */
  int n_pend;                                  /* its readings waiting in proc->pend */
  int comp_pend[WW_SLOTS_PER_LINE];            /* the same per component slot */
  int64_t pend_max_ts;                         /* latest event time among them */
} line_t;

struct ww_proc_s {
  const ww_factory_t *fac; /* borrowed */
  ww_proc_conf_t conf;     /* copy */
  ww_proc_output_t out;    /* copy */
  line_t *lines;           /* [fac->n_lines] */
  ww_eval_t *eval;         /* ground-truth grading */
  ww_proc_counters_t cnt;  /* counters */
  /* For the summary, which reports what was committed: the counters and
   * the grading at the last commit, and the counts of rewound work. */
  ww_proc_counters_t at_commit, rewound;
  ww_eval_t *eval_at_commit;
  pend_t *pend;   /* [WW_PEND_MAX] readings waiting for the flush */
  int n_pend;     /* entries in pend */
  double *rows;   /* [WW_PEND_MAX * WW_MAX_FEATS] features to batch-score */
  double *scores; /* [WW_PEND_MAX] their scores */
  int *row_of;    /* [WW_PEND_MAX] pend index of each row */
  /* Replaying history (ww_proc_replay_begin()): state only, no outputs, no
   * alert steps, no training, no grading; the counters as they were before. */
  int replaying;
  ww_proc_counters_t before_replay;
};

/** Hand one output to the caller's produce callback (counts failures). */
void ww__proc_produce(ww_proc_t *proc, ww_proc_out_t o, const char *key, size_t key_len,
                      const char *val, size_t len, const ww_proc_header_t *hdrs, int n_hdrs);

/** Send bad input to the dead-letter topic with its reason and source. */
void ww__proc_dead_letter(ww_proc_t *proc, const char *buf, size_t len, const ww_proc_src_t *src,
                          ww_dlq_reason_t reason, const char *detail);

/** Window close callback (opaque = the line_t): publish the stats, keep them as baseline. */
void ww__proc_window_closed(void *opaque, const ww_window_result_t *res);

/** A new model version of line ln: the models topic and --models-dir. */
void ww__proc_publish_model(ww_proc_t *proc, line_t *ln);

/** One alert event on the alerts topic. */
void ww__proc_publish_alert(ww_proc_t *proc, const line_t *ln, const ww_alert_t *a,
                            ww_alert_event_t ev, const ww_reading_t *r);

#endif /* WW_PROCESSOR_STATE_H */
