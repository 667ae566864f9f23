/* processor_model.c: per-line Isolation Forest lifecycle. */
#include "processor_model.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "windwatch/iforest.h"
#include "windwatch/log.h"
#include "windwatch/timeutil.h"

#define WW_MODEL_NQ 7 /* quantiles kept with a model */
/* A retrained version takes over at the first row offered this many rows
 * after the row that completed its sample, or half the retrain interval of
 * event time later, whichever comes first: a point fixed by the data, so
 * runs over the same input score alike. It must also be late enough that
 * the training is done by then, or the stream waits for it: while a backlog
 * is caught up, event time runs thousands of times faster than the clock,
 * and a minute of it (the point this once was) came before the training
 * was done, so the loop waited 0.55 to 0.66 s per million readings. 4,096
 * rows take 13 ms or more there, on a line of its own; in real time, the
 * simulated factory's 6 readings a second on a line, about 11 minutes. */
#define WW_MODEL_HANDOVER_ROWS 4096
static const double quantile_at[WW_MODEL_NQ] = {0.5, 0.9, 0.95, 0.99, 0.995, 0.999, 1.0};
static const char *const quantile_name[WW_MODEL_NQ] = {"p50",   "p90",   "p95", "p99",
                                                       "p99_5", "p99_9", "max"};

/* One training: its input, and what it gives. */
typedef struct fit_s {
  const double *rows; /* [n * d], not owned */
  int n, d;
  ww_iforest_params_t p;
  ww_model_conf_t conf;
  ww_iforest_t *forest; /* NULL when training failed (err says why) */
  char *json;           /* the forest as JSON (retrains only), or NULL */
  size_t json_len;
  double q[WW_MODEL_NQ]; /* training-score quantiles */
  double warn, crit;     /* thresholds */
  int alike;             /* the rows were all alike: the model flags nothing */
  char err[256];
} fit_t;

struct ww_model_s {
  ww_model_conf_t conf;
  int d;                    /* features per row */
  char line_id[WW_ID_MAX];  /* for logs and the JSON */
  double *buf;              /* [train_size * d] training rows / reservoir */
  int n_buf;                /* rows in buf */
  int64_t seen;             /* normal rows offered since the last training */
  uint64_t rng;             /* reservoir sampling state */
  ww_iforest_t *forest;     /* current model, NULL before the first */
  int64_t version;          /* 0 before the first */
  int64_t trained_at_ms;    /* wall clock of the training */
  int64_t trained_event_ms; /* event time of the row that completed it */
  int n_trained;            /* rows it was trained on */
  double warn, crit;        /* score thresholds in use */
  double q[WW_MODEL_NQ];    /* training-score quantiles */
  char *forest_json;        /* forest as JSON when a retrain made it, else NULL */
  size_t forest_json_len;
  /* A retrain runs on a thread of its own while the stream goes on with
   * the current version (training is a tenth of the loop's work when a
   * backlog is caught up): */
  int job_running; /* job_thread is training job */
  pthread_t job_thread;
  fit_t job;
  double *job_rows;      /* [train_size * d] the reservoir when it started */
  int64_t job_event_ms;  /* event time of the row that completed its sample */
  int64_t job_rows_left; /* rows to offer before it takes over */
};

ww_model_t *ww_model_new(const ww_model_conf_t *mc, int d, const char *line_id) {
  ww_model_t *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->conf = *mc;
  m->d = d;
  snprintf(m->line_id, sizeof(m->line_id), "%s", line_id);
  if (mc->train_size > 0) {
    m->buf = malloc((size_t)mc->train_size * (size_t)d * sizeof(*m->buf));
    if (!m->buf) {
      free(m);
      return NULL;
    }
  }
  m->rng = mc->seed ^ 0x9e3779b97f4a7c15ULL;
  return m;
}

/* Wait for a running retrain and throw its result away. */
static void job_discard(ww_model_t *m) {
  if (!m->job_running)
    return;
  pthread_join(m->job_thread, NULL);
  m->job_running = 0;
  ww_iforest_destroy(m->job.forest);
  free(m->job.json);
  m->job.forest = NULL;
  m->job.json = NULL;
}

static void set_forest_json(ww_model_t *m, char *json, size_t len) {
  free(m->forest_json);
  m->forest_json = json;
  m->forest_json_len = len;
}

void ww_model_destroy(ww_model_t *m) {
  if (!m)
    return;
  job_discard(m);
  ww_iforest_destroy(m->forest);
  set_forest_json(m, NULL, 0);
  free(m->job_rows);
  free(m->buf);
  free(m);
}

