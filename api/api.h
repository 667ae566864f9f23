/**
 * @file api.h
 * @brief windwatch-api: the HTTP server over the read-only SQLite database.
 *
 * main.c parses flags into a ww_api_conf_t and calls ww_api_start(); the
 * server runs in libmicrohttpd's own threads (a thread pool on epoll) until
 * ww_api_stop(). Every worker thread opens its own read-only SQLite
 * connection on first use, so the handlers never share a connection.
 */
#ifndef WW_API_H
#define WW_API_H

#include <stddef.h>
#include <stdint.h>

#include "windwatch/config.h"

#define WW_API_HOST_MAX 256 /* bytes for a listen host incl. NUL */

/** Everything the server needs; strings are borrowed and must outlive the server. */
typedef struct ww_api_conf_s {
  char host[WW_API_HOST_MAX]; /* numeric address or name to bind, "127.0.0.1" */
  uint16_t port;              /* TCP port; 0 = any free port (see ww_api_port()) */
  const char *db_path;        /* SQLite file written by the sink */
  const char *web_root;       /* directory of the dashboard (index.html, ...) */
  const char *token;          /* bearer token required for POST, or NULL */
  int threads;                /* libmicrohttpd worker threads, >= 1 */
  size_t max_body;            /* bytes; larger request bodies get 413 */
  const ww_factory_t *fac;    /* borrowed factory description */
  struct rd_kafka_s *rk;      /* producer for /api/predict readings, or NULL; borrowed */
  const char *topic_data;     /* topic of raw readings for rk */
} ww_api_conf_t;

typedef struct ww_api_s ww_api_t;

/**
 * @brief Parse "HOST:PORT", "[V6ADDR]:PORT" or ":PORT" (any address) into \p conf.
 * @returns 0, or -1 with a message naming the flag, the value and the fix in \p errstr.
 */
int ww_api_parse_listen(const char *s, ww_api_conf_t *conf, char *errstr, size_t errstr_size);

/**
 * @brief Bind, start the worker threads and the live-event thread.
 * @returns a server to pass to ww_api_stop(), or NULL with \p errstr set.
 * @remark \p conf is copied; the strings it points to are borrowed.
 */
ww_api_t *ww_api_start(const ww_api_conf_t *conf, char *errstr, size_t errstr_size);

/** @returns the TCP port actually bound (useful with port 0). */
uint16_t ww_api_port(const ww_api_t *api);

/** Stop accepting, end live streams, join every thread and free \p api. NULL is a no-op. */
void ww_api_stop(ww_api_t *api);

#endif /* WW_API_H */
