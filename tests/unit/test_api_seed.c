/*
 * test_api_seed.c: a test helper (not a test) that writes a small, fixed
 * database for the api tests: `test_api_seed DB [N]`.
 *
 * Per line, N readings one second apart from 2025-11-25T10:00:00Z (every
 * tenth one critical), one reading whose component id needs CSV quoting,
 * three alerts, four windows, four one-minute rollups, a real Isolation Forest for line 1 (none for
 * line 2) and one dead letter. The schema is
 * the real one, created by ww_db_open_rw().
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/config.h"
#include "windwatch/db.h"
#include "windwatch/iforest.h"
#include "windwatch/timeutil.h"

#define BASE_MS 1764064800000LL /* 2025-11-25T10:00:00Z */

/* A deterministic N(0,1) sample (xorshift + Box-Muller): the seed data never changes. */
static double gauss(uint64_t *state) {
  double u1, u2;
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  u1 = ((double)(*state >> 11) + 1.0) / 9007199254740993.0;
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  u2 = (double)(*state >> 11) / 9007199254740992.0;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* A real model for line 1, in the layout api_model.c reads: a forest grown on
 * standardised normal readings, its scaler and thresholds. Owned string or NULL. */
static char *make_model(void) {
  enum { N = 512, D = 3 };
  static const double mu[D] = {25.0, 50.0, 65.0}, sd[D] = {2.0, 4.0, 3.0};
  static double X[N * D];
  uint64_t rng = 42;
  ww_iforest_params_t p;
  ww_iforest_t *f;
  char err[256], *forest, *out = NULL;
  size_t len, need;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < D; j++)
      X[i * D + j] = gauss(&rng); /* already standardised: the scaler maps mu/sd to 0/1 */
  ww_iforest_params_default(&p);
  if (!(f = ww_iforest_train(X, N, D, &p, err, sizeof(err)))) {
    fprintf(stderr, "test_api_seed: %s\n", err);
    return NULL;
  }
  forest = ww_iforest_to_json(f, &len);
  ww_iforest_destroy(f);
  if (!forest)
    return NULL;
  need = len + 512;
  if ((out = malloc(need)))
    snprintf(out, need,
             "{\"production_line\":\"turbine-line-1\",\"version\":1,\"samples\":%d,"
             "\"features\":[\"temperature\",\"humidity\",\"sound_level\"],"
             "\"scaler\":{\"mean\":[%g,%g,%g],\"scale\":[%g,%g,%g]},"
             "\"thresholds\":{\"warning\":0.6,\"critical\":0.8},\"forest\":%s}",
             N, mu[0], mu[1], mu[2], sd[0], sd[1], sd[2], forest);
  free(forest);
  return out;
}

static int run(sqlite3 *db, const char *sql) {
  char err[512];
  if (ww_db_exec(db, sql, err, sizeof(err)) != 0) {
    fprintf(stderr, "test_api_seed: %s\n  in: %s\n", err, sql);
    return -1;
  }
  return 0;
}

