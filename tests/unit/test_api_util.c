/* test_api_util.c: --listen parsing, CSV quoting, the table allow-list, a server round trip,
 * and stopping the server with event streams open. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api.h"
#include "api_internal.h"
#include "windwatch/db.h"
#include "ww_test.h"

static void test_listen(void) {
  ww_api_conf_t c;
  char err[256];
  memset(&c, 0, sizeof(c));
  CHECK_INT_EQ(ww_api_parse_listen("127.0.0.1:5000", &c, err, sizeof(err)), 0);
  CHECK_STR_EQ(c.host, "127.0.0.1");
  CHECK_INT_EQ(c.port, 5000);
  CHECK_INT_EQ(ww_api_parse_listen("[::1]:8080", &c, err, sizeof(err)), 0);
  CHECK_STR_EQ(c.host, "::1");
  CHECK_INT_EQ(c.port, 8080);
  CHECK_INT_EQ(ww_api_parse_listen(":0", &c, err, sizeof(err)), 0);
  CHECK_STR_EQ(c.host, "");
  CHECK_INT_EQ(c.port, 0);
  CHECK_INT_EQ(ww_api_parse_listen("localhost", &c, err, sizeof(err)), -1);
  CHECK_STR_CONTAINS(err, "--listen");
  CHECK_STR_CONTAINS(err, "'localhost'");
  CHECK_INT_EQ(ww_api_parse_listen("1.2.3.4:70000", &c, err, sizeof(err)), -1);
  CHECK_INT_EQ(ww_api_parse_listen("1.2.3.4:12x", &c, err, sizeof(err)), -1);
  CHECK_INT_EQ(ww_api_parse_listen("::1:80", &c, err, sizeof(err)), -1);
  CHECK_INT_EQ(ww_api_parse_listen("", &c, err, sizeof(err)), -1);
}

static void test_csv(void) {
  char buf[64];
  int n;
  n = api_csv_field(buf, sizeof(buf), "plain");
  CHECK_INT_EQ(n, 5);
  CHECK(memcmp(buf, "plain", 5) == 0);
  n = api_csv_field(buf, sizeof(buf), "a,\"b\"");
  buf[n < 0 ? 0 : n] = '\0';
  CHECK_STR_EQ(buf, "\"a,\"\"b\"\"\"");
  n = api_csv_field(buf, sizeof(buf), "two\r\nlines");
  buf[n < 0 ? 0 : n] = '\0';
  CHECK_STR_EQ(buf, "\"two\r\nlines\"");
  CHECK_INT_EQ(api_csv_field(buf, 4, "toolong"), -1);
}

static void test_tables(void) {
  CHECK(api_table_sql("sensor_readings") != NULL);
  CHECK(api_table_sql("alerts") != NULL);
  CHECK(api_table_sql("kafka_offsets") == NULL);
  CHECK(api_table_sql("sensor_readings; DROP TABLE alerts") == NULL);
  CHECK(api_table_sql("sqlite_master") == NULL);
}

static size_t collect(char *p, size_t sz, size_t n, void *ud) {
  char *buf = ud;
  size_t have = strlen(buf), add = sz * n;
  if (have + add >= 4096)
    add = 4095 - have;
  memcpy(buf + have, p, add);
  buf[have + add] = '\0';
  return sz * n;
}

static long get(uint16_t port, const char *path, char *body) {
  char url[256];
  long code = 0;
  CURL *c = curl_easy_init();
  body[0] = '\0';
  if (!c)
    return -1;
  snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  return code;
}

/* A one-line, one-sensor factory, its database in a new directory, and a
 * server configuration for 127.0.0.1 on a free port. */
typedef struct {
  char dir[64], path[256];
  ww_factory_t fac;
  ww_api_conf_t conf;
  sqlite3 *db;
} server_fixture_t;

static int fixture_open(server_fixture_t *f) {
  char err[256];
  memset(f, 0, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/ww-test-api-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
  f->fac.n_sensors = 1;
  snprintf(f->fac.sensors[0].name, sizeof(f->fac.sensors[0].name), "temperature");
  f->fac.n_lines = 1;
  snprintf(f->fac.lines[0].id, sizeof(f->fac.lines[0].id), "line-a");
  f->fac.lines[0].n_sensors = 1;
  f->db = ww_db_open_rw(f->path, &f->fac, err, sizeof(err));
  if (!f->db) {
    fprintf(stderr, "  cannot open %s: %s\n", f->path, err);
    return -1;
  }
  if (ww_api_parse_listen("127.0.0.1:0", &f->conf, err, sizeof(err)) != 0)
    return -1;
  f->conf.db_path = f->path;
  f->conf.web_root = f->dir;
  f->conf.threads = 2;
  f->conf.fac = &f->fac;
  return 0;
}

static void fixture_close(server_fixture_t *f) {
  static const char *const suffix[] = {"", "-wal", "-shm"};
  char p[300];
  ww_db_close(f->db);
  for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
    snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
    unlink(p);
  }
  rmdir(f->dir);
}

