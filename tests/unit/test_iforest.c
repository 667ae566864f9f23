/* test_iforest.c: the Isolation Forest against known values and scikit-learn. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/iforest.h"
#include "ww_test.h"

static void test_c(void) {
  CHECK_DBL_NEAR(ww_iforest_c(0), 0.0, 0);
  CHECK_DBL_NEAR(ww_iforest_c(1), 0.0, 0);
  CHECK_DBL_NEAR(ww_iforest_c(2), 1.0, 0);
  CHECK_DBL_NEAR(ww_iforest_c(3), 1.207392357589623, 1e-12);
  CHECK_DBL_NEAR(ww_iforest_c(10), 3.748880484475505, 1e-12);
  CHECK_DBL_NEAR(ww_iforest_c(256), 10.244770920119917, 1e-12);
}

/* A deterministic cloud: 512 rows in a 3-D box, and far outliers. */
static double lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*s >> 11) * 0x1.0p-53;
}

static void test_separates_outliers(void) {
  enum { N = 512, D = 3 };
  static double X[N * D];
  uint64_t s = 42;
  char err[256];
  ww_iforest_params_t p;
  ww_iforest_t *f;
  double in[D] = {0.5, 0.5, 0.5}, out[D] = {5, 5, 5}, s_in, s_out;
  for (int i = 0; i < N * D; i++)
    X[i] = lcg(&s);
  ww_iforest_params_default(&p);
  f = ww_iforest_train(X, N, D, &p, err, sizeof(err));
  CHECK(f != NULL);
  if (!f)
    return;
  CHECK_INT_EQ(ww_iforest_trees(f), 100);
  CHECK_INT_EQ(ww_iforest_psi(f), 256);
  CHECK_INT_EQ(ww_iforest_dims(f), 3);
  /* depth limit 8: at most 511 nodes a tree */
  CHECK(ww_iforest_nodes(f) <= 100 * 511);
  s_in = ww_iforest_score(f, in);
  s_out = ww_iforest_score(f, out);
  CHECK(s_in < 0.5);
  CHECK(s_out > 0.6);
  CHECK(s_out > s_in + 0.1);
  CHECK(s_out <= 1.0);
  /* same seed, same forest */
  {
    ww_iforest_t *g = ww_iforest_train(X, N, D, &p, err, sizeof(err));
    CHECK(g != NULL);
    if (g) {
      CHECK_DBL_NEAR(ww_iforest_score(g, in), s_in, 0);
      ww_iforest_destroy(g);
    }
  }
  /* JSON round trip scores identically */
  {
    size_t len = 0;
    char *js = ww_iforest_to_json(f, &len);
    ww_iforest_t *g;
    CHECK(js != NULL);
    if (js) {
      g = ww_iforest_from_json(js, len, err, sizeof(err));
      CHECK(g != NULL);
      if (g) {
        CHECK_DBL_NEAR(ww_iforest_score(g, in), s_in, 0);
        CHECK_DBL_NEAR(ww_iforest_score(g, out), s_out, 0);
        CHECK_INT_EQ(ww_iforest_nodes(g), ww_iforest_nodes(f));
        ww_iforest_destroy(g);
      }
      free(js);
    }
  }
  /* batch equals one by one */
  {
    double sc[2], rows[2 * D] = {0.5, 0.5, 0.5, 5, 5, 5};
    ww_iforest_score_batch(f, rows, 2, sc);
    CHECK_DBL_NEAR(sc[0], s_in, 0);
    CHECK_DBL_NEAR(sc[1], s_out, 0);
  }
  ww_iforest_destroy(f);
}

static void test_small_and_constant(void) {
  /* Fewer rows than max_samples: psi = n; identical rows make a single leaf. */
  double X[8] = {1, 1, 1, 1, 1, 1, 1, 1}, x = 1, rows[3] = {1, -4, NAN}, out[3];
  char err[256];
  ww_iforest_params_t p;
  ww_iforest_t *f;
  ww_iforest_params_default(&p);
  f = ww_iforest_train(X, 8, 1, &p, err, sizeof(err));
  CHECK(f != NULL);
  if (!f)
    return;
  CHECK_INT_EQ(ww_iforest_psi(f), 8);
  CHECK_INT_EQ(ww_iforest_nodes(f), 100);
  /* h = c(8) everywhere, so s = 2^-1 */
  CHECK_DBL_NEAR(ww_iforest_score(f, &x), 0.5, 1e-6);
  /* the batch kernel on trees of one level (depth 0) */
  ww_iforest_score_batch(f, rows, 3, out);
  for (int i = 0; i < 3; i++)
    CHECK(out[i] == ww_iforest_score(f, &rows[i]));
  CHECK_DBL_NEAR(out[0], 0.5, 1e-6);
  ww_iforest_destroy(f);
}

