/**
 * @file producer_replay.h
 * @brief Readings from a CSV file (--replay) or JSON lines (--stdin).
 *
 * CSV: a header row, then one reading per row. A column mapping says which
 * column holds each field: timestamp (required), production_line,
 * component_id, sequence_number, injected_anomaly and episode_id (ground
 * truth), and any sensor of the factory. Rows keep their own timestamps and
 * values (values are re-encoded as the shortest text of the same number).
 * A label cell is a 0/1 (true/false, yes/no) flag, 1 becoming the type
 * "labelled", or an anomaly type name kept as written; empty, 0 or "normal"
 * is no anomaly. Without an episode_id column, consecutive labelled rows of
 * one component with the same type are one episode, numbered from 1 (ids
 * given in the column are kept, and generated ones continue above them).
 * A malformed row is reported on stderr with its line number and skipped,
 * never silently.
 *
 * JSON lines: each line must be a valid reading (ww_reading_decode) and is
 * passed on byte for byte; invalid lines are reported and skipped.
 */
#ifndef WW_PRODUCER_REPLAY_H
#define WW_PRODUCER_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "windwatch/config.h"
#include "windwatch/reading.h"

typedef struct ww_replay_s ww_replay_t;

/**
 * @brief Open \p path and read its header.
 * @param map        "field=column,..." (column: header name or 1-based number), or NULL;
 *                   e.g. "timestamp=1,temperature=value,injected_anomaly=label"
 * @param line       production_line for rows without that column, or NULL (first line)
 * @param component  component_id for rows without that column, or NULL (line's first)
 * @remark \p fac is borrowed and must outlive the replay.
 * @returns a replay to close with ww_replay_close(), or NULL with \p errstr set.
 */
ww_replay_t *ww_replay_open(const ww_factory_t *fac, const char *path, const char *map,
                            const char *line, const char *component, char *errstr,
                            size_t errstr_size);

/**
 * @brief The next valid row as a reading in \p r (malformed rows are reported and skipped).
 * @returns 1 with \p r set, 0 at the end of the file, -1 on a read error (logged).
 */
int ww_replay_next(ww_replay_t *rp, ww_reading_t *r);

/** @returns rows skipped as malformed so far. */
uint64_t ww_replay_skipped(const ww_replay_t *rp);

void ww_replay_close(ww_replay_t *rp);

/** A JSON-lines reader with its own buffer (no stdio: it knows when a read may block). */
typedef struct ww_jsonl_s ww_jsonl_t;

/**
 * @brief A reader of \p fd (borrowed, not closed).
 * @remark \p fac is borrowed and must outlive the reader.
 * @returns a reader to free with ww_jsonl_destroy(), or NULL if out of memory.
 */
ww_jsonl_t *ww_jsonl_new(const ww_factory_t *fac, int fd);
void ww_jsonl_destroy(ww_jsonl_t *jl);

/**
 * @brief The next valid reading's line, unchanged (without its line ending).
 *
 * Each line is validated with ww_reading_decode (into \p r, for its line
 * index). Empty lines are ignored; invalid or over-long lines are reported
 * with their number and counted (ww_jsonl_skipped).
 * @param line         set to the line, NUL-terminated, valid until the next call
 * @param before_read  called, if not NULL, before a read(2) that may block
 *                     (the caller hands over what it holds back)
 * @returns the length (> 0), 0 at end of input or when a signal interrupted
 *          the read, -1 on a read error (logged).
 */
long ww_jsonl_next(ww_jsonl_t *jl, const char **line, ww_reading_t *r,
                   void (*before_read)(void *opaque), void *opaque);

/** Lines read so far, and lines skipped as invalid. */
uint64_t ww_jsonl_lineno(const ww_jsonl_t *jl);
uint64_t ww_jsonl_skipped(const ww_jsonl_t *jl);

#endif /* WW_PRODUCER_REPLAY_H */
