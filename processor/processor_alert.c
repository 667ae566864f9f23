/* processor_alert.c: alert lifecycle (open, update, resolve) with hysteresis. */
#include "processor_alert.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "windwatch/timeutil.h"
#include "processor_encode.h"

/* A max-score rise smaller than this is not worth an "updated" event. */
#define WW_ALERT_SCORE_STEP 0.05

const char *ww_alert_event_name(ww_alert_event_t ev) {
  switch (ev) {
  case WW_ALERT_OPENED: return "opened";
  case WW_ALERT_UPDATED: return "updated";
  case WW_ALERT_RESOLVED: return "resolved";
  default: return "none";
  }
}

static void absorb(ww_alert_t *a, const ww_alert_obs_t *obs) {
  if (obs->score > a->max_score)
    a->max_score = obs->score;
  if (obs->severity > a->severity)
    a->severity = obs->severity;
  a->sensors |= obs->sensors;
  a->readings++;
  a->updated_ms = obs->ts_ms;
  if (obs->values)
    memcpy(a->values, obs->values, sizeof(a->values));
  a->present = obs->present;
}

ww_alert_event_t ww_alert_step(ww_alert_t *a, const ww_alert_obs_t *obs, int min_count,
                               int clear_count, const char *line_id, int64_t *seq) {
  if (min_count < 1)
    min_count = 1;
  if (clear_count < 1)
    clear_count = 1;
  if (!a->open) {
    if (!obs->anomalous) {
      a->consec_anom = 0;
      return WW_ALERT_NONE;
    }
    if (a->consec_anom == 0) {
      /* A new streak: forget the last episode's figures. */
      a->first_ms = obs->ts_ms;
      a->max_score = 0;
      a->readings = 0;
      a->sensors = 0;
      a->severity = WW_SEV_NORMAL;
      a->resolved_ms = 0;
      snprintf(a->type, sizeof(a->type), "%s", obs->type ? obs->type : "unknown");
    }
    a->consec_anom++;
    absorb(a, obs);
    /* A clear-cut reading opens at once: a one-reading spike is an episode too. */
    if (a->consec_anom < min_count && !obs->opens_now)
      return WW_ALERT_NONE;
    a->open = 1;
    a->consec_norm = 0;
    a->opened_ms = a->first_ms;
    (*seq)++;
    snprintf(a->alert_id, sizeof(a->alert_id), "%s-%" PRId64 "-%" PRId64, line_id, a->opened_ms,
             *seq);
    return WW_ALERT_OPENED;
  }
  if (obs->anomalous) {
    ww_severity_t sev = a->severity;
    uint32_t sensors = a->sensors;
    double max_score = a->max_score;
    a->consec_norm = 0;
    absorb(a, obs);
    if (a->severity > sev || (a->sensors & ~sensors) ||
        a->max_score >= max_score + WW_ALERT_SCORE_STEP)
      return WW_ALERT_UPDATED;
    return WW_ALERT_NONE;
  }
  if (++a->consec_norm < clear_count)
    return WW_ALERT_NONE;
  a->open = 0;
  a->consec_anom = 0;
  a->consec_norm = 0;
  a->resolved_ms = obs->ts_ms;
  a->updated_ms = obs->ts_ms;
  return WW_ALERT_RESOLVED;
}

#define APPEND(...) ww_proc_appendf(buf, size, &off, __VA_ARGS__)

/* An alert is reported as a warning at least (one wording for the topic and the console). */
static const char *alert_severity(const ww_alert_t *a) {
  return a->severity >= WW_SEV_CRITICAL ? "critical" : "warning";
}

void ww_alert_summary(const ww_alert_t *a, ww_alert_event_t ev, const char *line_id,
                      const char *component_id, char *buf, size_t size) {
  snprintf(buf, size, "%s %s %s/%s severity %s type %s max_score %.3f readings %" PRId64,
           a->alert_id, ww_alert_event_name(ev), line_id, component_id, alert_severity(a), a->type,
           a->max_score, a->readings);
}

size_t ww_alert_encode(const ww_alert_t *a, ww_alert_event_t ev, const ww_factory_t *fac,
                       int line_idx, const char *component_id, char *buf, size_t size) {
  const ww_line_def_t *ld = &fac->lines[line_idx];
  char opened[WW_TS_BUFSZ], updated[WW_TS_BUFSZ], resolved[WW_TS_BUFSZ];
  size_t off = 0;
  int first = 1;
  ww_ts_format(a->opened_ms, opened, sizeof(opened));
  ww_ts_format(a->updated_ms, updated, sizeof(updated));
  ww_ts_format(a->resolved_ms, resolved, sizeof(resolved));
  APPEND("{\"v\":1,\"alert_id\":\"%s\",\"event\":\"%s\",\"state\":\"%s\","
         "\"production_line\":\"%s\",\"component_id\":\"%s\",\"severity\":\"%s\","
         "\"anomaly_type\":\"%s\",\"opened_at\":\"%s\",\"updated_at\":\"%s\",",
         a->alert_id, ww_alert_event_name(ev), ev == WW_ALERT_RESOLVED ? "resolved" : "open",
         ld->id, component_id, alert_severity(a), a->type, opened, updated);
  if (ev == WW_ALERT_RESOLVED)
    APPEND("\"resolved_at\":\"%s\",", resolved);
  else
    APPEND("\"resolved_at\":null,");
  APPEND("\"max_score\":%.4f,\"readings\":%" PRId64 ",\"sensors\":[", a->max_score, a->readings);
  for (int i = 0; i < fac->n_sensors; i++) {
    if (!(a->sensors & (1u << i)))
      continue;
    APPEND("%s\"%s\"", first ? "" : ",", fac->sensors[i].name);
    first = 0;
  }
  APPEND("],\"details\":{");
  for (int j = 0; j < ld->n_sensors; j++) {
    int i = ld->sensor_idx[j];
    if (a->present & (1u << i))
      APPEND("\"%s\":%.2f,", fac->sensors[i].name, a->values[i]);
    else
      APPEND("\"%s\":null,", fac->sensors[i].name);
  }
  APPEND("\"expected_ranges\":{");
  for (int j = 0; j < ld->n_sensors; j++) {
    const ww_sensor_def_t *sd = &fac->sensors[ld->sensor_idx[j]];
    APPEND("%s\"%s\":{\"min\":%g,\"max\":%g,\"warning\":%g}", j ? "," : "", sd->name, sd->min,
           sd->max, sd->warning);
  }
  APPEND("}}}");
  return off;
}
