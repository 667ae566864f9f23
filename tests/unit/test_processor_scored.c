/* Unit tests of the scored-readings stage (processor_scored.c): every reading
 * put is sent once, in order and intact, across ring wrap-arounds and full
 * rings; kick alone gets readings out; drain reports failed sends; destroy
 * sends what is left. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "processor_scored.h"
#include "windwatch/timeutil.h"
#include "ww_test.h"

typedef struct sink_s {
  pthread_mutex_t lock;
  int64_t *seq; /* sequence numbers in the order sent */
  size_t n, cap;
  int intact;       /* every reading arrived with the fields it was put with */
  int slow_every;   /* sleep 100 us on every slow_every-th send (0 = never) */
  int fail_odd;     /* sends of odd sequence numbers fail */
  pthread_t sender; /* the thread that sent (must not be the test's) */
  int one_thread;   /* every send came from that one thread */
  int64_t t0_ms;    /* wall clock before the first put */
  int clock_ok;     /* every send's now_ms was the wall clock of the test's time (1 s slack
                       for a clock step) */
} sink_t;

static int sink_send(void *opaque, const ww_reading_t *r, const ww_score_t *sc, int64_t now_ms) {
  sink_t *s = opaque;
  pthread_mutex_lock(&s->lock);
  if (now_ms < s->t0_ms - 1000 || now_ms > ww_now_ms() + 1000)
    s->clock_ok = 0;
  if (s->n == 0)
    s->sender = pthread_self();
  else if (!pthread_equal(s->sender, pthread_self()))
    s->one_thread = 0;
  if (s->n < s->cap)
    s->seq[s->n] = r->seq;
  s->n++;
  if (r->ts_ms != 1000 * r->seq || r->values[2] != 0.5 * (double)r->seq ||
      sc->model_version != r->seq % 7 || strcmp(r->component_id, "Blade") != 0)
    s->intact = 0;
  pthread_mutex_unlock(&s->lock);
  if (s->slow_every && r->seq % s->slow_every == 0)
    usleep(100);
  return s->fail_odd && (r->seq & 1) ? -1 : 0;
}

static void sink_init(sink_t *s, size_t cap) {
  memset(s, 0, sizeof(*s));
  pthread_mutex_init(&s->lock, NULL);
  s->seq = calloc(cap, sizeof(*s->seq));
  s->cap = cap;
  s->intact = 1;
  s->one_thread = 1;
  s->clock_ok = 1;
  s->t0_ms = ww_now_ms();
}

static void sink_free(sink_t *s) {
  pthread_mutex_destroy(&s->lock);
  free(s->seq);
}

static size_t sink_count(sink_t *s) {
  size_t n;
  pthread_mutex_lock(&s->lock);
  n = s->n;
  pthread_mutex_unlock(&s->lock);
  return n;
}

static void put_seq(ww_scored_stage_t *st, int64_t i) {
  ww_reading_t r;
  ww_score_t sc;
  memset(&r, 0, sizeof(r));
  memset(&sc, 0, sizeof(sc));
  r.seq = i;
  r.ts_ms = 1000 * i;
  r.values[2] = 0.5 * (double)i;
  strcpy(r.component_id, "Blade");
  sc.model_version = i % 7;
  ww_scored_stage_put(st, &r, &sc);
}

static int in_order(const sink_t *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s->seq[i] != (int64_t)i)
      return 0;
  return 1;
}

/* A sink holding up to \p sink_cap sequence numbers and a stage of \p ring
 * slots sending to it; NULL (checked, sink freed) if the stage cannot start. */
static ww_scored_stage_t *start(sink_t *s, size_t sink_cap, size_t ring) {
  char err[128];
  ww_scored_stage_t *st;
  sink_init(s, sink_cap);
  st = ww_scored_stage_new(ring, sink_send, s, err, sizeof(err));
  CHECK(st != NULL);
  if (!st)
    sink_free(s);
  return st;
}

/* A ring of 4 behind a slow sender: put waits for room, the order holds. */
static void test_order_through_a_small_ring(void) {
  const size_t n = 20000;
  sink_t s;
  ww_scored_stage_t *st = start(&s, n, 3);
  if (!st)
    return;
  s.slow_every = 97;
  for (size_t i = 0; i < n; i++) {
    put_seq(st, (int64_t)i);
    if (i % 5 == 0)
      ww_scored_stage_kick(st);
  }
  CHECK_INT_EQ(ww_scored_stage_drain(st), 0);
  CHECK_INT_EQ(sink_count(&s), n);
  CHECK(in_order(&s, n));
  CHECK(s.intact);
  CHECK(s.clock_ok);
  CHECK(s.one_thread);
  CHECK(!pthread_equal(s.sender, pthread_self()));
  ww_scored_stage_destroy(st);
  sink_free(&s);
}

/* Kick alone hands readings over: they go out with no drain to wait on. */
static void test_kick_sends_without_drain(void) {
  sink_t s;
  ww_scored_stage_t *st = start(&s, 16, 64);
  if (!st)
    return;
  for (int i = 0; i < 5; i++)
    put_seq(st, i);
  ww_scored_stage_kick(st);
  for (int t = 0; t < 5000 && sink_count(&s) < 5; t++)
    usleep(1000);
  CHECK_INT_EQ(sink_count(&s), 5);
  CHECK(in_order(&s, 5));
  ww_scored_stage_destroy(st);
  sink_free(&s);
}

/* Failed sends are counted once, by the next drain. */
static void test_drain_counts_failures(void) {
  sink_t s;
  ww_scored_stage_t *st = start(&s, 1000, 16);
  if (!st)
    return;
  s.fail_odd = 1;
  for (int i = 0; i < 1000; i++)
    put_seq(st, i);
  CHECK_INT_EQ(ww_scored_stage_drain(st), 500);
  CHECK_INT_EQ(ww_scored_stage_drain(st), 0);
  CHECK_INT_EQ(sink_count(&s), 1000);
  CHECK(in_order(&s, 1000));
  ww_scored_stage_destroy(st);
  sink_free(&s);
}

/* Readings never kicked are sent by destroy, which then stops the thread. */
static void test_destroy_sends_the_rest(void) {
  sink_t s;
  ww_scored_stage_t *st = start(&s, 300, 512);
  if (!st)
    return;
  for (int i = 0; i < 300; i++)
    put_seq(st, i);
  ww_scored_stage_destroy(st);
  CHECK_INT_EQ(sink_count(&s), 300);
  CHECK(in_order(&s, 300));
  CHECK(s.intact);
  CHECK(s.clock_ok);
  ww_scored_stage_destroy(NULL);
  sink_free(&s);
}

int main(void) {
  RUN(test_order_through_a_small_ring);
  RUN(test_kick_sends_without_drain);
  RUN(test_drain_counts_failures);
  RUN(test_destroy_sends_the_rest);
  return WW_TEST_RESULT();
}
