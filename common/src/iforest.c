/* iforest.c: Isolation Forest training, allocation-free scoring, JSON (de)serialisation. */
#include "windwatch/iforest.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/log.h"
#include "windwatch/rng.h"

/* One node, 8 bytes. Internal: feat >= 0, go left (next node) if x <= thr,
 * else to tree base + right. Leaf: feat == -1, thr = depth + c(rows). */
typedef struct node_s {
  float thr;      /* split threshold, or the leaf's path length */
  int16_t feat;   /* feature index, -1 for a leaf */
  uint16_t right; /* right child's index within its tree */
} node_t;

/* Scoring layout: each tree level by level, only the nodes that exist; a
 * leaf above the bottom passes down every lower level as a node that never
 * goes right (threshold +inf, no feature), so every row takes exactly
 * `depth` branch-free steps per tree and ends on a bottom-level entry that
 * holds its path length. One row is walked through 16 trees at a time,
 * level by level: the 16 independent load chains overlap in the CPU
 * instead of waiting on each other. A batch is walked tree-major over
 * blocks of rows, so one tree's nodes stay in L1 while many independent
 * rows go through it. */
typedef struct cnode_s {
  float thr;   /* go right if x[fc & 63] > thr; bottom level: the path length */
  uint32_t fc; /* left child's index within the tree << 6 | feature (0 when passing
                  through); bottom level: the path length * 2^Q when `exact` */
} cnode_t;

#define WW_IFOREST_MAX_DEPTH 15          /* scoring layout limit: 2^15 leaves a tree */
#define WW_IFOREST_LANES     16          /* trees walked together for one row */
#define WW_IFOREST_BLOCK     256         /* rows walked together through one tree (vector batch) */
#define WW_IFOREST_SBLOCK    64          /* the same, portable batch */
#define WW_IFOREST_PASS      63          /* feature code of a pass-through node, vector layout */
#define WW_RANK_PASS         0xffffu     /* rank of a node that never goes right, rank layout */
#define WW_RANK_SIGN         0x80000000u /* the rank layout's bias (signed compares) */
#define WW_RANK_MAX_RANKS    0xffffu     /* distinct thresholds a feature, rank layout */
#define WW_RANK_MAX_W        2048        /* entries a level, rank layout (11-bit child index) */
#define WW_IFOREST_Q         23          /* fixed-point path lengths: units of 2^-23 (see unq()) */

struct ww_iforest_s {
  int d;           /* features per row */
  int n_trees;     /* trees */
  int psi;         /* rows per tree */
  double norm;     /* c(psi): E[h] is divided by it */
  node_t *nodes;   /* all trees, back to back, pre-order (training and JSON form) */
  size_t n_nodes;  /* entries in nodes */
  uint32_t *start; /* [n_trees + 1] first node of each tree; start[n_trees] = n_nodes */
  int depth;       /* levels of the scoring layout (the deepest leaf) */
  cnode_t *cn;     /* all trees in the scoring layout, back to back */
  size_t *ctree;   /* [n_trees] first entry of each tree in cn */
  /* Exact sums: E[h] is defined as the double sum of the trees' float path
   * lengths in tree order. When every path length is a multiple of 2^-Q
   * below 128 (always true of trained forests: they are depth + c(n) >= 1
   * rounded to float, under 64), every partial sum of up to 2^23 trees is
   * a double exactly, so the sum is exact and any order gives the same
   * bits: it is then done in 64-bit integers in units of 2^-Q. Otherwise
   * (a hand-made model) the doubles are added in tree order. */
  int exact;
  /* Rank layout (the AVX2 batch; exact forests only). A split x[k] > thr
   * is asked as rank_k(x) > rank_k(thr), rank_k(v) being how many of
   * feature k's distinct thresholds (over the whole forest) are below v.
   * That is the same test for every float v, NaN included (rank 0, never
   * right), and it makes a node one 32-bit word: a level is one table
   * fetch, and a row's ranks are found once a block, by binary search.
   * rthr[roff[k] .. roff[k + 1]) holds feature k's distinct thresholds,
   * ascending. Level l of tree t: pool[lv[2 * (t * (depth + 1) + l)] ..]
   * holds its w = lv[.. + 1] words, zero-padded to WW_PADW(w):
   * (the threshold's rank << 16 | feature << 11 | the left child's index
   * within level l + 1) ^ 2^31, rank WW_RANK_PASS for a leaf passing
   * through. A row's rank r enters as (r << 16) ^ 2^31: one signed compare
   * with the word is then r > rank (the low bits never decide it: r <<
   * 16 is above the word exactly when r is above its rank). The bottom
   * level holds the fixed-point path lengths. It needs levels at most
   * WW_RANK_MAX_W wide and at most WW_RANK_MAX_RANKS thresholds a feature;
   * a forest beyond that scores with the scalar kernel. */
  ww_iforest_kernel_t kernel; /* batch kernel (its layout exists unless scalar) */
  int qrun;                   /* trees whose fixed-point path lengths, summed, stay below 2^32 */
  uint32_t *pool;
  size_t *lv;
  float *rthr;
  uint32_t roff[WW_IFOREST_MAX_FEATURES + 1];
  /* Vector layout (the AVX-512 batch; exact forests only): level l of tree
   * t, w entries, P = WW_VPADW(w): vpool[off..] holds thr[P] (float bits)
   * then fc[P] as in cnode_t but with the child's index within level l + 1
   * and feature 63 when passing through; the bottom level holds the
   * fixed-point path lengths[P]. vlv[(t * (depth + 1) + l) * 3 + 0, 1, 2] =
   * off, w, mask of the features the level's real nodes use. */
  int32_t *vpool;
  size_t *vlv;
};

#define WW_EULER_GAMMA 0.5772156649015329

static int compile(ww_iforest_t *f, char *errstr, size_t errstr_size);

double ww_iforest_c(double n) {
  if (n <= 1.0)
    return 0.0;
  if (n <= 2.0)
    return 1.0;
  return 2.0 * (log(n - 1.0) + WW_EULER_GAMMA) - 2.0 * (n - 1.0) / n;
}

void ww_iforest_params_default(ww_iforest_params_t *p) {
  p->n_trees = 100;
  p->max_samples = 256;
  p->max_depth = 0;
  p->seed = 1;
}

typedef struct build_s {
  const float *X; /* training rows as float, row-major */
  int d;
  int max_depth;
  ww_rng_t rng;
  node_t *nodes; /* output */
  size_t n_nodes, cap;
  size_t base; /* first node of the tree being grown */
} build_t;

/* Grow the subtree of rows idx[0..n) at depth; @returns 0 or -1 (tree too large). */
static int grow(build_t *b, uint32_t *idx, size_t n, int depth) {
  size_t me = b->n_nodes, nl;
  int cand[WW_IFOREST_MAX_FEATURES], n_cand = 0, feat;
  float mn, mx;
  double thr;
  if (me >= b->cap || me - b->base > UINT16_MAX)
    return -1;
  b->n_nodes++;
  /* The candidates are the features not constant on these rows: most
   * differ within the first rows, so only the chosen one is scanned whole. */
  if (depth < b->max_depth && n > 1) {
    for (int k = 0; k < b->d; k++) {
      float first = b->X[(size_t)idx[0] * (size_t)b->d + (size_t)k];
      for (size_t i = 1; i < n; i++) {
        if (b->X[(size_t)idx[i] * (size_t)b->d + (size_t)k] != first) {
          cand[n_cand++] = k;
          break;
        }
      }
    }
  }
  if (n_cand == 0) {
    b->nodes[me].feat = -1;
    b->nodes[me].right = 0;
    b->nodes[me].thr = (float)((double)depth + ww_iforest_c((double)n));
    return 0;
  }
  feat = cand[ww_rng_below(&b->rng, (size_t)n_cand)];
  mn = mx = b->X[(size_t)idx[0] * (size_t)b->d + (size_t)feat];
  for (size_t i = 1; i < n; i++) {
    float v = b->X[(size_t)idx[i] * (size_t)b->d + (size_t)feat];
    if (v < mn)
      mn = v;
    if (v > mx)
      mx = v;
  }
  thr = (double)mn + ww_rng_uniform(&b->rng) * ((double)mx - (double)mn);
  /* As sklearn: a threshold that rounds to the max would send everything left. */
  if ((float)thr >= mx)
    thr = mn;
  b->nodes[me].feat = (int16_t)feat;
  b->nodes[me].thr = (float)thr;
  /* Partition: rows with x <= thr first. */
  nl = 0;
  for (size_t i = 0; i < n; i++) {
    if (b->X[(size_t)idx[i] * (size_t)b->d + (size_t)feat] <= (float)thr) {
      uint32_t t = idx[nl];
      idx[nl++] = idx[i];
      idx[i] = t;
    }
  }
  if (grow(b, idx, nl, depth + 1) != 0)
    return -1;
  b->nodes[me].right = (uint16_t)(b->n_nodes - b->base);
  return grow(b, idx + nl, n - nl, depth + 1);
}

