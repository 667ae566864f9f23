/*
 * producer_run.c: wiring and the run loop of windwatch-producer.
 *
 * One thread does everything: takes a reading from the source, encodes it
 * into a stack buffer, hands it to the output, and between readings serves
 * Kafka delivery reports. Pacing waits inside rd_kafka_poll, so delivery
 * reports keep flowing while the loop sleeps.
 */
#include "producer_run.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "producer_http.h"
#include "producer_kafka.h"
#include "producer_replay.h"
#include "producer_sim.h"
#include "windwatch/log.h"
#include "windwatch/metrics.h"
#include "windwatch/reading.h"
#include "windwatch/signal.h"
#include "windwatch/timeutil.h"

#define ENC_BUFSZ   4096 /* one encoded simulated/replayed reading */
#define POLL_EVERY  1024 /* readings between batch flushes and delivery-report polls */
#define MAX_WAIT_MS 100  /* longest single wait, so signals and stats stay timely */

typedef enum src_e { SRC_SIM, SRC_REPLAY, SRC_STDIN } src_t;

typedef struct run_s {
  const ww_config_t *cfg;
  const ww_factory_t *fac; /* borrowed from cfg */
  src_t src;
  ww_sim_t *sim;            /* SRC_SIM */
  ww_replay_t *rp;          /* SRC_REPLAY */
  ww_jsonl_t *jl;           /* SRC_STDIN */
  ww_pkafka_t *pk;          /* Kafka output, or NULL */
  ww_phttp_t *http;         /* HTTP output, or NULL */
  ww_metrics_t *reg;        /* metrics, or NULL */
  ww_metric_t *m_taken;     /* readings taken from the source */
  ww_metric_t *m_anomalous; /* of which carry injected_anomaly */
  int64_t count;            /* stop after this many readings, 0 = no limit */
  int64_t duration_ns;      /* stop after this long, 0 = no limit */
  int64_t stats_ns;         /* stats line period, 0 = never */
  double rate;              /* readings per second, 0 = unpaced */
  double speed;             /* replay pace factor, 0 = unpaced */
  uint64_t taken;           /* readings taken from the source */
  int64_t t0;               /* start, monotonic ns */
  int64_t first_ts;         /* replay: event time of the first row, ms */
  int64_t next_stats;       /* monotonic ns of the next stats line */
  uint64_t last_produced;   /* at the last stats line */
  int64_t last_stats;       /* monotonic ns of the last stats line */
} run_t;

/* ---- set-up ------------------------------------------------------------- */

static uint64_t clock_seed(void) {
  uint64_t s = (uint64_t)ww_now_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ww_mono_ns() ^
               ((uint64_t)getpid() << 32);
  return s & 0x7fffffffffffffffULL; /* fits --seed's range, so it can be passed back */
}

static int setup_sim(run_t *run, char *errstr, size_t errstr_size) {
  const ww_config_t *cfg = run->cfg;
  ww_sim_opts_t so = {0};
  const char *start = ww_config_str(cfg, "start-time");
  double interval = ww_config_double(cfg, "simulation-interval");
  int n_comps = 0;
  for (int l = 0; l < run->fac->n_lines; l++)
    n_comps += run->fac->lines[l].n_components;
  if (ww_sim_types_parse(ww_config_str(cfg, "anomaly-types"), &so.anomaly_types, errstr,
                         errstr_size) != 0)
    return -1;
  so.anomaly_probability = ww_config_double(cfg, "anomaly-probability");
  if (ww_config_is_set(cfg, "seed")) {
    so.seed = (uint64_t)ww_config_int(cfg, "seed");
  } else {
    so.seed = clock_seed();
    WW_LOG(WW_LOG_INFO, "PRODUCER",
           "random seed %" PRIu64 " (pass --seed %" PRIu64 " and --start-time to repeat this run)",
           so.seed, so.seed);
  }
  so.start_ms = ww_now_ms();
  if (start && ww_ts_parse(start, strlen(start), &so.start_ms) != 0) {
    snprintf(errstr, errstr_size,
             "--start-time '%s' is not RFC 3339; use e.g. "
             "2026-01-01T00:00:00.000Z",
             start);
    return -1;
  }
  /* Event time advances by the simulation interval per component, unless a
   * --rate alone sets the pace: then event time keeps up with the wall clock. */
  so.step_ms = interval * 1000.0;
  if (run->rate > 0 && !ww_config_is_set(cfg, "simulation-interval") && n_comps > 0)
    so.step_ms = n_comps * 1000.0 / run->rate;
  if (!ww_config_is_set(cfg, "rate") && n_comps > 0)
    run->rate = n_comps / interval; /* real time: every component once per interval */
  if (!(run->sim = ww_sim_new(run->fac, &so, errstr, errstr_size)))
    return -1;
  return 0;
}

