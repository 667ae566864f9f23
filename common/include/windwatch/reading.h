/**
 * @file reading.h
 * @brief The JSON codec for sensor readings and scored readings.
 *
 * Wire format (topic sensor-data), field names as the original system:
 *   {"v":1,"production_line":"turbine-line-1","component_id":"Blade",
 *    "timestamp":"2026-11-25T19:34:44.123Z","sequence_number":42,
 *    "temperature":27.31,"humidity":48.2,"sound_level":66.1,
 *    "injected_anomaly":null,"episode_id":null}
 * sensor-scored adds "anomaly_score", "severity", "model_version", "zscore".
 *
 * The decoder is a purpose-built single-pass scanner: it validates the whole
 * document as JSON, allocates nothing, and names the first problem it finds.
 * Unknown fields are ignored (forward compatibility).
 */
#ifndef WW_READING_H
#define WW_READING_H

#include <stddef.h>
#include <stdint.h>

#include "windwatch/config.h"

/** Severities, one set for every binary and the dashboard. */
typedef enum ww_severity_e {
  WW_SEV_NORMAL = 0,
  WW_SEV_WARNING = 1,
  WW_SEV_CRITICAL = 2,
} ww_severity_t;

/** @returns "normal", "warning" or "critical". */
const char *ww_severity_name(ww_severity_t sev);
/** @returns 0 and sets \p out, or -1 for an unknown name. */
int ww_severity_parse(const char *name, size_t len, ww_severity_t *out);

/** Why a message went to the dead-letter topic. */
typedef enum ww_dlq_reason_e {
  WW_DLQ_NONE = 0,          /* the message is valid */
  WW_DLQ_MALFORMED_JSON,    /* not a JSON object */
  WW_DLQ_MISSING_FIELD,     /* a required field is absent */
  WW_DLQ_BAD_TYPE,          /* a field has the wrong JSON type */
  WW_DLQ_NOT_FINITE,        /* NaN or infinity (or a number that overflows) */
  WW_DLQ_IMPOSSIBLE_VALUE,  /* outside the sensor's physical limits */
  WW_DLQ_UNKNOWN_LINE,      /* production_line not in the config */
  WW_DLQ_UNKNOWN_COMPONENT, /* component_id not on that line */
  WW_DLQ_BAD_TIMESTAMP,     /* timestamp not RFC 3339 */
  WW_DLQ_TOO_LARGE,         /* message over the size limit */
  WW_DLQ_LATE,              /* event time behind the watermark beyond allowed lateness */
  WW_DLQ__COUNT
} ww_dlq_reason_t;

/** @returns the reason's wire name: "malformed_json", "late", ... */
const char *ww_dlq_reason_name(ww_dlq_reason_t reason);

#define WW_ANOMALY_TYPE_MAX 24 /* bytes for an injected anomaly type name incl. NUL */

/** One reading, decoded. Values are indexed by factory sensor index.
 * (The decoder sets each field by name, not with a memset: a new field
 * must be set in decode() in reading.c too.) */
typedef struct ww_reading_s {
  int64_t ts_ms;                 /* event time, ms since epoch, UTC */
  int64_t seq;                   /* per-component sequence_number; -1 if absent */
  int line_idx;                  /* index into ww_factory_t.lines */
  int component_idx;             /* index into that line's components; -1 if free text */
  char component_id[WW_ID_MAX];  /* as received */
  uint32_t present;              /* bit i: values[i] was given */
  double values[WW_MAX_SENSORS]; /* sensor values in their units */
  char injected_anomaly[WW_ANOMALY_TYPE_MAX]; /* ground truth type, "" = none; never used to detect
                                               */
  int64_t episode_id;                         /* ground-truth episode, 0 = none */
} ww_reading_t;

/** Score attached to a reading by the processor. */
typedef struct ww_score_s {
  double anomaly_score;   /* 0..1, higher is more anomalous */
  ww_severity_t severity; /* overall severity of the reading */
  int64_t model_version;  /* Isolation Forest model version, 0 = none yet */
  double zscore;          /* largest |z| over the sensors vs the previous window; 0 if none */
} ww_score_t;

/** Decoder flags. */
#define WW_DECODE_TS_OPTIONAL 0x1 /* a missing timestamp becomes "now" (HTTP /api/predict) */
#define WW_DECODE_ALL_SENSORS                                                                      \
  0x2 /* every sensor of the line must be present (default: at least one) */

/** Largest message the decoder accepts, in bytes. */
#define WW_READING_MAX_BYTES 65536

/**
 * @brief Decode one reading from \p buf (not NUL-terminated, \p len bytes).
 * @returns WW_DLQ_NONE, or the reason, with details in \p errstr
 *          ("field 'temperature' is a string, expected a number").
 */
ww_dlq_reason_t ww_reading_decode(const ww_factory_t *fac, const char *buf, size_t len, int flags,
                                  ww_reading_t *r, char *errstr, size_t errstr_size);

/**
 * @brief Decode a scored reading (sensor-scored): the reading plus \p sc.
 * @returns as ww_reading_decode; a missing score field is WW_DLQ_MISSING_FIELD.
 */
ww_dlq_reason_t ww_scored_decode(const ww_factory_t *fac, const char *buf, size_t len,
                                 ww_reading_t *r, ww_score_t *sc, char *errstr, size_t errstr_size);

/**
 * @brief Encode \p r as JSON into \p buf.
 * @returns the length the full message needs (excluding NUL), like snprintf;
 *          if that is >= \p size the output was truncated.
 */
size_t ww_reading_encode(const ww_factory_t *fac, const ww_reading_t *r, char *buf, size_t size);

/** @brief Encode a scored reading (sensor-scored). Return as ww_reading_encode. */
size_t ww_scored_encode(const ww_factory_t *fac, const ww_reading_t *r, const ww_score_t *sc,
                        char *buf, size_t size);

/**
 * @brief Threshold severity of one value against its sensor's config:
 *        outside min..max is critical, above warning is a warning.
 */
ww_severity_t ww_sensor_severity(const ww_sensor_def_t *sd, double value);

#endif /* WW_READING_H */
