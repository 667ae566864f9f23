/*
 * api_stream.c: GET /api/stream, Server-Sent Events.
 *
 * One hub thread polls the database twice a second and turns what changed
 * into events: "reading" (the newest scored reading of each line, so at most
 * one per line per tick whatever the input rate), "alert" (every alert that
 * opened, updated or resolved) and "window" (every closed window). Events
 * get increasing ids (see api_stream_new) and sit in a ring of the last STREAM_RING events, so a
 * client that reconnects with Last-Event-ID gets what it missed while it is
 * still in the ring.
 *
 * A client's response is a content-reader callback. When the client has
 * seen every event it suspends its connection (MHD_suspend_connection) and
 * returns 0; the hub resumes it when new events arrive or a heartbeat is
 * due. `suspended` is read and written only under the hub mutex, so a
 * wake-up is never lost.
 */
#include "api_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "windwatch/log.h"
#include "windwatch/timeutil.h"

#define STREAM_RING         1024  /* events kept for Last-Event-ID resume */
#define STREAM_TICK_MS      500   /* database poll interval */
#define STREAM_HEARTBEAT_MS 15000 /* comment line when a client saw nothing for this long */
#define STREAM_MAX_CLIENTS  256   /* open streams; more get 503 */
#define STREAM_BLOCK        16384 /* bytes MHD asks for at a time */

typedef struct stream_ev_s {
  uint64_t id; /* event id, > 0 */
  char *frame; /* complete SSE frame "id: ..\nevent: ..\ndata: ..\n\n", owned */
  size_t len;  /* bytes in frame */
} stream_ev_t;

typedef struct stream_client_s {
  struct stream_client_s *next, *prev;
  api_stream_t *hub;           /* borrowed */
  struct MHD_Connection *conn; /* borrowed; valid until the free callback */
  uint64_t last_id;            /* newest event id already queued for this client */
  int suspended;               /* under hub->mu: connection is suspended by us */
  int64_t last_write_ms;       /* monotonic ms of the last bytes written */
  char *pend;                  /* frame partly written, owned */
  size_t pend_len, pend_off;   /* bytes in pend, bytes already written */
  int hello;                   /* the retry: preamble was written */
} stream_client_t;

struct api_stream_s {
  ww_api_t *api; /* borrowed */
  pthread_t thread;
  int thread_ok;                 /* thread was started */
  pthread_mutex_t mu;            /* guards everything below */
  pthread_cond_t cv;             /* signals stop and client departure */
  int stop;                      /* set once by api_stream_stop */
  stream_ev_t ring[STREAM_RING]; /* event id i lives at ring[i % STREAM_RING] */
  uint64_t first_id;             /* id of the first event of this run */
  uint64_t next_id;              /* id of the next event */
  stream_client_t *clients;      /* list of open streams */
  int n_clients;
  /* Watermarks of what has been turned into events (hub thread only). */
  int marks_ok;
  int64_t alert_ms;         /* updated_ms of the newest alert event */
  char alert_id[256];       /* and its id */
  int64_t window_id;        /* newest window id sent */
  int64_t *line_reading_id; /* per factory line: newest reading id sent */
};

/* Append an event (caller holds mu). */
static void push_event(api_stream_t *hub, const char *type, json_t *data) {
  char *text = json_dumps(data, JSON_COMPACT);
  stream_ev_t *ev;
  int n;
  if (!text)
    return;
  ev = &hub->ring[hub->next_id % STREAM_RING];
  free(ev->frame);
  ev->frame = NULL;
  ev->len = 0;
  n = snprintf(NULL, 0, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)hub->next_id, type,
               text);
  if (n > 0 && (ev->frame = malloc((size_t)n + 1))) {
    snprintf(ev->frame, (size_t)n + 1, "id: %llu\nevent: %s\ndata: %s\n\n",
             (unsigned long long)hub->next_id, type, text);
    ev->len = (size_t)n;
  }
  free(text);
  ev->id = hub->next_id++; /* an event that could not be built is skipped by readers */
}

