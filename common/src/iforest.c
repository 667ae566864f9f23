/* iforest.c: Isolation Forest training, allocation-free scoring, JSON (de)serialisation. */
#include "windwatch/iforest.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/rng.h"

/* One node, 8 bytes. Internal: feat >= 0, go left (next node) if x <= thr,
 * else to tree base + right. Leaf: feat == -1, thr = depth + c(rows). */
typedef struct node_s {
  float thr;       /* split threshold, or the leaf's path length */
  int16_t feat;    /* feature index, -1 for a leaf */
  uint16_t right;  /* right child's index within its tree */
} node_t;

/* Scoring layout: every tree padded to a complete binary tree of depth
 * `depth`, stored implicitly (children of i are 2i+1 and 2i+2), so a row
 * takes exactly `depth` branch-free steps per tree. A leaf above the bottom
 * becomes a chain of always-left nodes (threshold +inf) ending in its value.
 * Trees are walked 16 at a time, level by level: the 16 independent load
 * chains overlap in the CPU instead of waiting on each other. */
typedef struct inode_s {
  float thr;       /* go right if x > thr */
  uint32_t feat;   /* feature index (0 for padding) */
} inode_t;

#define WW_IFOREST_MAX_DEPTH 15 /* scoring layout limit: 2^15 leaves a tree */
#define WW_IFOREST_LANES 16     /* trees walked together */

struct ww_iforest_s {
  int d;           /* features per row */
  int n_trees;     /* trees */
  int psi;         /* rows per tree */
  double norm;     /* c(psi): E[h] is divided by it */
  node_t *nodes;   /* all trees, back to back, pre-order (training and JSON form) */
  size_t n_nodes;  /* entries in nodes */
  uint32_t *start; /* [n_trees + 1] first node of each tree; start[n_trees] = n_nodes */
  int depth;       /* levels of the scoring layout (the deepest leaf) */
  inode_t *in;     /* [n_trees][2^depth - 1] internal nodes, implicit layout */
  float *leaf;     /* [n_trees][2^depth] path length of each bottom slot */
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
  const float *X;   /* training rows as float, row-major */
  int d;
  int max_depth;
  ww_rng_t rng;
  node_t *nodes;    /* output */
  size_t n_nodes, cap;
  size_t base;      /* first node of the tree being grown */
} build_t;

