/* options.c: the options every binary takes, and the per-role table lookup. */
#include "options.h"

#include <stdlib.h>

/* Shared rows. The yaml column is the dotted path in windwatch.yaml. */
const ww_opt_t ww__opts_common[] = {
    {"config", 'c', NULL, NULL, WW_OPT_STR, NULL, NULL, WW_NO_BOUNDS, "FILE",
     "YAML configuration file (default: built-in factory; env WINDWATCH_CONFIG)", WW_ROLE_ALL},
    {"brokers", 'b', "kafka-servers", "kafka.brokers", WW_OPT_STR, "127.0.0.1:9092", NULL,
     WW_NO_BOUNDS, "HOST:PORT,...", "Kafka bootstrap servers", WW_ROLE_ALL},
    {"X", 'X', NULL, NULL, WW_OPT_STR, NULL, NULL, WW_NO_BOUNDS, "KEY=VALUE",
     "librdkafka property, repeatable (also the kafka.properties map in YAML)", WW_ROLE_ALL},
    {"log-level", 0, NULL, "log.level", WW_OPT_ENUM, "info", "error|warn|notice|info|debug",
     WW_NO_BOUNDS, "LEVEL", "log threshold", WW_ROLE_ALL},
    {"log-format", 0, NULL, "log.format", WW_OPT_ENUM, "text", "text|json", WW_NO_BOUNDS, "FORMAT",
     "log line format on stderr", WW_ROLE_ALL},
    {"verbose", 'v', NULL, NULL, WW_OPT_COUNT, NULL, NULL, WW_NO_BOUNDS, NULL,
     "more log output (repeatable)", WW_ROLE_ALL},
    {"quiet", 'q', NULL, NULL, WW_OPT_COUNT, NULL, NULL, WW_NO_BOUNDS, NULL,
     "less log output (repeatable)", WW_ROLE_ALL},
    {"topic-sensor-data", 0, "topic", "topics.sensor_data", WW_OPT_STR, "sensor-data", NULL,
     WW_NO_BOUNDS, "TOPIC", "topic of raw readings", WW_ROLE_ALL},
    {"topic-sensor-scored", 0, NULL, "topics.sensor_scored", WW_OPT_STR, "sensor-scored", NULL,
     WW_NO_BOUNDS, "TOPIC", "topic of scored readings", WW_ROLE_ALL},
    {"topic-window-stats", 0, NULL, "topics.window_stats", WW_OPT_STR, "window-stats", NULL,
     WW_NO_BOUNDS, "TOPIC", "topic of window statistics", WW_ROLE_ALL},
    {"topic-alerts", 0, NULL, "topics.alerts", WW_OPT_STR, "alerts", NULL, WW_NO_BOUNDS, "TOPIC",
     "topic of alert events", WW_ROLE_ALL},
    {"topic-dlq", 0, NULL, "topics.dlq", WW_OPT_STR, "sensor-data-dlq", NULL, WW_NO_BOUNDS, "TOPIC",
     "dead-letter topic for bad input", WW_ROLE_ALL},
    {"topic-models", 0, NULL, "topics.models", WW_OPT_STR, "models", NULL, WW_NO_BOUNDS, "TOPIC",
     "compacted topic of serialized models", WW_ROLE_ALL},
    {"dump-config", 0, NULL, NULL, WW_OPT_ACTION, NULL, NULL, WW_NO_BOUNDS, NULL,
     "print the effective configuration and exit", WW_ROLE_ALL},
    {"help", 'h', NULL, NULL, WW_OPT_ACTION, NULL, NULL, WW_NO_BOUNDS, NULL,
     "print this help and exit", WW_ROLE_ALL},
    {"version", 'V', NULL, NULL, WW_OPT_ACTION, NULL, NULL, WW_NO_BOUNDS, NULL,
     "print the version and exit", WW_ROLE_ALL},
    {NULL, 0, NULL, NULL, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

/* Built once per role at start-up: common rows then the role's rows. */
#define WW_MAX_OPTS 160
static ww_opt_t merged[4][WW_MAX_OPTS];

static int role_slot(ww_role_t role) {
  switch (role) {
  case WW_ROLE_PRODUCER: return 0;
  case WW_ROLE_PROCESSOR: return 1;
  case WW_ROLE_SINK: return 2;
  case WW_ROLE_API: return 3;
  default: return -1;
  }
}

static const ww_opt_t *role_table(ww_role_t role) {
  switch (role) {
  case WW_ROLE_PRODUCER: return ww__opts_producer;
  case WW_ROLE_PROCESSOR: return ww__opts_processor;
  case WW_ROLE_SINK: return ww__opts_sink;
  case WW_ROLE_API: return ww__opts_api;
  default: return NULL;
  }
}

const ww_opt_t *ww_config_options(ww_role_t role) {
  int slot = role_slot(role);
  size_t n = 0;
  if (slot < 0)
    return NULL;
  if (merged[slot][0].name)
    return merged[slot];
  for (const ww_opt_t *o = ww__opts_common; o->name; o++)
    if (o->roles & role)
      merged[slot][n++] = *o;
  for (const ww_opt_t *o = role_table(role); o->name; o++)
    if (n < WW_MAX_OPTS - 1)
      merged[slot][n++] = *o;
    else
      abort(); /* raise WW_MAX_OPTS */
  return merged[slot];
}

const char *ww_role_name(ww_role_t role) {
  switch (role) {
  case WW_ROLE_PRODUCER: return "producer";
  case WW_ROLE_PROCESSOR: return "processor";
  case WW_ROLE_SINK: return "sink";
  case WW_ROLE_API: return "api";
  default: return "windwatch";
  }
}
