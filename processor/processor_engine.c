/* processor_engine.c: decode, dead-letter, score, window and alert, per line. */
#include "processor.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor_alert.h"
#include "processor_encode.h"
#include "processor_eval.h"
#include "windwatch/log.h"
#include "windwatch/timeutil.h"

#define WW_SLOTS_PER_LINE (WW_MAX_COMPONENTS + 1) /* one alert slot per component + free text */
#define WW_OUT_BUFSZ 4096                         /* bytes for one encoded output */

/* What the engine knows about one component of a line between readings. */
typedef struct comp_s {
  int64_t n[WW_MAX_SENSORS];          /* normal values in the current window */
  double shift[WW_MAX_SENSORS];       /* sums are taken relative to this (precision) */
  double sum[WW_MAX_SENSORS];         /* sum of (x - shift) of normal values */
  double sumsq[WW_MAX_SENSORS];       /* sum of (x - shift)^2 of normal values */
  int64_t n_all[WW_MAX_SENSORS];      /* all values in the current window */
  double sum_all[WW_MAX_SENSORS];     /* the same sums over all values */
  double sumsq_all[WW_MAX_SENSORS];
  uint32_t prev_ok;                   /* bit i: prev_mean/std[i] valid */
  double prev_mean[WW_MAX_SENSORS];   /* this component in window prev_pane[i] */
  double prev_std[WW_MAX_SENSORS];     /* sqrt(within-window variance + last mean shift^2) */
  int64_t prev_pane[WW_MAX_SENSORS];  /* the window prev_mean/std[i] come from */
  int have_pane;                      /* pane is valid */
  int64_t pane;                       /* window the running sums belong to */
  int64_t seen;                       /* readings of the component (count windows) */
  uint32_t have_last;                 /* bit i: last[i] valid */
  double last[WW_MAX_SENSORS];        /* previous value, for stuck sensors */
  int repeats[WW_MAX_SENSORS];        /* times last[i] came again in a row */
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
#define WW_MAX_FEATS (WW_MAX_SENSORS * WW_FEATS_PER_SENSOR)
#define WW_ZCUR_MIN 5 /* values of the current window before it can confirm a z-score */
#define WW_BASE_MIN_COUNT 2   /* values a pane needs to be a baseline */
#define WW_BASE_MIN_STD 1e-9  /* a baseline spread at or below this gives no z-score */

typedef struct verdict_s {
  ww_score_t sc;        /* what goes on sensor-scored */
  const char *type;     /* anomaly_type, NULL if normal */
  uint32_t sensors;     /* sensors out of line */
  int opens_now;        /* critical by threshold or z-score: alert without a streak */
  int has_baseline;     /* every present sensor had a baseline: the features mean something */
  ww_severity_t rule_sev; /* the threshold, z-score and stuck rules' severity */
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
  ww_reading_t r;   /* decoded reading */
  verdict_t v;      /* the rules' verdict; the model's part is filled in by the flush */
  int slot;         /* component slot in its line */
  int64_t pane;     /* its component pane */
  double mscore;    /* model score, valid when mver > 0 */
  ww_severity_t msev; /* the model's severity for it */
  int64_t mver;     /* model version that scored it; 0 = not scored */
} pend_t;

#define WW_PEND_MAX 256 /* readings waiting for the batch scorer */

typedef struct line_s {
  ww_proc_t *proc;                  /* back-pointer for the window callback */
  int idx;                          /* index into the factory's lines */
  ww_window_t *win;                 /* the line's window engine */
  int32_t partition;                /* partition its readings last came from; -1 none */
  int have_prev;                    /* a window has closed: prev_* valid */
  uint32_t prev_present;            /* bit i: prev_mean/std[i] valid */
  double prev_mean[WW_MAX_SENSORS]; /* previous closed window, per factory sensor */
  double prev_std[WW_MAX_SENSORS];
  int64_t alert_seq;                /* alert episodes opened on this line */
  ww_alert_t alerts[WW_SLOTS_PER_LINE]; /* alert state per component */
  comp_t comps[WW_SLOTS_PER_LINE];  /* per-component baselines */
  ww_model_t *model;                /* Isolation Forest of the line */
  int n_feats;                      /* features per reading */
  char feat_name[WW_MAX_FEATS][WW_ID_MAX + 8]; /* "temperature", "temperature_z", ... */
  const char *feat_names[WW_MAX_FEATS];        /* pointers into feat_name */
  int n_pend;                       /* its readings waiting in proc->pend */
  int comp_pend[WW_SLOTS_PER_LINE]; /* the same per component slot */
  int64_t pend_max_ts;              /* latest event time among them */
} line_t;


struct ww_proc_s {
  const ww_factory_t *fac;     /* borrowed */
  ww_proc_conf_t conf;         /* copy */
  ww_proc_output_t out;        /* copy */
  line_t *lines;               /* [fac->n_lines] */
  ww_eval_t *eval;             /* ground-truth grading */
  ww_proc_counters_t cnt;      /* counters */
  pend_t *pend;                /* [WW_PEND_MAX] readings waiting for the flush */
  int n_pend;                  /* entries in pend */
  double *rows;                /* [WW_PEND_MAX * WW_MAX_FEATS] features to batch-score */
  double *scores;              /* [WW_PEND_MAX] their scores */
  int *row_of;                 /* [WW_PEND_MAX] pend index of each row */
};

void ww_proc_conf_defaults(ww_proc_conf_t *pc) {
  memset(pc, 0, sizeof(*pc));
  pc->window_type = WW_WINDOW_TIME;
  pc->window_size = 60;
  pc->window_slide = 0;
  pc->allowed_lateness_ms = 5000;
  pc->trend_threshold = 0.1;
  pc->zscore_threshold = 3.0;
  pc->alert_min_count = 2;
  pc->alert_clear_count = 5;
  pc->flush_on_end = 1;
  pc->stuck_count = 3;
  pc->model.train_size = 2048;
  pc->model.retrain_ms = 3600 * 1000;
  pc->model.n_trees = 100;
  pc->model.max_samples = 256;
  pc->model.seed = 1;
  pc->model.q_warning = 0.999;
  pc->model.q_critical = 0.9999;
  pc->models_dir = NULL;
}

static void line_reset(line_t *ln) {
  ww_window_reset(ln->win);
  ln->n_pend = 0;
  memset(ln->comp_pend, 0, sizeof(ln->comp_pend));
  ln->partition = -1;
  ln->have_prev = 0;
  ln->prev_present = 0;
  memset(ln->alerts, 0, sizeof(ln->alerts));
  memset(ln->comps, 0, sizeof(ln->comps));
  if (ln->model)
    ww_model_reset(ln->model);
}

ww_proc_t *ww_proc_new(const ww_factory_t *fac, const ww_proc_conf_t *pc,
                       const ww_proc_output_t *out, char *errstr, size_t errstr_size) {
  ww_proc_t *proc = calloc(1, sizeof(*proc));
  ww_window_conf_t wc;
  if (!proc) {
    snprintf(errstr, errstr_size, "out of memory");
    goto err;
  }
  proc->fac = fac;
  proc->conf = *pc;
  proc->out = *out;
  proc->lines = calloc((size_t)(fac->n_lines > 0 ? fac->n_lines : 1), sizeof(*proc->lines));
  proc->eval = ww_eval_new((fac->n_lines > 0 ? fac->n_lines : 1) * WW_SLOTS_PER_LINE);
  proc->pend = malloc(WW_PEND_MAX * sizeof(*proc->pend));
  proc->rows = malloc(WW_PEND_MAX * WW_MAX_FEATS * sizeof(*proc->rows));
  proc->scores = malloc(WW_PEND_MAX * sizeof(*proc->scores));
  proc->row_of = malloc(WW_PEND_MAX * sizeof(*proc->row_of));
  if (!proc->lines || !proc->eval || !proc->pend || !proc->rows || !proc->scores ||
      !proc->row_of) {
    snprintf(errstr, errstr_size, "out of memory");
    goto err;
  }
  memset(&wc, 0, sizeof(wc));
  wc.type = pc->window_type;
  /* Time windows are configured in seconds and run in ms. */
  wc.size = pc->window_type == WW_WINDOW_TIME ? pc->window_size * 1000 : pc->window_size;
  wc.slide = pc->window_type == WW_WINDOW_TIME ? pc->window_slide * 1000 : pc->window_slide;
  wc.allowed_lateness_ms = pc->allowed_lateness_ms;
  wc.n_values = fac->n_sensors > 0 ? fac->n_sensors : 1;
  wc.trend_threshold = pc->trend_threshold;
  for (int i = 0; i < fac->n_lines; i++) {
    line_t *ln = &proc->lines[i];
    char werr[256];
    const ww_line_def_t *ld = &fac->lines[i];
    ln->proc = proc;
    ln->idx = i;
    ln->win = ww_window_new(&wc, werr, sizeof(werr));
    if (!ln->win) {
      snprintf(errstr, errstr_size, "window-size/window-slide: %s", werr);
      goto err;
    }
    ln->n_feats = ld->n_sensors * WW_FEATS_PER_SENSOR;
    for (int j = 0; j < ld->n_sensors; j++) {
      const char *sn = fac->sensors[ld->sensor_idx[j]].name;
      snprintf(ln->feat_name[2 * j], sizeof(ln->feat_name[0]), "%s_z", sn);
      snprintf(ln->feat_name[2 * j + 1], sizeof(ln->feat_name[0]), "%s_zcur", sn);
    }
    for (int k = 0; k < ln->n_feats; k++)
      ln->feat_names[k] = ln->feat_name[k];
    if (pc->model.train_size > 0 && ln->n_feats > 0) {
      ln->model = ww_model_new(&pc->model, ln->n_feats, ld->id);
      if (!ln->model) {
        snprintf(errstr, errstr_size, "out of memory for the model of %s", ld->id);
        goto err;
      }
    }
    line_reset(ln);
  }
  return proc;
err:
  ww_proc_destroy(proc);
  return NULL;
}

void ww_proc_destroy(ww_proc_t *proc) {
  if (!proc)
    return;
  if (proc->lines)
    for (int i = 0; i < proc->fac->n_lines; i++) {
      ww_window_destroy(proc->lines[i].win);
      ww_model_destroy(proc->lines[i].model);
    }
  free(proc->lines);
  ww_eval_destroy(proc->eval);
  free(proc->pend);
  free(proc->rows);
  free(proc->scores);
  free(proc->row_of);
  free(proc);
}

static void produce(ww_proc_t *proc, ww_proc_out_t o, const char *key, size_t key_len,
                    const char *val, size_t len, const ww_proc_header_t *hdrs, int n_hdrs) {
  if (proc->out.produce(proc->out.opaque, o, key, key_len, val, len, hdrs, n_hdrs) != 0)
    proc->cnt.produce_errors++;
}

static void dead_letter(ww_proc_t *proc, const char *buf, size_t len, const ww_proc_src_t *src,
                        ww_dlq_reason_t reason, const char *detail) {
  char part[24], offs[24];
  const char *rname = ww_dlq_reason_name(reason);
  ww_proc_header_t h[5];
  snprintf(part, sizeof(part), "%" PRId32, src->partition);
  snprintf(offs, sizeof(offs), "%" PRId64, src->offset);
  h[0] = (ww_proc_header_t){"reason", rname, strlen(rname)};
  h[1] = (ww_proc_header_t){"detail", detail, strlen(detail)};
  h[2] = (ww_proc_header_t){"source_topic", src->topic ? src->topic : "",
                            src->topic ? strlen(src->topic) : 0};
  h[3] = (ww_proc_header_t){"source_partition", part, strlen(part)};
  h[4] = (ww_proc_header_t){"source_offset", offs, strlen(offs)};
  proc->cnt.dead_letters++;
  if ((int)reason >= 0 && reason < WW_DLQ__COUNT)
    proc->cnt.dlq_by_reason[reason]++;
  WW_LOG(WW_LOG_DEBUG, "DLQ", "%s [%" PRId32 "] offset %" PRId64 ": %s: %s",
         src->topic ? src->topic : "?", src->partition, src->offset, rname, detail);
  produce(proc, WW_OUT_DLQ, src->key, src->key_len, buf, len, h, 5);
}

/* A window of a line closed: publish its statistics, and keep them as the
 * baseline the next readings' z-scores are measured against. */
static void on_window_close(void *opaque, const ww_window_result_t *res) {
  line_t *ln = opaque;
  ww_proc_t *proc = ln->proc;
  const ww_line_def_t *ld = &proc->fac->lines[ln->idx];
  char buf[WW_OUT_BUFSZ];
  size_t n = ww_proc_encode_window(proc->fac, ln->idx, res, buf, sizeof(buf));
  if (n >= sizeof(buf)) {
    WW_LOG(WW_LOG_ERROR, "WINDOW", "window-stats message of %s too large (%zu bytes)", ld->id, n);
    proc->cnt.produce_errors++;
  } else {
    produce(proc, WW_OUT_STATS, ld->id, strlen(ld->id), buf, n, NULL, 0);
  }
  proc->cnt.windows++;
  ln->have_prev = 1;
  ln->prev_present = 0;
  for (int i = 0; i < res->n_values; i++) {
    /* Fewer than two values give no spread to measure a z-score against. */
    if (res->stats[i].count < 2)
      continue;
    ln->prev_present |= 1u << i;
    ln->prev_mean[i] = res->stats[i].mean;
    ln->prev_std[i] = res->stats[i].std;
  }
}

/* The pane (component window) a reading of \p cp at \p ts_ms belongs to. */
static int64_t pane_of(const ww_proc_t *proc, const comp_t *cp, int64_t ts_ms) {
  int64_t slide = proc->conf.window_slide > 0 ? proc->conf.window_slide : proc->conf.window_size;
  if (slide <= 0)
    slide = 1;
  if (proc->conf.window_type == WW_WINDOW_COUNT)
    return cp->seen / slide;
  slide *= 1000; /* seconds -> ms */
  return ts_ms / slide - (ts_ms % slide != 0 && ts_ms < 0);
}

/* A reading of pane p arrived: if it starts a newer pane, the running sums
 * of the old one become the component's baseline. Its normal readings, so a
 * short episode does not become the yardstick it is measured by; but if most
 * of the pane was anomalous, all of it, so a lasting change of level is
 * adopted instead of alerting forever. Fewer than two values give no
 * baseline. The signal moves between panes too (cycles, trends): the shift
 * of the mean since the pane before counts as spread, or a reading of a
 * moving signal would look anomalous against a narrow window. */
static void comp_roll(comp_t *cp, int64_t p) {
  if (!cp->have_pane) {
    cp->have_pane = 1;
    cp->pane = p;
    return;
  }
  if (p <= cp->pane)
    return;
  for (int i = 0; i < WW_MAX_SENSORS; i++) {
    int normal = cp->n[i] >= WW_BASE_MIN_COUNT && 2 * cp->n[i] >= cp->n_all[i];
    int64_t cnt = normal ? cp->n[i] : cp->n_all[i];
    if (cnt >= WW_BASE_MIN_COUNT) {
      double mu = (normal ? cp->sum[i] : cp->sum_all[i]) / (double)cnt;
      double var = (normal ? cp->sumsq[i] : cp->sumsq_all[i]) / (double)cnt - mu * mu;
      double mean = cp->shift[i] + mu, shift = 0;
      if ((cp->prev_ok & (1u << i)) && cp->prev_pane[i] == cp->pane - 1)
        shift = mean - cp->prev_mean[i];
      cp->prev_mean[i] = mean;
      cp->prev_std[i] = sqrt((var > 0 ? var : 0.0) + shift * shift);
      cp->prev_pane[i] = cp->pane;
      cp->prev_ok |= 1u << i;
    }
    cp->n[i] = cp->n_all[i] = 0;
    cp->sum[i] = cp->sumsq[i] = cp->sum_all[i] = cp->sumsq_all[i] = 0;
  }
  cp->pane = p;
}


static ww_severity_t sev_max(ww_severity_t a, ww_severity_t b) { return a > b ? a : b; }

/* The rules' verdict on one reading of line ln, component cp, and its model
 * features (the model scores them later, see pend_t):
 *  - the configured sensor thresholds;
 *  - the z-score against the previous closed window, per component (its own
 *    level; the line's mix of components would hide a fault), falling back
 *    to the line's window; the reading itself is never in that window;
 *  - a stuck sensor: the same value stuck_count more times in a row;
 *  - the features of the line's Isolation Forest: [z, z vs the current window
 *    so far] per sensor.
 * Updates cp's stuck-sensor memory; the window sums are updated by the caller. */
static void score_rules(ww_proc_t *proc, line_t *ln, comp_t *cp, int64_t pane, const ww_reading_t *r,
                  verdict_t *v) {
  const ww_factory_t *fac = proc->fac;
  const ww_line_def_t *ld = &fac->lines[ln->idx];
  double zthr = proc->conf.zscore_threshold, zmax = 0, zconf = 0;
  ww_severity_t thr_sev = WW_SEV_NORMAL, z_sev = WW_SEV_NORMAL, st_sev = WW_SEV_NORMAL;
  uint32_t thr_bits = 0, z_bits = 0, st_bits = 0;
  memset(v, 0, sizeof(*v));
  v->has_baseline = 1;
  for (int j = 0; j < ld->n_sensors; j++) {
    int i = ld->sensor_idx[j];
    uint32_t bit = 1u << i;
    double x = r->values[i], mean = 0, sd = 0, z = 0, zcur = 0, zc;
    ww_severity_t s;
    if (!(r->present & bit))
      continue; /* absent: neutral features, z = 0 */
    s = ww_sensor_severity(&fac->sensors[i], x);
    if (s > WW_SEV_NORMAL) {
      thr_bits |= bit;
      thr_sev = sev_max(thr_sev, s);
    }
    /* The model needs the component's own baseline (reproducible from the
     * stored readings); the z-score rule falls back to the line's window. */
    if ((cp->prev_ok & bit) && cp->prev_pane[i] == pane - 1 && pane == cp->pane) {
      mean = cp->prev_mean[i];
      sd = cp->prev_std[i];
      if (sd <= WW_BASE_MIN_STD)
        v->has_baseline = 0;
    } else {
      v->has_baseline = 0;
      if (ln->prev_present & bit) {
        mean = ln->prev_mean[i];
        sd = ln->prev_std[i];
      }
    }
    if (sd > WW_BASE_MIN_STD) {
      z = (x - mean) / sd;
      zcur = cp->n_all[i] > 0 && pane == cp->pane
                 ? (x - (cp->shift[i] + cp->sum_all[i] / (double)cp->n_all[i])) / sd
                 : z;
      if (fabs(z) > zmax)
        zmax = fabs(z);
      /* Confirmed deviation: the reading must also stand out from its own
       * window so far (once that has a few values). A signal that merely
       * moved since the previous window (hourly cycle, slow trend) is far
       * from the old mean but not from the current one; a fault is far from
       * both. */
      zc = fabs(z);
      if (cp->n_all[i] >= WW_ZCUR_MIN && pane == cp->pane && fabs(zcur) < zc)
        zc = fabs(zcur);
      if (zc > zconf)
        zconf = zc;
      if (zc >= zthr)
        z_bits |= bit;
    }
    if ((cp->have_last & bit) && x == cp->last[i]) {
      if (++cp->repeats[i] >= proc->conf.stuck_count && proc->conf.stuck_count > 0)
        st_bits |= bit;
    } else {
      cp->repeats[i] = 0;
    }
    cp->last[i] = x;
    cp->have_last |= bit;
    v->feats[2 * j] = z;
    v->feats[2 * j + 1] = zcur;
  }
  if (zconf >= 2 * zthr)
    z_sev = WW_SEV_CRITICAL;
  else if (zconf >= zthr)
    z_sev = WW_SEV_WARNING;
  if (st_bits)
    st_sev = WW_SEV_WARNING;
  v->sc.zscore = zmax;
  v->rule_sev = sev_max(sev_max(thr_sev, z_sev), st_sev);
  /* The model alone never opens an alert on one reading: its tail is noisier. */
  v->opens_now = thr_sev == WW_SEV_CRITICAL || z_sev == WW_SEV_CRITICAL;
  v->sensors = thr_bits | z_bits | st_bits;
  if (thr_sev > WW_SEV_NORMAL)
    v->type = "threshold";
  else if (st_sev > WW_SEV_NORMAL)
    v->type = "stuck";
  else if (z_sev > WW_SEV_NORMAL)
    v->type = "zscore";
}

/* Complete a verdict with the model's score (\p mver > 0) or, before the
 * first window closes or the first model, with the z-score mapped to 0..1. */
static void verdict_finish(const ww_proc_t *proc, verdict_t *v, double mscore,
                           ww_severity_t m_sev, int64_t mver) {
  double zthr = proc->conf.zscore_threshold;
  if (mver > 0) {
    v->sc.anomaly_score = mscore;
    v->sc.model_version = mver;
  } else {
    /* Without a model yet, the z-score mapped to 0..1: 0.5 at the threshold. */
    v->sc.anomaly_score = zthr > 0 ? 1.0 - exp2(-v->sc.zscore / zthr) : 0.0;
    v->sc.model_version = 0;
    m_sev = WW_SEV_NORMAL;
  }
  v->sc.severity = sev_max(v->rule_sev, m_sev);
  if (!v->type && m_sev > WW_SEV_NORMAL)
    v->type = "model";
}

/* Add a reading to its component's running sums of all values (the features
 * of the next readings depend on them, so this is done at once). */
static void comp_add_all(comp_t *cp, int64_t pane, const ww_reading_t *r, const ww_line_def_t *ld) {
  cp->seen++;
  if (pane != cp->pane)
    return; /* a late reading of a pane already rolled: it is not in the baseline */
  for (int j = 0; j < ld->n_sensors; j++) {
    int i = ld->sensor_idx[j];
    double d;
    if (!(r->present & (1u << i)))
      continue;
    if (cp->n_all[i] == 0)
      cp->shift[i] = r->values[i];
    d = r->values[i] - cp->shift[i];
    cp->n_all[i]++;
    cp->sum_all[i] += d;
    cp->sumsq_all[i] += d * d;
  }
}

/* Add a reading judged normal to its component's sums of normal values (read
 * only when the pane rolls; comp_add_all() set the shift). */
static void comp_add_normal(comp_t *cp, int64_t pane, const ww_reading_t *r,
                            const ww_line_def_t *ld) {
  if (pane != cp->pane)
    return;
  for (int j = 0; j < ld->n_sensors; j++) {
    int i = ld->sensor_idx[j];
    double d;
    if (!(r->present & (1u << i)))
      continue;
    d = r->values[i] - cp->shift[i];
    cp->n[i]++;
    cp->sum[i] += d;
    cp->sumsq[i] += d * d;
  }
}

/* A new model version: publish it on the models topic and write it to --models-dir. */
static void publish_model(ww_proc_t *proc, line_t *ln) {
  const ww_line_def_t *ld = &proc->fac->lines[ln->idx];
  size_t len = 0, clen;
  char *js = ww_model_json(ln->model, ln->feat_names, &len), *full = NULL, *at;
  char ctx[1024];
  proc->cnt.models++;
  /* The features' window parameters go in before the forest, so the model
   * describes itself to whoever scores with it (the api). */
  clen = ww_proc_encode_model_context(&proc->conf, WW_ZCUR_MIN, WW_BASE_MIN_COUNT,
                                      WW_BASE_MIN_STD, ctx, sizeof(ctx));
  at = js ? strstr(js, ",\"forest\":") : NULL;
  if (at && clen < sizeof(ctx) && (full = malloc(len + clen + 2)) != NULL) {
    size_t head = (size_t)(at - js);
    memcpy(full, js, head);
    full[head] = ',';
    memcpy(full + head + 1, ctx, clen);
    memcpy(full + head + 1 + clen, at, len - head + 1); /* with the NUL */
    len += clen + 1;
  }
  free(js);
  js = full;
  if (!js) {
    WW_LOG(WW_LOG_ERROR, "MODEL", "%s: cannot serialise model v%" PRId64, ld->id,
           ww_model_version(ln->model));
    return;
  }
  produce(proc, WW_OUT_MODELS, ld->id, strlen(ld->id), js, len, NULL, 0);
  if (proc->conf.models_dir && proc->conf.models_dir[0]) {
    char path[1024], tmp[1100];
    FILE *fp;
    snprintf(path, sizeof(path), "%s/%s-v%" PRId64 ".json", proc->conf.models_dir, ld->id,
             ww_model_version(ln->model));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* Write then rename: a reader never sees half a model. */
    fp = fopen(tmp, "w");
    if (!fp || fwrite(js, 1, len, fp) != len || fclose(fp) != 0 || rename(tmp, path) != 0) {
      WW_LOG(WW_LOG_ERROR, "MODEL", "cannot write %s: check that --models-dir %s exists and "
             "is writable", path, proc->conf.models_dir);
      if (fp)
        fclose(fp);
    } else {
      WW_LOG(WW_LOG_INFO, "MODEL", "wrote %s", path);
    }
  }
  free(js);
}

static void publish_alert(ww_proc_t *proc, const line_t *ln, const ww_alert_t *a,
                          ww_alert_event_t ev, const ww_reading_t *r) {
  const ww_line_def_t *ld = &proc->fac->lines[ln->idx];
  char buf[WW_OUT_BUFSZ], comp[WW_ID_MAX * 6 + 1];
  size_t n;
  if (r->component_idx >= 0)
    ww_proc_json_escape(ld->components[r->component_idx], strlen(ld->components[r->component_idx]),
                        comp, sizeof(comp));
  else
    ww_proc_json_escape(r->component_id, strlen(r->component_id), comp, sizeof(comp));
  n = ww_alert_encode(a, ev, proc->fac, ln->idx, comp, buf, sizeof(buf));
  if (n >= sizeof(buf)) {
    WW_LOG(WW_LOG_ERROR, "ALERT", "alert message of %s too large (%zu bytes)", ld->id, n);
    proc->cnt.produce_errors++;
    return;
  }
  proc->cnt.alert_events++;
  if (ev == WW_ALERT_OPENED)
    proc->cnt.alerts++;
  WW_LOG(WW_LOG_DEBUG, "ALERT", "%s %s %s/%s severity %s type %s max_score %.3f readings %" PRId64,
         a->alert_id, ww_alert_event_name(ev), ld->id, comp,
         ww_severity_name(a->severity), a->type, a->max_score, a->readings);
  produce(proc, WW_OUT_ALERTS, ld->id, strlen(ld->id), buf, n, NULL, 0);
}

/* The rest of a reading's processing once its model score is known:
 * severity, the scored output, training, the normal baseline, the line's
 * window and the alert lifecycle. */
static void finish_one(ww_proc_t *proc, pend_t *e) {
  const ww_reading_t *r = &e->r;
  verdict_t *v = &e->v;
  line_t *ln = &proc->lines[r->line_idx];
  const ww_line_def_t *ld = &proc->fac->lines[r->line_idx];
  char out[WW_OUT_BUFSZ];
  ww_alert_event_t ev;
  ww_alert_obs_t obs;
  ww_alert_t *a;
  size_t n;

  verdict_finish(proc, v, e->mscore, e->msev, e->mver);
  proc->cnt.readings++;
  if (v->sc.severity > WW_SEV_NORMAL)
    proc->cnt.anomalous++;
  proc->cnt.by_severity[v->sc.severity <= WW_SEV_CRITICAL ? v->sc.severity : WW_SEV_CRITICAL]++;
  {
    int d = (int)(v->sc.anomaly_score * 10.0);
    proc->cnt.score_decile[d < 0 ? 0 : d > 9 ? 9 : d]++;
  }
  n = ww_scored_encode(proc->fac, r, &v->sc, out, sizeof(out));
  if (n >= sizeof(out))
    proc->cnt.produce_errors++;
  else
    produce(proc, WW_OUT_SCORED, ld->id, strlen(ld->id), out, n, NULL, 0);

  /* Train on readings every detector calls normal. */
  if (ln->model && v->has_baseline && v->sc.severity == WW_SEV_NORMAL &&
      ww_model_observe(ln->model, v->feats, r->ts_ms) == 1)
    publish_model(proc, ln);
  if (v->sc.severity == WW_SEV_NORMAL)
    comp_add_normal(&ln->comps[e->slot], e->pane, r, ld);
  if (ww_window_add(ln->win, r->ts_ms, r->values, r->present, v->sc.severity > WW_SEV_NORMAL,
                    on_window_close, ln) != WW_OK) {
    /* Only an allocation failure gets here (lateness was checked on arrival). */
    WW_LOG(WW_LOG_ERROR, "WINDOW", "out of memory adding a reading to the window of %s", ld->id);
  }

  a = &ln->alerts[e->slot];
  memset(&obs, 0, sizeof(obs));
  obs.ts_ms = r->ts_ms;
  obs.anomalous = v->sc.severity > WW_SEV_NORMAL;
  obs.severity = v->sc.severity;
  obs.score = v->sc.anomaly_score;
  obs.sensors = v->sensors;
  obs.type = v->type;
  obs.values = r->values;
  obs.present = r->present;
  obs.opens_now = v->opens_now;
  ev = ww_alert_step(a, &obs, proc->conf.alert_min_count, proc->conf.alert_clear_count, ld->id,
                     &ln->alert_seq);
  if (ev != WW_ALERT_NONE)
    publish_alert(proc, ln, a, ev, r);
  ww_eval_reading(proc->eval, r->line_idx * WW_SLOTS_PER_LINE + e->slot, r->line_idx, r,
                  obs.anomalous, a->open, ev == WW_ALERT_OPENED, ev == WW_ALERT_RESOLVED);
}

/* Score the waiting readings of line \p li from pend index \p from on with
 * the line's current model, in one batch. */
static void score_line(ww_proc_t *proc, int li, int from) {
  line_t *ln = &proc->lines[li];
  int64_t ver = ww_model_version(ln->model);
  int n = 0, d = ln->n_feats;
  for (int k = from; k < proc->n_pend; k++) {
    pend_t *e = &proc->pend[k];
    if (e->r.line_idx != li || !e->v.has_baseline)
      continue;
    e->mver = 0;
    if (ver > 0) {
      memcpy(proc->rows + (size_t)n * (size_t)d, e->v.feats, (size_t)d * sizeof(double));
      proc->row_of[n++] = k;
    }
  }
  if (n == 0)
    return;
  ww_model_score_rows(ln->model, proc->rows, (size_t)n, proc->scores);
  for (int j = 0; j < n; j++) {
    pend_t *e = &proc->pend[proc->row_of[j]];
    e->mscore = proc->scores[j];
    e->msev = ww_model_severity(ln->model, e->mscore);
    e->mver = ver;
  }
}

void ww_proc_flush(ww_proc_t *proc) {
  for (int li = 0; li < proc->fac->n_lines; li++)
    if (proc->lines[li].n_pend > 0 && proc->lines[li].model)
      score_line(proc, li, 0);
  for (int k = 0; k < proc->n_pend; k++) {
    pend_t *e = &proc->pend[k];
    line_t *ln = &proc->lines[e->r.line_idx];
    /* A reading before this one trained a new version: score the rest again. */
    if (ln->model && e->v.has_baseline && e->mver != ww_model_version(ln->model))
      score_line(proc, e->r.line_idx, k);
    finish_one(proc, e);
  }
  proc->n_pend = 0;
  for (int li = 0; li < proc->fac->n_lines; li++) {
    line_t *ln = &proc->lines[li];
    ln->n_pend = 0;
    memset(ln->comp_pend, 0, sizeof(ln->comp_pend));
  }
}

/* The watermark of line ln once its waiting readings are in its window. */
static int64_t line_watermark(const ww_proc_t *proc, const line_t *ln) {
  int64_t wm = ww_window_watermark(ln->win);
  if (ln->n_pend > 0 && ln->pend_max_ts - proc->conf.allowed_lateness_ms > wm)
    wm = ln->pend_max_ts - proc->conf.allowed_lateness_ms;
  return wm;
}

/* Whether the rules would judge reading r of cp against the line's last
 * window (the component has no baseline of its own for a sensor). */
static int uses_line_baseline(const comp_t *cp, int64_t pane, const ww_reading_t *r,
                              const ww_line_def_t *ld) {
  for (int j = 0; j < ld->n_sensors; j++) {
    int i = ld->sensor_idx[j];
    uint32_t bit = 1u << i;
    if ((r->present & bit) &&
        !((cp->prev_ok & bit) && cp->prev_pane[i] == pane - 1 && pane == cp->pane))
      return 1;
  }
  return 0;
}

void ww_proc_enqueue(ww_proc_t *proc, const char *buf, size_t len, const ww_proc_src_t *src) {
  ww_reading_t r;
  line_t *ln;
  comp_t *cp;
  pend_t *e;
  const ww_line_def_t *ld;
  char err[256];
  ww_dlq_reason_t reason;
  int slot;
  int64_t pane, wm;

  proc->cnt.messages++;
  err[0] = '\0';
  reason = ww_reading_decode(proc->fac, buf, len, 0, &r, err, sizeof(err));
  if (reason != WW_DLQ_NONE) {
    dead_letter(proc, buf, len, src, reason, err[0] ? err : ww_dlq_reason_name(reason));
    return;
  }
  ln = &proc->lines[r.line_idx];
  ld = &proc->fac->lines[r.line_idx];
  ln->partition = src->partition;
  wm = line_watermark(proc, ln);
  if (proc->conf.window_type == WW_WINDOW_TIME && r.ts_ms < wm) {
    snprintf(err, sizeof(err),
             "event time %" PRId64 " ms is %" PRId64 " ms behind the watermark of %s "
             "(allowed lateness %" PRId64 " ms)",
             r.ts_ms, wm - r.ts_ms, ld->id, proc->conf.allowed_lateness_ms);
    dead_letter(proc, buf, len, src, WW_DLQ_LATE, err);
    return;
  }

  slot = r.component_idx >= 0 && r.component_idx < WW_MAX_COMPONENTS ? r.component_idx
                                                                     : WW_MAX_COMPONENTS;
  cp = &ln->comps[slot];
  pane = pane_of(proc, cp, r.ts_ms);
  /* A new pane turns the component's normal values into its baseline: those
   * of its waiting readings must be counted first. */
  if (ln->comp_pend[slot] > 0 && cp->have_pane && pane > cp->pane)
    ww_proc_flush(proc);
  comp_roll(cp, pane);
  /* The line's last window changes when a waiting reading closes one. */
  if (ln->n_pend > 0 && uses_line_baseline(cp, pane, &r, ld))
    ww_proc_flush(proc);

  e = &proc->pend[proc->n_pend];
  score_rules(proc, ln, cp, pane, &r, &e->v);
  comp_add_all(cp, pane, &r, ld);
  e->r = r;
  e->slot = slot;
  e->pane = pane;
  e->mver = 0;
  if (ln->n_pend == 0 || r.ts_ms > ln->pend_max_ts)
    ln->pend_max_ts = r.ts_ms;
  ln->n_pend++;
  ln->comp_pend[slot]++;
  if (++proc->n_pend == WW_PEND_MAX)
    ww_proc_flush(proc);
}

void ww_proc_message(ww_proc_t *proc, const char *buf, size_t len, const ww_proc_src_t *src) {
  ww_proc_enqueue(proc, buf, len, src);
  ww_proc_flush(proc);
}

int ww_proc_load_model(ww_proc_t *proc, const char *path, char *errstr, size_t errstr_size) {
  FILE *fp = fopen(path, "rb");
  char *buf = NULL, err[256], *p, *q;
  long len;
  int rc = -1, li;
  if (!fp) {
    snprintf(errstr, errstr_size, "--model %s: cannot open it", path);
    return -1;
  }
  if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0 ||
      !(buf = malloc((size_t)len + 1)) || fread(buf, 1, (size_t)len, fp) != (size_t)len) {
    snprintf(errstr, errstr_size, "--model %s: cannot read it", path);
    goto done;
  }
  buf[len] = '\0';
  /* The line is named near the start: "production_line":"<id>". */
  p = strstr(buf, "\"production_line\":\"");
  q = p ? strchr(p + 19, '"') : NULL;
  li = q ? ww_factory_line_find(proc->fac, p + 19, (size_t)(q - (p + 19))) : -1;
  if (li < 0) {
    snprintf(errstr, errstr_size, "--model %s: no production_line of the configured factory in it",
             path);
    goto done;
  }
  if (!proc->lines[li].model) {
    snprintf(errstr, errstr_size, "--model %s: models are off (train-size 0)", path);
    goto done;
  }
  if (ww_model_load(proc->lines[li].model, buf, (size_t)len, err, sizeof(err)) != 0) {
    snprintf(errstr, errstr_size, "--model %s: %s", path, err);
    goto done;
  }
  WW_LOG(WW_LOG_NOTICE, "MODEL", "%s: loaded model v%" PRId64 " from %s", proc->fac->lines[li].id,
         ww_model_version(proc->lines[li].model), path);
  rc = 0;
done:
  free(buf);
  fclose(fp);
  return rc;
}

