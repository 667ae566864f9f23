/* rng.c: xoshiro256** (Blackman and Vigna) seeded by splitmix64. */
#include "windwatch/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void ww_rng_seed(ww_rng_t *rng, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64(&x);
  rng->has_spare = 0;
  rng->spare = 0.0;
}

static inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t ww_rng_next(ww_rng_t *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double ww_rng_uniform(ww_rng_t *rng) {
  return (double)(ww_rng_next(rng) >> 11) * 0x1.0p-53;
}

double ww_rng_gauss(ww_rng_t *rng) {
  double u, v, s;
  if (rng->has_spare) {
    rng->has_spare = 0;
    return rng->spare;
  }
  do {
    u = 2.0 * ww_rng_uniform(rng) - 1.0;
    v = 2.0 * ww_rng_uniform(rng) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  s = sqrt(-2.0 * log(s) / s);
  rng->spare = v * s;
  rng->has_spare = 1;
  return u * s;
}

size_t ww_rng_below(ww_rng_t *rng, size_t n) {
  return (size_t)(ww_rng_uniform(rng) * (double)n);
}
