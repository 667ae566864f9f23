/*
 * producer_replay.c: CSV replay and JSON-lines input.
 *
 * The CSV reader handles RFC 4180 quoting ("a,b", "say ""hi""") within one
 * line, CRLF endings and a UTF-8 byte-order mark on the header. Fields may
 * not span lines; such a row is reported as malformed.
 *
 * Ground truth: a label column (injected_anomaly=COLUMN) of 0/1 flags, as in
 * labelled benchmark data sets, or of anomaly type names; an optional
 * episode_id column. Without one, consecutive labelled rows of one component
 * with the same type form one episode with a generated id, so the
 * processor's batch evaluation counts an anomalous stretch once.
 */
#include "producer_replay.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "windwatch/log.h"
#include "windwatch/timeutil.h"

#define MAX_COLS    256        /* columns per row */
#define MAX_REPORTS 100        /* malformed rows reported one by one before a summary */
#define LABEL_TYPE  "labelled" /* injected_anomaly of a row flagged 1/true/yes */

/* Fields a column can feed; sensors follow as F_SENSOR + factory index. */
enum {
  F_TS,
  F_LINE,
  F_COMP,
  F_SEQ,
  F_LABEL,   /* injected_anomaly */
  F_EPISODE, /* episode_id */
  F_SENSOR,
  F_COUNT = F_SENSOR + WW_MAX_SENSORS
};

/* The ground-truth episode a component is in (generated ids). */
typedef struct episode_s {
  int64_t id;                     /* episode of the component's last row, 0 = it was unlabelled */
  char type[WW_ANOMALY_TYPE_MAX]; /* its injected_anomaly */
} episode_t;

struct ww_replay_s {
  const ww_factory_t *fac; /* borrowed */
  FILE *fp;                /* owned */
  char path[512];          /* for messages */
  char *line;              /* getline buffer, owned */
  size_t line_cap;
  uint64_t lineno;                                   /* 1-based number of the last line read */
  uint64_t skipped;                                  /* malformed rows */
  int col[F_COUNT];                                  /* column of each field, -1 = none */
  int n_header;                                      /* columns in the header */
  int def_line;                                      /* line index for rows without that column */
  char def_comp[WW_ID_MAX];                          /* component for rows without that column */
  int64_t seq[WW_MAX_LINES][WW_MAX_COMPONENTS + 1];  /* next sequence_number; last slot: others */
  episode_t ep[WW_MAX_LINES][WW_MAX_COMPONENTS + 1]; /* current episode; slots as seq */
  int64_t next_episode;                              /* next generated episode_id */
};

/* Split \p s in place into at most MAX_COLS fields. @returns the count, or -1 on bad quoting. */
static int csv_split(char *s, char **fields) {
  int n = 0;
  char *p = s;
  for (;;) {
    char *out;
    if (n == MAX_COLS)
      return -1;
    fields[n++] = out = p;
    if (*p == '"') {
      p++;
      for (;;) {
        if (!*p)
          return -1; /* unterminated quote */
        if (*p == '"') {
          if (p[1] == '"') {
            *out++ = '"';
            p += 2;
            continue;
          }
          p++;
          break;
        }
        *out++ = *p++;
      }
      if (*p && *p != ',')
        return -1; /* text after the closing quote */
    } else {
      while (*p && *p != ',')
        *out++ = *p++;
    }
    if (!*p) {
      *out = '\0';
      return n;
    }
    *out = '\0';
    p++;
  }
}

static void trim(char **s) {
  char *e;
  while (**s == ' ' || **s == '\t')
    (*s)++;
  e = *s + strlen(*s);
  while (e > *s && (e[-1] == ' ' || e[-1] == '\t'))
    *--e = '\0';
}

/* Read one line without its line ending. @returns its length, -1 at EOF, -2 on error. */
static long read_line(FILE *fp, char **buf, size_t *cap) {
  ssize_t n;
  errno = 0;
  n = getline(buf, cap, fp);
  if (n < 0)
    return (errno && !feof(fp)) ? -2 : -1;
  while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r'))
    (*buf)[--n] = '\0';
  return (long)n;
}

static const char *field_name(const ww_factory_t *fac, int f) {
  static const char *const names[] = {"timestamp",       "production_line",  "component_id",
                                      "sequence_number", "injected_anomaly", "episode_id"};
  return f < F_SENSOR ? names[f] : fac->sensors[f - F_SENSOR].name;
}

static int field_find(const ww_factory_t *fac, const char *name, size_t len) {
  for (int f = 0; f < F_SENSOR + fac->n_sensors; f++) {
    const char *fn = field_name(fac, f);
    if (strlen(fn) == len && strncasecmp(fn, name, len) == 0)
      return f;
  }
  return -1;
}

