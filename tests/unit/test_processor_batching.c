/* test_processor_batching.c: readings taken in batches (ww_proc_enqueue, model
 * scores computed together at ww_proc_flush) give exactly the outputs of
 * processing each reading alone (ww_proc_message): the same messages, bytes
 * and order per output topic, and the same counters. The input is the
 * simulator's stream with every anomaly type, models retrained often (so new
 * versions land in the middle of batches), late readings and malformed ones. */
#define _GNU_SOURCE /* memmem */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor.h"
#include "producer_sim.h"
#include "windwatch/config.h"
#include "ww_test.h"

#define N_READINGS 30000

/* Every output, appended per topic: "key\tvalue|headers\n". */
typedef struct sink_s {
  char *buf[WW_OUT__COUNT];
  size_t len[WW_OUT__COUNT], cap[WW_OUT__COUNT];
  int oom;
} sink_t;

static void append(sink_t *s, int o, const char *p, size_t n) {
  if (s->len[o] + n + 1 > s->cap[o]) {
    size_t ncap = (s->cap[o] + n + 1) * 2;
    char *nb = realloc(s->buf[o], ncap);
    if (!nb) {
      s->oom = 1;
      return;
    }
    s->buf[o] = nb;
    s->cap[o] = ncap;
  }
  memcpy(s->buf[o] + s->len[o], p, n);
  s->len[o] += n;
}

static int sink_produce(void *opaque, ww_proc_out_t o, const char *key, size_t key_len,
                        const char *val, size_t len, const ww_proc_header_t *hdrs, int n_hdrs) {
  sink_t *s = opaque;
  size_t at;
  append(s, o, key ? key : "", key ? key_len : 0);
  append(s, o, "\t", 1);
  at = s->len[o];
  append(s, o, val, len);
  if (o == WW_OUT_MODELS && !s->oom) {
    /* A model's training wall-clock time is the one thing allowed to differ. */
    char *p = memmem(s->buf[o] + at, len, "\"trained_at\":\"", 14), *q;
    q = p ? memchr(p + 14, '"', len - (size_t)(p + 14 - (s->buf[o] + at))) : NULL;
    if (q)
      memset(p + 14, 'T', (size_t)(q - (p + 14)));
  }
  for (int i = 0; i < n_hdrs; i++) {
    append(s, o, "|", 1);
    append(s, o, hdrs[i].name, strlen(hdrs[i].name));
    append(s, o, "=", 1);
    append(s, o, hdrs[i].value, hdrs[i].len);
  }
  append(s, o, "\n", 1);
  return 0;
}

/* The input: simulated readings, encoded, with gaps (below); every 997th is 20 minutes behind
 * (too late: dead letter), every 97th 3 s behind (allowed), every 1499th is
 * cut short (malformed). */
typedef struct input_s {
  char **msg;
  size_t *len;
  int n;
} input_t;

static int make_input(const ww_factory_t *fac, input_t *in) {
  ww_sim_opts_t so = {7, 1767225600000, 1000.0, 0.05, 0};
  char err[256], buf[2048];
  ww_sim_t *sim;
  if (ww_sim_types_parse("all", &so.anomaly_types, err, sizeof(err)) != 0)
    return -1;
  sim = ww_sim_new(fac, &so, err, sizeof(err));
  if (!sim)
    return -1;
  in->msg = calloc(N_READINGS, sizeof(*in->msg));
  in->len = calloc(N_READINGS, sizeof(*in->len));
  in->n = 0;
  for (int i = 0; in->n < N_READINGS && in->msg && in->len; i++) {
    ww_reading_t r;
    size_t n;
    ww_sim_next(sim, &r);
    /* One component falls silent for over two minutes every 15: its next
     * pane has no baseline of its own, so it is judged against the line's. */
    if (r.line_idx == 1 && r.component_idx == 1 && (r.ts_ms / 1000) % 900 >= 400 &&
        (r.ts_ms / 1000) % 900 < 530)
      continue;
    if (i % 997 == 996)
      r.ts_ms -= 20 * 60 * 1000;
    else if (i % 97 == 96)
      r.ts_ms -= 3000; /* late but allowed; some fall back into the previous pane */
    n = ww_reading_encode(fac, &r, buf, sizeof(buf));
    if (n >= sizeof(buf))
      break;
    if (i % 1499 == 1498)
      n /= 2;
    in->msg[in->n] = malloc(n);
    if (!in->msg[in->n])
      break;
    memcpy(in->msg[in->n], buf, n);
    in->len[in->n++] = n;
  }
  ww_sim_destroy(sim);
  return in->n == N_READINGS ? 0 : -1;
}

