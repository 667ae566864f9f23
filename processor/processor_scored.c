/* processor_scored.c: the scored-readings stage (see processor_scored.h).
 *
 * The ring's two counters only grow: [tail, pub) is the stage's to send,
 * [pub, head) has been put but not yet handed over, and the loop's thread
 * writes a slot only once tail has passed it. pub and tail change under the
 * lock; the loop's thread also reads tail without it, to see room. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "processor_scored.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "windwatch/timeutil.h"

#define WW_SCORED_CHUNK 256 /* readings sent between two looks at the lock */

typedef struct rec_s {
  ww_reading_t r;
  ww_score_t sc;
} rec_t;

struct ww_scored_stage_s {
  rec_t *ring;
  size_t mask;
  size_t head;         /* next slot to put (loop's thread only) */
  size_t pub;          /* handed over up to here (lock) */
  _Atomic size_t tail; /* sent up to here (written by the stage's thread under the lock) */
  int64_t errors;      /* failed sends not yet reported by a drain (lock) */
  int sleeping;        /* the stage's thread waits for work (lock) */
  int waiting;         /* the loop's thread waits for room or a drain (lock) */
  int stop;            /* (lock) */
  ww_scored_send_fn send;
  void *opaque;
  pthread_mutex_t lock;
  pthread_cond_t work; /* pub moved, or stop */
  pthread_cond_t done; /* tail moved */
  pthread_t thread;
};

static void *stage_main(void *arg) {
  ww_scored_stage_t *s = arg;
  pthread_setname_np(pthread_self(), "ww:scored"); /* for top -H and perf */
  pthread_mutex_lock(&s->lock);
  for (;;) {
    size_t t = atomic_load_explicit(&s->tail, memory_order_relaxed), n;
    int64_t failed = 0, now_ms;
    if (t == s->pub) {
      if (s->stop)
        break;
      s->sleeping = 1;
      pthread_cond_wait(&s->work, &s->lock);
      s->sleeping = 0;
      continue;
    }
    n = s->pub - t < WW_SCORED_CHUNK ? s->pub - t : WW_SCORED_CHUNK;
    pthread_mutex_unlock(&s->lock);
    now_ms = ww_now_ms();
    for (size_t i = t; i < t + n; i++) {
      const rec_t *e = &s->ring[i & s->mask];
      if (s->send(s->opaque, &e->r, &e->sc, now_ms) != 0)
        failed++;
    }
    pthread_mutex_lock(&s->lock);
    atomic_store_explicit(&s->tail, t + n, memory_order_release);
    s->errors += failed;
    if (s->waiting)
      pthread_cond_broadcast(&s->done);
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

ww_scored_stage_t *ww_scored_stage_new(size_t capacity, ww_scored_send_fn send, void *opaque,
                                       char *errstr, size_t errstr_size) {
  ww_scored_stage_t *s = calloc(1, sizeof(*s));
  size_t cap = 2;
  while (cap < capacity)
    cap *= 2;
  if (!s || !(s->ring = malloc(cap * sizeof(*s->ring)))) {
    snprintf(errstr, errstr_size, "out of memory for the scored-readings ring");
    free(s);
    return NULL;
  }
  s->mask = cap - 1;
  s->send = send;
  s->opaque = opaque;
  atomic_init(&s->tail, 0);
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->work, NULL);
  pthread_cond_init(&s->done, NULL);
  if (pthread_create(&s->thread, NULL, stage_main, s) != 0) {
    snprintf(errstr, errstr_size, "cannot start the scored-readings thread");
    pthread_cond_destroy(&s->done);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->lock);
    free(s->ring);
    free(s);
    return NULL;
  }
  return s;
}

/* Hand [pub, head) over and wake the stage if it sleeps. Lock held. */
static void publish(ww_scored_stage_t *s) {
  if (s->pub == s->head)
    return;
  s->pub = s->head;
  if (s->sleeping)
    pthread_cond_signal(&s->work);
}

void ww_scored_stage_put(ww_scored_stage_t *s, const ww_reading_t *r, const ww_score_t *sc) {
  rec_t *e;
  if (s->head - atomic_load_explicit(&s->tail, memory_order_acquire) > s->mask) {
    pthread_mutex_lock(&s->lock);
    publish(s);
    s->waiting = 1;
    while (s->head - atomic_load_explicit(&s->tail, memory_order_relaxed) > s->mask)
      pthread_cond_wait(&s->done, &s->lock);
    s->waiting = 0;
    pthread_mutex_unlock(&s->lock);
  }
  e = &s->ring[s->head & s->mask];
  e->r = *r;
  e->sc = *sc;
  s->head++;
}

void ww_scored_stage_kick(ww_scored_stage_t *s) {
  if (s->pub == s->head) /* pub is only written by this thread */
    return;
  pthread_mutex_lock(&s->lock);
  publish(s);
  pthread_mutex_unlock(&s->lock);
}

int64_t ww_scored_stage_drain(ww_scored_stage_t *s) {
  int64_t failed;
  pthread_mutex_lock(&s->lock);
  publish(s);
  s->waiting = 1;
  while (atomic_load_explicit(&s->tail, memory_order_relaxed) != s->head)
    pthread_cond_wait(&s->done, &s->lock);
  s->waiting = 0;
  failed = s->errors;
  s->errors = 0;
  pthread_mutex_unlock(&s->lock);
  return failed;
}

void ww_scored_stage_destroy(ww_scored_stage_t *s) {
  if (!s)
    return;
  ww_scored_stage_drain(s);
  pthread_mutex_lock(&s->lock);
  s->stop = 1;
  pthread_cond_signal(&s->work);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  pthread_cond_destroy(&s->done);
  pthread_cond_destroy(&s->work);
  pthread_mutex_destroy(&s->lock);
  free(s->ring);
  free(s);
}