/* Apply "field=column,..." to rp->col, resolving names against the header. */
static int apply_map(ww_replay_t *rp, const char *map, char **hdr, int n_hdr, char *errstr,
                     size_t errstr_size) {
  const char *p = map;
  while (p && *p) {
    const char *end = strchr(p, ','), *eq;
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char col[256];
    int f, c = -1;
    eq = memchr(p, '=', len);
    if (!eq || eq == p || (size_t)(eq - p) + 1 >= len ||
        len - (size_t)(eq - p) - 1 >= sizeof(col)) {
      snprintf(errstr, errstr_size,
               "--replay-map: '%.*s' is not FIELD=COLUMN (e.g. "
               "temperature=value,timestamp=1)",
               (int)len, p);
      return -1;
    }
    if ((f = field_find(rp->fac, p, (size_t)(eq - p))) < 0) {
      snprintf(errstr, errstr_size,
               "--replay-map: unknown field '%.*s'; use timestamp, production_line, "
               "component_id, sequence_number, injected_anomaly, episode_id or a sensor of "
               "the config",
               (int)(eq - p), p);
      return -1;
    }
    memcpy(col, eq + 1, len - (size_t)(eq - p) - 1);
    col[len - (size_t)(eq - p) - 1] = '\0';
    if (strspn(col, "0123456789") == strlen(col)) {
      c = atoi(col) - 1;
      if (c < 0 || c >= n_hdr)
        c = -2;
    } else {
      for (int i = 0; i < n_hdr; i++)
        if (strcmp(hdr[i], col) == 0)
          c = i;
    }
    if (c < 0) {
      snprintf(errstr, errstr_size,
               "--replay-map: column '%s' for %s is not in %s (%d columns; "
               "give a header name or a number 1..%d)",
               col, field_name(rp->fac, f), rp->path, n_hdr, n_hdr);
      return -1;
    }
    rp->col[f] = c;
    p = end ? end + 1 : NULL;
  }
  return 0;
}

ww_replay_t *ww_replay_open(const ww_factory_t *fac, const char *path, const char *map,
                            const char *line, const char *component, char *errstr,
                            size_t errstr_size) {
  ww_replay_t *rp = calloc(1, sizeof(*rp));
  char *hdr[MAX_COLS];
  long n;
  int n_hdr, any_sensor = 0;
  if (!rp) {
    snprintf(errstr, errstr_size, "out of memory");
    goto err;
  }
  rp->fac = fac;
  rp->next_episode = 1;
  snprintf(rp->path, sizeof(rp->path), "%s", path);
  for (int f = 0; f < F_COUNT; f++)
    rp->col[f] = -1;
  if (!(rp->fp = fopen(path, "r"))) {
    snprintf(errstr, errstr_size, "--replay %s: cannot open: %s", path, strerror(errno));
    goto err;
  }
  if ((n = read_line(rp->fp, &rp->line, &rp->line_cap)) < 0) {
    snprintf(errstr, errstr_size, "--replay %s: %s", path,
             n == -1 ? "the file is empty; it needs a header row" : strerror(errno));
    goto err;
  }
  rp->lineno = 1;
  if (n >= 3 && memcmp(rp->line, "\xef\xbb\xbf", 3) == 0)
    memmove(rp->line, rp->line + 3, (size_t)n - 2);
  if ((n_hdr = csv_split(rp->line, hdr)) < 0) {
    snprintf(errstr, errstr_size,
             "--replay %s line 1: malformed header (bad quoting or over %d "
             "columns)",
             path, MAX_COLS);
    goto err;
  }
  for (int i = 0; i < n_hdr; i++) {
    int f;
    trim(&hdr[i]);
    if ((f = field_find(fac, hdr[i], strlen(hdr[i]))) >= 0 && rp->col[f] < 0)
      rp->col[f] = i; /* a header named like a field maps itself */
  }
  if (map && apply_map(rp, map, hdr, n_hdr, errstr, errstr_size) != 0)
    goto err;
  rp->n_header = n_hdr;
  for (int f = F_SENSOR; f < F_SENSOR + fac->n_sensors; f++)
    any_sensor |= rp->col[f] >= 0;
  if (rp->col[F_TS] < 0 || !any_sensor) {
    snprintf(errstr, errstr_size,
             "--replay %s: no column for %s; map one with --replay-map "
             "(e.g. --replay-map timestamp=1,temperature=value)",
             path, rp->col[F_TS] < 0 ? "the timestamp" : "any sensor");
    goto err;
  }
  rp->def_line = 0;
  if (line && (rp->def_line = ww_factory_line_find(fac, line, strlen(line))) < 0) {
    snprintf(errstr, errstr_size, "--replay-line '%s' is not a line of the config", line);
    goto err;
  }
  if (fac->n_lines == 0 || fac->lines[rp->def_line].n_components == 0) {
    snprintf(errstr, errstr_size, "--replay: the config has no line with components");
    goto err;
  }
  snprintf(rp->def_comp, sizeof(rp->def_comp), "%s",
           component ? component : fac->lines[rp->def_line].components[0]);
  if (!rp->def_comp[0]) {
    snprintf(errstr, errstr_size, "--replay-component is empty");
    goto err;
  }
  return rp;
err:
  ww_replay_close(rp);
  return NULL;
}

