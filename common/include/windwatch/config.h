/**
 * @file config.h
 * @brief The factory description and every binary's settings.
 *
 * Precedence, lowest first: built-in defaults (the shipped config/windwatch.yaml,
 * compiled in) < the YAML file given with --config (or WINDWATCH_CONFIG) <
 * WINDWATCH_* environment variables < command-line flags.
 *
 * One option table per binary (common/src/options_<role>.c) drives flag
 * parsing, YAML keys, environment names, validation, --help and --dump-config.
 * Every YAML key must belong to some binary's table or to the factory schema;
 * unknown keys are errors that name the key, the file and the line.
 *
 * The factory structs below are plain data, filled once at start and then
 * read-only: they are shared by every thread without locking.
 */
#ifndef WW_CONFIG_H
#define WW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define WW_MAX_SENSORS    8   /* sensors per factory */
#define WW_MAX_LINES      64  /* production lines per factory */
#define WW_MAX_COMPONENTS 16  /* components per line */
#define WW_ID_MAX         64  /* bytes for an id incl. NUL */
#define WW_NAME_MAX       128 /* bytes for a display name incl. NUL */

/** One sensor kind, e.g. temperature. */
typedef struct ww_sensor_def_s {
  char name[WW_ID_MAX]; /* JSON field name: "temperature", "humidity", "sound_level" */
  char unit[16];        /* display unit, UTF-8: "°C", "%RH", "dB" */
  double min;           /* normal range low; below it is critical */
  double max;           /* normal range high; above it is critical */
  double warning;       /* above it (and <= max) is a warning */
  double physical_min;  /* below it the value is impossible: dead letter */
  double physical_max;  /* above it the value is impossible: dead letter */
} ww_sensor_def_t;

/** One production line. */
typedef struct ww_line_def_s {
  char id[WW_ID_MAX];                            /* "turbine-line-1", the Kafka key */
  char name[WW_NAME_MAX];                        /* "Blade Production Line" */
  int n_components;                              /* entries in components[] */
  char components[WW_MAX_COMPONENTS][WW_ID_MAX]; /* "Blade", "Curing Oven", ... */
  int n_sensors;                                 /* entries in sensor_idx[] */
  int sensor_idx[WW_MAX_SENSORS];                /* indexes into ww_factory_t.sensors */
} ww_line_def_t;

/** The whole factory, from the YAML config. */
typedef struct ww_factory_s {
  char company[WW_NAME_MAX];  /* "PTech" */
  char facility[WW_NAME_MAX]; /* "Wind Turbine Manufacturing Plant" */
  char location[WW_NAME_MAX]; /* "Austin, TX" */
  int n_sensors;              /* entries in sensors[] */
  ww_sensor_def_t sensors[WW_MAX_SENSORS];
  int n_lines; /* entries in lines[] */
  ww_line_def_t lines[WW_MAX_LINES];
} ww_factory_t;

/** @returns the index of line \p id (of length \p len), or -1. */
int ww_factory_line_find(const ww_factory_t *fac, const char *id, size_t len);
/** @returns the index of sensor \p name (of length \p len), or -1. */
int ww_factory_sensor_find(const ww_factory_t *fac, const char *name, size_t len);
/** @returns the index of component \p id within line \p line_idx, or -1. */
int ww_factory_component_find(const ww_factory_t *fac, int line_idx, const char *id, size_t len);

/** Which binary an option belongs to (bitmask). */
typedef enum ww_role_e {
  WW_ROLE_PRODUCER = 1 << 0,
  WW_ROLE_PROCESSOR = 1 << 1,
  WW_ROLE_SINK = 1 << 2,
  WW_ROLE_API = 1 << 3,
  WW_ROLE_ALL = 0xf,
} ww_role_t;

