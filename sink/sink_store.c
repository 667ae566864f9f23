/* sink_store.c: batches of messages and their offsets, one SQLite transaction each. */
#include "sink_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_rows.h"
#include "windwatch/db.h"

static const char SQL_INS_READING[] =
    "INSERT INTO sensor_readings(timestamp, ts_ms, production_line, component_id, "
    "sequence_number, temperature, humidity, sound_level, extra_values, is_anomaly, "
    "anomaly_score, severity, model_version, zscore, injected_anomaly, episode_id, "
    "src_partition, src_offset) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,"
    "?17,?18)";

static const char SQL_INS_WINDOW[] =
    "INSERT INTO window_stats(production_line, window_start_ms, window_end_ms, window_type, "
    "count, anomalous, stats, model_version, training_readings, training_needed) "
    "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)";

/* The newest event of an alert wins; a resolved alert never reopens (the
 * processor opens a new alert_id instead), so a late "updated" cannot undo it. */
static const char SQL_UP_ALERT[] =
    "INSERT INTO alerts(alert_id, production_line, component_id, state, severity, anomaly_type, "
    "opened_ms, updated_ms, resolved_ms, max_score, readings, sensors, last_event) "
    "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13) "
    "ON CONFLICT(alert_id) DO UPDATE SET component_id=excluded.component_id, "
    "state=excluded.state, severity=excluded.severity, anomaly_type=excluded.anomaly_type, "
    "updated_ms=excluded.updated_ms, resolved_ms=excluded.resolved_ms, "
    "max_score=excluded.max_score, readings=excluded.readings, sensors=excluded.sensors, "
    "last_event=excluded.last_event "
    "WHERE excluded.updated_ms >= alerts.updated_ms "
    "AND (alerts.state <> 'resolved' OR excluded.state = 'resolved')";

static const char SQL_UP_MODEL[] =
    "INSERT INTO models(production_line, version, trained_ms, samples, metadata, model) "
    "VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(production_line, version) DO UPDATE SET "
    "trained_ms=excluded.trained_ms, samples=excluded.samples, metadata=excluded.metadata, "
    "model=excluded.model";

static const char SQL_INS_DEAD[] =
    "INSERT INTO dead_letters(received_ms, reason, detail, src_topic, src_partition, src_offset, "
    "payload) VALUES(?1,?2,?3,?4,?5,?6,?7)";

static const char SQL_GET_OFFSET[] =
    "SELECT next_offset FROM kafka_offsets WHERE topic=?1 AND partition=?2";

static const char SQL_PUT_OFFSET[] =
    "INSERT INTO kafka_offsets(topic, partition, next_offset) VALUES(?1,?2,?3) "
    "ON CONFLICT(topic, partition) DO UPDATE SET next_offset=excluded.next_offset";

static const char SQL_UP_ROLLUP[] =
    "INSERT INTO readings_rollup_1m(production_line, sensor, minute_ms, count, sum, min, max) "
    "VALUES(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(production_line, sensor, minute_ms) DO UPDATE SET "
    "count=readings_rollup_1m.count+excluded.count, sum=readings_rollup_1m.sum+excluded.sum, "
    "min=min(readings_rollup_1m.min, excluded.min), max=max(readings_rollup_1m.max, excluded.max)";

/* SQL_INS_READING with \p rows rows of values (<= WW_SINK_ROWS_PER_INSERT). */
static int prepare_multi(sqlite3 *db, int rows, sqlite3_stmt **st, char *errstr,
                         size_t errstr_size) {
  const char *values = strstr(SQL_INS_READING, "VALUES(") + strlen("VALUES");
  char sql[sizeof(SQL_INS_READING) + WW_SINK_ROWS_PER_INSERT * WW_SINK_READING_COLS * 8];
  size_t n = (size_t)(values - SQL_INS_READING);
  memcpy(sql, SQL_INS_READING, n);
  for (int r = 0; r < rows; r++)
    for (int k = 1; k <= WW_SINK_READING_COLS; k++)
      n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s?%d%s", k == 1 ? (r ? ",(" : "(") : "",
                            r * WW_SINK_READING_COLS + k, k == WW_SINK_READING_COLS ? ")" : ",");
  return ww_db_prepare(db, sql, st, errstr, errstr_size);
}

ww_err_t ww_sink_sqlite_err(int rc) {
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW: return WW_OK;
  case SQLITE_BUSY:
  case SQLITE_LOCKED: return WW_ERR_BUSY;
  case SQLITE_FULL: return WW_ERR_FULL;
  case SQLITE_IOERR:
  case SQLITE_CANTOPEN: return WW_ERR_IO;
  case SQLITE_NOMEM: return WW_ERR_NOMEM;
  default: return WW_ERR_DB;
  }
}

