/* processor_eval.c: per-episode precision, recall and F1 against injected ground truth. */
#include "processor_eval.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "processor_encode.h"

#define WW_EVAL_TYPES 8 /* distinct anomaly types tracked; more are pooled as "other" */

typedef struct episode_s {
  int64_t id;   /* episode_id, 0 = empty hash slot */
  int line_idx; /* line it happened on */
  int type;     /* index into types[] */
  int detected; /* an alert was open during it */
} episode_t;

typedef struct slot_s {
  int streak_truth; /* the current anomalous streak touched an injected reading */
  int open;         /* an alert is open */
  int tp;           /* the open alert overlapped an injected reading */
} slot_t;

struct ww_eval_s {
  episode_t *eps; /* open-addressing hash on (line, id) */
  size_t n_eps, cap_eps;
  slot_t *slots; /* [n_slots] */
  int n_slots;
  char types[WW_EVAL_TYPES][WW_ANOMALY_TYPE_MAX];
  int n_types;
  int64_t alerts;      /* alert episodes seen (opened) */
  int64_t true_alerts; /* of those, overlapping ground truth */
};

ww_eval_t *ww_eval_new(int n_slots) {
  ww_eval_t *ev = calloc(1, sizeof(*ev));
  if (!ev)
    return NULL;
  ev->slots = calloc((size_t)n_slots, sizeof(*ev->slots));
  if (!ev->slots) {
    free(ev);
    return NULL;
  }
  ev->n_slots = n_slots;
  return ev;
}

void ww_eval_destroy(ww_eval_t *ev) {
  if (!ev)
    return;
  free(ev->eps);
  free(ev->slots);
  free(ev);
}

int ww_eval_copy(ww_eval_t *dst, const ww_eval_t *src) {
  episode_t *eps = dst->eps;
  slot_t *slots = dst->slots;
  if (dst->cap_eps != src->cap_eps) {
    eps = src->cap_eps ? malloc(src->cap_eps * sizeof(*eps)) : NULL;
    if (src->cap_eps && !eps)
      return -1;
    free(dst->eps);
  }
  if (src->cap_eps)
    memcpy(eps, src->eps, src->cap_eps * sizeof(*eps));
  memcpy(slots, src->slots, (size_t)src->n_slots * sizeof(*slots));
  *dst = *src;
  dst->eps = eps;
  dst->slots = slots;
  return 0;
}

int ww_eval_has_truth(const ww_eval_t *ev) {
  return ev->n_eps > 0;
}

static size_t hash(int64_t id, int line_idx, size_t cap) {
  uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull ^ (uint64_t)line_idx * 0xC2B2AE3D27D4EB4Full;
  return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static episode_t *episode_find(ww_eval_t *ev, int64_t id, int line_idx, int create) {
  size_t i;
  if (create && (ev->n_eps + 1) * 2 > ev->cap_eps) {
    size_t ncap = ev->cap_eps ? ev->cap_eps * 2 : 256;
    episode_t *n = calloc(ncap, sizeof(*n));
    if (!n)
      return NULL;
    for (size_t k = 0; k < ev->cap_eps; k++) {
      if (!ev->eps[k].id)
        continue;
      i = hash(ev->eps[k].id, ev->eps[k].line_idx, ncap);
      while (n[i].id)
        i = (i + 1) & (ncap - 1);
      n[i] = ev->eps[k];
    }
    free(ev->eps);
    ev->eps = n;
    ev->cap_eps = ncap;
  }
  if (!ev->cap_eps)
    return NULL;
  i = hash(id, line_idx, ev->cap_eps);
  while (ev->eps[i].id) {
    if (ev->eps[i].id == id && ev->eps[i].line_idx == line_idx)
      return &ev->eps[i];
    i = (i + 1) & (ev->cap_eps - 1);
  }
  if (!create)
    return NULL;
  ev->eps[i].id = id;
  ev->eps[i].line_idx = line_idx;
  ev->eps[i].type = -1;
  ev->n_eps++;
  return &ev->eps[i];
}

static int type_index(ww_eval_t *ev, const char *name) {
  for (int i = 0; i < ev->n_types; i++)
    if (strcmp(ev->types[i], name) == 0)
      return i;
  if (ev->n_types < WW_EVAL_TYPES - 1) {
    snprintf(ev->types[ev->n_types], sizeof(ev->types[0]), "%s", name);
    return ev->n_types++;
  }
  snprintf(ev->types[WW_EVAL_TYPES - 1], sizeof(ev->types[0]), "other");
  ev->n_types = WW_EVAL_TYPES;
  return WW_EVAL_TYPES - 1;
}

void ww_eval_reading(ww_eval_t *ev, int slot, int line_idx, const ww_reading_t *r, int anomalous,
                     int alert_open, int opened, int resolved) {
  slot_t *s = &ev->slots[slot];
  int truth = r->injected_anomaly[0] != '\0';
  if (truth) {
    /* Readings without an episode id are their own one-reading episode. */
    int64_t id = r->episode_id ? r->episode_id : -(r->ts_ms + 1);
    episode_t *ep = episode_find(ev, id, line_idx, 1);
    if (ep) {
      if (ep->type < 0)
        ep->type = type_index(ev, r->injected_anomaly);
      if (alert_open)
        ep->detected = 1;
    }
  }
  if (!s->open) {
    if (anomalous)
      s->streak_truth |= truth;
    else
      s->streak_truth = 0;
  }
  if (opened) {
    s->open = 1;
    s->tp = s->streak_truth;
    s->streak_truth = 0;
    ev->alerts++;
  } else if (s->open && truth) {
    s->tp = 1;
  }
  if (resolved && s->open) {
    ev->true_alerts += s->tp;
    s->open = 0;
    s->tp = 0;
  }
}

#define APPEND(...) ww_proc_appendf(buf, size, &off, __VA_ARGS__)

size_t ww_eval_json(const ww_eval_t *ev, char *buf, size_t size) {
  int64_t det = 0, tp = ev->true_alerts;
  int64_t t_eps[WW_EVAL_TYPES] = {0}, t_det[WW_EVAL_TYPES] = {0};
  double recall, precision, f1;
  size_t off = 0;
  for (size_t k = 0; k < ev->cap_eps; k++) {
    if (!ev->eps[k].id)
      continue;
    det += ev->eps[k].detected;
    if (ev->eps[k].type >= 0) {
      t_eps[ev->eps[k].type]++;
      t_det[ev->eps[k].type] += ev->eps[k].detected;
    }
  }
  /* Alerts still open at the end count with what they overlapped so far. */
  for (int s = 0; s < ev->n_slots; s++)
    if (ev->slots[s].open)
      tp += ev->slots[s].tp;
  recall = ev->n_eps ? (double)det / (double)ev->n_eps : 0.0;
  precision = ev->alerts ? (double)tp / (double)ev->alerts : 0.0;
  f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
  APPEND("{\"episodes\":%zu,\"detected\":%" PRId64 ",\"alerts\":%" PRId64
         ",\"true_alerts\":%" PRId64 ",\"precision\":%.4f,\"recall\":%.4f,\"f1\":%.4f,"
         "\"recall_by_type\":{",
         ev->n_eps, det, ev->alerts, tp, precision, recall, f1);
  for (int t = 0; t < ev->n_types; t++)
    APPEND("%s\"%s\":{\"episodes\":%" PRId64 ",\"detected\":%" PRId64 ",\"recall\":%.4f}",
           t ? "," : "", ev->types[t], t_eps[t], t_det[t],
           t_eps[t] ? (double)t_det[t] / (double)t_eps[t] : 0.0);
  APPEND("}}");
  return off;
}
