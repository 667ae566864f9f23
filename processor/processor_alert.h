/**
 * @file processor_alert.h
 * @brief The alert state machine of one (line, component) and its JSON encoding.
 *
 * idle --(min_count consecutive anomalous readings, or one with opens_now)--> open: "opened"
 * open --(anomalous reading that escalates severity, adds a sensor or raises
 *         the max score by >= 0.05)--> open: event "updated"
 * open --(clear_count consecutive normal readings)--> idle: event "resolved"
 * A normal reading inside an open alert only counts towards clearing; an
 * anomalous one resets that count. So a single normal reading in an episode
 * neither resolves it nor starts a new alert_id (no flapping).
 */
#ifndef WW_PROCESSOR_ALERT_H
#define WW_PROCESSOR_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "windwatch/config.h"
#include "windwatch/reading.h"

typedef enum ww_alert_event_e {
  WW_ALERT_NONE = 0,
  WW_ALERT_OPENED,
  WW_ALERT_UPDATED,
  WW_ALERT_RESOLVED,
} ww_alert_event_t;

#define WW_ALERT_TYPE_MAX 16 /* bytes for "threshold", "zscore", "model" incl. NUL */
#define WW_ALERT_ID_MAX   (WW_ID_MAX + 48)

/** What one reading says, as the alert machine sees it. */
typedef struct ww_alert_obs_s {
  int64_t ts_ms;          /* event time of the reading */
  int anomalous;          /* severity > normal */
  ww_severity_t severity; /* of the reading */
  double score;           /* anomaly_score 0..1 */
  uint32_t sensors;       /* bit i: factory sensor i was out of line */
  const char *type;       /* "threshold", "zscore", "model"; NULL if normal */
  const double *values;   /* [WW_MAX_SENSORS] borrowed, indexed by factory sensor */
  uint32_t present;       /* bit i: values[i] given */
  int opens_now;          /* clear-cut (e.g. a critical threshold): open without a streak */
} ww_alert_obs_t;

/** State of one (line, component). Zero-initialise; no destroy needed. */
typedef struct ww_alert_s {
  int open;                       /* an episode is open */
  int consec_anom;                /* consecutive anomalous readings */
  int consec_norm;                /* consecutive normal readings while open */
  int64_t first_ms;               /* event time of the first reading of the streak */
  int64_t opened_ms;              /* = first_ms of the opening streak */
  int64_t updated_ms;             /* event time of the latest change */
  int64_t resolved_ms;            /* event time of resolution, 0 while open */
  double max_score;               /* largest score in the episode */
  int64_t readings;               /* anomalous readings in the episode */
  uint32_t sensors;               /* sensors involved */
  ww_severity_t severity;         /* highest severity in the episode */
  char type[WW_ALERT_TYPE_MAX];   /* anomaly_type of the opening reading */
  double values[WW_MAX_SENSORS];  /* latest anomalous reading's values (details) */
  uint32_t present;               /* bits of values[] given */
  char alert_id[WW_ALERT_ID_MAX]; /* "<line>-<opened_ms>-<n>" */
} ww_alert_t;

/**
 * @brief Feed one reading to \p a.
 * @param line_id for the alert_id; \p seq is the line's episode counter, bumped on open.
 * @returns the event to publish, or WW_ALERT_NONE.
 */
ww_alert_event_t ww_alert_step(ww_alert_t *a, const ww_alert_obs_t *obs, int min_count,
                               int clear_count, const char *line_id, int64_t *seq);

/** @returns "opened", "updated", "resolved" (or "none"). */
const char *ww_alert_event_name(ww_alert_event_t ev);

/**
 * @brief Encode an alert event (the alerts topic format, "v":1) into \p buf.
 * @returns the length needed, like snprintf.
 */
/** Room for ww_alert_summary()'s text with the longest ids. */
#define WW_ALERT_SUMMARY_BUFSZ (WW_ID_MAX * 9 + 256)

/**
 * @brief The event's one-line text, as the console shows it: "<alert_id>
 *        <event> <line>/<component> severity <s> type <t> max_score <x.xxx>
 *        readings <n>". \p component_id as in ww_alert_encode().
 */
void ww_alert_summary(const ww_alert_t *a, ww_alert_event_t ev, const char *line_id,
                      const char *component_id, char *buf, size_t size);

size_t ww_alert_encode(const ww_alert_t *a, ww_alert_event_t ev, const ww_factory_t *fac,
                       int line_idx, const char *component_id, char *buf, size_t size);

#endif /* WW_PROCESSOR_ALERT_H */
