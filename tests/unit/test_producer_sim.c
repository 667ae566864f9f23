/* test_producer_sim.c: the random generator, the signal model and anomaly injection. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "producer_sim.h"
#include "windwatch/config.h"
#include "windwatch/reading.h"
#include "ww_test.h"

static const ww_factory_t *fac;

static ww_sim_opts_t opts(uint64_t seed, double p, unsigned types) {
  ww_sim_opts_t o = {0};
  o.seed = seed;
  o.start_ms = 1767225600000LL; /* 2026-01-01T00:00:00Z */
  o.step_ms = 1000.0;
  o.anomaly_probability = p;
  o.anomaly_types = types;
  return o;
}

static ww_sim_t *sim_new(ww_sim_opts_t o) {
  char err[256];
  ww_sim_t *sim = ww_sim_new(fac, &o, err, sizeof(err));
  if (!sim)
    fprintf(stderr, "ww_sim_new: %s\n", err);
  return sim;
}

static void test_rng(void) {
  ww_rng_t a, b;
  double sum = 0, sum2 = 0, umin = 1, umax = 0;
  int n = 200000, same = 1;
  ww_rng_seed(&a, 42);
  ww_rng_seed(&b, 42);
  for (int i = 0; i < 1000; i++)
    same &= ww_rng_next(&a) == ww_rng_next(&b);
  CHECK(same);
  ww_rng_seed(&b, 43);
  CHECK(ww_rng_next(&a) != ww_rng_next(&b));
  for (int i = 0; i < n; i++) {
    double u = ww_rng_uniform(&a);
    umin = u < umin ? u : umin;
    umax = u > umax ? u : umax;
  }
  CHECK(umin >= 0.0 && umin < 0.001);
  CHECK(umax < 1.0 && umax > 0.999);
  for (int i = 0; i < n; i++) {
    double g = ww_rng_gauss(&a);
    sum += g;
    sum2 += g * g;
  }
  CHECK_DBL_NEAR(sum / n, 0.0, 0.01);
  CHECK_DBL_NEAR(sqrt(sum2 / n - (sum / n) * (sum / n)), 1.0, 0.01);
}

static void test_types_parse(void) {
  unsigned m = 0;
  char err[256];
  CHECK_INT_EQ(ww_sim_types_parse("spike,drift", &m, err, sizeof(err)), 0);
  CHECK_INT_EQ(m, WW_SIM_SPIKE | WW_SIM_DRIFT);
  CHECK_INT_EQ(ww_sim_types_parse("all", &m, err, sizeof(err)), 0);
  CHECK_INT_EQ(m, WW_SIM_ALL);
  CHECK_INT_EQ(ww_sim_types_parse("stuck, noise ,multi", &m, err, sizeof(err)), 0);
  CHECK_INT_EQ(m, WW_SIM_STUCK | WW_SIM_NOISE | WW_SIM_MULTI);
  CHECK_INT_EQ(ww_sim_types_parse("spike,wobble", &m, err, sizeof(err)), -1);
  CHECK_STR_CONTAINS(err, "wobble");
  CHECK_STR_EQ(ww_sim_type_name(WW_SIM_DRIFT), "drift");
}

/* Without injection, readings stay in the normal range and mostly below warning. */
static void test_normal_ranges(void) {
  ww_sim_t *sim = sim_new(opts(1, 0.0, WW_SIM_ALL));
  ww_reading_t r;
  long n = 0, outside = 0, warn = 0, labelled = 0, incomplete = 0;
  if (!sim) {
    CHECK(sim != NULL);
    return;
  }
  CHECK_INT_EQ(ww_sim_components(sim), 6);
  CHECK_DBL_NEAR(ww_sim_start_probability(sim), 0.0, 0);
  for (int i = 0; i < 6 * 86400 / 4; i++) { /* a quarter of a day per component */
    const ww_line_def_t *ld;
    ww_sim_next(sim, &r);
    ld = &fac->lines[r.line_idx];
    labelled += r.injected_anomaly[0] != 0 || r.episode_id != 0;
    for (int s = 0; s < ld->n_sensors; s++) {
      int si = ld->sensor_idx[s];
      const ww_sensor_def_t *sd = &fac->sensors[si];
      double v = r.values[si];
      if (!(r.present & (1u << si))) {
        incomplete++;
        continue;
      }
      n++;
      outside += v < sd->min || v > sd->max;
      warn += v > sd->warning;
    }
  }
  CHECK_INT_EQ(labelled, 0);
  CHECK_INT_EQ(incomplete, 0);
  CHECK_INT_EQ(outside, 0);
  CHECK((double)warn / (double)n < 0.005);
  ww_sim_destroy(sim);
}