static void test_server(void) {
  server_fixture_t f;
  char err[256], body[4096];
  ww_api_t *api;

  CHECK_INT_EQ(fixture_open(&f), 0);
  api = ww_api_start(&f.conf, err, sizeof(err));
  CHECK(api != NULL);
  if (api) {
    CHECK(ww_api_port(api) != 0);
    CHECK_INT_EQ(get(ww_api_port(api), "/api/health", body), 200);
    CHECK_STR_CONTAINS(body, "\"status\":\"healthy\"");
    CHECK_INT_EQ(get(ww_api_port(api), "/api/sensor-history/temperature", body), 200);
    CHECK_STR_CONTAINS(body, "\"count\":0");
    CHECK_INT_EQ(get(ww_api_port(api), "/api/sensor-history/pressure", body), 404);
    CHECK_STR_CONTAINS(body, "\"error\"");
    CHECK_INT_EQ(get(ww_api_port(api), "/api/nope", body), 404);
  }
  ww_api_stop(api);
  fixture_close(&f);
}

/* A loopback connection that has sent \p request; -1 on failure. Reads time out after 10 s. */
static int open_request(uint16_t port, const char *request) {
  struct sockaddr_in a;
  struct timeval tv = {10, 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Read from \p fd into buf (NUL-terminated) until \p until appears, or to
 * the end of the connection when \p until is NULL. @returns 1 when it
 * appeared (or the connection ended), 0 on a timeout or error. */
static int read_until(int fd, char *buf, size_t size, const char *until) {
  size_t have = strlen(buf);
  for (;;) {
    ssize_t n;
    if (until && strstr(buf, until))
      return 1;
    if (have + 1 >= size) /* keep the tail: what ends the stream comes last */
      memmove(buf, buf + have / 2, have - have / 2 + 1), have -= have / 2;
    n = read(fd, buf + have, size - 1 - have);
    if (n == 0)
      return until == NULL;
    if (n < 0)
      return 0;
    have += (size_t)n;
    buf[have] = '\0';
  }
}

/* Stopping the server while event streams are open (suspended, waiting for
 * events) ends each stream with the chunked terminator, closes an idle
 * keep-alive connection, and returns; ten times over, so a race between
 * the daemon's threads and the stop has its chances. */
static void test_stop_with_streams(void) {
  enum { STREAMS = 3, ROUNDS = 10 };
  static const char stream_req[] = "GET /api/stream HTTP/1.1\r\nHost: t\r\n\r\n";
  static const char health_req[] = "GET /api/health HTTP/1.1\r\nHost: t\r\n\r\n";
  server_fixture_t f;
  char err[256], buf[4096];

  CHECK_INT_EQ(fixture_open(&f), 0);
  for (int round = 0; round < ROUNDS; round++) {
    int fds[STREAMS + 1];
    ww_api_t *api = ww_api_start(&f.conf, err, sizeof(err));
    CHECK(api != NULL);
    if (!api)
      break;
    for (int i = 0; i < STREAMS; i++) {
      fds[i] = open_request(ww_api_port(api), stream_req);
      CHECK(fds[i] >= 0);
      buf[0] = '\0';
      CHECK(fds[i] >= 0 && read_until(fds[i], buf, sizeof(buf), "windwatch stream"));
      CHECK_STR_CONTAINS(buf, "text/event-stream");
    }
    fds[STREAMS] = open_request(ww_api_port(api), health_req);
    buf[0] = '\0';
    CHECK(fds[STREAMS] >= 0 && read_until(fds[STREAMS], buf, sizeof(buf), "\"healthy\""));
    ww_api_stop(api);
    for (int i = 0; i <= STREAMS; i++) {
      if (fds[i] < 0)
        continue;
      buf[0] = '\0';
      CHECK(read_until(fds[i], buf, sizeof(buf), NULL)); /* the server closed it */
      if (i < STREAMS)
        CHECK_STR_CONTAINS(buf, "0\r\n\r\n"); /* the stream ended, not cut */
      close(fds[i]);
    }
  }
  fixture_close(&f);
}

/* api_jw_*() print every value as json_dumps() of the jansson value the
 * other endpoints build (api_col_json(), api_ts_json()), with the flags of
 * api_send_json(): reals of every magnitude, integers, strings with every
 * escape, and what jansson refuses (non-UTF-8, inf) as null. */
static char *dump_jansson(json_t *v) {
  char *t = v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(10) | JSON_ENCODE_ANY) : NULL;
  json_decref(v);
  return t ? t : strdup("null"); /* a value jansson refuses: the writer says null */
}

static int same_col(sqlite3_stmt *st) {
  api_jw_t w = {0};
  char *want;
  int ok;
  if (sqlite3_step(st) != SQLITE_ROW)
    return 0;
  want = dump_jansson(api_col_json(st, 0));
  api_jw_col(&w, st, 0);
  ok = w.p && !w.oom && strcmp(w.p, want) == 0;
  if (!ok)
    fprintf(stderr, "  writer printed %s, jansson %s\n", w.p ? w.p : "(nothing)", want);
  free(w.p);
  free(want);
  sqlite3_reset(st);
  return ok;
}

static void test_json_writer(void) {
  static const double reals[] = {0.0,
                                 -0.0,
                                 1.0,
                                 -1.0,
                                 22.15,
                                 61.07,
                                 0.5,
                                 0.1 + 0.2,
                                 1e20,
                                 1e21,
                                 1e-5,
                                 1.5e-7,
                                 -3.25e300,
                                 5e-324,
                                 123456789012.0,
                                 0.123456789012345,
                                 1234567890.5,
                                 99.999999,
                                 1e100,
                                 2.5e-308};
  static const char *strs[] = {"",
                               "abc",
                               "a\"b\\c",
                               "tab\there\nnew\rret\bback\fform",
                               "\x01\x1f\x7f",
                               "slash/",
                               "\xc3\xa9t\xc3\xa9",
                               "\xe6\x97\xa5\xe6\x9c\xac",
                               "\xf0\x9f\x98\x80",
                               "\xc3",              /* truncated: not UTF-8 */
                               "\xc0\xaf",          /* overlong '/' */
                               "\xed\xa0\x80",      /* a surrogate */
                               "\xf4\x90\x80\x80"}; /* past U+10FFFF */
  static const int64_t ints[] = {0, -1, 1, INT64_MAX, INT64_MIN, 1767225600000};
  static const int64_t stamps[] = {-1, 0, 1767225600000, 1767225600123, 4102444799999};
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  uint64_t x = 88172645463325252ull;
  int bad = 0, n = 0;
  CHECK_INT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  CHECK_INT_EQ(sqlite3_prepare_v2(db, "SELECT ?1", -1, &st, NULL), SQLITE_OK);
  if (!st) {
    sqlite3_close(db);
    return;
  }
  for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++, n++) {
    sqlite3_bind_double(st, 1, reals[i]);
    bad += !same_col(st);
  }
  /* Doubles of every exponent, from random bits (xorshift64). */
  for (int i = 0; i < 20000; i++, n++) {
    double d;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    memcpy(&d, &x, sizeof(d));
    if (!isfinite(d))
      d = (double)(int64_t)x / 1e6; /* (SQLite stores NaN as NULL) */
    sqlite3_bind_double(st, 1, d);
    bad += !same_col(st);
  }
  for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++, n++) {
    sqlite3_bind_int64(st, 1, ints[i]);
    bad += !same_col(st);
  }
  for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++, n++) {
    sqlite3_bind_text(st, 1, strs[i], -1, SQLITE_STATIC);
    bad += !same_col(st);
  }
  sqlite3_bind_text(st, 1, "nul\0inside", 10, SQLITE_STATIC); /* escaped as \u0000 */
  bad += !same_col(st), n++;
  sqlite3_bind_null(st, 1);
  bad += !same_col(st), n++;
  CHECK_INT_EQ(bad, 0);
  CHECK_INT_EQ(n, 20000 + 20 + 6 + 13 + 2);
  {
    api_jw_t w = {0};
    api_jw_real(&w, INFINITY); /* jansson refuses it; SQLite can store it */
    CHECK_STR_EQ(w.p, "null");
    free(w.p);
  }
  for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
    api_jw_t w = {0};
    char *want = dump_jansson(api_ts_json(stamps[i]));
    api_jw_ts(&w, stamps[i]);
    CHECK_STR_EQ(w.p, want);
    free(w.p);
    free(want);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RUN(test_listen);
  RUN(test_csv);
  RUN(test_tables);
  RUN(test_server);
  RUN(test_stop_with_streams);
  RUN(test_json_writer);
  curl_global_cleanup();
  return WW_TEST_RESULT();
}
