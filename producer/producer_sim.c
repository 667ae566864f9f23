/*
 * producer_sim.c: the factory signal model and anomaly injection.
 *
 * Each sensor of each component is
 *   base + daily cycle + hourly cycle + 5-minute ripple + slow trend + noise
 * where the trend is a mean-reverting (Ornstein-Uhlenbeck) walk and the noise
 * mixes a per-reading factor shared by the component's sensors with the
 * sensor's own draw, which is how correlated sensors arise (a curing oven's
 * humidity falls as its temperature rises). Amplitudes are fractions of the
 * sensor's "scale" (warning - min), so that undisturbed readings stay inside
 * the normal range and below the warning level for any configured factory.
 *
 * A component's personality (base level, amplitudes, phases) is drawn from a
 * generator seeded by its line id and name, not by the run seed: the same
 * component looks the same in every run; the run seed drives noise and faults.
 */
#include "producer_sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TWO_PI       6.283185307179586
#define RESYNC_TICKS 1024 /* recompute cycle angles exactly this often (rotation drift) */

/* Periods of the daily, hourly and 5-minute cycles, ms. */
static const double cycle_ms[3] = {86400000.0, 3600000.0, 300000.0};

static double uniform_in(ww_rng_t *rng, double lo, double hi) {
  return lo + (hi - lo) * ww_rng_uniform(rng);
}

static int int_in(ww_rng_t *rng, int lo, int hi) {
  return lo + (int)(ww_rng_next(rng) % (uint64_t)(hi - lo + 1));
}

/* FNV-1a, to seed a component's personality from its names. */
static uint64_t fnv1a(uint64_t h, const char *s) {
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ULL;
  }
  return h;
}

/* ---- anomaly types ------------------------------------------------------ */

static const struct {
  unsigned bit;
  const char *name;
  int len_min, len_max; /* episode length in readings of the component */
} types[WW_SIM_N_TYPES] = {
    {WW_SIM_SPIKE, "spike", 1, 1},   {WW_SIM_DRIFT, "drift", 30, 120},
    {WW_SIM_STUCK, "stuck", 20, 60}, {WW_SIM_NOISE, "noise", 10, 30},
    {WW_SIM_MULTI, "multi", 5, 20},
};

const char *ww_sim_type_name(unsigned type_bit) {
  for (int i = 0; i < WW_SIM_N_TYPES; i++)
    if (types[i].bit == type_bit)
      return types[i].name;
  return "";
}

int ww_sim_types_parse(const char *list, unsigned *mask, char *errstr, size_t errstr_size) {
  unsigned m = 0;
  const char *p = list;
  int rc = -1;
  if (!list || !*list) {
    snprintf(errstr, errstr_size, "--anomaly-types is empty; use e.g. spike,drift or all");
    goto done;
  }
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    int found = 0;
    while (len && *p == ' ') {
      p++;
      len--;
    }
    while (len && p[len - 1] == ' ')
      len--;
    if (len == 3 && strncasecmp(p, "all", 3) == 0) {
      m |= WW_SIM_ALL;
      found = 1;
    }
    for (int i = 0; i < WW_SIM_N_TYPES && !found; i++)
      if (strlen(types[i].name) == len && strncasecmp(p, types[i].name, len) == 0) {
        m |= types[i].bit;
        found = 1;
      }
    if (!found) {
      snprintf(errstr, errstr_size,
               "--anomaly-types: unknown type '%.*s' in '%s'; choose from "
               "spike,drift,stuck,noise,multi or all",
               (int)len, p, list);
      goto done;
    }
    p += len;
    while (*p == ' ')
      p++;
    if (*p == ',')
      p++;
  }
  *mask = m;
  rc = 0;
done:
  return rc;
}

/* ---- the model ---------------------------------------------------------- */