/* ---- the loop ----------------------------------------------------------- */

/* Before a read of stdin that may block: hand pending batches over, so the
 * readings of a slow writer are not held back. */
static void before_stdin_read(void *opaque) {
  run_t *run = opaque;
  if (run->pk)
    ww_pkafka_poll(run->pk, 0);
}

/* Next reading from the source: encoded into \p buf, or (stdin) passed through,
 * in \p *data. @returns its length, 0 at the end, -1 on error. */
static long next_item(run_t *run, char *buf, size_t size, const char **data, ww_reading_t *r) {
  size_t n;
  int rc;
  switch (run->src) {
  case SRC_SIM: ww_sim_next(run->sim, r); break;
  case SRC_REPLAY:
    if ((rc = ww_replay_next(run->rp, r)) <= 0)
      return rc;
    break;
  case SRC_STDIN: return ww_jsonl_next(run->jl, data, r, before_stdin_read, run);
  }
  n = ww_reading_encode(run->fac, r, buf, size);
  if (n >= size) {
    WW_LOG(WW_LOG_ERROR, "PRODUCER", "encoded reading is %zu bytes, over the %zu-byte buffer", n,
           size);
    return -1;
  }
  *data = buf;
  return (long)n;
}

static void stats_line(run_t *run, int64_t now) {
  double secs = (double)(now - run->last_stats) / 1e9;
  if (run->pk) {
    ww_pkafka_stats_t st;
    ww_pkafka_stats(run->pk, &st);
    WW_LOG(WW_LOG_INFO, "STATS",
           "produced %" PRIu64 " (%.0f/s) delivered %" PRIu64 " failed %" PRIu64 " dropped %" PRIu64
           " queue %d stall %" PRId64 " ms batches %" PRIu64 " (%" PRIu64 " readings)",
           st.produced, secs > 0 ? (double)(st.produced - run->last_produced) / secs : 0.0,
           st.delivered, st.failed, st.dropped, st.queue_depth, st.stall_ns / 1000000, st.batches,
           st.batched);
    run->last_produced = st.produced;
  } else {
    uint64_t ok, failed;
    ww_phttp_counts(run->http, &ok, &failed);
    WW_LOG(WW_LOG_INFO, "STATS", "posted %" PRIu64 " (%.1f/s) ok %" PRIu64 " failed %" PRIu64,
           ok + failed, secs > 0 ? (double)(ok + failed - run->last_produced) / secs : 0.0, ok,
           failed);
    run->last_produced = ok + failed;
  }
  run->last_stats = now;
}

/* Housekeeping at \p now: stats line. @returns non-zero when the run should stop. */
static int tick(run_t *run, int64_t now) {
  if (run->stats_ns > 0 && now >= run->next_stats) {
    stats_line(run, now);
    run->next_stats = now + run->stats_ns;
  }
  if (run->duration_ns > 0 && now - run->t0 >= run->duration_ns)
    return 1;
  return ww_signal_stop_requested();
}

/* Wait until monotonic \p target_ns, serving delivery reports.
 * @returns 0 to go on, 1 to stop, 2 on a fatal Kafka error. */
