/*
 * factory.c: the factory part of the YAML config (sensors with their ranges,
 * lines with their components) and lookups into it. Every value is checked
 * here, so the rest of windwatch can trust ids (no quotes, backslashes or
 * control characters) and ranges (min < warning <= max inside the physical
 * limits).
 */
#include "factory.h"

#include "bytes.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/err.h"

static int valid_id(const char *s) {
  if (!*s)
    return 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f)
      return 0;
  return 1;
}

int ww__factory_copy_text(char *dst, size_t size, const ww__ynode_t *node, const char *what,
                          const char *file, char *errstr, size_t errstr_size) {
  if (!node || node->type != WW_Y_SCALAR) {
    ww_errf(errstr, errstr_size, "config: %s must be a text value in %s line %d", what, file,
            node ? node->line : 0);
    return -1;
  }
  if (strlen(node->scalar) >= size || !valid_id(node->scalar)) {
    ww_errf(errstr, errstr_size,
            "config: %s must be 1..%zu characters without quotes, backslashes or control "
            "characters (got '%s') in %s line %d",
            what, size - 1, node->scalar, file, node->line);
    return -1;
  }
  memcpy(dst, node->scalar, strlen(node->scalar) + 1);
  return 0;
}

static int node_double(const ww__ynode_t *node, double *out) {
  char *end;
  if (!node || node->type != WW_Y_SCALAR)
    return -1;
  errno = 0;
  *out = strtod(node->scalar, &end);
  return (end == node->scalar || *end || errno || !isfinite(*out)) ? -1 : 0;
}

int ww__factory_parse_sensors(ww_factory_t *fac, const ww__ynode_t *map, const char *file,
                              char *errstr, size_t errstr_size) {
  static const char *const keys[] = {"unit",    "min",          "max",
                                     "warning", "physical_min", "physical_max"};
  if (map->type != WW_Y_MAP || map->n == 0) {
    ww_errf(errstr, errstr_size,
            "config: sensors must be a map of sensor name to its range in %s "
            "line %d",
            file, map->line);
    return -1;
  }
  if (map->n > WW_MAX_SENSORS) {
    ww_errf(errstr, errstr_size, "config: at most %d sensors are supported (got %zu) in %s line %d",
            WW_MAX_SENSORS, map->n, file, map->line);
    return -1;
  }
  fac->n_sensors = 0;
  for (size_t i = 0; i < map->n; i++) {
    ww_sensor_def_t *sd = &fac->sensors[fac->n_sensors];
    const ww__ynode_t *s = map->items[i];
    double *dst[] = {NULL, &sd->min, &sd->max, &sd->warning, &sd->physical_min, &sd->physical_max};
    int have[6] = {0};
    memset(sd, 0, sizeof(*sd));
    if (strlen(map->keys[i]) >= sizeof(sd->name) || !valid_id(map->keys[i])) {
      ww_errf(errstr, errstr_size, "config: sensor name '%s' is not valid in %s line %d",
              map->keys[i], file, map->key_lines[i]);
      return -1;
    }
    strcpy(sd->name, map->keys[i]);
    if (s->type != WW_Y_MAP) {
      ww_errf(errstr, errstr_size,
              "config: sensors.%s must be a map with min, max and warning in "
              "%s line %d",
              sd->name, file, s->line);
      return -1;
    }
    for (size_t k = 0; k < s->n; k++) {
      size_t j;
      for (j = 0; j < 6; j++)
        if (strcmp(s->keys[k], keys[j]) == 0)
          break;
      if (j == 6) {
        ww_errf(errstr, errstr_size,
                "config: unknown key 'sensors.%s.%s' in %s line %d (known: "
                "unit, min, max, warning, physical_min, physical_max)",
                sd->name, s->keys[k], file, s->key_lines[k]);
        return -1;
      }
      have[j] = 1;
      if (j == 0) {
        if (s->items[k]->type != WW_Y_SCALAR || strlen(s->items[k]->scalar) >= sizeof(sd->unit)) {
          ww_errf(errstr, errstr_size, "config: sensors.%s.unit must be a short text in %s line %d",
                  sd->name, file, s->key_lines[k]);
          return -1;
        }
        strcpy(sd->unit, s->items[k]->scalar);
      } else if (node_double(s->items[k], dst[j]) != 0) {
        ww_errf(errstr, errstr_size,
                "config: sensors.%s.%s must be a number (got '%s') in %s line %d", sd->name,
                keys[j], s->items[k]->type == WW_Y_SCALAR ? s->items[k]->scalar : "a list", file,
                s->key_lines[k]);
        return -1;
      }
    }
    if (!have[1] || !have[2]) {
      ww_errf(errstr, errstr_size, "config: sensors.%s needs min and max in %s line %d", sd->name,
              file, s->line);
      return -1;
    }
    if (!(sd->min < sd->max)) {
      ww_errf(errstr, errstr_size,
              "config: sensors.%s.min must be below max (got min %g, max %g) "
              "in %s line %d",
              sd->name, sd->min, sd->max, file, s->line);
      return -1;
    }
    if (!have[3])
      sd->warning = sd->max;
    if (sd->warning < sd->min || sd->warning > sd->max) {
      ww_errf(errstr, errstr_size,
              "config: sensors.%s.warning must be between min and max (got "
              "%g, range %g..%g) in %s line %d",
              sd->name, sd->warning, sd->min, sd->max, file, s->line);
      return -1;
    }
    /* Without physical limits, allow faults far outside the normal range. */
    if (!have[4])
      sd->physical_min = sd->min - 10 * (sd->max - sd->min);
    if (!have[5])
      sd->physical_max = sd->max + 10 * (sd->max - sd->min);
    if (sd->physical_min > sd->min || sd->physical_max < sd->max) {
      ww_errf(errstr, errstr_size,
              "config: sensors.%s physical limits %g..%g must contain the "
              "normal range %g..%g in %s line %d",
              sd->name, sd->physical_min, sd->physical_max, sd->min, sd->max, file, s->line);
      return -1;
    }
    fac->n_sensors++;
  }
  return 0;
}

