/* processor_carry.c: open alerts carried over from the alerts topic to lines
 * that start here with no state (start-up, a rebalance, a rewind), so an
 * episode keeps its alert_id and is resolved by whoever owns its line next. */
#include "processor_state.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "windwatch/log.h"
#include "windwatch/timeutil.h"

struct ww_proc_carry_s {
  ww_proc_t *proc;
  ww_alert_t *slot;        /* [n_lines * WW_SLOTS_PER_LINE]: the topic's alert state, replayed */
  char (*comp)[WW_ID_MAX]; /* the same: component_id of the open alert */
};

ww_proc_carry_t *ww_proc_carry_begin(ww_proc_t *proc) {
  ww_proc_carry_t *c = calloc(1, sizeof(*c));
  size_t n = (size_t)(proc->fac->n_lines > 0 ? proc->fac->n_lines : 1) * WW_SLOTS_PER_LINE;
  if (!c)
    return NULL;
  c->proc = proc;
  c->slot = calloc(n, sizeof(*c->slot));
  c->comp = calloc(n, sizeof(*c->comp));
  if (!c->slot || !c->comp) {
    ww_proc_carry_abort(c);
    return NULL;
  }
  return c;
}

static const char *str_of(json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static int ts_of(json_t *o, const char *k, int64_t *ms) {
  const char *s = str_of(o, k);
  return s && ww_ts_parse(s, strlen(s), ms) == 0 ? 0 : -1;
}

/* Decode an alert event into \p a (open, as its last event left it).
 * @returns 0, or -1 with \p why set. */
static int decode_event(const ww_factory_t *fac, const ww_line_def_t *ld, json_t *root,
                        ww_alert_t *a, char *why, size_t n) {
  const char *id = str_of(root, "alert_id"), *sev = str_of(root, "severity");
  const char *type = str_of(root, "anomaly_type");
  json_t *sensors = json_object_get(root, "sensors"), *details = json_object_get(root, "details");
  json_t *v;
  size_t i;
  memset(a, 0, sizeof(*a));
  if (!id || strlen(id) >= sizeof(a->alert_id) || !sev || ts_of(root, "opened_at", &a->opened_ms) ||
      ts_of(root, "updated_at", &a->updated_ms)) {
    snprintf(why, n, "alert_id, severity, opened_at or updated_at missing or invalid");
    return -1;
  }
  a->open = 1;
  a->first_ms = a->opened_ms;
  snprintf(a->alert_id, sizeof(a->alert_id), "%s", id);
  if (ww_severity_parse(sev, strlen(sev), &a->severity) != 0 || a->severity == WW_SEV_NORMAL) {
    snprintf(why, n, "severity '%.16s' is not warning or critical", sev);
    return -1;
  }
  snprintf(a->type, sizeof(a->type), "%s", type ? type : "unknown");
  a->max_score = json_number_value(json_object_get(root, "max_score"));
  a->readings = json_integer_value(json_object_get(root, "readings"));
  json_array_foreach(sensors, i, v) {
    const char *name = json_string_value(v);
    for (int s = 0; name && s < fac->n_sensors; s++)
      if (!strcmp(fac->sensors[s].name, name))
        a->sensors |= 1u << s;
  }
  for (int j = 0; j < ld->n_sensors; j++) {
    int s = ld->sensor_idx[j];
    json_t *x = json_object_get(details, fac->sensors[s].name);
    if (json_is_number(x)) {
      a->values[s] = json_number_value(x);
      a->present |= 1u << s;
    }
  }
  return 0;
}

int ww_proc_carry_event(ww_proc_carry_t *c, const char *json, size_t len) {
  const ww_factory_t *fac = c->proc->fac;
  json_error_t jerr;
  json_t *root = json_loadb(json, len, 0, &jerr);
  const char *line, *comp, *id, *state;
  char why[160];
  int li, slot = WW_MAX_COMPONENTS, rc = 0;
  line = str_of(root, "production_line");
  comp = str_of(root, "component_id");
  id = str_of(root, "alert_id");
  state = str_of(root, "state");
  li = line ? ww_factory_line_find(fac, line, strlen(line)) : -1;
  if (li < 0 || !comp || !id || !state || strlen(comp) >= WW_ID_MAX)
    goto done; /* not an alert event of this factory's lines: nothing to carry */
  for (int k = 0; k < fac->lines[li].n_components && k < WW_MAX_COMPONENTS; k++)
    if (!strcmp(fac->lines[li].components[k], comp))
      slot = k;
  {
    size_t at = (size_t)li * WW_SLOTS_PER_LINE + (size_t)slot;
    ww_alert_t *a = &c->slot[at];
    if (!strcmp(state, "resolved")) {
      if (a->open && !strcmp(a->alert_id, id))
        memset(a, 0, sizeof(*a));
    } else if (decode_event(fac, &fac->lines[li], root, a, why, sizeof(why)) == 0) {
      snprintf(c->comp[at], WW_ID_MAX, "%s", comp);
    } else {
      WW_LOG(WW_LOG_DEBUG, "ALERT", "alert event of %s not carried over: %s", line, why);
      memset(a, 0, sizeof(*a));
      rc = -1;
    }
  }
done:
  json_decref(root);
  return rc;
}

int ww_proc_carry_end(ww_proc_carry_t *c) {
  ww_proc_t *proc;
  int carried = 0;
  if (!c)
    return 0;
  proc = c->proc;
  for (int li = 0; li < proc->fac->n_lines; li++) {
    line_t *ln = &proc->lines[li];
    /* Only a line with no state of its own: one that has not seen a reading
     * since it was (re)set. A line that is live here knows better. For the
     * others the topic is the truth, also over what an earlier carry-over
     * gave a line whose readings went elsewhere since. */
    if (ln->partition >= 0)
      continue;
    for (int s = 0; s < WW_SLOTS_PER_LINE; s++) {
      size_t at = (size_t)li * WW_SLOTS_PER_LINE + (size_t)s;
      if (!c->slot[at].open) {
        if (ln->alerts[s].open)
          memset(&ln->alerts[s], 0, sizeof(ln->alerts[s]));
        continue;
      }
      if (ln->alerts[s].open && !strcmp(ln->alerts[s].alert_id, c->slot[at].alert_id) &&
          ln->alerts[s].updated_ms == c->slot[at].updated_ms)
        continue; /* carried over before, and unchanged since */
      ln->alerts[s] = c->slot[at];
      carried++;
      WW_LOG(WW_LOG_INFO, "ALERT",
             "%s: carried over open alert %s (%s, %s, %" PRId64 " anomalous readings so far)",
             proc->fac->lines[li].id, c->slot[at].alert_id, c->comp[at],
             ww_severity_name(c->slot[at].severity), c->slot[at].readings);
    }
  }
  ww_proc_carry_abort(c);
  return carried;
}

void ww_proc_carry_abort(ww_proc_carry_t *c) {
  if (!c)
    return;
  free(c->slot);
  free(c->comp);
  free(c);
}
