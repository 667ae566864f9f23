/* sink_rows.c: one writer per table, run inside the store's open transaction. */
#include "sink_rows.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/reading.h"
#include "windwatch/timeutil.h"
#include "windwatch/utf8.h"

#define WW_SINK_WHY_MAX 256 /* bytes for a decode failure's detail */

/* Run a bound insert/upsert. A constraint violation is a property of this one
 * message (e.g. a field the schema forbids), so it becomes a dead letter;
 * anything else aborts the transaction. @returns 1 stored, 0 dead-lettered,
 * or -rc. */
static int step_row(ww_sink_store_t *st, sqlite3_stmt *stmt, const ww_sink_msg_t *m,
                    ww_sink_counts_t *c, char *errstr, size_t errstr_size) {
  int rc = sqlite3_step(stmt);
  char why[WW_SINK_WHY_MAX];
  sqlite3_reset(stmt);
  if (rc == SQLITE_DONE)
    return 1;
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    snprintf(why, sizeof(why), "%s", sqlite3_errmsg(st->db));
    rc = ww__sink_row_dead(st, m, "rejected_by_database", why, c, errstr, errstr_size);
    return rc ? -rc : 0;
  }
  snprintf(errstr, errstr_size, "sqlite: cannot store a message from %s [%d] at offset %lld: %s",
           m->topic, (int)m->partition, (long long)m->offset, sqlite3_errmsg(st->db));
  return -rc;
}

static int rollup_add(ww_sink_store_t *st, int line_idx, int sensor_idx, int64_t ts_ms, double v,
                      char *errstr, size_t errstr_size) {
  int64_t minute = ts_ms - (((ts_ms % 60000) + 60000) % 60000); /* floor, also before 1970 */
  ww__sink_rollup_t *ru;
  /* Newest cells are the likeliest hits: search backwards. */
  for (int i = st->n_rollup - 1; i >= 0; i--) {
    ru = &st->rollup[i];
    if (ru->minute_ms == minute && ru->sensor_idx == sensor_idx && ru->line_idx == line_idx) {
      ru->count++;
      ru->sum += v;
      if (v < ru->min)
        ru->min = v;
      if (v > ru->max)
        ru->max = v;
      return 0;
    }
  }
  if (st->n_rollup == WW_SINK_ROLLUP_SLOTS) {
    int rc = ww__sink_rollup_flush(st, errstr, errstr_size);
    if (rc)
      return rc;
  }
  ru = &st->rollup[st->n_rollup++];
  ru->line_idx = line_idx;
  ru->sensor_idx = sensor_idx;
  ru->minute_ms = minute;
  ru->count = 1;
  ru->sum = ru->min = ru->max = v;
  return 0;
}

int ww__sink_rollup_flush(ww_sink_store_t *st, char *errstr, size_t errstr_size) {
  sqlite3_stmt *s = st->up_rollup;
  for (int i = 0; i < st->n_rollup; i++) {
    const ww__sink_rollup_t *ru = &st->rollup[i];
    int rc;
    sqlite3_bind_text(s, 1, st->fac->lines[ru->line_idx].id, st->line_len[ru->line_idx],
                      SQLITE_STATIC);
    sqlite3_bind_text(s, 2, st->fac->sensors[ru->sensor_idx].name, st->sensor_len[ru->sensor_idx],
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, ru->minute_ms);
    sqlite3_bind_int64(s, 4, ru->count);
    sqlite3_bind_double(s, 5, ru->sum);
    sqlite3_bind_double(s, 6, ru->min);
    sqlite3_bind_double(s, 7, ru->max);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
      snprintf(errstr, errstr_size, "sqlite: cannot update readings_rollup_1m: %s",
               sqlite3_errmsg(st->db));
      return rc;
    }
  }
  st->n_rollup = 0;
  return 0;
}

void ww_sink_predecode(const ww_factory_t *fac, const ww_sink_msg_t *m, ww_sink_pre_t *pre) {
  pre->why[0] = '\0';
  pre->reason =
      (int)ww_scored_decode(fac, m->payload, m->len, &pre->r, &pre->sc, pre->why, sizeof(pre->why));
  if (pre->reason == WW_DLQ_NONE) {
    pre->ts_len = (int)ww_ts_format(pre->r.ts_ms, pre->ts, sizeof(pre->ts));
    pre->comp_len = (int)strlen(pre->r.component_id);
  }
}

