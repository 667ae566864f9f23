/* processor_counts.c: the count windows' place in the stream, kept with the
 * committed offsets (see ww_proc_counts_save() in processor.h).
 *
 * Count windows and the components' panes are numbered by the readings seen:
 * the line's n-th reading closes a window when n - size is a multiple of the
 * slide, and a component's k-th reading belongs to pane k / slide. A
 * processor that takes a line over needs those counts at the committed
 * offset to close the same windows; the input's offsets cannot tell them (a
 * partition carries dead letters and other lines too). So every commit keeps
 * them in the offset's metadata, a small JSON text:
 *
 *   {"ww_counts":1,"size":60,"slide":60,
 *    "lines":[{"id":"turbine-line-1","n":120345,"w":2005,
 *              "c":{"Blade":20061,"Hub":20050},"o":0}]}
 *
 * size, slide: the windows' (counts of other windows do not apply); n: the
 * line's readings since its windows started (a batch run's end closes the
 * open windows, and they start again); w: the next window's window_seq;
 * c: readings per component; o: readings of components the configuration
 * does not list. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "processor.h"
#include "windwatch/log.h"
#include "processor_state.h"

#define WW_COUNTS_VERSION 1

static int64_t slide_of(const ww_proc_t *proc) {
  return proc->conf.window_slide > 0 ? proc->conf.window_slide : proc->conf.window_size;
}

/* Count windows closed by the n-th reading since they started. */
static int64_t closed_by(const ww_proc_t *proc, int64_t n) {
  return n >= proc->conf.window_size ? (n - proc->conf.window_size) / slide_of(proc) + 1 : 0;
}

size_t ww_proc_counts_save(const ww_proc_t *proc, int32_t partition, char *buf, size_t size) {
  size_t n = 0;
  int lines = 0;
#define PUT(...)                                                                                   \
  do {                                                                                             \
    int w_ = snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, __VA_ARGS__);          \
    n += w_ > 0 ? (size_t)w_ : 0;                                                                  \
  } while (0)
  if (proc->conf.window_type != WW_WINDOW_COUNT)
    return 0;
  PUT("{\"ww_counts\":%d,\"size\":%" PRId64 ",\"slide\":%" PRId64 ",\"lines\":[", WW_COUNTS_VERSION,
      proc->conf.window_size, slide_of(proc));
  for (int li = 0; li < proc->fac->n_lines; li++) {
    const line_t *ln = &proc->lines[li];
    const ww_line_def_t *ld = &proc->fac->lines[li];
    int first = 1;
    int64_t seq, added;
    if (ln->partition != partition)
      continue;
    added = ww_window_count(ln->win, &seq);
    /* (ids hold no '"', '\\' or control characters: config.c checks them) */
    PUT("%s{\"id\":\"%s\",\"n\":%" PRId64 ",\"w\":%" PRId64 ",\"c\":{", lines++ ? "," : "", ld->id,
        added, seq);
    for (int c = 0; c < ld->n_components; c++) {
      if (ln->comps[c].seen == 0)
        continue;
      PUT("%s\"%s\":%" PRId64, first ? "" : ",", ld->components[c], ln->comps[c].seen);
      first = 0;
    }
    PUT("},\"o\":%" PRId64 "}", ln->comps[WW_MAX_COMPONENTS].seen);
  }
  PUT("]}");
#undef PUT
  return lines > 0 ? n : 0;
}

/* Whether \p v is a JSON integer in 0..2^53 (far more readings than a
 * stream will see, and room to count on); it goes to \p out. */
static int count_of(json_t *v, int64_t *out) {
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      json_integer_value(v) > ((json_int_t)1 << 53))
    return 0;
  *out = (int64_t)json_integer_value(v);
  return 1;
}

