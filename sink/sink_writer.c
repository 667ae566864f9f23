/* sink_writer.c: the SQLite writer thread, one batch in flight at a time. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "sink_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "windwatch/timeutil.h"

typedef enum { W_IDLE, W_QUEUED, W_DONE } w_state_t;

struct ww_sink_writer_s {
  ww_sink_store_t *st; /* borrowed */
  pthread_t thread;
  pthread_mutex_t mu;        /* guards everything below */
  pthread_cond_t cv;         /* signalled on every state change */
  w_state_t state;           /* IDLE → QUEUED (submit) → DONE (thread) → IDLE (result) */
  int stop;                  /* ask the thread to exit */
  const ww_sink_msg_t *msgs; /* the batch in flight (borrowed) */
  size_t n;
  ww_sink_result_t res; /* valid in W_DONE */
};

static void *writer_main(void *arg) {
  ww_sink_writer_t *w = arg;
  pthread_setname_np(pthread_self(), "ww:writer"); /* for top -H and perf */
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (w->state != W_QUEUED && !w->stop)
      pthread_cond_wait(&w->cv, &w->mu);
    if (w->state != W_QUEUED)
      break; /* stop requested with nothing queued */
    pthread_mutex_unlock(&w->mu);
    {
      ww_sink_result_t res;
      int64_t t0 = ww_mono_ns();
      memset(&res.c, 0, sizeof(res.c));
      res.errstr[0] = '\0';
      res.err = ww_sink_store_apply(w->st, w->msgs, w->n, &res.c, res.errstr, sizeof(res.errstr));
      res.ns = ww_mono_ns() - t0;
      pthread_mutex_lock(&w->mu);
      w->res = res;
    }
    w->state = W_DONE;
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

ww_sink_writer_t *ww_sink_writer_new(ww_sink_store_t *st) {
  ww_sink_writer_t *w = calloc(1, sizeof(*w));
  if (!w)
    return NULL;
  w->st = st;
  if (pthread_mutex_init(&w->mu, NULL) != 0) {
    free(w);
    return NULL;
  }
  if (pthread_cond_init(&w->cv, NULL) != 0) {
    pthread_mutex_destroy(&w->mu);
    free(w);
    return NULL;
  }
  if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return NULL;
  }
  return w;
}

void ww_sink_writer_destroy(ww_sink_writer_t *w) {
  if (!w)
    return;
  pthread_mutex_lock(&w->mu);
  while (w->state == W_QUEUED) /* let the batch in flight finish: never abandon a transaction */
    pthread_cond_wait(&w->cv, &w->mu);
  w->stop = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}

int ww_sink_writer_submit(ww_sink_writer_t *w, const ww_sink_msg_t *msgs, size_t n) {
  int rc = -1;
  pthread_mutex_lock(&w->mu);
  if (w->state == W_IDLE) {
    w->msgs = msgs;
    w->n = n;
    w->state = W_QUEUED;
    pthread_cond_broadcast(&w->cv);
    rc = 0;
  }
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int ww_sink_writer_result(ww_sink_writer_t *w, int timeout_ms, ww_sink_result_t *res) {
  int rc;
  struct timespec until;
  if (timeout_ms > 0) {
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
  }
  pthread_mutex_lock(&w->mu);
  while (w->state == W_QUEUED && timeout_ms != 0) {
    if (timeout_ms < 0) {
      pthread_cond_wait(&w->cv, &w->mu);
    } else if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT) {
      break;
    }
  }
  if (w->state == W_DONE) {
    *res = w->res;
    w->state = W_IDLE;
    w->msgs = NULL;
    rc = 1;
  } else {
    rc = w->state == W_QUEUED ? 0 : -1;
  }
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int ww_sink_writer_idle(ww_sink_writer_t *w) {
  int idle;
  pthread_mutex_lock(&w->mu);
  idle = w->state == W_IDLE;
  pthread_mutex_unlock(&w->mu);
  return idle;
}
