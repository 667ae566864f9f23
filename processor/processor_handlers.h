/**
 * @file processor_handlers.h
 * @brief Alert handlers behind one small interface: console, webhook, e-mail.
 *
 * The Kafka topic is the primary handler (the engine produces to it inside
 * the transaction). The others are side effects outside Kafka, so they only
 * see events whose transaction committed: the run loop stages every alert
 * event and hands the staged ones over after a successful commit (an aborted
 * transaction's events are dropped with it).
 *
 * Delivery never blocks the stream: ww_handlers_submit() copies the event
 * into a bounded queue served by one worker thread; when the queue is full
 * the event is dropped and counted. The worker posts to the webhook with
 * retries and exponential backoff, and mails critical events over SMTP,
 * at most one mail per interval (the rest are counted as suppressed).
 */
#ifndef WW_PROCESSOR_HANDLERS_H
#define WW_PROCESSOR_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ww_handlers_conf_s {
  int console;                /* one line per alert change on stderr (WW_LOG notice) */
  const char *webhook_url;    /* POST each event as JSON here; NULL = off */
  int webhook_retries;        /* retries after the first attempt */
  int64_t webhook_timeout_ms; /* per attempt */
  const char *email_url;      /* smtp://host:port or smtps://...; NULL = off */
  const char *email_from;     /* envelope and header From */
  const char *email_to;       /* one recipient */
  int64_t email_interval_ms;  /* at most one mail per this interval */
  int queue_max;              /* events waiting for the worker */
} ww_handlers_conf_t;

typedef struct ww_handlers_stats_s {
  int64_t submitted;  /* events handed over */
  int64_t delivered;  /* webhook posts answered 2xx */
  int64_t failed;     /* webhook posts that failed after every retry */
  int64_t dropped;    /* events dropped because the queue was full */
  int64_t mailed;     /* e-mails sent */
  int64_t suppressed; /* critical events not mailed because of the rate limit */
} ww_handlers_stats_t;

typedef struct ww_handlers_s ww_handlers_t;

/**
 * @brief Start the handlers (and the worker thread if a webhook or e-mail is set).
 * @returns NULL with \p errstr set on failure. Strings in \p conf are copied.
 */
ww_handlers_t *ww_handlers_new(const ww_handlers_conf_t *conf, char *errstr, size_t errstr_size);

/**
 * @brief Stop: wait up to \p drain_ms for queued events, then stop the worker and free.
 *        NULL is a no-op.
 */
void ww_handlers_destroy(ww_handlers_t *h, int64_t drain_ms);

/**
 * @brief Hand one committed alert event (JSON, \p len bytes, copied) to every
 *        handler. \p summary is the console's line for it (ww_alert_summary();
 *        NULL: nothing on the console).
 */
void ww_handlers_submit(ww_handlers_t *h, const char *json, size_t len, const char *summary);

/** Copy the counters to \p st (thread-safe). */
void ww_handlers_stats(ww_handlers_t *h, ww_handlers_stats_t *st);

#endif /* WW_PROCESSOR_HANDLERS_H */