/* Report a malformed row; the first MAX_REPORTS one by one. */
static void row_bad(ww_replay_t *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row_bad(ww_replay_t *rp, const char *fmt, ...) {
  char why[512];
  va_list ap;
  rp->skipped++;
  if (rp->skipped > MAX_REPORTS)
    return;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  WW_LOG(WW_LOG_WARN, "REPLAY", "%s line %llu skipped: %s%s", rp->path,
         (unsigned long long)rp->lineno, why,
         rp->skipped == MAX_REPORTS ? " (further bad rows are only counted)" : "");
}

/*
 * A label cell: empty, 0, false, no, none, null or normal (any case) is no
 * anomaly; 1, true or yes is LABEL_TYPE; a name (a letter, then letters,
 * digits, '_' or '-', under WW_ANOMALY_TYPE_MAX bytes) is the anomaly type,
 * as written. @returns 0 with \p type set ("" = none), -1 for anything else.
 */
static int parse_label(const char *txt, char type[WW_ANOMALY_TYPE_MAX]) {
  static const char *const none[] = {"false", "no", "none", "null", "normal"};
  static const char *const yes[] = {"true", "yes"};
  size_t len = strlen(txt);
  char *end;
  double v;
  type[0] = '\0';
  if (!len)
    return 0;
  errno = 0;
  v = strtod(txt, &end);
  if (end != txt && !*end && !errno) { /* a number: a 0/1 flag */
    if (v != 0 && v != 1)
      return -1;
    if (v == 1)
      memcpy(type, LABEL_TYPE, sizeof(LABEL_TYPE));
    return 0;
  }
  for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
    if (strcasecmp(txt, none[i]) == 0)
      return 0;
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
    if (strcasecmp(txt, yes[i]) == 0) {
      memcpy(type, LABEL_TYPE, sizeof(LABEL_TYPE));
      return 0;
    }
  if (len >= WW_ANOMALY_TYPE_MAX ||
      !((txt[0] >= 'a' && txt[0] <= 'z') || (txt[0] >= 'A' && txt[0] <= 'Z')))
    return -1;
  if (strspn(txt, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len)
    return -1;
  memcpy(type, txt, len + 1);
  return 0;
}

/* A whole number >= 0 in \p txt. @returns 0 with \p v set, -1 if it is not one. */
static int parse_count(const char *txt, int64_t *v) {
  char *end;
  long long n;
  errno = 0;
  n = strtoll(txt, &end, 10);
  if (end == txt || *end || errno || n < 0)
    return -1;
  *v = n;
  return 0;
}

/* Timestamps: RFC 3339 / "YYYY-MM-DD HH:MM:SS", or epoch seconds (ms if > 1e11). */
static int parse_ts(const char *s, int64_t *ms) {
  char *end;
  double v;
  if (ww_ts_parse(s, strlen(s), ms) == 0)
    return 0;
  errno = 0;
  v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v) || v < 0 || v > 1e14)
    return -1;
  *ms = (int64_t)llround(v > 1e11 ? v : v * 1000.0);
  return 0;
}