typedef struct sensor_model_s {
  double scale;        /* warning - min (or max - min): the unit of every amplitude */
  double range;        /* max - min */
  double base;         /* level around which the sensor moves */
  double amp_day;      /* daily cycle amplitude */
  double ph_day;       /* its phase, radians */
  double amp_hour;     /* hourly cycle amplitude */
  double ph_hour;      /* its phase, radians */
  double amp_short;    /* 5-minute ripple amplitude */
  double ph_short;     /* its phase, radians */
  double noise_sd;     /* standard deviation of the reading noise */
  double load;         /* loading on the component's shared factor, -1..1 */
  double trend_sd;     /* stationary standard deviation of the slow trend */
  double trend;        /* current trend offset (state) */
  double pc[3], ps[3]; /* cos and sin of ph_day, ph_hour, ph_short */
  double lo, hi;       /* physical limits: values are clamped to these */
  double last;         /* last value emitted (for stuck sensors) */
} sensor_model_t;

typedef struct episode_s {
  int type;                   /* index into types[], -1 = none */
  int64_t id;                 /* episode_id, > 0 while active */
  int len;                    /* readings in the episode */
  int pos;                    /* readings of it already emitted */
  uint32_t mask;              /* bit i: line sensor i is affected */
  double mag[WW_MAX_SENSORS]; /* signed magnitude per line sensor */
} episode_t;

typedef struct comp_s {
  int line_idx;                      /* index into factory lines */
  int comp_idx;                      /* index into that line's components */
  int n;                             /* sensors of the line */
  int sensor_idx[WW_MAX_SENSORS];    /* factory sensor index of line sensor i */
  sensor_model_t sm[WW_MAX_SENSORS]; /* per line sensor */
  double offset_ms;                  /* event-time offset inside a step */
  double cyc_c[3], cyc_s[3];         /* cos, sin of the day, hour and 5-minute cycle angles */
  int64_t seq;                       /* next sequence_number */
  episode_t ep;                      /* the current anomaly episode */
} comp_t;

struct ww_sim_s {
  const ww_factory_t *fac; /* borrowed */
  ww_sim_opts_t opts;
  ww_rng_t rng;                /* run generator: noise and anomalies */
  int n_comps;                 /* readings per tick */
  comp_t *comps;               /* n_comps, tick order */
  int next;                    /* index of the next component in this tick */
  int64_t tick;                /* current tick */
  double q;                    /* episode start probability per normal reading */
  int n_enabled;               /* enabled anomaly types */
  int enabled[WW_SIM_N_TYPES]; /* their indexes into types[] */
  int64_t next_episode;        /* next episode_id */
  double trend_keep;           /* OU decay per reading: exp(-step / tau) */
  double trend_kick;           /* OU innovation factor: sqrt(1 - keep^2) */
  double rot_c[3], rot_s[3];   /* cos, sin of one step's advance of each cycle angle */
};

static int name_has(const char *s, const char *word) {
  size_t n = strlen(word);
  for (; *s; s++)
    if (strncasecmp(s, word, n) == 0)
      return 1;
  return 0;
}

static void sensor_model_init(sensor_model_t *sm, const ww_sensor_def_t *sd, ww_rng_t *prs,
                              int is_oven) {
  double scale = sd->warning - sd->min;
  if (!(sd->warning > sd->min && sd->warning <= sd->max))
    scale = sd->max - sd->min;
  if (!(scale > 0))
    scale = 1.0;
  sm->scale = scale;
  sm->range = sd->max > sd->min ? sd->max - sd->min : scale;
  /* Worst undisturbed case: 0.58 + 0.07 + 0.08 + 0.01 + ~3 sigma (0.12) = 0.86
   * of the way from min to warning; lowest 0.14. Normal readings stay normal. */
  sm->base = sd->min + scale * uniform_in(prs, 0.42, 0.58);
  sm->amp_day = scale * uniform_in(prs, 0.03, 0.07);
  sm->ph_day = uniform_in(prs, 0, TWO_PI);
  sm->amp_hour = scale * uniform_in(prs, 0.04, 0.08);
  sm->ph_hour = uniform_in(prs, 0, TWO_PI);
  sm->amp_short = scale * uniform_in(prs, 0.003, 0.01);
  sm->ph_short = uniform_in(prs, 0, TWO_PI);
  sm->noise_sd = scale * uniform_in(prs, 0.025, 0.035);
  sm->trend_sd = scale * uniform_in(prs, 0.01, 0.02);
  sm->trend = 0.0;
  sm->last = sm->base;
  sm->lo = sd->physical_min;
  sm->hi = sd->physical_max;
  if (!(sm->hi > sm->lo)) { /* no physical limits configured */
    sm->lo = -INFINITY;
    sm->hi = INFINITY;
  }
  /* Shared factor: machine load heats and makes noise; a heating oven dries
   * its air, so there temperature and humidity move against each other. */
  sm->load = 0.0;
  if (name_has(sd->name, "temp"))
    sm->load = is_oven ? 0.85 : 0.35;
  else if (name_has(sd->name, "humid"))
    sm->load = is_oven ? -0.85 : -0.15;
  else if (name_has(sd->name, "sound") || name_has(sd->name, "vibration"))
    sm->load = is_oven ? 0.2 : 0.35;
}

