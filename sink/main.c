/* windwatch-sink: the processor's topics into SQLite, exactly once. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "sink_consumer.h"
#include "windwatch/config.h"
#include "windwatch/db.h"
#include "windwatch/log.h"
#include "windwatch/signal.h"
#include "windwatch/timeutil.h"

int main(int argc, char **argv) {
  char errstr[512];
  int exit_code = 2;
  ww_sink_counts_t total;
  double active_s = 0; /* first message to the end of the run */
  sqlite3 *db = NULL;
  ww_config_t *cfg = ww_config_load(WW_ROLE_SINK, "windwatch-sink", argc, argv, &exit_code);

  if (!cfg)
    return exit_code;
  exit_code = 1;
  /* SQLite's allocation statistics take a global mutex on every malloc and
   * free; nothing here reads them. Must precede the first connection. */
  if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
    WW_LOG(WW_LOG_DEBUG, "SINK", "cannot turn SQLite's memory statistics off");
  if (ww_signal_install() != 0) {
    WW_LOG(WW_LOG_ERROR, "SINK", "cannot install signal handlers");
    goto done;
  }
  /* A file-size limit (ulimit -f, systemd LimitFSIZE=) kills a process with
   * SIGXFSZ on its first write past the limit. Ignored, that write fails with
   * EFBIG instead: SQLite reports an error, and the sink keeps the batch and
   * retries with backoff as on any database fault, instead of dying. */
  if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR) {
    WW_LOG(WW_LOG_ERROR, "SINK", "cannot ignore SIGXFSZ");
    goto done;
  }
  /* Another writer holding the lock (a backup, a manual session) is temporary:
   * wait for it, as the run loop does, instead of failing the start. */
  for (int64_t backoff = 100; !db; backoff = backoff < 5000 ? backoff * 2 : 5000) {
    db = ww_db_open_rw(ww_config_str(cfg, "db"), ww_config_factory(cfg), errstr, sizeof(errstr));
    if (db)
      break;
    if (!strstr(errstr, "database is locked") || ww_signal_stop_requested()) {
      WW_LOG(WW_LOG_ERROR, "SINK", "%s", errstr);
      exit_code = 3; /* fatal database error (documented exit code) */
      goto done;
    }
    WW_LOG(WW_LOG_WARN, "SINK", "%s; retrying in %" PRId64 " ms", errstr, backoff);
    ww_sleep_ms(backoff);
  }
  exit_code = ww_sink_run(cfg, db, &total, &active_s);
  /* The summary is data: stdout, one JSON line, in both modes. */
  printf("{\"records\":%" PRId64 ",\"readings\":%" PRId64 ",\"windows\":%" PRId64
         ",\"alerts\":%" PRId64 ",\"dead_letters\":%" PRId64 ",\"models\":%" PRId64
         ",\"skipped\":%" PRId64 ",\"seconds\":%.3f,\"rows_per_s\":%.0f}\n",
         total.records, total.readings, total.windows, total.alerts, total.dead_letters,
         total.models, total.skipped, active_s,
         active_s > 0 ? (double)total.readings / active_s : 0.0);
  fflush(stdout);
done:
  ww_db_close(db);
  ww_config_destroy(cfg);
  return exit_code;
}
