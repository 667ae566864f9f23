/**
 * @file processor_encode.h
 * @brief JSON encoders of the processor's outputs (window-stats) and helpers.
 * All return the length needed, like snprintf; output is truncated if >= size.
 */
#ifndef WW_PROCESSOR_ENCODE_H
#define WW_PROCESSOR_ENCODE_H

#include <stddef.h>

#include "windwatch/config.h"
#include "windwatch/window.h"
#include "processor_model.h"

/**
 * @brief snprintf at \p buf + *\p off; *\p off grows by what the text needed even
 *        when it was truncated, so the caller learns the full length (the
 *        JSON writers' contract, like snprintf's).
 */
void ww_proc_appendf(char *buf, size_t size, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/**
 * window-stats message ("v":1) of line \p line_idx for the closed window \p res,
 * with where the line's model stands (\p ms): "model_version", and "training"
 * while the first version gathers its readings.
 */
size_t ww_proc_encode_window(const ww_factory_t *fac, int line_idx, const ww_window_result_t *res,
                             const ww_model_state_t *ms, char *buf, size_t size);

struct ww_proc_conf_s;

/**
 * The "feature_kind" and "feature_context" members of a model message
 * (without braces around them, to splice into the model object): what a
 * reader of the model needs to rebuild its window-context features from
 * stored readings: pane length, baseline rules and constants.
 */
size_t ww_proc_encode_model_context(const struct ww_proc_conf_s *pc, int zcur_min, int min_count,
                                    double min_std, char *buf, size_t size);

/** Copy \p s (\p len bytes) into \p out as JSON string content (no quotes). */
size_t ww_proc_json_escape(const char *s, size_t len, char *out, size_t size);

#endif /* WW_PROCESSOR_ENCODE_H */
