/* test_api_features.c: /api/predict's window-context features (api_features.c)
 * against known values, and against the processor's engine: every reading the
 * engine scores with a model gets the same score from the api's features. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_internal.h"
#include "processor.h"
#include "windwatch/config.h"
#include "windwatch/iforest.h"
#include "windwatch/timeutil.h"
#include "ww_test.h"

#define MAXROWS   2000
#define MAXMODELS 32

/* What the engine produced, in order. */
typedef struct row_s {
  api_feat_row_t r; /* values, present, normal, ts */
  char comp[64];
  double score;    /* anomaly_score on sensor-scored */
  int64_t version; /* model_version on sensor-scored */
} row_t;

typedef struct cap_s {
  const ww_factory_t *fac;
  int n;
  row_t rows[MAXROWS];
  int n_models;
  char *models[MAXMODELS]; /* model messages, version k at [k-1] */
} cap_t;

static int cap_produce(void *opaque, ww_proc_out_t out, const char *key, size_t key_len,
                       const char *val, size_t len, const ww_proc_header_t *hdrs, int n_hdrs) {
  cap_t *c = opaque;
  json_t *root;
  (void)key, (void)key_len, (void)hdrs, (void)n_hdrs;
  if (out == WW_OUT_MODELS && c->n_models < MAXMODELS) {
    c->models[c->n_models] = malloc(len + 1);
    if (c->models[c->n_models]) {
      memcpy(c->models[c->n_models], val, len);
      c->models[c->n_models++][len] = '\0';
    }
  }
  if (out != WW_OUT_SCORED || c->n >= MAXROWS)
    return 0;
  root = json_loadb(val, len, 0, NULL);
  if (root) {
    row_t *w = &c->rows[c->n++];
    const char *ts = json_string_value(json_object_get(root, "timestamp"));
    const char *sev = json_string_value(json_object_get(root, "severity"));
    memset(w, 0, sizeof(*w));
    snprintf(w->comp, sizeof(w->comp), "%s",
             json_string_value(json_object_get(root, "component_id")));
    if (ts)
      (void)ww_ts_parse(ts, strlen(ts), &w->r.ts_ms);
    w->r.normal = sev && strcmp(sev, "normal") == 0;
    for (int i = 0; i < c->fac->n_sensors; i++) {
      json_t *v = json_object_get(root, c->fac->sensors[i].name);
      if (json_is_number(v)) {
        w->r.values[i] = json_number_value(v);
        w->r.present |= 1u << i;
      }
    }
    w->score = json_number_value(json_object_get(root, "anomaly_score"));
    w->version = json_integer_value(json_object_get(root, "model_version"));
    json_decref(root);
  }
  return 0;
}

static const ww_factory_t *factory(ww_config_t **cfgp) {
  char err[256];
  char *argv[] = {"x", NULL};
  *cfgp = ww_config_load_yaml(WW_ROLE_PROCESSOR, NULL, 0, NULL, 1, argv, err, sizeof(err));
  if (!*cfgp) {
    fprintf(stderr, "config: %s\n", err);
    return NULL;
  }
  return ww_config_factory(*cfgp);
}

/* Hand-computed: pane k-2 {10, 12}; pane k-1 {20, 22, 24} normal + 100
 * anomalous (3 of 4 normal: the normal ones are the baseline); pane k {30}. */