int ww__factory_parse_lines(ww_factory_t *fac, const ww__ynode_t *seq, const char *file,
                            char *errstr, size_t errstr_size) {
  if (seq->type != WW_Y_SEQ || seq->n == 0) {
    ww_errf(errstr, errstr_size, "config: lines must be a non-empty list in %s line %d", file,
            seq->line);
    return -1;
  }
  if (seq->n > WW_MAX_LINES) {
    ww_errf(errstr, errstr_size, "config: at most %d lines are supported (got %zu) in %s line %d",
            WW_MAX_LINES, seq->n, file, seq->line);
    return -1;
  }
  fac->n_lines = 0;
  for (size_t i = 0; i < seq->n; i++) {
    const ww__ynode_t *l = seq->items[i];
    ww_line_def_t *ld = &fac->lines[fac->n_lines];
    const ww__ynode_t *comps, *sens;
    char what[96];
    memset(ld, 0, sizeof(*ld));
    if (l->type != WW_Y_MAP) {
      ww_errf(errstr, errstr_size,
              "config: each line must be a map with id, name, components and "
              "sensors in %s line %d",
              file, l->line);
      return -1;
    }
    for (size_t k = 0; k < l->n; k++)
      if (strcmp(l->keys[k], "id") && strcmp(l->keys[k], "name") &&
          strcmp(l->keys[k], "components") && strcmp(l->keys[k], "sensors")) {
        ww_errf(errstr, errstr_size,
                "config: unknown key 'lines[%zu].%s' in %s line %d (known: "
                "id, name, components, sensors)",
                i, l->keys[k], file, l->key_lines[k]);
        return -1;
      }
    snprintf(what, sizeof(what), "lines[%zu].id", i);
    if (ww__factory_copy_text(ld->id, sizeof(ld->id), ww__ynode_get(l, "id"), what, file, errstr,
                              errstr_size) != 0)
      return -1;
    if (ww_factory_line_find(fac, ld->id, strlen(ld->id)) >= 0) {
      ww_errf(errstr, errstr_size, "config: line id '%s' is used twice in %s line %d", ld->id, file,
              l->line);
      return -1;
    }
    if (ww__ynode_get(l, "name")) {
      snprintf(what, sizeof(what), "lines[%zu].name", i);
      if (ww__factory_copy_text(ld->name, sizeof(ld->name), ww__ynode_get(l, "name"), what, file,
                                errstr, errstr_size) != 0)
        return -1;
    } else {
      strcpy(ld->name, ld->id);
    }
    comps = ww__ynode_get(l, "components");
    if (!comps || comps->type != WW_Y_SEQ || comps->n == 0 || comps->n > WW_MAX_COMPONENTS) {
      ww_errf(errstr, errstr_size,
              "config: line '%s' needs components: a list of 1..%d names in %s "
              "line %d",
              ld->id, WW_MAX_COMPONENTS, file, comps ? comps->line : l->line);
      return -1;
    }
    for (size_t c = 0; c < comps->n; c++) {
      snprintf(what, sizeof(what), "line '%s' component %zu", ld->id, c + 1);
      if (ww__factory_copy_text(ld->components[c], WW_ID_MAX, comps->items[c], what, file, errstr,
                                errstr_size) != 0)
        return -1;
      ld->n_components++;
    }
    sens = ww__ynode_get(l, "sensors");
    if (!sens) { /* default: every sensor of the factory */
      for (int s = 0; s < fac->n_sensors; s++)
        ld->sensor_idx[ld->n_sensors++] = s;
    } else {
      if (sens->type != WW_Y_SEQ || sens->n == 0) {
        ww_errf(errstr, errstr_size,
                "config: line '%s' sensors must be a non-empty list in %s "
                "line %d",
                ld->id, file, sens->line);
        return -1;
      }
      for (size_t s = 0; s < sens->n; s++) {
        int idx = sens->items[s]->type == WW_Y_SCALAR
                      ? ww_factory_sensor_find(fac, sens->items[s]->scalar,
                                               strlen(sens->items[s]->scalar))
                      : -1;
        if (idx < 0) {
          ww_errf(errstr, errstr_size,
                  "config: line '%s' names sensor '%s', which is not defined "
                  "under sensors: in %s line %d",
                  ld->id, sens->items[s]->type == WW_Y_SCALAR ? sens->items[s]->scalar : "?", file,
                  sens->items[s]->line);
          return -1;
        }
        ld->sensor_idx[ld->n_sensors++] = idx;
      }
    }
    fac->n_lines++;
  }
  return 0;
}

