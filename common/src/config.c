/*
 * config.c: defaults < YAML < WINDWATCH_* environment < flags, one table per
 * binary (options*.c), and the factory description.
 *
 * Every value is kept as text with where it came from ("--window-size",
 * "WINDWATCH_WINDOW_SIZE", "windwatch.yaml line 12", "built-in default"), and
 * validated once all sources are applied, so an error always names its
 * source, the value and the fix.
 */
#include "windwatch/config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/err.h"
#include <strings.h>

#include <librdkafka/rdkafka.h>

#include "factory.h"
#include "options.h"
#include "windwatch/log.h"
#include "yaml_tree.h"

extern const char ww__default_yaml[];
extern const size_t ww__default_yaml_len;

#define WW_WHERE_MAX 160 /* bytes for a value's source description */

typedef enum src_e { SRC_DEFAULT = 0, SRC_BUILTIN, SRC_YAML, SRC_ENV, SRC_FLAG } src_t;

typedef struct val_s {
  char *text;               /* value as text (owned), NULL = unset */
  src_t src;                /* where it came from */
  char where[WW_WHERE_MAX]; /* human description of the source */
  int64_t i;                /* INT, BOOL, DURATION (ms), COUNT */
  double d;                 /* DOUBLE */
} val_t;

struct ww_config_s {
  ww_role_t role;
  const ww_opt_t *opts; /* merged table, borrowed (static) */
  size_t n_opts;
  val_t *vals; /* one per option */
  ww_factory_t fac;
  size_t n_props; /* kafka properties, YAML then -X, in order */
  char **prop_keys;
  char **prop_vals;
  char config_path[512]; /* file given with --config, or "" */
};

/* ---- small helpers ------------------------------------------------------- */

static long find_opt(const ww_config_t *cfg, const char *name) {
  for (size_t i = 0; i < cfg->n_opts; i++)
    if (strcmp(cfg->opts[i].name, name) == 0)
      return (long)i;
  return -1;
}

static int set_val(val_t *v, const char *text, src_t src, const char *where) {
  char *dup = text ? strdup(text) : NULL;
  if (text && !dup)
    return -1;
  free(v->text);
  v->text = dup;
  v->src = src;
  snprintf(v->where, sizeof(v->where), "%s", where);
  return 0;
}

static int add_prop(ww_config_t *cfg, const char *key, const char *val) {
  char **k = realloc(cfg->prop_keys, (cfg->n_props + 1) * sizeof(*k));
  char **v;
  if (!k)
    return -1;
  cfg->prop_keys = k;
  v = realloc(cfg->prop_vals, (cfg->n_props + 1) * sizeof(*v));
  if (!v)
    return -1;
  cfg->prop_vals = v;
  k[cfg->n_props] = strdup(key);
  v[cfg->n_props] = strdup(val);
  if (!k[cfg->n_props] || !v[cfg->n_props]) {
    free(k[cfg->n_props]);
    free(v[cfg->n_props]);
    return -1;
  }
  cfg->n_props++;
  return 0;
}

static void env_name(const char *name, char *buf, size_t size) {
  size_t o = (size_t)snprintf(buf, size, "WINDWATCH_");
  for (const char *p = name; *p && o + 1 < size; p++)
    buf[o++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
  buf[o] = '\0';
}

/* ---- value parsing ------------------------------------------------------- */

static int parse_duration_ms(const char *s, int64_t *out) {
  char *end;
  double v;
  errno = 0;
  v = strtod(s, &end);
  if (end == s || errno || !isfinite(v) || v < 0)
    return -1;
  if (*end == '\0' || strcmp(end, "s") == 0)
    v *= 1000;
  else if (strcmp(end, "ms") == 0)
    ;
  else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
    v *= 60000;
  else if (strcmp(end, "h") == 0)
    v *= 3600000;
  else if (strcmp(end, "d") == 0)
    v *= 86400000;
  else
    return -1;
  if (v > 9.0e15)
    return -1;
  *out = (int64_t)llround(v);
  return 0;
}

static int parse_bool(const char *s, int64_t *out) {
  static const char *const yes[] = {"true", "yes", "on", "1"};
  static const char *const no[] = {"false", "no", "off", "0"};
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(s, yes[i]) == 0) {
      *out = 1;
      return 0;
    }
    if (strcasecmp(s, no[i]) == 0) {
      *out = 0;
      return 0;
    }
  }
  return -1;
}

