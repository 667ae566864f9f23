/* processor_outputs.c: what the engine publishes (scored readings go out from
 * processor_engine.c): dead letters, window stats, models, alerts; model
 * files; the batch summary. */
#define _GNU_SOURCE /* memmem */
#include "processor_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor_encode.h"
#include "windwatch/log.h"

void ww__proc_produce(ww_proc_t *proc, ww_proc_out_t o, const char *key, size_t key_len,
                      const char *val, size_t len, const ww_proc_header_t *hdrs, int n_hdrs) {
  if (proc->replaying)
    return; /* those outputs were published by whoever processed the readings first */
  if (proc->out.produce(proc->out.opaque, o, key, key_len, val, len, hdrs, n_hdrs) != 0)
    proc->cnt.produce_errors++;
}

void ww_proc_add_produce_errors(ww_proc_t *proc, int64_t n) {
  proc->cnt.produce_errors += n;
}

/* \p v in decimal into \p buf (at least 21 bytes), not NUL-terminated.
 * @returns its length. Dead letters can be a tenth of the input: no printf. */
static size_t fmt_i64(char *buf, int64_t v) {
  char tmp[24], *p = tmp + sizeof(tmp);
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  size_t n;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    *--p = '-';
  n = (size_t)(tmp + sizeof(tmp) - p);
  memcpy(buf, p, n);
  return n;
}

void ww__proc_dead_letter(ww_proc_t *proc, const char *buf, size_t len, const ww_proc_src_t *src,
                          ww_dlq_reason_t reason, const char *detail) {
  char part[24], offs[24];
  const char *rname = ww_dlq_reason_name(reason);
  ww_proc_header_t h[5];
  h[0] = (ww_proc_header_t){"reason", rname, strlen(rname)};
  h[1] = (ww_proc_header_t){"detail", detail, strlen(detail)};
  h[2] = (ww_proc_header_t){"source_topic", src->topic ? src->topic : "",
                            src->topic ? strlen(src->topic) : 0};
  h[3] = (ww_proc_header_t){"source_partition", part, fmt_i64(part, src->partition)};
  h[4] = (ww_proc_header_t){"source_offset", offs, fmt_i64(offs, src->offset)};
  proc->cnt.dead_letters++;
  if ((int)reason >= 0 && reason < WW_DLQ__COUNT)
    proc->cnt.dlq_by_reason[reason]++;
  WW_LOG(WW_LOG_DEBUG, "DLQ", "%s [%" PRId32 "] offset %" PRId64 ": %s: %s",
         src->topic ? src->topic : "?", src->partition, src->offset, rname, detail);
  ww__proc_produce(proc, WW_OUT_DLQ, src->key, src->key_len, buf, len, h, 5);
}

/* A window of a line closed: publish its statistics, and keep them as the
 * baseline the next readings' z-scores are measured against. */
void ww__proc_window_closed(void *opaque, const ww_window_result_t *res) {
  line_t *ln = opaque;
  ww_proc_t *proc = ln->proc;
  const ww_line_def_t *ld = &proc->fac->lines[ln->idx];
  char buf[WW_OUT_BUFSZ];
  ww_model_state_t ms;
  size_t n;
  ww_model_state(ln->model, &ms);
  n = ww_proc_encode_window(proc->fac, ln->idx, res, &ms, buf, sizeof(buf));
  if (n >= sizeof(buf)) {
    WW_LOG(WW_LOG_ERROR, "WINDOW", "window-stats message of %s too large (%zu bytes)", ld->id, n);
    proc->cnt.produce_errors++;
  } else {
    ww__proc_produce(proc, WW_OUT_STATS, ld->id, strlen(ld->id), buf, n, NULL, 0);
  }
  proc->cnt.windows++;
  if (proc->out.window_closed && !proc->replaying)
    proc->out.window_closed(proc->out.opaque, ln->idx, res->end_ms);
  ln->have_prev = 1;
  ln->prev_present = 0;
  for (int i = 0; i < res->n_values; i++) {
    /* Fewer than two values give no spread to measure a z-score against. */
    if (res->stats[i].count < 2)
      continue;
    ln->prev_present |= 1u << i;
    ln->prev_mean[i] = res->stats[i].mean;
    ln->prev_std[i] = res->stats[i].std;
  }
}

