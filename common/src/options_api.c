/* options_api.c: windwatch-api's option table. */
#include "options.h"

const ww_opt_t ww__opts_api[] = {
    {"listen", 'l', NULL, "api.listen", WW_OPT_STR, "127.0.0.1:5000", NULL, WW_NO_BOUNDS,
     "HOST:PORT", "address to serve HTTP on ([::1]:5000 for IPv6, :5000 for every address)",
     WW_ROLE_API},
    {"db", 0, NULL, "storage.db", WW_OPT_STR, "windwatch.db", NULL, WW_NO_BOUNDS, "PATH",
     "SQLite database file (read-only)", WW_ROLE_API},
    {"threads", 't', NULL, "api.threads", WW_OPT_INT, "0", NULL, 0, 256, "N",
     "HTTP worker threads (0 = one per CPU core)", WW_ROLE_API},
    {"web-root", 0, NULL, "api.web_root", WW_OPT_STR, NULL, NULL, WW_NO_BOUNDS, "DIR",
     "dashboard files (default: the installed share/windwatch/web, else the source tree's api/web)",
     WW_ROLE_API},
    {"token", 0, NULL, "api.token", WW_OPT_STR, NULL, NULL, WW_NO_BOUNDS, "SECRET",
     "require 'Authorization: Bearer SECRET' on POST requests (default: no token)", WW_ROLE_API},
    {"max-body", 0, NULL, "api.max_body", WW_OPT_INT, "65536", NULL, 64, 16777216, "BYTES",
     "largest request body accepted; larger ones get 413", WW_ROLE_API},
    WW_OPT_END,
};