ww_sim_t *ww_sim_new(const ww_factory_t *fac, const ww_sim_opts_t *opts, char *errstr,
                     size_t errstr_size) {
  ww_sim_t *sim = NULL;
  int n = 0;
  double mean_len = 0.0, p;
  if (!(opts->step_ms > 0) || !(opts->anomaly_probability >= 0 && opts->anomaly_probability <= 1)) {
    snprintf(errstr, errstr_size, "simulator: step %.3f ms must be > 0 and probability %g in 0..1",
             opts->step_ms, opts->anomaly_probability);
    goto err;
  }
  for (int l = 0; l < fac->n_lines; l++)
    n += fac->lines[l].n_components;
  if (n == 0) {
    snprintf(errstr, errstr_size, "simulator: the factory has no components (config `lines`)");
    goto err;
  }
  sim = calloc(1, sizeof(*sim));
  if (!sim || !(sim->comps = calloc((size_t)n, sizeof(comp_t)))) {
    snprintf(errstr, errstr_size, "simulator: out of memory");
    goto err;
  }
  sim->fac = fac;
  sim->opts = *opts;
  sim->n_comps = n;
  sim->next_episode = 1;
  ww_rng_seed(&sim->rng, opts->seed);

  n = 0;
  for (int l = 0; l < fac->n_lines; l++) {
    const ww_line_def_t *ld = &fac->lines[l];
    for (int c = 0; c < ld->n_components; c++, n++) {
      comp_t *cp = &sim->comps[n];
      ww_rng_t prs;
      int is_oven = name_has(ld->components[c], "oven") || name_has(ld->components[c], "curing") ||
                    name_has(ld->components[c], "kiln") || name_has(ld->components[c], "dryer");
      ww_rng_seed(&prs, fnv1a(fnv1a(0xcbf29ce484222325ULL, ld->id), ld->components[c]));
      cp->line_idx = l;
      cp->comp_idx = c;
      cp->n = ld->n_sensors;
      cp->ep.type = -1;
      for (int i = 0; i < ld->n_sensors; i++) {
        cp->sensor_idx[i] = ld->sensor_idx[i];
        sensor_model_init(&cp->sm[i], &fac->sensors[ld->sensor_idx[i]], &prs, is_oven);
      }
      if (is_oven) /* the oven's humidity cycles against its temperature */
        for (int i = 0; i < cp->n; i++)
          for (int j = 0; j < cp->n; j++)
            if (cp->sm[i].load > 0.5 && cp->sm[j].load < -0.5) {
              cp->sm[j].ph_day = cp->sm[i].ph_day + TWO_PI / 2;
              cp->sm[j].ph_hour = cp->sm[i].ph_hour + TWO_PI / 2;
            }
    }
  }
  /* Spread the components over the step so event times interleave. */
  for (int i = 0; i < sim->n_comps; i++)
    sim->comps[i].offset_ms = opts->step_ms * i / sim->n_comps;

  /* Trend time constant: about 30 minutes of event time. */
  sim->trend_keep = exp(-opts->step_ms / (30.0 * 60.0 * 1000.0));
  sim->trend_kick = sqrt(1.0 - sim->trend_keep * sim->trend_keep);
  for (int k = 0; k < 3; k++) {
    sim->rot_c[k] = cos(opts->step_ms * TWO_PI / cycle_ms[k]);
    sim->rot_s[k] = sin(opts->step_ms * TWO_PI / cycle_ms[k]);
  }
  for (int i = 0; i < sim->n_comps; i++)
    for (int j = 0; j < sim->comps[i].n; j++) {
      sensor_model_t *sm = &sim->comps[i].sm[j];
      double ph[3] = {sm->ph_day, sm->ph_hour, sm->ph_short};
      for (int k = 0; k < 3; k++) {
        sm->pc[k] = cos(ph[k]);
        sm->ps[k] = sin(ph[k]);
      }
    }

  for (int i = 0; i < WW_SIM_N_TYPES; i++)
    if (opts->anomaly_types & types[i].bit) {
      sim->enabled[sim->n_enabled++] = i;
      mean_len += (types[i].len_min + types[i].len_max) / 2.0;
    }
  /* p is the fraction of readings inside an episode. A normal reading starts
   * an episode (of mean length L) with probability q, so the share of
   * episode readings is qL / (qL + 1 - q); solve that for q. */
  p = opts->anomaly_probability;
  if (sim->n_enabled && p > 0) {
    mean_len /= sim->n_enabled;
    sim->q = p / (mean_len * (1.0 - p) + p);
  }
  return sim;
err:
  ww_sim_destroy(sim);
  return NULL;
}