int ww_proc_counts_parse(const ww_proc_t *proc, const char *text, size_t len, ww_proc_count_t *out,
                         int max, char *errstr, size_t errstr_size) {
  json_error_t jerr;
  json_t *root = json_loadb(text, len, 0, &jerr), *lines, *l;
  size_t i;
  int n = 0;
  errstr[0] = '\0';
  if (!root || !json_is_object(root) ||
      json_integer_value(json_object_get(root, "ww_counts")) != WW_COUNTS_VERSION ||
      !json_is_array(lines = json_object_get(root, "lines"))) {
    snprintf(errstr, errstr_size, "not the count windows' state of this version");
    json_decref(root);
    return -1;
  }
  if (json_integer_value(json_object_get(root, "size")) != proc->conf.window_size ||
      json_integer_value(json_object_get(root, "slide")) != slide_of(proc)) {
    snprintf(errstr, errstr_size,
             "they are of windows of %" JSON_INTEGER_FORMAT " readings every %" JSON_INTEGER_FORMAT
             ", not of %" PRId64 " every %" PRId64,
             json_integer_value(json_object_get(root, "size")),
             json_integer_value(json_object_get(root, "slide")), proc->conf.window_size,
             slide_of(proc));
    json_decref(root);
    return -1;
  }
  json_array_foreach(lines, i, l) {
    const char *id = json_string_value(json_object_get(l, "id")), *cname;
    json_t *comps = json_object_get(l, "c"), *v;
    ww_proc_count_t *c = &out[n];
    int bad = 0;
    int li = id ? ww_factory_line_find(proc->fac, id, strlen(id)) : -1;
    if (li < 0) {
      snprintf(errstr, errstr_size, "line '%s' is not in the configuration", id ? id : "?");
      continue; /* the others are still good */
    }
    if (n == max)
      break;
    memset(c, 0, sizeof(*c));
    c->line = li;
    if (!count_of(json_object_get(l, "n"), &c->added) ||
        !count_of(json_object_get(l, "w"), &c->seq) || !json_is_object(comps) ||
        !count_of(json_object_get(l, "o"), &c->seen[WW_MAX_COMPONENTS])) {
      snprintf(errstr, errstr_size, "line '%s': its counts are malformed", id);
      continue;
    }
    json_object_foreach(comps, cname, v) {
      int ci = ww_factory_component_find(proc->fac, li, cname, strlen(cname));
      int64_t k;
      if (!count_of(v, &k)) {
        bad = 1;
        break;
      }
      /* A component no longer configured counted as one of the others. */
      c->seen[ci >= 0 ? ci : WW_MAX_COMPONENTS] += k;
    }
    if (bad) {
      snprintf(errstr, errstr_size, "line '%s': its counts are malformed", id);
      continue;
    }
    n++;
  }
  json_decref(root);
  return n;
}

int64_t ww_proc_counts_needed(const ww_proc_t *proc, int64_t count, int line) {
  int64_t size = proc->conf.window_size, slide = slide_of(proc);
  if (!line) /* a component: its current pane so far and the two before it */
    return count < count % slide + 2 * slide ? count : count % slide + 2 * slide;
  if (count < size)
    return count; /* no window closed yet: the open ones hold them all */
  /* From the start of the last window that closed (the line's z-score
   * baseline) on, which the open windows start after. */
  return count - (count - size) / slide * slide;
}

int ww_proc_counts_seed(ww_proc_t *proc, const ww_proc_count_t *c, int64_t line_replayed,
                        const int64_t *comp_replayed) {
  line_t *ln = &proc->lines[c->line];
  int64_t base = c->added - line_replayed, seq;
  if (proc->conf.window_type != WW_WINDOW_COUNT || ln->partition >= 0)
    return -1; /* the line has state already */
  for (int s = 0; s <= WW_MAX_COMPONENTS; s++)
    if (comp_replayed[s] > c->seen[s]) {
      WW_LOG(WW_LOG_WARN, "RESTORE",
             "%s: the input before the committed offset holds more readings of a component than "
             "the counts kept with it (%" PRId64 " against %" PRId64 "): its count windows "
             "start again at the next reading",
             proc->fac->lines[c->line].id, comp_replayed[s], c->seen[s]);
      return -1;
    }
  /* More of the line's readings replayed than its windows hold: they
   * started again after the first line_replayed - added (a batch run's end
   * closed them there), which go to the baselines only. */
  ln->win_skip = base < 0 ? -base : 0;
  if (base < 0)
    base = 0;
  seq = c->seq - (closed_by(proc, c->added) - closed_by(proc, base));
  if (seq < 0 || ww_window_set_count(ln->win, base, seq) != 0) {
    ln->win_skip = 0;
    return -1;
  }
  for (int s = 0; s <= WW_MAX_COMPONENTS; s++)
    ln->comps[s].seen = c->seen[s] - comp_replayed[s];
  return 0;
}
