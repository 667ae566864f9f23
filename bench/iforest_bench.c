/*
 * iforest_bench.c: windwatch's Isolation Forest, timed the way the Python
 * baselines (bench/iforest_baseline.py) time scikit-learn and isotree.
 *
 *   iforest_bench gen ROWS OUTLIER_FRACTION SEED OUT.csv
 *       write a data set: header "temperature,humidity,sound_level,label";
 *       normal rows from the factory's sensor model (independent normals
 *       around 25 degC, 50 %RH, 65 dB), label 0; outliers uniform over the
 *       sensors' physical range, label 1.
 *   iforest_bench score IN.csv REPS SCORES_OUT [TREES SAMPLES]
 *       train on every row (100 trees, 256 rows per tree by default, like
 *       sklearn's fit(X)), then score every row REPS times with
 *       ww_iforest_score_batch() on one thread. Prints one JSON object on
 *       stdout: rows, train_s, score_s (one entry per repetition),
 *       best_rows_per_s, single_rows_per_s (ww_iforest_score() called once
 *       per row, as the processor and the api score), nodes, maxrss_kb.
 *       Writes the scores of the last repetition to SCORES_OUT, one per line.
 *       IFOREST_KERNEL=scalar|avx2|avx512 picks the batch kernel (default:
 *       the fastest this CPU runs); the JSON names the one used.
 *
 * Only the scoring call is inside the timed region; reading the CSV is not,
 * as for the baselines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "windwatch/iforest.h"

#define DIMS 3

static uint64_t rng_state;

/* splitmix64: small, fast, and good enough for test data. */
static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static double rng_unit(void) { /* uniform in (0, 1) */
  return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(double mean, double sd) { /* Box-Muller */
  double u = rng_unit(), v = rng_unit();
  return mean + sd * sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int gen(long rows, double frac, uint64_t seed, const char *path) {
  static const double mean[DIMS] = {25.0, 50.0, 65.0}, sd[DIMS] = {1.5, 3.0, 2.0};
  static const double lo[DIMS] = {-10.0, 0.0, 20.0}, hi[DIMS] = {80.0, 100.0, 130.0};
  FILE *fp = fopen(path, "w");
  int rc = 1;
  if (!fp) {
    fprintf(stderr, "iforest_bench: cannot create '%s': %s\n", path, strerror(errno));
    return 1;
  }
  rng_state = seed;
  fprintf(fp, "temperature,humidity,sound_level,label\n");
  for (long i = 0; i < rows; i++) {
    int outlier = rng_unit() < frac;
    for (int d = 0; d < DIMS; d++) {
      double x = outlier ? lo[d] + (hi[d] - lo[d]) * rng_unit() : rng_normal(mean[d], sd[d]);
      fprintf(fp, "%.4f,", x);
    }
    fprintf(fp, "%d\n", outlier);
  }
  if (fclose(fp) != 0) {
    fprintf(stderr, "iforest_bench: cannot write '%s': %s\n", path, strerror(errno));
    goto done;
  }
  rc = 0;
done:
  return rc;
}

/* Reads the gen() format; *X is malloc'ed, the caller frees it. */
static long load(const char *path, double **X) {
  FILE *fp = fopen(path, "r");
  char line[256];
  long n = 0, cap = 1 << 16;
  double *buf = NULL;
  if (!fp) {
    fprintf(stderr, "iforest_bench: cannot open '%s': %s\n", path, strerror(errno));
    return -1;
  }
  if (!fgets(line, sizeof(line), fp) || !(buf = malloc((size_t)cap * DIMS * sizeof(double))))
    goto err;
  while (fgets(line, sizeof(line), fp)) {
    double *row;
    if (n == cap) {
      double *nb = realloc(buf, (size_t)cap * 2 * DIMS * sizeof(double));
      if (!nb)
        goto err;
      buf = nb;
      cap *= 2;
    }
    row = buf + (size_t)n * DIMS;
    if (sscanf(line, "%lf,%lf,%lf", &row[0], &row[1], &row[2]) != 3) {
      fprintf(stderr, "iforest_bench: bad row %ld in '%s': %s", n + 2, path, line);
      goto err;
    }
    n++;
  }
  fclose(fp);
  *X = buf;
  return n;
err:
  fclose(fp);
  free(buf);
  return -1;
}

/* The kernel named by $IFOREST_KERNEL (scalar, avx2, avx512), to compare
 * them; @returns 0 when this CPU cannot run it. */
static int pick_kernel(const char *name) {
  for (int k = WW_IFOREST_SCALAR; k <= WW_IFOREST_AVX512; k++)
    if (!strcmp(name, ww_iforest_kernel_name((ww_iforest_kernel_t)k)))
      return ww_iforest_set_kernel((ww_iforest_kernel_t)k) == 0;
  fprintf(stderr, "iforest_bench: IFOREST_KERNEL='%s' is not scalar, avx2 or avx512\n", name);
  return 0;
}

static int score(const char *in, int reps, const char *scores_path, int trees, int samples) {
  const char *kernel = getenv("IFOREST_KERNEL");
  double *X = NULL, *out = NULL, t0, train_s, best = 0, single_s, sink = 0;
  double *times = calloc((size_t)reps, sizeof(double));
  ww_iforest_t *f = NULL;
  ww_iforest_params_t p;
  char err[256];
  struct rusage ru;
  FILE *fp = NULL;
  long n;
  int rc = 1;

  if (!times || (n = load(in, &X)) < 2)
    goto done;
  if (!(out = malloc((size_t)n * sizeof(double))))
    goto done;
  ww_iforest_params_default(&p);
  p.n_trees = trees;
  p.max_samples = samples;
  if (kernel && !pick_kernel(kernel))
    goto done;
  t0 = now_s();
  if (!(f = ww_iforest_train(X, (size_t)n, DIMS, &p, err, sizeof(err)))) {
    fprintf(stderr, "iforest_bench: train: %s\n", err);
    goto done;
  }
  train_s = now_s() - t0;
  for (int r = 0; r < reps; r++) {
    t0 = now_s();
    ww_iforest_score_batch(f, X, (size_t)n, out);
    times[r] = now_s() - t0;
  }
  t0 = now_s();
  for (long i = 0; i < n; i++)
    sink += ww_iforest_score(f, X + (size_t)i * DIMS);
  single_s = now_s() - t0;
  if (!(fp = fopen(scores_path, "w"))) {
    fprintf(stderr, "iforest_bench: cannot create '%s': %s\n", scores_path, strerror(errno));
    goto done;
  }
  for (long i = 0; i < n; i++)
    fprintf(fp, "%.17g\n", out[i]);
  if (fclose(fp) != 0) {
    fp = NULL;
    fprintf(stderr, "iforest_bench: cannot write '%s'\n", scores_path);
    goto done;
  }
  fp = NULL;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"impl\":\"windwatch\",\"kernel\":\"%s\",\"rows\":%ld,\"trees\":%d,\"samples\":%d,"
         "\"train_s\":%.6f,\"nodes\":%zu,\"score_s\":[",
         ww_iforest_kernel_name(ww_iforest_kernel()), n, trees, samples, train_s,
         ww_iforest_nodes(f));
  for (int r = 0; r < reps; r++) {
    printf("%s%.6f", r ? "," : "", times[r]);
    if (r == 0 || times[r] < best)
      best = times[r];
  }
  /* sink keeps the single-row loop from being optimised away. */
  printf("],\"best_rows_per_s\":%.1f,\"single_rows_per_s\":%.1f,\"checksum\":%.6g,"
         "\"maxrss_kb\":%ld}\n",
         (double)n / best, (double)n / single_s, sink, ru.ru_maxrss);
  rc = 0;
done:
  if (fp)
    fclose(fp);
  ww_iforest_destroy(f);
  free(out);
  free(X);
  free(times);
  return rc;
}

int main(int argc, char **argv) {
  if (argc == 6 && !strcmp(argv[1], "gen"))
    return gen(atol(argv[2]), atof(argv[3]), strtoull(argv[4], NULL, 10), argv[5]);
  if ((argc == 5 || argc == 7) && !strcmp(argv[1], "score"))
    return score(argv[2], atoi(argv[3]), argv[4], argc == 7 ? atoi(argv[5]) : 100,
                 argc == 7 ? atoi(argv[6]) : 256);
  fprintf(stderr, "usage: iforest_bench gen ROWS OUTLIER_FRACTION SEED OUT.csv\n"
                  "       iforest_bench score IN.csv REPS SCORES_OUT [TREES SAMPLES]\n");
  return 2;
}
