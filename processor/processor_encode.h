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

/** window-stats message ("v":1) of line \p line_idx for the closed window \p res. */
size_t ww_proc_encode_window(const ww_factory_t *fac, int line_idx, const ww_window_result_t *res,
                             char *buf, size_t size);

/** Copy \p s (\p len bytes) into \p out as JSON string content (no quotes). */
size_t ww_proc_json_escape(const char *s, size_t len, char *out, size_t size);

#endif /* WW_PROCESSOR_ENCODE_H */