static int in_choices(const char *choices, const char *s) {
  size_t n = strlen(s);
  const char *p = choices;
  while (p && *p) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, s, n) == 0)
      return 1;
    p = bar ? bar + 1 : NULL;
  }
  return 0;
}

/* Describe a bound for messages: "between 1 and 1e9", ">= 0". */
static void bounds_text(const ww_opt_t *o, char *buf, size_t size) {
  if (o->min > o->max)
    snprintf(buf, size, "valid");
  else if (o->type == WW_OPT_DURATION)
    snprintf(buf, size, "between %gms and %gms", o->min, o->max);
  else
    snprintf(buf, size, "between %g and %g", o->min, o->max);
}

/* Parse and check one value. */
static int check_val(const ww_opt_t *o, val_t *v, char *errstr, size_t errstr_size) {
  char *end;
  char bt[96];
  const char *s = v->text;
  if (!s)
    return 0;
  switch (o->type) {
  case WW_OPT_STR: return 0;
  case WW_OPT_INT: {
    long long x;
    errno = 0;
    x = strtoll(s, &end, 10);
    if (end == s || *end || errno) {
      ww_errf(errstr, errstr_size, "%s must be a whole number (got '%s')", v->where, s);
      return -1;
    }
    if (o->min <= o->max && ((double)x < o->min || (double)x > o->max)) {
      bounds_text(o, bt, sizeof(bt));
      ww_errf(errstr, errstr_size, "%s must be %s (got %s)", v->where, bt, s);
      return -1;
    }
    v->i = x;
    return 0;
  }
  case WW_OPT_DOUBLE: {
    double x;
    errno = 0;
    x = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(x)) {
      ww_errf(errstr, errstr_size, "%s must be a number (got '%s')", v->where, s);
      return -1;
    }
    if (o->min <= o->max && (x < o->min || x > o->max)) {
      bounds_text(o, bt, sizeof(bt));
      ww_errf(errstr, errstr_size, "%s must be %s (got %s)", v->where, bt, s);
      return -1;
    }
    v->d = x;
    return 0;
  }
  case WW_OPT_BOOL:
    if (parse_bool(s, &v->i) != 0) {
      ww_errf(errstr, errstr_size, "%s must be true or false (got '%s')", v->where, s);
      return -1;
    }
    return 0;
  case WW_OPT_ENUM:
    if (!in_choices(o->choices, s)) {
      ww_errf(errstr, errstr_size, "%s must be one of %s (got '%s')", v->where, o->choices, s);
      return -1;
    }
    return 0;
  case WW_OPT_DURATION:
    if (parse_duration_ms(s, &v->i) != 0) {
      ww_errf(errstr, errstr_size,
              "%s must be a duration like 500ms, 30s, 5m, 24h or 30d (got '%s')", v->where, s);
      return -1;
    }
    if (o->min <= o->max && ((double)v->i < o->min || (double)v->i > o->max)) {
      bounds_text(o, bt, sizeof(bt));
      ww_errf(errstr, errstr_size, "%s must be %s (got %s)", v->where, bt, s);
      return -1;
    }
    return 0;
  case WW_OPT_COUNT:
  case WW_OPT_ACTION: return 0;
  }
  return 0;
}

/* ---- YAML application ---------------------------------------------------- */

/* Is \p path the yaml path of an option of any binary? */
static const ww_opt_t *opt_by_yaml(const char *path) {
  const ww_opt_t *tables[] = {ww__opts_common, ww__opts_producer, ww__opts_processor, ww__opts_sink,
                              ww__opts_api};
  for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
    for (const ww_opt_t *o = tables[t]; o->name; o++)
      if (o->yaml && strcmp(o->yaml, path) == 0)
        return o;
  return NULL;
}

/* Is \p prefix the start of some option's yaml path ("window" for "window.size")? */
static int yaml_section_known(const char *prefix) {
  const ww_opt_t *tables[] = {ww__opts_common, ww__opts_producer, ww__opts_processor, ww__opts_sink,
                              ww__opts_api};
  size_t n = strlen(prefix);
  for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
    for (const ww_opt_t *o = tables[t]; o->name; o++)
      if (o->yaml && strncmp(o->yaml, prefix, n) == 0 && o->yaml[n] == '.')
        return 1;
  return 0;
}

