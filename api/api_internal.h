/* api_internal.h: shared between the api_*.c files; not installed. */
#ifndef WW_API_INTERNAL_H
#define WW_API_INTERNAL_H

#include <microhttpd.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "api.h"
#include "windwatch/reading.h"

#define WW_API_LIMIT_MAX    10000 /* largest ?limit= a JSON endpoint accepts */
#define WW_API_QUERY_MAX    4096  /* bytes of query string accepted (414 above) */
#define WW_API_URL_MAX      2048  /* bytes of path accepted (414 above) */
#define WW_API_ALERT_ID_MAX 256   /* bytes of an alert id accepted in a URL or cursor, incl. NUL */

/* Every prepared query the handlers run. The SQL texts are fixed strings in
 * api_db.c: request text only ever reaches SQLite as a bound parameter. */
typedef enum api_q_e {
  Q_HEALTH,       /* one row if sensor_readings is readable */
  Q_MODEL_NEWEST, /* newest model per line */
  Q_LATEST_LINE,  /* newest reading of line ?1 */
  Q_RECENT,       /* newest ?1 readings */
  Q_HISTORY_TEMP, /* history of one sensor column, filters line/since/until/limit */
  Q_HISTORY_HUM,
  Q_HISTORY_SOUND,
  Q_HISTORY_EXTRA,     /* other sensors, from extra_values by JSON path ?5 */
  Q_HISTORY_ROLLUP,    /* one-minute rollups of sensor ?5 */
  Q_HISTORY_TEMP_LINE, /* the four Q_HISTORY_* above for one line (?1), on its index */
  Q_HISTORY_HUM_LINE,
  Q_HISTORY_SOUND_LINE,
  Q_HISTORY_EXTRA_LINE,
  Q_COUNT_RANGE, /* count, earliest, latest */
  Q_SUMMARY,     /* averages over all readings */
  Q_ALERTS,      /* filtered, keyset-paginated */
  Q_ALERT_ONE,
  Q_ALERTS_ACTIVE_LINE,
  Q_WINDOWS,
  Q_WINDOW_LATEST_LINE,
  Q_WINDOW_TRAINING_LINE, /* end and training columns of line ?1's two newest windows */
  Q_MODELS,
  Q_STREAM_MARKS,   /* newest alert update and window id, where a stream starts */
  Q_ALERTS_SINCE,   /* alert changes after (?1 ms, ?2 id), oldest first */
  Q_WINDOWS_SINCE,  /* windows with id > ?1, oldest first */
  Q_MODEL_VERSIONS, /* newest version per line */
  Q_MODEL_BLOB,     /* the model of line ?1, version ?2 */
  Q_FEAT_PANES,     /* readings of line ?1, component ?4, ts in [?2, ?3), oldest first */
  Q_FEAT_LAST,      /* the newest ?3 readings of line ?1 before ts ?2, newest first */
  Q_DATA_VERSION,   /* PRAGMA data_version: changes when another connection commits */
  Q__COUNT
} api_q_t;

/* Per-request state, kept in MHD's con_cls between callbacks. */
typedef struct api_req_s {
  struct MHD_Connection *conn; /* borrowed */
  ww_api_t *api;               /* borrowed */
  const char *url;             /* borrowed from MHD, valid during the request */
  int is_get;                  /* GET or HEAD */
  int is_post;
  char *body;       /* POST body, NUL-terminated, owned */
  size_t body_len;  /* bytes in body */
  size_t body_cap;  /* bytes allocated */
  int too_large;    /* body exceeded max_body: answer 413 */
  int status;       /* HTTP status queued, for metrics */
  int route;        /* api_route_t, for metrics */
  int64_t start_ns; /* monotonic ns at the first callback */
} api_req_t;

/* Routes, for the per-route metrics. */
typedef enum api_route_e {
  R_OTHER,
  R_HEALTH,
  R_CURRENT,
  R_LINES,
  R_HISTORY,
  R_THRESHOLDS,
  R_SAMPLES,
  R_TABLE,
  R_DEBUG_COUNT,
  R_DASHBOARD,
  R_DBSTATS,
  R_EXPORT,
  R_EXPORT_PRED,
  R_PREDICT,
  R_ALERTS,
  R_ALERT_ONE,
  R_WINDOWS,
  R_LINE_ONE,
  R_MODELS,
  R_STREAM,
  R_METRICS,
  R_STATIC,
  R__COUNT
} api_route_t;

