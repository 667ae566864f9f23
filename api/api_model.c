/*
 * api_model.c: the newest Isolation Forest of each line, loaded from the
 * models table and reloaded when a new version lands, for /api/predict.
 *
 * A model row's blob is the message the processor published on the models
 * topic (JSON). Accepted layout, every key but the forest optional:
 *   {"production_line":"turbine-line-1","version":3,
 *    "features":["temperature","humidity","sound_level"],   default: the line's sensors
 *    "scaler":{"mean":[..],"scale":[..]},                     default: none
 *    "thresholds":{"warning":0.6,"critical":0.8},             default: 0.6 / 0.8
 *    "forest":{ ww_iforest_to_json() }}                       or "model":{..}, or the
 *                                                             forest keys at the top level
 * or, as the processor publishes it, a model of window-context features:
 *    "feature_kind":"window_z", "features":["temperature_z","temperature_zcur",...],
 *    "feature_context":{"window_type":"time","pane":60000,"min_count":2,"min_std":1e-9,...}
 * whose features api_features.c rebuilds from the stored readings.
 *
 * Models are shared by all worker threads: scoring holds the read lock (a
 * few microseconds), a reload builds the new forest without any lock and
 * swaps it in under the write lock. Which thread reloads is decided by a
 * compare-and-swap on the next check time, at most once per MODEL_CHECK_MS.
 */
#include "api_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/iforest.h"
#include "windwatch/log.h"
#include "windwatch/timeutil.h"

#define MODEL_CHECK_MS 2000 /* how often the models table is checked for a new version */

/* Everything but the forest is plain data, copied out under the lock so the
 * features can be read from the database without holding it. */
typedef struct api_model_s {
  int64_t version;             /* models.version */
  ww_iforest_t *forest;        /* owned */
  int n_feat;                  /* features per row */
  int feat_idx[API_MAX_FEATS]; /* factory sensor index of each feature */
  double mean[API_MAX_FEATS];  /* scaler: x' = (x - mean) / scale */
  double scale[API_MAX_FEATS];
  double warn, crit; /* score thresholds of this model */
  int window;        /* features are "window_z": ctx says how to build them */
  api_feat_ctx_t ctx;
} api_model_t;

struct api_models_s {
  pthread_rwlock_t lock;                /* guards line[] */
  api_model_t *line[WW_MAX_LINES];      /* newest loaded model per factory line, or NULL */
  int64_t next_check_ms;                /* monotonic ms; CAS-claimed by the reloading thread */
  int64_t failed_version[WW_MAX_LINES]; /* a version that did not load; not retried */
};

static void model_free(api_model_t *m) {
  if (!m)
    return;
  ww_iforest_destroy(m->forest);
  free(m);
}

api_models_t *api_models_new(void) {
  api_models_t *ms = calloc(1, sizeof(*ms));
  if (!ms)
    return NULL;
  if (pthread_rwlock_init(&ms->lock, NULL) != 0) {
    free(ms);
    return NULL;
  }
  return ms;
}

void api_models_destroy(api_models_t *ms) {
  if (!ms)
    return;
  for (int i = 0; i < WW_MAX_LINES; i++)
    model_free(ms->line[i]);
  pthread_rwlock_destroy(&ms->lock);
  free(ms);
}

static int num_array(json_t *a, int n, double *out) {
  if (!json_is_array(a) || (int)json_array_size(a) != n)
    return -1;
  for (int i = 0; i < n; i++) {
    json_t *v = json_array_get(a, (size_t)i);
    if (!json_is_number(v) || !isfinite(out[i] = json_number_value(v)))
      return -1;
  }
  return 0;
}

/* Positive integer member \p key of \p o, or \p def when absent. @returns -1 if invalid. */
static int ctx_int(json_t *o, const char *key, int64_t def, int64_t *out) {
  json_t *v = json_object_get(o, key);
  *out = def;
  if (!v)
    return 0;
  if (!json_is_integer(v) || json_integer_value(v) <= 0)
    return -1;
  *out = (int64_t)json_integer_value(v);
  return 0;
}

