/* options_sink.c: windwatch-sink's option table. */
#include "options.h"

const ww_opt_t ww__opts_sink[] = {
    {"group", 'g', NULL, "sink.group", WW_OPT_STR, "windwatch-sink", NULL, WW_NO_BOUNDS, "ID",
     "Kafka consumer group", WW_ROLE_SINK},
    {"instance-id", 0, NULL, "sink.instance_id", WW_OPT_STR, NULL, NULL, WW_NO_BOUNDS, "ID",
     "static group member id (group.instance.id): a restarted sink gets its partitions back at "
     "once instead of after the session timeout; unique per sink process (default: unset)",
     WW_ROLE_SINK},
    {"mode", 'm', NULL, "sink.mode", WW_OPT_ENUM, "real_time", "real_time|batch", WW_NO_BOUNDS,
     "MODE", "real_time follows forever; batch stops at the end of every partition", WW_ROLE_SINK},
    {"db", 0, NULL, "storage.db", WW_OPT_STR, "windwatch.db", NULL, WW_NO_BOUNDS, "PATH",
     "SQLite database file", WW_ROLE_SINK},
    {"batch-size", 0, NULL, "sink.batch_size", WW_OPT_INT, "5000", NULL, 1, 1e7, "ROWS",
     "commit a transaction after this many rows", WW_ROLE_SINK},
    {"batch-ms", 0, NULL, "sink.batch_ms", WW_OPT_DURATION, "200ms", NULL, 1, 6e5, "TIME",
     "commit a transaction at least this often", WW_ROLE_SINK},
    {"retention", 0, NULL, "storage.retention", WW_OPT_DURATION, "24h", NULL, 0, 3.2e12, "TIME",
     "delete raw readings older than this (0 = keep forever)", WW_ROLE_SINK},
    {"rollup-retention", 0, NULL, "storage.rollup_retention", WW_OPT_DURATION, "30d", NULL, 0,
     3.2e12, "TIME", "delete one-minute rollups older than this (0 = keep forever)", WW_ROLE_SINK},
    {"retention-batch", 0, NULL, "storage.retention_batch", WW_OPT_INT, "2000", NULL, 1, 1e6,
     "ROWS", "rows deleted per retention transaction (small keeps writers moving)", WW_ROLE_SINK},
    {"retention-interval", 0, NULL, "storage.retention_interval", WW_OPT_DURATION, "10s", NULL, 1,
     8.64e7, "TIME", "how often to look for expired rows", WW_ROLE_SINK},
    {"stats-interval", 0, NULL, "sink.stats_interval", WW_OPT_DURATION, "10s", NULL, 0, 1e12,
     "TIME", "one stats line on stderr this often (0 = never)", WW_ROLE_SINK},
    {"metrics-listen", 0, NULL, "sink.metrics_listen", WW_OPT_STR, NULL, NULL, WW_NO_BOUNDS,
     "HOST:PORT", "serve Prometheus metrics at http://HOST:PORT/metrics (default: off)",
     WW_ROLE_SINK},
    WW_OPT_END,
};
