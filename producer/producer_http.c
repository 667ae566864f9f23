/*
 * producer_http.c: POST readings to /api/predict, as the original HTTP
 * simulator did, but with anomalies, timeouts, retries and one reused
 * (keep-alive) connection.
 */
#include "producer_http.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "windwatch/log.h"
#include "windwatch/signal.h"
#include "windwatch/timeutil.h"

#define RESP_MAX         65536 /* response bytes kept; the rest is discarded */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   5000

struct ww_phttp_s {
  CURL *curl;                 /* owned; keeps the connection alive between requests */
  struct curl_slist *headers; /* owned */
  char url[1024];             /* full URL of the predict endpoint */
  int retries;                /* extra attempts */
  FILE *out;                  /* result lines (borrowed) */
  char resp[RESP_MAX + 1];    /* response body of the current request */
  size_t resp_len;
  uint64_t ok, failed; /* readings answered 2xx / given up */
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
  ww_phttp_t *h = userdata;
  size_t n = size * nmemb, room = RESP_MAX - h->resp_len;
  memcpy(h->resp + h->resp_len, ptr, n < room ? n : room);
  h->resp_len += n < room ? n : room;
  return n;
}

ww_phttp_t *ww_phttp_new(const char *url, int64_t timeout_ms, int retries, FILE *out, char *errstr,
                         size_t errstr_size) {
  ww_phttp_t *h = calloc(1, sizeof(*h));
  const char *scheme_end;
  CURLcode cc = CURLE_OK;
  if (!h) {
    snprintf(errstr, errstr_size, "out of memory");
    goto err;
  }
  if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
    snprintf(errstr, errstr_size,
             "--http '%s' is not an http:// or https:// URL; use e.g. "
             "http://127.0.0.1:5000/api/predict",
             url ? url : "");
    goto err;
  }
  scheme_end = strstr(url, "://") + 3;
  /* A bare host:port means the api's predict endpoint. */
  if (!strchr(scheme_end, '/') || strcmp(strchr(scheme_end, '/'), "/") == 0)
    snprintf(h->url, sizeof(h->url), "%.*s/api/predict",
             (int)(strlen(url) - (url[strlen(url) - 1] == '/')), url);
  else
    snprintf(h->url, sizeof(h->url), "%s", url);
  h->retries = retries;
  h->out = out;
  if (!(h->curl = curl_easy_init()) ||
      !(h->headers = curl_slist_append(NULL, "Content-Type: application/json"))) {
    snprintf(errstr, errstr_size, "cannot create the HTTP client (out of memory)");
    goto err;
  }
  if ((cc = curl_easy_setopt(h->curl, CURLOPT_URL, h->url)) != CURLE_OK ||
      (cc = curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers)) != CURLE_OK ||
      (cc = curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
      (cc = curl_easy_setopt(h->curl, CURLOPT_TCP_KEEPALIVE, 1L)) != CURLE_OK ||
      (cc = curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms)) != CURLE_OK ||
      (cc = curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS,
                             (long)(timeout_ms < 3000 ? timeout_ms : 3000))) != CURLE_OK ||
      (cc = curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body)) != CURLE_OK ||
      (cc = curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h)) != CURLE_OK ||
      (cc = curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "windwatch-producer/" WW_VERSION)) !=
          CURLE_OK) {
    snprintf(errstr, errstr_size, "HTTP client set-up failed: %s", curl_easy_strerror(cc));
    goto err;
  }
  return h;
err:
  ww_phttp_destroy(h);
  return NULL;
}

/* Print the answer with the request's component and ground truth added. */
static void print_result(ww_phttp_t *h, const char *body, size_t len) {
  json_error_t jerr;
  json_t *resp = json_loadb(h->resp, h->resp_len, 0, &jerr);
  json_t *req = json_loadb(body, len, 0, &jerr);
  char *line = NULL;
  if (!resp || !json_is_object(resp)) {
    WW_LOG(WW_LOG_WARN, "HTTP", "%s answered with something that is not a JSON object: %.200s",
           h->url, h->resp);
    goto done;
  }
  if (req && json_is_object(req)) {
    json_t *v;
    if ((v = json_object_get(req, "component_id")) && json_object_set(resp, "component_id", v) != 0)
      goto done;
    v = json_object_get(req, "injected_anomaly");
    if (json_object_set_new(resp, "injected_anomaly", v ? json_incref(v) : json_null()) != 0)
      goto done;
  }
  if ((line = json_dumps(resp, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))) !=
      NULL) {
    fputs(line, h->out);
    fputc('\n', h->out);
    fflush(h->out);
  }
done:
  free(line);
  json_decref(resp);
  json_decref(req);
}

int ww_phttp_send(ww_phttp_t *h, const char *body, size_t len) {
  int64_t backoff = BACKOFF_FIRST_MS;
  int rc = -1;
  for (int attempt = 0; attempt <= h->retries; attempt++) {
    long status = 0;
    CURLcode cc;
    h->resp_len = 0;
    h->resp[0] = '\0';
    if ((cc = curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body)) != CURLE_OK ||
        (cc = curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long)len)) != CURLE_OK)
      goto log;
    cc = curl_easy_perform(h->curl);
    h->resp[h->resp_len] = '\0';
    if (cc == CURLE_OK &&
        (cc = curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status)) == CURLE_OK) {
      if (status >= 200 && status < 300) {
        print_result(h, body, len);
        rc = 0;
        break;
      }
      if (status != 429 && status < 500) {
        WW_LOG(WW_LOG_WARN, "HTTP", "%s refused a reading with %ld: %.300s", h->url, status,
               h->resp);
        break; /* the request itself is wrong: retrying will not help */
      }
    }
  log:
    if (attempt == h->retries || ww_signal_stop_requested()) {
      if (cc != CURLE_OK)
        WW_LOG(WW_LOG_WARN, "HTTP", "POST %s failed after %d attempts: %s", h->url, attempt + 1,
               curl_easy_strerror(cc));
      else
        WW_LOG(WW_LOG_WARN, "HTTP", "POST %s failed after %d attempts: status %ld", h->url,
               attempt + 1, status);
      break;
    }
    WW_LOG(WW_LOG_DEBUG, "HTTP", "POST %s: %s; retrying in %lld ms", h->url,
           cc != CURLE_OK ? curl_easy_strerror(cc) : "server error", (long long)backoff);
    ww_sleep_ms(backoff);
    backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
  }
  if (rc == 0)
    h->ok++;
  else
    h->failed++;
  return rc;
}

void ww_phttp_counts(const ww_phttp_t *h, uint64_t *ok, uint64_t *failed) {
  *ok = h->ok;
  *failed = h->failed;
}

void ww_phttp_destroy(ww_phttp_t *h) {
  if (!h)
    return;
  if (h->curl)
    curl_easy_cleanup(h->curl);
  curl_slist_free_all(h->headers);
  free(h);
}