int ww_replay_next(ww_replay_t *rp, ww_reading_t *r) {
  char *cols[MAX_COLS];
  for (;;) {
    long n = read_line(rp->fp, &rp->line, &rp->line_cap);
    int nc, slot, ok = 1;
    char type[WW_ANOMALY_TYPE_MAX] = "";
    int64_t episode = 0; /* from the episode_id column, 0 = none given */
    episode_t *ep;
    if (n == -1)
      return 0;
    if (n == -2) {
      WW_LOG(WW_LOG_ERROR, "REPLAY", "%s: read error after line %llu: %s", rp->path,
             (unsigned long long)rp->lineno, strerror(errno));
      return -1;
    }
    rp->lineno++;
    if (n == 0)
      continue; /* blank line */
    if ((nc = csv_split(rp->line, cols)) < 0) {
      row_bad(rp, "bad quoting or more than %d columns", MAX_COLS);
      continue;
    }
    if (nc != rp->n_header) {
      row_bad(rp, "%d columns, the header has %d", nc, rp->n_header);
      continue;
    }
    for (int i = 0; i < nc; i++)
      trim(&cols[i]);

    memset(r, 0, sizeof(*r));
    r->line_idx = rp->def_line;
    if (rp->col[F_LINE] >= 0) {
      const char *id = cols[rp->col[F_LINE]];
      if ((r->line_idx = ww_factory_line_find(rp->fac, id, strlen(id))) < 0) {
        row_bad(rp, "production_line '%.64s' is not in the config", id);
        continue;
      }
    }
    {
      const char *comp = rp->col[F_COMP] >= 0 ? cols[rp->col[F_COMP]] : rp->def_comp;
      if (!*comp || strlen(comp) >= sizeof(r->component_id)) {
        row_bad(rp, "component_id '%.64s' must be 1..%d bytes", comp, WW_ID_MAX - 1);
        continue;
      }
      memcpy(r->component_id, comp, strlen(comp) + 1);
      r->component_idx = ww_factory_component_find(rp->fac, r->line_idx, comp, strlen(comp));
    }
    if (parse_ts(cols[rp->col[F_TS]], &r->ts_ms) != 0) {
      row_bad(rp,
              "timestamp '%.40s' is not RFC 3339, 'YYYY-MM-DD HH:MM:SS' or epoch "
              "seconds",
              cols[rp->col[F_TS]]);
      continue;
    }
    for (int s = 0; s < rp->fac->n_sensors && ok; s++) {
      const ww_sensor_def_t *sd = &rp->fac->sensors[s];
      const char *txt;
      char *end;
      double v;
      if (rp->col[F_SENSOR + s] < 0)
        continue;
      txt = cols[rp->col[F_SENSOR + s]];
      if (!*txt)
        continue; /* an empty cell: this sensor has no value in this row */
      errno = 0;
      v = strtod(txt, &end);
      if (end == txt || *end || errno == ERANGE || !isfinite(v)) {
        row_bad(rp, "%s '%.40s' is not a finite number", sd->name, txt);
        ok = 0;
      } else if (v < sd->physical_min || v > sd->physical_max) {
        row_bad(rp, "%s '%.40s' is outside the sensor's physical limits", sd->name, txt);
        ok = 0;
      } else {
        r->values[s] = v;
        r->present |= 1u << s;
      }
    }
    if (!ok)
      continue;
    if (!r->present) {
      row_bad(rp, "no sensor value in the row");
      continue;
    }
    if (rp->col[F_SEQ] >= 0 && parse_count(cols[rp->col[F_SEQ]], &r->seq) != 0) {
      row_bad(rp, "sequence_number '%.40s' is not a whole number >= 0", cols[rp->col[F_SEQ]]);
      continue;
    }
    if (rp->col[F_LABEL] >= 0 && parse_label(cols[rp->col[F_LABEL]], type) != 0) {
      row_bad(rp,
              "injected_anomaly '%.40s' is not 0/1, true/false or an anomaly type name "
              "(a letter, then letters, digits, '_' or '-', at most %d bytes)",
              cols[rp->col[F_LABEL]], WW_ANOMALY_TYPE_MAX - 1);
      continue;
    }
    if (rp->col[F_EPISODE] >= 0 && *cols[rp->col[F_EPISODE]] &&
        parse_count(cols[rp->col[F_EPISODE]], &episode) != 0) {
      row_bad(rp, "episode_id '%.40s' is not a whole number >= 0", cols[rp->col[F_EPISODE]]);
      continue;
    }
    /* The row is valid: from here on its state sticks. Components not in the
     * config share the line's last slot. */
    slot = r->component_idx >= 0 ? r->component_idx : WW_MAX_COMPONENTS;
    if (rp->col[F_SEQ] < 0)
      r->seq = rp->seq[r->line_idx][slot]++;
    ep = &rp->ep[r->line_idx][slot];
    if (!type[0]) {
      ep->id = 0; /* an unlabelled row ends the episode; its episode_id cell means nothing */
    } else {
      if (episode > 0) /* the file's own id; generated ones continue above it */
        rp->next_episode = episode >= rp->next_episode ? episode + 1 : rp->next_episode;
      else if (ep->id && strcmp(ep->type, type) == 0)
        episode = ep->id; /* the component's labelled stretch goes on */
      else
        episode = rp->next_episode++;
      ep->id = episode;
      memcpy(ep->type, type, sizeof(ep->type));
      memcpy(r->injected_anomaly, type, sizeof(r->injected_anomaly));
      r->episode_id = episode;
    }
    return 1;
  }
}