static void test_known_values(void) {
  api_feat_ctx_t c;
  api_feat_acc_t acc[3];
  api_feat_row_t row;
  ww_reading_t rd;
  double f[2], sd = sqrt(8.0 / 3.0 + 11.0 * 11.0);
  const double k2[] = {10, 12}, k1[] = {20, 22, 24, 100};
  memset(&c, 0, sizeof(c));
  memset(acc, 0, sizeof(acc));
  c.pane = 60000;
  c.min_count = 2;
  c.min_std = 1e-9;
  c.n_feat = 2;
  c.feat_cur[1] = 1;
  memset(&row, 0, sizeof(row));
  row.present = 1;
  row.normal = 1;
  for (int i = 0; i < 2; i++) {
    row.values[0] = k2[i];
    api_feat_acc_add(&acc[0], &row);
  }
  for (int i = 0; i < 4; i++) {
    row.values[0] = k1[i];
    row.normal = i < 3;
    api_feat_acc_add(&acc[1], &row);
  }
  row.values[0] = 30;
  row.normal = 1;
  api_feat_acc_add(&acc[2], &row);
  memset(&rd, 0, sizeof(rd));
  rd.present = 1;
  rd.values[0] = 25;
  CHECK_INT_EQ(api_feat_compute(&c, acc, &rd, f), 1);
  CHECK_DBL_NEAR(f[0], 3.0 / sd, 1e-12);
  CHECK_DBL_NEAR(f[1], -5.0 / sd, 1e-12);
  /* Mostly anomalous pane: all of it is the baseline. */
  memset(&acc[1], 0, sizeof(acc[1]));
  for (int i = 0; i < 4; i++) {
    row.values[0] = k1[i];
    row.normal = i == 0;
    api_feat_acc_add(&acc[1], &row);
  }
  CHECK_INT_EQ(api_feat_compute(&c, acc, &rd, f), 1);
  CHECK_DBL_NEAR(f[0], (25.0 - 41.5) / sqrt(2865.0 - 41.5 * 41.5 + 30.5 * 30.5), 1e-9);
  /* One value in the previous pane: no baseline, neutral features. */
  memset(&acc[1], 0, sizeof(acc[1]));
  api_feat_acc_add(&acc[1], &row);
  CHECK_INT_EQ(api_feat_compute(&c, acc, &rd, f), 0);
  CHECK_DBL_NEAR(f[0], 0.0, 0.0);
  CHECK_DBL_NEAR(f[1], 0.0, 0.0);
  /* An absent sensor is neutral and needs no baseline. */
  rd.present = 0;
  CHECK_INT_EQ(api_feat_compute(&c, acc, &rd, f), 1);
}

/* The context and forest of a model message. @returns 0 or -1. */
static int model_load(const ww_factory_t *fac, const char *js, api_feat_ctx_t *c,
                      ww_iforest_t **forest) {
  json_t *root = json_loads(js, 0, NULL), *ctx, *feats;
  char *fjs = NULL, err[256];
  int rc = -1;
  memset(c, 0, sizeof(*c));
  *forest = NULL;
  if (!root)
    goto done;
  ctx = json_object_get(root, "feature_context");
  feats = json_object_get(root, "features");
  if (strcmp(json_string_value(json_object_get(root, "feature_kind")), "window_z") != 0)
    goto done;
  c->pane = json_integer_value(json_object_get(ctx, "pane"));
  c->min_count = (int)json_integer_value(json_object_get(ctx, "min_count"));
  c->min_std = json_number_value(json_object_get(ctx, "min_std"));
  c->n_feat = (int)json_array_size(feats);
  for (int f = 0; f < c->n_feat && f < API_MAX_FEATS; f++) {
    const char *name = json_string_value(json_array_get(feats, (size_t)f));
    size_t n = strlen(name);
    c->feat_cur[f] = n > 5 && strcmp(name + n - 5, "_zcur") == 0;
    c->feat_sensor[f] = ww_factory_sensor_find(fac, name, n - (c->feat_cur[f] ? 5 : 2));
  }
  fjs = json_dumps(json_object_get(root, "forest"), JSON_COMPACT);
  if (fjs && (*forest = ww_iforest_from_json(fjs, strlen(fjs), err, sizeof(err))) != NULL)
    rc = 0;
done:
  free(fjs);
  json_decref(root);
  return rc;
}