void ww_sim_destroy(ww_sim_t *sim) {
  if (!sim)
    return;
  free(sim->comps);
  free(sim);
}

void ww_sim_set_start(ww_sim_t *sim, int64_t start_ms) {
  sim->opts.start_ms = start_ms;
}

int ww_sim_components(const ww_sim_t *sim) {
  return sim->n_comps;
}

double ww_sim_start_probability(const ww_sim_t *sim) {
  return sim->q;
}

static void episode_start(ww_sim_t *sim, comp_t *cp) {
  episode_t *ep = &cp->ep;
  int t = sim->enabled[int_in(&sim->rng, 0, sim->n_enabled - 1)];
  int one = int_in(&sim->rng, 0, cp->n - 1); /* the sensor a single-sensor fault hits */
  ep->type = t;
  ep->id = sim->next_episode++;
  ep->len = int_in(&sim->rng, types[t].len_min, types[t].len_max);
  ep->pos = 0;
  ep->mask = 0;
  for (int i = 0; i < cp->n; i++) {
    double sign = ww_rng_uniform(&sim->rng) < 0.5 ? -1.0 : 1.0;
    double r = cp->sm[i].range;
    ep->mag[i] = 0.0;
    switch (types[t].bit) {
    case WW_SIM_SPIKE:
      if (i == one) {
        ep->mask |= 1u << i;
        ep->mag[i] = sign * r * uniform_in(&sim->rng, 0.5, 1.0);
      }
      break;
    case WW_SIM_DRIFT:
      if (i == one) {
        ep->mask |= 1u << i;
        ep->mag[i] = sign * r * uniform_in(&sim->rng, 0.4, 0.8);
      }
      break;
    case WW_SIM_STUCK:
      if (i == one)
        ep->mask |= 1u << i;
      break;
    case WW_SIM_NOISE:
      ep->mask |= 1u << i;
      ep->mag[i] = r * uniform_in(&sim->rng, 0.1, 0.2);
      break;
    case WW_SIM_MULTI:
      /* An overheating machine: hotter, louder, drier air. The direction
       * follows the sensor's loading on the shared load factor. */
      ep->mask |= 1u << i;
      ep->mag[i] = (cp->sm[i].load < 0 ? -1.0 : 1.0) * r * uniform_in(&sim->rng, 0.3, 0.6);
      break;
    }
  }
}

static double round2(double v) {
  return round(v * 100.0) / 100.0;
}

