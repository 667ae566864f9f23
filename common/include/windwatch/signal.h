/**
 * @file signal.h
 * @brief SIGINT/SIGTERM handling: the handler only sets a flag.
 */
#ifndef WW_SIGNAL_H
#define WW_SIGNAL_H

/** Install handlers for SIGINT and SIGTERM, ignore SIGPIPE. @returns 0 or -1. */
int ww_signal_install(void);
/** @returns non-zero once SIGINT or SIGTERM has arrived (or ww_signal_request_stop()). */
int ww_signal_stop_requested(void);
/** @returns the number of the last stop signal received, 0 if none. */
int ww_signal_last(void);
/** Ask the run loop to stop, as a signal would (for tests and fatal errors). */
void ww_signal_request_stop(void);

#endif /* WW_SIGNAL_H */