/* The "window_z" part of a model: features "<sensor>_z" / "<sensor>_zcur"
 * and the feature_context they are computed with. @returns 0 or -1 with err. */
static int window_parse(const ww_factory_t *fac, json_t *root, json_t *feats, api_model_t *m,
                        char *err, size_t errsz) {
  json_t *ctx = json_object_get(root, "feature_context");
  const char *wt = json_string_value(json_object_get(ctx, "window_type"));
  json_t *ms = json_object_get(ctx, "min_std");
  int64_t pane, minc;
  api_feat_ctx_t *c = &m->ctx;
  if (!json_is_object(ctx) || !wt || (strcmp(wt, "time") != 0 && strcmp(wt, "count") != 0)) {
    snprintf(err, errsz,
             "feature_kind window_z needs a feature_context object with "
             "window_type \"time\" or \"count\"");
    return -1;
  }
  if (ctx_int(ctx, "pane", 0, &pane) != 0 || pane <= 0 ||
      ctx_int(ctx, "min_count", 2, &minc) != 0 || minc > 1000000 || (ms && !json_is_number(ms))) {
    snprintf(err, errsz,
             "feature_context needs a positive integer pane (ms or readings), "
             "min_count a positive integer and min_std a number");
    return -1;
  }
  if (!json_is_array(feats) || (int)json_array_size(feats) != m->n_feat) {
    snprintf(err, errsz, "feature_kind window_z needs %d feature names", m->n_feat);
    return -1;
  }
  m->window = 1;
  c->count = strcmp(wt, "count") == 0;
  c->pane = pane;
  c->min_count = (int)minc;
  c->min_std = ms ? json_number_value(ms) : 1e-9;
  c->n_feat = m->n_feat;
  for (int f = 0; f < m->n_feat; f++) {
    const char *name = json_string_value(json_array_get(feats, (size_t)f));
    size_t n = name ? strlen(name) : 0, base = 0;
    if (n > 5 && strcmp(name + n - 5, "_zcur") == 0) {
      base = n - 5;
      c->feat_cur[f] = 1;
    } else if (n > 2 && strcmp(name + n - 2, "_z") == 0) {
      base = n - 2;
      c->feat_cur[f] = 0;
    }
    c->feat_sensor[f] = base ? ww_factory_sensor_find(fac, name, base) : -1;
    if (c->feat_sensor[f] < 0) {
      snprintf(err, errsz,
               "window_z feature %d (%s) is not <sensor>_z or <sensor>_zcur of a "
               "configured sensor",
               f, name ? name : "not a string");
      return -1;
    }
    m->feat_idx[f] = c->feat_sensor[f];
    m->mean[f] = 0.0;
    m->scale[f] = 1.0;
  }
  return 0;
}

/* Features that are sensor values, optionally standardised by a "scaler".
 * @returns 0 or -1 with err. */
static int plain_parse(const ww_factory_t *fac, const ww_line_def_t *ld, json_t *root,
                       json_t *feats, api_model_t *m, char *err, size_t errsz) {
  if (m->n_feat > ld->n_sensors && !json_is_array(feats)) {
    snprintf(err, errsz, "forest has %d features, line %s has %d sensors", m->n_feat, ld->id,
             ld->n_sensors);
    return -1;
  }
  for (int i = 0; i < m->n_feat; i++) {
    if (json_is_array(feats)) {
      const char *name = json_string_value(json_array_get(feats, (size_t)i));
      m->feat_idx[i] = name ? ww_factory_sensor_find(fac, name, strlen(name)) : -1;
    } else {
      m->feat_idx[i] = i < ld->n_sensors ? ld->sensor_idx[i] : -1;
    }
    if (m->feat_idx[i] < 0) {
      snprintf(err, errsz, "feature %d is not a configured sensor%s", i,
               json_is_array(feats) && json_is_string(json_array_get(feats, (size_t)i))
                   ? " (a model of window features needs \"feature_kind\":\"window_z\" and "
                     "\"feature_context\"; retrain it with a current processor)"
                   : "");
      return -1;
    }
    m->mean[i] = 0.0;
    m->scale[i] = 1.0;
  }
  json_t *sc = json_object_get(root, "scaler");
  if (json_is_object(sc) && (num_array(json_object_get(sc, "mean"), m->n_feat, m->mean) != 0 ||
                             num_array(json_object_get(sc, "scale"), m->n_feat, m->scale) != 0)) {
    snprintf(err, errsz, "scaler needs 'mean' and 'scale' arrays of %d numbers", m->n_feat);
    return -1;
  }
  for (int i = 0; i < m->n_feat; i++)
    if (!(m->scale[i] > 0.0))
      m->scale[i] = 1.0; /* a constant feature: sklearn's StandardScaler uses 1 too */
  return 0;
}

