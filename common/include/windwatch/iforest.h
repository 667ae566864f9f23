/**
 * @file iforest.h
 * @brief Isolation Forest (Liu, Ting, Zhou 2008) with scikit-learn's semantics.
 *
 * Like sklearn.ensemble.IsolationForest: each of n_trees trees is grown on
 * max_samples rows drawn without replacement; a node splits on a feature
 * drawn at random among those not constant in the node, at a threshold drawn
 * uniformly between the node's min and max (left: x <= threshold); growth
 * stops at depth ceil(log2(max_samples)) or when a node holds one row. A
 * leaf holding n rows at depth d scores d + c(n), where c(n) is the average
 * unsuccessful-search path length of a binary search tree
 * (c(1) = 0, c(2) = 1, c(n) = 2 H(n-1) - 2 (n-1)/n). The anomaly score is
 * s(x) = 2^(-E[h(x)] / c(psi)) in 0..1 (psi = rows per tree): near 1 is
 * anomalous, clearly below 0.5 is normal. sklearn's score_samples() is -s.
 * Like sklearn, features are compared as 32-bit floats.
 *
 * Scoring walks flat arrays (8-byte nodes, each tree laid out level by
 * level, every row taking the same number of branch-free steps) and
 * allocates nothing: it is safe to call from any number of threads on one
 * model. E[h(x)] is the sum of the trees' path lengths (floats) as doubles
 * in tree order; the fast paths give that sum bit for bit (for trained
 * forests it is exact, so they add in 64-bit fixed point in any order).
 */
#ifndef WW_IFOREST_H
#define WW_IFOREST_H

#include <stddef.h>
#include <stdint.h>

#define WW_IFOREST_MAX_FEATURES 32 /* features per row */

typedef struct ww_iforest_params_s {
  int n_trees;     /* trees; sklearn's n_estimators (100) */
  int max_samples; /* rows per tree; sklearn's max_samples (256); capped at the rows given */
  int max_depth;   /* 0 = ceil(log2(rows per tree)), as sklearn */
  uint64_t seed;   /* random seed; the same seed and data give the same forest */
} ww_iforest_params_t;

typedef struct ww_iforest_s ww_iforest_t;

/** Batch scoring kernels, each giving the same scores bit for bit. */
typedef enum ww_iforest_kernel_e {
  WW_IFOREST_SCALAR, /* portable C */
  WW_IFOREST_AVX2,   /* x86-64 with AVX2 */
  WW_IFOREST_AVX512, /* x86-64 with AVX-512F */
} ww_iforest_kernel_t;

/**
 * @brief The batch kernel forests trained or loaded from now on use: the
 *        fastest this CPU runs whose scores pass ww_iforest_kernel_check(),
 *        unless ww_iforest_set_kernel() chose another.
 *        (A forest whose path lengths are not exact fixed-point, see
 *        iforest.c, always scores with the scalar kernel.)
 */
ww_iforest_kernel_t ww_iforest_kernel(void);

/**
 * @brief Use kernel \p k for forests trained or loaded from now on (tests
 *        and benchmarks compare them). @returns 0, or -1 when this CPU
 *        cannot run it or it fails ww_iforest_kernel_check().
 */
int ww_iforest_set_kernel(ww_iforest_kernel_t k);

/**
 * @brief Score a fixed forest with kernel \p k and compare with the one-row
 *        path, bit for bit (some milliseconds). ww_iforest_kernel() runs
 *        it on each kernel it considers, so a SIMD kernel that misbehaves on
 *        some CPU is passed over, with a warning, instead of scoring.
 * @returns 1 (agrees), 0 (differs), -1 (this CPU cannot run \p k).
 */
int ww_iforest_kernel_check(ww_iforest_kernel_t k);

/** @brief "scalar", "avx2" or "avx512". */
const char *ww_iforest_kernel_name(ww_iforest_kernel_t k);

/** Fill \p p with sklearn's defaults: 100 trees, 256 samples, depth 0 (auto), seed 1. */
void ww_iforest_params_default(ww_iforest_params_t *p);

/**
 * @brief Grow a forest on \p n rows of \p d features, row-major in \p X.
 * @returns a model the caller frees with ww_iforest_destroy(), or NULL with
 *          \p errstr set (n < 2, d out of range, non-finite value, no memory).
 */
ww_iforest_t *ww_iforest_train(const double *X, size_t n, int d, const ww_iforest_params_t *p,
                               char *errstr, size_t errstr_size);

/** NULL is a no-op. */
void ww_iforest_destroy(ww_iforest_t *f);

/**
 * @returns the anomaly score s(x) in 0..1 of one row of ww_iforest_dims()
 *          features (walks 16 trees at a time; to score many rows at once
 *          ww_iforest_score_batch() is several times faster).
 */
double ww_iforest_score(const ww_iforest_t *f, const double *x);

/**
 * @brief Score \p n rows of \p X (row-major, ww_iforest_dims() features
 *        each) into \p out[0..n).
 *
 * Same scores, bit for bit, as ww_iforest_score() on each row, several
 * times faster: rows are walked in blocks (256 with AVX-512 or AVX2, the
 * best the CPU has; else 64) through one tree at a time, the block's
 * independent walks interleaved. The caller owns \p X and \p out (\p n
 * doubles); nothing is allocated (about 40 KiB of stack), so it is safe
 * from any number of threads on one model. \p n = 0 is a no-op.
 */
void ww_iforest_score_batch(const ww_iforest_t *f, const double *X, size_t n, double *out);

/**
 * @brief As ww_iforest_score_batch(), with row i's features at
 *        \p X[i * stride ..] (\p stride >= ww_iforest_dims() doubles), e.g.
 *        to score the leading features of wider records in place.
 */
void ww_iforest_score_rows(const ww_iforest_t *f, const double *X, size_t n, size_t stride,
                           double *out);

/** @returns features per row. */
int ww_iforest_dims(const ww_iforest_t *f);
/** @returns trees. */
int ww_iforest_trees(const ww_iforest_t *f);
/** @returns rows each tree was grown on (psi). */
int ww_iforest_psi(const ww_iforest_t *f);
/** @returns total nodes over all trees. */
size_t ww_iforest_nodes(const ww_iforest_t *f);

/** c(n): average path length of an unsuccessful BST search among n points. */
double ww_iforest_c(double n);

/**
 * @brief Serialise the trees as a JSON object
 *        {"n_features":d,"psi":256,"trees":[{"f":[...],"t":[...],"r":[...]},...]}
 *        (f: feature or -1 for a leaf, t: threshold or leaf path length,
 *        r: index of the right child within the tree).
 * @returns a malloc'ed NUL-terminated string the caller frees, or NULL (no memory).
 */
char *ww_iforest_to_json(const ww_iforest_t *f, size_t *len);

/**
 * @brief Load a forest from the JSON of ww_iforest_to_json() (\p len bytes).
 * @returns a model or NULL with \p errstr saying what is wrong.
 */
ww_iforest_t *ww_iforest_from_json(const char *json, size_t len, char *errstr, size_t errstr_size);

/**
 * @brief \p v as the JSON number ww_iforest_to_json() writes: 9 significant
 *        digits with trailing zeros dropped, which reads back as exactly \p v
 *        (as a float, directly or through a double).
 * @param buf at least WW_IFOREST_FLOAT_BUFSZ bytes; not NUL-terminated.
 * @returns the length written. \p v must be finite.
 */
#define WW_IFOREST_FLOAT_BUFSZ 24
size_t ww_iforest_fmt_float(char *buf, float v);

#endif /* WW_IFOREST_H */
