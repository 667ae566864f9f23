/* processor_handlers.c: console, webhook and e-mail alert handlers. */
#include "processor_handlers.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/log.h"
#include "windwatch/timeutil.h"

typedef struct item_s {
  char *json; /* owned */
  size_t len;
  int critical; /* severity critical: also mailed */
} item_t;

struct ww_handlers_s {
  ww_handlers_conf_t conf; /* strings below are owned copies */
  char *webhook_url, *email_url, *email_from, *email_to;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* signalled on submit and on stop */
  pthread_cond_t idle; /* signalled when the queue empties */
  item_t *q;           /* ring of queue_max items */
  int head, n;         /* first item, items queued */
  int busy;            /* the worker is handling an item */
  int stop;            /* the worker must exit */
  int has_worker;      /* thread started */
  pthread_t thread;
  int64_t last_mail_ms;   /* monotonic ms of the last mail */
  ww_handlers_stats_t st; /* under lock */
};

static char *dup_or_null(const char *s) {
  return s && s[0] ? strdup(s) : NULL;
}

static size_t discard_cb(char *p, size_t size, size_t nmemb, void *opaque) {
  (void)p;
  (void)opaque;
  return size * nmemb;
}

/* POST one event; @returns 0 on a 2xx answer. */
static int post_once(ww_handlers_t *h, CURL *curl, const item_t *it, char *err, size_t errsz) {
  struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
  long code = 0;
  CURLcode rc;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, h->webhook_url);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, it->json);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)it->len);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)h->conf.webhook_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_cb);
  rc = curl_easy_perform(curl);
  if (rc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(hdrs);
  if (rc != CURLE_OK) {
    snprintf(err, errsz, "%s", curl_easy_strerror(rc));
    return -1;
  }
  if (code < 200 || code > 299) {
    snprintf(err, errsz, "HTTP %ld", code);
    return -1;
  }
  return 0;
}

typedef struct mailbuf_s {
  const char *p;
  size_t left;
} mailbuf_t;

static size_t mail_read_cb(char *dst, size_t size, size_t nmemb, void *opaque) {
  mailbuf_t *mb = opaque;
  size_t n = size * nmemb < mb->left ? size * nmemb : mb->left;
  memcpy(dst, mb->p, n);
  mb->p += n;
  mb->left -= n;
  return n;
}

static int send_mail(ww_handlers_t *h, CURL *curl, const item_t *it, char *err, size_t errsz) {
  char date[WW_TS_BUFSZ], *msg;
  struct curl_slist *rcpt = curl_slist_append(NULL, h->email_to);
  mailbuf_t mb;
  size_t cap = it->len + 1024;
  int n;
  CURLcode rc;
  msg = malloc(cap);
  if (!msg || !rcpt) {
    free(msg);
    curl_slist_free_all(rcpt);
    snprintf(err, errsz, "out of memory");
    return -1;
  }
  ww_ts_format(ww_now_ms(), date, sizeof(date));
  n = snprintf(msg, cap,
               "From: %s\r\nTo: %s\r\nSubject: [windwatch] critical alert\r\n"
               "Content-Type: application/json\r\nX-Windwatch-Sent: %s\r\n\r\n%.*s\r\n",
               h->email_from, h->email_to, date, (int)it->len, it->json);
  mb.p = msg;
  mb.left = n > 0 ? (size_t)n : 0;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, h->email_url);
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, h->email_from);
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, mail_read_cb);
  curl_easy_setopt(curl, CURLOPT_READDATA, &mb);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)h->conf.webhook_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  rc = curl_easy_perform(curl);
  curl_slist_free_all(rcpt);
  free(msg);
  if (rc != CURLE_OK) {
    snprintf(err, errsz, "%s", curl_easy_strerror(rc));
    return -1;
  }
  return 0;
}

static void handle(ww_handlers_t *h, CURL *curl, const item_t *it) {
  char err[256];
  if (h->webhook_url) {
    int ok = 0;
    int64_t backoff = 200; /* ms, doubled after each failure */
    for (int attempt = 0; attempt <= h->conf.webhook_retries && !ok; attempt++) {
      if (attempt > 0) {
        ww_sleep_ms(backoff);
        backoff *= 2;
      }
      ok = post_once(h, curl, it, err, sizeof(err)) == 0;
      if (!ok)
        WW_LOG(WW_LOG_WARN, "WEBHOOK", "POST %s failed (attempt %d of %d): %s", h->webhook_url,
               attempt + 1, h->conf.webhook_retries + 1, err);
    }
    pthread_mutex_lock(&h->lock);
    if (ok)
      h->st.delivered++;
    else
      h->st.failed++;
    pthread_mutex_unlock(&h->lock);
  }
  if (h->email_url && it->critical) {
    int64_t now = ww_mono_ms();
    int send = h->last_mail_ms == 0 || now - h->last_mail_ms >= h->conf.email_interval_ms;
    if (send) {
      h->last_mail_ms = now;
      if (send_mail(h, curl, it, err, sizeof(err)) != 0) {
        WW_LOG(WW_LOG_WARN, "EMAIL", "mail to %s via %s failed: %s", h->email_to, h->email_url,
               err);
        send = 0;
      }
    }
    pthread_mutex_lock(&h->lock);
    if (send)
      h->st.mailed++;
    else
      h->st.suppressed++;
    pthread_mutex_unlock(&h->lock);
  }
}

