/**
 * @file producer_sim.h
 * @brief The factory simulator: a seeded signal model per line, component and
 *        sensor, plus injected anomaly episodes with ground truth. No Kafka.
 *
 * Readings come out tick-major: tick k yields one reading for every component
 * of every line, in config order. Everything that varies is drawn from one
 * seeded xoshiro256** generator in a fixed order, so the same options (seed,
 * start time, step) give the same readings, byte for byte once encoded.
 */
#ifndef WW_PRODUCER_SIM_H
#define WW_PRODUCER_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "windwatch/config.h"
#include "windwatch/reading.h"
#include "windwatch/rng.h"

/** Anomaly types, as bits of ww_sim_opts_t.anomaly_types. */
enum {
  WW_SIM_SPIKE = 1 << 0, /* one reading, one sensor, far off */
  WW_SIM_DRIFT = 1 << 1, /* one sensor drifts away, growing over many readings */
  WW_SIM_STUCK = 1 << 2, /* one sensor repeats a constant value */
  WW_SIM_NOISE = 1 << 3, /* every sensor of the component gets very noisy */
  WW_SIM_MULTI = 1 << 4, /* several sensors leave their levels together (a fault) */
  WW_SIM_ALL = 0x1f,
};
#define WW_SIM_N_TYPES 5

/** @returns "spike", "drift", "stuck", "noise" or "multi" for one type bit, else "". */
const char *ww_sim_type_name(unsigned type_bit);

/**
 * @brief Parse a comma-separated list of type names ("spike,drift", or "all").
 * @returns 0 and sets \p *mask, or -1 with \p errstr naming the bad entry.
 */
int ww_sim_types_parse(const char *list, unsigned *mask, char *errstr, size_t errstr_size);

typedef struct ww_sim_opts_s {
  uint64_t seed;              /* run seed: noise and anomalies */
  int64_t start_ms;           /* event time of tick 0, ms since the epoch */
  double step_ms;             /* event time between two readings of one component, ms (> 0) */
  double anomaly_probability; /* expected fraction of readings inside an anomaly episode, 0..1 */
  unsigned anomaly_types;     /* WW_SIM_* bits to choose from; 0 = no injection */
} ww_sim_opts_t;

typedef struct ww_sim_s ww_sim_t;

/**
 * @brief A simulator for every line and component of \p fac.
 * @remark \p fac is borrowed and must outlive the simulator.
 * @returns a simulator to free with ww_sim_destroy(), or NULL with \p errstr set.
 */
ww_sim_t *ww_sim_new(const ww_factory_t *fac, const ww_sim_opts_t *opts, char *errstr,
                     size_t errstr_size);
void ww_sim_destroy(ww_sim_t *sim);

/**
 * @brief Move the event time of tick 0 to \p start_ms. Called before the first
 *        reading, it anchors a paced run's event time to the moment its loop
 *        starts, so set-up time (connecting to the broker) does not put every
 *        reading's timestamp behind the wall clock.
 */
void ww_sim_set_start(ww_sim_t *sim, int64_t start_ms);

/** @returns the number of readings per tick (components over all lines). */
int ww_sim_components(const ww_sim_t *sim);

/**
 * @brief Produce the next reading into \p r (every field set; values of the
 *        line's sensors present, clamped to each sensor's physical limits and
 *        rounded to 0.01). injected_anomaly/episode_id carry the ground truth.
 */
void ww_sim_next(ww_sim_t *sim, ww_reading_t *r);

/** @returns the episode start probability per normal reading (for tests). */
double ww_sim_start_probability(const ww_sim_t *sim);

#endif /* WW_PRODUCER_SIM_H */
