/**
 * @file producer_run.h
 * @brief windwatch-producer's run loop: pick the source (simulator, CSV
 *        replay, stdin) and the output (Kafka, HTTP), pace, report, shut down.
 */
#ifndef WW_PRODUCER_RUN_H
#define WW_PRODUCER_RUN_H

#include "windwatch/config.h"

/** Documented exit codes of windwatch-producer. */
enum {
  WW_PRODUCER_EXIT_OK = 0,          /* every reading taken from the source was delivered */
  WW_PRODUCER_EXIT_UNDELIVERED = 1, /* some readings failed, were dropped or left undelivered */
  WW_PRODUCER_EXIT_USAGE = 2,       /* bad flag or configuration */
  WW_PRODUCER_EXIT_FATAL = 3,       /* Kafka or other fatal error */
};

/**
 * @brief Run the producer as configured by \p cfg until --count, --duration,
 *        the end of the input, or SIGINT/SIGTERM; then flush and report.
 * @remark the caller has installed the signal handlers (ww_signal_install).
 * @returns one of the WW_PRODUCER_EXIT_* codes.
 */
int ww_producer_run(const ww_config_t *cfg);

#endif /* WW_PRODUCER_RUN_H */