/* Bind one queued reading to the values ?o+1 .. ?o+18 of \p s. */
static void bind_reading(ww_sink_store_t *st, sqlite3_stmt *s, int o, const ww__sink_pend_t *p) {
  const ww_factory_t *fac = st->fac;
  const ww_sink_pre_t *pre = p->pre;
  const ww_reading_t *rp = &pre->r;
  const ww_score_t *scp = &pre->sc;
  /* Explicit lengths: SQLite would otherwise measure every string again. */
  sqlite3_bind_text(s, o + 1, pre->ts, pre->ts_len, SQLITE_STATIC);
  sqlite3_bind_int64(s, o + 2, rp->ts_ms);
  sqlite3_bind_text(s, o + 3, fac->lines[rp->line_idx].id, st->line_len[rp->line_idx],
                    SQLITE_STATIC);
  sqlite3_bind_text(s, o + 4, rp->component_id, pre->comp_len, SQLITE_STATIC);
  if (rp->seq >= 0)
    sqlite3_bind_int64(s, o + 5, rp->seq);
  else
    sqlite3_bind_null(s, o + 5);
  for (int col = 0; col < 3; col++)
    sqlite3_bind_null(s, o + 6 + col);
  for (int i = 0; i < fac->n_sensors; i++)
    if ((rp->present & (1u << i)) && st->col_of_sensor[i] >= 0)
      sqlite3_bind_double(s, o + 6 + st->col_of_sensor[i], rp->values[i]);
  if (p->extra[0])
    sqlite3_bind_text(s, o + 9, p->extra, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, o + 9);
  sqlite3_bind_int(s, o + 10, scp->severity != WW_SEV_NORMAL);
  sqlite3_bind_double(s, o + 11, scp->anomaly_score);
  sqlite3_bind_text(s, o + 12, ww_severity_name(scp->severity),
                    scp->severity <= WW_SEV_CRITICAL ? st->sev_len[scp->severity] : -1,
                    SQLITE_STATIC);
  sqlite3_bind_int64(s, o + 13, scp->model_version);
  sqlite3_bind_double(s, o + 14, scp->zscore);
  if (rp->injected_anomaly[0])
    sqlite3_bind_text(s, o + 15, rp->injected_anomaly, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, o + 15);
  if (rp->episode_id)
    sqlite3_bind_int64(s, o + 16, rp->episode_id);
  else
    sqlite3_bind_null(s, o + 16);
  sqlite3_bind_int(s, o + 17, p->m->partition);
  sqlite3_bind_int64(s, o + 18, p->m->offset);
}

/* A queued reading is in the table: count it and add it to the rollups. */
static int reading_stored(ww_sink_store_t *st, const ww__sink_pend_t *p, ww_sink_counts_t *c,
                          char *errstr, size_t errstr_size) {
  const ww_reading_t *rp = &p->pre->r;
  c->readings++;
  for (int i = 0; i < st->fac->n_sensors; i++) {
    int rc;
    if (!(rp->present & (1u << i)))
      continue;
    rc = rollup_add(st, rp->line_idx, i, rp->ts_ms, rp->values[i], errstr, errstr_size);
    if (rc)
      return rc;
  }
  return 0;
}

int ww__sink_readings_flush(ww_sink_store_t *st, ww_sink_counts_t *c, char *errstr,
                            size_t errstr_size) {
  int k = st->n_pend, rc;
  st->n_pend = 0;
  if (k == st->rows_per_insert) {
    for (int i = 0; i < k; i++)
      bind_reading(st, st->ins_readings, i * WW_SINK_READING_COLS, &st->pend[i]);
    rc = sqlite3_step(st->ins_readings);
    sqlite3_reset(st->ins_readings);
    if (rc == SQLITE_DONE) {
      for (int i = 0; i < k; i++)
        if ((rc = reading_stored(st, &st->pend[i], c, errstr, errstr_size)) != 0)
          return rc;
      return 0;
    }
    if ((rc & 0xff) != SQLITE_CONSTRAINT) {
      snprintf(errstr, errstr_size,
               "sqlite: cannot store messages from %s [%d] at offsets %lld to %lld: %s",
               st->pend[0].m->topic, (int)st->pend[0].m->partition,
               (long long)st->pend[0].m->offset, (long long)st->pend[k - 1].m->offset,
               sqlite3_errmsg(st->db));
      return rc;
    }
    /* The database refused a row (nothing of the statement is stored): one
     * at a time again, so that only that message becomes a dead letter. */
  }
  for (int i = 0; i < k; i++) {
    int done;
    bind_reading(st, st->ins_reading, 0, &st->pend[i]);
    done = step_row(st, st->ins_reading, st->pend[i].m, c, errstr, errstr_size);
    if (done < 0)
      return -done;
    if (done == 1 && (rc = reading_stored(st, &st->pend[i], c, errstr, errstr_size)) != 0)
      return rc;
  }
  return 0;
}

