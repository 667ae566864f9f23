/*
 * e2e_probe.c: how long after its event time a message becomes visible to a
 * read_committed consumer, for the end-to-end latency benchmark.
 *
 *   e2e_probe BROKERS TOPIC SECONDS FIELD FILTER SKIP_BEFORE_MS OUT.tsv
 *
 * Consumes TOPIC from the beginning (a fresh group, read_committed) for
 * SECONDS. For every message whose value contains FILTER (empty: every
 * message) it reads the RFC 3339 string field FIELD (the event time: a
 * reading's "timestamp", an alert event's "updated_at", which is the event
 * time of the reading that caused the event) and, if that is not
 * before SKIP_BEFORE_MS (ms since epoch; warm-up), writes one line
 *   receipt_ms - event_ms <TAB> kafka_timestamp_ms - event_ms
 * to OUT.tsv. Receipt time is this process's wall clock when the message is
 * handed over; the Kafka timestamp is the producer's CreateTime. Producer,
 * processor and probe share one machine and so one clock.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "windwatch/timeutil.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

/* Finds "FIELD":"..." in \p buf and parses the string as RFC 3339. */
static int field_ms(const char *buf, size_t len, const char *field, int64_t *ms) {
  char key[80];
  const char *p, *q, *end = buf + len;
  int n = snprintf(key, sizeof(key), "\"%s\":\"", field);
  if (n <= 0 || (size_t)n >= sizeof(key))
    return -1;
  if (!(p = memmem(buf, len, key, (size_t)n)))
    return -1;
  p += n;
  if (!(q = memchr(p, '"', (size_t)(end - p))))
    return -1;
  return ww_ts_parse(p, (size_t)(q - p), ms);
}

int main(int argc, char **argv) {
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk = NULL;
  rd_kafka_topic_partition_list_t *subs = NULL;
  char errstr[512], group[96];
  int64_t deadline, skip_before;
  long kept = 0, seen = 0;
  FILE *out = NULL;
  int rc = 1;

  if (argc != 8) {
    fprintf(stderr, "usage: e2e_probe BROKERS TOPIC SECONDS FIELD FILTER SKIP_BEFORE_MS OUT.tsv\n");
    return 2;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  deadline = ww_mono_ms() + (int64_t)(atof(argv[3]) * 1000.0);
  skip_before = strtoll(argv[6], NULL, 10);
  snprintf(group, sizeof(group), "e2e-probe-%ld-%ld", (long)getpid(), (long)time(NULL));
  conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof(errstr)) ||
      rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
      rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof(errstr)) ||
      rd_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof(errstr)) ||
      rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) ||
      rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", errstr, sizeof(errstr))) {
    fprintf(stderr, "e2e_probe: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr)))) {
    fprintf(stderr, "e2e_probe: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  rd_kafka_poll_set_consumer(rk);
  subs = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subs, argv[2], RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(rk, subs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fprintf(stderr, "e2e_probe: cannot subscribe to %s\n", argv[2]);
    goto done;
  }
  if (!(out = fopen(argv[7], "w"))) {
    fprintf(stderr, "e2e_probe: cannot create %s\n", argv[7]);
    goto done;
  }
  while (!stop && ww_mono_ms() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    int64_t now = ww_now_ms(), ev, ts;
    rd_kafka_timestamp_type_t tstype;
    if (!m)
      continue;
    if (!m->err && m->payload) {
      seen++;
      if ((!argv[5][0] || memmem(m->payload, m->len, argv[5], strlen(argv[5]))) &&
          field_ms(m->payload, m->len, argv[4], &ev) == 0 && ev >= skip_before) {
        ts = rd_kafka_message_timestamp(m, &tstype);
        fprintf(out, "%lld\t%lld\n", (long long)(now - ev),
                (long long)(tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? 0 : ts - ev));
        kept++;
      }
    }
    rd_kafka_message_destroy(m);
  }
  fprintf(stderr, "e2e_probe: %s: %ld messages, %ld measured\n", argv[2], seen, kept);
  rc = 0;
done:
  if (out && fclose(out) != 0)
    rc = 1;
  rd_kafka_topic_partition_list_destroy(subs);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return rc;
}