/* The share of anomalous readings is about p; ground truth is complete and consistent. */
static void test_injection_rate_and_truth(void) {
  ww_sim_t *sim = sim_new(opts(2, 0.05, WW_SIM_ALL));
  ww_reading_t r;
  long n = 600000, anomalous = 0, bad_truth = 0, leave_range = 0;
  long type_seen[WW_SIM_N_TYPES] = {0};
  int64_t last_ep[6] = {0}, max_ep = 0;
  long broken_episodes = 0;
  if (!sim) {
    CHECK(sim != NULL);
    return;
  }
  for (long i = 0; i < n; i++) {
    int comp = (int)(i % 6);
    ww_sim_next(sim, &r);
    if (r.injected_anomaly[0]) {
      unsigned bit = 0;
      anomalous++;
      for (int t = 0; t < WW_SIM_N_TYPES; t++)
        if (strcmp(r.injected_anomaly, ww_sim_type_name(1u << t)) == 0) {
          type_seen[t]++;
          bit = 1u << t;
        }
      bad_truth += bit == 0 || r.episode_id <= 0;
      /* an episode id belongs to one component and its readings are consecutive */
      if (r.episode_id != last_ep[comp] && r.episode_id <= max_ep)
        broken_episodes++;
      if (r.episode_id > max_ep)
        max_ep = r.episode_id;
      for (int s = 0; s < fac->n_sensors; s++)
        if (r.values[s] < fac->sensors[s].min || r.values[s] > fac->sensors[s].max)
          leave_range++;
    } else {
      bad_truth += r.episode_id != 0;
    }
    for (int s = 0; s < fac->n_sensors; s++)
      if (r.values[s] < fac->sensors[s].physical_min || r.values[s] > fac->sensors[s].physical_max)
        bad_truth++;
    last_ep[comp] = r.episode_id;
  }
  CHECK_DBL_NEAR((double)anomalous / (double)n, 0.05, 0.01);
  CHECK_INT_EQ(bad_truth, 0);
  CHECK_INT_EQ(broken_episodes, 0);
  CHECK(leave_range > 0); /* clamped to physical limits, not to the normal range */
  for (int t = 0; t < WW_SIM_N_TYPES; t++)
    CHECK(type_seen[t] > 0);
  ww_sim_destroy(sim);
}

