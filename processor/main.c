/* windwatch-processor: readings in; scores, window statistics, alerts and dead letters out. */
#include <curl/curl.h>
#include <stdio.h>
#ifdef WW_MIMALLOC
#include <mimalloc.h>
#endif

#include "processor_kafka.h"
#include "windwatch/config.h"
#include "windwatch/log.h"
#include "windwatch/signal.h"

int main(int argc, char **argv) {
  int exit_code = 0, rc;
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
