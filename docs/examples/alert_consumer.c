/*
 * alert_consumer.c: subscribe to windwatch's alerts topic from another
 * team's C program. Built with the project (so it keeps compiling) as
 * build/bin/windwatch-example-alert-consumer.
 *
 *   cc alert_consumer.c -o alert_consumer $(pkg-config --cflags --libs rdkafka jansson)
 *   ./alert_consumer 127.0.0.1:9092 alerts my-team
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t run = 1;
static void stop(int sig) {
  (void)sig;
  run = 0;
}

int main(int argc, char **argv) {
  const char *brokers = argc > 1 ? argv[1] : "127.0.0.1:9092";
  const char *topic = argc > 2 ? argv[2] : "alerts";
  const char *group = argc > 3 ? argv[3] : "alert-example";
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_t *rk;
  rd_kafka_topic_partition_list_t *subs;

  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) ||
      rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
      /* The processor writes alerts in transactions: read only committed ones. */
      rd_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof(errstr)) ||
      rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof(errstr))) {
    fprintf(stderr, "config: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 2;
  }
  if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr)))) {
    fprintf(stderr, "consumer: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  rd_kafka_poll_set_consumer(rk);
  subs = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(rk, subs)) {
    fprintf(stderr, "cannot subscribe to %s\n", topic);
    rd_kafka_topic_partition_list_destroy(subs);
    rd_kafka_destroy(rk);
    return 1;
  }
  rd_kafka_topic_partition_list_destroy(subs);
  signal(SIGINT, stop);
  signal(SIGTERM, stop);

  while (run) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
    json_error_t jerr;
    json_t *alert;
    if (!m)
      continue;
    if (m->err) {
      fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    alert = json_loadb(m->payload, m->len, 0, &jerr);
    /* Check the version: a future "v": 2 may change fields. */
    if (alert && json_integer_value(json_object_get(alert, "v")) == 1)
      printf("%s %-8s %-8s %s %s max_score=%.3f\n",
             json_string_value(json_object_get(alert, "updated_at")),
             json_string_value(json_object_get(alert, "event")),
             json_string_value(json_object_get(alert, "severity")),
             json_string_value(json_object_get(alert, "production_line")),
             json_string_value(json_object_get(alert, "alert_id")),
             json_real_value(json_object_get(alert, "max_score")));
    else
      fprintf(stderr, "skipping a message that is not an alert v1: %s\n",
              alert ? "unknown version" : jerr.text);
    json_decref(alert);
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return 0;
}