static int wait_until(run_t *run, int64_t target_ns) {
  for (;;) {
    int64_t now = ww_mono_ns(), left_ms;
    if (tick(run, now))
      return 1;
    if (target_ns <= now)
      return 0;
    left_ms = (target_ns - now + 999999) / 1000000; /* rounded up: never early */
    if (left_ms > MAX_WAIT_MS)
      left_ms = MAX_WAIT_MS;
    if (run->stats_ns > 0 && (run->next_stats - now) / 1000000 < left_ms)
      left_ms = (run->next_stats - now) / 1000000 + 1;
    if (run->pk) {
      ww_pkafka_send_t rc = ww_pkafka_poll(run->pk, (int)left_ms);
      if (rc == WW_PKAFKA_FATAL)
        return 2;
      if (rc == WW_PKAFKA_STOPPED)
        return 1;
    } else {
      ww_sleep_ms(left_ms);
    }
  }
}

/* @returns an exit code if the loop must end with an error, else -1. */
static int loop(run_t *run) {
  char buf[ENC_BUFSZ];
  char why[512];
  ww_reading_t r;
  int w = 0; /* wait_until's verdict */
  run->t0 = run->last_stats = ww_mono_ns();
  run->next_stats = run->t0 + run->stats_ns;
  /* Paced from now on: the simulator's clock starts now too, not when it was
   * set up (before the broker connection), or every timestamp would lag the
   * wall clock by the set-up time. */
  if (run->src == SRC_SIM && run->rate > 0 && !ww_config_is_set(run->cfg, "start-time"))
    ww_sim_set_start(run->sim, ww_now_ms());
  while (run->count == 0 || run->taken < (uint64_t)run->count) {
    const char *key, *data = NULL;
    long len;
    if (run->src == SRC_SIM && run->rate > 0) {
      int64_t target = run->t0 + (int64_t)((double)run->taken * 1e9 / run->rate);
      if ((w = wait_until(run, target)) != 0)
        break;
    }
    if ((len = next_item(run, buf, sizeof(buf), &data, &r)) < 0)
      return WW_PRODUCER_EXIT_FATAL;
    if (len == 0)
      break; /* end of the input */
    if (run->src == SRC_REPLAY && run->speed > 0) {
      if (run->taken == 0)
        run->first_ts = r.ts_ms;
      if ((w = wait_until(run, run->t0 + (int64_t)((double)(r.ts_ms - run->first_ts) * 1e6 /
                                                   run->speed))) != 0)
        break;
    }
    key = run->fac->lines[r.line_idx].id;
    if (run->pk) {
      ww_pkafka_send_t rc = ww_pkafka_send(run->pk, key, strlen(key), data, (size_t)len);
      if (rc == WW_PKAFKA_STOPPED)
        break; /* never taken: not a reading of this run */
      if (rc == WW_PKAFKA_FATAL)
        return WW_PRODUCER_EXIT_FATAL;
    }
    run->taken++;
    ww_metric_inc(run->m_taken);
    if (r.injected_anomaly[0])
      ww_metric_inc(run->m_anomalous);
    if (run->pk) {
      ww_pkafka_send_t rc;
      if ((run->taken % POLL_EVERY) == 0) {
        rc = ww_pkafka_poll(run->pk, 0);
        if (rc == WW_PKAFKA_FATAL || ww_pkafka_fatal(run->pk, why, sizeof(why)))
          return WW_PRODUCER_EXIT_FATAL;
        if (rc == WW_PKAFKA_STOPPED)
          break;
      }
    } else {
      ww_phttp_send(run->http, data, (size_t)len);
    }
    if ((run->taken % 64) == 0 || run->http || run->src != SRC_SIM)
      if (tick(run, ww_mono_ns()))
        break;
  }
  return w == 2 ? WW_PRODUCER_EXIT_FATAL : -1;
}

