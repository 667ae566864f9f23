/*
 * sqlite_ceiling.c: the fastest plain way to put scored readings into
 * windwatch's SQLite schema, as the ceiling the sink is compared with; and
 * the schema set-up for the api benchmark's generated database.
 *
 *   sqlite_ceiling init DB
 *       create DB with ww_db_open_rw() (schema, WAL, production_lines) and close it.
 *   sqlite_ceiling insert DB IN.jsonl BATCH
 *       decode every sensor-scored message of IN.jsonl (one per line) into
 *       memory first (not timed), open DB with ww_db_open_rw() (not timed),
 *       then time prepared INSERTs into sensor_readings of ROWS_PER_INSERT
 *       rows each (as the sink does; one-row INSERTs for the rest of a
 *       transaction), the sink's columns, with a transaction every BATCH
 *       rows. No Kafka, no offsets, no rollups: the ceiling of SQLite itself
 *       on this machine. ROWS_PER_INSERT=1 in the environment times one-row
 *       INSERTs only.
 *       Prints {"rows","insert_s","rows_per_s","maxrss_kb"} on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "windwatch/config.h"
#include "windwatch/db.h"
#include "windwatch/reading.h"
#include "windwatch/timeutil.h"

/* One decoded row, compact so a million fit comfortably in memory. */
typedef struct row_s {
  int64_t ts_ms;                      /* event time, ms since epoch */
  int64_t seq;                        /* sequence_number, -1 if absent */
  int64_t model;                      /* model_version */
  int64_t episode;                    /* episode_id, 0 = none */
  double v[3];                        /* temperature, humidity, sound_level */
  double score;                       /* anomaly_score */
  double z;                           /* zscore */
  int line_idx;                       /* factory line */
  int sev;                            /* ww_severity_t */
  char comp[WW_ID_MAX];               /* component_id */
  char injected[WW_ANOMALY_TYPE_MAX]; /* injected_anomaly, "" = none */
} row_t;

static const char SQL_INS[] =
    "INSERT INTO sensor_readings(timestamp, ts_ms, production_line, component_id, "
    "sequence_number, temperature, humidity, sound_level, extra_values, is_anomaly, "
    "anomaly_score, severity, model_version, zscore, injected_anomaly, episode_id, "
    "src_partition, src_offset) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,"
    "?17,?18)";

#define MAX_ROWS_PER_INSERT 100 /* the sink's WW_SINK_ROWS_PER_INSERT */
#define COLS                18