ww_iforest_t *ww_iforest_train(const double *X, size_t n, int d, const ww_iforest_params_t *p,
                               char *errstr, size_t errstr_size) {
  ww_iforest_t *f = NULL;
  float *Xf = NULL;
  uint32_t *perm = NULL;
  build_t b;
  int psi;
  memset(&b, 0, sizeof(b));
  if (n < 2 || n > UINT32_MAX) {
    snprintf(errstr, errstr_size, "isolation forest needs at least 2 training rows (got %zu)", n);
    goto err;
  }
  if (d < 1 || d > WW_IFOREST_MAX_FEATURES) {
    snprintf(errstr, errstr_size, "isolation forest features must be 1..%d (got %d)",
             WW_IFOREST_MAX_FEATURES, d);
    goto err;
  }
  if (p->n_trees < 1 || p->max_samples < 2) {
    snprintf(errstr, errstr_size, "isolation forest needs >= 1 tree and >= 2 samples (got %d, %d)",
             p->n_trees, p->max_samples);
    goto err;
  }
  psi = (size_t)p->max_samples < n ? p->max_samples : (int)n;
  if (2 * (size_t)psi - 1 > UINT16_MAX) {
    snprintf(errstr, errstr_size, "isolation forest max_samples must be <= 32768 (got %d)",
             p->max_samples);
    goto err;
  }
  f = calloc(1, sizeof(*f));
  Xf = malloc(n * (size_t)d * sizeof(*Xf));
  perm = malloc(n * sizeof(*perm));
  if (!f || !Xf || !perm)
    goto nomem;
  for (size_t i = 0; i < n * (size_t)d; i++) {
    if (!isfinite(X[i])) {
      snprintf(errstr, errstr_size, "isolation forest training row %zu feature %d is not finite",
               i / (size_t)d, (int)(i % (size_t)d));
      goto err;
    }
    Xf[i] = (float)X[i];
  }
  for (size_t i = 0; i < n; i++)
    perm[i] = (uint32_t)i;
  f->d = d;
  f->n_trees = p->n_trees;
  f->psi = psi;
  f->norm = ww_iforest_c((double)psi);
  f->start = malloc(((size_t)p->n_trees + 1) * sizeof(*f->start));
  b.cap = (size_t)p->n_trees * (2 * (size_t)psi - 1);
  b.nodes = malloc(b.cap * sizeof(*b.nodes));
  if (!f->start || !b.nodes)
    goto nomem;
  b.X = Xf;
  b.d = d;
  b.max_depth = p->max_depth > 0 ? p->max_depth : (int)ceil(log2((double)(psi > 2 ? psi : 2)));
  ww_rng_seed(&b.rng, p->seed);
  for (int t = 0; t < p->n_trees; t++) {
    /* psi rows without replacement: a partial Fisher-Yates shuffle. */
    for (size_t i = 0; i < (size_t)psi; i++) {
      size_t j = i + ww_rng_below(&b.rng, n - i);
      uint32_t tmp = perm[i];
      perm[i] = perm[j];
      perm[j] = tmp;
    }
    b.base = b.n_nodes;
    f->start[t] = (uint32_t)b.n_nodes;
    if (grow(&b, perm, (size_t)psi, 0) != 0) {
      snprintf(errstr, errstr_size, "isolation forest tree %d outgrew its node budget", t);
      goto err;
    }
  }
  f->start[p->n_trees] = (uint32_t)b.n_nodes;
  f->n_nodes = b.n_nodes;
  f->nodes = realloc(b.nodes, b.n_nodes * sizeof(*b.nodes));
  if (!f->nodes) {
    f->nodes = b.nodes;
  }
  b.nodes = NULL;
  if (compile(f, errstr, errstr_size) != 0)
    goto err;
  free(Xf);
  free(perm);
  return f;
nomem:
  snprintf(errstr, errstr_size, "out of memory training the isolation forest");
err:
  free(b.nodes);
  free(Xf);
  free(perm);
  ww_iforest_destroy(f);
  return NULL;
}

void ww_iforest_destroy(ww_iforest_t *f) {
  if (!f)
    return;
  free(f->nodes);
  free(f->start);
  free(f->cn);
  free(f->ctree);
  free(f->pool);
  free(f->lv);
  free(f->rthr);
  free(f->vpool);
  free(f->vlv);
  free(f);
}