/* Flush and report; @returns the exit code. */
static int finish(run_t *run, int code, int64_t flush_ms) {
  uint64_t lost = 0;
  if (run->pk) {
    ww_pkafka_stats_t st;
    char why[512];
    int fatal = ww_pkafka_fatal(run->pk, why, sizeof(why));
    int left;
    if (fatal)
      WW_LOG(WW_LOG_ERROR, "PRODUCER", "Kafka fatal error: %s", why);
    WW_LOG(WW_LOG_DEBUG, "PRODUCER", "flushing (at most %" PRId64 " ms)", flush_ms);
    left = ww_pkafka_close(run->pk, (int)(flush_ms > INT32_MAX ? INT32_MAX : flush_ms), &st);
    run->pk = NULL;
    lost = st.failed + st.dropped;
    WW_LOG(WW_LOG_NOTICE, "PRODUCER",
           "done: %" PRIu64 " readings, %" PRIu64 " produced, %" PRIu64 " delivered, %" PRIu64
           " failed, %" PRIu64 " dropped, stall %" PRId64 " ms, %" PRIu64 " in %" PRIu64 " batches",
           run->taken, st.produced, st.delivered, st.failed, st.dropped, st.stall_ns / 1000000,
           st.batched, st.batches);
    if (left > 0)
      WW_LOG(WW_LOG_ERROR, "PRODUCER",
             "%d readings were still undelivered after the "
             "%" PRId64 " ms flush timeout (--flush-timeout) and were purged",
             left, flush_ms);
    if (lost > 0)
      WW_LOG(WW_LOG_ERROR, "PRODUCER",
             "%" PRIu64 " of %" PRIu64 " readings were not delivered "
             "(%" PRIu64 " failed, %" PRIu64 " dropped on a full queue)",
             lost, run->taken, st.failed, st.dropped);
    if (fatal && code < 0)
      code = WW_PRODUCER_EXIT_FATAL;
  } else if (run->http) {
    uint64_t ok, failed;
    ww_phttp_counts(run->http, &ok, &failed);
    lost = failed;
    WW_LOG(WW_LOG_NOTICE, "PRODUCER",
           "done: %" PRIu64 " readings posted, %" PRIu64 " ok, %" PRIu64 " failed", ok + failed, ok,
           failed);
    if (failed > 0)
      WW_LOG(WW_LOG_ERROR, "PRODUCER",
             "%" PRIu64 " of %" PRIu64 " readings were not accepted "
             "by %s",
             failed, ok + failed, ww_config_str(run->cfg, "http"));
  }
  if (run->jl && ww_jsonl_skipped(run->jl) > 0)
    WW_LOG(WW_LOG_WARN, "STDIN", "%" PRIu64 " of %" PRIu64 " lines were invalid and skipped",
           ww_jsonl_skipped(run->jl), ww_jsonl_lineno(run->jl));
  if (code >= 0)
    return code;
  return lost > 0 ? WW_PRODUCER_EXIT_UNDELIVERED : WW_PRODUCER_EXIT_OK;
}

