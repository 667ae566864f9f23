/**
 * @file producer_http.h
 * @brief The --http output: POST each reading to the api's /api/predict with
 *        libcurl (one keep-alive connection, timeouts, retries with
 *        exponential backoff) and print the returned score and status.
 *
 * Not thread-safe; one handle per thread. curl_global_init() must have been
 * called by the program before ww_phttp_new().
 */
#ifndef WW_PRODUCER_HTTP_H
#define WW_PRODUCER_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ww_phttp_s ww_phttp_t;

/**
 * @param url         http(s)://host:port[/path]; without a path, /api/predict is used
 * @param timeout_ms  whole-request timeout
 * @param retries     extra attempts after a connection error, a timeout or a 5xx/429
 * @param out         where each result line goes (stdout; borrowed)
 * @returns a handle for ww_phttp_destroy(), or NULL with \p errstr set.
 */
ww_phttp_t *ww_phttp_new(const char *url, int64_t timeout_ms, int retries, FILE *out, char *errstr,
                         size_t errstr_size);

/**
 * @brief POST \p body (a JSON reading) and print one JSON line to the output:
 *        the response object plus "component_id" and "injected_anomaly" taken
 *        from the request, so scores can be compared with the ground truth.
 * @returns 0 on a 2xx answer, -1 once retries are spent or on a 4xx (logged).
 */
int ww_phttp_send(ww_phttp_t *h, const char *body, size_t len);

/** Readings answered 2xx and readings given up on. */
void ww_phttp_counts(const ww_phttp_t *h, uint64_t *ok, uint64_t *failed);

void ww_phttp_destroy(ww_phttp_t *h);

#endif /* WW_PRODUCER_HTTP_H */