typedef enum ww_opt_type_e {
  WW_OPT_STR,      /* any string */
  WW_OPT_INT,      /* 64-bit integer, bounds min..max */
  WW_OPT_DOUBLE,   /* finite double, bounds min..max */
  WW_OPT_BOOL,     /* true/false/yes/no/on/off/1/0; a flag without value = true */
  WW_OPT_ENUM,     /* one of choices, "a|b|c" */
  WW_OPT_DURATION, /* "500ms", "60s", "5m", "24h", "30d"; bare number = seconds; stored in ms */
  WW_OPT_COUNT,    /* flag without value, counts occurrences (-v -v) */
  WW_OPT_ACTION,   /* --help, --version, --dump-config: handled by the loader */
} ww_opt_type_t;

/** One row of an option table. */
typedef struct ww_opt_s {
  const char *name;  /* long flag "window-size"; env WINDWATCH_WINDOW_SIZE */
  int short_flag;    /* 'n' or 0 */
  const char *alias; /* second long flag ("kafka-servers"), or NULL */
  const char *yaml;  /* dotted YAML path "window.size", or NULL (flag/env only) */
  ww_opt_type_t type;
  const char *def;     /* default as text, or NULL for "unset" */
  const char *choices; /* WW_OPT_ENUM: "time|count" */
  double min, max;     /* inclusive numeric bounds; ignored when min > max */
  const char *metavar; /* "N", "SECONDS", "HOST:PORT" for --help */
  const char *help;    /* one line */
  unsigned roles;      /* ww_role_t bits of the binaries that take it */
} ww_opt_t;

typedef struct ww_config_s ww_config_t;

/**
 * @brief Load the configuration of \p role from defaults, YAML, environment
 *        and \p argv, validate it, and handle --help, --version, --dump-config.
 *
 * Errors are printed to stderr, naming the key, the value and the fix.
 * @param exit_code set when NULL is returned: 0 after --help/--version/
 *        --dump-config, 2 for a usage or config error.
 * @returns a config the caller frees with ww_config_destroy(), or NULL.
 */
ww_config_t *ww_config_load(ww_role_t role, const char *prog, int argc, char **argv,
                            int *exit_code);

/** Like ww_config_load but from in-memory YAML and no env (for tests). */
ww_config_t *ww_config_load_yaml(ww_role_t role, const char *yaml, size_t len, const char *filename,
                                 int argc, char **argv, char *errstr, size_t errstr_size);

void ww_config_destroy(ww_config_t *cfg);

/** @returns the factory; borrowed, valid until ww_config_destroy(). */
const ww_factory_t *ww_config_factory(const ww_config_t *cfg);

/*
 * Typed getters. \p name is the option's long name. Asking for a name that
 * is not in the role's table, or with the wrong type, is a programming error
 * and aborts with a message.
 */
const char *ww_config_str(const ww_config_t *cfg, const char *name); /* borrowed; NULL if unset */
int64_t ww_config_int(const ww_config_t *cfg, const char *name);
double ww_config_double(const ww_config_t *cfg, const char *name);
int ww_config_bool(const ww_config_t *cfg, const char *name);
int64_t ww_config_duration_ms(const ww_config_t *cfg, const char *name);
/** @returns non-zero if the option was set by YAML, environment or flag. */
int ww_config_is_set(const ww_config_t *cfg, const char *name);

/** Kafka client properties from YAML `kafka.properties` then `-X`, in order. */
size_t ww_config_kafka_prop_count(const ww_config_t *cfg);
void ww_config_kafka_prop(const ww_config_t *cfg, size_t i, const char **key, const char **val);

/** @returns the option table for \p role, terminated by a row with name NULL. */
const ww_opt_t *ww_config_options(ww_role_t role);
/** Print --help for \p role to \p fp (a FILE*; void* keeps stdio out of this header). */
void ww_config_print_help(ww_role_t role, const char *prog, void *fp);
/** Print the effective configuration as YAML-ish "key: value  # source" lines. */
void ww_config_dump(const ww_config_t *cfg, void *fp);

/** @returns the role name "producer"/"processor"/"sink"/"api". */
const char *ww_role_name(ww_role_t role);

#endif /* WW_CONFIG_H */