/* Build a model from a blob. @returns NULL with \p err set. */
static api_model_t *model_parse(const ww_factory_t *fac, int l, int64_t version, const void *blob,
                                size_t len, char *err, size_t errsz) {
  const ww_line_def_t *ld = &fac->lines[l];
  json_error_t jerr;
  json_t *root = json_loadb(blob, len, 0, &jerr), *forest, *feats, *th;
  const char *kind;
  api_model_t *m = NULL;
  char *text = NULL;

  if (!root || !json_is_object(root)) {
    snprintf(err, errsz, "not a JSON object: %s", root ? "wrong type" : jerr.text);
    goto fail;
  }
  if (!(m = calloc(1, sizeof(*m)))) {
    snprintf(err, errsz, "out of memory");
    goto fail;
  }
  m->version = version;
  forest = json_object_get(root, "forest");
  if (!json_is_object(forest))
    forest = json_object_get(root, "model");
  if (!json_is_object(forest))
    forest = root;
  if (!(text = json_dumps(forest, JSON_COMPACT)) ||
      !(m->forest = ww_iforest_from_json(text, strlen(text), err, errsz)))
    goto fail;
  m->n_feat = ww_iforest_dims(m->forest);
  if (m->n_feat < 1 || m->n_feat > API_MAX_FEATS) {
    snprintf(err, errsz, "forest has %d features (at most %d)", m->n_feat, API_MAX_FEATS);
    goto fail;
  }
  feats = json_object_get(root, "features");
  kind = json_string_value(json_object_get(root, "feature_kind"));
  if (kind && strcmp(kind, "window_z") != 0) {
    snprintf(err, errsz, "feature_kind '%s' is unknown (known: window_z)", kind);
    goto fail;
  }
  if (kind ? window_parse(fac, root, feats, m, err, errsz) != 0
           : plain_parse(fac, ld, root, feats, m, err, errsz) != 0)
    goto fail;
  api_score_thresholds(NULL, &m->warn, &m->crit);
  th = json_object_get(root, "thresholds");
  if (json_is_number(json_object_get(th, "warning")))
    m->warn = json_number_value(json_object_get(th, "warning"));
  if (json_is_number(json_object_get(th, "critical")))
    m->crit = json_number_value(json_object_get(th, "critical"));
  free(text);
  json_decref(root);
  return m;
fail:
  free(text);
  json_decref(root);
  model_free(m);
  return NULL;
}

