/* test_producer_replay.c: CSV replay (mapping, quoting, malformed rows, ground-truth labels)
 * and JSON-lines input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "producer_replay.h"
#include "windwatch/config.h"
#include "windwatch/reading.h"
#include "windwatch/timeutil.h"
#include "ww_test.h"

static const ww_factory_t *fac;
static char dir[] = "/tmp/ww-test-replay.XXXXXX";

/* Write \p text to a file in the test directory; @returns its path (static buffer). */
static const char *write_file(const char *name, const char *text) {
  static char path[512];
  FILE *fp;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  fp = fopen(path, "w");
  CHECK(fp != NULL);
  if (fp) {
    fputs(text, fp);
    fclose(fp);
  }
  return path;
}

/* ww_replay_open(\p path, \p map) that must succeed: CHECKs it, says why not. */
static ww_replay_t *open_ok(const char *path, const char *map) {
  char err[512];
  ww_replay_t *rp = ww_replay_open(fac, path, map, NULL, NULL, err, sizeof(err));
  if (!rp)
    fprintf(stderr, "open %s: %s\n", path, err);
  CHECK(rp != NULL);
  return rp;
}

static void test_full_columns(void) {
  const char *p =
      write_file("full.csv", "timestamp,production_line,component_id,temperature,humidity,"
                             "sound_level\r\n"
                             "2026-01-01T00:00:00.000Z,turbine-line-2,Gearbox,27.31,48.2,66.1\r\n"
                             "2026-01-01 00:00:01,turbine-line-1,\"Resin Infusion\",10,20.5,"
                             "40.125\r\n"
                             "\r\n"
                             "2026-01-01T00:00:02Z,turbine-line-2,Gearbox,28,,67\r\n");
  ww_replay_t *rp = open_ok(p, NULL);
  ww_reading_t r;
  char buf[1024];
  if (!rp)
    return;
  CHECK_INT_EQ(ww_replay_next(rp, &r), 1);
  ww_reading_encode(fac, &r, buf, sizeof(buf));
  CHECK_STR_EQ(buf, "{\"v\":1,\"production_line\":\"turbine-line-2\",\"component_id\":\"Gearbox\","
                    "\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"sequence_number\":0,"
                    "\"temperature\":27.31,\"humidity\":48.2,\"sound_level\":66.1,"
                    "\"injected_anomaly\":null,\"episode_id\":null}");
  CHECK_INT_EQ(ww_replay_next(rp, &r), 1);
  CHECK_STR_EQ(r.component_id, "Resin Infusion");
  CHECK_INT_EQ(r.line_idx, 0);
  CHECK_DBL_NEAR(r.values[2], 40.125, 0);
  CHECK_INT_EQ(r.seq, 0);
  CHECK_INT_EQ(ww_replay_next(rp, &r), 1);
  CHECK_INT_EQ(r.seq, 1);                         /* second Gearbox row */
  CHECK_INT_EQ(r.present, (1u << 0) | (1u << 2)); /* the empty humidity cell is absent */
  CHECK_INT_EQ(ww_replay_next(rp, &r), 0);
  CHECK_INT_EQ(ww_replay_skipped(rp), 0);
  ww_replay_close(rp);
}