static int apply_yaml_map(ww_config_t *cfg, const ww__ynode_t *map, const char *prefix,
                          const char *file, src_t src, char *errstr, size_t errstr_size) {
  char path[256], where[WW_WHERE_MAX];
  for (size_t i = 0; i < map->n; i++) {
    const ww__ynode_t *v = map->items[i];
    const ww_opt_t *o;
    snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", map->keys[i]);
    if (!*prefix) {
      /* The factory and the kafka map are handled by the caller. */
      if (!strcmp(path, "company") || !strcmp(path, "facility") || !strcmp(path, "location") ||
          !strcmp(path, "sensors") || !strcmp(path, "lines"))
        continue;
    }
    if (!strcmp(path, "kafka.properties")) {
      if (v->type != WW_Y_MAP) {
        ww_errf(errstr, errstr_size,
                "config: kafka.properties must be a map of librdkafka "
                "property to value in %s line %d",
                file, v->line);
        return -1;
      }
      for (size_t k = 0; k < v->n; k++) {
        if (v->items[k]->type != WW_Y_SCALAR) {
          ww_errf(errstr, errstr_size,
                  "config: kafka.properties.%s must be a single value in %s "
                  "line %d",
                  v->keys[k], file, v->key_lines[k]);
          return -1;
        }
        if (add_prop(cfg, v->keys[k], v->items[k]->scalar) != 0)
          goto nomem;
      }
      continue;
    }
    o = opt_by_yaml(path);
    if (o) {
      long idx;
      if (v->type != WW_Y_SCALAR) {
        ww_errf(errstr, errstr_size, "config: %s must be a single value, not a %s, in %s line %d",
                path, v->type == WW_Y_MAP ? "map" : "list", file, map->key_lines[i]);
        return -1;
      }
      idx = find_opt(cfg, o->name);
      /* Only options of this role are applied; others are still checked for
       * shape here and by their own binary. Rows shared by name but with a
       * different yaml path (e.g. "group") are matched on the path too. */
      if (idx >= 0 && cfg->opts[idx].yaml && strcmp(cfg->opts[idx].yaml, path) == 0) {
        snprintf(where, sizeof(where), "config: %s in %s line %d", path, file, map->key_lines[i]);
        if (set_val(&cfg->vals[idx],
                    (!v->quoted &&
                     (!strcmp(v->scalar, "null") || !strcmp(v->scalar, "~") || !*v->scalar))
                        ? NULL
                        : v->scalar,
                    src, where) != 0)
          goto nomem;
      }
      continue;
    }
    if (v->type == WW_Y_MAP && yaml_section_known(path)) {
      if (apply_yaml_map(cfg, v, path, file, src, errstr, errstr_size) != 0)
        return -1;
      continue;
    }
    if (v->type == WW_Y_MAP && !strcmp(path, "kafka")) {
      if (apply_yaml_map(cfg, v, path, file, src, errstr, errstr_size) != 0)
        return -1;
      continue;
    }
    ww_errf(errstr, errstr_size,
            "config: unknown key '%s' in %s line %d (see docs/configuration.md "
            "or --dump-config for the known keys)",
            path, file, map->key_lines[i]);
    return -1;
  }
  return 0;
nomem:
  ww_errf(errstr, errstr_size, "out of memory");
  return -1;
}

static int apply_yaml(ww_config_t *cfg, const char *buf, size_t len, const char *file, src_t src,
                      char *errstr, size_t errstr_size) {
  char perr[256];
  const ww__ynode_t *n;
  int rc = -1;
  ww__ynode_t *root = ww__yaml_parse(buf, len, perr, sizeof(perr));
  if (!root) {
    ww_errf(errstr, errstr_size, "config: %s: %s", file, perr);
    return -1;
  }
  if ((n = ww__ynode_get(root, "company")) &&
      ww__factory_copy_text(cfg->fac.company, sizeof(cfg->fac.company), n, "company", file, errstr,
                            errstr_size) != 0)
    goto done;
  if ((n = ww__ynode_get(root, "facility")) &&
      ww__factory_copy_text(cfg->fac.facility, sizeof(cfg->fac.facility), n, "facility", file,
                            errstr, errstr_size) != 0)
    goto done;
  if ((n = ww__ynode_get(root, "location")) &&
      ww__factory_copy_text(cfg->fac.location, sizeof(cfg->fac.location), n, "location", file,
                            errstr, errstr_size) != 0)
    goto done;
  if ((n = ww__ynode_get(root, "sensors"))) {
    if (ww__factory_parse_sensors(&cfg->fac, n, file, errstr, errstr_size) != 0)
      goto done;
    /* New sensors invalidate the old lines' sensor indexes: lines must follow. */
    if (!ww__ynode_get(root, "lines") && cfg->fac.n_lines > 0) {
      ww_errf(errstr, errstr_size, "config: %s redefines sensors: so it must list lines: too",
              file);
      goto done;
    }
  }
  if ((n = ww__ynode_get(root, "lines")) &&
      ww__factory_parse_lines(&cfg->fac, n, file, errstr, errstr_size) != 0)
    goto done;
  if (apply_yaml_map(cfg, root, "", file, src, errstr, errstr_size) != 0)
    goto done;
  rc = 0;
done:
  ww__ynode_free(root);
  return rc;
}

