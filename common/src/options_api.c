/* options_api.c: windwatch-api's option table. */
#include "options.h"

const ww_opt_t ww__opts_api[] = {
  {"listen", 'l', NULL, "api.listen", WW_OPT_STR, "127.0.0.1:5000", NULL, WW_NO_BOUNDS,
   "HOST:PORT", "address to serve HTTP on", WW_ROLE_API},
  {"db", 0, NULL, "storage.db", WW_OPT_STR, "windwatch.db", NULL, WW_NO_BOUNDS, "PATH",
   "SQLite database file (read-only)", WW_ROLE_API},
  {"threads", 't', NULL, "api.threads", WW_OPT_INT, "4", NULL, 1, 256, "N",
   "HTTP worker threads", WW_ROLE_API},
  WW_OPT_END,
};