/* A benchmark-style file of one sensor: timestamp,value. */
static void test_one_sensor_mapping(void) {
  char err[512];
  const char *p = write_file("nab.csv", "timestamp,value\n"
                                        "2014-04-01 00:00:00,20.5\n"
                                        "2014-04-01 00:05:00,21.25\n"
                                        "1396311000,22\n");
  ww_replay_t *rp;
  ww_reading_t r;
  int64_t ms;
  rp = ww_replay_open(fac, p, NULL, NULL, NULL, err, sizeof(err));
  CHECK(rp == NULL); /* no sensor column without a mapping */
  CHECK_STR_CONTAINS(err, "--replay-map");
  rp = ww_replay_open(fac, p, "temperature=value", "turbine-line-2", "Generator", err, sizeof(err));
  if (!rp) {
    fprintf(stderr, "open: %s\n", err);
    CHECK(rp != NULL);
    return;
  }
  CHECK_INT_EQ(ww_replay_next(rp, &r), 1);
  CHECK_INT_EQ(r.line_idx, 1);
  CHECK_STR_EQ(r.component_id, "Generator");
  CHECK_INT_EQ(r.present, 1u << 0);
  CHECK_DBL_NEAR(r.values[0], 20.5, 0);
  CHECK(ww_ts_parse("2014-04-01T00:00:00Z", 20, &ms) == 0);
  CHECK_INT_EQ(r.ts_ms, ms);
  CHECK_INT_EQ(ww_replay_next(rp, &r), 1);
  CHECK_INT_EQ(r.ts_ms, ms + 300000);
  CHECK_INT_EQ(ww_replay_next(rp, &r), 1); /* epoch seconds */
  CHECK_INT_EQ(r.ts_ms, 1396311000000LL);
  CHECK_INT_EQ(ww_replay_next(rp, &r), 0);
  ww_replay_close(rp);

  /* column numbers work too */
  rp = ww_replay_open(fac, p, "timestamp=1,sound_level=2", NULL, NULL, err, sizeof(err));
  CHECK(rp != NULL);
  if (rp) {
    CHECK_INT_EQ(ww_replay_next(rp, &r), 1);
    CHECK_INT_EQ(r.present, 1u << 2);
    CHECK_STR_EQ(r.component_id, "Blade"); /* the first line's first component */
    ww_replay_close(rp);
  }
}

/* Malformed rows are skipped and counted; the good ones still come, in order. */
static void test_malformed_rows(void) {
  const char *p = write_file("bad.csv", "timestamp,production_line,temperature\n"
                                        "2026-01-01T00:00:00Z,turbine-line-1,20\n"
                                        "yesterday,turbine-line-1,21\n"
                                        "2026-01-01T00:00:02Z,turbine-line-9,22\n"
                                        "2026-01-01T00:00:03Z,turbine-line-1,hot\n"
                                        "2026-01-01T00:00:04Z,turbine-line-1,9999\n"
                                        "2026-01-01T00:00:05Z,turbine-line-1\n"
                                        "2026-01-01T00:00:06Z,\"turbine-line-1,24\n"
                                        "2026-01-01T00:00:07Z,turbine-line-1,nan\n"
                                        "2026-01-01T00:00:08Z,turbine-line-1,\n"
                                        "2026-01-01T00:00:09Z,turbine-line-1,29\n");
  ww_replay_t *rp = open_ok(p, NULL);
  ww_reading_t r;
  if (!rp)
    return;
  CHECK_INT_EQ(ww_replay_next(rp, &r), 1);
  CHECK_DBL_NEAR(r.values[0], 20, 0);
  CHECK_INT_EQ(ww_replay_next(rp, &r), 1);
  CHECK_DBL_NEAR(r.values[0], 29, 0);
  CHECK_INT_EQ(r.seq, 1);
  CHECK_INT_EQ(ww_replay_next(rp, &r), 0);
  CHECK_INT_EQ(ww_replay_skipped(rp), 8);
  ww_replay_close(rp);
}

/* next reading into \p r, expecting \p type ("" = none) and \p episode. */
static void expect_truth(ww_replay_t *rp, ww_reading_t *r, const char *type, int64_t episode) {
  CHECK_INT_EQ(ww_replay_next(rp, r), 1);
  CHECK_STR_EQ(r->injected_anomaly, type);
  CHECK_INT_EQ(r->episode_id, episode);
}

