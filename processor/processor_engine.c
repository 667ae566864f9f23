/* processor_engine.c: decode, dead-letter, score, window and alert, per line. */
#include "processor_state.h"

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
  pc->grade = 1;
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
  ln->win_skip = 0;
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
  proc->eval_at_commit = ww_eval_new((fac->n_lines > 0 ? fac->n_lines : 1) * WW_SLOTS_PER_LINE);
  proc->pend = malloc(WW_PEND_MAX * sizeof(*proc->pend));
  proc->rows = malloc(WW_PEND_MAX * WW_MAX_FEATS * sizeof(*proc->rows));
  proc->scores = malloc(WW_PEND_MAX * sizeof(*proc->scores));
  proc->row_of = malloc(WW_PEND_MAX * sizeof(*proc->row_of));
  if (!proc->lines || !proc->eval || !proc->eval_at_commit || !proc->pend || !proc->rows ||
      !proc->scores || !proc->row_of) {
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
  ww_eval_destroy(proc->eval_at_commit);
  free(proc->pend);
  free(proc->rows);
  free(proc->scores);
  free(proc->row_of);
  free(proc);
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
 * moving signal would look anomalous against a narrow window. The long-run
 * spread (std_ema) learns only from panes of mostly normal readings: a
 * sensor stuck through a pane has next to no spread, and a drift or a
 * burst of noise is not the component's usual one. */
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
      if (normal) {
        cp->std_ema[i] = (cp->ema_ok & (1u << i)) ? (1 - WW_STD_EMA_ALPHA) * cp->std_ema[i] +
                                                        WW_STD_EMA_ALPHA * cp->prev_std[i]
                                                  : cp->prev_std[i];
        cp->ema_ok |= 1u << i;
      }
      cp->prev_pane[i] = cp->pane;
      cp->prev_ok |= 1u << i;
    }
    cp->n[i] = cp->n_all[i] = 0;
    cp->sum[i] = cp->sumsq[i] = cp->sum_all[i] = cp->sumsq_all[i] = 0;
  }
  cp->pane = p;
}

static ww_severity_t sev_max(ww_severity_t a, ww_severity_t b) {
  return a > b ? a : b;
}

/* Whether sensor i of a reading in \p pane is measured against the
 * component's own previous pane (reproducible from the stored readings),
 * rather than the line's last window. */