/* One poll of the database (hub thread). Returns the number of new events. */
static int poll_db(api_stream_t *hub) {
  ww_api_t *api = hub->api;
  const ww_factory_t *fac = api->conf.fac;
  char err[256];
  sqlite3_stmt *st;
  int n = 0, rc;
  json_t *batch = json_array(); /* (type, data) pairs gathered without the lock */
  json_t *item;
  size_t i;

  if (!batch)
    return 0;
  if (!hub->marks_ok) {
    if (!(st = api_stmt(api, Q_STREAM_MARKS, err, sizeof(err))))
      goto done;
    if (sqlite3_step(st) == SQLITE_ROW) {
      hub->alert_ms = sqlite3_column_int64(st, 0);
      snprintf(hub->alert_id, sizeof(hub->alert_id), "\xff");
      hub->window_id = sqlite3_column_int64(st, 1);
      hub->marks_ok = 1;
    }
    sqlite3_reset(st);
    if (!hub->marks_ok)
      goto done;
  }
  for (int l = 0; l < fac->n_lines; l++) {
    if (!(st = api_stmt(api, Q_LATEST_LINE, err, sizeof(err))))
      goto done;
    sqlite3_bind_text(st, 1, fac->lines[l].id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 11) > hub->line_reading_id[l]) {
      hub->line_reading_id[l] = sqlite3_column_int64(st, 11);
      json_array_append_new(batch, json_pack("[s,o]", "reading", api_reading_json(st)));
    }
    sqlite3_reset(st);
  }
  if (!(st = api_stmt(api, Q_ALERTS_SINCE, err, sizeof(err))))
    goto done;
  sqlite3_bind_int64(st, 1, hub->alert_ms);
  sqlite3_bind_text(st, 2, hub->alert_id, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    hub->alert_ms = sqlite3_column_int64(st, 7);
    snprintf(hub->alert_id, sizeof(hub->alert_id), "%s", (const char *)sqlite3_column_text(st, 0));
    json_array_append_new(batch, json_pack("[s,o]", "alert", api_alert_json(st, 0)));
  }
  sqlite3_reset(st);
  if (!(st = api_stmt(api, Q_WINDOWS_SINCE, err, sizeof(err))))
    goto done;
  sqlite3_bind_int64(st, 1, hub->window_id);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    hub->window_id = sqlite3_column_int64(st, 0);
    json_array_append_new(batch, json_pack("[s,o]", "window", api_window_json(st, 0)));
  }
  sqlite3_reset(st);
done:
  pthread_mutex_lock(&hub->mu);
  json_array_foreach(batch, i, item) {
    push_event(hub, json_string_value(json_array_get(item, 0)), json_array_get(item, 1));
    n++;
  }
  pthread_mutex_unlock(&hub->mu);
  json_decref(batch);
  return n;
}

/* Resume suspended clients: all of them when \p all, else those due a heartbeat. */
static void wake_clients(api_stream_t *hub, int all) {
  struct MHD_Connection *wake[STREAM_MAX_CLIENTS];
  int n = 0;
  int64_t now = ww_mono_ms();
  pthread_mutex_lock(&hub->mu);
  for (stream_client_t *c = hub->clients; c; c = c->next)
    if (c->suspended && (all || now - c->last_write_ms >= STREAM_HEARTBEAT_MS)) {
      c->suspended = 0;
      wake[n++] = c->conn;
    }
  pthread_mutex_unlock(&hub->mu);
  /* Safe outside the lock: only this thread resumes, and a suspended
   * connection cannot finish (and be freed) until it is resumed. */
  for (int i = 0; i < n; i++)
    MHD_resume_connection(wake[i]);
}

static void *hub_main(void *arg) {
  api_stream_t *hub = arg;
  struct timespec ts;
  for (;;) {
    int stop;
    pthread_mutex_lock(&hub->mu);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)STREAM_TICK_MS * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    while (!hub->stop && pthread_cond_timedwait(&hub->cv, &hub->mu, &ts) == 0)
      ;
    stop = hub->stop;
    pthread_mutex_unlock(&hub->mu);
    if (stop)
      break;
    /* Poll even with no clients, so watermarks stay current and a new
     * client does not get a burst of old events. */
    wake_clients(hub, poll_db(hub) > 0);
  }
  return NULL;
}

