/* test_processor_handlers.c: the webhook handler against a local HTTP server. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "processor_handlers.h"
#include "windwatch/timeutil.h"
#include "ww_test.h"

/* A one-thread HTTP server: answers 500 to the first request, 200 after. */
typedef struct srv_s {
  int fd; /* listening socket */
  int port;
  int requests;    /* requests answered */
  char body[4096]; /* body of the last request */
} srv_t;

static void *serve(void *opaque) {
  srv_t *s = opaque;
  for (int i = 0; i < 2; i++) {
    char buf[8192];
    size_t got = 0;
    long clen = -1;
    char *hdr_end = NULL;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
      return NULL;
    while (got < sizeof(buf) - 1) {
      ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
      if (n <= 0)
        break;
      got += (size_t)n;
      buf[got] = '\0';
      hdr_end = strstr(buf, "\r\n\r\n");
      if (hdr_end) {
        char *cl = strstr(buf, "Content-Length: ");
        clen = cl ? strtol(cl + 16, NULL, 10) : 0;
        if ((long)(got - (size_t)(hdr_end + 4 - buf)) >= clen)
          break;
      }
    }
    if (hdr_end)
      snprintf(s->body, sizeof(s->body), "%s", hdr_end + 4);
    {
      const char *resp = i == 0
                             ? "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                             : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      if (write(c, resp, strlen(resp)) < 0)
        perror("write");
    }
    close(c);
    s->requests++;
  }
  return NULL;
}

static void test_webhook_retries(void) {
  srv_t s;
  struct sockaddr_in a;
  socklen_t alen = sizeof(a);
  pthread_t th;
  char url[64], err[256];
  const char *ev = "{\"v\":1,\"alert_id\":\"turbine-line-1-1-1\",\"event\":\"opened\","
                   "\"severity\":\"critical\"}";
  ww_handlers_conf_t hc;
  ww_handlers_t *h;
  ww_handlers_stats_t st;
  memset(&s, 0, sizeof(s));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s.fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s.fd >= 0);
  CHECK(bind(s.fd, (struct sockaddr *)&a, sizeof(a)) == 0);
  CHECK(listen(s.fd, 4) == 0);
  CHECK(getsockname(s.fd, (struct sockaddr *)&a, &alen) == 0);
  s.port = ntohs(a.sin_port);
  CHECK(pthread_create(&th, NULL, serve, &s) == 0);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", s.port);
  memset(&hc, 0, sizeof(hc));
  hc.webhook_url = url;
  hc.webhook_retries = 2;
  hc.webhook_timeout_ms = 5000;
  hc.queue_max = 8;
  h = ww_handlers_new(&hc, err, sizeof(err));
  CHECK(h != NULL);
  if (h) {
    ww_handlers_submit(h, ev, strlen(ev), NULL);
    ww_handlers_destroy(h, 10000); /* drains: the 500, a backoff, then the 200 */
  }
  pthread_join(th, NULL);
  close(s.fd);
  CHECK_INT_EQ(s.requests, 2);
  CHECK_STR_EQ(s.body, ev);
  /* counters of a fresh set start at zero */
  h = ww_handlers_new(&hc, err, sizeof(err));
  if (h) {
    ww_handlers_stats(h, &st);
    CHECK_INT_EQ(st.delivered, 0);
    ww_handlers_destroy(h, 0);
  }
}

static void test_full_queue_drops(void) {
  char err[256];
  const char *ev = "{\"event\":\"opened\"}";
  ww_handlers_conf_t hc;
  ww_handlers_t *h;
  ww_handlers_stats_t st;
  memset(&hc, 0, sizeof(hc));
  /* Port 9 on loopback: nothing listens, every post fails fast. */
  hc.webhook_url = "http://127.0.0.1:9/hook";
  hc.webhook_retries = 0;
  hc.webhook_timeout_ms = 2000;
  hc.queue_max = 1;
  h = ww_handlers_new(&hc, err, sizeof(err));
  CHECK(h != NULL);
  if (!h)
    return;
  for (int i = 0; i < 5; i++)
    ww_handlers_submit(h, ev, strlen(ev), NULL);
  ww_handlers_stats(h, &st);
  CHECK_INT_EQ(st.submitted, 5);
  CHECK(st.dropped >= 3); /* at most one in the queue and one in the worker */
  ww_handlers_destroy(h, 5000);
}

/* The console writes one notice line per committed alert event: its summary,
 * or nothing when the event comes without one. */
static void test_console_line(void) {
  char err[256], path[] = "/tmp/ww-test-console.XXXXXX", out[2048];
  const char *ev = "{\"event\":\"opened\"}";
  const char *line = "turbine-line-1-1-1 opened turbine-line-1/Blade severity critical type "
                     "threshold max_score 0.897 readings 1";
  ww_handlers_conf_t hc;
  ww_handlers_t *h;
  int fd = mkstemp(path), saved = dup(STDERR_FILENO); /* the log goes to fd 2 */
  ssize_t n;
  CHECK(fd >= 0 && saved >= 0);
  if (fd < 0 || saved < 0)
    return;
  memset(&hc, 0, sizeof(hc));
  hc.console = 1;
  hc.queue_max = 4;
  h = ww_handlers_new(&hc, err, sizeof(err));
  CHECK(h != NULL);
  fflush(stderr);
  dup2(fd, STDERR_FILENO);
  if (h) {
    ww_handlers_submit(h, ev, strlen(ev), line);
    ww_handlers_submit(h, ev, strlen(ev), NULL);
    ww_handlers_destroy(h, 0);
  }
  dup2(saved, STDERR_FILENO);
  close(saved);
  n = pread(fd, out, sizeof(out) - 1, 0);
  close(fd);
  unlink(path);
  out[n > 0 ? n : 0] = '\0';
  CHECK_STR_CONTAINS(out,
                     "ALERT: turbine-line-1-1-1 opened turbine-line-1/Blade severity critical");
  {
    int lines = 0;
    for (const char *c = out; *c; c++)
      lines += *c == '\n';
    CHECK_INT_EQ(lines, 1); /* the event without a summary wrote nothing */
  }
}

static void test_email_needs_addresses(void) {
  char err[256];
  ww_handlers_conf_t hc;
  memset(&hc, 0, sizeof(hc));
  hc.email_url = "smtp://127.0.0.1:25";
  hc.queue_max = 4;
  CHECK(ww_handlers_new(&hc, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "alert-email-to");
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RUN(test_webhook_retries);
  RUN(test_full_queue_drops);
  RUN(test_console_line);
  RUN(test_email_needs_addresses);
  curl_global_cleanup();
  return WW_TEST_RESULT();
}