int ww__sink_row_reading(ww_sink_store_t *st, const ww_sink_msg_t *m, ww_sink_counts_t *c,
                         char *errstr, size_t errstr_size) {
  const ww_factory_t *fac = st->fac;
  ww__sink_pend_t *p = &st->pend[st->n_pend];
  const ww_sink_pre_t *pre = m->pre;
  size_t xo = 0;

  if (!pre) {
    ww_sink_predecode(fac, m, &p->local);
    pre = &p->local;
  }
  if (pre->reason != WW_DLQ_NONE)
    return ww__sink_row_dead(st, m, ww_dlq_reason_name((ww_dlq_reason_t)pre->reason), pre->why, c,
                             errstr, errstr_size);
  p->m = m;
  p->pre = pre;
  /* Sensors without a column of their own go to extra_values. Sensor names
   * come from the validated config: no characters to escape. */
  for (int i = 0; i < fac->n_sensors; i++) {
    int k;
    if (!(pre->r.present & (1u << i)) || st->col_of_sensor[i] >= 0)
      continue;
    k = snprintf(p->extra + xo, sizeof(p->extra) - xo, "%s\"%s\":%.17g", xo ? "," : "{",
                 fac->sensors[i].name, pre->r.values[i]);
    if (k > 0 && (size_t)k < sizeof(p->extra) - xo)
      xo += (size_t)k;
  }
  if (xo)
    snprintf(p->extra + xo, sizeof(p->extra) - xo, "}");
  else
    p->extra[0] = '\0';
  if (++st->n_pend == st->rows_per_insert)
    return ww__sink_readings_flush(st, c, errstr, errstr_size);
  return 0;
}

/* Small typed field readers for the JSON topics. Each returns NULL on
 * success or a dead-letter reason name, with the detail in why. */
static const char *need_str(json_t *o, const char *k, int required, const char **out, char *why,
                            size_t n) {
  json_t *v = json_object_get(o, k);
  *out = NULL;
  if (!v || json_is_null(v)) {
    if (!required)
      return NULL;
    snprintf(why, n, "field '%s' is missing", k);
    return "missing_field";
  }
  if (!json_is_string(v)) {
    snprintf(why, n, "field '%s' is not a string", k);
    return "bad_type";
  }
  *out = json_string_value(v);
  return NULL;
}

static const char *need_int(json_t *o, const char *k, int required, int64_t *out, char *why,
                            size_t n) {
  json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v)) {
    if (!required)
      return NULL;
    snprintf(why, n, "field '%s' is missing", k);
    return "missing_field";
  }
  if (!json_is_integer(v)) {
    snprintf(why, n, "field '%s' is not an integer", k);
    return "bad_type";
  }
  *out = (int64_t)json_integer_value(v);
  return NULL;
}

/* An RFC 3339 timestamp field into ms; *out untouched if absent and optional. */
static const char *need_ts(json_t *o, const char *k, int required, int64_t *out, char *why,
                           size_t n) {
  const char *s = NULL;
  const char *bad = need_str(o, k, required, &s, why, n);
  if (bad || !s)
    return bad;
  if (ww_ts_parse(s, strlen(s), out) != 0) {
    snprintf(why, n, "field '%s' is not an RFC 3339 timestamp: '%.64s'", k, s);
    return "bad_timestamp";
  }
  return NULL;
}

/* Parse the payload as a JSON object. */
static json_t *load_object(const ww_sink_msg_t *m, char *why, size_t n) {
  json_error_t jerr;
  json_t *root = json_loadb(m->payload, m->len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    snprintf(why, n, "not JSON: %s at byte %d", jerr.text, jerr.position);
    return NULL;
  }
  if (!json_is_object(root)) {
    snprintf(why, n, "not a JSON object");
    json_decref(root);
    return NULL;
  }
  return root;
}

