/* api_server.c: the libmicrohttpd daemon, request routing, bodies, limits and responses. */
#include "api_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "windwatch/log.h"
#include "windwatch/timeutil.h"

#define API_CONN_TIMEOUT_S 30          /* idle keep-alive connections are closed after this */
#define API_CONN_LIMIT     1024        /* simultaneous connections */
#define API_CONN_MEMORY    (32 * 1024) /* bytes of header buffer per connection */

/* ---------------------------------------------------------------- listen */

int ww_api_parse_listen(const char *s, ww_api_conf_t *conf, char *errstr, size_t errstr_size) {
  const char *colon, *host, *port_s;
  size_t host_len;
  char *end = NULL;
  long port;

  if (!s || !*s)
    goto bad;
  if (s[0] == '[') { /* [v6]:port */
    const char *rb = strchr(s, ']');
    if (!rb || rb[1] != ':')
      goto bad;
    host = s + 1;
    host_len = (size_t)(rb - host);
    port_s = rb + 2;
  } else {
    colon = strrchr(s, ':');
    if (!colon || strchr(s, ':') != colon)
      goto bad;
    host = s;
    host_len = (size_t)(colon - s);
    port_s = colon + 1;
  }
  if (host_len >= sizeof(conf->host))
    goto bad;
  errno = 0;
  port = strtol(port_s, &end, 10);
  if (!*port_s || *end || errno || port < 0 || port > 65535)
    goto bad;
  memcpy(conf->host, host, host_len);
  conf->host[host_len] = '\0';
  conf->port = (uint16_t)port;
  return 0;
bad:
  snprintf(errstr, errstr_size,
           "--listen: '%s' is not HOST:PORT (use e.g. 127.0.0.1:5000, 0.0.0.0:8080, "
           "[::1]:5000 or :5000 for every address; port 0..65535)",
           s ? s : "");
  return -1;
}

/* ------------------------------------------------------------- responses */

static void add_common_headers(struct MHD_Response *resp) {
  /* Every header add can only fail on allocation; the response is still valid. */
  (void)MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  (void)MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

enum MHD_Result api_send_response(api_req_t *req, unsigned status, struct MHD_Response *resp) {
  enum MHD_Result ret;
  if (!resp)
    return MHD_NO; /* closes the connection: nothing better to do without memory */
  add_common_headers(resp);
  req->status = (int)status;
  ret = MHD_queue_response(req->conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

enum MHD_Result api_send_text(api_req_t *req, unsigned status, const char *ctype, const char *body,
                              size_t len) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!resp)
    return MHD_NO;
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return api_send_response(req, status, resp);
}

enum MHD_Result api_send_json(api_req_t *req, unsigned status, json_t *root) {
  struct MHD_Response *resp;
  char *text;
  if (!root)
    return api_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory building JSON");
  text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(10));
  json_decref(root);
  if (!text)
    return MHD_NO;
  /* json_dumps allocates with malloc (jansson's default), MHD frees with free(). */
  resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(text);
    return MHD_NO;
  }
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return api_send_response(req, status, resp);
}

enum MHD_Result api_send_error(api_req_t *req, unsigned status, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (status >= 500) {
    WW_LOG(WW_LOG_WARN, "API", "%u %s: %s", status, req->url, msg);
    __atomic_add_fetch(&req->api->metrics.db_errors, status == 503 ? 1 : 0, __ATOMIC_RELAXED);
  }
  return api_send_json(req, status, json_pack("{s:s, s:i}", "error", msg, "status", (int)status));
}

/* --------------------------------------------------------------- arguments */

