/*
 * api_features.c: the window-context features of a "window_z" model, rebuilt
 * from the stored readings exactly as the processor computes them
 * (processor/processor_engine.c: pane_of, comp_roll, score).
 *
 * Per sensor s of the line, for a reading x of component C at time t:
 *   pane      time windows: k = floor(t / pane_ms); count windows: groups of
 *             `pane` readings of C
 *   baseline  C's readings in pane k-1: its normal ones if at least
 *             min_count and at least half of them, else all; mean m1,
 *             population variance v1; with pane k-2's mean m2 (same rule)
 *             when that has min_count values, spread sd = sqrt(v1 + (m1-m2)^2),
 *             else sd = sqrt(v1); no baseline below min_count values or when
 *             sd <= min_std
 *   s_z       (x - m1) / sd
 *   s_zcur    (x - mean of C's readings in pane k before x) / sd, or s_z if none
 *   neutral   0 for both when s is absent or has no baseline
 * Sums are taken relative to the first value of the pane, in the order the
 * readings were stored, with the processor's arithmetic, so a stored reading
 * gets bit-identical features.
 */
#include "api_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Count windows: the query reads this many of the line's readings per
 * reading the component's two panes need (the line's components report in
 * turn; a quiet component simply gets fewer). */
#define FEAT_LAST_PER_ROW 4

static int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void api_feat_acc_add(api_feat_acc_t *a, const api_feat_row_t *row) {
  for (int i = 0; i < WW_MAX_SENSORS; i++) {
    double d;
    if (!(row->present & (1u << i)))
      continue;
    if (a->n_all[i] == 0)
      a->shift[i] = row->values[i];
    d = row->values[i] - a->shift[i];
    a->n_all[i]++;
    a->sum_all[i] += d;
    a->sumsq_all[i] += d * d;
    if (row->normal) {
      a->n[i]++;
      a->sum[i] += d;
      a->sumsq[i] += d * d;
    }
  }
}

/* Mean and population variance of pane sums \p a for sensor i, by the
 * processor's rule. @returns 0, or -1 if the pane has too few values. */
static int pane_stats(const api_feat_ctx_t *c, const api_feat_acc_t *a, int i, double *mean,
                      double *var) {
  int normal = a->n[i] >= c->min_count && 2 * a->n[i] >= a->n_all[i];
  int64_t cnt = normal ? a->n[i] : a->n_all[i];
  double mu;
  if (cnt < c->min_count)
    return -1;
  mu = (normal ? a->sum[i] : a->sum_all[i]) / (double)cnt;
  *var = (normal ? a->sumsq[i] : a->sumsq_all[i]) / (double)cnt - mu * mu;
  *mean = a->shift[i] + mu;
  return 0;
}

int api_feat_compute(const api_feat_ctx_t *c, const api_feat_acc_t acc[3], const ww_reading_t *rd,
                     double *feats) {
  int baseline = 1;
  for (int f = 0; f < c->n_feat; f++) {
    int i = c->feat_sensor[f];
    double x = rd->values[i], m1, v1, m2, v2, sd, shift = 0.0, z;
    feats[f] = 0.0;
    if (!(rd->present & (1u << i)))
      continue;
    if (pane_stats(c, &acc[1], i, &m1, &v1) != 0) {
      baseline = 0;
      continue;
    }
    if (pane_stats(c, &acc[0], i, &m2, &v2) == 0)
      shift = m1 - m2;
    sd = sqrt((v1 > 0 ? v1 : 0.0) + shift * shift);
    if (!(sd > c->min_std)) {
      baseline = 0;
      continue;
    }
    z = (x - m1) / sd;
    if (c->feat_cur[f] && acc[2].n_all[i] > 0)
      z = (x - (acc[2].shift[i] + acc[2].sum_all[i] / (double)acc[2].n_all[i])) / sd;
    feats[f] = z;
  }
  return baseline;
}

/* Fill \p row from the current result row of Q_FEAT_PANES / Q_FEAT_LAST. */
static void row_read(const ww_factory_t *fac, const api_feat_ctx_t *c, sqlite3_stmt *st,
                     api_feat_row_t *row) {
  const char *sev = (const char *)sqlite3_column_text(st, 1);
  json_t *extra = NULL;
  row->ts_ms = sqlite3_column_int64(st, 0);
  /* The processor trains and baselines on what it judged normal. */
  row->normal = !sev || strcmp(sev, "normal") == 0;
  row->present = 0;
  for (int f = 0; f < c->n_feat; f++) {
    int i = c->feat_sensor[f], col = -1;
    const char *name = fac->sensors[i].name;
    if (row->present & (1u << i))
      continue;
    if (strcmp(name, "temperature") == 0)
      col = 2;
    else if (strcmp(name, "humidity") == 0)
      col = 3;
    else if (strcmp(name, "sound_level") == 0)
      col = 4;
    if (col > 0) {
      if (sqlite3_column_type(st, col) == SQLITE_NULL)
        continue;
      row->values[i] = sqlite3_column_double(st, col);
      row->present |= 1u << i;
      continue;
    }
    /* Other configured sensors live in the extra_values JSON object. */
    if (!extra && sqlite3_column_type(st, 5) == SQLITE_TEXT) {
      const char *t = (const char *)sqlite3_column_text(st, 5);
      extra = json_loads(t, 0, NULL);
    }
    if (json_is_number(json_object_get(extra, name))) {
      row->values[i] = json_number_value(json_object_get(extra, name));
      row->present |= 1u << i;
    }
  }
  json_decref(extra);
}

