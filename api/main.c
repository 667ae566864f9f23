/*
 * windwatch-api: REST endpoints, live events, CSV exports, metrics and the
 * dashboard over the sink's SQLite database. Flags: windwatch-api --help.
 *
 * With --brokers (or kafka.brokers / WINDWATCH_BROKERS) set, readings posted
 * to /api/predict are also produced to the sensor-data topic.
 *
 * Exit codes: 0 after SIGINT/SIGTERM, 1 if the server cannot start,
 * 2 for a usage or configuration error.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "api.h"
#include "windwatch/config.h"
#include "windwatch/kafka.h"
#include "windwatch/log.h"
#include "windwatch/signal.h"
#include "windwatch/timeutil.h"

#ifndef WW_API_SOURCE_WEB
#define WW_API_SOURCE_WEB "api/web"
#endif

/* The installed dashboard next to the binary (bin/../share/windwatch/web), else the source tree's.
 */
static const char *default_web_root(char *buf, size_t size) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    char *slash;
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/'))) {
      *slash = '\0';
      if ((size_t)snprintf(buf, size, "%s/../share/windwatch/web/index.html", exe) < size &&
          access(buf, R_OK) == 0) {
        buf[strlen(buf) - strlen("/index.html")] = '\0';
        return buf;
      }
    }
  }
  return WW_API_SOURCE_WEB;
}

int main(int argc, char **argv) {
  int exit_code = 2;
  ww_config_t *cfg = ww_config_load(WW_ROLE_API, "windwatch-api", argc, argv, &exit_code);
  ww_api_conf_t conf;
  ww_api_t *api = NULL;
  rd_kafka_t *rk = NULL;
  rd_kafka_conf_t *kconf;
  char errstr[512], webbuf[PATH_MAX];
  int undelivered;

  if (!cfg)
    return exit_code;
  memset(&conf, 0, sizeof(conf));
  if (ww_api_parse_listen(ww_config_str(cfg, "listen"), &conf, errstr, sizeof(errstr)) != 0) {
    fprintf(stderr, "windwatch-api: %s\n", errstr);
    exit_code = 2;
    goto done;
  }
  conf.db_path = ww_config_str(cfg, "db");
  conf.web_root = ww_config_str(cfg, "web-root");
  if (!conf.web_root)
    conf.web_root = default_web_root(webbuf, sizeof(webbuf));
  conf.token = ww_config_str(cfg, "token");
  conf.threads = (int)ww_config_int(cfg, "threads");
  if (conf.threads == 0) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    conf.threads = ncpu > 0 ? (int)ncpu : 2;
  }
  conf.max_body = (size_t)ww_config_int(cfg, "max-body");
  conf.fac = ww_config_factory(cfg);
  if (ww_config_is_set(cfg, "brokers")) {
    kconf = ww_kafka_conf_new(cfg, "windwatch-api", errstr, sizeof(errstr));
    if (!kconf || !(rk = ww_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, sizeof(errstr)))) {
      if (kconf)
        rd_kafka_conf_destroy(kconf);
      fprintf(stderr, "windwatch-api: %s\n", errstr);
      exit_code = 2;
      goto done;
    }
    conf.rk = rk;
    conf.topic_data = ww_config_str(cfg, "topic-sensor-data");
  }
  if (ww_signal_install() != 0) {
    fprintf(stderr, "windwatch-api: cannot install signal handlers\n");
    exit_code = 1;
    goto done;
  }
  api = ww_api_start(&conf, errstr, sizeof(errstr));
  if (!api) {
    fprintf(stderr, "windwatch-api: %s\n", errstr);
    exit_code = 1;
    goto done;
  }
  WW_LOG(WW_LOG_NOTICE, "API", "serving http://%s%s%s:%u/ (database %s, dashboard %s, %d threads)",
         strchr(conf.host, ':') ? "[" : "", conf.host[0] ? conf.host : "0.0.0.0",
         strchr(conf.host, ':') ? "]" : "", (unsigned)ww_api_port(api), conf.db_path, conf.web_root,
         conf.threads);
  while (!ww_signal_stop_requested()) {
    if (rk)
      rd_kafka_poll(rk, 200); /* delivery reports and errors */
    else
      ww_sleep_ms(200); /* returns early on a signal */
  }
  WW_LOG(WW_LOG_NOTICE, "API", "signal %d: stopping", ww_signal_last());
  exit_code = 0;
done:
  ww_api_stop(api);
  if (rk && (undelivered = ww_kafka_producer_close(rk, 5000)) > 0) {
    WW_LOG(WW_LOG_ERROR, "KAFKA", "%d predicted reading(s) not delivered to %s", undelivered,
           conf.topic_data);
    if (exit_code == 0)
      exit_code = 1;
  }
  ww_config_destroy(cfg);
  return exit_code;
}
