/**
 * @file processor.h
 * @brief windwatch-processor's engine, private to processor/ and its tests.
 *
 * The engine (processor_engine.c) turns raw reading bytes into outputs:
 * scored readings, window statistics, alert events and dead letters. It
 * knows nothing about Kafka: outputs go through a ww_proc_output_t, which
 * the Kafka layer (processor_kafka.c) implements with a producer and the
 * unit tests implement with an in-memory capture.
 *
 * Per-line state (window, previous window statistics, alert state, model)
 * lives in the engine, indexed by line; a line's readings all arrive on one
 * partition (keyed by production_line), so when that partition is revoked
 * the line's state is dropped and its new owner rebuilds it from the stream.
 */
#ifndef WW_PROCESSOR_H
#define WW_PROCESSOR_H

#include <stddef.h>
#include <stdint.h>

#include "windwatch/config.h"
#include "windwatch/reading.h"
#include "windwatch/window.h"
#include "processor_model.h"

/** Output topics. */
typedef enum ww_proc_out_e {
  WW_OUT_SCORED = 0, /* sensor-scored */
  WW_OUT_STATS,      /* window-stats */
  WW_OUT_ALERTS,     /* alerts */
  WW_OUT_DLQ,        /* sensor-data-dlq */
  WW_OUT_MODELS,     /* models */
  WW_OUT__COUNT
} ww_proc_out_t;

#define WW_OUT_BUFSZ 4096 /* bytes for one encoded output */

/** One Kafka header; value is borrowed, \p len bytes. */
typedef struct ww_proc_header_s {
  const char *name;
  const char *value;
  size_t len;
} ww_proc_header_t;

/**
 * Where outputs go. produce() copies what it needs before returning (every
 * pointer is borrowed) and returns 0, or -1 if the message could not be
 * queued (the engine counts it and goes on).
 */
typedef struct ww_proc_output_s {
  int (*produce)(void *opaque, ww_proc_out_t out, const char *key, size_t key_len, const char *val,
                 size_t len, const ww_proc_header_t *hdrs, int n_hdrs);
  void *opaque;
  /* Optional (NULL = none): a window of line \p line_idx that ends at event
   * time \p end_ms was just published (for the window close latency). */
  void (*window_closed)(void *opaque, int line_idx, int64_t end_ms);
  /* Optional (NULL = none): the alert event \p json (\p len bytes) is about
   * to be produced; \p summary is its one-line text for a console. */
  void (*alert_event)(void *opaque, const char *json, size_t len, const char *summary);
  /* Optional (NULL = the engine encodes and produces it): takes a copy of
   * each scored reading, in order, and sees that its sensor-scored message
   * gets produced. @returns 0, or -1 (counted as a produce error). */
  int (*scored)(void *opaque, const ww_reading_t *r, const ww_score_t *sc);
} ww_proc_output_t;

/** Engine settings, from the config (ww_proc_conf_load) or set by tests. */
typedef struct ww_proc_conf_s {
  ww_window_type_t window_type; /* time | count */
  int64_t window_size;          /* seconds (time) or readings (count) */
  int64_t window_slide;         /* same unit; 0 = size (tumbling) */
  int64_t allowed_lateness_ms;  /* time windows */
  double trend_threshold;       /* |slope| per minute that counts as a trend */
  double zscore_threshold;      /* |z| at or above it is a warning; 2x is critical */
  int alert_min_count;          /* consecutive anomalous readings that open an alert */
  int alert_clear_count;        /* consecutive normal readings that resolve it */
  int flush_on_end;             /* ww_proc_finish closes partial windows */
  int stuck_count;        /* a sensor repeating its value this many more times is stuck; 0 = off */
  ww_model_conf_t model;  /* Isolation Forest per line */
  const char *models_dir; /* write every model version here as a file; NULL = don't */
  int grade;              /* grade detection against ground truth, for the summary (default 1) */
} ww_proc_conf_t;

/** Counters, all since start. */
typedef struct ww_proc_counters_s {
  int64_t messages;                     /* input messages seen */
  int64_t readings;                     /* valid readings scored */
  int64_t windows;                      /* window-stats messages */
  int64_t alerts;                       /* alert episodes opened */
  int64_t alert_events;                 /* alert messages (opened + updated + resolved) */
  int64_t dead_letters;                 /* messages sent to the dead-letter topic */
  int64_t dlq_by_reason[WW_DLQ__COUNT]; /* dead letters per reason */
  int64_t anomalous;                    /* readings with severity > normal */
  int64_t produce_errors;               /* outputs the output layer refused */
  int64_t models;                       /* model versions trained */
  int64_t by_severity[3];               /* readings per ww_severity_t */
  int64_t score_decile[10]; /* readings with anomaly_score in [k/10, (k+1)/10) (1.0 in the last) */
} ww_proc_counters_t;