static void test_errors(void) {
  double X[4] = {1, 2, NAN, 4};
  char err[256];
  ww_iforest_params_t p;
  ww_iforest_params_default(&p);
  CHECK(ww_iforest_train(X, 1, 1, &p, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "at least 2");
  CHECK(ww_iforest_train(X, 4, 1, &p, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "not finite");
  CHECK(ww_iforest_train(X, 2, 0, &p, err, sizeof(err)) == NULL);
  CHECK(ww_iforest_from_json("{", 1, err, sizeof(err)) == NULL);
  {
    const char *bad = "{\"n_features\":1,\"psi\":4,\"trees\":[{\"f\":[0],\"t\":[1],\"r\":[0]}]}";
    CHECK(ww_iforest_from_json(bad, strlen(bad), err, sizeof(err)) == NULL);
    CHECK_STR_CONTAINS(err, "bad feature or child");
  }
  ww_iforest_destroy(NULL);
}

/* ---- against scikit-learn ----------------------------------------------- */

typedef struct row_s {
  double x[3];
  int label; /* 1 = planted outlier */
  double sk; /* sklearn's -score_samples(), i.e. s(x) */
  double ours;
} row_t;

static int load_reference(row_t *rows, int max) {
  char path[1024], line[512];
  const char *src = getenv("WW_SOURCE_DIR");
  FILE *fp;
  int n = 0;
  snprintf(path, sizeof(path), "%s/tests/unit/data/iforest_reference.csv", src ? src : ".");
  fp = fopen(path, "r");
  if (!fp) {
    fprintf(stderr, "cannot open %s\n", path);
    return -1;
  }
  while (fgets(line, sizeof(line), fp) && n < max) {
    row_t *r = &rows[n];
    if (line[0] == '#' || line[0] == 'x')
      continue;
    if (sscanf(line, "%lf,%lf,%lf,%d,%lf", &r->x[0], &r->x[1], &r->x[2], &r->label, &r->sk) == 5)
      n++;
  }
  fclose(fp);
  return n;
}

static double auc(const row_t *rows, int n, int ours) {
  /* P(score of a random outlier > score of a random inlier), ties half. */
  double num = 0, pos = 0, neg = 0;
  for (int i = 0; i < n; i++) {
    if (rows[i].label)
      pos++;
    else
      neg++;
  }
  for (int i = 0; i < n; i++) {
    if (!rows[i].label)
      continue;
    for (int j = 0; j < n; j++) {
      double a, b;
      if (rows[j].label)
        continue;
      a = ours ? rows[i].ours : rows[i].sk;
      b = ours ? rows[j].ours : rows[j].sk;
      num += a > b ? 1.0 : a == b ? 0.5 : 0.0;
    }
  }
  return pos > 0 && neg > 0 ? num / (pos * neg) : 0.0;
}

static row_t *sort_rows;
static int sort_by_sk;
static int cmp_idx(const void *a, const void *b) {
  const row_t *x = &sort_rows[*(const int *)a], *y = &sort_rows[*(const int *)b];
  double u = sort_by_sk ? x->sk : x->ours, v = sort_by_sk ? y->sk : y->ours;
  return (u > v) - (u < v);
}

static void ranks(row_t *rows, int n, int by_sk, double *rk) {
  int *idx = malloc((size_t)n * sizeof(*idx));
  if (!idx)
    return;
  for (int i = 0; i < n; i++)
    idx[i] = i;
  sort_rows = rows;
  sort_by_sk = by_sk;
  qsort(idx, (size_t)n, sizeof(*idx), cmp_idx);
  for (int i = 0; i < n; i++)
    rk[idx[i]] = i;
  free(idx);
}

static void test_matches_sklearn(void) {
  enum { MAXR = 2000 };
  static row_t rows[MAXR];
  static double X[MAXR * 3], rk_sk[MAXR], rk_ours[MAXR];
  char err[256];
  ww_iforest_params_t p;
  ww_iforest_t *f;
  int n = load_reference(rows, MAXR);
  double d2 = 0, rho, auc_sk, auc_ours;
  CHECK(n > 100);
  if (n <= 100)
    return;
  for (int i = 0; i < n; i++)
    memcpy(&X[i * 3], rows[i].x, sizeof(rows[i].x));
  ww_iforest_params_default(&p);
  p.seed = 7;
  f = ww_iforest_train(X, (size_t)n, 3, &p, err, sizeof(err));
  CHECK(f != NULL);
  if (!f)
    return;
  for (int i = 0; i < n; i++)
    rows[i].ours = ww_iforest_score(f, rows[i].x);
  ranks(rows, n, 1, rk_sk);
  ranks(rows, n, 0, rk_ours);
  for (int i = 0; i < n; i++)
    d2 += (rk_sk[i] - rk_ours[i]) * (rk_sk[i] - rk_ours[i]);
  rho = 1.0 - 6.0 * d2 / ((double)n * ((double)n * n - 1.0));
  auc_sk = auc(rows, n, 0);
  auc_ours = auc(rows, n, 1);
  fprintf(stderr, "vs scikit-learn on %d rows: Spearman rho %.4f, ROC AUC ours %.4f sklearn %.4f\n",
          n, rho, auc_ours, auc_sk);
  /* Two random forests differ tree by tree; over 100 trees the rankings agree. */
  CHECK(rho >= 0.95);
  CHECK_DBL_NEAR(auc_ours, auc_sk, 0.02);
  ww_iforest_destroy(f);
}

/* ---- fast scoring equals the definition, bit for bit ---------------------- */

/* The definition, straight from the serialised pre-order trees: walk each
 * tree (right if x > threshold, compared as floats), add the leaves' float
 * path lengths as doubles in tree order, s = 2^(-(h / trees) / c(psi)). */
static double ref_score(json_t *model, const double *x) {
  json_t *trees = json_object_get(model, "trees"), *tree;
  double h = 0;
  size_t t;
  json_array_foreach(trees, t, tree) {
    json_t *fa = json_object_get(tree, "f"), *ta = json_object_get(tree, "t"),
           *ra = json_object_get(tree, "r");
    size_t i = 0;
    json_int_t feat;
    while ((feat = json_integer_value(json_array_get(fa, i))) >= 0) {
      float thr = (float)json_number_value(json_array_get(ta, i));
      if ((float)x[feat] > thr)
        i = (size_t)json_integer_value(json_array_get(ra, i));
      else
        i++;
    }
    h += (double)(float)json_number_value(json_array_get(ta, i));
  }
  return exp2(-(h / (double)json_array_size(trees)) /
              ww_iforest_c((double)json_integer_value(json_object_get(model, "psi"))));
}

/* Scores of n rows of d features by ww_iforest_score(), ww_iforest_score_batch()
 * and ww_iforest_score_rows() (rows copied with 2 doubles of padding) all equal
 * ref_score() exactly. @returns the rows that differ. */
static int check_identical(const ww_iforest_t *f, const double *X, size_t n, int d) {
  size_t len = 0, stride = (size_t)d + 2;
  char *js = ww_iforest_to_json(f, &len);
  json_t *model = js ? json_loadb(js, len, 0, NULL) : NULL;
  double *batch = malloc(n * sizeof(double)), *rows = malloc(n * sizeof(double));
  double *Xw = malloc(n * stride * sizeof(double) + 1);
  int bad = 0;
  CHECK(model != NULL && batch && rows && Xw);
  if (!model || !batch || !rows || !Xw) {
    bad = -1;
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    memcpy(&Xw[i * stride], &X[i * (size_t)d], (size_t)d * sizeof(double));
    Xw[i * stride + (size_t)d] = Xw[i * stride + (size_t)d + 1] = NAN;
  }
  ww_iforest_score_batch(f, X, n, batch);
  ww_iforest_score_rows(f, Xw, n, stride, rows);
  for (size_t i = 0; i < n; i++) {
    double want = ref_score(model, &X[i * (size_t)d]), one = ww_iforest_score(f, &X[i * (size_t)d]);
    if (memcmp(&want, &one, sizeof(want)) || memcmp(&want, &batch[i], sizeof(want)) ||
        memcmp(&want, &rows[i], sizeof(want))) {
      if (bad++ < 5)
        fprintf(stderr, "row %zu: definition %.17g one %.17g batch %.17g rows %.17g\n", i, want,
                one, batch[i], rows[i]);
    }
  }
done:
  json_decref(model);
  free(js);
  free(batch);
  free(rows);
  free(Xw);
  return bad;
}

/* Rows to score: half like the training data, a quarter far outside it,
 * the rest exactly on thresholds of the model (x == threshold goes left),
 * and a few non-finite values. */
static void probe_rows(const ww_iforest_t *f, double *X, size_t n, int d, uint64_t *s) {
  size_t len = 0;
  char *js = ww_iforest_to_json(f, &len);
  json_t *model = js ? json_loadb(js, len, 0, NULL) : NULL;
  json_t *tree0 = json_array_get(json_object_get(model, "trees"), 0);
  json_t *ta = json_object_get(tree0, "t");
  size_t nt = json_array_size(ta);
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < d; k++) {
      double *x = &X[i * (size_t)d + (size_t)k];
      if (i % 4 < 2)
        *x = lcg(s);
      else if (i % 4 == 2)
        *x = 6.0 * lcg(s) - 3.0;
      else
        *x = nt ? json_number_value(json_array_get(ta, (size_t)(lcg(s) * (double)nt))) : 0.5;
    }
  X[0] = NAN;
  X[(size_t)d] = INFINITY;
  X[2 * (size_t)d] = -INFINITY;
  json_decref(model);
  free(js);
}

static void check_forest(int d, size_t n_train, int trees, int samples, size_t n_probe) {
  double *X = malloc(n_train * (size_t)d * sizeof(double));
  double *P = malloc(n_probe * (size_t)d * sizeof(double));
  uint64_t s = 99 + (uint64_t)d;
  char err[256];
  ww_iforest_params_t p;
  ww_iforest_t *f = NULL;
  CHECK(X && P);
  if (!X || !P)
    goto done;
  for (size_t i = 0; i < n_train * (size_t)d; i++)
    X[i] = lcg(&s) + (i % 97 == 0 ? 3.0 : 0.0);
  ww_iforest_params_default(&p);
  p.n_trees = trees;
  p.max_samples = samples;
  f = ww_iforest_train(X, n_train, d, &p, err, sizeof(err));
  CHECK(f != NULL);
  if (!f)
    goto done;
  probe_rows(f, P, n_probe, d, &s);
  CHECK_INT_EQ(check_identical(f, P, n_probe, d), 0);
  CHECK_INT_EQ(check_identical(f, X, n_train, d), 0);
  /* ragged ends and empty batches */
  CHECK_INT_EQ(check_identical(f, P, 1, d), 0);
  CHECK_INT_EQ(check_identical(f, P + (size_t)d, 257, d), 0);
  ww_iforest_score_batch(f, P, 0, NULL);
done:
  ww_iforest_destroy(f);
  free(X);
  free(P);
}

static void test_fast_scores_identical(void) {
  check_forest(3, 3000, 100, 256, 3000);
  check_forest(6, 3000, 100, 256, 3000);
  check_forest(1, 500, 30, 64, 1000);
  check_forest(32, 1000, 20, 128, 1000);
  /* every way the AVX2 kernel picks a row's feature: 2, 4 and 8 by blends
   * (5 with unused blend inputs), 9 gathered */
  check_forest(2, 2000, 40, 256, 1500);
  check_forest(4, 2000, 40, 256, 1500);
  check_forest(5, 2000, 40, 256, 1500);
  check_forest(8, 2000, 40, 256, 1500);
  check_forest(9, 2000, 40, 256, 1500);
  /* wide levels: over 128 nodes a level */
  check_forest(3, 4096, 8, 4096, 2000);
  /* beyond the rank layout (levels over 2048 wide, a feature with over
   * 65535 thresholds): the scalar kernel */
  check_forest(1, 40000, 3, 32768, 2000);
}

static void test_fast_scores_sklearn_data(void) {
  enum { MAXR = 2000 };
  static row_t rows[MAXR];
  static double X[MAXR * 3];
  char err[256];
  ww_iforest_params_t p;
  ww_iforest_t *f;
  int n = load_reference(rows, MAXR);
  CHECK(n > 100);
  if (n <= 100)
    return;
  for (int i = 0; i < n; i++)
    memcpy(&X[i * 3], rows[i].x, sizeof(rows[i].x));
  ww_iforest_params_default(&p);
  p.seed = 7;
  f = ww_iforest_train(X, (size_t)n, 3, &p, err, sizeof(err));
  CHECK(f != NULL);
  if (!f)
    return;
  CHECK_INT_EQ(check_identical(f, X, (size_t)n, 3), 0);
  ww_iforest_destroy(f);
}

/* A hand-made model whose path lengths are not multiples of 2^-23: the sum
 * must still be the tree-order double sum. */
static void test_fast_scores_inexact_model(void) {
  const char *js = "{\"n_features\":2,\"psi\":16,\"trees\":["
                   "{\"f\":[0,-1,1,-1,-1],\"t\":[0.5,0.1,0.25,1e-07,3.3],\"r\":[2,0,4,0,0]},"
                   "{\"f\":[1,-1,-1],\"t\":[0.75,1000000.1,0.3],\"r\":[2,0,0]},"
                   "{\"f\":[-1],\"t\":[0.7],\"r\":[0]}]}";
  char err[256];
  double X[2 * 400];
  uint64_t s = 5;
  ww_iforest_t *f = ww_iforest_from_json(js, strlen(js), err, sizeof(err));
  CHECK(f != NULL);
  if (!f)
    return;
  for (int i = 0; i < 2 * 400; i++)
    X[i] = i % 7 == 0 ? 0.5 : i % 11 == 0 ? 0.25 : lcg(&s);
  CHECK_INT_EQ(check_identical(f, X, 400, 2), 0);
  ww_iforest_destroy(f);
}

/* A hand-made exact model (path lengths multiples of 2^-23) whose trees
 * share thresholds, split on -0 and +0 (one threshold: they compare
 * equal), and are probed exactly on them: the rank layout must give the
 * definition's scores. */
static void test_fast_scores_shared_thresholds(void) {
  const char *js = "{\"n_features\":2,\"psi\":16,\"trees\":["
                   "{\"f\":[0,-1,1,-1,-1],\"t\":[0,1,-0.0,2,3.5],\"r\":[2,0,4,0,0]},"
                   "{\"f\":[0,0,-1,-1,-1],\"t\":[-0.0,-1,1.25,2.5,4],\"r\":[4,3,0,0,0]},"
                   "{\"f\":[1,-1,0,-1,-1],\"t\":[0.5,1,0,3,2],\"r\":[2,0,4,0,0]}]}";
  static const double probe[] = {0,      0,     -0.0, -0.0, 0,        -0.0,     -1,
                                 0.5,    -1.5,  0.25, 0.5,  0.5,      1e-45,    -1e-45,
                                 -1e-45, 1e-45, NAN,  0,    INFINITY, -INFINITY};
  char err[256];
  double X[2 * 300];
  uint64_t s = 11;
  ww_iforest_t *f = ww_iforest_from_json(js, strlen(js), err, sizeof(err));
  CHECK(f != NULL);
  if (!f)
    return;
  for (int i = 0; i < 2 * 300; i++)
    X[i] = i < (int)(sizeof(probe) / sizeof(*probe)) ? probe[i] : 4.0 * lcg(&s) - 2.0;
  CHECK_INT_EQ(check_identical(f, X, 300, 2), 0);
  ww_iforest_destroy(f);
}

/* Model thresholds are written by ww_iforest_fmt_float(): every finite float
 * must read back exactly, both by strtof and (as jansson and the api do)
 * through a double; and the text is what %.9g denotes, not longer. */
static void test_float_text(void) {
  static const float fixed[] = {
      0.0f,           -0.0f,           1.0f,     -1.0f,         0.1f,        7.25f,
      100.0f,         123456789.0f,    1e9f,     9.99999944e8f, 1e-5f,       1.2e-6f,
      3.40282347e38f, 1.17549435e-38f, 1.4e-45f, -2.5e-7f,      65.0400009f, 1e10f};
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  int bad = 0;
  for (long i = 0; i < 2000000 + (long)(sizeof(fixed) / sizeof(*fixed)); i++) {
    char buf[WW_IFOREST_FLOAT_BUFSZ + 1], ref[32];
    float v, back;
    uint32_t bits;
    size_t n;
    if (i < (long)(sizeof(fixed) / sizeof(*fixed))) {
      v = fixed[i];
    } else {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      bits = (uint32_t)(x >> 16);
      memcpy(&v, &bits, sizeof(v));
      if (!isfinite(v))
        continue;
    }
    n = ww_iforest_fmt_float(buf, v);
    buf[n] = '\0';
    back = strtof(buf, NULL);
    snprintf(ref, sizeof(ref), "%.9g", (double)v);
    if (back != v || (float)strtod(buf, NULL) != v || strtod(buf, NULL) != strtod(ref, NULL) ||
        n > strlen(ref) + 1) {
      if (bad++ < 5)
        fprintf(stderr, "%.9g written as \"%s\" (%%.9g: %s)\n", (double)v, buf, ref);
    }
  }
  CHECK_INT_EQ(bad, 0);
}

/* Every batch kernel this CPU runs gives the definition's scores: the
 * fast-score tests once per kernel (the default, the fastest, last). A
 * kernel the CPU lacks is named on stderr: its code is not tested here. */
static void test_every_kernel(void) {
  ww_iforest_kernel_t best = ww_iforest_kernel();
  CHECK_INT_EQ(ww_iforest_set_kernel(WW_IFOREST_SCALAR), 0);
  CHECK_INT_EQ(ww_iforest_set_kernel((ww_iforest_kernel_t)99), -1);
  for (int k = WW_IFOREST_SCALAR; k <= WW_IFOREST_AVX512; k++) {
    if (ww_iforest_set_kernel((ww_iforest_kernel_t)k) != 0) {
      CHECK(k > (int)best);
      fprintf(stderr, "  kernel %s: not supported by this CPU, not tested\n",
              ww_iforest_kernel_name((ww_iforest_kernel_t)k));
      continue;
    }
    CHECK_INT_EQ((int)ww_iforest_kernel(), k);
    fprintf(stderr, "  kernel %s\n", ww_iforest_kernel_name((ww_iforest_kernel_t)k));
    test_fast_scores_identical();
    test_fast_scores_sklearn_data();
    test_fast_scores_inexact_model();
    test_fast_scores_shared_thresholds();
  }
  CHECK_INT_EQ(ww_iforest_set_kernel(best), 0);
}

/* The start-up check passes every kernel this CPU runs (a kernel that failed
 * it would not be chosen), and names the others unsupported. */
static void test_kernel_check(void) {
  CHECK_INT_EQ(ww_iforest_kernel_check(WW_IFOREST_SCALAR), 1);
  CHECK_INT_EQ(ww_iforest_kernel_check((ww_iforest_kernel_t)99), -1);
  CHECK_INT_EQ(ww_iforest_kernel_check((ww_iforest_kernel_t)-1), -1);
  for (int k = WW_IFOREST_AVX2; k <= WW_IFOREST_AVX512; k++) {
    int got = ww_iforest_kernel_check((ww_iforest_kernel_t)k);
    fprintf(stderr, "  kernel %s: check %d\n", ww_iforest_kernel_name((ww_iforest_kernel_t)k), got);
    if (k <= (int)ww_iforest_kernel())
      CHECK_INT_EQ(got, 1);
    else
      CHECK_INT_EQ(got, -1);
  }
}

int main(void) {
  RUN(test_c);
  RUN(test_float_text);
  RUN(test_separates_outliers);
  RUN(test_small_and_constant);
  RUN(test_errors);
  RUN(test_matches_sklearn);
  RUN(test_kernel_check);
  RUN(test_every_kernel);
  return WW_TEST_RESULT();
}