ww_sink_store_t *ww_sink_store_new(sqlite3 *db, const ww_factory_t *fac, char *errstr,
                                   size_t errstr_size) {
  ww_sink_store_t *st = calloc(1, sizeof(*st));
  if (!st) {
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  st->db = db;
  st->fac = fac;
  st->rows_per_insert = sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1) / WW_SINK_READING_COLS;
  if (st->rows_per_insert > WW_SINK_ROWS_PER_INSERT)
    st->rows_per_insert = WW_SINK_ROWS_PER_INSERT;
  if (st->rows_per_insert < 1)
    st->rows_per_insert = 1;
  for (int i = 0; i < fac->n_lines; i++)
    st->line_len[i] = (int)strlen(fac->lines[i].id);
  for (int i = 0; i <= WW_SEV_CRITICAL; i++)
    st->sev_len[i] = (int)strlen(ww_severity_name((ww_severity_t)i));
  for (int i = 0; i < fac->n_sensors; i++) {
    const char *n = fac->sensors[i].name;
    st->sensor_len[i] = (int)strlen(n);
    st->col_of_sensor[i] = !strcmp(n, "temperature")   ? 0
                           : !strcmp(n, "humidity")    ? 1
                           : !strcmp(n, "sound_level") ? 2
                                                       : -1;
  }
  if (ww_db_prepare(db, SQL_INS_READING, &st->ins_reading, errstr, errstr_size) != 0 ||
      prepare_multi(db, st->rows_per_insert, &st->ins_readings, errstr, errstr_size) != 0 ||
      ww_db_prepare(db, SQL_INS_WINDOW, &st->ins_window, errstr, errstr_size) != 0 ||
      ww_db_prepare(db, SQL_UP_ALERT, &st->up_alert, errstr, errstr_size) != 0 ||
      ww_db_prepare(db, SQL_UP_MODEL, &st->up_model, errstr, errstr_size) != 0 ||
      ww_db_prepare(db, SQL_INS_DEAD, &st->ins_dead, errstr, errstr_size) != 0 ||
      ww_db_prepare(db, SQL_GET_OFFSET, &st->get_offset, errstr, errstr_size) != 0 ||
      ww_db_prepare(db, SQL_PUT_OFFSET, &st->put_offset, errstr, errstr_size) != 0 ||
      ww_db_prepare(db, SQL_UP_ROLLUP, &st->up_rollup, errstr, errstr_size) != 0)
    goto err;
  return st;
err:
  ww_sink_store_destroy(st);
  return NULL;
}

void ww_sink_store_destroy(ww_sink_store_t *st) {
  if (!st)
    return;
  sqlite3_finalize(st->ins_reading);
  sqlite3_finalize(st->ins_readings);
  sqlite3_finalize(st->ins_window);
  sqlite3_finalize(st->up_alert);
  sqlite3_finalize(st->up_model);
  sqlite3_finalize(st->ins_dead);
  sqlite3_finalize(st->get_offset);
  sqlite3_finalize(st->put_offset);
  sqlite3_finalize(st->up_rollup);
  free(st->parts);
  free(st);
}

/* @returns 0 and *next (-1 if none stored), or the SQLite error code. */
static int get_offset(ww_sink_store_t *st, const char *topic, int32_t partition, int64_t *next) {
  int rc;
  sqlite3_bind_text(st->get_offset, 1, topic, -1, SQLITE_STATIC);
  sqlite3_bind_int(st->get_offset, 2, partition);
  rc = sqlite3_step(st->get_offset);
  *next = rc == SQLITE_ROW ? sqlite3_column_int64(st->get_offset, 0) : -1;
  sqlite3_reset(st->get_offset);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : rc;
}

ww_err_t ww_sink_store_offset(ww_sink_store_t *st, const char *topic, int32_t partition,
                              int64_t *next, char *errstr, size_t errstr_size) {
  int rc = get_offset(st, topic, partition, next);
  if (rc) {
    snprintf(errstr, errstr_size, "sqlite: cannot read the stored offset of %s [%d]: %s", topic,
             (int)partition, sqlite3_errmsg(st->db));
    return ww_sink_sqlite_err(rc);
  }
  return *next < 0 ? WW_ERR_NOENT : WW_OK;
}

