/* test_metrics.c: the Prometheus registry, its text format, and /metrics over HTTP. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "windwatch/metrics.h"
#include "ww_test.h"

static double forty_two(void *opaque) {
  return *(double *)opaque;
}

static void test_text_format(void) {
  static const double bounds[] = {0.1, 1, 2.5};
  static double fortytwo = 42;
  ww_metrics_t *reg = ww_metrics_new();
  ww_metric_t *c1, *c2, *g, *h, *f;
  char *text;
  size_t len = 0;
  if (!reg) {
    CHECK(reg != NULL);
    return;
  }
  c1 = ww_metrics_counter(reg, "ww_test_readings_total", "readings seen", "line", "a", NULL);
  c2 = ww_metrics_counter(reg, "ww_test_readings_total", "readings seen", "line",
                          "quote\"back\\slash\nnl", NULL);
  g = ww_metrics_gauge(reg, "ww_test_queue", "queue depth\nin messages", NULL);
  h = ww_metrics_histogram(reg, "ww_test_latency_seconds", "latency", bounds, 3, "topic", "t",
                           NULL);
  f = ww_metrics_gauge_fn(reg, "ww_test_answer", "computed", forty_two, &fortytwo, NULL);
  CHECK(c1 && c2 && g && h && f);
  CHECK(ww_metrics_counter(reg, "ww_test_readings_total", "readings seen", "line", "a", NULL) ==
        c1);
  ww_metric_inc(c1);
  ww_metric_add(c1, 2.5);
  ww_metric_add(c1, -10); /* counters never go down */
  ww_metric_inc(c2);
  ww_metric_set(g, 7);
  ww_metric_add(g, -9);
  ww_metric_observe(h, 0.05);
  ww_metric_observe(h, 0.1); /* le is inclusive */
  ww_metric_observe(h, 2);
  ww_metric_observe(h, 100);
  ww_metric_inc(NULL); /* no-op */
  CHECK_DBL_NEAR(ww_metric_value(c1), 3.5, 0);
  CHECK_DBL_NEAR(ww_metric_value(g), -2, 0);
  CHECK_DBL_NEAR(ww_metric_value(h), 4, 0);
  CHECK_DBL_NEAR(ww_metric_value(f), 42, 0);
  text = ww_metrics_render(reg, &len);
  CHECK_STR_EQ(text, "# HELP ww_test_readings_total readings seen\n"
                     "# TYPE ww_test_readings_total counter\n"
                     "ww_test_readings_total{line=\"a\"} 3.5\n"
                     "ww_test_readings_total{line=\"quote\\\"back\\\\slash\\nnl\"} 1\n"
                     "# HELP ww_test_queue queue depth\\nin messages\n"
                     "# TYPE ww_test_queue gauge\n"
                     "ww_test_queue -2\n"
                     "# HELP ww_test_latency_seconds latency\n"
                     "# TYPE ww_test_latency_seconds histogram\n"
                     "ww_test_latency_seconds_bucket{topic=\"t\",le=\"0.1\"} 2\n"
                     "ww_test_latency_seconds_bucket{topic=\"t\",le=\"1\"} 2\n"
                     "ww_test_latency_seconds_bucket{topic=\"t\",le=\"2.5\"} 3\n"
                     "ww_test_latency_seconds_bucket{topic=\"t\",le=\"+Inf\"} 4\n"
                     "ww_test_latency_seconds_sum{topic=\"t\"} 102.15\n"
                     "ww_test_latency_seconds_count{topic=\"t\"} 4\n"
                     "# HELP ww_test_answer computed\n"
                     "# TYPE ww_test_answer gauge\n"
                     "ww_test_answer 42\n");
  CHECK_INT_EQ(len, text ? strlen(text) : 0);
  free(text);
  ww_metrics_destroy(reg);
  ww_metrics_destroy(NULL);
}