/* Server-wide counters, updated with atomics, read by /metrics. */
typedef struct api_metrics_s {
  uint64_t requests[R__COUNT][6];    /* [route][status class 0=other,1..5 = 1xx..5xx] */
  uint64_t dur_bucket[R__COUNT][12]; /* cumulative-by-render histogram buckets, see api_metrics.c */
  uint64_t dur_sum_us[R__COUNT];     /* total microseconds */
  uint64_t in_flight;                /* requests being handled */
  uint64_t sse_clients;              /* open /api/stream responses */
  uint64_t sse_events;               /* events written to stream clients */
  uint64_t db_errors;                /* failed queries */
} api_metrics_t;

typedef struct api_stream_s api_stream_t;
typedef struct api_models_s api_models_t;

struct ww_api_s {
  ww_api_conf_t conf;        /* copy; strings borrowed */
  struct MHD_Daemon *daemon; /* owned */
  uint16_t port;             /* bound port */
  pthread_key_t db_key;      /* per-thread api_dbconn_t, closed at thread exit */
  int db_key_ok;             /* db_key was created */
  api_metrics_t metrics;
  api_stream_t *stream; /* owned; live events hub */
  api_models_t *models; /* owned; per-line Isolation Forests */
  int64_t started_ms;   /* wall clock at start */
};