#define WW_ABSENT INT64_MIN /* an optional integer field that was not there */

/* Bind \p v, or NULL when it was absent. */
static void bind_opt_int(sqlite3_stmt *s, int col, int64_t v) {
  if (v != WW_ABSENT)
    sqlite3_bind_int64(s, col, v);
  else
    sqlite3_bind_null(s, col);
}

/* A count field that was there must not be negative. @returns NULL, or the reason. */
static const char *need_count(const char *k, int64_t v, char *why, size_t n) {
  if (v == WW_ABSENT || v >= 0)
    return NULL;
  snprintf(why, n, "field '%s' is negative: %" PRId64, k, v);
  return "bad_value";
}

int ww__sink_row_window(ww_sink_store_t *st, const ww_sink_msg_t *m, ww_sink_counts_t *c,
                        char *errstr, size_t errstr_size) {
  sqlite3_stmt *s = st->ins_window;
  char why[WW_SINK_WHY_MAX];
  const char *bad = "malformed_json", *line = NULL, *type = NULL;
  int64_t start = 0, end = 0, count = 0, anomalous = 0;
  int64_t mver = WW_ABSENT, t_have = WW_ABSENT, t_need = WW_ABSENT;
  char *stats = NULL;
  json_t *sensors, *training;
  json_t *root = load_object(m, why, sizeof(why));
  int rc = 0, done;

  if (!root)
    goto dead;
  if ((bad = need_str(root, "production_line", 1, &line, why, sizeof(why))) ||
      (bad = need_str(root, "window_type", 1, &type, why, sizeof(why))) ||
      (bad = need_ts(root, "window_start", 1, &start, why, sizeof(why))) ||
      (bad = need_ts(root, "window_end", 1, &end, why, sizeof(why))) ||
      (bad = need_int(root, "count", 1, &count, why, sizeof(why))) ||
      (bad = need_int(root, "anomalous", 0, &anomalous, why, sizeof(why))) ||
      (bad = need_int(root, "model_version", 0, &mver, why, sizeof(why))) ||
      (bad = need_count("model_version", mver, why, sizeof(why))))
    goto dead;
  /* Optional: present while the line's first model gathers its readings. */
  training = json_object_get(root, "training");
  if (training && !json_is_null(training)) {
    if (!json_is_object(training)) {
      bad = "bad_type";
      snprintf(why, sizeof(why), "field 'training' is not an object");
      goto dead;
    }
    if ((bad = need_int(training, "readings", 1, &t_have, why, sizeof(why))) ||
        (bad = need_int(training, "needed", 1, &t_need, why, sizeof(why))) ||
        (bad = need_count("readings", t_have, why, sizeof(why))) ||
        (bad = need_count("needed", t_need, why, sizeof(why))))
      goto dead;
  }
  sensors = json_object_get(root, "sensors");
  if (!json_is_object(sensors)) {
    bad = sensors ? "bad_type" : "missing_field";
    snprintf(why, sizeof(why), "field 'sensors' is %s", sensors ? "not an object" : "missing");
    goto dead;
  }
  stats = json_dumps(sensors, JSON_COMPACT);
  if (!stats) {
    snprintf(errstr, errstr_size, "out of memory serialising window statistics");
    rc = SQLITE_NOMEM;
    goto done;
  }
  sqlite3_bind_text(s, 1, line, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, start);
  sqlite3_bind_int64(s, 3, end);
  sqlite3_bind_text(s, 4, type, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, count);
  sqlite3_bind_int64(s, 6, anomalous);
  sqlite3_bind_text(s, 7, stats, -1, SQLITE_STATIC);
  bind_opt_int(s, 8, mver);
  bind_opt_int(s, 9, t_have);
  bind_opt_int(s, 10, t_need);
  done = step_row(st, s, m, c, errstr, errstr_size);
  if (done < 0)
    rc = -done;
  else if (done > 0)
    c->windows++;
  goto done;
dead:
  rc = ww__sink_row_dead(st, m, bad, why, c, errstr, errstr_size);
done:
  free(stats);
  json_decref(root);
  return rc;
}