static void test_rejects(void) {
  ww_metrics_t *reg = ww_metrics_new();
  static const double unsorted[] = {1, 0.5};
  CHECK(ww_metrics_counter(reg, "1bad", "h", NULL) == NULL);
  CHECK(ww_metrics_counter(reg, "bad-name", "h", NULL) == NULL);
  CHECK(ww_metrics_counter(reg, "ok_total", "h", "bad label", "x", NULL) == NULL);
  CHECK(ww_metrics_counter(reg, "ok_total", "h", "le", "x", NULL) == NULL);
  CHECK(ww_metrics_counter(reg, "ok_total", "h", NULL) != NULL);
  CHECK(ww_metrics_gauge(reg, "ok_total", "h", NULL) == NULL); /* type clash */
  CHECK(ww_metrics_histogram(reg, "h_seconds", "h", unsorted, 2, NULL) == NULL);
  ww_metrics_destroy(reg);
}

typedef struct hammer_s {
  ww_metric_t *c;
  ww_metric_t *h;
} hammer_t;

static void *hammer(void *arg) {
  hammer_t *hm = arg;
  for (int i = 0; i < 100000; i++) {
    ww_metric_inc(hm->c);
    ww_metric_observe(hm->h, 0.5);
  }
  return NULL;
}

/* Updates from several threads are never lost. */
static void test_threads(void) {
  static const double b[] = {1};
  ww_metrics_t *reg = ww_metrics_new();
  hammer_t hm = {ww_metrics_counter(reg, "n_total", "n", NULL),
                 ww_metrics_histogram(reg, "h", "h", b, 1, NULL)};
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    CHECK_INT_EQ(pthread_create(&t[i], NULL, hammer, &hm), 0);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  CHECK_DBL_NEAR(ww_metric_value(hm.c), 400000, 0);
  CHECK_DBL_NEAR(ww_metric_value(hm.h), 400000, 0);
  ww_metrics_destroy(reg);
}

/* GET path on 127.0.0.1:port; @returns the whole response (malloc'd) or NULL. */
static char *http_get(int port, const char *path) {
  struct sockaddr_in sa;
  char req[256], *resp = NULL;
  size_t len = 0, cap = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return NULL;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
    goto done;
  snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
  if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
    goto done;
  for (;;) {
    ssize_t n;
    if (len + 1024 + 1 > cap) {
      char *nb = realloc(resp, cap = cap ? cap * 2 : 4096);
      if (!nb)
        goto done;
      resp = nb;
    }
    n = read(fd, resp + len, cap - len - 1);
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  if (resp)
    resp[len] = '\0';
done:
  close(fd);
  return resp;
}

static void test_http(void) {
  ww_metrics_t *reg = ww_metrics_new();
  char err[256];
  int port = 0;
  char *resp;
  ww_metric_inc(ww_metrics_counter(reg, "served_total", "s", NULL));
  CHECK_INT_EQ(ww_metrics_serve(reg, "127.0.0.1:0", &port, err, sizeof(err)), 0);
  CHECK(port > 0);
  resp = http_get(port, "/metrics");
  CHECK_STR_CONTAINS(resp, "200");
  CHECK_STR_CONTAINS(resp, "text/plain; version=0.0.4");
  CHECK_STR_CONTAINS(resp, "\r\n\r\n# HELP served_total s\n# TYPE served_total counter\n"
                           "served_total 1\n");
  free(resp);
  resp = http_get(port, "/other");
  CHECK_STR_CONTAINS(resp, "404");
  free(resp);
  CHECK_INT_EQ(ww_metrics_serve(reg, "127.0.0.1:0", NULL, err, sizeof(err)), -1);
  ww_metrics_destroy(reg);

  reg = ww_metrics_new();
  CHECK_INT_EQ(ww_metrics_serve(reg, "no-port-here", NULL, err, sizeof(err)), -1);
  CHECK_STR_CONTAINS(err, "no-port-here");
  CHECK_INT_EQ(ww_metrics_serve(reg, "127.0.0.1:99999", NULL, err, sizeof(err)), -1);
  ww_metrics_destroy(reg);
}

int main(void) {
  RUN(test_text_format);
  RUN(test_rejects);
  RUN(test_threads);
  RUN(test_http);
  return WW_TEST_RESULT();
}