static int tree_depth(const node_t *base, uint32_t i, int depth) {
  int l, r;
  if (base[i].feat < 0)
    return depth;
  l = tree_depth(base, i + 1, depth + 1);
  r = tree_depth(base, base[i].right, depth + 1);
  return l > r ? l : r;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(WW_IFOREST_NO_SIMD)
#define WW_IFOREST_X86 1
#include <immintrin.h>
#endif

static const char *const kernel_names[] = {"scalar", "avx2", "avx512"};

static int kernel_supported(ww_iforest_kernel_t k) {
  switch (k) {
  case WW_IFOREST_SCALAR: return 1;
#ifdef WW_IFOREST_X86
  case WW_IFOREST_AVX2: __builtin_cpu_init(); return __builtin_cpu_supports("avx2");
  case WW_IFOREST_AVX512: __builtin_cpu_init(); return __builtin_cpu_supports("avx512f");
#endif
  default: return 0;
  }
}

/* The kernel forests compiled from now on use; -1 until first asked for. */
static int chosen_kernel = -1;
/* The kernel this thread's next compile() must use (kernel_agrees()), or -1. */
static __thread int forced_kernel = -1;

/* Bit for bit the one-row path's scores, which the tests check against the
 * definition, from batch kernel \p k on a forest of the processor's shape (100
 * trees of 256 rows, 6 features) trained on a fixed pseudo-random set: its
 * own rows, 1,000 more, and extremes. Run before a kernel first scores
 * anything, so a kernel whose code the build machine could not execute (AVX-512
 * on an AVX2 host) proves itself on the machine that runs it, once (7 ms
 * here). @returns 1 (agrees), 0 (differs; or the kernel's layout did not
 * apply to this forest, which test_kernel_check rules out for AVX2, and
 * compile() never falls back from AVX-512). */
static int kernel_agrees(ww_iforest_kernel_t k) {
  enum { ROWS = 1280, TRAIN = 256, D = 6 };
  static const double extremes[] = {0.0, -0.0, 1e30, -1e30, 1e-30, 3.5};
  double *X = malloc(sizeof(double) * ROWS * D), *batch = malloc(sizeof(double) * ROWS);
  ww_iforest_params_t p;
  ww_iforest_t *f = NULL;
  ww_rng_t rng;
  char err[256];
  int ok = 0;
  if (!X || !batch)
    goto done;
  ww_rng_seed(&rng, 20261127);
  for (size_t i = 0; i < (size_t)ROWS * D; i++)
    X[i] = i >= (size_t)(ROWS - 6) * D ? extremes[(i / D + i % D) % 6]
           : i % 7 == 0                ? (double)ww_rng_below(&rng, 5) /* ties */
                                       : ww_rng_gauss(&rng) * (1.0 + (double)(i % D));
  ww_iforest_params_default(&p);
  p.seed = 7;
  forced_kernel = (int)k;
  f = ww_iforest_train(X, TRAIN, D, &p, err, sizeof(err));
  forced_kernel = -1;
  if (!f || f->kernel != k)
    goto done;
  ww_iforest_score_rows(f, X, ROWS, D, batch);
  ok = 1;
  for (size_t r = 0; r < ROWS && ok; r++) {
    double one = ww_iforest_score(f, X + r * D);
    ok = memcmp(&one, &batch[r], sizeof(one)) == 0;
  }
done:
  ww_iforest_destroy(f);
  free(X);
  free(batch);
  return ok;
}

int ww_iforest_kernel_check(ww_iforest_kernel_t k) {
  if ((int)k < 0 || k > WW_IFOREST_AVX512 || !kernel_supported(k))
    return -1;
  return k == WW_IFOREST_SCALAR ? 1 : kernel_agrees(k);
}

/* The fastest kernel this CPU runs that agrees with the one-row path. */
static void choose_kernel(void) {
  int k, expected = -1;
  for (k = WW_IFOREST_AVX512; k > WW_IFOREST_SCALAR; k--) {
    if (!kernel_supported((ww_iforest_kernel_t)k))
      continue;
    if (kernel_agrees((ww_iforest_kernel_t)k))
      break;
    WW_LOG(WW_LOG_WARN, "IFOREST",
           "the %s scoring kernel failed its start-up check (its scores differ from the "
           "portable kernel's); scoring without it (please report this CPU: /proc/cpuinfo)",
           kernel_names[k]);
  }
  /* A kernel ww_iforest_set_kernel() chose meanwhile stays. */
  __atomic_compare_exchange_n(&chosen_kernel, &expected, k, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

ww_iforest_kernel_t ww_iforest_kernel(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  int k = __atomic_load_n(&chosen_kernel, __ATOMIC_RELAXED);
  if (k < 0) {
    pthread_once(&once, choose_kernel);
    k = __atomic_load_n(&chosen_kernel, __ATOMIC_RELAXED);
  }
  return (ww_iforest_kernel_t)k;
}

int ww_iforest_set_kernel(ww_iforest_kernel_t k) {
  if (ww_iforest_kernel_check(k) != 1)
    return -1;
  __atomic_store_n(&chosen_kernel, (int)k, __ATOMIC_RELAXED);
  return 0;
}

const char *ww_iforest_kernel_name(ww_iforest_kernel_t k) {
  return (int)k >= 0 && k <= WW_IFOREST_AVX512 ? kernel_names[k] : "?";
}

/* Entries a rank-layout table of w is padded to: what the AVX2 kernel's
 * permutes load (8, 16 or 32 entries, whole registers), else (gathered) a
 * whole number of cache lines. */
#define WW_PADW(w)                                                                                 \
  ((size_t)(w) <= 8 ? (size_t)8 : (size_t)(w) <= 16 ? (size_t)16 : ((size_t)(w) + 15) & ~(size_t)15)

/* Entries a vector-layout table of w is padded to: what tab_get() loads. */
#define WW_VPADW(w) ((size_t)(w) <= 16 ? (size_t)16 : ((size_t)(w) + 31) & ~(size_t)31)

/* A path length in units of 2^-Q (exact: a power-of-two scaling of a float
 * stays within a double's range and precision). */
static double to_q(float v) {
  return (double)v * (double)(1u << WW_IFOREST_Q);
}

/* A float's bits as an unsigned key in the float's order (-0 just below +0). */
static uint32_t float_key(float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof(u));
  return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/* Each feature's distinct split thresholds, ascending, into f->rthr and
 * f->roff, and each split node's rank among its feature's into rank[node]
 * (WW_RANK_PASS for leaves and NaN thresholds). The splits are sorted by
 * (feature, threshold) with an LSD radix sort, bytes that every key shares
 * skipped. @returns 0, 1 when a feature has too many distinct thresholds
 * for the rank layout, or -1 (out of memory). */
static int rank_thresholds(ww_iforest_t *f, uint32_t *rank) {
  size_t m = 0, used = 0;
  uint64_t *key = malloc((f->n_nodes ? f->n_nodes : 1) * 2 * sizeof(*key));
  uint32_t *idx = malloc((f->n_nodes ? f->n_nodes : 1) * 2 * sizeof(*idx));
  int rc = 0, k = -1;
  if (!key || !idx || !(f->rthr = malloc((f->n_nodes ? f->n_nodes : 1) * sizeof(*f->rthr)))) {
    free(key);
    free(idx);
    return -1;
  }
  for (size_t i = 0; i < f->n_nodes; i++) {
    rank[i] = WW_RANK_PASS;
    if (f->nodes[i].feat >= 0 && !isnan(f->nodes[i].thr)) {
      key[m] = (uint64_t)f->nodes[i].feat << 32 | float_key(f->nodes[i].thr);
      idx[m++] = (uint32_t)i;
    }
  }
  for (int byte = 0; byte < 5; byte++) {
    size_t count[257] = {0};
    uint64_t *key2 = key + f->n_nodes;
    uint32_t *idx2 = idx + f->n_nodes;
    for (size_t i = 0; i < m; i++)
      count[(key[i] >> (8 * byte) & 0xff) + 1]++;
    if (m == 0 || count[(key[0] >> (8 * byte) & 0xff) + 1] == m)
      continue; /* every key has this byte */
    for (int c = 0; c < 256; c++)
      count[c + 1] += count[c];
    for (size_t i = 0; i < m; i++) {
      size_t at = count[key[i] >> (8 * byte) & 0xff]++;
      key2[at] = key[i];
      idx2[at] = idx[i];
    }
    memcpy(key, key2, m * sizeof(*key));
    memcpy(idx, idx2, m * sizeof(*idx));
  }
  /* Ranks in order; -0 and +0 are one threshold (they compare equal). */
  for (size_t i = 0; i < m; i++) {
    const node_t *nd = &f->nodes[idx[i]];
    while (k < nd->feat)
      f->roff[++k] = (uint32_t)used;
    if (used == f->roff[k] || f->rthr[used - 1] != nd->thr) {
      if (used - f->roff[k] == WW_RANK_MAX_RANKS)
        rc = 1;
      f->rthr[used++] = nd->thr;
    }
    rank[idx[i]] = (uint32_t)(used - 1 - f->roff[k]);
  }
  while (k < f->d)
    f->roff[++k] = (uint32_t)used;
  free(key);
  free(idx);
  return rc;
}

/* A rank-layout word: see struct ww_iforest_s. */
static uint32_t rank_word(const node_t *nd, uint32_t rank, size_t child) {
  uint32_t k = (uint32_t)(nd->feat < 0 ? 0 : nd->feat);
  return (rank << 16 | k << 11 | (uint32_t)child) ^ WW_RANK_SIGN;
}

/* Lay out tree t level by level at f->cn + *cused (and, with the rank
 * layout, f->pool + *pused), or only count the space and the widest level
 * (*wmax) when f->cn is NULL. cur and next hold 2^depth entries (a level
 * never has more). */
static void levels(ww_iforest_t *f, int t, const uint32_t *rank, size_t *cused, size_t *pused,
                   size_t *vused, size_t *wmax, uint32_t *cur, uint32_t *next) {
  const node_t *base = f->nodes + f->start[t];
  size_t w = 1, nw, lo = 0; /* lo: the level's first entry within the tree */
  cnode_t *cn = f->cn ? f->cn + *cused : NULL;
  if (f->cn)
    f->ctree[t] = *cused;
  cur[0] = 0;
  for (int l = 0; l <= f->depth; l++) {
    uint32_t *pool = f->cn && f->kernel == WW_IFOREST_AVX2 ? f->pool + *pused : NULL;
    size_t vw = WW_VPADW(w), mask = 0;
    int32_t *vpool = f->cn && f->kernel == WW_IFOREST_AVX512 ? f->vpool + *vused : NULL;
    if (pool) {
      size_t *lv = f->lv + ((size_t)t * (size_t)(f->depth + 1) + (size_t)l) * 2;
      lv[0] = *pused;
      lv[1] = w;
    }
    if (w > *wmax)
      *wmax = w;
    nw = 0;
    for (size_t i = 0; i < w; i++) {
      const node_t *nd = &base[cur[i]];
      int leaf = nd->feat < 0;
      if (l == f->depth) {
        /* compile(): the deepest leaf is at `depth`, so these are leaves. */
        int32_t q = f->exact ? (int32_t)to_q(nd->thr) : 0;
        if (cn) {
          cn[lo + i].thr = nd->thr;
          cn[lo + i].fc = (uint32_t)q;
        }
        if (pool)
          pool[i] = (uint32_t)q;
        if (vpool)
          vpool[i] = q;
        continue;
      }
      if (cn) {
        cn[lo + i].thr = leaf ? INFINITY : nd->thr;
        cn[lo + i].fc = (uint32_t)(lo + w + nw) << 6 | (leaf ? 0u : (uint32_t)nd->feat);
      }
      if (pool)
        pool[i] = rank_word(nd, rank[f->start[t] + cur[i]], nw);
      if (vpool) {
        float thr = leaf ? INFINITY : nd->thr;
        memcpy(&vpool[i], &thr, sizeof(thr));
        vpool[vw + i] =
            (int32_t)((uint32_t)nw << 6 | (leaf ? WW_IFOREST_PASS : (uint32_t)nd->feat));
      }
      if (!leaf)
        mask |= (size_t)1 << nd->feat;
      next[nw++] = leaf ? cur[i] : cur[i] + 1;
      if (!leaf)
        next[nw++] = nd->right;
    }
    if (vpool) {
      size_t *vlv = f->vlv + ((size_t)t * (size_t)(f->depth + 1) + (size_t)l) * 3;
      vlv[0] = *vused;
      vlv[1] = w;
      vlv[2] = mask;
    }
    *pused += WW_PADW(w);
    *vused += (l == f->depth ? 1 : 2) * vw;
    lo += w;
    memcpy(cur, next, nw * sizeof(*cur));
    w = nw;
  }
  *cused += lo;
}

/* Build the scoring layouts from the pre-order trees. @returns 0 or -1. */
static int compile(ww_iforest_t *f, char *errstr, size_t errstr_size) {
  size_t cused = 0, pused = 0, vused = 0, wmax = 0;
  uint32_t *cur = NULL, *next = NULL, *rank = NULL;
  int rc = -1, ranks;
  f->depth = 0;
  for (int t = 0; t < f->n_trees; t++) {
    int dt = tree_depth(f->nodes + f->start[t], 0, 0);
    if (dt > f->depth)
      f->depth = dt;
  }
  if (f->depth > WW_IFOREST_MAX_DEPTH) {
    snprintf(errstr, errstr_size,
             "isolation forest trees deeper than %d levels are not supported "
             "(got %d); lower max_samples or max_depth",
             WW_IFOREST_MAX_DEPTH, f->depth);
    return -1;
  }
  if (f->n_trees < 1) {
    snprintf(errstr, errstr_size, "isolation forest has no trees");
    return -1;
  }
  f->exact = f->n_trees < (1 << 23);
  f->qrun = f->n_trees;
  for (size_t i = 0; i < f->n_nodes && f->exact; i++) {
    double q = to_q(f->nodes[i].thr);
    if (f->nodes[i].feat >= 0)
      continue;
    /* !(q >= 0) also rejects NaN. */
    if (!(q >= 0) || q >= 0x1p30 || q != floor(q))
      f->exact = 0;
    /* exact: 0 <= q < 2^30, so a run is at least 4 trees */
    else if (q > 0 && (double)f->qrun * q > (double)UINT32_MAX)
      f->qrun = (int)((double)UINT32_MAX / q);
  }
  f->kernel = !f->exact            ? WW_IFOREST_SCALAR
              : forced_kernel >= 0 ? (ww_iforest_kernel_t)forced_kernel
                                   : ww_iforest_kernel();
  cur = malloc(((size_t)1 << f->depth) * sizeof(*cur));
  next = malloc(((size_t)1 << f->depth) * sizeof(*next));
  if (!cur || !next)
    goto nomem;
  for (int t = 0; t < f->n_trees; t++)
    levels(f, t, NULL, &cused, &pused, &vused, &wmax, cur, next);
  if (f->kernel == WW_IFOREST_AVX2) {
    if (!(rank = malloc((f->n_nodes ? f->n_nodes : 1) * sizeof(*rank))) ||
        (ranks = rank_thresholds(f, rank)) < 0)
      goto nomem;
    if (ranks > 0 || wmax > WW_RANK_MAX_W)
      f->kernel = WW_IFOREST_SCALAR;
  }
  f->cn = malloc(cused * sizeof(*f->cn));
  f->ctree = malloc((size_t)(unsigned)f->n_trees * sizeof(*f->ctree));
  if (!f->cn || !f->ctree)
    goto nomem;
  if (f->kernel == WW_IFOREST_AVX2) {
    f->pool = calloc(pused, sizeof(*f->pool));
    f->lv = malloc((size_t)(unsigned)f->n_trees * (size_t)(f->depth + 1) * 2 * sizeof(*f->lv));
    if (!f->pool || !f->lv)
      goto nomem;
  }
  if (f->kernel == WW_IFOREST_AVX512) {
    f->vpool = calloc(vused, sizeof(*f->vpool));
    f->vlv = malloc((size_t)(unsigned)f->n_trees * (size_t)(f->depth + 1) * 3 * sizeof(*f->vlv));
    if (!f->vpool || !f->vlv)
      goto nomem;
  }
  cused = pused = vused = 0;
  for (int t = 0; t < f->n_trees; t++)
    levels(f, t, rank, &cused, &pused, &vused, &wmax, cur, next);
  rc = 0;
  goto done;
nomem:
  snprintf(errstr, errstr_size, "out of memory laying out the isolation forest");
done:
  free(cur);
  free(next);
  free(rank);
  return rc;
}

/* s(x) from the sum of the trees' path lengths, as the defining double sum. */
static double finish(const ww_iforest_t *f, double h) {
  return exp2(-(h / f->n_trees) / f->norm);
}

/* The fixed-point sum as a double: exact (see `exact`; |q| < 2^53, and
 * scaling by a power of two is exact). */
static double unq(int64_t q) {
  return (double)q * 0x1p-23;
}

double ww_iforest_score(const ww_iforest_t *f, const double *x) {
  float xf[WW_IFOREST_MAX_FEATURES];
  double h = 0;
  int64_t hq = 0;
  for (int k = 0; k < f->d; k++)
    xf[k] = (float)x[k];
  for (int t0 = 0; t0 < f->n_trees; t0 += WW_IFOREST_LANES) {
    const cnode_t *base[WW_IFOREST_LANES];
    uint32_t idx[WW_IFOREST_LANES] = {0};
    int m = f->n_trees - t0 < WW_IFOREST_LANES ? f->n_trees - t0 : WW_IFOREST_LANES;
    for (int j = 0; j < m; j++)
      base[j] = f->cn + f->ctree[t0 + j];
    for (int lvl = 0; lvl < f->depth; lvl++)
      for (int j = 0; j < m; j++) {
        const cnode_t *nd = base[j] + idx[j];
        idx[j] = (nd->fc >> 6) + (uint32_t)(xf[nd->fc & 63] > nd->thr);
      }
    if (f->exact)
      for (int j = 0; j < m; j++)
        hq += (int32_t)base[j][idx[j]].fc;
    else
      for (int j = 0; j < m; j++)
        h += base[j][idx[j]].thr;
  }
  return finish(f, f->exact ? unq(hq) : h);
}

/* Portable batch: tree-major over blocks of rows, sums per row in tree order. */
static void batch_scalar(const ww_iforest_t *f, const double *X, size_t n, size_t stride,
                         double *out) {
  enum { B = WW_IFOREST_SBLOCK };
  float xf[B * WW_IFOREST_MAX_FEATURES];
  for (size_t r0 = 0; r0 < n; r0 += B) {
    size_t m = n - r0 < B ? n - r0 : B;
    int64_t hq[B] = {0};
    double h[B] = {0};
    for (size_t r = 0; r < m; r++)
      for (int k = 0; k < f->d; k++)
        xf[r * (size_t)f->d + (size_t)k] = (float)X[(r0 + r) * stride + (size_t)k];
    for (int t = 0; t < f->n_trees; t++) {
      const cnode_t *base = f->cn + f->ctree[t];
      uint32_t idx[B] = {0};
      for (int lvl = 0; lvl < f->depth; lvl++)
        for (size_t r = 0; r < m; r++) {
          const cnode_t *nd = base + idx[r];
          idx[r] = (nd->fc >> 6) + (uint32_t)(xf[r * (size_t)f->d + (nd->fc & 63)] > nd->thr);
        }
      if (f->exact)
        for (size_t r = 0; r < m; r++)
          hq[r] += (int32_t)base[idx[r]].fc;
      else
        for (size_t r = 0; r < m; r++)
          h[r] += base[idx[r]].thr;
    }
    for (size_t r = 0; r < m; r++)
      out[r0 + r] = finish(f, f->exact ? unq(hq[r]) : h[r]);
  }
}

#ifdef WW_IFOREST_X86
/* The vector kernels' block: rows r0 .. r0 + m of X, feature-major, with
 * zeros up to \p rows (whole vectors; those rows are walked and dropped). */
static void block_copy(const ww_iforest_t *f, const double *X, size_t stride, size_t r0, size_t m,
                       size_t rows, float xs[][WW_IFOREST_BLOCK]) {
  for (size_t r = 0; r < rows; r++)
    for (int k = 0; k < f->d; k++)
      xs[k][r] = r < m ? (float)X[(r0 + r) * stride + (size_t)k] : 0.0f;
}

/* The scores of a block's m rows from their fixed-point sums. */
static void block_scores(const ww_iforest_t *f, const int64_t *hq, size_t m, double *out) {
  for (size_t r = 0; r < m; r++)
    out[r] = finish(f, unq(hq[r]));
}

#define WW_V  16 /* rows a vector */
#define WW_NV (WW_IFOREST_BLOCK / WW_V)

/* The 16 entries tab[j[i]] of a table of w entries (j < w, padded to WW_VPADW(w)):
 * by in-register permutes up to 128 entries, else gathered. */
__attribute__((target("avx512f"))) static inline __m512i tab_get(const int32_t *tab, size_t w,
                                                                 __m512i j) {
  __m512i r, hi;
  if (w <= 16)
    return _mm512_permutexvar_epi32(j, _mm512_loadu_si512(tab));
  if (w > 128)
    return _mm512_i32gather_epi32(j, tab, 4);
  r = _mm512_permutex2var_epi32(_mm512_loadu_si512(tab), j, _mm512_loadu_si512(tab + 16));
  if (w <= 32)
    return r;
  hi = _mm512_srli_epi32(j, 5);
  for (size_t q = 1; q < (w + 31) / 32; q++) {
    __m512i p = _mm512_permutex2var_epi32(_mm512_loadu_si512(tab + 32 * q), j,
                                          _mm512_loadu_si512(tab + 32 * q + 16));
    r = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(hi, _mm512_set1_epi32((int)q)), r, p);
  }
  return r;
}

/* Batch with AVX-512, only for exact forests (sums in any order): 16 rows a
 * vector, 16 vectors a block, walked tree-major over the vector layout (its
 * own: measured at 28.9x scikit-learn on a CPU with AVX-512, where its
 * permutes reach 128 entries; the rank layout's kernel is AVX2 only).
 * Each level's thresholds, features and children are fetched by
 * in-register permutes; a row's feature value is picked by blends among
 * the features that level uses (none when it uses one). No gathers: they
 * are slow on some CPUs (AMD Zen 4). */
__attribute__((target("avx512f"))) static void batch_avx512(const ww_iforest_t *f, const double *X,
                                                            size_t n, size_t stride, double *out) {
  const int D = f->depth;
  float xs[WW_IFOREST_MAX_FEATURES][WW_IFOREST_BLOCK] __attribute__((aligned(64)));
  int64_t hq[WW_IFOREST_BLOCK] __attribute__((aligned(64)));
  for (size_t r0 = 0; r0 < n; r0 += WW_IFOREST_BLOCK) {
    size_t m = n - r0 < WW_IFOREST_BLOCK ? n - r0 : WW_IFOREST_BLOCK;
    /* Vectors this block needs: a short batch (the processor's readings at
     * hand) walks only its own rows. */
    int nv = (int)((m + WW_V - 1) / WW_V);
    __m512i acc[2 * WW_NV];
    block_copy(f, X, stride, r0, m, (size_t)nv * WW_V, xs);
    for (int v = 0; v < 2 * nv; v++)
      acc[v] = _mm512_setzero_si512();
    for (int t = 0; t < f->n_trees; t++) {
      const size_t *lv = f->vlv + (size_t)t * (size_t)(D + 1) * 3;
      __m512i j[WW_NV];
      for (int v = 0; v < nv; v++)
        j[v] = _mm512_setzero_si512();
      for (int l = 0; l < D; l++, lv += 3) {
        const int32_t *thr = f->vpool + lv[0];
        size_t w = lv[1], pw = WW_VPADW(w);
        size_t mask = lv[2];
        int k0 = mask ? __builtin_ctzll(mask) : 0;
        if (w == 1) {
          /* One node (the root, or a leaf passing through): every row
           * compares the same feature with the same threshold. */
          __m512 th = _mm512_castsi512_ps(_mm512_set1_epi32(thr[0]));
          __m512i ch = _mm512_set1_epi32((int)((uint32_t)thr[pw] >> 6));
          for (int v = 0; v < nv; v++)
            j[v] = _mm512_mask_add_epi32(
                ch, _mm512_cmp_ps_mask(_mm512_load_ps(&xs[k0][v * WW_V]), th, _CMP_GT_OQ), ch,
                _mm512_set1_epi32(1));
          continue;
        }
        for (int v = 0; v < nv; v++) {
          __m512 th = _mm512_castsi512_ps(tab_get(thr, w, j[v]));
          __m512i fc = tab_get(thr + pw, w, j[v]);
          __m512i ch = _mm512_srli_epi32(fc, 6);
          __m512 x = _mm512_load_ps(&xs[k0][v * WW_V]);
          /* Pass-through lanes (threshold +inf) never go right, whatever
           * they compare: they keep feature k0's value. */
          if (mask & (mask - 1)) {
            __m512i fe = _mm512_and_si512(fc, _mm512_set1_epi32(63));
            for (size_t mk = mask & (mask - 1); mk; mk &= mk - 1) {
              int k = __builtin_ctzll(mk);
              x = _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(fe, _mm512_set1_epi32(k)), x,
                                       _mm512_load_ps(&xs[k][v * WW_V]));
            }
          }
          j[v] = _mm512_mask_add_epi32(ch, _mm512_cmp_ps_mask(x, th, _CMP_GT_OQ), ch,
                                       _mm512_set1_epi32(1));
        }
      }
      for (int v = 0; v < nv; v++) {
        __m512i q = tab_get(f->vpool + lv[0], lv[1], j[v]);
        acc[2 * v] = _mm512_add_epi64(acc[2 * v], _mm512_cvtepi32_epi64(_mm512_castsi512_si256(q)));
        acc[2 * v + 1] = _mm512_add_epi64(acc[2 * v + 1],
                                          _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(q, 1)));
      }
    }
    for (int v = 0; v < 2 * nv; v++)
      _mm512_store_si512(&hq[v * 8], acc[v]);
    block_scores(f, hq, m, out + r0);
  }
}

