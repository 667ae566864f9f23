/**
 * @file sink_store.h
 * @brief The sink's SQLite writer: one transaction per batch of Kafka messages,
 *        the rows and the next offset of every partition they came from
 *        committed together, so a batch is stored exactly once.
 *
 * Kafka-free on purpose: the consumer turns rd_kafka_message_t into
 * ww_sink_msg_t, and unit tests build them by hand.
 */
#ifndef WW_SINK_STORE_H
#define WW_SINK_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "windwatch/config.h"
#include "windwatch/err.h"
#include "windwatch/reading.h"
#include "windwatch/timeutil.h"

/** What a topic carries; decides the table its messages go to. */
typedef enum ww_sink_kind_e {
  WW_SINK_READINGS = 0, /* sensor-scored → sensor_readings (+ rollups) */
  WW_SINK_WINDOWS,      /* window-stats → window_stats */
  WW_SINK_ALERTS,       /* alerts → alerts, upserted by alert_id */
  WW_SINK_DLQ,          /* sensor-data-dlq → dead_letters */
  WW_SINK_MODELS,       /* models → models */
  WW_SINK__KINDS
} ww_sink_kind_t;

/** A reading decoded ahead of the transaction (on the consumer thread). */
typedef struct ww_sink_pre_s {
  int reason; /* ww_dlq_reason_t: WW_DLQ_NONE if r and sc are valid */
  ww_reading_t r;
  ww_score_t sc;
  char why[160];        /* the decoder's detail when reason != WW_DLQ_NONE */
  char ts[WW_TS_BUFSZ]; /* r.ts_ms as RFC 3339, formatted off the writer thread */
  int ts_len;           /* strlen(ts) */
  int comp_len;         /* strlen(r.component_id) */
} ww_sink_pre_t;

/** One Kafka message as the store sees it. Every pointer is borrowed. */
typedef struct ww_sink_msg_s {
  ww_sink_kind_t kind;
  const char *topic; /* NUL-terminated topic name */
  int32_t partition;
  int64_t offset;  /* this message's offset; next_offset becomes offset + 1 */
  int64_t ts_ms;   /* Kafka message timestamp, ms since epoch; -1 if unknown */
  const char *key; /* may be NULL */
  size_t key_len;
  const char *payload; /* may be NULL (a tombstone on the compacted models topic) */
  size_t len;
  /* Dead-letter headers (kind WW_SINK_DLQ); NULL/-1 when absent. */
  const char *h_reason; /* NUL-terminated */
  const char *h_detail;
  const char *h_src_topic;
  int32_t h_src_partition;
  int64_t h_src_offset;
  const ww_sink_pre_t *pre; /* kind WW_SINK_READINGS: already decoded, or NULL to decode here */
} ww_sink_msg_t;

/** Row counts, per table, of what one or more batches stored. */
typedef struct ww_sink_counts_s {
  int64_t records;      /* messages applied (not counting skipped duplicates) */
  int64_t readings;     /* sensor_readings rows inserted */
  int64_t windows;      /* window_stats rows inserted */
  int64_t alerts;       /* alert events applied (insert or update) */
  int64_t dead_letters; /* dead_letters rows (from the DLQ topic or undecodable input) */
  int64_t models;       /* models rows written */
  int64_t skipped;      /* messages below the stored offset: already in the database */
  int64_t tombstones;   /* empty messages (compaction deletes): nothing to store */
} ww_sink_counts_t;

typedef struct ww_sink_store_s ww_sink_store_t;

/**
 * @brief Prepare every statement on \p db (opened with ww_db_open_rw, schema current).
 * @param fac the factory (borrowed; must outlive the store): maps sensor indexes to columns.
 * @returns a store the caller frees with ww_sink_store_destroy() (before closing \p db),
 *          or NULL with \p errstr set.
 */
ww_sink_store_t *ww_sink_store_new(sqlite3 *db, const ww_factory_t *fac, char *errstr,
                                   size_t errstr_size);

/** Finalize the statements. Does not close the database. NULL is a no-op. */
void ww_sink_store_destroy(ww_sink_store_t *st);

/**
 * @brief The stored next offset of \p topic / \p partition.
 * @returns WW_OK and sets \p next, WW_ERR_NOENT if none is stored, or another
 *          error (WW_ERR_BUSY, WW_ERR_IO, WW_ERR_DB) with \p errstr set.
 */
ww_err_t ww_sink_store_offset(ww_sink_store_t *st, const char *topic, int32_t partition,
                              int64_t *next, char *errstr, size_t errstr_size);

/**
 * @brief Store \p n messages and the offsets after them in one transaction.
 *
 * A message whose offset is below the stored next offset of its partition is
 * already in the database and is skipped, so applying the same batch twice
 * stores it once. Undecodable messages become dead_letters rows. On any
 * error the transaction is rolled back: neither rows nor offsets change,
 * and the caller may retry the same messages.
 * @param added incremented by what was stored (untouched on error); may be NULL.
 * @returns WW_OK, or WW_ERR_BUSY (locked), WW_ERR_FULL (disk or size limit),
 *          WW_ERR_IO (I/O error), WW_ERR_DB (anything else), with \p errstr set.
 */
ww_err_t ww_sink_store_apply(ww_sink_store_t *st, const ww_sink_msg_t *msgs, size_t n,
                             ww_sink_counts_t *added, char *errstr, size_t errstr_size);

/** Decode \p m's payload into \p pre (any thread; no database access). */
void ww_sink_predecode(const ww_factory_t *fac, const ww_sink_msg_t *m, ww_sink_pre_t *pre);

/** @returns the ww_err_t for an SQLite result code (BUSY/LOCKED, FULL, IOERR, other). */
ww_err_t ww_sink_sqlite_err(int rc);

#endif /* WW_SINK_STORE_H */
