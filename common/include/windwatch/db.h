/**
 * @file db.h
 * @brief The one SQLite schema, its migrations, and connection set-up.
 *
 * The sink is the only writer; the api opens read-only connections. WAL mode
 * lets readers run while the sink writes. The schema is versioned with
 * PRAGMA user_version and migrated forward in ww_db_open_rw(); docs/storage.md
 * describes every table.
 */
#ifndef WW_DB_H
#define WW_DB_H

#include <stddef.h>
#include <sqlite3.h>

#include "windwatch/config.h"

/** Schema version this build writes; older files are migrated forward. */
#define WW_DB_SCHEMA_VERSION 3

/**
 * @brief Open (creating if needed) \p path for writing: WAL, synchronous=NORMAL,
 *        a busy timeout, foreign keys on, schema migrated to WW_DB_SCHEMA_VERSION,
 *        and the production_lines table synchronised from \p fac (may be NULL).
 * @returns a handle the caller closes with ww_db_close(), or NULL with \p errstr set.
 */
sqlite3 *ww_db_open_rw(const char *path, const ww_factory_t *fac, char *errstr, size_t errstr_size);

/**
 * @brief Open \p path read-only (query_only, busy timeout). The file must exist
 *        and have a schema version this build understands.
 * @returns a handle or NULL with \p errstr set.
 */
sqlite3 *ww_db_open_ro(const char *path, char *errstr, size_t errstr_size);

/** Close \p db, finalising nothing for the caller (finalise statements first). NULL is a no-op. */
void ww_db_close(sqlite3 *db);

/**
 * @brief Migrate \p db from its user_version to WW_DB_SCHEMA_VERSION in one transaction.
 * @returns 0, or -1 with \p errstr set (the file is left unchanged).
 */
int ww_db_migrate(sqlite3 *db, char *errstr, size_t errstr_size);

/**
 * @brief Migrate \p db forward to schema version \p target only (tests build
 *        old files with it; ww_db_migrate is ww_db_migrate_to(latest)).
 * @returns 0, or -1 with \p errstr set.
 */
int ww_db_migrate_to(sqlite3 *db, int target, char *errstr, size_t errstr_size);

/** @returns the schema's PRAGMA user_version, or -1 on error. */
int ww_db_schema_version(sqlite3 *db);

/** Execute \p sql (no results). @returns 0 or -1 with "what: sqlite message" in \p errstr. */
int ww_db_exec(sqlite3 *db, const char *sql, char *errstr, size_t errstr_size);

/** Prepare \p sql. @returns 0 or -1 with \p errstr set. */
int ww_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt, char *errstr,
                  size_t errstr_size);

#endif /* WW_DB_H */