uint64_t ww_replay_skipped(const ww_replay_t *rp) {
  return rp->skipped;
}

void ww_replay_close(ww_replay_t *rp) {
  if (!rp)
    return;
  if (rp->skipped > 0)
    WW_LOG(WW_LOG_WARN, "REPLAY", "%s: %llu malformed rows skipped", rp->path,
           (unsigned long long)rp->skipped);
  if (rp->fp)
    fclose(rp->fp);
  free(rp->line);
  free(rp);
}

#define JSONL_BUF (4 * WW_READING_MAX_BYTES) /* read buffer; holds the longest valid line */

struct ww_jsonl_s {
  const ww_factory_t *fac; /* borrowed */
  int fd;                  /* borrowed */
  char *buf;               /* JSONL_BUF + 1 bytes (room for a final NUL) */
  size_t start, end;       /* unread bytes are buf[start..end) */
  int eof;                 /* read(2) returned 0 */
  int skipping;            /* discarding the rest of an over-long line */
  uint64_t lineno;         /* lines seen */
  uint64_t skipped;        /* invalid lines */
};

ww_jsonl_t *ww_jsonl_new(const ww_factory_t *fac, int fd) {
  ww_jsonl_t *jl = calloc(1, sizeof(*jl));
  if (!jl || !(jl->buf = malloc(JSONL_BUF + 1))) {
    free(jl);
    return NULL;
  }
  jl->fac = fac;
  jl->fd = fd;
  return jl;
}

void ww_jsonl_destroy(ww_jsonl_t *jl) {
  if (!jl)
    return;
  free(jl->buf);
  free(jl);
}

uint64_t ww_jsonl_lineno(const ww_jsonl_t *jl) {
  return jl->lineno;
}
uint64_t ww_jsonl_skipped(const ww_jsonl_t *jl) {
  return jl->skipped;
}

/* Validate one line (NUL-terminated in place). @returns its length, or 0 to skip it. */
static size_t jsonl_line(ww_jsonl_t *jl, char *p, size_t len, ww_reading_t *r) {
  char why[256];
  jl->lineno++;
  if (jl->skipping) { /* the tail of an over-long line */
    jl->skipping = 0;
    return 0;
  }
  while (len > 0 && p[len - 1] == '\r')
    len--;
  p[len] = '\0';
  if (len == 0)
    return 0;
  if (ww_reading_decode(jl->fac, p, len, 0, r, why, sizeof(why)) != WW_DLQ_NONE) {
    jl->skipped++;
    WW_LOG(WW_LOG_WARN, "STDIN", "line %llu skipped: %s", (unsigned long long)jl->lineno, why);
    return 0;
  }
  return len;
}

long ww_jsonl_next(ww_jsonl_t *jl, const char **line, ww_reading_t *r,
                   void (*before_read)(void *opaque), void *opaque) {
  for (;;) {
    char *p = jl->buf + jl->start;
    char *nl = memchr(p, '\n', jl->end - jl->start);
    ssize_t n;
    size_t len;
    if (nl || (jl->eof && jl->start < jl->end)) { /* a whole line, or the last one */
      len = nl ? (size_t)(nl - p) : jl->end - jl->start;
      jl->start += len + (nl ? 1 : 0);
      if ((len = jsonl_line(jl, p, len, r)) > 0) {
        *line = p;
        return (long)len;
      }
      continue;
    }
    if (jl->eof)
      return 0;
    if (jl->end - jl->start >= WW_READING_MAX_BYTES) {
      jl->skipped++;
      jl->skipping = 1;
      WW_LOG(WW_LOG_WARN, "STDIN", "line %llu skipped: longer than %d bytes",
             (unsigned long long)jl->lineno + 1, WW_READING_MAX_BYTES);
      jl->start = jl->end = 0;
    }
    memmove(jl->buf, jl->buf + jl->start, jl->end - jl->start);
    jl->end -= jl->start;
    jl->start = 0;
    if (before_read)
      before_read(opaque);
    n = read(jl->fd, jl->buf + jl->end, JSONL_BUF - jl->end);
    if (n < 0 && errno == EINTR)
      return 0; /* a stop signal: the caller looks at the flag */
    if (n < 0) {
      WW_LOG(WW_LOG_ERROR, "STDIN", "read error after line %llu: %s",
             (unsigned long long)jl->lineno, strerror(errno));
      return -1;
    }
    if (n == 0)
      jl->eof = 1;
    jl->end += (size_t)n;
  }
}