#define WW_V8 8 /* rows an AVX2 vector */
_Static_assert(WW_IFOREST_BLOCK == 256, "walk_level() indexes R[feature][row] by shifts");
#define WW_NV8 (WW_IFOREST_BLOCK / WW_V8)

/* How a level's words are fetched: by permutes of the table held in 1, 2
 * or 4 registers (up to 8, 16 or 32 entries), else gathered. Four
 * permutes and three blends beat one gather on AMD Zen 3. */
enum { WW_FETCH8 = 8, WW_FETCH16 = 16, WW_FETCH32 = 32, WW_GATHER = 0 };

static int fetch_class(size_t w) {
  return w <= 8 ? WW_FETCH8 : w <= 16 ? WW_FETCH16 : w <= 32 ? WW_FETCH32 : WW_GATHER;
}

/* Lane i: lane i of a, or of b where bit `bit` of c[i] is set. */
__attribute__((target("avx2"), always_inline)) static inline __m256i pick8(__m256i a, __m256i b,
                                                                           __m256i c, int bit) {
  return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b),
                                              _mm256_castsi256_ps(_mm256_slli_epi32(c, 31 - bit))));
}

/* The words tab[j[i] & 0x7ff] of a level of the fetch class `cls`, its
 * first 32 words already in t[0..3] when cls is a permute class. (A walk
 * leaves the rest of a node's word above a row's index: permutes and
 * picks read only its low bits, a gather masks it.) */