static int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void test_same_as_processor(void) {
  static cap_t c;
  ww_config_t *cfg;
  const ww_factory_t *fac = factory(&cfg);
  ww_proc_conf_t pc;
  ww_proc_output_t out = {cap_produce, &c, NULL, NULL, NULL};
  ww_proc_t *proc;
  char err[256];
  int64_t t0 = 1767225600000; /* 2026-01-01T00:00:00Z */
  uint64_t s = 12345;
  int compared = 0, differ = 0, no_model = 0;
  if (!fac) {
    CHECK(fac != NULL);
    return;
  }
  memset(&c, 0, sizeof(c));
  c.fac = fac;
  ww_proc_conf_defaults(&pc);
  pc.window_type = WW_WINDOW_TIME;
  pc.window_size = 10; /* seconds: panes of 10 s, 3-4 readings of each component */
  pc.model.train_size = 200;
  pc.model.n_trees = 50;
  pc.model.max_samples = 64;
  pc.model.retrain_ms = 300 * 1000;
  proc = ww_proc_new(fac, &pc, &out, err, sizeof(err));
  CHECK(proc != NULL);
  if (!proc) {
    ww_config_destroy(cfg);
    return;
  }
  /* 1500 readings, one a second, components in turn; a slow cycle and a few
   * spikes, so some panes have anomalous readings in them. */
  for (int i = 0; i < 1500; i++) {
    static const char *const comps[] = {"Blade", "Resin Infusion", "Curing Oven"};
    char buf[512], ts[WW_TS_BUFSZ];
    double u[3];
    ww_proc_src_t src = {"sensor-data", 0, i, "turbine-line-1", 14};
    int n;
    for (int k = 0; k < 3; k++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      u[k] = (double)(s >> 11) * 0x1.0p-53 - 0.5;
    }
    ww_ts_format(t0 + i * 1000, ts, sizeof(ts));
    n = snprintf(buf, sizeof(buf),
                 "{\"v\":1,\"production_line\":\"turbine-line-1\",\"component_id\":\"%s\","
                 "\"timestamp\":\"%s\",\"temperature\":%.2f,\"humidity\":%.2f,"
                 "\"sound_level\":%.2f}",
                 comps[i % 3], ts, 25 + 2 * sin(i / 300.0) + u[0] + (i % 97 == 50 ? 9 : 0),
                 50 + 3 * u[1], 65 + 2 * u[2]);
    ww_proc_message(proc, buf, (size_t)n, &src);
  }
  ww_proc_destroy(proc);
  CHECK(c.n_models >= 2);
  CHECK_INT_EQ(c.n, 1500);
  for (int j = 0; j < c.n; j++) {
    const row_t *w = &c.rows[j];
    api_feat_ctx_t ctx;
    api_feat_acc_t acc[3];
    ww_iforest_t *forest;
    ww_reading_t rd;
    double x[API_MAX_FEATS], sc;
    int64_t k;
    if (w->version <= 0) {
      no_model++;
      continue;
    }
    if (w->version > c.n_models || model_load(fac, c.models[w->version - 1], &ctx, &forest) != 0) {
      CHECK(0);
      break;
    }
    /* What api_feat_load() reads: the component's earlier readings of panes k-2 .. k. */
    memset(acc, 0, sizeof(acc));
    k = floor_div(w->r.ts_ms, ctx.pane);
    for (int q = 0; q < j; q++) {
      int64_t p = floor_div(c.rows[q].r.ts_ms, ctx.pane) - (k - 2);
      if (strcmp(c.rows[q].comp, w->comp) == 0 && p >= 0 && p <= 2 &&
          c.rows[q].r.ts_ms < w->r.ts_ms)
        api_feat_acc_add(&acc[p], &c.rows[q].r);
    }
    memset(&rd, 0, sizeof(rd));
    rd.ts_ms = w->r.ts_ms;
    rd.present = w->r.present;
    memcpy(rd.values, w->r.values, sizeof(rd.values));
    /* The engine scores with its model only when there is a baseline. */
    CHECK_INT_EQ(api_feat_compute(&ctx, acc, &rd, x), 1);
    sc = nearbyint(ww_iforest_score(forest, x) * 1e6) / 1e6;
    compared++;
    if (fabs(sc - w->score) > 1e-9) {
      if (differ++ < 5)
        fprintf(stderr, "reading %d (%s, v%" PRId64 "): engine %.6f, api %.6f\n", j, w->comp,
                w->version, w->score, sc);
    }
    ww_iforest_destroy(forest);
  }
  fprintf(stderr,
          "%d readings scored by a model compared (%d models), %d differ; %d before "
          "a model or a baseline\n",
          compared, c.n_models, differ, no_model);
  CHECK(compared >= 1000);
  CHECK_INT_EQ(differ, 0);
  for (int m = 0; m < c.n_models; m++)
    free(c.models[m]);
  ww_config_destroy(cfg);
}

int main(void) {
  RUN(test_known_values);
  RUN(test_same_as_processor);
  return WW_TEST_RESULT();
}