/* The batch's entry for a message's partition, read from kafka_offsets on first sight. */
static ww__sink_part_t *batch_part(ww_sink_store_t *st, const ww_sink_msg_t *m, int *rc) {
  ww__sink_part_t *p;
  for (int i = st->n_parts - 1; i >= 0; i--) {
    p = &st->parts[i];
    if (p->partition == m->partition && (p->topic == m->topic || !strcmp(p->topic, m->topic)))
      return p;
  }
  if (st->n_parts == st->cap_parts) {
    int cap = st->cap_parts ? st->cap_parts * 2 : 16;
    ww__sink_part_t *np = realloc(st->parts, (size_t)cap * sizeof(*np));
    if (!np) {
      *rc = SQLITE_NOMEM;
      return NULL;
    }
    st->parts = np;
    st->cap_parts = cap;
  }
  p = &st->parts[st->n_parts];
  p->topic = m->topic;
  p->partition = m->partition;
  if ((*rc = get_offset(st, m->topic, m->partition, &p->stored)) != 0)
    return NULL;
  p->next = p->stored;
  st->n_parts++;
  return p;
}

static int put_offsets(ww_sink_store_t *st) {
  for (int i = 0; i < st->n_parts; i++) {
    const ww__sink_part_t *p = &st->parts[i];
    int rc;
    if (p->next <= p->stored)
      continue;
    sqlite3_bind_text(st->put_offset, 1, p->topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(st->put_offset, 2, p->partition);
    sqlite3_bind_int64(st->put_offset, 3, p->next);
    rc = sqlite3_step(st->put_offset);
    sqlite3_reset(st->put_offset);
    if (rc != SQLITE_DONE)
      return rc;
  }
  return 0;
}

static void add_counts(ww_sink_counts_t *to, const ww_sink_counts_t *c) {
  to->records += c->records;
  to->readings += c->readings;
  to->windows += c->windows;
  to->alerts += c->alerts;
  to->dead_letters += c->dead_letters;
  to->models += c->models;
  to->skipped += c->skipped;
  to->tombstones += c->tombstones;
}

ww_err_t ww_sink_store_apply(ww_sink_store_t *st, const ww_sink_msg_t *msgs, size_t n,
                             ww_sink_counts_t *added, char *errstr, size_t errstr_size) {
  ww_sink_counts_t c;
  int rc;

  memset(&c, 0, sizeof(c));
  st->n_parts = 0;
  st->n_rollup = 0;
  st->n_pend = 0;
  errstr[0] = '\0';
  rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    snprintf(errstr, errstr_size, "sqlite: cannot begin a transaction: %s", sqlite3_errmsg(st->db));
    return ww_sink_sqlite_err(rc);
  }
  for (size_t i = 0; i < n; i++) {
    const ww_sink_msg_t *m = &msgs[i];
    ww__sink_part_t *p = batch_part(st, m, &rc);
    if (!p) {
      snprintf(errstr, errstr_size, "sqlite: cannot read the stored offset of %s [%d]: %s",
               m->topic, (int)m->partition, sqlite3_errmsg(st->db));
      goto err;
    }
    if (m->offset < p->next) { /* stored by an earlier batch (or earlier in this one) */
      c.skipped++;
      continue;
    }
    p->next = m->offset + 1;
    c.records++;
    if (!m->payload && m->kind != WW_SINK_DLQ) {
      c.tombstones++;
      continue;
    }
    switch (m->kind) {
    case WW_SINK_READINGS: rc = ww__sink_row_reading(st, m, &c, errstr, errstr_size); break;
    case WW_SINK_WINDOWS: rc = ww__sink_row_window(st, m, &c, errstr, errstr_size); break;
    case WW_SINK_ALERTS: rc = ww__sink_row_alert(st, m, &c, errstr, errstr_size); break;
    case WW_SINK_MODELS: rc = ww__sink_row_model(st, m, &c, errstr, errstr_size); break;
    case WW_SINK_DLQ:
    default: rc = ww__sink_row_dead(st, m, NULL, NULL, &c, errstr, errstr_size); break;
    }
    if (rc)
      goto err;
  }
  if ((rc = ww__sink_readings_flush(st, &c, errstr, errstr_size)) != 0 ||
      (rc = ww__sink_rollup_flush(st, errstr, errstr_size)) != 0)
    goto err;
  if ((rc = put_offsets(st)) != 0) {
    snprintf(errstr, errstr_size, "sqlite: cannot store Kafka offsets: %s", sqlite3_errmsg(st->db));
    goto err;
  }
  if ((rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
    snprintf(errstr, errstr_size, "sqlite: cannot commit %lld records: %s", (long long)c.records,
             sqlite3_errmsg(st->db));
    goto err;
  }
  if (added)
    add_counts(added, &c);
  return WW_OK;
err:
  if (!errstr[0])
    snprintf(errstr, errstr_size, "sqlite: %s", sqlite3_errmsg(st->db));
  if (!sqlite3_get_autocommit(st->db))
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  st->n_rollup = 0;
  st->n_pend = 0;
  return ww_sink_sqlite_err(rc);
}
