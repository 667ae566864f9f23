/**
 * @file producer_replay.h
 * @brief Readings from a CSV file (--replay) or JSON lines (--stdin).
 *
 * CSV: a header row, then one reading per row. A column mapping says which
 * column holds each field: timestamp (required), production_line,
 * component_id, sequence_number, and any sensor of the factory. Rows keep
 * their own timestamps and values (values are re-encoded as the shortest
 * text of the same number). A malformed row is reported on stderr with its
 * line number and skipped, never silently.
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
 * @param map        "field=column,..." (column: header name or 1-based number), or NULL
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

/**
 * @brief Read the next valid JSON-lines reading from \p fp into \p buf.
 *
 * Validates the line with ww_reading_decode (into \p r, for its line index)
 * and returns its bytes unchanged, without the newline. Empty lines are
 * ignored; invalid or over-long lines are reported with their number and
 * counted in \p *skipped.
 * @param lineno  line counter, updated (start it at 0)
 * @returns the length (> 0), 0 at end of input, -1 on a read error (logged).
 */
long ww_jsonl_next(const ww_factory_t *fac, FILE *fp, char *buf, size_t size,
                   ww_reading_t *r, uint64_t *lineno, uint64_t *skipped);

#endif /* WW_PRODUCER_REPLAY_H */