/* Grow the subtree of rows idx[0..n) at depth; @returns 0 or -1 (tree too large). */
static int grow(build_t *b, uint32_t *idx, size_t n, int depth) {
  size_t me = b->n_nodes, nl;
  int cand[WW_IFOREST_MAX_FEATURES], n_cand = 0, feat;
  float mn[WW_IFOREST_MAX_FEATURES], mx[WW_IFOREST_MAX_FEATURES];
  double thr;
  if (me >= b->cap || me - b->base > UINT16_MAX)
    return -1;
  b->n_nodes++;
  if (depth < b->max_depth && n > 1) {
    for (int k = 0; k < b->d; k++) {
      mn[k] = mx[k] = b->X[(size_t)idx[0] * (size_t)b->d + (size_t)k];
      for (size_t i = 1; i < n; i++) {
        float v = b->X[(size_t)idx[i] * (size_t)b->d + (size_t)k];
        if (v < mn[k])
          mn[k] = v;
        if (v > mx[k])
          mx[k] = v;
      }
      if (mx[k] > mn[k])
        cand[n_cand++] = k;
    }
  }
  if (n_cand == 0) {
    b->nodes[me].feat = -1;
    b->nodes[me].right = 0;
    b->nodes[me].thr = (float)((double)depth + ww_iforest_c((double)n));
    return 0;
  }
  feat = cand[ww_rng_below(&b->rng, (size_t)n_cand)];
  thr = (double)mn[feat] + ww_rng_uniform(&b->rng) * ((double)mx[feat] - (double)mn[feat]);
  /* As sklearn: a threshold that rounds to the max would send everything left. */
  if ((float)thr >= mx[feat])
    thr = mn[feat];
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
  free(f->in);
  free(f->leaf);
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

/* Copy pre-order node i into implicit slot k at level lvl. */
static void layout(ww_iforest_t *f, const node_t *base, uint32_t i, size_t k, int lvl,
                   inode_t *in, float *leaf) {
  size_t n_in = ((size_t)1 << f->depth) - 1;
  if (lvl == f->depth) {
    leaf[k - n_in] = base[i].thr;
    return;
  }
  if (base[i].feat < 0) {
    in[k].thr = INFINITY; /* always left, down to the bottom */
    in[k].feat = 0;
    layout(f, base, i, 2 * k + 1, lvl + 1, in, leaf);
    return;
  }
  in[k].thr = base[i].thr;
  in[k].feat = (uint32_t)base[i].feat;
  layout(f, base, i + 1, 2 * k + 1, lvl + 1, in, leaf);
  layout(f, base, base[i].right, 2 * k + 2, lvl + 1, in, leaf);
}

/* Build the scoring layout from the pre-order trees. @returns 0 or -1. */
static int compile(ww_iforest_t *f, char *errstr, size_t errstr_size) {
  size_t n_in, n_leaf;
  f->depth = 0;
  for (int t = 0; t < f->n_trees; t++) {
    int dt = tree_depth(f->nodes + f->start[t], 0, 0);
    if (dt > f->depth)
      f->depth = dt;
  }
  if (f->depth > WW_IFOREST_MAX_DEPTH) {
    snprintf(errstr, errstr_size, "isolation forest trees deeper than %d levels are not supported "
             "(got %d); lower max_samples or max_depth", WW_IFOREST_MAX_DEPTH, f->depth);
    return -1;
  }
  if (f->n_trees < 1) {
    snprintf(errstr, errstr_size, "isolation forest has no trees");
    return -1;
  }
  n_in = ((size_t)1 << f->depth) - 1;
  n_leaf = (size_t)1 << f->depth;
  /* calloc: the unreachable right halves below a padded leaf stay zero. */
  f->in = calloc((size_t)(unsigned)f->n_trees * (n_in ? n_in : 1), sizeof(*f->in));
  f->leaf = calloc((size_t)(unsigned)f->n_trees * n_leaf, sizeof(*f->leaf));
  if (!f->in || !f->leaf) {
    snprintf(errstr, errstr_size, "out of memory laying out the isolation forest");
    return -1;
  }
  for (int t = 0; t < f->n_trees; t++)
    layout(f, f->nodes + f->start[t], 0, 0, 0, f->in + (size_t)t * n_in,
           f->leaf + (size_t)t * n_leaf);
  return 0;
}

double ww_iforest_score(const ww_iforest_t *f, const double *x) {
  float xf[WW_IFOREST_MAX_FEATURES];
  const size_t n_in = ((size_t)1 << f->depth) - 1, n_leaf = (size_t)1 << f->depth;
  double h = 0;
  for (int k = 0; k < f->d; k++)
    xf[k] = (float)x[k];
  for (int t0 = 0; t0 < f->n_trees; t0 += WW_IFOREST_LANES) {
    uint32_t idx[WW_IFOREST_LANES] = {0};
    int m = f->n_trees - t0 < WW_IFOREST_LANES ? f->n_trees - t0 : WW_IFOREST_LANES;
    const inode_t *in = f->in + (size_t)t0 * n_in;
    const float *leaf = f->leaf + (size_t)t0 * n_leaf;
    for (int lvl = 0; lvl < f->depth; lvl++)
      for (int j = 0; j < m; j++) {
        const inode_t *nd = in + (size_t)j * n_in + idx[j];
        idx[j] = 2 * idx[j] + 1 + (uint32_t)(xf[nd->feat] > nd->thr);
      }
    for (int j = 0; j < m; j++)
      h += leaf[(size_t)j * n_leaf + idx[j] - n_in];
  }
  return exp2(-(h / f->n_trees) / f->norm);
}

void ww_iforest_score_batch(const ww_iforest_t *f, const double *X, size_t n, double *out) {
  for (size_t i = 0; i < n; i++)
    out[i] = ww_iforest_score(f, X + i * (size_t)f->d);
}

int ww_iforest_dims(const ww_iforest_t *f) { return f->d; }
int ww_iforest_trees(const ww_iforest_t *f) { return f->n_trees; }
int ww_iforest_psi(const ww_iforest_t *f) { return f->psi; }
size_t ww_iforest_nodes(const ww_iforest_t *f) { return f->n_nodes; }

/* ---- JSON ---------------------------------------------------------------- */

typedef struct sbuf_s {
  char *p;
  size_t len, cap;
  int oom;
} sbuf_t;

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
    sb_printf(&sb, "%s{\"f\":[", t ? "," : "");
    for (uint32_t i = a; i < z; i++)
      sb_printf(&sb, "%s%d", i > a ? "," : "", f->nodes[i].feat);
    sb_printf(&sb, "],\"t\":[");
    /* %.9g round-trips a float exactly. */
    for (uint32_t i = a; i < z; i++)
      sb_printf(&sb, "%s%.9g", i > a ? "," : "", (double)f->nodes[i].thr);
    sb_printf(&sb, "],\"r\":[");
    for (uint32_t i = a; i < z; i++)
      sb_printf(&sb, "%s%u", i > a ? "," : "", (unsigned)f->nodes[i].right);
    sb_printf(&sb, "]}");
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

ww_iforest_t *ww_iforest_from_json(const char *json, size_t len, char *errstr,
                                   size_t errstr_size) {
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
      snprintf(errstr, errstr_size, "model JSON tree %zu: f, t and r must have the same length",
               t);
      goto err;
    }
    f->start[t] = (uint32_t)f->n_nodes;
    for (size_t i = 0; i < m; i++) {
      node_t *nd = &f->nodes[f->n_nodes++];
      json_int_t feat = json_integer_value(json_array_get(fa, i));
      json_int_t right = json_integer_value(json_array_get(ra, i));
      nd->thr = (float)json_number_value(json_array_get(ta, i));
      nd->feat = (int16_t)feat;
      nd->right = (uint16_t)right;
      /* Validate so that scoring can never leave the tree or read past x. */
      if (feat < -1 || feat >= f->d || (feat >= 0 && (right <= (json_int_t)i ||
                                                       right >= (json_int_t)m || i + 1 >= m))) {
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
