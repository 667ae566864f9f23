/*
 * ww-fence-txn: fence the producers of a transactional.id, as a second
 * instance starting with the same id would (tests only).
 *
 *   ww-fence-txn BROKERS TRANSACTIONAL_ID
 *
 * init_transactions() bumps the id's producer epoch: the broker aborts the
 * transaction open under the old epoch, and the old producer's next request
 * is refused (PRODUCER_FENCED), a fatal error for it. This producer then
 * goes away without a transaction of its own.
 *
 * Exit codes: 0 fenced, 1 the broker refused or did not answer, 2 bad usage.
 */
#include <stdio.h>

#include <librdkafka/rdkafka.h>

int main(int argc, char **argv) {
  char errstr[512];
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  rd_kafka_error_t *error;
  if (argc != 3) {
    fprintf(stderr, "usage: ww-fence-txn BROKERS TRANSACTIONAL_ID\n");
    return 2;
  }
  conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof(errstr)) ||
      rd_kafka_conf_set(conf, "transactional.id", argv[2], errstr, sizeof(errstr))) {
    fprintf(stderr, "ww-fence-txn: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 2;
  }
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    fprintf(stderr, "ww-fence-txn: %s\n", errstr);
    return 1;
  }
  error = rd_kafka_init_transactions(rk, 30000);
  if (error) {
    fprintf(stderr, "ww-fence-txn: init_transactions: %s\n", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    rd_kafka_destroy(rk);
    return 1;
  }
  rd_kafka_destroy(rk);
  return 0;
}