const char *api_arg(api_req_t *req, const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int api_arg_int(api_req_t *req, const char *name, int64_t def, int64_t min, int64_t max,
                int64_t *out, enum MHD_Result *ret) {
  const char *v = api_arg(req, name);
  if (api_parse_int(v, def, min, max, out) == 0)
    return 0;
  *ret = api_send_error(req, MHD_HTTP_BAD_REQUEST,
                        "query parameter %s must be an integer in %lld..%lld (got '%.64s')", name,
                        (long long)min, (long long)max, v);
  return -1;
}

int api_arg_time(api_req_t *req, const char *name, int64_t def, int64_t *out,
                 enum MHD_Result *ret) {
  const char *v = api_arg(req, name);
  if (api_parse_time(v, def, ww_now_ms(), out) == 0)
    return 0;
  *ret = api_send_error(req, MHD_HTTP_BAD_REQUEST,
                        "query parameter %s must be an RFC 3339 time (2026-11-25T19:34:44Z), "
                        "epoch milliseconds, now, or relative like -15m / -2h / -7d (got '%.64s')",
                        name, v);
  return -1;
}

/* Sum of the query string's bytes, to refuse absurd ones with a JSON 414. */
static enum MHD_Result add_arg_len(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
  size_t *total = cls;
  (void)kind;
  *total += strlen(key) + (value ? strlen(value) : 0) + 2;
  return MHD_YES;
}

/* ----------------------------------------------------------------- routing */

/* If \p url starts with \p prefix and a non-empty rest without '/', return the rest. */
static const char *tail(const char *url, const char *prefix) {
  size_t n = strlen(prefix);
  if (strncmp(url, prefix, n) != 0 || !url[n] || strchr(url + n, '/'))
    return NULL;
  return url + n;
}

static enum MHD_Result method_not_allowed(api_req_t *req, const char *allow) {
  char msg[96];
  json_t *root;
  char *text;
  struct MHD_Response *resp;
  snprintf(msg, sizeof(msg), "method not allowed: use %s", allow);
  root = json_pack("{s:s, s:i}", "error", msg, "status", 405);
  text = root ? json_dumps(root, JSON_COMPACT) : NULL;
  json_decref(root);
  if (!text)
    return MHD_NO;
  resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(text);
    return MHD_NO;
  }
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
  return api_send_response(req, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
}

static enum MHD_Result route(api_req_t *req) {
  const char *url = req->url, *rest;

  if (strcmp(url, "/api/predict") == 0) {
    req->route = R_PREDICT;
    if (!req->is_post)
      goto not_allowed_post;
    return api_h_predict(req);
  }
  if (req->is_post)
    goto not_allowed_get;
  if (!req->is_get)
    goto not_allowed_get;

  if (strncmp(url, "/api/", 5) == 0) {
    const char *p = url + 5;
    if (!strcmp(p, "health"))
      return req->route = R_HEALTH, api_h_health(req);
    if (!strcmp(p, "current-status"))
      return req->route = R_CURRENT, api_h_current_status(req);
    if (!strcmp(p, "production-lines"))
      return req->route = R_LINES, api_h_production_lines(req);
    if (!strcmp(p, "thresholds"))
      return req->route = R_THRESHOLDS, api_h_thresholds(req);
    if (!strcmp(p, "data-samples"))
      return req->route = R_SAMPLES, api_h_data_samples(req);
    if (!strcmp(p, "debug-sensor-count"))
      return req->route = R_DEBUG_COUNT, api_h_debug_count(req);
    if (!strcmp(p, "dashboard-data"))
      return req->route = R_DASHBOARD, api_h_dashboard_data(req);
    if (!strcmp(p, "database-stats"))
      return req->route = R_DBSTATS, api_h_database_stats(req);
    if (!strcmp(p, "alerts"))
      return req->route = R_ALERTS, api_h_alerts(req);
    if (!strcmp(p, "windows"))
      return req->route = R_WINDOWS, api_h_windows(req);
    if (!strcmp(p, "models"))
      return req->route = R_MODELS, api_h_models(req);
    if (!strcmp(p, "stream"))
      return req->route = R_STREAM, api_h_stream(req);
    if ((rest = tail(url, "/api/sensor-history/")))
      return req->route = R_HISTORY, api_h_sensor_history(req, rest);
    if ((rest = tail(url, "/api/table-data/")))
      return req->route = R_TABLE, api_h_table_data(req, rest);
    if ((rest = tail(url, "/api/alerts/")))
      return req->route = R_ALERT_ONE, api_h_alert_one(req, rest);
    if ((rest = tail(url, "/api/lines/")))
      return req->route = R_LINE_ONE, api_h_line_one(req, rest);
    return api_send_error(req, MHD_HTTP_NOT_FOUND, "no such endpoint: %.200s", url);
  }
  if (!strcmp(url, "/metrics"))
    return req->route = R_METRICS, api_h_metrics(req);
  if (!strcmp(url, "/export-csv"))
    return req->route = R_EXPORT, api_h_export_csv(req, 0);
  if (!strcmp(url, "/export-predictions-csv"))
    return req->route = R_EXPORT_PRED, api_h_export_csv(req, 1);

  req->route = R_STATIC;
  return api_h_static(req, url);

not_allowed_post:
  return method_not_allowed(req, "POST");
not_allowed_get:
  return method_not_allowed(req, "GET, HEAD");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  ww_api_t *api = cls;
  api_req_t *req = *con_cls;
  size_t qlen = 0;
  (void)version;

  if (!req) { /* first call: headers only */
    req = calloc(1, sizeof(*req));
    if (!req)
      return MHD_NO;
    req->api = api;
    req->conn = conn;
    req->start_ns = ww_mono_ns();
    req->is_get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
    req->is_post = !strcmp(method, MHD_HTTP_METHOD_POST);
    *con_cls = req;
    __atomic_add_fetch(&api->metrics.in_flight, 1, __ATOMIC_RELAXED);
    return MHD_YES;
  }
  req->url = url;
  if (*upload_data_size) { /* body chunk */
    if (!req->too_large && req->body_len + *upload_data_size > api->conf.max_body)
      req->too_large = 1;
    if (!req->too_large) {
      size_t need = req->body_len + *upload_data_size + 1;
      if (need > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap * 2 : 1024;
        char *nb;
        while (cap < need)
          cap *= 2;
        nb = realloc(req->body, cap);
        if (!nb)
          return MHD_NO;
        req->body = nb;
        req->body_cap = cap;
      }
      memcpy(req->body + req->body_len, upload_data, *upload_data_size);
      req->body_len += *upload_data_size;
      req->body[req->body_len] = '\0';
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  /* The whole request is here. */
  if (req->too_large)
    return api_send_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than %zu bytes",
                          api->conf.max_body);
  if (strlen(url) > WW_API_URL_MAX)
    return api_send_error(req, MHD_HTTP_URI_TOO_LONG, "path longer than %d bytes", WW_API_URL_MAX);
  (void)MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg_len, &qlen);
  if (qlen > WW_API_QUERY_MAX)
    return api_send_error(req, MHD_HTTP_URI_TOO_LONG, "query string longer than %d bytes",
                          WW_API_QUERY_MAX);
  return route(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  ww_api_t *api = cls;
  api_req_t *req = *con_cls;
  (void)conn;
  (void)toe;
  if (!req)
    return;
  api_metrics_observe(&api->metrics, req->route, req->status, ww_mono_ns() - req->start_ns);
  __atomic_sub_fetch(&api->metrics.in_flight, 1, __ATOMIC_RELAXED);
  free(req->body);
  free(req);
  *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  char msg[512];
  size_t n;
  (void)cls;
  vsnprintf(msg, sizeof(msg), fmt, ap);
  n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = '\0';
  WW_LOG(WW_LOG_WARN, "HTTP", "%s", msg);
}

/* ------------------------------------------------------------ start/stop */

ww_api_t *ww_api_start(const ww_api_conf_t *conf, char *errstr, size_t errstr_size) {
  ww_api_t *api = calloc(1, sizeof(*api));
  struct addrinfo hints, *ai = NULL;
  char port_s[8];
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                   MHD_USE_ERROR_LOG;
  const union MHD_DaemonInfo *info;
  int rc;

  if (!api) {
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  api->conf = *conf;
  api->started_ms = ww_now_ms();
  if (api->conf.threads < 1)
    api->conf.threads = 1;
  if (api->conf.max_body == 0)
    api->conf.max_body = 64 * 1024;
  if (api_db_init(api) != 0) {
    snprintf(errstr, errstr_size, "cannot create the per-thread database key");
    goto err;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  snprintf(port_s, sizeof(port_s), "%u", (unsigned)conf->port);
  rc = getaddrinfo(conf->host[0] ? conf->host : NULL, port_s, &hints, &ai);
  if (rc != 0 || !ai) {
    snprintf(errstr, errstr_size,
             "--listen: cannot resolve host '%s': %s (use a numeric "
             "address such as 127.0.0.1)",
             conf->host, gai_strerror(rc));
    goto err;
  }
  if (ai->ai_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  api->models = api_models_new();
  if (!api->models) {
    snprintf(errstr, errstr_size, "out of memory");
    goto err;
  }
  api->stream = api_stream_new(api);
  if (!api->stream) {
    snprintf(errstr, errstr_size, "cannot start the live-event thread");
    goto err;
  }
  api->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
      MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)api->conf.threads,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)API_CONN_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONN_MEMORY,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, api, MHD_OPTION_END);
  if (!api->daemon) {
    snprintf(errstr, errstr_size,
             "--listen: cannot serve HTTP on %s:%u (%s); is another "
             "process using the port? choose another with --listen HOST:PORT",
             conf->host, (unsigned)conf->port, strerror(errno));
    goto err;
  }
  info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
  api->port = info ? info->port : conf->port;
  freeaddrinfo(ai);
  return api;
err:
  if (ai)
    freeaddrinfo(ai);
  ww_api_stop(api);
  return NULL;
}

uint16_t ww_api_port(const ww_api_t *api) {
  return api->port;
}

void ww_api_stop(ww_api_t *api) {
  if (!api)
    return;
  /* Streams first: a suspended connection must be resumed and ended before
   * the daemon can stop. The hub outlives the daemon, whose stop may still
   * end a stream (a client that did not read) and call back into it.
   * MHD_quiesce_daemon() is not used: with MHD_USE_EPOLL and a thread pool
   * it races a worker removing the same listen socket from its epoll set,
   * and libmicrohttpd aborts ("Failed to remove listen FD from epoll set"). */
  api_stream_stop(api->stream);
  if (api->daemon)
    MHD_stop_daemon(api->daemon);
  api_stream_free(api->stream);
  api_db_fini(api);
  api_models_destroy(api->models);
  free(api);
}