/* A new model version: publish it on the models topic and write it to --models-dir. */
void ww__proc_publish_model(ww_proc_t *proc, line_t *ln) {
  const ww_line_def_t *ld = &proc->fac->lines[ln->idx];
  size_t len = 0, clen;
  char *js = ww_model_json(ln->model, ln->feat_names, &len), *full = NULL, *at;
  char ctx[1024];
  proc->cnt.models++;
  /* The features' window parameters go in before the forest, so the model
   * describes itself to whoever scores with it (the api). */
  clen = ww_proc_encode_model_context(&proc->conf, WW_ZCUR_MIN, WW_BASE_MIN_COUNT, WW_BASE_MIN_STD,
                                      ctx, sizeof(ctx));
  at = js ? strstr(js, ",\"forest\":") : NULL;
  if (at && clen < sizeof(ctx) && (full = malloc(len + clen + 2)) != NULL) {
    size_t head = (size_t)(at - js);
    memcpy(full, js, head);
    full[head] = ',';
    memcpy(full + head + 1, ctx, clen);
    memcpy(full + head + 1 + clen, at, len - head + 1); /* with the NUL */
    len += clen + 1;
  }
  free(js);
  js = full;
  if (!js) {
    WW_LOG(WW_LOG_ERROR, "MODEL", "%s: cannot serialise model v%" PRId64, ld->id,
           ww_model_version(ln->model));
    return;
  }
  ww__proc_produce(proc, WW_OUT_MODELS, ld->id, strlen(ld->id), js, len, NULL, 0);
  if (proc->conf.models_dir && proc->conf.models_dir[0]) {
    char path[1024], tmp[1100];
    FILE *fp;
    snprintf(path, sizeof(path), "%s/%s-v%" PRId64 ".json", proc->conf.models_dir, ld->id,
             ww_model_version(ln->model));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* Write then rename: a reader never sees half a model. */
    fp = fopen(tmp, "w");
    if (!fp || fwrite(js, 1, len, fp) != len || fclose(fp) != 0 || rename(tmp, path) != 0) {
      WW_LOG(WW_LOG_ERROR, "MODEL",
             "cannot write %s: check that --models-dir %s exists and "
             "is writable",
             path, proc->conf.models_dir);
      if (fp)
        fclose(fp);
    } else {
      WW_LOG(WW_LOG_INFO, "MODEL", "wrote %s", path);
    }
  }
  free(js);
}

void ww__proc_publish_alert(ww_proc_t *proc, const line_t *ln, const ww_alert_t *a,
                            ww_alert_event_t ev, const ww_reading_t *r) {
  const ww_line_def_t *ld = &proc->fac->lines[ln->idx];
  char buf[WW_OUT_BUFSZ], comp[WW_ID_MAX * 6 + 1], summary[WW_ALERT_SUMMARY_BUFSZ];
  size_t n;
  if (r->component_idx >= 0)
    ww_proc_json_escape(ld->components[r->component_idx], strlen(ld->components[r->component_idx]),
                        comp, sizeof(comp));
  else
    ww_proc_json_escape(r->component_id, strlen(r->component_id), comp, sizeof(comp));
  n = ww_alert_encode(a, ev, proc->fac, ln->idx, comp, buf, sizeof(buf));
  if (n >= sizeof(buf)) {
    WW_LOG(WW_LOG_ERROR, "ALERT", "alert message of %s too large (%zu bytes)", ld->id, n);
    proc->cnt.produce_errors++;
    return;
  }
  proc->cnt.alert_events++;
  if (ev == WW_ALERT_OPENED)
    proc->cnt.alerts++;
  ww_alert_summary(a, ev, ld->id, comp, summary, sizeof(summary));
  WW_LOG(WW_LOG_DEBUG, "ALERT", "%s", summary);
  if (proc->out.alert_event)
    proc->out.alert_event(proc->out.opaque, buf, n, summary);
  ww__proc_produce(proc, WW_OUT_ALERTS, ld->id, strlen(ld->id), buf, n, NULL, 0);
}

int ww_proc_load_model_json(ww_proc_t *proc, const char *json, size_t len, const char *from,
                            int only_if_none, char *errstr, size_t errstr_size) {
  char err[256];
  const char *p, *q;
  int li;
  /* The line is named near the start: "production_line":"<id>". */
  p = memmem(json, len, "\"production_line\":\"", 19);
  q = p ? memchr(p + 19, '"', len - (size_t)(p + 19 - json)) : NULL;
  li = q ? ww_factory_line_find(proc->fac, p + 19, (size_t)(q - (p + 19))) : -1;
  if (li < 0) {
    snprintf(errstr, errstr_size, "%s: no production_line of the configured factory in it", from);
    return -1;
  }
  if (!proc->lines[li].model) {
    snprintf(errstr, errstr_size, "%s: models are off (train-size 0)", from);
    return -1;
  }
  if (only_if_none && ww_model_version(proc->lines[li].model) > 0) {
    /* A line live here keeps its own model. One that has seen no reading
     * here (restored at start-up, while another processor owned it) takes a
     * newer version when it arrives, or it would score with a stale one. */
    const char *v = memmem(json, len, "\"version\":", 10), *end = json + len;
    int64_t ver = 0;
    for (v = v ? v + 10 : end; v < end && *v >= '0' && *v <= '9' && ver < INT64_MAX / 10; v++)
      ver = ver * 10 + (*v - '0'); /* bounded: the message need not end in a NUL */
    if (proc->lines[li].partition >= 0 || ver <= ww_model_version(proc->lines[li].model))
      return 0;
  }
  if (ww_model_load(proc->lines[li].model, json, len, err, sizeof(err)) != 0) {
    snprintf(errstr, errstr_size, "%s: %s", from, err);
    return -1;
  }
  WW_LOG(WW_LOG_NOTICE, "MODEL", "%s: loaded model v%" PRId64 " from %s", proc->fac->lines[li].id,
         ww_model_version(proc->lines[li].model), from);
  return 1;
}