void ww_sim_next(ww_sim_t *sim, ww_reading_t *r) {
  comp_t *cp = &sim->comps[sim->next];
  const ww_line_def_t *ld = &sim->fac->lines[cp->line_idx];
  episode_t *ep = &cp->ep;
  double t_ms = sim->opts.start_ms + sim->opts.step_ms * (double)sim->tick + cp->offset_ms;
  int64_t ts = (int64_t)llround(t_ms);
  double shared = ww_rng_gauss(&sim->rng);

  /* Cycle angles advance by a fixed rotation per reading (no trig on the hot
   * path), re-synchronised exactly from the timestamp every RESYNC_TICKS. */
  if (sim->tick % RESYNC_TICKS == 0) {
    for (int k = 0; k < 3; k++) {
      int64_t period = (int64_t)cycle_ms[k];
      double a = (double)(((ts % period) + period) % period) * (TWO_PI / cycle_ms[k]);
      cp->cyc_c[k] = cos(a);
      cp->cyc_s[k] = sin(a);
    }
  } else {
    for (int k = 0; k < 3; k++) {
      double c = cp->cyc_c[k], s = cp->cyc_s[k];
      cp->cyc_c[k] = c * sim->rot_c[k] - s * sim->rot_s[k];
      cp->cyc_s[k] = s * sim->rot_c[k] + c * sim->rot_s[k];
    }
  }

  if (ep->type < 0 && sim->q > 0 && ww_rng_uniform(&sim->rng) < sim->q)
    episode_start(sim, cp);

  memset(r, 0, sizeof(*r));
  r->ts_ms = ts;
  r->seq = cp->seq++;
  r->line_idx = cp->line_idx;
  r->component_idx = cp->comp_idx;
  memcpy(r->component_id, ld->components[cp->comp_idx], WW_ID_MAX);
  r->component_id[WW_ID_MAX - 1] = '\0';

  for (int i = 0; i < cp->n; i++) {
    sensor_model_t *sm = &cp->sm[i];
    double own = ww_rng_gauss(&sim->rng);
    double noise = sm->load * shared + sqrt(1.0 - sm->load * sm->load) * own;
    double v;
    /* The trend's innovations are uniform with unit variance: the walk sums
     * thousands of them, so it is Gaussian anyway, at a fraction of the cost. */
    sm->trend = sm->trend * sim->trend_keep + sm->trend_sd * sim->trend_kick * 1.7320508075688772 *
                                                  (2.0 * ww_rng_uniform(&sim->rng) - 1.0);
    /* sin(angle + phase) by angle addition */
    v = sm->base + sm->trend + sm->noise_sd * noise +
        sm->amp_day * (cp->cyc_s[0] * sm->pc[0] + cp->cyc_c[0] * sm->ps[0]) +
        sm->amp_hour * (cp->cyc_s[1] * sm->pc[1] + cp->cyc_c[1] * sm->ps[1]) +
        sm->amp_short * (cp->cyc_s[2] * sm->pc[2] + cp->cyc_c[2] * sm->ps[2]);
    if (ep->type >= 0 && (ep->mask & (1u << i))) {
      switch (types[ep->type].bit) {
      case WW_SIM_SPIKE:
      case WW_SIM_MULTI: v += ep->mag[i]; break;
      case WW_SIM_DRIFT: v += ep->mag[i] * (ep->pos + 1) / ep->len; break;
      case WW_SIM_STUCK:
        v = sm->last; /* the value frozen at the last good reading */
        break;
      case WW_SIM_NOISE: v += ep->mag[i] * ww_rng_gauss(&sim->rng); break;
      }
    }
    if (v < sm->lo)
      v = sm->lo;
    if (v > sm->hi)
      v = sm->hi;
    v = round2(v);
    if (!(ep->type >= 0 && types[ep->type].bit == WW_SIM_STUCK && (ep->mask & (1u << i))))
      sm->last = v;
    r->values[cp->sensor_idx[i]] = v;
    r->present |= 1u << cp->sensor_idx[i];
  }

  if (ep->type >= 0) {
    size_t n = strlen(types[ep->type].name); /* names are far shorter than the field */
    memcpy(r->injected_anomaly, types[ep->type].name, n + 1);
    r->episode_id = ep->id;
    if (++ep->pos >= ep->len)
      ep->type = -1;
  }

  if (++sim->next == sim->n_comps) {
    sim->next = 0;
    sim->tick++;
  }
}