api_stream_t *api_stream_new(ww_api_t *api) {
  api_stream_t *hub = calloc(1, sizeof(*hub));
  if (!hub)
    return NULL;
  hub->api = api;
  /* Ids start from the wall clock (x1000) so they keep growing across
   * restarts: a Last-Event-ID from an earlier run is older than anything in
   * the ring, and the client gets every event of this run. */
  hub->first_id = hub->next_id = (uint64_t)ww_now_ms() * 1000u;
  hub->line_reading_id = calloc((size_t)(api->conf.fac->n_lines + 1), sizeof(int64_t));
  if (!hub->line_reading_id || pthread_mutex_init(&hub->mu, NULL) != 0) {
    free(hub->line_reading_id);
    free(hub);
    return NULL;
  }
  if (pthread_cond_init(&hub->cv, NULL) != 0) {
    pthread_mutex_destroy(&hub->mu);
    free(hub->line_reading_id);
    free(hub);
    return NULL;
  }
  if (pthread_create(&hub->thread, NULL, hub_main, hub) != 0) {
    api_stream_free(hub);
    return NULL;
  }
  hub->thread_ok = 1;
  return hub;
}

void api_stream_stop(api_stream_t *hub) {
  struct timespec ts;
  int left;
  if (!hub)
    return;
  pthread_mutex_lock(&hub->mu);
  hub->stop = 1;
  pthread_cond_broadcast(&hub->cv);
  pthread_mutex_unlock(&hub->mu);
  if (hub->thread_ok)
    pthread_join(hub->thread, NULL);
  hub->thread_ok = 0;
  /* Each reader sees stop and ends its stream; none suspends again, and a
   * new stream is refused, so no connection stays suspended. */
  wake_clients(hub, 1);
  pthread_mutex_lock(&hub->mu);
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 5;
  while (hub->n_clients > 0 && pthread_cond_timedwait(&hub->cv, &hub->mu, &ts) == 0)
    ;
  left = hub->n_clients;
  pthread_mutex_unlock(&hub->mu);
  if (left > 0)
    WW_LOG(WW_LOG_INFO, "API", "%d stream client(s) still sending after 5 s; closing them", left);
}

void api_stream_free(api_stream_t *hub) {
  if (!hub)
    return;
  for (int i = 0; i < STREAM_RING; i++)
    free(hub->ring[i].frame);
  free(hub->line_reading_id);
  pthread_cond_destroy(&hub->cv);
  pthread_mutex_destroy(&hub->mu);
  free(hub);
}

/* Copy as much of the pending frame as fits. */
static size_t drain(stream_client_t *c, char *buf, size_t max) {
  size_t n = c->pend_len - c->pend_off;
  if (n > max)
    n = max;
  memcpy(buf, c->pend + c->pend_off, n);
  c->pend_off += n;
  if (c->pend_off == c->pend_len) {
    free(c->pend);
    c->pend = NULL;
    c->pend_len = c->pend_off = 0;
  }
  return n;
}