__attribute__((target("avx2"), always_inline)) static inline __m256i
fetch8(const uint32_t *tab, int cls, const __m256i *t, __m256i j) {
  __m256i r;
  if (cls == WW_GATHER)
    return _mm256_i32gather_epi32((const int *)tab, _mm256_and_si256(j, _mm256_set1_epi32(0x7ff)),
                                  4);
  r = _mm256_permutevar8x32_epi32(t[0], j);
  if (cls == WW_FETCH8)
    return r;
  r = pick8(r, _mm256_permutevar8x32_epi32(t[1], j), j, 3);
  if (cls == WW_FETCH16)
    return r;
  return pick8(
      r, pick8(_mm256_permutevar8x32_epi32(t[2], j), _mm256_permutevar8x32_epi32(t[3], j), j, 3), j,
      4);
}

/* A permute class's table (its first cls / 8 registers) into t[]. */
__attribute__((target("avx2"), always_inline)) static inline void tab_regs(const uint32_t *tab,
                                                                           int cls, __m256i *t) {
  if (cls != WW_GATHER)
    for (int q = 0; q < cls / 8; q++)
      t[q] = _mm256_loadu_si256((const __m256i *)(tab + 8 * q));
}

/* One level for nv vectors of rows: j[v] (each row's node) moves to the
 * child. R holds the block's biased ranks, feature-major. A row's rank of
 * the node's feature is picked by a tree of blends on the feature's bits
 * (d <= 8 features, the tree pruned to d leaves), or gathered (d > 8). */