typedef struct ww_proc_s ww_proc_t;

/** Fill \p pc with the built-in defaults (count windows excluded: time, 60 s). */
void ww_proc_conf_defaults(ww_proc_conf_t *pc);

/**
 * @brief Fill \p pc from \p cfg (processor options).
 * @returns 0, or -1 with \p errstr naming the option, the value and the fix.
 */
int ww_proc_conf_load(const ww_config_t *cfg, ww_proc_conf_t *pc, char *errstr, size_t errstr_size);

/**
 * @brief Create an engine for \p fac (borrowed: must outlive the engine).
 * @returns NULL with \p errstr set. Free with ww_proc_destroy().
 */
ww_proc_t *ww_proc_new(const ww_factory_t *fac, const ww_proc_conf_t *pc,
                       const ww_proc_output_t *out, char *errstr, size_t errstr_size);
void ww_proc_destroy(ww_proc_t *proc);

/** Where an input message came from, for dead-letter headers and partition ownership. */
typedef struct ww_proc_src_s {
  const char *topic; /* source topic name */
  int32_t partition; /* source partition */
  int64_t offset;    /* source offset */
  const char *key;   /* message key or NULL */
  size_t key_len;
} ww_proc_src_t;

/**
 * @brief Process one input message: decode, dead-letter or score, window, alert.
 *        The same as ww_proc_enqueue() then ww_proc_flush().
 * @remark never fails on bad input: bad input becomes a dead letter.
 */
void ww_proc_message(ww_proc_t *proc, const char *buf, size_t len, const ww_proc_src_t *src);

/**
 * @brief Take one input message: decode it, dead-letter it or judge it by the
 *        rules now; its model score, and the outputs that depend on it, wait
 *        for ww_proc_flush() (or a full batch) so that the waiting readings
 *        are scored together. The outputs, their order per topic and key,
 *        and every counter end up exactly as with ww_proc_message().
 * @remark the caller must flush before committing the input's offsets.
 */
void ww_proc_enqueue(ww_proc_t *proc, const char *buf, size_t len, const ww_proc_src_t *src);

/** @brief Finish every waiting reading (see ww_proc_enqueue()). */
void ww_proc_flush(ww_proc_t *proc);

/**
 * @brief Replaying history: between ww_proc_replay_begin() and
 *        ww_proc_replay_end(), the messages given to ww_proc_enqueue() build
 *        the lines' state (windows, baselines, stuck-sensor memory, the
 *        watermark) as when they were first processed, and nothing else: no
 *        outputs, no alert steps, no model training, no counters, no grading.
 *        A line that moves to this processor thus resumes with the windows
 *        its previous owner had open (see ww_proc_restore_history()).
 */
void ww_proc_replay_begin(ww_proc_t *proc);
void ww_proc_replay_end(ww_proc_t *proc);

/**
 * @brief Count windows: the place in the stream of the lines whose readings
 *        come from input partition \p partition (their windows' and their
 *        components' reading counts), as the text a commit keeps with that
 *        partition's offset (see processor_counts.c).
 * @returns its length (it fits when < \p size), or 0 when there is nothing to
 *          keep (time windows, or no line reads from \p partition).
 */
size_t ww_proc_counts_save(const ww_proc_t *proc, int32_t partition, char *buf, size_t size);

/** One line's counts, read back from a committed offset. */
typedef struct ww_proc_count_s {
  int line;                            /* index into the factory's lines */
  int64_t added;                       /* readings of its count windows since they started */
  int64_t seq;                         /* the next window's window_seq */
  int64_t seen[WW_MAX_COMPONENTS + 1]; /* per component; the last: components not listed */
} ww_proc_count_t;

/**
 * @brief Read the text of ww_proc_counts_save() into at most \p max entries.
 * @returns the entries, or -1 when the text is not such a state. Lines not
 *          (or no longer) configured and malformed entries are left out,
 *          the last reason in \p errstr.
 */
int ww_proc_counts_parse(const ww_proc_t *proc, const char *text, size_t len, ww_proc_count_t *out,
                         int max, char *errstr, size_t errstr_size);

/** @returns how many of the last readings a replay needs for count windows
 *  to go on exactly from \p count readings: of a line's (\p line non-zero:
 *  the last closed window and the open ones), or of one of its components
 *  (the current pane and the two before it). */