/* A benchmark-style 0/1 label column; type names; malformed labels skipped. */
static void test_label_flags(void) {
  char err[512], buf[1024];
  const char *p = write_file("labels.csv", "timestamp,value,label\n"
                                           "1396310000,20,0\n"
                                           "1396310060,21,1\n"
                                           "1396310120,22,1.0\n"
                                           "1396310180,23,0\n"
                                           "1396310240,24,true\n"
                                           "1396310300,25,2\n"
                                           "1396310360,26,spike\n"
                                           "1396310420,27,spike\n"
                                           "1396310480,28,\n"
                                           "1396310540,29,a b\n"
                                           "1396310600,30,Normal\n"
                                           "1396310660,31,drift\n");
  ww_replay_t *rp = open_ok(p, "temperature=value,injected_anomaly=label");
  ww_reading_t r;
  if (!rp)
    return;
  expect_truth(rp, &r, "", 0);
  expect_truth(rp, &r, "labelled", 1);
  ww_reading_encode(fac, &r, buf, sizeof(buf));
  CHECK_STR_CONTAINS(buf, "\"injected_anomaly\":\"labelled\",\"episode_id\":1}");
  expect_truth(rp, &r, "labelled", 1); /* consecutive: the same episode */
  expect_truth(rp, &r, "", 0);
  expect_truth(rp, &r, "labelled", 2);
  CHECK_INT_EQ(ww_replay_skipped(rp), 0);
  expect_truth(rp, &r, "spike", 3); /* "2" skipped; a new type is a new episode */
  CHECK_INT_EQ(ww_replay_skipped(rp), 1);
  CHECK_DBL_NEAR(r.values[0], 26, 0);
  expect_truth(rp, &r, "spike", 3);
  expect_truth(rp, &r, "", 0);
  expect_truth(rp, &r, "", 0); /* "a b" skipped, "Normal" is none */
  CHECK_DBL_NEAR(r.values[0], 30, 0);
  expect_truth(rp, &r, "drift", 4);
  CHECK_INT_EQ(ww_replay_next(rp, &r), 0);
  CHECK_INT_EQ(ww_replay_skipped(rp), 2);
  ww_replay_close(rp);

  /* A label cell that is too long for a type name is malformed too. */
  p = write_file("labels2.csv", "timestamp,temperature,injected_anomaly\n"
                                "1396310000,20,a_very_long_anomaly_type_name\n"
                                "1396310060,21,yes\n");
  rp = ww_replay_open(fac, p, NULL, NULL, NULL, err, sizeof(err));
  CHECK(rp != NULL); /* the header maps itself */
  if (rp) {
    expect_truth(rp, &r, "labelled", 1);
    CHECK_INT_EQ(ww_replay_skipped(rp), 1);
    ww_replay_close(rp);
  }
}