__attribute__((target("avx2"), always_inline)) static inline void
walk_level(const uint32_t *tab, int cls, int d, int nv, __m256i *j,
           const int32_t (*R)[WW_IFOREST_BLOCK]) {
  const __m256i row = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i t[4];
  tab_regs(tab, cls, t);
  for (int v = 0; v < nv; v++) {
    __m256i wd = fetch8(tab, cls, t, j[v]), x;
#define WW_R(k) _mm256_load_si256((const __m256i *)&R[k][v * WW_V8])
/* feature bit b of the word is bit 11 + b */
#define WW_P(a, b, bit) pick8(a, b, wd, 11 + (bit))
    if (d > 8) {
      /* R[feature][row]: the feature times WW_IFOREST_BLOCK (2^8) plus the row. */
      __m256i at = _mm256_add_epi32(
          _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(wd, 11), _mm256_set1_epi32(31)), 8),
          _mm256_add_epi32(row, _mm256_set1_epi32(v * WW_V8)));
      x = _mm256_i32gather_epi32(&R[0][0], at, 4);
    } else {
      __m256i lo, hi;
      x = WW_R(0);
      if (d >= 2)
        x = WW_P(x, WW_R(1), 0);
      if (d >= 3) {
        hi = d >= 4 ? WW_P(WW_R(2), WW_R(3), 0) : WW_R(2);
        x = WW_P(x, hi, 1);
      }
      if (d >= 5) {
        lo = d >= 6 ? WW_P(WW_R(4), WW_R(5), 0) : WW_R(4);
        if (d >= 7) {
          hi = d >= 8 ? WW_P(WW_R(6), WW_R(7), 0) : WW_R(6);
          lo = WW_P(lo, hi, 1);
        }
        x = WW_P(x, lo, 2);
      }
    }
#undef WW_P
#undef WW_R
    /* Right (child + 1) when the row's rank is above the node's: a true
     * compare is all ones, and minus -1 adds one. The word's low 11 bits
     * are the child; the bits above stay until fetch8() (see there). */
    j[v] = _mm256_sub_epi32(wd, _mm256_cmpgt_epi32(x, wd));
  }
}

/* walk_level() with its fetch class and feature count as constants, for
 * the compiler. */
__attribute__((target("avx2"))) static void walk_any(const uint32_t *tab, int cls, int d, int nv,
                                                     __m256i *j,
                                                     const int32_t (*R)[WW_IFOREST_BLOCK]) {
#define WW_WALK(c)                                                                                 \
  switch (d) {                                                                                     \
  case 1: walk_level(tab, c, 1, nv, j, R); return;                                                 \
  case 2: walk_level(tab, c, 2, nv, j, R); return;                                                 \
  case 3: walk_level(tab, c, 3, nv, j, R); return;                                                 \
  case 4: walk_level(tab, c, 4, nv, j, R); return;                                                 \
  case 5: walk_level(tab, c, 5, nv, j, R); return;                                                 \
  case 6: walk_level(tab, c, 6, nv, j, R); return;                                                 \
  case 7: walk_level(tab, c, 7, nv, j, R); return;                                                 \
  case 8: walk_level(tab, c, 8, nv, j, R); return;                                                 \
  default: walk_level(tab, c, 9, nv, j, R); return;                                                \
  }
  switch (cls) {
  case WW_FETCH8: WW_WALK(WW_FETCH8)
  case WW_FETCH16: WW_WALK(WW_FETCH16)
  case WW_FETCH32: WW_WALK(WW_FETCH32)
  default: WW_WALK(WW_GATHER)
  }
#undef WW_WALK
}

/* Block rows' ranks of feature k, in place: R[r] holds the row's value as
 * float bits and gets r = how many of the feature's thresholds are below
 * it, as the walk compares it: (r << 16) ^ WW_RANK_SIGN.
 * Every row takes the same steps (a branch-free lower bound), so a step is
 * one gather per 8 rows, and the block's vectors take it together: their
 * gathers overlap instead of waiting on each other. */
__attribute__((target("avx2"))) static void block_ranks(const ww_iforest_t *f, int k, int nv,
                                                        int32_t *R) {
  const float *T = f->rthr + f->roff[k];
  uint32_t len = f->roff[k + 1] - f->roff[k];
  __m256 x[WW_NV8];
  __m256i at[WW_NV8];
  for (int v = 0; v < nv; v++) {
    x[v] = _mm256_castsi256_ps(_mm256_load_si256((const __m256i *)&R[v * WW_V8]));
    at[v] = _mm256_setzero_si256();
  }
  /* Invariant: the answer is in at .. at + len, and at + len <= the count. */
  for (; len > 1; len -= len / 2) {
    const float *probe = T + len / 2 - 1;
    __m256i half = _mm256_set1_epi32((int)(len / 2));
    for (int v = 0; v < nv; v++)
      at[v] = _mm256_add_epi32(
          at[v], _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(
                                      _mm256_i32gather_ps(probe, at[v], 4), x[v], _CMP_LT_OQ)),
                                  half));
  }
  for (int v = 0; v < nv; v++) {
    if (len == 1)
      at[v] = _mm256_sub_epi32(at[v], _mm256_castps_si256(_mm256_cmp_ps(
                                          _mm256_i32gather_ps(T, at[v], 4), x[v], _CMP_LT_OQ)));
    _mm256_store_si256(
        (__m256i *)&R[v * WW_V8],
        _mm256_xor_si256(_mm256_slli_epi32(at[v], 16), _mm256_set1_epi32((int)WW_RANK_SIGN)));
  }
}

/* Batch with AVX2 over the rank layout, exact forests only (sums in any
 * order): blocks of 256 rows walked tree-major, 8 rows a vector, so a
 * tree's levels stay in L1 while 32 independent vectors go through each. */