static char *read_file(const char *path, size_t *len, char *errstr, size_t errstr_size) {
  FILE *fp = fopen(path, "rb");
  char *buf = NULL;
  long n;
  if (!fp) {
    ww_errf(errstr, errstr_size, "config: cannot open '%s': %s (check the --config path)", path,
            strerror(errno));
    return NULL;
  }
  if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
    ww_errf(errstr, errstr_size, "config: cannot read '%s': %s", path, strerror(errno));
    goto done;
  }
  if (n > 4 * 1024 * 1024) {
    ww_errf(errstr, errstr_size, "config: '%s' is %ld bytes; a config file is at most 4 MiB", path,
            n);
    goto done;
  }
  buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
    ww_errf(errstr, errstr_size, "config: cannot read '%s': %s", path,
            buf ? strerror(errno) : "out of memory");
    free(buf);
    buf = NULL;
    goto done;
  }
  buf[n] = '\0';
  *len = (size_t)n;
done:
  fclose(fp);
  return buf;
}

/* ---- flags --------------------------------------------------------------- */

/* Find --config in argv before anything else, since the file comes first. */
static const char *argv_config(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--"))
      break;
    if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc)
      return argv[i + 1];
    if (!strncmp(argv[i], "--config=", 9))
      return argv[i] + 9;
    if (!strncmp(argv[i], "-c", 2) && argv[i][2])
      return argv[i] + 2;
  }
  return NULL;
}

enum { ACT_NONE = 0, ACT_HELP = 1, ACT_VERSION = 2, ACT_DUMP = 4 };