/* ---- api_server.c: responses ---- */
/** Queue \p root (owned, freed here) as a JSON response with \p status. */
enum MHD_Result api_send_json(api_req_t *req, unsigned status, json_t *root);
/** Queue {"error": message, "status": status}. */
enum MHD_Result api_send_error(api_req_t *req, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Queue \p body (copied) with a content type. */
enum MHD_Result api_send_text(api_req_t *req, unsigned status, const char *ctype, const char *body,
                              size_t len);
/** Queue \p resp (reference dropped here), adding the common headers. */
enum MHD_Result api_send_response(api_req_t *req, unsigned status, struct MHD_Response *resp);
/** @returns the query argument \p name or NULL (borrowed from MHD). */
const char *api_arg(api_req_t *req, const char *name);
/**
 * Parse ?name= as an integer in [min, max], \p def when absent.
 * @returns 0, or -1 after queueing a 400 that names the parameter.
 */
int api_arg_int(api_req_t *req, const char *name, int64_t def, int64_t min, int64_t max,
                int64_t *out, enum MHD_Result *ret);
/** Parse ?name= as RFC 3339 or epoch ms; \p def when absent. -1 after a 400. */
int api_arg_time(api_req_t *req, const char *name, int64_t def, int64_t *out, enum MHD_Result *ret);

/* ---- api_parse.c: pure parsers of outside input (no connection, no database) ---- */
/**
 * Parse a query value as a decimal integer in [min, max]: an optional '-' and
 * up to 18 digits, nothing else. NULL or "" gives \p def.
 * @returns 0 with min <= *out <= max (or *out = def), or -1.
 */
int api_parse_int(const char *v, int64_t def, int64_t min, int64_t max, int64_t *out);
/**
 * Parse a time query value: RFC 3339 / ISO 8601 (ww_ts_parse), epoch
 * milliseconds (digits), "now", or relative to \p now_ms as -N{s,m,h,d}
 * ("-15m"; N <= 999999999, clamped at the epoch). NULL or "" gives \p def.
 * @returns 0, or -1.
 */
int api_parse_time(const char *v, int64_t def, int64_t now_ms, int64_t *out);
/**
 * Parse an /api/alerts cursor "<updated_ms>:<alert_id>" (digits, a colon, a
 * non-empty id without control bytes, shorter than WW_API_ALERT_ID_MAX and
 * \p id_size). @returns 0 with *ms >= 0 and \p id set, or -1.
 */
int api_parse_cursor(const char *v, int64_t *ms, char *id, size_t id_size);
/** The cursor api_parse_cursor() reads back. @returns 0, or -1 if it does not fit. */
int api_format_cursor(int64_t ms, const char *id, char *buf, size_t size);
/**
 * Map a (decoded) request path to a file path relative to the web root:
 * "/" and the original's page URLs to their .html files, /vendor/uplot/ to
 * node_modules/uplot/dist/. Refuses anything with an empty, "." or ".."
 * segment, a hidden segment, a backslash or control byte, an unknown
 * extension, or any other node_modules path.
 * @returns 0 with \p rel ("/..." with only plain segments) and \p ctype set, or -1.
 */
int api_static_map(const char *url, char *rel, size_t rel_size, const char **ctype);

/** A parse error: HTTP status, the offending field (or NULL) and a message. */
typedef struct api_parse_err_s {
  unsigned status;   /* 400 */
  const char *field; /* static or factory-owned name, or NULL for the body as a whole */
  char msg[256];
} api_parse_err_t;

/** A validated POST /api/predict body. */
typedef struct api_predict_in_s {
  ww_reading_t rd;   /* line, component (the line's first when absent), ts, every line sensor */
  int has_component; /* the body named a component_id */
} api_predict_in_t;

/**
 * Validate a POST /api/predict body (the original simulator's, exactly):
 * production_line known; component_id null/absent or one of that line's;
 * timestamp absent/null (\p now_ms) or ISO 8601; every sensor of the line a
 * finite number inside its physical range.
 * @returns 0 with \p in filled, or the HTTP status (400) with \p e naming the field.
 */
unsigned api_predict_parse(const ww_factory_t *fac, const char *body, size_t len, int64_t now_ms,
                           api_predict_in_t *in, api_parse_err_t *e);

/* ---- api_db.c ---- */
/**
 * @returns this thread's statement \p q, reset and unbound, or NULL with
 * \p errstr set (database missing, locked or corrupt). Call sqlite3_reset()
 * when done so the read transaction ends.
 */
sqlite3_stmt *api_stmt(ww_api_t *api, api_q_t q, char *errstr, size_t errstr_size);
/** @returns this thread's connection or NULL with \p errstr set. */
sqlite3 *api_db(ww_api_t *api, char *errstr, size_t errstr_size);
/**
 * @brief What this thread last built from the database for a response that
 *        depends on nothing else (API_CACHE_*), kept while the database has
 *        not changed: PRAGMA data_version on this thread's connection, which
 *        moves with every commit of another connection (the sink).
 * @returns a new reference, or NULL: nothing kept, or the database changed
 *          since (then \p version is set for api_cache_put()), or an error.
 */
json_t *api_cache_get(ww_api_t *api, int slot, int64_t *version);
/** @brief Keep \p v (a reference is taken) as slot \p slot's, built at \p version. */
void api_cache_put(ww_api_t *api, int slot, int64_t version, json_t *v);
#define API_CACHE_STATUS 0 /* GET /api/current-status: its database part */
#define API_CACHE_SLOTS  1
/** Create the per-thread key. @returns 0 or -1. */
int api_db_init(ww_api_t *api);
void api_db_fini(ww_api_t *api);
/** @returns the SQL of table \p name's allow-listed browse query, or NULL if not allowed. */
const char *api_table_sql(const char *name);
/** Column \p i of the current row as a new JSON value (int, real, text, null). */
json_t *api_col_json(sqlite3_stmt *st, int i);
/** The current row as a JSON object keyed by column name (new reference). */
json_t *api_row_json(sqlite3_stmt *st);
/**
 * Finish stepping \p st into the array \p a (owned): on an error (\p rc is
 * not SQLITE_DONE) frees \p a, puts SQLite's message in \p err and returns
 * NULL; otherwise returns \p a. Resets \p st either way.
 */
json_t *api_rows_done(sqlite3_stmt *st, int rc, json_t *a, char *err, size_t errsz);
/** As api_rows_done() without an array: 0, or -1 with SQLite's message in \p err. */
int api_step_done(sqlite3_stmt *st, int rc, char *err, size_t errsz);
/**
 * JSON text written straight into one growing buffer (api_jsonw.c), for
 * answers of many rows: the same text api_send_json() would send for the
 * same values, without a jansson value per field. Zero-initialise; after
 * an allocation failure (oom) further writes do nothing.
 */
typedef struct api_jw_s {
  char *p;
  size_t len, cap;
  int oom;
} api_jw_t;
/** \p n bytes as they are (punctuation, keys known to need no escaping). */
void api_jw_raw(api_jw_t *w, const char *s, size_t n);
/** A string literal (anything else does not compile: its size is its length + 1). */
#define API_JW_LIT(w, lit) api_jw_raw((w), "" lit, sizeof("" lit) - 1)
/** A JSON string, escaped as jansson escapes it; null if \p s is not UTF-8. */
void api_jw_str(api_jw_t *w, const char *s, size_t n);
/** A real as jansson prints it with JSON_REAL_PRECISION(10); null if not finite. */
void api_jw_real(api_jw_t *w, double v);
void api_jw_int(api_jw_t *w, int64_t v);
/** Epoch ms as an RFC 3339 string, or null when \p ms < 0 (as api_ts_json()). */
void api_jw_ts(api_jw_t *w, int64_t ms);
/** Column \p i of the current row, as api_col_json() would print it. */
void api_jw_col(api_jw_t *w, sqlite3_stmt *st, int i);
/** How api_jw_row() writes a field. */
typedef enum api_jw_kind_e {
  API_JW_COL,   /* the column, as api_jw_col() */
  API_JW_BOOL,  /* the column's integer as true / false */
  API_JW_TS,    /* the column's epoch ms as api_jw_ts() */
  API_JW_FALSE, /* the constant false (no column) */
} api_jw_kind_t;
typedef struct api_jw_field_s {
  const char *name; /* the key, written as it is (a plain constant) */
  api_jw_kind_t kind;
  int col; /* column of the current row */
} api_jw_field_t;
/** The current row of \p st as an object of the \p n fields \p f, in their order. */
void api_jw_row(api_jw_t *w, sqlite3_stmt *st, const api_jw_field_t *f, int n);
/** Send \p w's text (taken: w->p is NULL after) as application/json. */
enum MHD_Result api_send_jw(api_req_t *req, unsigned status, api_jw_t *w);
/** Bind text or NULL. */
int api_bind_text_or_null(sqlite3_stmt *st, int idx, const char *s);
/** Format epoch ms as RFC 3339 JSON string, or JSON null when \p ms < 0. */
json_t *api_ts_json(int64_t ms);
/** A reading row (SELECT_READING columns) as a JSON object. */
json_t *api_reading_json(sqlite3_stmt *st);
/** An alert row (SELECT_ALERT columns) as a JSON object; \p full adds last_event. */
json_t *api_alert_json(sqlite3_stmt *st, int full);
/** A window_stats row (WINDOW_COLS) as a JSON object; \p unused is ignored. */
json_t *api_window_json(sqlite3_stmt *st, int unused);
/** Parse a JSON text column; JSON null when NULL or invalid. */
json_t *api_col_parse(sqlite3_stmt *st, int i);

/* ---- route handlers (api_routes*.c, api_export.c, api_predict.c, ...) ---- */
enum MHD_Result api_h_health(api_req_t *req);
enum MHD_Result api_h_current_status(api_req_t *req);
enum MHD_Result api_h_production_lines(api_req_t *req);
enum MHD_Result api_h_sensor_history(api_req_t *req, const char *sensor);
enum MHD_Result api_h_thresholds(api_req_t *req);
enum MHD_Result api_h_data_samples(api_req_t *req);
enum MHD_Result api_h_table_data(api_req_t *req, const char *table);
enum MHD_Result api_h_debug_count(api_req_t *req);
enum MHD_Result api_h_dashboard_data(api_req_t *req);
enum MHD_Result api_h_database_stats(api_req_t *req);
enum MHD_Result api_h_alerts(api_req_t *req);
enum MHD_Result api_h_alert_one(api_req_t *req, const char *id);
enum MHD_Result api_h_windows(api_req_t *req);
enum MHD_Result api_h_line_one(api_req_t *req, const char *id);
enum MHD_Result api_h_models(api_req_t *req);
enum MHD_Result api_h_export_csv(api_req_t *req, int predictions);
enum MHD_Result api_h_predict(api_req_t *req);
enum MHD_Result api_h_metrics(api_req_t *req);
enum MHD_Result api_h_stream(api_req_t *req);
enum MHD_Result api_h_static(api_req_t *req, const char *path);

/* ---- shared helpers between handlers ---- */
/** The production_lines object of the original API (new reference), or NULL on a DB error. */
json_t *api_lines_status(api_req_t *req, char *errstr, size_t errstr_size);
/** @brief Set each line's age_seconds (now - last_reading_at) in \p lines. */
void api_lines_age(json_t *lines, int64_t now_ms);
/** Severity thresholds for anomaly scores: warning and critical (0..1). */
void api_score_thresholds(ww_api_t *api, double *warning, double *critical);

/* ---- api_export.c ---- */
/** Append \p s as one RFC 4180 field (quoted when needed) to \p buf. @returns bytes written or -1
 * if it does not fit. */
int api_csv_field(char *buf, size_t size, const char *s);

/* ---- api_stream.c ---- */
api_stream_t *api_stream_new(ww_api_t *api);
/** Stop the hub: join its thread, end every stream and refuse new ones (503), waiting up to 5 s
 * for the open ones to finish. Call before MHD_stop_daemon(): afterwards no connection is
 * suspended, so the daemon can stop. NULL is a no-op. */
void api_stream_stop(api_stream_t *hub);
/** Free a hub that api_stream_stop() stopped (or whose thread never started). Call after
 * MHD_stop_daemon(): a stream the daemon ended only when it stopped still calls back into the
 * hub until then. NULL is a no-op. */
void api_stream_free(api_stream_t *hub);

/* ---- api_features.c: window-context model features from stored readings ---- */
#define API_MAX_FEATS (2 * WW_MAX_SENSORS) /* features a model may have */

/** How a "window_z" model's features are built (its "feature_context"). */
typedef struct api_feat_ctx_s {
  int count;                      /* panes are counts of the component's readings, not time */
  int64_t pane;                   /* pane length: ms (time) or readings (count); > 0 */
  int min_count;                  /* values a pane needs to be a baseline */
  double min_std;                 /* a baseline spread at or below this gives no z */
  int n_feat;                     /* features */
  int feat_sensor[API_MAX_FEATS]; /* factory sensor index of each feature */
  int feat_cur[API_MAX_FEATS];    /* 0: "<sensor>_z" (previous pane), 1: "<sensor>_zcur" */
} api_feat_ctx_t;

/** One stored reading of the component, as the feature replay needs it. */
typedef struct api_feat_row_s {
  int64_t ts_ms;
  int normal;                    /* the processor judged it normal */
  uint32_t present;              /* bit i: values[i] stored */
  double values[WW_MAX_SENSORS]; /* by factory sensor index */
} api_feat_row_t;

/** Per-pane running sums, exactly as the processor keeps them. */
typedef struct api_feat_acc_s {
  int64_t n[WW_MAX_SENSORS], n_all[WW_MAX_SENSORS];
  double shift[WW_MAX_SENSORS], sum[WW_MAX_SENSORS], sumsq[WW_MAX_SENSORS];
  double sum_all[WW_MAX_SENSORS], sumsq_all[WW_MAX_SENSORS];
} api_feat_acc_t;

/** Add \p row to pane sums \p a (rows in the processor's order: oldest first). */
void api_feat_acc_add(api_feat_acc_t *a, const api_feat_row_t *row);
/**
 * Features of reading \p rd from its component's panes: \p acc[0] two panes
 * back, \p acc[1] the previous pane, \p acc[2] the reading's pane so far.
 * @returns 1 if every present sensor had a baseline (else its features are
 * the neutral 0, as are an absent sensor's).
 */
int api_feat_compute(const api_feat_ctx_t *c, const api_feat_acc_t acc[3], const ww_reading_t *rd,
                     double *feats);
/**
 * Read the component's stored readings before \p rd (one bounded query on
 * the (production_line, ts_ms) index) and compute its features.
 * @returns 1 (baseline), 0 (no baseline: neutral features) or -1 (database error, \p err set).
 */
int api_feat_load(ww_api_t *api, const api_feat_ctx_t *c, const ww_reading_t *rd, double *feats,
                  char *err, size_t errsz);

/* ---- api_model.c ---- */
api_models_t *api_models_new(void);
void api_models_destroy(api_models_t *ms);
/** Load newer model versions if the last check is older than a few seconds. */
void api_models_check(ww_api_t *api);
/**
 * Score reading \p rd with its line's newest model: on the sensor values for
 * a plain model, on features rebuilt from the stored readings of its
 * component for a "window_z" model (api_features.c).
 * @returns 1 and sets score, version, the model's thresholds and \p baseline
 * (1 if the features had a baseline; always 1 for a plain model), or 0 if
 * the line has no model (or its features could not be read).
 */
int api_models_score(ww_api_t *api, const ww_reading_t *rd, double *score, int64_t *version,
                     double *warn, double *crit, int *baseline);
/** @returns the number of lines with a loaded model. */
int api_models_loaded(ww_api_t *api);
/** @returns "model" when some line is scored by its model, else "threshold". */
const char *api_scorer(ww_api_t *api);

/* ---- api_metrics.c ---- */
void api_metrics_observe(api_metrics_t *m, int route, int status, int64_t dur_ns);

#endif /* WW_API_INTERNAL_H */
