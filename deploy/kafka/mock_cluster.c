/*
 * windwatch-mock-kafka: hosts librdkafka's built-in mock cluster on 127.0.0.1
 * for a quick look at windwatch on a machine without Java.
 *
 * Prints the cluster's bootstrap address as one line on stdout once its
 * listeners are up, then serves until SIGINT or SIGTERM.
 *
 * The mock cluster keeps nothing on disk, fakes transactions and has no
 * timestamp lookup (ListOffsets by time), so it is no stand-in for a real
 * broker: deploy/kafka/kafka.sh starts a real one, and tests use only that.
 * librdkafka 2.0 picks the listening ports itself (ephemeral ports on
 * 127.0.0.1); there is no way to choose them.
 *
 * Exit codes: 0 stopped by a signal, 1 could not start, 2 bad usage.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* sigaction */
#endif

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#ifndef WW_VERSION
#define WW_VERSION "dev"
#endif

#define MOCK_MAX_BROKERS    16  /* sanity bound on --brokers */
#define MOCK_TOPIC_NAME_MAX 249 /* Kafka's own limit, bytes */
#define MOCK_POLL_MS        200 /* main loop wake-up interval, ms */

/* Set by the signal handler only; read by the main loop. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void usage(FILE *fp, const char *prog) {
  fprintf(fp,
          "Usage: %s [options] [TOPIC:PARTITIONS[:compact]]...\n"
          "\n"
          "Hosts librdkafka's mock Kafka cluster on 127.0.0.1, creates the\n"
          "given topics, prints the bootstrap address on stdout and serves\n"
          "until SIGINT/SIGTERM. For a quick look only: nothing is kept on\n"
          "disk, transactions are faked and ':compact' is accepted but not\n"
          "emulated. Use deploy/kafka/kafka.sh start for a real broker.\n"
          "\n"
          "Options:\n"
          "  -b, --brokers N   number of mock brokers (1..%d, default 1)\n"
          "  -h, --help        show this help and exit\n"
          "  -V, --version     show the version and exit\n",
          prog, MOCK_MAX_BROKERS);
}

/* Routes librdkafka's logs to stderr; stdout carries only the address. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  (void)rk;
  fprintf(stderr, "windwatch-mock-kafka: rdkafka %d %s: %s\n", level, fac, buf);
}

/**
 * @brief Parses "name:partitions[:compact]".
 *
 * @param spec the argument as given (not modified).
 * @param name receives the topic name, NUL-terminated.
 * @param name_size size of \p name in bytes.
 * @param partitions receives the partition count (> 0).
 * @returns 0 on success, -1 (with a message on stderr) on a malformed spec.
 */
static int parse_topic(const char *spec, char *name, size_t name_size, int *partitions) {
  const char *colon = strchr(spec, ':');
  const char *p;
  char *end;
  size_t len;
  long n;

  if (!colon || colon == spec) {
    fprintf(stderr,
            "windwatch-mock-kafka: topic '%s' must look like "
            "name:partitions[:compact], e.g. sensor-data:3\n",
            spec);
    return -1;
  }
  len = (size_t)(colon - spec);
  if (len > MOCK_TOPIC_NAME_MAX || len >= name_size) {
    fprintf(stderr,
            "windwatch-mock-kafka: topic name in '%s' is longer "
            "than %d bytes\n",
            spec, MOCK_TOPIC_NAME_MAX);
    return -1;
  }
  for (p = spec; p < colon; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '.' || *p == '_' || *p == '-')) {
      fprintf(stderr,
              "windwatch-mock-kafka: topic name in '%s' may "
              "only hold letters, digits, '.', '_' and '-'\n",
              spec);
      return -1;
    }
  }
  memcpy(name, spec, len);
  name[len] = '\0';

  errno = 0;
  n = strtol(colon + 1, &end, 10);
  if (errno != 0 || end == colon + 1 || n < 1 || n > INT_MAX ||
      (*end != '\0' && strcmp(end, ":compact") != 0)) {
    fprintf(stderr,
            "windwatch-mock-kafka: '%s' needs a partition count "
            "> 0 and at most a ':compact' suffix\n",
            spec);
    return -1;
  }
  *partitions = (int)n;
  return 0;
}