int ww__sink_row_alert(ww_sink_store_t *st, const ww_sink_msg_t *m, ww_sink_counts_t *c,
                       char *errstr, size_t errstr_size) {
  sqlite3_stmt *s = st->up_alert;
  char why[WW_SINK_WHY_MAX];
  const char *bad = "malformed_json", *id = NULL, *line = NULL, *comp = NULL, *state = NULL;
  const char *sev = NULL, *type = NULL;
  int64_t opened = 0, updated = 0, resolved = -1, readings = 0;
  char *sensors_json = NULL;
  json_t *sensors, *score;
  json_t *root = load_object(m, why, sizeof(why));
  int rc = 0, done;

  if (!root)
    goto dead;
  if ((bad = need_str(root, "alert_id", 1, &id, why, sizeof(why))) ||
      (bad = need_str(root, "production_line", 1, &line, why, sizeof(why))) ||
      (bad = need_str(root, "component_id", 0, &comp, why, sizeof(why))) ||
      (bad = need_str(root, "state", 1, &state, why, sizeof(why))) ||
      (bad = need_str(root, "severity", 1, &sev, why, sizeof(why))) ||
      (bad = need_str(root, "anomaly_type", 0, &type, why, sizeof(why))) ||
      (bad = need_ts(root, "opened_at", 1, &opened, why, sizeof(why))) ||
      (bad = need_ts(root, "updated_at", 1, &updated, why, sizeof(why))) ||
      (bad = need_ts(root, "resolved_at", 0, &resolved, why, sizeof(why))) ||
      (bad = need_int(root, "readings", 0, &readings, why, sizeof(why))))
    goto dead;
  if (strcmp(state, "open") != 0 && strcmp(state, "resolved") != 0) {
    bad = "bad_value";
    snprintf(why, sizeof(why), "field 'state' is '%.32s', expected open or resolved", state);
    goto dead;
  }
  score = json_object_get(root, "max_score");
  if (score && !json_is_null(score) && !json_is_number(score)) {
    bad = "bad_type";
    snprintf(why, sizeof(why), "field 'max_score' is not a number");
    goto dead;
  }
  sensors = json_object_get(root, "sensors");
  if (json_is_array(sensors) && !(sensors_json = json_dumps(sensors, JSON_COMPACT))) {
    snprintf(errstr, errstr_size, "out of memory serialising alert sensors");
    rc = SQLITE_NOMEM;
    goto done;
  }
  sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, line, -1, SQLITE_STATIC);
  if (comp)
    sqlite3_bind_text(s, 3, comp, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, 3);
  sqlite3_bind_text(s, 4, state, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 5, sev, -1, SQLITE_STATIC);
  if (type)
    sqlite3_bind_text(s, 6, type, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, 6);
  sqlite3_bind_int64(s, 7, opened);
  sqlite3_bind_int64(s, 8, updated);
  if (resolved >= 0)
    sqlite3_bind_int64(s, 9, resolved);
  else
    sqlite3_bind_null(s, 9);
  if (json_is_number(score))
    sqlite3_bind_double(s, 10, json_number_value(score));
  else
    sqlite3_bind_null(s, 10);
  sqlite3_bind_int64(s, 11, readings);
  if (sensors_json)
    sqlite3_bind_text(s, 12, sensors_json, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, 12);
  sqlite3_bind_text(s, 13, m->payload, (int)m->len, SQLITE_STATIC);
  done = step_row(st, s, m, c, errstr, errstr_size);
  if (done < 0)
    rc = -done;
  else if (done > 0)
    c->alerts++;
  goto done;
dead:
  rc = ww__sink_row_dead(st, m, bad, why, c, errstr, errstr_size);
done:
  free(sensors_json);
  json_decref(root);
  return rc;
}

/* Keys holding the model itself; everything else of the message is metadata. */
static int is_model_body(const char *k, size_t n) {
  return (n == 5 && !memcmp(k, "trees", 5)) || (n == 6 && !memcmp(k, "forest", 6)) ||
         (n == 5 && !memcmp(k, "nodes", 5)) || (n == 5 && !memcmp(k, "model", 5));
}

#define WW_SINK_JSON_DEPTH 1024 /* nesting accepted by json_skip (jansson's limit is 2048) */

/*
 * The one-pass checker's input and, once it fails, where. The api loads the
 * stored message with jansson, so the checker must refuse everything jansson
 * refuses; the position goes into the dead letter's detail.
 */