int64_t ww_proc_counts_needed(const ww_proc_t *proc, int64_t count, int line);

/**
 * @brief Before the replay of a line that has no state here: its windows and
 *        components go on from \p c's committed counts less the readings the
 *        replay will give them (\p line_replayed of the line, \p
 *        comp_replayed[WW_MAX_COMPONENTS + 1] per component), so that they
 *        reach \p c's counts at the committed offset. Where the line's
 *        windows started again within the replay (a batch run's end), its
 *        readings before that go to the baselines only.
 * @returns 0, or -1 (time windows, the line has state, or the replay holds
 *          more of a component's readings than it had: other counts).
 */
int ww_proc_counts_seed(ww_proc_t *proc, const ww_proc_count_t *c, int64_t line_replayed,
                        const int64_t *comp_replayed);

/** @brief Count \p n outputs that failed after the output layer took them
 * (ww_proc_output_t.scored). */
void ww_proc_add_produce_errors(ww_proc_t *proc, int64_t n);

/**
 * @brief Load a model file written by --models-dir (or taken from the models
 *        topic) into the line named in it.
 * @returns 0, or -1 with \p errstr naming the file and the problem.
 */
int ww_proc_load_model(ww_proc_t *proc, const char *path, char *errstr, size_t errstr_size);

/**
 * @brief Load a serialised model (a --models-dir file, a models topic message)
 *        into the line it names. \p from names the source in messages.
 * @param only_if_none leave a line that already has a model alone, unless it has
 *        seen no reading here and \p json holds a newer version.
 * @returns 1 loaded, 0 left alone, -1 with \p errstr naming the source and problem.
 */
int ww_proc_load_model_json(ww_proc_t *proc, const char *json, size_t len, const char *from,
                            int only_if_none, char *errstr, size_t errstr_size);

/**
 * Carrying open alerts over from the alerts topic: ww_proc_carry_begin(),
 * then every alert event of the topic in order through ww_proc_carry_event(),
 * then ww_proc_carry_end(), which gives each line that has no state yet (no
 * reading since it started or was reset) the alerts the topic leaves open.
 * An open alert thus keeps its alert_id across a restart or a rebalance, and
 * the line's next owner resolves it.
 */
typedef struct ww_proc_carry_s ww_proc_carry_t;

/** @returns a replay of no events, or NULL (out of memory). */
ww_proc_carry_t *ww_proc_carry_begin(ww_proc_t *proc);

/**
 * Apply one alert event (the alerts topic's JSON). Messages that are not an
 * alert event of this factory's lines are skipped (0); an alert event of one
 * of them that cannot be decoded is skipped too, and returns -1.
 */
int ww_proc_carry_event(ww_proc_carry_t *c, const char *json, size_t len);

/** Hand the open alerts to the lines without state, free \p c. @returns alerts carried over. */
int ww_proc_carry_end(ww_proc_carry_t *c);

/** Free \p c without carrying anything over. NULL is a no-op. */
void ww_proc_carry_abort(ww_proc_carry_t *c);

/** End of input (--mode batch): flush, then close open windows if flush_on_end. */
void ww_proc_finish(ww_proc_t *proc);

/** The partition was revoked: drop the state, and the waiting readings, of
 *  every line last seen on it (flush first to keep them). */
void ww_proc_revoke(ww_proc_t *proc, int32_t partition);

/** Copy the counters to \p c. */
void ww_proc_counters(const ww_proc_t *proc, ww_proc_counters_t *c);

/**
 * @brief Where the model of line \p li stands (\p st).
 * @returns 1, or 0 when the line has no state here (no reading of it since
 *          the start or since its partition was revoked).
 */
int ww_proc_line_model(const ww_proc_t *proc, int li, ww_model_state_t *st);

/**
 * @brief The outputs up to here are committed: the summary counts them.
 * A rewind to this point (ww_proc_rewound) takes back what follows.
 */
void ww_proc_committed(ww_proc_t *proc);

/** The work since the last ww_proc_committed() was aborted and will be done
 *  again: the summary leaves it out (the plain counters keep counting work). */
void ww_proc_rewound(ww_proc_t *proc);

/** Copy the counters of committed work (the counters less rewound work) to \p c. */
void ww_proc_committed_counters(const ww_proc_t *proc, ww_proc_counters_t *c);

/**
 * @brief The one-line JSON summary printed by --mode batch (no newline), of
 *        committed work: readings processed again after a rewind count once.
 * @returns the length needed, like snprintf.
 */
size_t ww_proc_summary(const ww_proc_t *proc, char *buf, size_t size);

#endif /* WW_PROCESSOR_H */