int ww_proc_load_model(ww_proc_t *proc, const char *path, char *errstr, size_t errstr_size) {
  FILE *fp = fopen(path, "rb");
  char *buf = NULL, from[1100];
  long len;
  int rc = -1;
  snprintf(from, sizeof(from), "--model %s", path);
  if (!fp) {
    snprintf(errstr, errstr_size, "%s: cannot open it", from);
    return -1;
  }
  if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0 ||
      !(buf = malloc((size_t)len + 1)) || fread(buf, 1, (size_t)len, fp) != (size_t)len) {
    snprintf(errstr, errstr_size, "%s: cannot read it", from);
    goto done;
  }
  buf[len] = '\0';
  rc = ww_proc_load_model_json(proc, buf, (size_t)len, from, 0, errstr, errstr_size) < 0 ? -1 : 0;
done:
  free(buf);
  fclose(fp);
  return rc;
}

void ww_proc_counters(const ww_proc_t *proc, ww_proc_counters_t *c) {
  *c = proc->cnt;
}

int ww_proc_line_model(const ww_proc_t *proc, int li, ww_model_state_t *st) {
  const line_t *ln = &proc->lines[li];
  ww_model_state(ln->model, st);
  return ln->partition >= 0;
}

/* The counters as int64_t[]: every field is one. */
#define WW_N_COUNTERS (sizeof(ww_proc_counters_t) / sizeof(int64_t))
_Static_assert(sizeof(ww_proc_counters_t) % sizeof(int64_t) == 0, "counters are int64_t");

void ww_proc_committed(ww_proc_t *proc) {
  proc->at_commit = proc->cnt;
  /* (the grading counts alert episodes before any ground truth is seen,
   * so it is kept whether or not there is some yet) */
  if (proc->conf.grade && ww_eval_copy(proc->eval_at_commit, proc->eval) != 0)
    WW_LOG(WW_LOG_WARN, "MAIN", "out of memory: the summary's quality may count rewound readings");
}

void ww_proc_rewound(ww_proc_t *proc) {
  const int64_t *now = (const int64_t *)&proc->cnt, *then = (const int64_t *)&proc->at_commit;
  int64_t *gone = (int64_t *)&proc->rewound;
  for (size_t i = 0; i < WW_N_COUNTERS; i++)
    gone[i] += now[i] - then[i];
  proc->at_commit = proc->cnt;
  if (proc->conf.grade)
    ww_eval_copy(proc->eval, proc->eval_at_commit);
}

void ww_proc_committed_counters(const ww_proc_t *proc, ww_proc_counters_t *c) {
  const int64_t *now = (const int64_t *)&proc->cnt, *gone = (const int64_t *)&proc->rewound;
  int64_t *out = (int64_t *)c;
  for (size_t i = 0; i < WW_N_COUNTERS; i++)
    out[i] = now[i] - gone[i];
}

size_t ww_proc_summary(const ww_proc_t *proc, char *buf, size_t size) {
  size_t off = 0;
  int first = 1;
  ww_proc_counters_t cc, *c = &cc;
  ww_proc_committed_counters(proc, &cc);
#define APPEND(...) ww_proc_appendf(buf, size, &off, __VA_ARGS__)
  APPEND("{\"messages\":%" PRId64 ",\"readings\":%" PRId64 ",\"windows\":%" PRId64
         ",\"alerts\":%" PRId64 ",\"alert_events\":%" PRId64 ",\"anomalous\":%" PRId64
         ",\"dead_letters\":%" PRId64 ",\"dead_letters_by_reason\":{",
         c->messages, c->readings, c->windows, c->alerts, c->alert_events, c->anomalous,
         c->dead_letters);
  for (int k = 1; k < WW_DLQ__COUNT; k++) {
    if (!c->dlq_by_reason[k])
      continue;
    APPEND("%s\"%s\":%" PRId64, first ? "" : ",", ww_dlq_reason_name((ww_dlq_reason_t)k),
           c->dlq_by_reason[k]);
    first = 0;
  }
  APPEND("},\"models\":%" PRId64 ",\"produce_errors\":%" PRId64, c->models, c->produce_errors);
  if (ww_eval_has_truth(proc->eval)) {
    APPEND(",\"quality\":");
    off += ww_eval_json(proc->eval, buf + (off < size ? off : size), off < size ? size - off : 0);
  }
  APPEND("}");
#undef APPEND
  return off;
}