/* Episodes per component; ids from an episode_id column; generated ones above them. */
static void test_label_episodes(void) {
  char err[512];
  const char *p =
      write_file("episodes.csv", "timestamp,production_line,component_id,temperature,"
                                 "injected_anomaly,episode_id\n"
                                 "2026-01-01T00:00:00Z,turbine-line-1,Blade,20,drift,\n"
                                 "2026-01-01T00:00:00Z,turbine-line-2,Gearbox,20,drift,\n"
                                 "2026-01-01T00:00:01Z,turbine-line-1,Blade,21,drift,\n"
                                 "2026-01-01T00:00:01Z,turbine-line-2,Gearbox,21,normal,\n"
                                 "2026-01-01T00:00:02Z,turbine-line-1,Blade,22,stuck,7\n"
                                 "2026-01-01T00:00:02Z,turbine-line-2,Gearbox,22,1,\n"
                                 "2026-01-01T00:00:03Z,turbine-line-1,Blade,23,0,9\n"
                                 "2026-01-01T00:00:04Z,turbine-line-1,Blade,24,spike,x\n"
                                 "2026-01-01T00:00:05Z,turbine-line-1,Blade,25,spike,-1\n"
                                 "2026-01-01T00:00:06Z,turbine-line-1,Blade,26,spike,\n");
  ww_replay_t *rp = open_ok(p, NULL);
  ww_reading_t r;
  if (!rp)
    return;
  expect_truth(rp, &r, "drift", 1);
  expect_truth(rp, &r, "drift", 2); /* another component: another episode */
  expect_truth(rp, &r, "drift", 1); /* Blade's stretch goes on across Gearbox's row */
  expect_truth(rp, &r, "", 0);
  expect_truth(rp, &r, "stuck", 7); /* the file's own id */
  expect_truth(rp, &r, "labelled", 8);
  expect_truth(rp, &r, "", 0); /* an episode id on an unlabelled row means nothing */
  CHECK_INT_EQ(r.seq, 3);
  expect_truth(rp, &r, "spike", 9); /* two bad episode_id cells skipped */
  CHECK_INT_EQ(r.seq, 4);           /* skipped rows take no sequence_number */
  CHECK_INT_EQ(ww_replay_skipped(rp), 2);
  CHECK_INT_EQ(ww_replay_next(rp, &r), 0);
  ww_replay_close(rp);

  CHECK(ww_replay_open(fac, p, "labels=5", NULL, NULL, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "injected_anomaly");
}

static void test_open_errors(void) {
  char err[512];
  const char *p = write_file("hdr.csv", "time,temperature\n1,2\n");
  CHECK(ww_replay_open(fac, "/nonexistent/x.csv", NULL, NULL, NULL, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "/nonexistent/x.csv");
  CHECK(ww_replay_open(fac, p, NULL, NULL, NULL, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "timestamp");
  CHECK(ww_replay_open(fac, p, "timestamp=time,pressure=2", NULL, NULL, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "pressure");
  CHECK(ww_replay_open(fac, p, "timestamp=nosuch", NULL, NULL, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "nosuch");
  CHECK(ww_replay_open(fac, p, "timestamp=time", "line-x", NULL, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "line-x");
  p = write_file("empty.csv", "");
  CHECK(ww_replay_open(fac, p, NULL, NULL, NULL, err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "empty");
}

static int reads_announced;
static void count_reads(void *opaque) {
  (*(int *)opaque)++;
}

static void test_jsonl(void) {
  const char *good = "{\"production_line\":\"turbine-line-1\",\"component_id\":\"Blade\","
                     "\"timestamp\":\"2026-01-01T00:00:00Z\",\"temperature\":27.310}";
  static char text[400000];
  const char *line = NULL;
  ww_reading_t r;
  ww_jsonl_t *jl;
  int fd;
  long n;
  size_t o;
  /* good, empty, not JSON, unknown line (CRLF), good (CRLF), an over-long
   * line, then good without a final newline */
  o = (size_t)snprintf(text, sizeof(text),
                       "%s\n\nnot json\n{\"production_line\":\"nope\"}\r\n%s\r\n", good, good);
  memset(text + o, 'x', 300000);
  o += 300000;
  snprintf(text + o, sizeof(text) - o, "\n%s", good);
  fd = open(write_file("in.jsonl", text), O_RDONLY);
  jl = ww_jsonl_new(fac, fd);
  if (fd < 0 || !jl) {
    CHECK(fd >= 0 && jl != NULL);
    return;
  }
  n = ww_jsonl_next(jl, &line, &r, count_reads, &reads_announced);
  CHECK_INT_EQ(n, (long)strlen(good));
  CHECK_STR_EQ(line, good); /* byte for byte, 27.310 included */
  CHECK_INT_EQ(r.line_idx, 0);
  CHECK(reads_announced > 0);
  n = ww_jsonl_next(jl, &line, &r, count_reads, &reads_announced);
  CHECK_STR_EQ(line, good);
  CHECK_INT_EQ(ww_jsonl_lineno(jl), 5);
  CHECK_INT_EQ(ww_jsonl_skipped(jl), 2);
  n = ww_jsonl_next(jl, &line, &r, NULL, NULL);
  CHECK_INT_EQ(n, (long)strlen(good));
  CHECK_STR_EQ(line, good);
  CHECK_INT_EQ(ww_jsonl_lineno(jl), 7);
  CHECK_INT_EQ(ww_jsonl_skipped(jl), 3);
  CHECK_INT_EQ(ww_jsonl_next(jl, &line, &r, NULL, NULL), 0);
  ww_jsonl_destroy(jl);
  close(fd);
}

int main(void) {
  char err[512], cmd[600];
  char *argv[] = {"test_producer_replay", NULL};
  ww_config_t *cfg =
      ww_config_load_yaml(WW_ROLE_PRODUCER, NULL, 0, NULL, 1, argv, err, sizeof(err));
  int rc;
  if (!cfg || !mkdtemp(dir)) {
    fprintf(stderr, "set-up failed: %s\n", cfg ? "mkdtemp" : err);
    return 1;
  }
  fac = ww_config_factory(cfg);
  RUN(test_full_columns);
  RUN(test_one_sensor_mapping);
  RUN(test_malformed_rows);
  RUN(test_label_flags);
  RUN(test_label_episodes);
  RUN(test_open_errors);
  RUN(test_jsonl);
  ww_config_destroy(cfg);
  rc = WW_TEST_RESULT();
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return rc;
}
