/**
 * @file rng.h
 * @brief A small seeded random generator: xoshiro256** seeded by splitmix64.
 *
 * Used wherever windwatch needs reproducible randomness (the simulator, the
 * Isolation Forest's sub-sampling): the same seed gives the same sequence on
 * every machine. Not for cryptography.
 */
#ifndef WW_RNG_H
#define WW_RNG_H

#include <stddef.h>
#include <stdint.h>

/** xoshiro256** state plus a cached second Gaussian. Plain data; copyable. */
typedef struct ww_rng_s {
  uint64_t s[4]; /* generator state, never all zero */
  int has_spare; /* spare holds an unused N(0,1) draw */
  double spare;  /* second value of the last polar Box-Muller pair */
} ww_rng_t;

/** Seed \p rng from \p seed through splitmix64 (any seed, including 0, is fine). */
void ww_rng_seed(ww_rng_t *rng, uint64_t seed);
/** @returns the next 64 random bits. */
uint64_t ww_rng_next(ww_rng_t *rng);
/** @returns a uniform double in [0, 1) with 53 random bits. */
double ww_rng_uniform(ww_rng_t *rng);
/** @returns a uniform integer in [0, n) (n > 0). */
size_t ww_rng_below(ww_rng_t *rng, size_t n);
/** @returns a standard normal N(0, 1) draw (polar Box-Muller). */
double ww_rng_gauss(ww_rng_t *rng);

#endif /* WW_RNG_H */