static int apply_flags(ww_config_t *cfg, const char *prog, int argc, char **argv, int *actions,
                       char *errstr, size_t errstr_size) {
  struct option *lopts = calloc(cfg->n_opts * 2 + 1, sizeof(*lopts));
  char shorts[256];
  size_t ns = 0, nl = 0;
  int rc = -1, c, li;
  char where[WW_WHERE_MAX];

  if (argc < 2 || !argv) { /* no flags at all (tests pass argc 0) */
    free(lopts);
    return 0;
  }
  if (!lopts) {
    ww_errf(errstr, errstr_size, "out of memory");
    return -1;
  }
  shorts[ns++] = ':'; /* report a missing argument as ':' */
  for (size_t i = 0; i < cfg->n_opts; i++) {
    const ww_opt_t *o = &cfg->opts[i];
    int has_arg = (o->type == WW_OPT_COUNT || o->type == WW_OPT_ACTION) ? no_argument
                  : o->type == WW_OPT_BOOL                              ? optional_argument
                                                                        : required_argument;
    lopts[nl++] = (struct option){o->name, has_arg, NULL, 256 + (int)i};
    if (o->alias)
      lopts[nl++] = (struct option){o->alias, has_arg, NULL, 256 + (int)i};
    if (o->short_flag && ns + 3 < sizeof(shorts)) {
      shorts[ns++] = (char)o->short_flag;
      if (has_arg == required_argument)
        shorts[ns++] = ':';
    }
  }
  shorts[ns] = '\0';
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, shorts, lopts, &li)) != -1) {
    long idx = -1;
    const ww_opt_t *o;
    if (c == '?' || c == ':') {
      const char *bad = argv[optind - 1];
      if (c == ':')
        ww_errf(errstr, errstr_size, "option %s needs a value (see %s --help)", bad, prog);
      else if (optopt && optopt < 256)
        ww_errf(errstr, errstr_size, "unknown option -%c (see %s --help)", optopt, prog);
      else
        ww_errf(errstr, errstr_size, "unknown option '%s' (see %s --help)", bad, prog);
      goto done;
    }
    if (c >= 256)
      idx = c - 256;
    else
      for (size_t i = 0; i < cfg->n_opts; i++)
        if (cfg->opts[i].short_flag == c)
          idx = (long)i;
    if (idx < 0)
      continue;
    o = &cfg->opts[idx];
    if (o->type == WW_OPT_ACTION) {
      *actions |= !strcmp(o->name, "help")      ? ACT_HELP
                  : !strcmp(o->name, "version") ? ACT_VERSION
                                                : ACT_DUMP;
      continue;
    }
    if (o->type == WW_OPT_COUNT) {
      cfg->vals[idx].i++;
      cfg->vals[idx].src = SRC_FLAG;
      continue;
    }
    if (o->short_flag == 'X') {
      const char *eq = optarg ? strchr(optarg, '=') : NULL;
      char key[256];
      if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof(key)) {
        ww_errf(errstr, errstr_size, "-X needs key=value, e.g. -X linger.ms=5 (got '%s')",
                optarg ? optarg : "");
        goto done;
      }
      memcpy(key, optarg, (size_t)(eq - optarg));
      key[eq - optarg] = '\0';
      if (add_prop(cfg, key, eq + 1) != 0) {
        ww_errf(errstr, errstr_size, "out of memory");
        goto done;
      }
      continue;
    }
    snprintf(where, sizeof(where), "--%s", o->name);
    if (set_val(&cfg->vals[idx], optarg ? optarg : (o->type == WW_OPT_BOOL ? "true" : ""), SRC_FLAG,
                where) != 0) {
      ww_errf(errstr, errstr_size, "out of memory");
      goto done;
    }
  }
  if (optind < argc) {
    ww_errf(errstr, errstr_size, "unexpected argument '%s' (options start with --; see %s --help)",
            argv[optind], prog);
    goto done;
  }
  rc = 0;
done:
  free(lopts);
  return rc;
}

/* ---- load ---------------------------------------------------------------- */

static ww_config_t *config_new(ww_role_t role) {
  ww_config_t *cfg = calloc(1, sizeof(*cfg));
  if (!cfg)
    return NULL;
  cfg->role = role;
  cfg->opts = ww_config_options(role);
  if (!cfg->opts) {
    free(cfg);
    return NULL;
  }
  while (cfg->opts[cfg->n_opts].name)
    cfg->n_opts++;
  cfg->vals = calloc(cfg->n_opts, sizeof(*cfg->vals));
  if (!cfg->vals) {
    free(cfg);
    return NULL;
  }
  for (size_t i = 0; i < cfg->n_opts; i++)
    if (set_val(&cfg->vals[i], cfg->opts[i].def, SRC_DEFAULT, "default") != 0) {
      ww_config_destroy(cfg);
      return NULL;
    }
  return cfg;
}