void ww_model_reset(ww_model_t *m) {
  job_discard(m);
  set_forest_json(m, NULL, 0);
  ww_iforest_destroy(m->forest);
  m->forest = NULL;
  m->n_buf = 0;
  m->seen = 0;
  m->version = 0;
}

int64_t ww_model_version(const ww_model_t *m) {
  return m->forest ? m->version : 0;
}

void ww_model_state(const ww_model_t *m, ww_model_state_t *st) {
  st->version = m ? ww_model_version(m) : 0;
  st->needed = m && !m->forest && m->conf.train_size > 0 ? m->conf.train_size : 0;
  st->readings = st->needed ? m->n_buf : 0;
}

ww_severity_t ww_model_severity(const ww_model_t *m, double score) {
  return score >= m->crit ? WW_SEV_CRITICAL : score >= m->warn ? WW_SEV_WARNING : WW_SEV_NORMAL;
}

int ww_model_score_rows(const ww_model_t *m, const double *rows, size_t n, double *scores) {
  if (!m->forest)
    return -1;
  ww_iforest_score_batch(m->forest, rows, n, scores);
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double quantile(const double *sorted, int n, double q) {
  double pos = q * (double)(n - 1);
  int lo = (int)pos;
  if (lo >= n - 1)
    return sorted[n - 1];
  return sorted[lo] + (pos - lo) * (sorted[lo + 1] - sorted[lo]);
}

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Train on ft->rows and derive the thresholds: no state of the model is
 * touched, so a retrain can run this on a thread of its own. */
static void fit_run(fit_t *ft) {
  double *scores = malloc((size_t)ft->n * sizeof(*scores));
  ft->forest = ww_iforest_train(ft->rows, (size_t)ft->n, ft->d, &ft->p, ft->err, sizeof(ft->err));
  if (!ft->forest || !scores) {
    if (!scores)
      snprintf(ft->err, sizeof(ft->err), "out of memory");
    ww_iforest_destroy(ft->forest);
    ft->forest = NULL;
    free(scores);
    return;
  }
  ww_iforest_score_batch(ft->forest, ft->rows, (size_t)ft->n, scores);
  qsort(scores, (size_t)ft->n, sizeof(*scores), cmp_double);
  for (int i = 0; i < WW_MODEL_NQ; i++)
    ft->q[i] = quantile(scores, ft->n, quantile_at[i]);
  ft->warn = ft->conf.score_warning > 0 ? ft->conf.score_warning
                                        : quantile(scores, ft->n, ft->conf.q_warning);
  ft->crit = ft->conf.score_critical > 0 ? ft->conf.score_critical
                                         : quantile(scores, ft->n, ft->conf.q_critical);
  if (ft->crit < ft->warn)
    ft->crit = ft->warn;
  /* Identical training rows give every point the same score: such a model
   * cannot tell anything apart, so it must not flag anything either. */
  ft->alike = ft->q[WW_MODEL_NQ - 1] - ft->q[0] < 1e-9;
  if (ft->alike)
    ft->warn = ft->crit = 1.01;
  free(scores);
}

static void *fit_thread(void *arg) {
  fit_t *ft = arg;
  fit_run(ft);
  /* Publishing needs the forest as JSON: make that here too. */
  if (ft->forest)
    ft->json = ww_iforest_to_json(ft->forest, &ft->json_len);
  return NULL;
}

/* The next version's training of the rows in \p rows (the line and version mix into the seed). */
static void fit_prepare(const ww_model_t *m, fit_t *ft, const double *rows) {
  uint64_t h = 1469598103934665603ULL;
  for (const char *c = m->line_id; *c; c++)
    h = (h ^ (uint8_t)*c) * 1099511628211ULL;
  memset(ft, 0, sizeof(*ft));
  ft->rows = rows;
  ft->n = m->n_buf;
  ft->d = m->d;
  ft->conf = m->conf;
  ww_iforest_params_default(&ft->p);
  ft->p.n_trees = m->conf.n_trees;
  ft->p.max_samples = m->conf.max_samples;
  ft->p.seed = m->conf.seed ^ h ^ (uint64_t)(m->version + 1) * 0x9e3779b97f4a7c15ULL;
}

/* Make \p ft (trained) the current version. @returns 1, or -1 if training failed. */
static int install(ww_model_t *m, fit_t *ft, int64_t ts_ms) {
  if (!ft->forest) {
    WW_LOG(WW_LOG_ERROR, "MODEL", "%s: training failed: %s", m->line_id, ft->err);
    free(ft->json);
    ft->json = NULL;
    return -1;
  }
  ww_iforest_destroy(m->forest);
  m->forest = ft->forest;
  ft->forest = NULL;
  set_forest_json(m, ft->json, ft->json_len);
  ft->json = NULL;
  memcpy(m->q, ft->q, sizeof(m->q));
  m->warn = ft->warn;
  m->crit = ft->crit;
  m->version++;
  m->trained_at_ms = ww_now_ms();
  m->trained_event_ms = ts_ms;
  m->n_trained = ft->n;
  if (ft->alike)
    WW_LOG(WW_LOG_WARN, "MODEL",
           "%s: training rows are all alike; the model will not flag "
           "readings until it is retrained on varied data",
           m->line_id);
  WW_LOG(WW_LOG_INFO, "MODEL",
         "%s: model v%" PRId64 " trained on %d readings: warning >= %.4f, critical >= %.4f "
         "(training scores p50 %.4f, max %.4f)",
         m->line_id, m->version, ft->n, m->warn, m->crit, m->q[0], m->q[WW_MODEL_NQ - 1]);
  return 1;
}

/* Train on the reservoir now (the first version: no reading is scored without it). */
static int train_now(ww_model_t *m, int64_t ts_ms) {
  fit_t ft;
  fit_prepare(m, &ft, m->buf);
  fit_run(&ft);
  m->seen = 0;
  return install(m, &ft, ts_ms);
}

/* Start training the next version on a copy of the reservoir. */
static int retrain_start(ww_model_t *m, int64_t ts_ms) {
  size_t bytes = (size_t)m->conf.train_size * (size_t)m->d * sizeof(*m->job_rows);
  if (!m->job_rows && !(m->job_rows = malloc(bytes)))
    return train_now(m, ts_ms);
  memcpy(m->job_rows, m->buf, (size_t)m->n_buf * (size_t)m->d * sizeof(*m->buf));
  fit_prepare(m, &m->job, m->job_rows);
  m->seen = 0; /* the reservoir samples anew from here, as after any training */
  m->job_event_ms = ts_ms;
  m->job_rows_left = WW_MODEL_HANDOVER_ROWS;
  if (pthread_create(&m->job_thread, NULL, fit_thread, &m->job) != 0) {
    fit_run(&m->job); /* no thread: train here, take over at once */
    return install(m, &m->job, ts_ms);
  }
  m->job_running = 1;
  return 0;
}

/* The running retrain takes over (waiting for it if need be). */
static int retrain_finish(ww_model_t *m) {
  pthread_join(m->job_thread, NULL);
  m->job_running = 0;
  return install(m, &m->job, m->job_event_ms);
}

int ww_model_observe(ww_model_t *m, const double *row, int64_t ts_ms) {
  int cap = m->conf.train_size;
  if (cap <= 0)
    return 0;
  m->seen++;
  if (m->n_buf < cap) {
    memcpy(m->buf + (size_t)m->n_buf * (size_t)m->d, row, (size_t)m->d * sizeof(*row));
    m->n_buf++;
  } else {
    /* Algorithm R over the rows seen since the last training. */
    uint64_t j = splitmix(&m->rng) % (uint64_t)(m->seen + cap);
    if (j < (uint64_t)cap)
      memcpy(m->buf + j * (size_t)m->d, row, (size_t)m->d * sizeof(*row));
  }
  if (!m->forest)
    return m->n_buf == cap ? train_now(m, ts_ms) : 0;
  if (m->job_running)
    return --m->job_rows_left <= 0 || ts_ms - m->job_event_ms >= m->conf.retrain_ms / 2
               ? retrain_finish(m)
               : 0;
  if (m->trained_event_ms == INT64_MIN / 2)
    m->trained_event_ms = ts_ms; /* a loaded model: its clock starts now */
  if (m->conf.retrain_ms > 0 && ts_ms - m->trained_event_ms >= m->conf.retrain_ms &&
      m->n_buf == cap)
    return retrain_start(m, ts_ms);
  return 0;
}

int ww_model_finish(ww_model_t *m) {
  return m->job_running ? retrain_finish(m) : 0;
}

char *ww_model_json(const ww_model_t *m, const char *const *feature_names, size_t *len) {
  char trained[WW_TS_BUFSZ], event[WW_TS_BUFSZ], head[4096], *forest, *out;
  size_t flen = 0, off = 0;
  int n;
  if (!m->forest)
    return NULL;
  if (m->forest_json) {
    forest = m->forest_json;
    flen = m->forest_json_len;
  } else if (!(forest = ww_iforest_to_json(m->forest, &flen))) {
    return NULL;
  }
  ww_ts_format(m->trained_at_ms, trained, sizeof(trained));
  ww_ts_format(m->trained_event_ms, event, sizeof(event));
  n = snprintf(head, sizeof(head),
               "{\"v\":1,\"production_line\":\"%s\",\"model_type\":\"IsolationForest\","
               "\"version\":%" PRId64 ",\"trained_at\":\"%s\",\"trained_event_time\":\"%s\","
               "\"samples\":%d,\"n_estimators\":%d,\"max_samples\":%d,\"features\":[",
               m->line_id, m->version, trained, event, m->n_trained, ww_iforest_trees(m->forest),
               ww_iforest_psi(m->forest));
  for (int i = 0; i < m->d && n > 0 && (size_t)n < sizeof(head); i++)
    n += snprintf(head + n, sizeof(head) - (size_t)n, "%s\"%s\"", i ? "," : "", feature_names[i]);
  if (n > 0 && (size_t)n < sizeof(head))
    n += snprintf(head + n, sizeof(head) - (size_t)n,
                  "],\"thresholds\":{\"warning\":%.6f,\"critical\":%.6f},\"score_quantiles\":{",
                  m->warn, m->crit);
  for (int i = 0; i < WW_MODEL_NQ && n > 0 && (size_t)n < sizeof(head); i++)
    n += snprintf(head + n, sizeof(head) - (size_t)n, "%s\"%s\":%.6f", i ? "," : "",
                  quantile_name[i], m->q[i]);
  if (n <= 0 || (size_t)n + 16 >= sizeof(head)) {
    if (forest != m->forest_json)
      free(forest);
    return NULL;
  }
  n += snprintf(head + n, sizeof(head) - (size_t)n, "},\"forest\":");
  out = malloc((size_t)n + flen + 2);
  if (out) {
    memcpy(out, head, (size_t)n);
    off = (size_t)n;
    memcpy(out + off, forest, flen);
    off += flen;
    out[off++] = '}';
    out[off] = '\0';
    if (len)
      *len = off;
  }
  if (forest != m->forest_json)
    free(forest);
  return out;
}

int ww_model_load(ww_model_t *m, const char *json, size_t len, char *errstr, size_t errstr_size) {
  json_error_t jerr;
  json_t *root = json_loadb(json, len, 0, &jerr), *forest, *th, *q;
  char *fjs = NULL;
  ww_iforest_t *f = NULL;
  int rc = -1;
  if (!root) {
    snprintf(errstr, errstr_size, "line %d: %s", jerr.line, jerr.text);
    goto done;
  }
  forest = json_object_get(root, "forest");
  th = json_object_get(root, "thresholds");
  if (!json_is_object(forest) || !json_is_object(th) ||
      !json_is_integer(json_object_get(root, "version"))) {
    snprintf(errstr, errstr_size, "not a windwatch model: needs version, thresholds and forest");
    goto done;
  }
  fjs = json_dumps(forest, JSON_COMPACT);
  if (!fjs) {
    snprintf(errstr, errstr_size, "out of memory");
    goto done;
  }
  f = ww_iforest_from_json(fjs, strlen(fjs), errstr, errstr_size);
  if (!f)
    goto done;
  if (ww_iforest_dims(f) != m->d) {
    snprintf(errstr, errstr_size, "the model has %d features, line %s needs %d", ww_iforest_dims(f),
             m->line_id, m->d);
    goto done;
  }
  job_discard(m); /* a version from elsewhere replaces any retrain under way */
  set_forest_json(m, NULL, 0);
  ww_iforest_destroy(m->forest);
  m->forest = f;
  f = NULL;
  m->version = (int64_t)json_integer_value(json_object_get(root, "version"));
  m->warn = json_number_value(json_object_get(th, "warning"));
  m->crit = json_number_value(json_object_get(th, "critical"));
  if (m->conf.score_warning > 0)
    m->warn = m->conf.score_warning;
  if (m->conf.score_critical > 0)
    m->crit = m->conf.score_critical;
  m->n_trained = (int)json_integer_value(json_object_get(root, "samples"));
  m->trained_at_ms = ww_now_ms();
  m->trained_event_ms = 0;
  q = json_object_get(root, "score_quantiles");
  for (int i = 0; i < WW_MODEL_NQ; i++)
    m->q[i] = json_number_value(json_object_get(q, quantile_name[i]));
  /* The event time of the next reading starts the retrain clock. */
  m->trained_event_ms = INT64_MIN / 2;
  rc = 0;
done:
  ww_iforest_destroy(f);
  free(fjs);
  json_decref(root);
  return rc;
}
