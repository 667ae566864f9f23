/* test_api_util.c: --listen parsing, CSV quoting, the table allow-list, and a server round trip. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void test_server(void) {
  char dir[] = "/tmp/ww-test-api-XXXXXX", path[256], err[256], body[4096];
  ww_factory_t fac;
  ww_api_conf_t conf;
  ww_api_t *api;
  sqlite3 *db;

  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/t.db", dir);
  memset(&fac, 0, sizeof(fac));
  fac.n_sensors = 1;
  snprintf(fac.sensors[0].name, sizeof(fac.sensors[0].name), "temperature");
  fac.n_lines = 1;
  snprintf(fac.lines[0].id, sizeof(fac.lines[0].id), "line-a");
  fac.lines[0].n_sensors = 1;
  db = ww_db_open_rw(path, &fac, err, sizeof(err));
  CHECK(db != NULL);
  memset(&conf, 0, sizeof(conf));
  CHECK_INT_EQ(ww_api_parse_listen("127.0.0.1:0", &conf, err, sizeof(err)), 0);
  conf.db_path = path;
  conf.web_root = dir;
  conf.threads = 2;
  conf.fac = &fac;
  api = ww_api_start(&conf, err, sizeof(err));
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
  ww_db_close(db);
  unlink(path);
  snprintf(path, sizeof(path), "%s/t.db-wal", dir);
  unlink(path);
  snprintf(path, sizeof(path), "%s/t.db-shm", dir);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RUN(test_listen);
  RUN(test_csv);
  RUN(test_tables);
  RUN(test_server);
  curl_global_cleanup();
  return WW_TEST_RESULT();
}