int main(int argc, char **argv) {
  static const struct option long_opts[] = {{"brokers", required_argument, NULL, 'b'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {NULL, 0, NULL, 0}};
  char errstr[512];
  char name[MOCK_TOPIC_NAME_MAX + 1];
  rd_kafka_conf_t *conf = NULL;
  rd_kafka_t *rk = NULL;
  rd_kafka_mock_cluster_t *mcluster = NULL;
  struct sigaction sa;
  const char *bootstraps;
  int broker_cnt = 1;
  int rc = 1;
  int opt, i, partitions;

  while ((opt = getopt_long(argc, argv, "b:hV", long_opts, NULL)) != -1) {
    switch (opt) {
    case 'b': {
      char *end;
      long n;

      errno = 0;
      n = strtol(optarg, &end, 10);
      if (errno != 0 || *end != '\0' || n < 1 || n > MOCK_MAX_BROKERS) {
        fprintf(stderr,
                "windwatch-mock-kafka: --brokers must "
                "be 1..%d (got '%s')\n",
                MOCK_MAX_BROKERS, optarg);
        return 2;
      }
      broker_cnt = (int)n;
      break;
    }
    case 'h': usage(stdout, argv[0]); return 0;
    case 'V':
      printf("windwatch-mock-kafka %s (librdkafka %s)\n", WW_VERSION, rd_kafka_version_str());
      return 0;
    default: usage(stderr, argv[0]); return 2;
    }
  }
  /* Check every topic before starting anything. */
  for (i = optind; i < argc; i++) {
    if (parse_topic(argv[i], name, sizeof(name), &partitions) != 0)
      return 2;
  }

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
    perror("windwatch-mock-kafka: sigaction");
    return 1;
  }

  /* The mock cluster needs a client instance for its thread and logs;
   * this producer never produces. */
  conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, log_cb);
  /* log_level 4 (warning): the client has no bootstrap.servers on purpose
   * and would say so at level 5. */
  if (rd_kafka_conf_set(conf, "client.id", "windwatch-mock-kafka", errstr, sizeof(errstr)) !=
          RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "windwatch-mock-kafka: %s\n", errstr);
    goto done;
  }
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    fprintf(stderr, "windwatch-mock-kafka: cannot create a client: %s\n", errstr);
    goto done; /* conf is still ours: rd_kafka_new failed */
  }
  conf = NULL; /* owned by rk now */

  mcluster = rd_kafka_mock_cluster_new(rk, broker_cnt);
  if (!mcluster) {
    fprintf(stderr,
            "windwatch-mock-kafka: cannot create a mock cluster "
            "of %d broker(s)\n",
            broker_cnt);
    goto done;
  }

  for (i = optind; i < argc; i++) {
    rd_kafka_resp_err_t err;

    /* Validated above; cannot fail here. */
    (void)parse_topic(argv[i], name, sizeof(name), &partitions);
    err = rd_kafka_mock_topic_create(mcluster, name, partitions, broker_cnt < 3 ? broker_cnt : 3);
    if (err) {
      fprintf(stderr,
              "windwatch-mock-kafka: cannot create topic "
              "%s with %d partition(s): %s\n",
              name, partitions, rd_kafka_err2str(err));
      goto done;
    }
    fprintf(stderr, "windwatch-mock-kafka: topic %s, %d partition(s)%s\n", name, partitions,
            strstr(argv[i] + strlen(name), ":compact") ? " (compaction not emulated)" : "");
  }

  bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
  fprintf(stderr,
          "windwatch-mock-kafka: %d mock broker(s) at %s (librdkafka "
          "%s); nothing is kept on disk, transactions are faked\n",
          broker_cnt, bootstraps, rd_kafka_version_str());
  if (printf("%s\n", bootstraps) < 0 || fflush(stdout) != 0) {
    perror("windwatch-mock-kafka: writing the address");
    goto done;
  }

  while (!stop_requested) {
    /* Serves log callbacks; returns early on events, at the
     * latest after MOCK_POLL_MS, or on a signal. */
    rd_kafka_poll(rk, MOCK_POLL_MS);
  }
  fprintf(stderr, "windwatch-mock-kafka: stopping\n");
  rc = 0;

done:
  if (mcluster)
    rd_kafka_mock_cluster_destroy(mcluster);
  if (rk)
    rd_kafka_destroy(rk);
  if (conf)
    rd_kafka_conf_destroy(conf);
  return rc;
}