/* Load versions newer than those held. Runs in one thread at a time (CAS in api_models_check). */
static void reload(ww_api_t *api, api_models_t *ms) {
  const ww_factory_t *fac = api->conf.fac;
  char err[256];
  sqlite3_stmt *st = api_stmt(api, Q_MODEL_VERSIONS, err, sizeof(err));
  int64_t want[WW_MAX_LINES] = {0};
  int rc;
  if (!st)
    return; /* no database yet: threshold scoring meanwhile */
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    int l = id ? ww_factory_line_find(fac, id, strlen(id)) : -1;
    if (l >= 0)
      want[l] = sqlite3_column_int64(st, 1);
  }
  sqlite3_reset(st);
  for (int l = 0; l < fac->n_lines; l++) {
    api_model_t *m, *old;
    int64_t have;
    pthread_rwlock_rdlock(&ms->lock);
    have = ms->line[l] ? ms->line[l]->version : 0;
    pthread_rwlock_unlock(&ms->lock);
    if (want[l] <= have || want[l] == ms->failed_version[l])
      continue;
    if (!(st = api_stmt(api, Q_MODEL_BLOB, err, sizeof(err))))
      return;
    sqlite3_bind_text(st, 1, fac->lines[l].id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, want[l]);
    m = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
      m = model_parse(fac, l, want[l], sqlite3_column_blob(st, 0),
                      (size_t)sqlite3_column_bytes(st, 0), err, sizeof(err));
    else
      snprintf(err, sizeof(err), "row vanished");
    sqlite3_reset(st);
    if (!m) {
      ms->failed_version[l] = want[l];
      WW_LOG(WW_LOG_WARN, "MODEL",
             "%s model v%lld not loaded: %s; scoring with the previous "
             "model or the sensor thresholds",
             fac->lines[l].id, (long long)want[l], err);
      continue;
    }
    pthread_rwlock_wrlock(&ms->lock);
    old = ms->line[l];
    ms->line[l] = m;
    pthread_rwlock_unlock(&ms->lock);
    model_free(old);
    WW_LOG(WW_LOG_INFO, "MODEL", "%s: model v%lld loaded (%d trees)", fac->lines[l].id,
           (long long)want[l], ww_iforest_trees(m->forest));
  }
}

void api_models_check(ww_api_t *api) {
  api_models_t *ms = api->models;
  int64_t now = ww_mono_ms();
  int64_t next = __atomic_load_n(&ms->next_check_ms, __ATOMIC_RELAXED);
  if (now < next)
    return;
  if (!__atomic_compare_exchange_n(&ms->next_check_ms, &next, now + MODEL_CHECK_MS, 0,
                                   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
    return; /* another thread is checking */
  reload(api, ms);
}

int api_models_score(ww_api_t *api, const ww_reading_t *rd, double *score, int64_t *version,
                     double *warn, double *crit, int *baseline) {
  api_models_t *ms = api->models;
  const api_model_t *m;
  api_model_t cp;
  double x[API_MAX_FEATS];
  char err[256];
  int ok = 0;
  api_models_check(api);
  /* A reload may swap the model between reading its features and scoring:
   * then the features are built again for the new one (rare; bounded). */
  for (int attempt = 0; attempt < 3 && !ok; attempt++) {
    pthread_rwlock_rdlock(&ms->lock);
    m = ms->line[rd->line_idx];
    if (m) {
      cp = *m;
      cp.forest = NULL; /* not to be used outside the lock */
    }
    pthread_rwlock_unlock(&ms->lock);
    if (!m)
      return 0;
    *baseline = 1;
    if (cp.window) {
      int b = api_feat_load(api, &cp.ctx, rd, x, err, sizeof(err));
      if (b < 0) {
        WW_LOG(WW_LOG_WARN, "MODEL", "%s: %s; scoring with the sensor thresholds",
               api->conf.fac->lines[rd->line_idx].id, err);
        return 0;
      }
      *baseline = b;
    } else {
      for (int i = 0; i < cp.n_feat; i++)
        x[i] = (rd->values[cp.feat_idx[i]] - cp.mean[i]) / cp.scale[i];
    }
    pthread_rwlock_rdlock(&ms->lock);
    m = ms->line[rd->line_idx];
    if (m && m->version == cp.version) {
      *score = ww_iforest_score(m->forest, x);
      *version = m->version;
      *warn = m->warn;
      *crit = m->crit;
      ok = 1;
    }
    pthread_rwlock_unlock(&ms->lock);
  }
  return ok;
}

int api_models_loaded(ww_api_t *api) {
  api_models_t *ms = api->models;
  int n = 0;
  api_models_check(api);
  pthread_rwlock_rdlock(&ms->lock);
  for (int l = 0; l < WW_MAX_LINES; l++)
    n += ms->line[l] != NULL;
  pthread_rwlock_unlock(&ms->lock);
  return n;
}