__attribute__((target("avx2"))) static void batch_avx2(const ww_iforest_t *f, const double *X,
                                                       size_t n, size_t stride, double *out) {
  const int d = f->d, D = f->depth;
  int32_t R[WW_IFOREST_MAX_FEATURES][WW_IFOREST_BLOCK] __attribute__((aligned(32)));
  int64_t hq[WW_IFOREST_BLOCK] __attribute__((aligned(32)));
  for (size_t r0 = 0; r0 < n; r0 += WW_IFOREST_BLOCK) {
    size_t m = n - r0 < WW_IFOREST_BLOCK ? n - r0 : WW_IFOREST_BLOCK;
    /* Vectors this block needs: a short batch (the processor's readings at
     * hand) walks only its own rows; the padding rows are dropped. */
    int nv = (int)((m + WW_V8 - 1) / WW_V8);
    __m256i acc[2 * WW_NV8], run[WW_NV8];
    for (int k = 0; k < d; k++) {
      for (size_t r = 0; r < (size_t)nv * WW_V8; r++) {
        float x = r < m ? (float)X[(r0 + r) * stride + (size_t)k] : 0.0f;
        memcpy(&R[k][r], &x, sizeof(x));
      }
      block_ranks(f, k, nv, R[k]);
    }
    for (int v = 0; v < nv; v++) {
      acc[2 * v] = acc[2 * v + 1] = _mm256_setzero_si256();
      run[v] = _mm256_setzero_si256();
    }
    for (int t = 0, in_run = 0; t < f->n_trees; t++) {
      const size_t *lv = f->lv + (size_t)t * (size_t)(D + 1) * 2;
      __m256i j[WW_NV8];
      if (D > 0) {
        /* The root: one node, the same word for every row. */
        uint32_t w0 = f->pool[lv[0]];
        const int32_t *r = R[w0 >> 11 & 31];
        __m256i wd = _mm256_set1_epi32((int)w0);
        for (int v = 0; v < nv; v++)
          j[v] = _mm256_sub_epi32(
              wd, _mm256_cmpgt_epi32(_mm256_load_si256((const __m256i *)&r[v * WW_V8]), wd));
        lv += 2;
      } else {
        for (int v = 0; v < nv; v++)
          j[v] = _mm256_setzero_si256();
      }
      for (int l = 1; l < D; l++, lv += 2)
        walk_any(f->pool + lv[0], fetch_class(lv[1]), d, nv, j,
                 (const int32_t(*)[WW_IFOREST_BLOCK])R);
      {
        const uint32_t *tab = f->pool + lv[0];
        int cls = fetch_class(lv[1]);
        __m256i tq[4];
        tab_regs(tab, cls, tq);
        for (int v = 0; v < nv; v++)
          run[v] = _mm256_add_epi32(run[v], fetch8(tab, cls, tq, j[v]));
      }
      /* A run's sums stay below 2^32 (see qrun): then into 64 bits. */
      if (++in_run == f->qrun || t == f->n_trees - 1) {
        for (int v = 0; v < nv; v++) {
          acc[2 * v] =
              _mm256_add_epi64(acc[2 * v], _mm256_cvtepu32_epi64(_mm256_castsi256_si128(run[v])));
          acc[2 * v + 1] = _mm256_add_epi64(
              acc[2 * v + 1], _mm256_cvtepu32_epi64(_mm256_extracti128_si256(run[v], 1)));
          run[v] = _mm256_setzero_si256();
        }
        in_run = 0;
      }
    }
    for (int v = 0; v < 2 * nv; v++)
      _mm256_store_si256((__m256i *)&hq[v * 4], acc[v]);
    block_scores(f, hq, m, out + r0);
  }
}
#endif

void ww_iforest_score_rows(const ww_iforest_t *f, const double *X, size_t n, size_t stride,
                           double *out) {
#ifdef WW_IFOREST_X86
  if (f->kernel == WW_IFOREST_AVX512) {
    batch_avx512(f, X, n, stride, out);
    return;
  }
  if (f->kernel == WW_IFOREST_AVX2) {
    batch_avx2(f, X, n, stride, out);
    return;
  }
#endif
  batch_scalar(f, X, n, stride, out);
}

void ww_iforest_score_batch(const ww_iforest_t *f, const double *X, size_t n, double *out) {
  ww_iforest_score_rows(f, X, n, (size_t)f->d, out);
}

int ww_iforest_dims(const ww_iforest_t *f) {
  return f->d;
}
int ww_iforest_trees(const ww_iforest_t *f) {
  return f->n_trees;
}
int ww_iforest_psi(const ww_iforest_t *f) {
  return f->psi;
}
size_t ww_iforest_nodes(const ww_iforest_t *f) {
  return f->n_nodes;
}

/* ---- JSON ---------------------------------------------------------------- */

typedef struct sbuf_s {
  char *p;
  size_t len, cap;
  int oom;
} sbuf_t;

/* Room for \p need more bytes. @returns 0, or -1 with oom set. */
static int sb_room(sbuf_t *sb, size_t need) {
  size_t ncap;
  char *np;
  if (sb->oom)
    return -1;
  if (sb->cap - sb->len > need)
    return 0;
  ncap = sb->cap ? sb->cap : 65536;
  while (ncap - sb->len <= need)
    ncap *= 2;
  np = realloc(sb->p, ncap);
  if (!np) {
    sb->oom = 1;
    return -1;
  }
  sb->p = np;
  sb->cap = ncap;
  return 0;
}

/* \p u in decimal at \p buf. @returns its length. */
static size_t fmt_u32(char *buf, uint32_t u) {
  char tmp[10], *p = tmp + sizeof(tmp);
  size_t n;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  n = (size_t)(tmp + sizeof(tmp) - p);
  memcpy(buf, p, n);
  return n;
}

/* 10^k as a double for k in -54..54, correctly rounded. */
static double pow10_of(int k) {
  static const double table[109] = {1e-54,
                                    1e-53,
                                    1e-52,
                                    1e-51,
                                    1e-50,
                                    1e-49,
                                    1e-48,
                                    1e-47,
                                    1e-46,
                                    1e-45,
                                    1e-44,
                                    1e-43,
                                    1e-42,
                                    1e-41,
                                    1e-40,
                                    1e-39,
                                    1e-38,
                                    1e-37,
                                    1e-36,
                                    1e-35,
                                    1e-34,
                                    1e-33,
                                    1e-32,
                                    1e-31,
                                    1e-30,
                                    1e-29,
                                    1e-28,
                                    1e-27,
                                    1e-26,
                                    1e-25,
                                    1e-24,
                                    1e-23,
                                    1e-22,
                                    1e-21,
                                    1e-20,
                                    1e-19,
                                    1e-18,
                                    1e-17,
                                    1e-16,
                                    1e-15,
                                    1e-14,
                                    1e-13,
                                    1e-12,
                                    1e-11,
                                    1e-10,
                                    1e-09,
                                    1e-08,
                                    1e-07,
                                    1e-06,
                                    1e-05,
                                    0.0001,
                                    0.001,
                                    0.01,
                                    0.1,
                                    1.0,
                                    10.0,
                                    100.0,
                                    1000.0,
                                    10000.0,
                                    100000.0,
                                    1000000.0,
                                    10000000.0,
                                    100000000.0,
                                    1000000000.0,
                                    10000000000.0,
                                    100000000000.0,
                                    1000000000000.0,
                                    10000000000000.0,
                                    100000000000000.0,
                                    1000000000000000.0,
                                    1e+16,
                                    1e+17,
                                    1e+18,
                                    1e+19,
                                    1e+20,
                                    1e+21,
                                    1e+22,
                                    1e+23,
                                    1e+24,
                                    1e+25,
                                    1e+26,
                                    1e+27,
                                    1e+28,
                                    1e+29,
                                    1e+30,
                                    1e+31,
                                    1e+32,
                                    1e+33,
                                    1e+34,
                                    1e+35,
                                    1e+36,
                                    1e+37,
                                    1e+38,
                                    1e+39,
                                    1e+40,
                                    1e+41,
                                    1e+42,
                                    1e+43,
                                    1e+44,
                                    1e+45,
                                    1e+46,
                                    1e+47,
                                    1e+48,
                                    1e+49,
                                    1e+50,
                                    1e+51,
                                    1e+52,
                                    1e+53,
                                    1e+54};
  return table[k + 54];
}

/* A model is a few hundred thousand numbers and a new one is published
 * at every retraining, on the stream's thread: printf("%.9g") made that a
 * tenth of the processor's time. The digits come from one multiplication in
 * double precision instead, whose error (2^-53 relative) is far below the
 * half unit in the ninth digit (5e-9) that rounding may add; nine digits
 * land within a third of a float's half-spacing (2^-25, 3e-8) of it, so the
 * text reads back as the same float however it is parsed. */