static int own_baseline(const comp_t *cp, int i, int64_t pane) {
  return (cp->prev_ok & (1u << i)) && cp->prev_pane[i] == pane - 1 && pane == cp->pane;
}

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
static void score_rules(ww_proc_t *proc, line_t *ln, comp_t *cp, int64_t pane,
                        const ww_reading_t *r, verdict_t *v) {
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
    double x = r->values[i], mean = 0, sd = 0, sdr, z = 0, zcur = 0, zc, zr;
    int own = 0; /* own_baseline() */
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
    if (own_baseline(cp, i, pane)) {
      own = 1;
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
      /* The rule measures against at least the component's long-run spread:
       * one pane's spread is an estimate from some 60 values, and a pane
       * quieter than usual by chance (or a sensor stuck through most of it)
       * must not make the normal readings after it look far off. The
       * model's features keep the plain spread (the api recomputes them
       * from the stored readings). */
      sdr = sd;
      if (own && (cp->ema_ok & bit) && sdr < WW_STD_FLOOR * cp->std_ema[i])
        sdr = WW_STD_FLOOR * cp->std_ema[i];
      zr = fabs(z) * sd / sdr;
      if (zr > zmax)
        zmax = zr;
      /* Confirmed deviation: the reading must also stand out from its own
       * window so far (once that has a few values). A signal that merely
       * moved since the previous window (hourly cycle, slow trend) is far
       * from the old mean but not from the current one; a fault is far from
       * both. */
      zc = zr;
      if (cp->n_all[i] >= WW_ZCUR_MIN && pane == cp->pane && fabs(zcur) * sd / sdr < zc)
        zc = fabs(zcur) * sd / sdr;
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
static void verdict_finish(const ww_proc_t *proc, verdict_t *v, double mscore, ww_severity_t m_sev,
                           int64_t mver) {
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
  if (proc->replaying) {
    /* state only: the output was published when the reading was first processed */
  } else if (proc->out.scored) {
    if (proc->out.scored(proc->out.opaque, r, &v->sc) != 0)
      proc->cnt.produce_errors++;
  } else {
    n = ww_scored_encode(proc->fac, r, &v->sc, out, sizeof(out));
    if (n >= sizeof(out))
      proc->cnt.produce_errors++;
    else
      ww__proc_produce(proc, WW_OUT_SCORED, ld->id, strlen(ld->id), out, n, NULL, 0);
  }

  /* Train on readings every detector calls normal. */
  if (!proc->replaying && ln->model && v->has_baseline && v->sc.severity == WW_SEV_NORMAL &&
      ww_model_observe(ln->model, v->feats, r->ts_ms) == 1)
    ww__proc_publish_model(proc, ln);
  if (v->sc.severity == WW_SEV_NORMAL)
    comp_add_normal(&ln->comps[e->slot], e->pane, r, ld);
  if (proc->replaying && ln->win_skip > 0)
    ln->win_skip--; /* before the count windows started again (ww_proc_counts_seed()) */
  else if (ww_window_add(ln->win, r->ts_ms, r->values, r->present, v->sc.severity > WW_SEV_NORMAL,
                         ww__proc_window_closed, ln) != WW_OK) {
    /* Only an allocation failure gets here (lateness was checked on arrival). */
    WW_LOG(WW_LOG_ERROR, "WINDOW", "out of memory adding a reading to the window of %s", ld->id);
  }

  if (proc->replaying)
    return; /* open alerts are carried over from the alerts topic instead */
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
    ww__proc_publish_alert(proc, ln, a, ev, r);
  if (proc->conf.grade)
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
    if ((r->present & bit) && !own_baseline(cp, i, pane))
      return 1;
  }
  return 0;
}

/* The first reading of a line here: say how long it goes without a model. */
static void first_reading(const ww_proc_t *proc, const line_t *ln) {
  ww_model_state_t ms;
  ww_model_state(ln->model, &ms);
  if (ms.needed > 0)
    WW_LOG(WW_LOG_NOTICE, "MODEL",
           "%s: no model yet: z-scores and thresholds alone judge its readings until the "
           "first version is trained on %d of them that they judge normal (--train-size)",
           proc->fac->lines[ln->idx].id, ms.needed);
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
    ww__proc_dead_letter(proc, buf, len, src, reason, err[0] ? err : ww_dlq_reason_name(reason));
    return;
  }
  ln = &proc->lines[r.line_idx];
  ld = &proc->fac->lines[r.line_idx];
  if (ln->partition < 0)
    first_reading(proc, ln);
  ln->partition = src->partition;
  wm = line_watermark(proc, ln);
  if (proc->conf.window_type == WW_WINDOW_TIME && r.ts_ms < wm) {
    snprintf(err, sizeof(err),
             "event time %" PRId64 " ms is %" PRId64 " ms behind the watermark of %s "
             "(allowed lateness %" PRId64 " ms)",
             r.ts_ms, wm - r.ts_ms, ld->id, proc->conf.allowed_lateness_ms);
    ww__proc_dead_letter(proc, buf, len, src, WW_DLQ_LATE, err);
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

void ww_proc_replay_begin(ww_proc_t *proc) {
  ww_proc_flush(proc);
  proc->before_replay = proc->cnt;
  proc->replaying = 1;
}

void ww_proc_replay_end(ww_proc_t *proc) {
  ww_proc_flush(proc);
  proc->cnt = proc->before_replay;
  proc->replaying = 0;
  for (int i = 0; i < proc->fac->n_lines; i++)
    proc->lines[i].win_skip = 0;
}

void ww_proc_message(ww_proc_t *proc, const char *buf, size_t len, const ww_proc_src_t *src) {
  ww_proc_enqueue(proc, buf, len, src);
  ww_proc_flush(proc);
}

void ww_proc_finish(ww_proc_t *proc) {
  ww_proc_flush(proc);
  for (int i = 0; i < proc->fac->n_lines; i++) {
    line_t *ln = &proc->lines[i];
    if (ln->model && ww_model_finish(ln->model) == 1)
      ww__proc_publish_model(proc, ln);
  }
  if (!proc->conf.flush_on_end)
    return;
  for (int i = 0; i < proc->fac->n_lines; i++)
    ww_window_flush(proc->lines[i].win, ww__proc_window_closed, &proc->lines[i]);
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