void ww_proc_finish(ww_proc_t *proc) {
  ww_proc_flush(proc);
  if (!proc->conf.flush_on_end)
    return;
  for (int i = 0; i < proc->fac->n_lines; i++)
    ww_window_flush(proc->lines[i].win, on_window_close, &proc->lines[i]);
}

void ww_proc_revoke(ww_proc_t *proc, int32_t partition) {
  int kept = 0;
  for (int i = 0; i < proc->fac->n_lines; i++)
    if (proc->lines[i].partition == partition) {
      WW_LOG(WW_LOG_INFO, "REBALANCE", "partition %" PRId32 " revoked: dropping the state of %s",
             partition, proc->fac->lines[i].id);
      line_reset(&proc->lines[i]);
    }
  /* Waiting readings of those lines go too (their transaction was aborted;
   * a revocation that commits flushes them first). */
  for (int k = 0; k < proc->n_pend; k++)
    if (proc->lines[proc->pend[k].r.line_idx].n_pend > 0)
      proc->pend[kept++] = proc->pend[k];
  proc->n_pend = kept;
}

void ww_proc_counters(const ww_proc_t *proc, ww_proc_counters_t *c) { *c = proc->cnt; }

size_t ww_proc_summary(const ww_proc_t *proc, char *buf, size_t size) {
  size_t off = 0;
  int first = 1;
  const ww_proc_counters_t *c = &proc->cnt;
#define APPEND(...) ww_proc_appendf(buf, size, &off, __VA_ARGS__)
  APPEND("{\"messages\":%" PRId64 ",\"readings\":%" PRId64 ",\"windows\":%" PRId64
         ",\"alerts\":%" PRId64 ",\"alert_events\":%" PRId64 ",\"anomalous\":%" PRId64
         ",\"dead_letters\":%" PRId64 ",\"dead_letters_by_reason\":{",
         c->messages, c->readings, c->windows, c->alerts, c->alert_events, c->anomalous,
         c->dead_letters);
  for (int k = 1; k < WW_DLQ__COUNT; k++) {
    if (!c->dlq_by_reason[k])
      continue;
    APPEND("%s\"%s\":%" PRId64, first ? "" : ",", ww_dlq_reason_name((ww_dlq_reason_t)k),
           c->dlq_by_reason[k]);
    first = 0;
  }
  APPEND("},\"models\":%" PRId64 ",\"produce_errors\":%" PRId64, c->models, c->produce_errors);
  if (ww_eval_has_truth(proc->eval)) {
    APPEND(",\"quality\":");
    off += ww_eval_json(proc->eval, buf + (off < size ? off : size), off < size ? size - off : 0);
  }
  APPEND("}");
#undef APPEND
  return off;
}
