/**
 * @file processor_eval.h
 * @brief Detection quality against ground truth, per episode (--mode batch).
 *
 * The simulator marks injected anomalies with injected_anomaly (a type) and
 * episode_id. Those fields are read here only, after detection, to grade it:
 *   recall    = ground-truth episodes during which an alert was open on the
 *               same line and component / all ground-truth episodes;
 *   precision = alert episodes that overlapped at least one injected reading
 *               / all alert episodes;
 *   F1        = their harmonic mean. Recall is also given per anomaly type.
 */
#ifndef WW_PROCESSOR_EVAL_H
#define WW_PROCESSOR_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "windwatch/reading.h"

typedef struct ww_eval_s ww_eval_t;

/** @returns a new tracker for \p n_slots alert slots, or NULL (out of memory). */
ww_eval_t *ww_eval_new(int n_slots);
void ww_eval_destroy(ww_eval_t *ev);

/**
 * @brief Record one scored reading after the alert machine of its slot stepped.
 * @param slot alert slot (line and component) of the reading.
 * @param anomalous the reading was judged anomalous.
 * @param alert_open the slot's alert is open after this reading (incl. just opened).
 * @param resolved this reading resolved the slot's alert.
 */
void ww_eval_reading(ww_eval_t *ev, int slot, int line_idx, const ww_reading_t *r, int anomalous,
                     int alert_open, int opened, int resolved);

/**
 * @brief Make \p dst the same as \p src (made with the same slot count): a
 *        checkpoint, or its restoration. @returns 0, or -1 (out of memory:
 *        \p dst unchanged).
 */
int ww_eval_copy(ww_eval_t *dst, const ww_eval_t *src);

/** @returns non-zero once any reading carried ground truth. */
int ww_eval_has_truth(const ww_eval_t *ev);

/** Append ,"quality":{...} figures as a JSON object into \p buf. Length like snprintf. */
size_t ww_eval_json(const ww_eval_t *ev, char *buf, size_t size);

#endif /* WW_PROCESSOR_EVAL_H */