static void *worker(void *opaque) {
  ww_handlers_t *h = opaque;
  CURL *curl = curl_easy_init();
  if (!curl)
    WW_LOG(WW_LOG_ERROR, "WEBHOOK", "curl_easy_init failed: alert webhooks and mails are off");
  pthread_mutex_lock(&h->lock);
  for (;;) {
    item_t it;
    while (h->n == 0 && !h->stop)
      pthread_cond_wait(&h->cond, &h->lock);
    if (h->n == 0 && h->stop)
      break;
    it = h->q[h->head];
    h->head = (h->head + 1) % h->conf.queue_max;
    h->n--;
    h->busy = 1;
    pthread_mutex_unlock(&h->lock);
    if (curl)
      handle(h, curl, &it);
    free(it.json);
    pthread_mutex_lock(&h->lock);
    h->busy = 0;
    if (h->n == 0)
      pthread_cond_broadcast(&h->idle);
  }
  pthread_cond_broadcast(&h->idle);
  pthread_mutex_unlock(&h->lock);
  if (curl)
    curl_easy_cleanup(curl);
  return NULL;
}

ww_handlers_t *ww_handlers_new(const ww_handlers_conf_t *conf, char *errstr, size_t errstr_size) {
  ww_handlers_t *h = calloc(1, sizeof(*h));
  if (!h) {
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  h->conf = *conf;
  if (h->conf.queue_max < 1)
    h->conf.queue_max = 1;
  h->webhook_url = dup_or_null(conf->webhook_url);
  h->email_url = dup_or_null(conf->email_url);
  h->email_from = dup_or_null(conf->email_from);
  h->email_to = dup_or_null(conf->email_to);
  pthread_mutex_init(&h->lock, NULL);
  pthread_cond_init(&h->cond, NULL);
  pthread_cond_init(&h->idle, NULL);
  if (h->email_url && (!h->email_to || !h->email_from)) {
    snprintf(errstr, errstr_size, "alert-email %s needs alert-email-to and alert-email-from",
             h->email_url);
    goto err;
  }
  if (h->webhook_url || h->email_url) {
    h->q = calloc((size_t)h->conf.queue_max, sizeof(*h->q));
    if (!h->q) {
      snprintf(errstr, errstr_size, "out of memory for the alert queue");
      goto err;
    }
    if (pthread_create(&h->thread, NULL, worker, h) != 0) {
      snprintf(errstr, errstr_size, "cannot start the alert handler thread");
      goto err;
    }
    h->has_worker = 1;
  }
  return h;
err:
  ww_handlers_destroy(h, 0);
  return NULL;
}

void ww_handlers_destroy(ww_handlers_t *h, int64_t drain_ms) {
  if (!h)
    return;
  if (h->has_worker) {
    int64_t deadline = ww_mono_ms() + drain_ms;
    pthread_mutex_lock(&h->lock);
    while ((h->n > 0 || h->busy) && ww_mono_ms() < deadline) {
      pthread_mutex_unlock(&h->lock);
      ww_sleep_ms(10);
      pthread_mutex_lock(&h->lock);
    }
    if (h->n > 0)
      WW_LOG(WW_LOG_WARN, "WEBHOOK", "%d alert events not handed to the webhook/e-mail at exit",
             h->n);
    h->st.dropped += h->n;
    /* Drop what is left: the worker exits once the queue is empty. */
    while (h->n > 0) {
      free(h->q[h->head].json);
      h->head = (h->head + 1) % h->conf.queue_max;
      h->n--;
    }
    h->stop = 1;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
  }
  pthread_cond_destroy(&h->idle);
  pthread_cond_destroy(&h->cond);
  pthread_mutex_destroy(&h->lock);
  free(h->q);
  free(h->webhook_url);
  free(h->email_url);
  free(h->email_from);
  free(h->email_to);
  free(h);
}

void ww_handlers_submit(ww_handlers_t *h, const char *json, size_t len, const char *summary) {
  item_t it;
  if (!h)
    return;
  if (h->conf.console && summary)
    WW_LOG(WW_LOG_NOTICE, "ALERT", "%s", summary);
  if (!h->has_worker)
    return;
  it.critical = strstr(json, "\"severity\":\"critical\"") != NULL &&
                strstr(json, "\"event\":\"resolved\"") == NULL;
  it.len = len;
  it.json = malloc(len + 1);
  pthread_mutex_lock(&h->lock);
  h->st.submitted++;
  if (!it.json || h->n == h->conf.queue_max) {
    /* Never block the stream: a full queue drops the event and counts it. */
    h->st.dropped++;
    pthread_mutex_unlock(&h->lock);
    free(it.json);
    return;
  }
  memcpy(it.json, json, len);
  it.json[len] = '\0';
  h->q[(h->head + h->n) % h->conf.queue_max] = it;
  h->n++;
  pthread_cond_signal(&h->cond);
  pthread_mutex_unlock(&h->lock);
}

void ww_handlers_stats(ww_handlers_t *h, ww_handlers_stats_t *st) {
  pthread_mutex_lock(&h->lock);
  *st = h->st;
  pthread_mutex_unlock(&h->lock);
}
