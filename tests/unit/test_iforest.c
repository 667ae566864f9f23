/* test_iforest.c: the Isolation Forest against known values and scikit-learn. */
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
  double X[8] = {1, 1, 1, 1, 1, 1, 1, 1}, x = 1;
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
  int label;     /* 1 = planted outlier */
  double sk;     /* sklearn's -score_samples(), i.e. s(x) */
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

int main(void) {
  RUN(test_c);
  RUN(test_separates_outliers);
  RUN(test_small_and_constant);
  RUN(test_errors);
  RUN(test_matches_sklearn);
  return WW_TEST_RESULT();
}