/* Is NUL-terminated \p name the \p len bytes at \p s? (Every reading looks
 * up its line, component and sensors: the first byte settles most misses.) */
/* Whether the NUL-terminated \p name (a char[WW_ID_MAX]) is the \p len bytes at \p s. */
static int name_is(const char *name, const char *s, size_t len) {
  return len < WW_ID_MAX && name[len] == '\0' && ww__bytes_eq(name, s, len);
}

int ww_factory_line_find(const ww_factory_t *fac, const char *id, size_t len) {
  for (int i = 0; i < fac->n_lines; i++)
    if (name_is(fac->lines[i].id, id, len))
      return i;
  return -1;
}

int ww_factory_sensor_find(const ww_factory_t *fac, const char *name, size_t len) {
  for (int i = 0; i < fac->n_sensors; i++)
    if (name_is(fac->sensors[i].name, name, len))
      return i;
  return -1;
}

int ww_factory_component_find(const ww_factory_t *fac, int line_idx, const char *id, size_t len) {
  const ww_line_def_t *ld;
  if (line_idx < 0 || line_idx >= fac->n_lines)
    return -1;
  ld = &fac->lines[line_idx];
  for (int i = 0; i < ld->n_components; i++)
    if (name_is(ld->components[i], id, len))
      return i;
  return -1;
}