typedef struct {
  const char *end; /* one past the message's last byte */
  const char *bad; /* after a failure: the first byte that is not valid JSON there */
} json_scan_t;

/* Record where the input stops being JSON. @returns NULL, for the caller to return. */
static const char *json_bad(json_scan_t *js, const char *at) {
  js->bad = at;
  return NULL;
}

static const char *json_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* The first byte after whitespace at p if it is ch, else NULL with the error there. */
static const char *json_expect(json_scan_t *js, const char *p, char ch) {
  p = json_ws(p, js->end);
  return p < js->end && *p == ch ? p : json_bad(js, p);
}

static int is_digit(char ch) {
  return ch >= '0' && ch <= '9';
}

static int is_hex(char ch) {
  return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* The value of the four hex digits at p, or -1. */
static long json_hex4(const char *p, const char *end) {
  long v = 0;
  if (end - p < 4)
    return -1;
  for (int i = 0; i < 4; i++) {
    if (!is_hex(p[i]))
      return -1;
    v = v * 16 + (is_digit(p[i]) ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
  }
  return v;
}

/*
 * The end of the escape at p ('\\'), or NULL. jansson refuses \u0000 (its
 * strings end at a NUL) and every surrogate escape but a high one
 * (D800..DBFF) directly followed by a low one (DC00..DFFF).
 */
static const char *json_skip_escape(json_scan_t *js, const char *p) {
  long u, lo = -1;
  if (js->end - p < 2)
    return json_bad(js, p);
  if (p[1] != 'u')
    return p[1] && strchr("\"\\/bfnrt", p[1]) ? p + 2 : json_bad(js, p);
  u = json_hex4(p + 2, js->end);
  if (u <= 0 || (u >= 0xDC00 && u <= 0xDFFF))
    return json_bad(js, p);
  if (u < 0xD800 || u > 0xDBFF)
    return p + 6;
  if (js->end - p >= 12 && p[6] == '\\' && p[7] == 'u')
    lo = json_hex4(p + 8, js->end);
  return lo >= 0xDC00 && lo <= 0xDFFF ? p + 12 : json_bad(js, p);
}

/* The end of the JSON string starting at p ('"'), or NULL if malformed. */
static const char *json_skip_string(json_scan_t *js, const char *p) {
  for (p++; p < js->end;) {
    unsigned char ch = (unsigned char)*p;
    if (ch == '"')
      return p + 1;
    if (ch < 0x20)
      return json_bad(js, p); /* control characters must be escaped */
    if (ch == '\\') {
      if (!(p = json_skip_escape(js, p)))
        return NULL;
    } else if (ch < 0x80) {
      p++;
    } else {
      int n = ww_utf8_len(p, js->end);
      if (!n)
        return json_bad(js, p);
      p += n;
    }
  }
  return json_bad(js, p); /* unterminated */
}

/*
 * Whether jansson takes the number [s, e) (well-formed): it refuses an
 * integer outside 64 bits and a real that overflows a double (underflow is
 * fine). Only long integers and exponents can, so most numbers cost nothing.
 */
static int json_number_fits(const char *s, const char *e) {
  char small[64], *buf = small, *stop;
  size_t n = (size_t)(e - s);
  int is_int = !memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n), ok;
  if (is_int ? n < 19 : !memchr(s, 'e', n) && !memchr(s, 'E', n) && n < 300)
    return 1;
  if (n >= sizeof(small) && !(buf = malloc(n + 1)))
    return 0;
  memcpy(buf, s, n);
  buf[n] = '\0';
  errno = 0;
  if (is_int) {
    (void)strtoll(buf, &stop, 10);
    ok = errno != ERANGE;
  } else {
    double d = strtod(buf, &stop);
    ok = !(errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL));
  }
  if (buf != small)
    free(buf);
  return ok;
}

/*
 * The end of the JSON value starting at p (after whitespace), checking the
 * grammar in one pass without building anything: the model body is stored as
 * received, so parsing it into a tree (tens of thousands of nodes per forest)
 * only to find the metadata beside it is wasted work. NULL if malformed.
 */
