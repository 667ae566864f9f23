/* windwatch-processor: readings in; scores, window statistics, alerts and dead letters out. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef WW_MIMALLOC
#include <mimalloc.h>
#endif

#include "processor_kafka.h"
#include "windwatch/config.h"
#include "windwatch/log.h"
#include "windwatch/signal.h"

#ifdef WW_MIMALLOC
/* Freed memory goes back to the OS after a second unused (a whole segment
 * after 5 s) instead of 25 ms (500 ms). librdkafka frees and allocates its
 * multi-megabyte fetch and decompression buffers many times a second while
 * catching up, and with the short delays each one was returned and faulted
 * in afresh: 70,000 to 100,000 page faults per million readings, 36,000 to
 * 47,000 with these, and a quarter of the processor's system time gone. Memory
 * left after a burst is still returned, a second later. MIMALLOC_DECOMMIT_DELAY
 * and MIMALLOC_SEGMENT_DECOMMIT_DELAY in the environment override these. */
static void allocator_setup(void) {
  if (!getenv("MIMALLOC_DECOMMIT_DELAY"))
    mi_option_set(mi_option_decommit_delay, 1000);
  if (!getenv("MIMALLOC_SEGMENT_DECOMMIT_DELAY"))
    mi_option_set(mi_option_segment_decommit_delay, 5000);
}
#endif

int main(int argc, char **argv) {
  int exit_code = 0, rc;
#ifdef WW_MIMALLOC
  allocator_setup();
#endif
  ww_config_t *cfg =
      ww_config_load(WW_ROLE_PROCESSOR, "windwatch-processor", argc, argv, &exit_code);
  if (!cfg)
    return exit_code;
  /* Before any thread starts: the webhook and e-mail handlers use libcurl. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    WW_LOG(WW_LOG_ERROR, "MAIN", "curl_global_init failed");
    ww_config_destroy(cfg);
    return 1;
  }
  if (ww_signal_install() != 0) {
    WW_LOG(WW_LOG_ERROR, "MAIN", "cannot install signal handlers");
    ww_config_destroy(cfg);
    curl_global_cleanup();
    return 1;
  }
#ifdef WW_MIMALLOC
  WW_LOG(WW_LOG_INFO, "MAIN", "allocator mimalloc %d.%d.%d", mi_version() / 100,
         mi_version() / 10 % 10, mi_version() % 10);
#endif
  rc = ww_proc_run(cfg);
  ww_config_destroy(cfg);
  curl_global_cleanup();
  return rc;
}
