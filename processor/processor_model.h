/**
 * @file processor_model.h
 * @brief One production line's Isolation Forest: training buffer, versions,
 *        severity thresholds from the training scores, serialisation.
 *
 * The first train_size readings judged normal by the other detectors train
 * version 1. After that, normal readings keep flowing into a reservoir
 * (Algorithm R, so it is a uniform sample of everything seen), and every
 * retrain interval of event time the reservoir trains the next version.
 * Thresholds: warning and critical are quantiles of the model's own scores
 * on its training rows (so normal readings come out normal), unless fixed
 * values are configured.
 */
#ifndef WW_PROCESSOR_MODEL_H
#define WW_PROCESSOR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "windwatch/config.h"
#include "windwatch/reading.h"

typedef struct ww_model_conf_s {
  int train_size;        /* rows that train a model; 0 disables the model */
  int64_t retrain_ms;    /* event time between versions; 0 = never retrain */
  int n_trees;           /* Isolation Forest trees */
  int max_samples;       /* rows per tree */
  uint64_t seed;         /* training seed (mixed with the line and version) */
  double q_warning;      /* training-score quantile (0..1) that starts warning */
  double q_critical;     /* training-score quantile that starts critical */
  double score_warning;  /* fixed warning threshold; 0 = from q_warning */
  double score_critical; /* fixed critical threshold; 0 = from q_critical */
} ww_model_conf_t;

typedef struct ww_model_s ww_model_t;

/** @returns a model slot for rows of \p d features, or NULL (no memory). */
ww_model_t *ww_model_new(const ww_model_conf_t *mc, int d, const char *line_id);
void ww_model_destroy(ww_model_t *m);
/** Drop trained models and buffered rows (partition revoked). */
void ww_model_reset(ww_model_t *m);

/** @returns the severity the current thresholds give \p score. */
ww_severity_t ww_model_severity(const ww_model_t *m, double score);

/**
 * @brief Score \p n rows of d features (row-major) at once, with the same
 *        results bit for bit as scoring each row alone. @returns 0, or -1
 *        when no model is trained yet. Allocates nothing.
 */
int ww_model_score_rows(const ww_model_t *m, const double *rows, size_t n, double *scores);

/**
 * @brief Offer a row judged normal at event time \p ts_ms for training.
 *
 * The first version trains within the call that completes its sample. A
 * retrain starts, on a thread of its own, when --retrain-interval of event
 * time has passed; the current version goes on scoring until the new one
 * takes over, at the first row offered 4096 rows (or half the retrain
 * interval of event time) after the one that started it.
 * @returns 1 if a new model version took over in this call, 0 if not,
 *          -1 if training failed (logged; the previous model stays).
 */
int ww_model_observe(ww_model_t *m, const double *row, int64_t ts_ms);

/**
 * @brief At the end of the input: a retrain under way takes over now.
 * @returns as ww_model_observe().
 */
int ww_model_finish(ww_model_t *m);

/**
 * @brief Install a model serialised by ww_model_json() (\p json, \p len bytes)
 *        as the current version; training then only retrains.
 * @returns 0, or -1 with \p errstr naming the problem (wrong feature count, bad JSON).
 */
int ww_model_load(ww_model_t *m, const char *json, size_t len, char *errstr, size_t errstr_size);

/** @returns the current version, 0 before the first model. */
int64_t ww_model_version(const ww_model_t *m);

/** Where a line's model stands, for window-stats messages, logs and metrics. */
typedef struct ww_model_state_s {
  int64_t version; /* current version, 0 = none yet */
  int needed;      /* > 0 while the first version gathers its training readings: how many */
  int readings;    /* ...and how many it has (readings the other detectors judged normal) */
} ww_model_state_t;

/** Fill \p st for \p m (NULL: no model configured: all zero). */
void ww_model_state(const ww_model_t *m, ww_model_state_t *st);

/**
 * @brief Serialise the current model (metadata, thresholds, quantiles, forest)
 *        for the models topic and --models-dir.
 * @param feature_names \p d names, borrowed.
 * @returns a malloc'ed JSON string the caller frees, or NULL (no model / no memory).
 */
char *ww_model_json(const ww_model_t *m, const char *const *feature_names, size_t *len);

#endif /* WW_PROCESSOR_MODEL_H */