/* Time panes: one range scan over panes k-2 .. k of the component. */
static int load_time(ww_api_t *api, const api_feat_ctx_t *c, const ww_reading_t *rd,
                     api_feat_acc_t acc[3], char *err, size_t errsz) {
  const ww_factory_t *fac = api->conf.fac;
  int64_t k = floor_div(rd->ts_ms, c->pane), lo = (k - 2) * c->pane;
  sqlite3_stmt *st = api_stmt(api, Q_FEAT_PANES, err, errsz);
  api_feat_row_t row;
  int rc;
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, fac->lines[rd->line_idx].id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, lo);
  sqlite3_bind_int64(st, 3, rd->ts_ms);
  sqlite3_bind_text(st, 4, rd->component_id, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t p = floor_div(sqlite3_column_int64(st, 0), c->pane) - (k - 2);
    if (p < 0 || p > 2)
      continue;
    row_read(fac, c, st, &row);
    api_feat_acc_add(&acc[p], &row);
  }
  if (rc != SQLITE_DONE)
    snprintf(err, errsz, "reading the stored readings of %s/%s: %s", fac->lines[rd->line_idx].id,
             rd->component_id, sqlite3_errmsg(sqlite3_db_handle(st)));
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Count panes: the processor groups the component's readings by its own
 * count since it started, which stored readings cannot tell. The reading is
 * taken to start a pane: the component's last `pane` readings are the
 * previous pane and the `pane` before them the one before; the current
 * pane is empty (s_zcur = s_z). Exact for the first reading of each pane,
 * an approximation otherwise (docs/api.md).
 */
static int load_count(ww_api_t *api, const api_feat_ctx_t *c, const ww_reading_t *rd,
                      api_feat_acc_t acc[3], char *err, size_t errsz) {
  const ww_factory_t *fac = api->conf.fac;
  int64_t want = 2 * c->pane, got = 0;
  sqlite3_stmt *st = api_stmt(api, Q_FEAT_LAST, err, errsz);
  api_feat_row_t *rows = NULL;
  int rc = SQLITE_DONE, ret = -1;
  if (!st)
    return -1;
  if (want > 100000)
    want = 100000; /* bound on memory and time; such panes are not exact anyway */
  if (!(rows = malloc((size_t)want * sizeof(*rows)))) {
    snprintf(err, errsz, "out of memory for %lld readings", (long long)want);
    goto done;
  }
  sqlite3_bind_text(st, 1, fac->lines[rd->line_idx].id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, rd->ts_ms);
  sqlite3_bind_int64(
      st, 3,
      want * FEAT_LAST_PER_ROW *
          (fac->lines[rd->line_idx].n_components > 0 ? fac->lines[rd->line_idx].n_components : 1));
  while (got < want && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *comp = (const char *)sqlite3_column_text(st, 6);
    if (!comp || strcmp(comp, rd->component_id) != 0)
      continue;
    row_read(fac, c, st, &rows[got++]);
  }
  if (got < want && rc != SQLITE_DONE) {
    snprintf(err, errsz, "reading the stored readings of %s/%s: %s", fac->lines[rd->line_idx].id,
             rd->component_id, sqlite3_errmsg(sqlite3_db_handle(st)));
    goto done;
  }
  /* Newest first: rows [0, pane) are the previous pane, the rest the one before. */
  for (int64_t j = got - 1; j >= 0; j--)
    api_feat_acc_add(&acc[j < c->pane ? 1 : 0], &rows[j]);
  ret = 0;
done:
  sqlite3_reset(st);
  free(rows);
  return ret;
}

int api_feat_load(ww_api_t *api, const api_feat_ctx_t *c, const ww_reading_t *rd, double *feats,
                  char *err, size_t errsz) {
  api_feat_acc_t acc[3];
  memset(acc, 0, sizeof(acc));
  if ((c->count ? load_count(api, c, rd, acc, err, errsz)
                : load_time(api, c, rd, acc, err, errsz)) != 0)
    return -1;
  return api_feat_compute(c, acc, rd, feats);
}