static const char *json_skip(json_scan_t *js, const char *p, int depth) {
  const char *end = js->end, *num;
  p = json_ws(p, end);
  if (p >= end || depth > WW_SINK_JSON_DEPTH)
    return json_bad(js, p);
  switch (*p) {
  case '"': return json_skip_string(js, p);
  case '{':
  case '[': {
    char close = *p == '{' ? '}' : ']';
    p = json_ws(p + 1, end);
    if (p < end && *p == close)
      return p + 1;
    for (;;) {
      if (close == '}') {
        if (!(p = json_expect(js, p, '"')) || !(p = json_skip_string(js, p)) ||
            !(p = json_expect(js, p, ':')))
          return NULL;
        p++;
      }
      if (!(p = json_skip(js, p, depth + 1)))
        return NULL;
      p = json_ws(p, end);
      if (p < end && *p == close)
        return p + 1;
      if (!(p = json_expect(js, p, ',')))
        return NULL;
      p++;
    }
  }
  case 't': return end - p >= 4 && !memcmp(p, "true", 4) ? p + 4 : json_bad(js, p);
  case 'f': return end - p >= 5 && !memcmp(p, "false", 5) ? p + 5 : json_bad(js, p);
  case 'n': return end - p >= 4 && !memcmp(p, "null", 4) ? p + 4 : json_bad(js, p);
  default: break;
  }
  /* A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
  num = p;
  if (p < end && *p == '-')
    p++;
  if (p >= end || !is_digit(*p))
    return json_bad(js, p);
  if (*p == '0')
    p++;
  else
    while (p < end && is_digit(*p))
      p++;
  if (p < end && *p == '.') {
    if (++p >= end || !is_digit(*p))
      return json_bad(js, p);
    while (p < end && is_digit(*p))
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    if (++p < end && (*p == '+' || *p == '-'))
      p++;
    if (p >= end || !is_digit(*p))
      return json_bad(js, p);
    while (p < end && is_digit(*p))
      p++;
  }
  return json_number_fits(num, p) ? p : json_bad(js, num);
}

/*
 * The model message's metadata: its top-level members except the model body,
 * parsed with jansson, while the body is only checked to be valid JSON.
 * @returns the metadata object, or NULL with why set (malformed_json).
 */
static json_t *load_model_meta(const ww_sink_msg_t *m, char *why, size_t n) {
  json_scan_t js = {m->payload + m->len, NULL};
  const char *end = js.end, *p = json_ws(m->payload, end);
  char *buf = NULL;
  size_t o = 0;
  json_t *meta = NULL;
  json_error_t jerr;

  if (p >= end || *p != '{') {
    snprintf(why, n, p >= end ? "not JSON: empty" : "not a JSON object");
    goto done;
  }
  if (!(buf = malloc(m->len + 2))) {
    snprintf(why, n, "out of memory reading a model of %zu bytes", m->len);
    goto done;
  }
  buf[o++] = '{';
  p = json_ws(p + 1, end);
  if (p < end && *p == '}') {
    p++;
  } else {
    for (;;) {
      const char *k, *ke, *colon, *ve; /* the key (quoted), its end, ':', the value's end */
      if (!(k = json_expect(&js, p, '"')) || !(ke = json_skip_string(&js, k)) ||
          !(colon = json_expect(&js, ke, ':')) || !(ve = json_skip(&js, colon + 1, 1)))
        goto bad;
      if (!is_model_body(k + 1, (size_t)(ke - k - 2))) {
        if (o > 1)
          buf[o++] = ',';
        memcpy(buf + o, k, (size_t)(ve - k));
        o += (size_t)(ve - k);
      }
      p = json_ws(ve, end);
      if (p < end && *p == '}') {
        p++;
        break;
      }
      if (!(p = json_expect(&js, p, ',')))
        goto bad;
      p++;
    }
  }
  if ((p = json_ws(p, end)) != end) {
    json_bad(&js, p); /* something after the object */
    goto bad;
  }
  buf[o++] = '}';
  if (!(meta = json_loadb(buf, o, JSON_REJECT_DUPLICATES, &jerr)))
    snprintf(why, n, "not JSON: %s", jerr.text);
  goto done;
bad:
  snprintf(why, n, "not JSON: malformed at byte %zu",
           js.bad ? (size_t)(js.bad - m->payload) : m->len);
done:
  free(buf);
  return meta;
}

int ww__sink_row_model(ww_sink_store_t *st, const ww_sink_msg_t *m, ww_sink_counts_t *c,
                       char *errstr, size_t errstr_size) {
  sqlite3_stmt *s = st->up_model;
  char why[WW_SINK_WHY_MAX];
  char line_buf[WW_ID_MAX];
  const char *bad = "malformed_json", *line = NULL;
  int64_t version = -1, trained = m->ts_ms >= 0 ? m->ts_ms : 0, samples = 0;
  char *meta_json = NULL;
  json_t *root = load_model_meta(m, why, sizeof(why)); /* the metadata members only */
  int rc = 0, done;

  if (!root)
    goto dead;
  if ((bad = need_str(root, "production_line", 0, &line, why, sizeof(why))) ||
      (bad = need_int(root, "version", 0, &version, why, sizeof(why))) ||
      (bad = need_int(root, "model_version", 0, &version, why, sizeof(why))) ||
      (bad = need_ts(root, "trained_at", 0, &trained, why, sizeof(why))) ||
      (bad = need_int(root, "trained_ms", 0, &trained, why, sizeof(why))) ||
      (bad = need_int(root, "samples", 0, &samples, why, sizeof(why))))
    goto dead;
  if (!line && m->key && m->key_len > 0 && m->key_len < sizeof(line_buf)) {
    memcpy(line_buf, m->key, m->key_len); /* the topic is keyed by line id */
    line_buf[m->key_len] = '\0';
    line = line_buf;
  }
  if (!line || version < 0) {
    bad = "missing_field";
    snprintf(why, sizeof(why), "a model needs 'production_line' (or a key) and 'version'");
    goto dead;
  }
  if (!(meta_json = json_dumps(root, JSON_COMPACT))) {
    rc = SQLITE_NOMEM;
    snprintf(errstr, errstr_size, "out of memory serialising model metadata");
    goto done;
  }
  sqlite3_bind_text(s, 1, line, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, version);
  sqlite3_bind_int64(s, 3, trained);
  sqlite3_bind_int64(s, 4, samples);
  sqlite3_bind_text(s, 5, meta_json, -1, SQLITE_STATIC);
  sqlite3_bind_blob(s, 6, m->payload, (int)m->len, SQLITE_STATIC);
  done = step_row(st, s, m, c, errstr, errstr_size);
  if (done < 0)
    rc = -done;
  else if (done > 0)
    c->models++;
  goto done;
dead:
  rc = ww__sink_row_dead(st, m, bad, why, c, errstr, errstr_size);
done:
  free(meta_json);
  json_decref(root);
  return rc;
}

int ww__sink_row_dead(ww_sink_store_t *st, const ww_sink_msg_t *m, const char *reason,
                      const char *detail, ww_sink_counts_t *c, char *errstr, size_t errstr_size) {
  sqlite3_stmt *s = st->ins_dead;
  int from_dlq = reason == NULL; /* coordinates from the DLQ headers, not this message */
  int rc;

  sqlite3_bind_int64(s, 1, m->ts_ms >= 0 ? m->ts_ms : ww_now_ms());
  if (from_dlq) {
    sqlite3_bind_text(s, 2, m->h_reason ? m->h_reason : "unknown", -1, SQLITE_STATIC);
    if (m->h_detail)
      sqlite3_bind_text(s, 3, m->h_detail, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(s, 3);
    if (m->h_src_topic)
      sqlite3_bind_text(s, 4, m->h_src_topic, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(s, 4);
    if (m->h_src_partition >= 0)
      sqlite3_bind_int(s, 5, m->h_src_partition);
    else
      sqlite3_bind_null(s, 5);
    if (m->h_src_offset >= 0)
      sqlite3_bind_int64(s, 6, m->h_src_offset);
    else
      sqlite3_bind_null(s, 6);
  } else {
    sqlite3_bind_text(s, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, detail ? detail : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, m->topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, m->partition);
    sqlite3_bind_int64(s, 6, m->offset);
  }
  if (m->payload)
    sqlite3_bind_blob(s, 7, m->payload, (int)m->len, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, 7);
  rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) {
    snprintf(errstr, errstr_size,
             "sqlite: cannot store a dead letter from %s [%d] at offset "
             "%lld: %s",
             m->topic, (int)m->partition, (long long)m->offset, sqlite3_errmsg(st->db));
    return rc;
  }
  c->dead_letters++;
  return 0;
}