/* Everything after the defaults: YAML (built-in, then file), env, flags, checks. */
static int config_build(ww_config_t *cfg, const char *prog, const char *yaml, size_t yaml_len,
                        const char *file, int use_env, int argc, char **argv, int *actions,
                        char *errstr, size_t errstr_size) {
  char name[128], where[WW_WHERE_MAX];

  for (size_t i = 0; i < cfg->n_opts; i++) {
    /* Re-label defaults for messages. */
    snprintf(cfg->vals[i].where, sizeof(cfg->vals[i].where), "default of --%s", cfg->opts[i].name);
  }
  if (apply_yaml(cfg, ww__default_yaml, ww__default_yaml_len, "built-in windwatch.yaml",
                 SRC_BUILTIN, errstr, errstr_size) != 0)
    return -1;
  if (yaml && apply_yaml(cfg, yaml, yaml_len, file, SRC_YAML, errstr, errstr_size) != 0)
    return -1;
  if (use_env)
    for (size_t i = 0; i < cfg->n_opts; i++) {
      const char *ev;
      if (cfg->opts[i].type == WW_OPT_ACTION || cfg->opts[i].short_flag == 'X' ||
          !strcmp(cfg->opts[i].name, "config"))
        continue;
      env_name(cfg->opts[i].name, name, sizeof(name));
      if ((ev = getenv(name)) != NULL) {
        snprintf(where, sizeof(where), "%s", name);
        if (cfg->opts[i].type == WW_OPT_COUNT) {
          char *end;
          long n = strtol(ev, &end, 10);
          if (*end || n < 0) {
            ww_errf(errstr, errstr_size, "%s must be a count like 1 or 2 (got '%s')", name, ev);
            return -1;
          }
          cfg->vals[i].i = n;
          continue;
        }
        if (set_val(&cfg->vals[i], ev, SRC_ENV, where) != 0) {
          ww_errf(errstr, errstr_size, "out of memory");
          return -1;
        }
      }
    }
  if (apply_flags(cfg, prog, argc, argv, actions, errstr, errstr_size) != 0)
    return -1;
  if (*actions & (ACT_HELP | ACT_VERSION))
    return 0;
  for (size_t i = 0; i < cfg->n_opts; i++)
    if (check_val(&cfg->opts[i], &cfg->vals[i], errstr, errstr_size) != 0)
      return -1;
  if (cfg->fac.n_lines == 0 || cfg->fac.n_sensors == 0) {
    ww_errf(errstr, errstr_size, "config: no production lines or sensors are configured");
    return -1;
  }
  return 0;
}

static void setup_logging(const ww_config_t *cfg, const char *prog) {
  ww_log_level_t lvl = WW_LOG_INFO;
  long idx = find_opt(cfg, "log-level");
  int l;
  if (idx >= 0 && cfg->vals[idx].text)
    ww_log_level_parse(cfg->vals[idx].text, &lvl);
  l = (int)lvl + (int)cfg->vals[find_opt(cfg, "verbose")].i -
      (int)cfg->vals[find_opt(cfg, "quiet")].i;
  if (l < WW_LOG_ERROR)
    l = WW_LOG_ERROR;
  if (l > WW_LOG_DEBUG)
    l = WW_LOG_DEBUG;
  idx = find_opt(cfg, "log-format");
  ww_log_init(prog, (ww_log_level_t)l,
              idx >= 0 && cfg->vals[idx].text && !strcmp(cfg->vals[idx].text, "json")
                  ? WW_LOG_FORMAT_JSON
                  : WW_LOG_FORMAT_TEXT);
}

ww_config_t *ww_config_load(ww_role_t role, const char *prog, int argc, char **argv,
                            int *exit_code) {
  char errstr[512] = "";
  const char *path = argv_config(argc, argv);
  char *yaml = NULL;
  size_t yaml_len = 0;
  int actions = 0;
  ww_config_t *cfg = config_new(role);

  *exit_code = 2;
  if (!cfg) {
    fprintf(stderr, "%s: out of memory\n", prog);
    return NULL;
  }
  if (!path)
    path = getenv("WINDWATCH_CONFIG");
  if (path && *path) {
    snprintf(cfg->config_path, sizeof(cfg->config_path), "%s", path);
    if (!(yaml = read_file(path, &yaml_len, errstr, sizeof(errstr))))
      goto err;
  }
  if (config_build(cfg, prog, yaml, yaml_len, path, 1, argc, argv, &actions, errstr,
                   sizeof(errstr)) != 0)
    goto err;
  free(yaml);
  yaml = NULL;
  if (actions & ACT_HELP) {
    ww_config_print_help(role, prog, stdout);
    *exit_code = 0;
    goto out;
  }
  if (actions & ACT_VERSION) {
    printf("%s %s (librdkafka %s)\n", prog, WW_VERSION, rd_kafka_version_str());
    *exit_code = 0;
    goto out;
  }
  if (actions & ACT_DUMP) {
    ww_config_dump(cfg, stdout);
    *exit_code = 0;
    goto out;
  }
  setup_logging(cfg, prog);
  *exit_code = 0;
  return cfg;
err:
  fprintf(stderr, "%s: %s\n", prog, errstr);
out:
  free(yaml);
  ww_config_destroy(cfg);
  return NULL;
}