/* Every reading anomalous: rate 1.0, and each type behaves as documented. */
static void test_types_behave(void) {
  ww_reading_t r, prev;
  ww_sim_t *sim;
  long spikes = 0, spike_eps = 0, stuck_ok = 0, stuck_eps = 0;
  int64_t ep = 0;
  int run_len = 0;
  double first[WW_MAX_SENSORS] = {0};
  uint32_t still = 0;

  /* spike: each episode is one reading */
  sim = sim_new(opts(3, 0.2, WW_SIM_SPIKE));
  for (long i = 0; sim && i < 60000; i++) {
    ww_sim_next(sim, &r);
    if (r.episode_id) {
      spikes++;
      if (r.episode_id != ep)
        spike_eps++;
      ep = r.episode_id;
    }
  }
  CHECK(spikes > 0);
  CHECK_INT_EQ(spikes, spike_eps);
  ww_sim_destroy(sim);

  /* stuck: within an episode at least one sensor keeps one value (one component only) */
  sim = sim_new(opts(4, 1.0, WW_SIM_STUCK));
  ep = 0;
  memset(&prev, 0, sizeof(prev));
  for (long i = 0; sim && i < 20000; i++) {
    ww_sim_next(sim, &r);
    if (r.line_idx != 0 || r.component_idx != 0)
      continue;
    CHECK_STR_EQ(r.injected_anomaly, "stuck");
    if (r.episode_id != ep) {
      if (ep && run_len > 1) {
        stuck_eps++;
        stuck_ok += still != 0;
      }
      ep = r.episode_id;
      run_len = 0;
      still = r.present;
      memcpy(first, r.values, sizeof(first));
    }
    run_len++;
    for (int s = 0; s < fac->n_sensors; s++)
      if (r.values[s] != first[s])
        still &= ~(1u << s);
  }
  CHECK(stuck_eps > 10);
  CHECK_INT_EQ(stuck_ok, stuck_eps);
  ww_sim_destroy(sim);

  /* drift: the affected sensor ends farther from its level than it started */
  sim = sim_new(opts(5, 1.0, WW_SIM_DRIFT));
  {
    long grows = 0, eps = 0;
    double start[WW_MAX_SENSORS], last[WW_MAX_SENSORS], base[WW_MAX_SENSORS];
    ww_sim_t *clean = sim_new(opts(5, 0.0, WW_SIM_DRIFT));
    ep = 0;
    for (long i = 0; sim && clean && i < 60000; i++) {
      ww_reading_t c;
      ww_sim_next(sim, &r);
      ww_sim_next(clean, &c);
      if (r.line_idx != 1 || r.component_idx != 1)
        continue;
      if (r.episode_id != ep) {
        if (ep) {
          double best = 0, best_start = 0;
          for (int s = 0; s < fac->n_sensors; s++)
            if (fabs(last[s] - base[s]) > best) {
              best = fabs(last[s] - base[s]);
              best_start = fabs(start[s]);
            }
          eps++;
          grows += best > best_start + 1.0;
        }
        ep = r.episode_id;
        for (int s = 0; s < fac->n_sensors; s++)
          start[s] = r.values[s] - c.values[s];
      }
      for (int s = 0; s < fac->n_sensors; s++) {
        last[s] = r.values[s];
        base[s] = c.values[s];
      }
    }
    CHECK(eps > 10);
    CHECK(grows >= eps * 9 / 10);
    ww_sim_destroy(clean);
  }
  ww_sim_destroy(sim);
}

static void test_reproducible(void) {
  ww_sim_t *a = sim_new(opts(99, 0.1, WW_SIM_ALL)), *b = sim_new(opts(99, 0.1, WW_SIM_ALL));
  ww_sim_t *c = sim_new(opts(100, 0.1, WW_SIM_ALL));
  char ba[1024], bb[1024], bc[1024];
  long differ_ab = 0, differ_ac = 0;
  if (!a || !b || !c) {
    CHECK(a && b && c);
    goto done;
  }
  for (int i = 0; i < 20000; i++) {
    ww_reading_t ra, rb, rc;
    ww_sim_next(a, &ra);
    ww_sim_next(b, &rb);
    ww_sim_next(c, &rc);
    ww_reading_encode(fac, &ra, ba, sizeof(ba));
    ww_reading_encode(fac, &rb, bb, sizeof(bb));
    ww_reading_encode(fac, &rc, bc, sizeof(bc));
    differ_ab += strcmp(ba, bb) != 0;
    differ_ac += strcmp(ba, bc) != 0;
  }
  CHECK_INT_EQ(differ_ab, 0);
  CHECK(differ_ac > 19000);
done:
  ww_sim_destroy(a);
  ww_sim_destroy(b);
  ww_sim_destroy(c);
}