int ww_producer_run(const ww_config_t *cfg) {
  run_t run;
  char errstr[512] = "";
  int code = WW_PRODUCER_EXIT_USAGE;
  const char *replay = ww_config_str(cfg, "replay");
  const char *http = ww_config_str(cfg, "http");
  const char *listen = ww_config_str(cfg, "metrics-listen");
  int use_stdin = ww_config_bool(cfg, "stdin");

  memset(&run, 0, sizeof(run));
  run.cfg = cfg;
  run.fac = ww_config_factory(cfg);
  run.count = ww_config_int(cfg, "count");
  run.duration_ns =
      ww_config_is_set(cfg, "duration") ? ww_config_duration_ms(cfg, "duration") * 1000000 : 0;
  run.stats_ns = ww_config_duration_ms(cfg, "stats-interval") * 1000000;
  run.rate = ww_config_is_set(cfg, "rate") ? ww_config_double(cfg, "rate") : 0.0;
  run.speed = ww_config_double(cfg, "speed");

  if (replay && use_stdin) {
    snprintf(errstr, sizeof(errstr), "--replay and --stdin both given; choose one source");
    goto done;
  }
  if (replay) {
    run.src = SRC_REPLAY;
    if (!(run.rp = ww_replay_open(run.fac, replay, ww_config_str(cfg, "replay-map"),
                                  ww_config_str(cfg, "replay-line"),
                                  ww_config_str(cfg, "replay-component"), errstr, sizeof(errstr))))
      goto done;
  } else if (use_stdin) {
    run.src = SRC_STDIN;
    if (!(run.jl = ww_jsonl_new(run.fac, STDIN_FILENO))) {
      snprintf(errstr, sizeof(errstr), "out of memory");
      code = WW_PRODUCER_EXIT_FATAL;
      goto done;
    }
  } else {
    run.src = SRC_SIM;
    if (setup_sim(&run, errstr, sizeof(errstr)) != 0)
      goto done;
  }

  if (listen) {
    if (!(run.reg = ww_metrics_new())) {
      snprintf(errstr, sizeof(errstr), "out of memory");
      code = WW_PRODUCER_EXIT_FATAL;
      goto done;
    }
    run.m_taken =
        ww_metrics_counter(run.reg, "windwatch_producer_readings_total",
                           "readings taken from the source (simulator, replay, stdin)", NULL);
    run.m_anomalous =
        ww_metrics_counter(run.reg, "windwatch_producer_injected_anomalies_total",
                           "readings that carry an injected anomaly (ground truth)", NULL);
  }

  if (http) {
    if (!(run.http = ww_phttp_new(http, ww_config_duration_ms(cfg, "http-timeout"),
                                  (int)ww_config_int(cfg, "http-retries"), stdout, errstr,
                                  sizeof(errstr))))
      goto done;
  } else {
    ww_err_t err;
    const char *on_full = ww_config_str(cfg, "on-full");
    if (!(run.pk = ww_pkafka_new(cfg, ww_config_str(cfg, "topic-sensor-data"),
                                 on_full && strcmp(on_full, "drop") == 0, run.reg, &err, errstr,
                                 sizeof(errstr)))) {
      code = err == WW_ERR_INVALID ? WW_PRODUCER_EXIT_USAGE : WW_PRODUCER_EXIT_FATAL;
      goto done;
    }
  }

  if (listen) {
    int port = 0;
    if (ww_metrics_serve(run.reg, listen, &port, errstr, sizeof(errstr)) != 0)
      goto done;
    WW_LOG(WW_LOG_INFO, "PRODUCER", "metrics at http://%.*s:%d/metrics",
           (int)(strrchr(listen, ':') - listen), listen, port);
  }

  if (run.src != SRC_SIM && ww_config_is_set(cfg, "rate"))
    WW_LOG(WW_LOG_WARN, "PRODUCER", "--rate paces the simulator only; %s",
           run.src == SRC_REPLAY ? "--replay keeps the file's pace (see --speed)"
                                 : "--stdin sends lines as they come");
  WW_LOG(WW_LOG_INFO, "PRODUCER", "producing to %s%s%s%s",
         http ? http : ww_config_str(cfg, "topic-sensor-data"),
         run.src == SRC_REPLAY  ? " from "
         : run.src == SRC_STDIN ? " from stdin"
                                : " (simulated)",
         run.src == SRC_REPLAY ? replay : "",
         run.count > 0        ? ""
         : run.src == SRC_SIM ? " until stopped"
                              : " until the end of the input");
  code = finish(&run, loop(&run), ww_config_duration_ms(cfg, "flush-timeout"));
  errstr[0] = '\0';

done:
  if (errstr[0])
    WW_LOG(WW_LOG_ERROR, "PRODUCER", "%s", errstr);
  if (run.pk) /* set-up failed after the producer was created */
    ww_pkafka_close(run.pk, 0, NULL);
  ww_phttp_destroy(run.http);
  ww_replay_close(run.rp);
  ww_jsonl_destroy(run.jl);
  ww_sim_destroy(run.sim);
  ww_metrics_destroy(run.reg);
  return code;
}