ww_config_t *ww_config_load_yaml(ww_role_t role, const char *yaml, size_t len, const char *filename,
                                 int argc, char **argv, char *errstr, size_t errstr_size) {
  int actions = 0;
  ww_config_t *cfg = config_new(role);
  if (!cfg) {
    ww_errf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  if (config_build(cfg, "windwatch", yaml, len, filename ? filename : "test.yaml", 0, argc, argv,
                   &actions, errstr, errstr_size) != 0) {
    ww_config_destroy(cfg);
    return NULL;
  }
  return cfg;
}

void ww_config_destroy(ww_config_t *cfg) {
  if (!cfg)
    return;
  for (size_t i = 0; i < cfg->n_opts; i++)
    free(cfg->vals[i].text);
  for (size_t i = 0; i < cfg->n_props; i++) {
    free(cfg->prop_keys[i]);
    free(cfg->prop_vals[i]);
  }
  free(cfg->prop_keys);
  free(cfg->prop_vals);
  free(cfg->vals);
  free(cfg);
}

/* ---- getters ------------------------------------------------------------- */

static const val_t *get(const ww_config_t *cfg, const char *name, ww_opt_type_t t1,
                        ww_opt_type_t t2) {
  long idx = find_opt(cfg, name);
  if (idx < 0 || (cfg->opts[idx].type != t1 && cfg->opts[idx].type != t2)) {
    fprintf(stderr, "BUG: option --%s is not a %s option of windwatch-%s\n", name,
            idx < 0 ? "known" : "matching-type", ww_role_name(cfg->role));
    abort();
  }
  return &cfg->vals[idx];
}

const ww_factory_t *ww_config_factory(const ww_config_t *cfg) {
  return &cfg->fac;
}

const char *ww_config_str(const ww_config_t *cfg, const char *name) {
  long idx = find_opt(cfg, name);
  if (idx < 0) {
    fprintf(stderr, "BUG: option --%s is not an option of windwatch-%s\n", name,
            ww_role_name(cfg->role));
    abort();
  }
  return cfg->vals[idx].text;
}

int64_t ww_config_int(const ww_config_t *cfg, const char *name) {
  return get(cfg, name, WW_OPT_INT, WW_OPT_COUNT)->i;
}

double ww_config_double(const ww_config_t *cfg, const char *name) {
  long idx = find_opt(cfg, name);
  if (idx >= 0 && cfg->opts[idx].type == WW_OPT_INT)
    return (double)cfg->vals[idx].i;
  return get(cfg, name, WW_OPT_DOUBLE, WW_OPT_DOUBLE)->d;
}

int ww_config_bool(const ww_config_t *cfg, const char *name) {
  return (int)get(cfg, name, WW_OPT_BOOL, WW_OPT_BOOL)->i;
}

int64_t ww_config_duration_ms(const ww_config_t *cfg, const char *name) {
  return get(cfg, name, WW_OPT_DURATION, WW_OPT_DURATION)->i;
}

int ww_config_is_set(const ww_config_t *cfg, const char *name) {
  long idx = find_opt(cfg, name);
  return idx >= 0 && cfg->vals[idx].src >= SRC_YAML;
}

size_t ww_config_kafka_prop_count(const ww_config_t *cfg) {
  return cfg->n_props;
}

void ww_config_kafka_prop(const ww_config_t *cfg, size_t i, const char **key, const char **val) {
  *key = i < cfg->n_props ? cfg->prop_keys[i] : NULL;
  *val = i < cfg->n_props ? cfg->prop_vals[i] : NULL;
}

/* ---- help and dump ------------------------------------------------------- */

static const char *type_metavar(const ww_opt_t *o) {
  if (o->metavar)
    return o->metavar;
  switch (o->type) {
  case WW_OPT_INT: return "N";
  case WW_OPT_DOUBLE: return "X";
  case WW_OPT_DURATION: return "TIME";
  case WW_OPT_ENUM: return o->choices;
  default: return "VALUE";
  }
}

void ww_config_print_help(ww_role_t role, const char *prog, void *fpv) {
  FILE *fp = fpv;
  const ww_opt_t *opts = ww_config_options(role);
  char left[96], env[128];
  fprintf(fp,
          "Usage: %s [OPTIONS]\n\nwindwatch %s: see docs/configuration.md.\n"
          "Precedence: defaults < --config YAML < WINDWATCH_* environment < flags.\n\n"
          "Options:\n",
          prog, ww_role_name(role));
  for (const ww_opt_t *o = opts; o && o->name; o++) {
    int n;
    if (o->short_flag && !o->name[1]) /* -X: no long form worth showing */
      n = snprintf(left, sizeof(left), "  -%c", o->short_flag);
    else if (o->short_flag)
      n = snprintf(left, sizeof(left), "  -%c, --%s", o->short_flag, o->name);
    else
      n = snprintf(left, sizeof(left), "      --%s", o->name);
    if (o->type == WW_OPT_BOOL)
      snprintf(left + n, sizeof(left) - (size_t)n, "[=BOOL]");
    else if (o->type != WW_OPT_COUNT && o->type != WW_OPT_ACTION)
      snprintf(left + n, sizeof(left) - (size_t)n, " %s", type_metavar(o));
    fprintf(fp, "%-36s %s", left, o->help);
    if (o->def)
      fprintf(fp, " (default: %s)", o->def);
    fputc('\n', fp);
    if (o->alias)
      fprintf(fp, "%-36s alias: --%s\n", "", o->alias);
    if (o->type != WW_OPT_ACTION && o->short_flag != 'X' && strcmp(o->name, "config")) {
      env_name(o->name, env, sizeof(env));
      fprintf(fp, "%-36s env %s%s%s\n", "", env, o->yaml ? ", yaml " : "", o->yaml ? o->yaml : "");
    }
  }
  fprintf(fp, "\nExit codes: 0 success, 1 runtime failure (see the message), 2 usage or config "
              "error, 3 Kafka or database fatal error.\n");
}

static const char *src_name(src_t s) {
  switch (s) {
  case SRC_DEFAULT: return "default";
  case SRC_BUILTIN: return "built-in windwatch.yaml";
  case SRC_YAML: return "config file";
  case SRC_ENV: return "environment";
  case SRC_FLAG: return "flag";
  }
  return "?";
}

void ww_config_dump(const ww_config_t *cfg, void *fpv) {
  FILE *fp = fpv;
  const ww_factory_t *fac = &cfg->fac;
  fprintf(fp, "# windwatch-%s effective configuration%s%s\n", ww_role_name(cfg->role),
          cfg->config_path[0] ? " from " : "", cfg->config_path);
  fprintf(fp, "company: \"%s\"\nfacility: \"%s\"\nlocation: \"%s\"\nsensors:\n", fac->company,
          fac->facility, fac->location);
  for (int i = 0; i < fac->n_sensors; i++) {
    const ww_sensor_def_t *sd = &fac->sensors[i];
    fprintf(fp,
            "  %s: {unit: \"%s\", min: %g, max: %g, warning: %g, physical_min: %g, "
            "physical_max: %g}\n",
            sd->name, sd->unit, sd->min, sd->max, sd->warning, sd->physical_min, sd->physical_max);
  }
  fprintf(fp, "lines:\n");
  for (int i = 0; i < fac->n_lines; i++) {
    const ww_line_def_t *ld = &fac->lines[i];
    fprintf(fp, "  - id: \"%s\"\n    name: \"%s\"\n    components: [", ld->id, ld->name);
    for (int c = 0; c < ld->n_components; c++)
      fprintf(fp, "%s\"%s\"", c ? ", " : "", ld->components[c]);
    fprintf(fp, "]\n    sensors: [");
    for (int s = 0; s < ld->n_sensors; s++)
      fprintf(fp, "%s%s", s ? ", " : "", fac->sensors[ld->sensor_idx[s]].name);
    fprintf(fp, "]\n");
  }
  fprintf(fp, "kafka.properties:\n");
  for (size_t i = 0; i < cfg->n_props; i++)
    fprintf(fp, "  %s: \"%s\"\n", cfg->prop_keys[i], cfg->prop_vals[i]);
  fprintf(fp, "# options: --flag = value  # source [yaml path]\n");
  for (size_t i = 0; i < cfg->n_opts; i++) {
    const ww_opt_t *o = &cfg->opts[i];
    if (o->type == WW_OPT_ACTION || o->short_flag == 'X')
      continue;
    if (o->type == WW_OPT_COUNT)
      fprintf(fp, "--%s = %lld", o->name, (long long)cfg->vals[i].i);
    else
      fprintf(fp, "--%s = %s", o->name, cfg->vals[i].text ? cfg->vals[i].text : "(unset)");
    fprintf(fp, "  # %s%s%s%s\n", src_name(cfg->vals[i].src), o->yaml ? " [" : "",
            o->yaml ? o->yaml : "", o->yaml ? "]" : "");
  }
}