static ssize_t client_read(void *cls, uint64_t pos, char *buf, size_t max) {
  stream_client_t *c = cls;
  api_stream_t *hub = c->hub;
  size_t o = 0;
  uint64_t events = 0;
  (void)pos;
  pthread_mutex_lock(&hub->mu);
  if (hub->stop) {
    pthread_mutex_unlock(&hub->mu);
    return MHD_CONTENT_READER_END_OF_STREAM;
  }
  if (!c->hello) {
    static const char hello[] = "retry: 3000\n: windwatch stream\n\n";
    c->hello = 1;
    if (max >= sizeof(hello) - 1) {
      memcpy(buf, hello, sizeof(hello) - 1);
      o = sizeof(hello) - 1;
    }
  }
  while (o < max) {
    uint64_t oldest =
        hub->next_id - hub->first_id > STREAM_RING ? hub->next_id - STREAM_RING : hub->first_id;
    stream_ev_t *ev;
    if (c->pend) {
      o += drain(c, buf + o, max - o);
      continue;
    }
    if (c->last_id + 1 >= hub->next_id)
      break;
    if (c->last_id + 1 < oldest) /* fell out of the ring: skip what is gone */
      c->last_id = oldest - 1;
    ev = &hub->ring[(c->last_id + 1) % STREAM_RING];
    c->last_id++;
    if (ev->id != c->last_id || !ev->frame)
      continue; /* an event that could not be built */
    c->pend = malloc(ev->len);
    if (!c->pend)
      break;
    memcpy(c->pend, ev->frame, ev->len);
    c->pend_len = ev->len;
    c->pend_off = 0;
    events++;
  }
  if (o == 0 && ww_mono_ms() - c->last_write_ms >= STREAM_HEARTBEAT_MS) {
    static const char hb[] = ": heartbeat\n\n";
    if (max >= sizeof(hb) - 1) {
      memcpy(buf, hb, sizeof(hb) - 1);
      o = sizeof(hb) - 1;
    }
  }
  if (o == 0) {
    /* Nothing to say: park the connection until the hub wakes it. */
    MHD_suspend_connection(c->conn);
    c->suspended = 1;
  } else {
    c->last_write_ms = ww_mono_ms();
  }
  pthread_mutex_unlock(&hub->mu);
  if (events)
    __atomic_add_fetch(&hub->api->metrics.sse_events, events, __ATOMIC_RELAXED);
  return (ssize_t)o;
}

static void client_free(void *cls) {
  stream_client_t *c = cls;
  api_stream_t *hub = c->hub;
  pthread_mutex_lock(&hub->mu);
  if (c->prev)
    c->prev->next = c->next;
  else
    hub->clients = c->next;
  if (c->next)
    c->next->prev = c->prev;
  hub->n_clients--;
  /* Before the unlock: the broadcast wakes api_stream_stop(), waiting for n_clients to be 0. */
  __atomic_sub_fetch(&hub->api->metrics.sse_clients, 1, __ATOMIC_RELAXED);
  pthread_cond_broadcast(&hub->cv);
  pthread_mutex_unlock(&hub->mu);
  free(c->pend);
  free(c);
}

enum MHD_Result api_h_stream(api_req_t *req) {
  api_stream_t *hub = req->api->stream;
  const char *last = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Last-Event-ID");
  stream_client_t *c;
  struct MHD_Response *resp;
  char *end = NULL;
  unsigned long long last_id = 0;
  int have_last = 0;

  if (!last)
    last = api_arg(req, "last_event_id");
  if (last && *last) {
    errno = 0;
    last_id = strtoull(last, &end, 10);
    if (errno || *end)
      return api_send_error(req, MHD_HTTP_BAD_REQUEST,
                            "Last-Event-ID must be a number from a previous event (got '%.32s')",
                            last);
    have_last = 1;
  }
  c = calloc(1, sizeof(*c));
  if (!c)
    return MHD_NO;
  c->hub = hub;
  c->conn = req->conn;
  c->last_write_ms = ww_mono_ms();
  pthread_mutex_lock(&hub->mu);
  if (hub->stop || hub->n_clients >= STREAM_MAX_CLIENTS) {
    int stopping = hub->stop;
    pthread_mutex_unlock(&hub->mu);
    free(c);
    if (stopping)
      return api_send_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "the server is shutting down; reconnect once it is back");
    return api_send_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "too many open streams (%d); poll the REST endpoints instead",
                          STREAM_MAX_CLIENTS);
  }
  c->last_id = have_last && last_id < hub->next_id ? last_id : hub->next_id - 1;
  c->next = hub->clients;
  if (hub->clients)
    hub->clients->prev = c;
  hub->clients = c;
  hub->n_clients++;
  pthread_mutex_unlock(&hub->mu);
  __atomic_add_fetch(&req->api->metrics.sse_clients, 1, __ATOMIC_RELAXED);

  resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, client_read, c,
                                           client_free);
  if (!resp) {
    client_free(c);
    return MHD_NO;
  }
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  (void)MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  return api_send_response(req, MHD_HTTP_OK, resp);
}
