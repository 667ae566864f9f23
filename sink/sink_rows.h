/* sink_rows.h: private to ww_sink. The store's layout and its per-table row writers. */
#ifndef WW_SINK_ROWS_H
#define WW_SINK_ROWS_H

#include <sqlite3.h>

#include "sink_store.h"

#define WW_SINK_ROLLUP_SLOTS 512 /* (line, sensor, minute) cells summed in memory per flush */
/* sensor_readings rows per INSERT statement, at most: one statement of many
 * rows costs SQLite far less per row than as many one-row statements (1.25x
 * the rows/s at 50 rows; 100 rows another 7 % in the ceiling loop). 100 rows
 * of 18 values need SQLite >= 3.32's limit of 32766 variables; older builds
 * (999) get 55 (ww_sink_store_new()). */
#define WW_SINK_ROWS_PER_INSERT 100
#define WW_SINK_READING_COLS    18
#define WW_SINK_EXTRA_MAX       (WW_MAX_SENSORS * (WW_ID_MAX + 32) + 4)

/* A reading waiting for its multi-row INSERT. */
typedef struct ww__sink_pend_s {
  const ww_sink_msg_t *m;        /* borrowed from the batch */
  const ww_sink_pre_t *pre;      /* m->pre, or &local */
  ww_sink_pre_t local;           /* decoded here when the message came without */
  char extra[WW_SINK_EXTRA_MAX]; /* extra_values JSON, "" for none */
} ww__sink_pend_t;

/* One one-minute rollup cell being summed before it is upserted. */
typedef struct ww__sink_rollup_s {
  int line_idx;      /* factory line index */
  int sensor_idx;    /* factory sensor index */
  int64_t minute_ms; /* start of the minute, ms since epoch */
  int64_t count;
  double sum, min, max;
} ww__sink_rollup_t;

/* A partition seen in the batch being applied. */
typedef struct ww__sink_part_s {
  const char *topic; /* borrowed from the batch's messages */
  int32_t partition;
  int64_t stored; /* next offset in kafka_offsets when the batch began; -1 = none */
  int64_t next;   /* next offset after this batch's messages so far */
} ww__sink_part_t;

struct ww_sink_store_s {
  sqlite3 *db;                       /* borrowed */
  const ww_factory_t *fac;           /* borrowed */
  sqlite3_stmt *ins_reading;         /* sensor_readings insert, one row */
  sqlite3_stmt *ins_readings;        /* the same, rows_per_insert rows */
  int rows_per_insert;               /* 1..WW_SINK_ROWS_PER_INSERT, as SQLite's limit allows */
  sqlite3_stmt *ins_window;          /* window_stats insert */
  sqlite3_stmt *up_alert;            /* alerts upsert, newest event wins */
  sqlite3_stmt *up_model;            /* models upsert by (line, version) */
  sqlite3_stmt *ins_dead;            /* dead_letters insert */
  sqlite3_stmt *get_offset;          /* kafka_offsets lookup */
  sqlite3_stmt *put_offset;          /* kafka_offsets upsert */
  sqlite3_stmt *up_rollup;           /* readings_rollup_1m accumulate */
  int line_len[WW_MAX_LINES];        /* strlen of each factory line id (bound with lengths) */
  int sensor_len[WW_MAX_SENSORS];    /* strlen of each factory sensor name */
  int sev_len[WW_SEV_CRITICAL + 1];  /* strlen of each ww_severity_name() */
  int col_of_sensor[WW_MAX_SENSORS]; /* 0 temperature, 1 humidity, 2 sound_level, -1 extra_values */
  struct ww__sink_part_s *parts;     /* partitions touched by the batch being applied (owned) */
  int n_parts, cap_parts;            /* used and allocated entries of parts[] */
  int n_rollup;                      /* used entries of rollup[] */
  int n_pend;                        /* used entries of pend[] */
  ww__sink_pend_t pend[WW_SINK_ROWS_PER_INSERT]; /* readings not inserted yet */
  ww__sink_rollup_t rollup[WW_SINK_ROLLUP_SLOTS];
};

/*
 * Row writers. Each runs inside the store's open transaction. A message that
 * cannot be decoded, or that the database rejects as a constraint violation,
 * is stored as a dead letter instead. They return 0, or the SQLite result
 * code of a failure that must abort the whole transaction (with errstr set).
 */
int ww__sink_row_reading(ww_sink_store_t *st, const ww_sink_msg_t *m, ww_sink_counts_t *c,
                         char *errstr, size_t errstr_size);
/* Insert the readings ww__sink_row_reading() queued (it does so itself each
 * rows_per_insert of them; the store at the end of a batch). */
int ww__sink_readings_flush(ww_sink_store_t *st, ww_sink_counts_t *c, char *errstr,
                            size_t errstr_size);
int ww__sink_row_window(ww_sink_store_t *st, const ww_sink_msg_t *m, ww_sink_counts_t *c,
                        char *errstr, size_t errstr_size);
int ww__sink_row_alert(ww_sink_store_t *st, const ww_sink_msg_t *m, ww_sink_counts_t *c,
                       char *errstr, size_t errstr_size);
int ww__sink_row_model(ww_sink_store_t *st, const ww_sink_msg_t *m, ww_sink_counts_t *c,
                       char *errstr, size_t errstr_size);
/* A dead letter: from the DLQ topic (reason from headers when \p reason is NULL)
 * or for an undecodable message of another topic. */
int ww__sink_row_dead(ww_sink_store_t *st, const ww_sink_msg_t *m, const char *reason,
                      const char *detail, ww_sink_counts_t *c, char *errstr, size_t errstr_size);
/* Upsert the summed rollup cells and empty them. */
int ww__sink_rollup_flush(ww_sink_store_t *st, char *errstr, size_t errstr_size);

#endif /* WW_SINK_ROWS_H */
