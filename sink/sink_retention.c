/* sink_retention.c: expire raw readings and rollups in small transactions. */
#include "sink_retention.h"

#include <stdio.h>
#include <stdlib.h>

#include "sink_store.h"
#include "windwatch/db.h"

struct ww_sink_retention_s {
  sqlite3 *db;                 /* borrowed */
  const ww_factory_t *fac;     /* borrowed */
  int64_t retention_ms;        /* raw readings; 0 = forever */
  int64_t rollup_retention_ms; /* rollups; 0 = forever */
  int batch;                   /* rows per delete */
  sqlite3_stmt *del_readings;  /* oldest expired readings, by the ts_ms index */
  sqlite3_stmt *del_rollups; /* oldest expired rollups of one line and sensor, by the primary key */
};

/* The inner SELECT walks sensor_readings_ts from the oldest row, so each
 * delete touches only the rows it removes. */
static const char SQL_DEL_READINGS[] =
    "DELETE FROM sensor_readings WHERE id IN (SELECT id FROM sensor_readings "
    "WHERE ts_ms < ?1 ORDER BY ts_ms LIMIT ?2)";

static const char SQL_DEL_ROLLUPS[] =
    "DELETE FROM readings_rollup_1m WHERE production_line = ?1 AND sensor = ?2 AND minute_ms IN "
    "(SELECT minute_ms FROM readings_rollup_1m WHERE production_line = ?1 AND sensor = ?2 "
    "AND minute_ms < ?3 ORDER BY minute_ms LIMIT ?4)";

ww_sink_retention_t *ww_sink_retention_new(sqlite3 *db, const ww_factory_t *fac,
                                           int64_t retention_ms, int64_t rollup_retention_ms,
                                           int batch, char *errstr, size_t errstr_size) {
  ww_sink_retention_t *ret = calloc(1, sizeof(*ret));
  if (!ret) {
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  ret->db = db;
  ret->fac = fac;
  ret->retention_ms = retention_ms;
  ret->rollup_retention_ms = rollup_retention_ms;
  ret->batch = batch > 0 ? batch : 1;
  if (ww_db_prepare(db, SQL_DEL_READINGS, &ret->del_readings, errstr, errstr_size) != 0 ||
      ww_db_prepare(db, SQL_DEL_ROLLUPS, &ret->del_rollups, errstr, errstr_size) != 0) {
    ww_sink_retention_destroy(ret);
    return NULL;
  }
  return ret;
}

void ww_sink_retention_destroy(ww_sink_retention_t *ret) {
  if (!ret)
    return;
  sqlite3_finalize(ret->del_readings);
  sqlite3_finalize(ret->del_rollups);
  free(ret);
}

/* @returns 0 and adds the rows deleted to *n, or the SQLite error code. */
static int run_delete(sqlite3 *db, sqlite3_stmt *st, int64_t *n) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return rc;
  *n += sqlite3_changes(db);
  return 0;
}

ww_err_t ww_sink_retention_step(ww_sink_retention_t *ret, int64_t now_ms, int *more,
                                int64_t *readings, int64_t *rollups, char *errstr,
                                size_t errstr_size) {
  int64_t n_read = 0, n_roll = 0;
  int rc;
  const char *what = "begin";

  *more = 0;
  if (!ret->retention_ms && !ret->rollup_retention_ms)
    return WW_OK;
  if ((rc = sqlite3_exec(ret->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
    goto err;
  if (ret->retention_ms) {
    what = "delete expired readings";
    sqlite3_bind_int64(ret->del_readings, 1, now_ms - ret->retention_ms);
    sqlite3_bind_int(ret->del_readings, 2, ret->batch);
    if ((rc = run_delete(ret->db, ret->del_readings, &n_read)) != 0)
      goto err;
    if (n_read >= ret->batch)
      *more = 1;
  }
  if (ret->rollup_retention_ms) {
    what = "delete expired rollups";
    for (int l = 0; l < ret->fac->n_lines; l++) {
      const ww_line_def_t *ld = &ret->fac->lines[l];
      for (int s = 0; s < ld->n_sensors; s++) {
        int64_t before = n_roll;
        sqlite3_bind_text(ret->del_rollups, 1, ld->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ret->del_rollups, 2, ret->fac->sensors[ld->sensor_idx[s]].name, -1,
                          SQLITE_STATIC);
        sqlite3_bind_int64(ret->del_rollups, 3, now_ms - ret->rollup_retention_ms);
        sqlite3_bind_int(ret->del_rollups, 4, ret->batch);
        if ((rc = run_delete(ret->db, ret->del_rollups, &n_roll)) != 0)
          goto err;
        if (n_roll - before >= ret->batch)
          *more = 1;
      }
    }
  }
  what = "commit";
  if ((rc = sqlite3_exec(ret->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
    goto err;
  *readings += n_read;
  *rollups += n_roll;
  return WW_OK;
err:
  snprintf(errstr, errstr_size, "sqlite: retention cannot %s: %s", what, sqlite3_errmsg(ret->db));
  if (!sqlite3_get_autocommit(ret->db))
    sqlite3_exec(ret->db, "ROLLBACK", NULL, NULL, NULL);
  *more = 0;
  return ww_sink_sqlite_err(rc);
}