/* SQL_INS with \p k rows of values. */
static const char *sql_rows(int k) {
  static char sql[sizeof(SQL_INS) + MAX_ROWS_PER_INSERT * COLS * 8];
  size_t n = (size_t)(strstr(SQL_INS, "VALUES(") + strlen("VALUES") - SQL_INS);
  memcpy(sql, SQL_INS, n);
  for (int r = 0; r < k; r++)
    for (int c = 1; c <= COLS; c++)
      n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s?%d%s", c == 1 ? (r ? ",(" : "(") : "",
                            r * COLS + c, c == COLS ? ")" : ",");
  return sql;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ww_config_t *defaults(void) {
  char *argv[] = {"sqlite_ceiling", NULL};
  int ec = 0;
  ww_config_t *cfg = ww_config_load(WW_ROLE_SINK, "sqlite_ceiling", 1, argv, &ec);
  if (!cfg)
    fprintf(stderr, "sqlite_ceiling: cannot load the default configuration (exit %d)\n", ec);
  return cfg;
}

static long load(const ww_factory_t *fac, const char *path, row_t **rows_out) {
  FILE *fp = fopen(path, "r");
  char *line = NULL, err[256];
  size_t cap_line = 0, cap = 1 << 16;
  long n = 0;
  ssize_t len;
  row_t *rows = NULL;
  int sidx[3];
  static const char *const names[3] = {"temperature", "humidity", "sound_level"};

  for (int i = 0; i < 3; i++)
    sidx[i] = ww_factory_sensor_find(fac, names[i], strlen(names[i]));
  if (!fp) {
    fprintf(stderr, "sqlite_ceiling: cannot open '%s': %s\n", path, strerror(errno));
    return -1;
  }
  if (!(rows = malloc(cap * sizeof(*rows))))
    goto err;
  while ((len = getline(&line, &cap_line, fp)) > 0) {
    ww_reading_t rd;
    ww_score_t sc;
    row_t *r;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      len--;
    if (len == 0)
      continue;
    if (ww_scored_decode(fac, line, (size_t)len, &rd, &sc, err, sizeof(err)) != WW_DLQ_NONE) {
      fprintf(stderr, "sqlite_ceiling: line %ld of '%s': %s\n", n + 1, path, err);
      goto err;
    }
    if ((size_t)n == cap) {
      row_t *nr = realloc(rows, cap * 2 * sizeof(*rows));
      if (!nr)
        goto err;
      rows = nr;
      cap *= 2;
    }
    r = &rows[n++];
    memset(r, 0, sizeof(*r));
    r->ts_ms = rd.ts_ms;
    r->seq = rd.seq;
    r->model = sc.model_version;
    r->episode = rd.episode_id;
    for (int i = 0; i < 3; i++)
      r->v[i] = sidx[i] >= 0 ? rd.values[sidx[i]] : 0.0;
    r->score = sc.anomaly_score;
    r->z = sc.zscore;
    r->line_idx = rd.line_idx;
    r->sev = (int)sc.severity;
    snprintf(r->comp, sizeof(r->comp), "%s", rd.component_id);
    snprintf(r->injected, sizeof(r->injected), "%s", rd.injected_anomaly);
  }
  free(line);
  fclose(fp);
  *rows_out = rows;
  return n;
err:
  free(line);
  free(rows);
  fclose(fp);
  return -1;
}

static int insert(const char *db_path, const char *in, long batch) {
  ww_config_t *cfg = defaults();
  const ww_factory_t *fac;
  sqlite3 *db = NULL;
  sqlite3_stmt *one = NULL, *many = NULL, *st;
  row_t *rows = NULL;
  char err[512], ts[MAX_ROWS_PER_INSERT][40];
  const char *env = getenv("ROWS_PER_INSERT");
  int k = env ? atoi(env) : MAX_ROWS_PER_INSERT, pend = 0;
  struct rusage ru;
  double t0, secs;
  long n;
  int rc = 1;

  if (!cfg)
    return 1;
  fac = ww_config_factory(cfg);
  if ((n = load(fac, in, &rows)) < 1) {
    fprintf(stderr, "sqlite_ceiling: no rows in '%s'\n", in);
    goto done;
  }
  if (k < 1 || k > MAX_ROWS_PER_INSERT) {
    fprintf(stderr, "sqlite_ceiling: ROWS_PER_INSERT must be 1..%d\n", MAX_ROWS_PER_INSERT);
    goto done;
  }
  if ((db = ww_db_open_rw(db_path, fac, err, sizeof(err))) &&
      k * COLS > sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1))
    k = sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1) / COLS; /* as the sink */
  if (!db || ww_db_prepare(db, SQL_INS, &one, err, sizeof(err)) != 0 ||
      ww_db_prepare(db, sql_rows(k), &many, err, sizeof(err)) != 0) {
    fprintf(stderr, "sqlite_ceiling: %s\n", err);
    goto done;
  }
  t0 = now_s();
  for (long i = 0; i < n; i++) {
    const row_t *r = &rows[i];
    int o = pend * COLS;
    if (i % batch == 0 && ww_db_exec(db, "BEGIN", err, sizeof(err)) != 0)
      goto sql_err;
    /* Rows go into the k-row INSERT while a whole one fits before the
     * transaction ends; the rest one at a time. */
    st = pend > 0 || ((i % batch) + k <= batch && i + k <= n) ? many : one;
    if (st == one)
      o = 0;
    ww_ts_format(r->ts_ms, ts[pend], sizeof(ts[pend]));
    sqlite3_bind_text(st, o + 1, ts[pend], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, o + 2, r->ts_ms);
    sqlite3_bind_text(st, o + 3, fac->lines[r->line_idx].id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, o + 4, r->comp, -1, SQLITE_STATIC);
    if (r->seq >= 0)
      sqlite3_bind_int64(st, o + 5, r->seq);
    else
      sqlite3_bind_null(st, o + 5);
    for (int c = 0; c < 3; c++)
      sqlite3_bind_double(st, o + 6 + c, r->v[c]);
    sqlite3_bind_null(st, o + 9);
    sqlite3_bind_int(st, o + 10, r->sev != WW_SEV_NORMAL);
    sqlite3_bind_double(st, o + 11, r->score);
    sqlite3_bind_text(st, o + 12, ww_severity_name((ww_severity_t)r->sev), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, o + 13, r->model);
    sqlite3_bind_double(st, o + 14, r->z);
    if (r->injected[0])
      sqlite3_bind_text(st, o + 15, r->injected, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(st, o + 15);
    if (r->episode)
      sqlite3_bind_int64(st, o + 16, r->episode);
    else
      sqlite3_bind_null(st, o + 16);
    sqlite3_bind_int(st, o + 17, 0);
    sqlite3_bind_int64(st, o + 18, i);
    if (st == many && ++pend < k)
      continue;
    pend = 0;
    if (sqlite3_step(st) != SQLITE_DONE) {
      snprintf(err, sizeof(err), "insert: %s", sqlite3_errmsg(db));
      goto sql_err;
    }
    sqlite3_reset(st);
    if ((i + 1) % batch == 0 || i + 1 == n) {
      if (ww_db_exec(db, "COMMIT", err, sizeof(err)) != 0)
        goto sql_err;
    }
  }
  secs = now_s() - t0;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"rows\":%ld,\"insert_s\":%.6f,\"rows_per_s\":%.1f,\"maxrss_kb\":%ld}\n", n, secs,
         (double)n / secs, ru.ru_maxrss);
  rc = 0;
  goto done;
sql_err:
  fprintf(stderr, "sqlite_ceiling: %s\n", err);
done:
  sqlite3_finalize(one);
  sqlite3_finalize(many);
  ww_db_close(db);
  free(rows);
  ww_config_destroy(cfg);
  return rc;
}

static int init(const char *db_path) {
  ww_config_t *cfg = defaults();
  char err[512];
  sqlite3 *db;
  if (!cfg)
    return 1;
  db = ww_db_open_rw(db_path, ww_config_factory(cfg), err, sizeof(err));
  if (!db)
    fprintf(stderr, "sqlite_ceiling: %s\n", err);
  ww_db_close(db);
  ww_config_destroy(cfg);
  return db ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "init"))
    return init(argv[2]);
  if (argc == 5 && !strcmp(argv[1], "insert") && atol(argv[4]) > 0)
    return insert(argv[2], argv[3], atol(argv[4]));
  fprintf(stderr, "usage: sqlite_ceiling init DB\n"
                  "       sqlite_ceiling insert DB IN.jsonl BATCH\n");
  return 2;
}