size_t ww_iforest_fmt_float(char *buf, float v) {
  double d = fabs((double)v), m;
  int e, nd = 9, point;
  uint32_t digits;
  char dig[10];
  size_t n = 0;
  if (d == 0) {
    buf[0] = '0';
    return 1;
  }
  if (v < 0)
    buf[n++] = '-';
  e = (int)floor(log10(d)); /* decimal exponent of the leading digit */
  m = nearbyint(d * pow10_of(8 - e));
  if (m >= 1e9) { /* log10 rounded down past a power of ten, or m rounded up to one */
    e++;
    m = nearbyint(d * pow10_of(8 - e));
  } else if (m < 1e8) {
    e--;
    m = nearbyint(d * pow10_of(8 - e));
  }
  digits = (uint32_t)m;
  while (nd > 1 && digits % 10 == 0) {
    digits /= 10;
    nd--;
  }
  fmt_u32(dig, digits);   /* nd digits */
  if (e < -5 || e >= 9) { /* d.ddde-XX, as %g would */
    buf[n++] = dig[0];
    if (nd > 1) {
      buf[n++] = '.';
      memcpy(buf + n, dig + 1, (size_t)nd - 1);
      n += (size_t)nd - 1;
    }
    buf[n++] = 'e';
    if (e < 0)
      buf[n++] = '-';
    n += fmt_u32(buf + n, (uint32_t)(e < 0 ? -e : e));
    return n;
  }
  point = e + 1; /* digits before the decimal point */
  if (point <= 0) {
    buf[n++] = '0';
    buf[n++] = '.';
    for (int i = 0; i < -point; i++)
      buf[n++] = '0';
    memcpy(buf + n, dig, (size_t)nd);
    return n + (size_t)nd;
  }
  if (nd <= point) {
    memcpy(buf + n, dig, (size_t)nd);
    n += (size_t)nd;
    for (int i = nd; i < point; i++)
      buf[n++] = '0';
    return n;
  }
  memcpy(buf + n, dig, (size_t)point);
  n += (size_t)point;
  buf[n++] = '.';
  memcpy(buf + n, dig + point, (size_t)(nd - point));
  return n + (size_t)(nd - point);
}

/* One array of a tree's nodes: "\"KEY\":[v,v,...]". */
static void sb_node_array(sbuf_t *sb, const ww_iforest_t *f, uint32_t a, uint32_t z, char key) {
  if (sb_room(sb, 8 + (size_t)(z - a) * (WW_IFOREST_FLOAT_BUFSZ + 1)) != 0)
    return;
  sb->p[sb->len++] = '"';
  sb->p[sb->len++] = key;
  sb->p[sb->len++] = '"';
  sb->p[sb->len++] = ':';
  sb->p[sb->len++] = '[';
  for (uint32_t i = a; i < z; i++) {
    const node_t *nd = &f->nodes[i];
    if (i > a)
      sb->p[sb->len++] = ',';
    if (key == 't')
      sb->len += ww_iforest_fmt_float(sb->p + sb->len, nd->thr);
    else if (key == 'r')
      sb->len += fmt_u32(sb->p + sb->len, nd->right);
    else if (nd->feat < 0) {
      sb->p[sb->len++] = '-';
      sb->len += fmt_u32(sb->p + sb->len, (uint32_t)-nd->feat);
    } else {
      sb->len += fmt_u32(sb->p + sb->len, (uint32_t)nd->feat);
    }
  }
  sb->p[sb->len++] = ']';
  sb->p[sb->len] = '\0';
}

static void sb_printf(sbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf_t *sb, const char *fmt, ...) {
  va_list ap;
  int n;
  if (sb->oom)
    return;
  if (sb->cap - sb->len < 64) {
    size_t ncap = sb->cap ? sb->cap * 2 : 65536;
    char *np = realloc(sb->p, ncap);
    if (!np) {
      sb->oom = 1;
      return;
    }
    sb->p = np;
    sb->cap = ncap;
  }
  va_start(ap, fmt);
  n = vsnprintf(sb->p + sb->len, sb->cap - sb->len, fmt, ap);
  va_end(ap);
  if (n < 0) {
    sb->oom = 1;
    return;
  }
  if ((size_t)n >= sb->cap - sb->len) {
    size_t ncap = sb->cap * 2 + (size_t)n;
    char *np = realloc(sb->p, ncap);
    if (!np) {
      sb->oom = 1;
      return;
    }
    sb->p = np;
    sb->cap = ncap;
    va_start(ap, fmt);
    n = vsnprintf(sb->p + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
  }
  sb->len += (size_t)n;
}

char *ww_iforest_to_json(const ww_iforest_t *f, size_t *len) {
  sbuf_t sb = {0};
  sb_printf(&sb, "{\"n_features\":%d,\"psi\":%d,\"trees\":[", f->d, f->psi);
  for (int t = 0; t < f->n_trees; t++) {
    uint32_t a = f->start[t], z = f->start[t + 1];
    sb_printf(&sb, "%s{", t ? "," : "");
    sb_node_array(&sb, f, a, z, 'f');
    sb_printf(&sb, ",");
    sb_node_array(&sb, f, a, z, 't');
    sb_printf(&sb, ",");
    sb_node_array(&sb, f, a, z, 'r');
    sb_printf(&sb, "}");
  }
  sb_printf(&sb, "]}");
  if (sb.oom) {
    free(sb.p);
    return NULL;
  }
  if (len)
    *len = sb.len;
  return sb.p;
}

ww_iforest_t *ww_iforest_from_json(const char *json, size_t len, char *errstr, size_t errstr_size) {
  json_error_t jerr;
  json_t *root = json_loadb(json, len, 0, &jerr), *trees;
  ww_iforest_t *f = NULL;
  size_t total = 0, t;
  json_t *tree;
  if (!root) {
    snprintf(errstr, errstr_size, "model JSON line %d: %s", jerr.line, jerr.text);
    goto err;
  }
  trees = json_object_get(root, "trees");
  f = calloc(1, sizeof(*f));
  if (!f)
    goto nomem;
  f->d = (int)json_integer_value(json_object_get(root, "n_features"));
  f->psi = (int)json_integer_value(json_object_get(root, "psi"));
  if (!json_is_array(trees) || json_array_size(trees) == 0 || f->d < 1 ||
      f->d > WW_IFOREST_MAX_FEATURES || f->psi < 2) {
    snprintf(errstr, errstr_size,
             "model JSON needs n_features 1..%d, psi >= 2 and a non-empty trees array",
             WW_IFOREST_MAX_FEATURES);
    goto err;
  }
  f->n_trees = (int)json_array_size(trees);
  f->norm = ww_iforest_c((double)f->psi);
  json_array_foreach(trees, t, tree) total += json_array_size(json_object_get(tree, "f"));
  f->start = malloc(((size_t)f->n_trees + 1) * sizeof(*f->start));
  f->nodes = malloc((total ? total : 1) * sizeof(*f->nodes));
  if (!f->start || !f->nodes)
    goto nomem;
  json_array_foreach(trees, t, tree) {
    json_t *fa = json_object_get(tree, "f"), *ta = json_object_get(tree, "t"),
           *ra = json_object_get(tree, "r");
    size_t m = json_array_size(fa);
    if (m == 0 || json_array_size(ta) != m || json_array_size(ra) != m) {
      snprintf(errstr, errstr_size, "model JSON tree %zu: f, t and r must have the same length", t);
      goto err;
    }
    f->start[t] = (uint32_t)f->n_nodes;
    for (size_t i = 0; i < m; i++) {
      node_t *nd = &f->nodes[f->n_nodes++];
      json_int_t feat = json_integer_value(json_array_get(fa, i));
      json_int_t right = json_integer_value(json_array_get(ra, i));
      double thr = json_number_value(json_array_get(ta, i));
      /* Beyond float range the threshold rounds to inf (IEEE 754), which
       * ww_iforest_to_json could not write back as JSON; a leaf's value is a
       * path length, and a negative one would give scores above 1. */
      nd->thr = (float)thr;
      if (!isfinite(nd->thr) || (feat == -1 && nd->thr < 0)) {
        snprintf(errstr, errstr_size,
                 "model JSON tree %zu node %zu: threshold %g is not a finite float "
                 "(or, in a leaf, a path length >= 0)",
                 t, i, thr);
        goto err;
      }
      nd->feat = (int16_t)feat;
      nd->right = (uint16_t)right;
      /* Validate so that scoring can never leave the tree or read past x. */
      if (feat < -1 || feat >= f->d ||
          (feat >= 0 && (right <= (json_int_t)i || right >= (json_int_t)m || i + 1 >= m))) {
        snprintf(errstr, errstr_size, "model JSON tree %zu node %zu: bad feature or child", t, i);
        goto err;
      }
    }
  }
  f->start[f->n_trees] = (uint32_t)f->n_nodes;
  if (compile(f, errstr, errstr_size) != 0)
    goto err;
  json_decref(root);
  return f;
nomem:
  snprintf(errstr, errstr_size, "out of memory loading the model");
err:
  json_decref(root);
  ww_iforest_destroy(f);
  return NULL;
}
