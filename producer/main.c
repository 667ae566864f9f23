/*
 * windwatch-producer: simulated, replayed or piped sensor readings into the
 * sensor-data topic (or POSTed to the api with --http).
 *
 * Exit codes: 0 every reading delivered; 1 some readings failed, were
 * dropped (--on-full drop) or were still undelivered when the flush timed
 * out; 2 bad flag or configuration; 3 Kafka or other fatal error.
 */
#include <curl/curl.h>

#include "producer_run.h"
#include "windwatch/config.h"
#include "windwatch/log.h"
#include "windwatch/signal.h"

int main(int argc, char **argv) {
  int exit_code = WW_PRODUCER_EXIT_USAGE;
  ww_config_t *cfg = ww_config_load(WW_ROLE_PRODUCER, "windwatch-producer", argc, argv, &exit_code);
  if (!cfg)
    return exit_code;
  if (ww_signal_install() != 0) {
    WW_LOG(WW_LOG_ERROR, "PRODUCER", "cannot install signal handlers");
    exit_code = WW_PRODUCER_EXIT_FATAL;
    goto done;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    WW_LOG(WW_LOG_ERROR, "PRODUCER", "cannot initialise libcurl");
    exit_code = WW_PRODUCER_EXIT_FATAL;
    goto done;
  }
  exit_code = ww_producer_run(cfg);
  curl_global_cleanup();
done:
  ww_config_destroy(cfg);
  return exit_code;
}
