/* signal.c: SIGINT/SIGTERM only set a flag; the run loops poll it. */
#include "windwatch/signal.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t last_signal;

static void on_signal(int sig) {
  last_signal = sig;
  stop_flag = 1;
}

int ww_signal_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
    return -1;
  sa.sa_handler = SIG_IGN; /* a closed socket must give EPIPE, not kill us */
  if (sigaction(SIGPIPE, &sa, NULL) != 0)
    return -1;
  return 0;
}

int ww_signal_stop_requested(void) {
  return stop_flag != 0;
}
int ww_signal_last(void) {
  return (int)last_signal;
}
void ww_signal_request_stop(void) {
  stop_flag = 1;
}