static int insert_reading(sqlite3_stmt *st, int64_t ms, const char *line, const char *comp,
                          double t, double h, double s, int crit) {
  char ts[WW_TS_BUFSZ];
  ww_ts_format(ms, ts, sizeof(ts));
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, ts, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, ms);
  sqlite3_bind_text(st, 3, line, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, comp, -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(st, 5, t);
  sqlite3_bind_double(st, 6, h);
  sqlite3_bind_double(st, 7, s);
  sqlite3_bind_int(st, 8, crit);
  sqlite3_bind_double(st, 9, crit ? 0.9 : 0.2);
  sqlite3_bind_text(st, 10, crit ? "critical" : "normal", -1, SQLITE_STATIC);
  return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

int main(int argc, char **argv) {
  char err[512];
  int exit_code = 2, n = 50;
  char *fake_argv[] = {"test_api_seed", NULL};
  ww_config_t *cfg;
  const ww_factory_t *fac;
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  char *model = NULL;

  if (argc < 2) {
    fprintf(stderr, "usage: test_api_seed DB [READINGS_PER_LINE]\n");
    return 2;
  }
  if (argc > 2)
    n = atoi(argv[2]);
  cfg = ww_config_load(WW_ROLE_API, "test_api_seed", 1, fake_argv, &exit_code);
  if (!cfg)
    return exit_code ? exit_code : 1;
  exit_code = 1;
  fac = ww_config_factory(cfg);
  db = ww_db_open_rw(argv[1], fac, err, sizeof(err));
  if (!db) {
    fprintf(stderr, "test_api_seed: %s\n", err);
    goto done;
  }
  if (run(db, "BEGIN") != 0)
    goto done;
  if (ww_db_prepare(db,
                    "INSERT INTO sensor_readings(timestamp, ts_ms, production_line, component_id,"
                    " temperature, humidity, sound_level, is_anomaly, anomaly_score, severity,"
                    " model_version) VALUES(?,?,?,?,?,?,?,?,?,?,1)",
                    &st, err, sizeof(err)) != 0) {
    fprintf(stderr, "test_api_seed: %s\n", err);
    goto done;
  }
  for (int i = 0; i < n; i++)
    for (int l = 0; l < fac->n_lines; l++) {
      const ww_line_def_t *ld = &fac->lines[l];
      int crit = i % 10 == 9;
      if (insert_reading(st, BASE_MS + i * 1000LL + l, ld->id, ld->components[i % ld->n_components],
                         crit ? 45.0 : 20.0 + i % 10, 50.0 + i % 5, 60.0 + i % 7, crit) != 0) {
        fprintf(stderr, "test_api_seed: insert: %s\n", sqlite3_errmsg(db));
        goto done;
      }
    }
  /* Oldest row of line 2: a component id that CSV must quote. */
  if (insert_reading(st, BASE_MS - 60000, fac->lines[fac->n_lines - 1].id, "Curing \"Oven\", B",
                     25.0, 50.0, 60.0, 0) != 0)
    goto done;
  if (run(db,
          "INSERT INTO alerts VALUES('turbine-line-1-1764064809000-1','turbine-line-1','Blade',"
          "'open','critical','threshold',1764064809000,1764064849000,NULL,0.95,5,"
          "'[\"temperature\"]','{\"v\":1,\"event\":\"updated\",\"details\":{\"temperature\":45.0}}'"
          ");"
          "INSERT INTO alerts VALUES('turbine-line-1-1764064700000-1','turbine-line-1','Resin "
          "Infusion',"
          "'resolved','warning','zscore',1764064700000,1764064760000,1764064760000,0.7,3,"
          "'[\"humidity\"]','{\"v\":1,\"event\":\"resolved\",\"details\":{\"humidity\":70.0}}');"
          "INSERT INTO alerts VALUES('turbine-line-2-1764064819000-1','turbine-line-2','Gearbox',"
          "'open','warning','threshold',1764064819000,1764064829000,NULL,0.65,2,"
          "'[\"sound_level\"]','{\"v\":1,\"event\":\"opened\",\"details\":{\"sound_level\":75.0}}')"
          ";") != 0)
    goto done;
  for (int w = 0; w < 4; w++) {
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO window_stats(production_line, window_start_ms, window_end_ms,"
             " window_type, count, anomalous, stats, model_version, training_readings,"
             " training_needed) VALUES('turbine-line-%d', %lld, %lld,"
             " 'count', 10, %d, '{\"temperature\":{\"mean\":%d.5,\"std\":1.0,\"min\":20,"
             "\"max\":29,\"trend\":\"stable\"}}', %s)",
             w % 2 + 1, BASE_MS + w * 10000LL, BASE_MS + (w + 1) * 10000LL, w == 3, 20 + w,
             /* line 1 has model v1; line 2's first model is still gathering */
             w % 2 == 0 ? "1, NULL, NULL"
             : w == 1   ? "0, 300, 2048"
                        : "0, 640, 2048");
    if (run(db, sql) != 0)
      goto done;
  }
  if (!(model = make_model()))
    goto done;
  sqlite3_finalize(st);
  st = NULL;
  if (ww_db_prepare(db,
                    "INSERT INTO models VALUES('turbine-line-1', 1, 1764064800000, 512,"
                    " '{\"features\":[\"temperature\",\"humidity\",\"sound_level\"],"
                    "\"thresholds\":{\"warning\":0.6,\"critical\":0.8}}', ?)",
                    &st, err, sizeof(err)) != 0) {
    fprintf(stderr, "test_api_seed: %s\n", err);
    goto done;
  }
  sqlite3_bind_blob(st, 1, model, (int)strlen(model), SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE) {
    fprintf(stderr, "test_api_seed: model: %s\n", sqlite3_errmsg(db));
    goto done;
  }
  if (run(db, "INSERT INTO readings_rollup_1m VALUES"
              "('turbine-line-1','temperature',1764064800000,60,1500,20,30),"
              "('turbine-line-1','temperature',1764064860000,30,780,25,27),"
              "('turbine-line-2','temperature',1764064800000,60,1560,21,31),"
              "('turbine-line-1','humidity',1764064800000,60,3000,45,55)") != 0)
    goto done;
  if (run(db, "INSERT INTO dead_letters(received_ms, reason, detail, src_topic, src_partition,"
              " src_offset, payload) VALUES(1764064800000, 'parse', 'not JSON', 'sensor-data', 0,"
              " 7, CAST('{oops' AS BLOB));"
              "COMMIT") != 0)
    goto done;
  exit_code = 0;
done:
  free(model);
  sqlite3_finalize(st);
  ww_db_close(db);
  ww_config_destroy(cfg);
  return exit_code;
}