/* Run the input through an engine. chunk 0: ww_proc_message each; else
 * ww_proc_enqueue with a flush after every `chunk` messages (varied). */
static int run(const ww_factory_t *fac, const input_t *in, int chunk, sink_t *s,
               ww_proc_counters_t *cnt) {
  ww_proc_conf_t pc;
  ww_proc_output_t out = {sink_produce, s, NULL, NULL, NULL};
  char err[256];
  ww_proc_t *proc;
  ww_proc_conf_defaults(&pc);
  pc.model.train_size = 256;           /* models early ... */
  pc.model.retrain_ms = 5 * 60 * 1000; /* ... and new versions every 5 min of event time */
  pc.model.n_trees = 50;
  proc = ww_proc_new(fac, &pc, &out, err, sizeof(err));
  if (!proc) {
    fprintf(stderr, "ww_proc_new: %s\n", err);
    return -1;
  }
  for (int i = 0; i < in->n; i++) {
    ww_proc_src_t src = {"sensor-data", i % 3, i, NULL, 0};
    if (chunk == 0) {
      ww_proc_message(proc, in->msg[i], in->len[i], &src);
    } else {
      ww_proc_enqueue(proc, in->msg[i], in->len[i], &src);
      /* Irregular batch ends, some beyond the engine's own batch limit. */
      if ((i + 1) % (chunk + i % 7) == 0)
        ww_proc_flush(proc);
    }
  }
  ww_proc_finish(proc);
  ww_proc_counters(proc, cnt);
  ww_proc_destroy(proc);
  return 0;
}

static void sink_free(sink_t *s) {
  for (int o = 0; o < WW_OUT__COUNT; o++)
    free(s->buf[o]);
}

static void test_batches_equal_one_by_one(void) {
  static const char *const names[WW_OUT__COUNT] = {"scored", "stats", "alerts", "dlq", "models"};
  static const int chunks[] = {1, 13, 250, 600};
  char err[256];
  char *argv[] = {"x", NULL};
  ww_config_t *cfg =
      ww_config_load_yaml(WW_ROLE_PROCESSOR, NULL, 0, NULL, 1, argv, err, sizeof(err));
  const ww_factory_t *fac = cfg ? ww_config_factory(cfg) : NULL;
  input_t in = {0};
  sink_t ref = {0};
  ww_proc_counters_t rc;
  CHECK(fac != NULL);
  if (!fac)
    return;
  CHECK_INT_EQ(make_input(fac, &in), 0);
  CHECK_INT_EQ(run(fac, &in, 0, &ref, &rc), 0);
  CHECK(!ref.oom);
  /* The stream must exercise everything compared below. */
  CHECK(rc.readings > N_READINGS - 100);
  CHECK(rc.models >= 4);
  CHECK(rc.alerts > 10);
  CHECK(rc.windows > 100);
  CHECK(rc.dlq_by_reason[WW_DLQ_LATE] > 0);
  CHECK(rc.dead_letters > rc.dlq_by_reason[WW_DLQ_LATE]);
  for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
    sink_t got = {0};
    ww_proc_counters_t gc;
    CHECK_INT_EQ(run(fac, &in, chunks[c], &got, &gc), 0);
    CHECK(!got.oom);
    for (int o = 0; o < WW_OUT__COUNT; o++) {
      int same = got.len[o] == ref.len[o] &&
                 (ref.len[o] == 0 || memcmp(got.buf[o], ref.buf[o], ref.len[o]) == 0);
      if (!same)
        fprintf(stderr, "chunk %d: %s output differs (%zu vs %zu bytes)\n", chunks[c], names[o],
                got.len[o], ref.len[o]);
      CHECK(same);
    }
    CHECK(memcmp(&gc, &rc, sizeof(gc)) == 0);
    sink_free(&got);
  }
  sink_free(&ref);
  for (int i = 0; i < in.n; i++)
    free(in.msg[i]);
  free(in.msg);
  free(in.len);
  ww_config_destroy(cfg);
}

int main(void) {
  RUN(test_batches_equal_one_by_one);
  return WW_TEST_RESULT();
}
