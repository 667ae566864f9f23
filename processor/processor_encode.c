/* processor_encode.c: the window-stats message and JSON string escaping. */
#include "processor_encode.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "processor.h"
#include "windwatch/timeutil.h"

void ww_proc_appendf(char *buf, size_t size, size_t *off, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf + (*off < size ? *off : size), *off < size ? size - *off : 0, fmt, ap);
  va_end(ap);
  if (n > 0)
    *off += (size_t)n;
}

#define APPEND(...) ww_proc_appendf(buf, size, &off, __VA_ARGS__)

size_t ww_proc_json_escape(const char *s, size_t len, char *out, size_t size) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    int n = 1;
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      n = 2;
    } else if (c < 0x20) {
      n = snprintf(esc, sizeof(esc), "\\u%04x", c);
    } else {
      esc[0] = (char)c;
    }
    for (int k = 0; k < n; k++, o++)
      if (o + 1 < size)
        out[o] = esc[k];
  }
  if (size)
    out[o < size ? o : size - 1] = '\0';
  return o;
}

size_t ww_proc_encode_window(const ww_factory_t *fac, int line_idx, const ww_window_result_t *res,
                             const ww_model_state_t *ms, char *buf, size_t size) {
  const ww_line_def_t *ld = &fac->lines[line_idx];
  char start[WW_TS_BUFSZ], end[WW_TS_BUFSZ];
  size_t off = 0;
  ww_ts_format(res->start_ms, start, sizeof(start));
  ww_ts_format(res->end_ms, end, sizeof(end));
  APPEND("{\"v\":1,\"production_line\":\"%s\",\"window_type\":\"%s\",\"window_seq\":%" PRId64
         ",\"window_start\":\"%s\",\"window_end\":\"%s\",\"count\":%" PRId64
         ",\"anomalous\":%" PRId64 ",\"sensors\":{",
         ld->id, ww_window_type_name(res->type), res->seq, start, end, res->count, res->anomalous);
  for (int j = 0; j < ld->n_sensors; j++) {
    int i = ld->sensor_idx[j];
    const ww_stats_t *st = &res->stats[i];
    if (st->count == 0) {
      APPEND("%s\"%s\":null", j ? "," : "", fac->sensors[i].name);
      continue;
    }
    APPEND("%s\"%s\":{\"count\":%" PRId64 ",\"mean\":%.4f,\"std\":%.4f,\"min\":%.4f,"
           "\"max\":%.4f,\"p50\":%.4f,\"p95\":%.4f,\"trend\":\"%s\",\"slope_per_min\":%.4f}",
           j ? "," : "", fac->sensors[i].name, st->count, st->mean, st->std, st->min, st->max,
           st->p50, st->p95, ww_trend_name(st->trend), st->slope_per_min);
  }
  APPEND("},\"model_version\":%" PRId64, ms->version);
  if (ms->needed > 0)
    APPEND(",\"training\":{\"readings\":%d,\"needed\":%d}", ms->readings, ms->needed);
  APPEND("}");
  return off;
}

size_t ww_proc_encode_model_context(const struct ww_proc_conf_s *pc, int zcur_min, int min_count,
                                    double min_std, char *buf, size_t size) {
  size_t off = 0;
  int count = pc->window_type == WW_WINDOW_COUNT;
  int64_t slide = pc->window_slide > 0 ? pc->window_slide : pc->window_size;
  /* Feature names are "<sensor>_z" and "<sensor>_zcur"; see the model
   * section of docs/api.md for how each is computed from these. */
  APPEND("\"feature_kind\":\"window_z\",\"feature_context\":{\"window_type\":\"%s\","
         "\"window_size\":%" PRId64 ",\"window_slide\":%" PRId64 ",\"window_unit\":\"%s\","
         "\"pane\":%" PRId64 ",\"pane_unit\":\"%s\",\"baseline\":\"previous_pane\","
         "\"min_count\":%d,\"min_std\":%.17g,\"neutral\":0,\"zcur_min\":%d,"
         "\"zscore_threshold\":%.17g,\"allowed_lateness_ms\":%" PRId64 "}",
         count ? "count" : "time", pc->window_size, slide, count ? "readings" : "s",
         count ? slide : slide * 1000, count ? "readings" : "ms", min_count, min_std, zcur_min,
         pc->zscore_threshold, pc->allowed_lateness_ms);
  return off;
}