/* Event time, sequence numbers and round-robin order. */
static void test_timing(void) {
  ww_sim_opts_t o = opts(7, 0.0, 0);
  ww_sim_t *sim;
  ww_reading_t r;
  int64_t last_ts[6], last_seq[6];
  long bad_step = 0, bad_seq = 0, bad_order = 0;
  o.step_ms = 250.0;
  sim = sim_new(o);
  for (int i = 0; sim && i < 6000; i++) {
    int comp = i % 6;
    int want_line = comp / 3, want_comp = comp % 3;
    ww_sim_next(sim, &r);
    bad_order += r.line_idx != want_line || r.component_idx != want_comp ||
                 strcmp(r.component_id, fac->lines[want_line].components[want_comp]) != 0;
    if (i < 6) {
      CHECK(r.ts_ms >= o.start_ms && r.ts_ms < o.start_ms + 250);
      CHECK_INT_EQ(r.seq, 0);
    } else {
      bad_step += r.ts_ms - last_ts[comp] < 249 || r.ts_ms - last_ts[comp] > 251;
      bad_seq += r.seq != last_seq[comp] + 1;
    }
    last_ts[comp] = r.ts_ms;
    last_seq[comp] = r.seq;
  }
  CHECK_INT_EQ(bad_order, 0);
  CHECK_INT_EQ(bad_step, 0);
  CHECK_INT_EQ(bad_seq, 0);
  ww_sim_destroy(sim);
}

static double pearson(const double *x, const double *y, int n) {
  double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  for (int i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / sqrt(sxx * syy);
}

/* The curing oven's humidity falls as its temperature rises; components differ. */
static void test_correlation_and_personality(void) {
  enum { N = 20000 };
  static double ot[N], oh[N], bt[N], bh[N];
  double mean_blade = 0, mean_gen = 0;
  int t_idx = ww_factory_sensor_find(fac, "temperature", 11);
  int h_idx = ww_factory_sensor_find(fac, "humidity", 8);
  int oven = ww_factory_component_find(fac, 0, "Curing Oven", 11);
  ww_sim_t *sim = sim_new(opts(11, 0.0, 0));
  ww_reading_t r;
  int no = 0, nb = 0;
  CHECK(t_idx >= 0 && h_idx >= 0 && oven >= 0);
  for (int i = 0; sim && t_idx >= 0 && h_idx >= 0 && i < 6 * N; i++) {
    ww_sim_next(sim, &r);
    if (r.line_idx == 0 && r.component_idx == oven && no < N) {
      ot[no] = r.values[t_idx];
      oh[no++] = r.values[h_idx];
    } else if (r.line_idx == 0 && r.component_idx == 0 && nb < N) {
      bt[nb] = r.values[t_idx];
      bh[nb++] = r.values[h_idx];
      mean_blade += r.values[t_idx];
    } else if (r.line_idx == 1 && r.component_idx == 2) {
      mean_gen += r.values[t_idx];
    }
  }
  CHECK_INT_EQ(no, N);
  CHECK(pearson(ot, oh, N) < -0.5);
  CHECK(fabs(pearson(bt, bh, N)) < fabs(pearson(ot, oh, N)));
  CHECK(fabs(mean_blade / N - mean_gen / N) > 0.1); /* components differ */
  ww_sim_destroy(sim);
}

static void test_bad_opts(void) {
  char err[256];
  ww_sim_opts_t o = opts(1, 0.05, WW_SIM_ALL);
  o.step_ms = 0;
  CHECK(ww_sim_new(fac, &o, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "step");
  ww_sim_destroy(NULL);
}

int main(void) {
  char err[512];
  char *argv[] = {"test_producer_sim", NULL};
  ww_config_t *cfg =
      ww_config_load_yaml(WW_ROLE_PRODUCER, NULL, 0, NULL, 1, argv, err, sizeof(err));
  if (!cfg) {
    fprintf(stderr, "config: %s\n", err);
    return 1;
  }
  fac = ww_config_factory(cfg);
  RUN(test_rng);
  RUN(test_types_parse);
  RUN(test_normal_ranges);
  RUN(test_injection_rate_and_truth);
  RUN(test_types_behave);
  RUN(test_reproducible);
  RUN(test_timing);
  RUN(test_correlation_and_personality);
  RUN(test_bad_opts);
  ww_config_destroy(cfg);
  return WW_TEST_RESULT();
}
