/*
 * test_kafka.c: configuration errors, EOF tracking, and a produce/consume
 * round trip through the helpers against librdkafka's in-process mock
 * cluster (fine for a unit test; integration tests use the real broker).
 */
#include <string.h>

#include "windwatch/config.h"
#include "windwatch/kafka.h"
#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h, which kafka.h includes */
#include "windwatch/timeutil.h"
#include "ww_test.h"

static void test_bad_property_is_named(void) {
  char err[512];
  char *argv[] = {"x", "-X", "no.such.property=1", NULL};
  ww_config_t *cfg =
      ww_config_load_yaml(WW_ROLE_PRODUCER, NULL, 0, NULL, 3, argv, err, sizeof(err));
  CHECK(cfg != NULL);
  if (!cfg)
    return;
  CHECK(ww_kafka_conf_new(cfg, "t", err, sizeof(err)) == NULL);
  CHECK_STR_CONTAINS(err, "no.such.property=1");
  ww_config_destroy(cfg);
}

static void test_eof_tracker(void) {
  ww_eof_t *eof = ww_eof_new();
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
  rd_kafka_topic_partition_list_add(l, "t", 0);
  rd_kafka_topic_partition_list_add(l, "t", 1);
  CHECK(!ww_eof_all(eof)); /* nothing assigned yet: never "done" */
  ww_eof_assign(eof, l);
  CHECK(!ww_eof_all(eof));
  ww_eof_reached(eof, "t", 0);
  CHECK(!ww_eof_all(eof));
  ww_eof_reached(eof, "t", 1);
  CHECK(ww_eof_all(eof));
  ww_eof_message(eof, "t", 1);
  CHECK(!ww_eof_all(eof));
  ww_eof_reached(eof, "t", 1);
  CHECK(ww_eof_all(eof));
  rd_kafka_topic_partition_list_destroy(l);
  l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, "t", 0);
  ww_eof_revoke(eof, l);
  CHECK(ww_eof_all(eof));
  rd_kafka_topic_partition_list_destroy(l);
  ww_eof_destroy(eof);
  ww_eof_destroy(NULL);
}

static void test_mock_round_trip(void) {
  char err[512];
  char *argv[] = {"x", "-X", "test.mock.num.brokers=1", NULL};
  ww_config_t *cfg =
      ww_config_load_yaml(WW_ROLE_PROCESSOR, NULL, 0, NULL, 3, argv, err, sizeof(err));
  rd_kafka_conf_t *conf;
  rd_kafka_t *prod, *cons;
  int got = 0;
  int64_t deadline;
  CHECK(cfg != NULL);
  if (!cfg)
    return;
  conf = ww_kafka_conf_new(cfg, "t-prod", err, sizeof(err));
  CHECK(conf != NULL);
  prod = conf ? ww_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)) : NULL;
  CHECK(prod != NULL);
  if (!prod)
    goto out;
  CHECK_INT_EQ(ww_kafka_wait_ready(prod, 5000, err, sizeof(err)), 0);
  for (int i = 0; i < 10; i++)
    CHECK_INT_EQ(rd_kafka_producev(prod, RD_KAFKA_V_TOPIC("t"), RD_KAFKA_V_VALUE("m", 1),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                 0);
  /* The mock cluster lives inside the producer; consume from the same
   * bootstrap address before closing it. */
  {
    const char *k, *v;
    char bootstraps[256] = "";
    size_t sz = sizeof(bootstraps);
    rd_kafka_conf_res_t res =
        rd_kafka_conf_get(rd_kafka_conf(prod), "bootstrap.servers", bootstraps, &sz);
    CHECK_INT_EQ(res, RD_KAFKA_CONF_OK);
    (void)k;
    (void)v;
    rd_kafka_flush(prod, 5000);
    conf = rd_kafka_conf_new();
    CHECK_INT_EQ(ww_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err)), 0);
    CHECK_INT_EQ(ww_kafka_conf_set(conf, "group.id", "g", err, sizeof(err)), 0);
    CHECK_INT_EQ(ww_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err)), 0);
    cons = ww_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    CHECK(cons != NULL);
    if (cons) {
      const char *topics[] = {"t"};
      CHECK_INT_EQ(ww_kafka_subscribe(cons, topics, 1, err, sizeof(err)), 0);
      deadline = ww_mono_ms() + 20000;
      while (got < 10 && ww_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 200);
        if (m && !m->err)
          got++;
        if (m)
          rd_kafka_message_destroy(m);
      }
      ww_kafka_consumer_close(cons);
    }
  }
  CHECK_INT_EQ(got, 10);
  CHECK_INT_EQ(ww_kafka_producer_close(prod, 5000), 0);
out:
  ww_config_destroy(cfg);
}

/* ww_kafka_committed() rides out a coordinator that moves or loads, reads a
 * committed offset and "nothing committed", and gives up at once on an error
 * that asking again cannot fix. */
#define OFFSET_FETCH 9 /* the Kafka protocol's ApiKey of OffsetFetch */

static void test_committed_retries(void) {
  char err[512], bootstraps[256] = "";
  size_t sz = sizeof(bootstraps);
  char *argv[] = {"x", "-X", "test.mock.num.brokers=1", NULL};
  ww_config_t *cfg =
      ww_config_load_yaml(WW_ROLE_PROCESSOR, NULL, 0, NULL, 3, argv, err, sizeof(err));
  rd_kafka_conf_t *conf = cfg ? ww_kafka_conf_new(cfg, "t-prod", err, sizeof(err)) : NULL;
  rd_kafka_t *prod = conf ? ww_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)) : NULL, *cons;
  rd_kafka_mock_cluster_t *mc = prod ? rd_kafka_handle_mock_cluster(prod) : NULL;
  rd_kafka_topic_partition_list_t *parts;
  int64_t t0;
  CHECK(mc != NULL);
  if (!mc)
    goto out;
  CHECK_INT_EQ(rd_kafka_mock_topic_create(mc, "c", 2, 1), 0);
  CHECK_INT_EQ(rd_kafka_conf_get(rd_kafka_conf(prod), "bootstrap.servers", bootstraps, &sz),
               RD_KAFKA_CONF_OK);
  conf = rd_kafka_conf_new();
  CHECK_INT_EQ(ww_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err)), 0);
  CHECK_INT_EQ(ww_kafka_conf_set(conf, "group.id", "gc", err, sizeof(err)), 0);
  cons = ww_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  CHECK(cons != NULL);
  if (!cons)
    goto out;
  parts = rd_kafka_topic_partition_list_new(2);
  rd_kafka_topic_partition_list_add(parts, "c", 0)->offset = 7;
  parts->elems[0].metadata = strdup("counts of 7"); /* (the processor's count windows) */
  parts->elems[0].metadata_size = strlen("counts of 7");
  CHECK_INT_EQ(rd_kafka_commit(cons, parts, 0), 0);
  rd_kafka_topic_partition_list_add(parts, "c", 1); /* never committed */

  rd_kafka_mock_push_request_errors(
      mc, OFFSET_FETCH, 3, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
      RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
  CHECK_INT_EQ(ww_kafka_committed(cons, parts, 20000), 0);
  CHECK_INT_EQ(parts->elems[0].offset, 7);
  CHECK_INT_EQ(parts->elems[1].offset, RD_KAFKA_OFFSET_INVALID);

  rd_kafka_mock_push_request_errors(mc, OFFSET_FETCH, 1,
                                    RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
  t0 = ww_mono_ms();
  CHECK_INT_EQ(ww_kafka_committed(cons, parts, 20000),
               RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
  CHECK(ww_mono_ms() - t0 < 10000); /* not retried until the deadline */

  rd_kafka_topic_partition_list_destroy(parts);

  /* ww_kafka_resolve_beginning(): BEGINNING becomes the low watermark, other
   * offsets stay, and a partition whose watermark cannot be read keeps
   * BEGINNING. */
  for (int i = 0; i < 3; i++)
    CHECK_INT_EQ(rd_kafka_producev(prod, RD_KAFKA_V_TOPIC("c"), RD_KAFKA_V_PARTITION(1),
                                   RD_KAFKA_V_VALUE("m", 1),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                 0);
  CHECK_INT_EQ(rd_kafka_flush(prod, 5000), 0);
  parts = rd_kafka_topic_partition_list_new(4);
  rd_kafka_topic_partition_list_add(parts, "c", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_topic_partition_list_add(parts, "c", 1)->offset = 2;
  rd_kafka_topic_partition_list_add(parts, "c", 1)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_topic_partition_list_add(parts, "c", 9)->offset = RD_KAFKA_OFFSET_BEGINNING;
  ww_kafka_resolve_beginning(cons, parts, 2000);
  CHECK_INT_EQ(parts->elems[0].offset, 0);
  CHECK_INT_EQ(parts->elems[1].offset, 2);
  CHECK_INT_EQ(parts->elems[2].offset, RD_KAFKA_OFFSET_END);
  CHECK_INT_EQ(parts->elems[3].offset, RD_KAFKA_OFFSET_BEGINNING); /* no such partition */
  rd_kafka_topic_partition_list_destroy(parts);

  /* ww_kafka_resume_offsets(): the committed offset, else the low watermark
   * (an absolute offset, not BEGINNING); an unreadable commit changes nothing. */
  parts = rd_kafka_topic_partition_list_new(2);
  rd_kafka_topic_partition_list_add(parts, "c", 0);
  rd_kafka_topic_partition_list_add(parts, "c", 1);
  CHECK_INT_EQ(ww_kafka_resume_offsets(cons, parts, 20000, 20000), 0);
  CHECK_INT_EQ(parts->elems[0].offset, 7);
  CHECK_INT_EQ(parts->elems[1].offset, 0);
  /* the metadata committed with an offset comes with it */
  CHECK_INT_EQ(parts->elems[0].metadata_size, strlen("counts of 7"));
  if (parts->elems[0].metadata)
    CHECK(memcmp(parts->elems[0].metadata, "counts of 7", strlen("counts of 7")) == 0);
  CHECK(parts->elems[1].metadata == NULL);
  parts->elems[0].offset = parts->elems[1].offset = RD_KAFKA_OFFSET_INVALID;
  rd_kafka_mock_push_request_errors(mc, OFFSET_FETCH, 1,
                                    RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
  CHECK_INT_EQ(ww_kafka_resume_offsets(cons, parts, 20000, 20000),
               RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
  CHECK_INT_EQ(parts->elems[0].offset, RD_KAFKA_OFFSET_INVALID);
  CHECK_INT_EQ(parts->elems[1].offset, RD_KAFKA_OFFSET_INVALID);
  rd_kafka_topic_partition_list_destroy(parts);

  ww_kafka_consumer_close(cons);
out:
  if (prod)
    rd_kafka_destroy(prod);
  ww_config_destroy(cfg);
}

/* Subscribing consumers look for new topics every 10 s unless -X says otherwise. */
static void test_group_defaults(void) {
  const char *want[] = {"10000", "2500"};
  for (int i = 0; i < 2; i++) {
    char err[512], v[32] = "";
    size_t vsz = sizeof(v);
    char *argv[] = {"x", "-X", "topic.metadata.refresh.interval.ms=2500", NULL};
    ww_config_t *cfg = ww_config_load_yaml(WW_ROLE_PROCESSOR, NULL, 0, NULL, i == 0 ? 1 : 3, argv,
                                           err, sizeof(err));
    rd_kafka_conf_t *conf;
    CHECK(cfg != NULL);
    if (!cfg)
      return;
    conf = ww_kafka_conf_new(cfg, "t", err, sizeof(err));
    CHECK(conf != NULL);
    if (conf) {
      CHECK_INT_EQ(ww_kafka_group_defaults(cfg, conf, err, sizeof(err)), 0);
      CHECK_INT_EQ(rd_kafka_conf_get(conf, "topic.metadata.refresh.interval.ms", v, &vsz),
                   RD_KAFKA_CONF_OK);
      CHECK_STR_EQ(v, want[i]);
      rd_kafka_conf_destroy(conf);
    }
    ww_config_destroy(cfg);
  }
  CHECK_STR_CONTAINS(ww_kafka_consume_hint(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART),
                     "create the topic");
  CHECK_STR_EQ(ww_kafka_consume_hint(RD_KAFKA_RESP_ERR__TRANSPORT), "");
}

/* ww_kafka_key_hash() is the default partitioner's hash; the key-hash
 * partitioner puts each message where the default one would, by the hash in
 * its opaque, and stands aside when another partitioner is configured. */
static void test_key_hash(void) {
  static const char *keys[] = {"turbine-line-1",      "turbine-line-2", "turbine-line-3", "a",
                               "blade \xc3\xa9 line", "123456789"};
  char long_key[300];
  for (size_t i = 0; i < sizeof(long_key); i++)
    long_key[i] = (char)(' ' + (i * 7) % 90);
  CHECK(ww_kafka_key_hash("123456789", 9) == 0xCBF43926u); /* CRC-32's check value */
  for (int32_t cnt = 1; cnt <= 64; cnt++) {
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
      CHECK_INT_EQ(
          ww_kafka_key_hash(keys[i], strlen(keys[i])) % (uint32_t)cnt,
          rd_kafka_msg_partitioner_consistent(NULL, keys[i], strlen(keys[i]), cnt, NULL, NULL));
    for (size_t len = 1; len <= sizeof(long_key); len += 37)
      CHECK_INT_EQ(ww_kafka_key_hash(long_key, len) % (uint32_t)cnt,
                   rd_kafka_msg_partitioner_consistent(NULL, long_key, len, cnt, NULL, NULL));
  }
}

static int32_t hashed_partition[8];

static void hash_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  (void)opaque;
  if (!m->err && m->len == 1 && m->payload && *(const char *)m->payload >= '0' &&
      *(const char *)m->payload < '8')
    hashed_partition[*(const char *)m->payload - '0'] = m->partition;
}

static void test_key_hash_partitioner(void) {
  char err[512];
  for (int other = 0; other < 2; other++) {
    char *argv[] = {"x", "-X", "test.mock.num.brokers=1", "-X", "partitioner=murmur2_random", NULL};
    ww_config_t *cfg = ww_config_load_yaml(WW_ROLE_PROCESSOR, NULL, 0, NULL, other ? 5 : 3, argv,
                                           err, sizeof(err));
    rd_kafka_conf_t *conf = cfg ? ww_kafka_conf_new(cfg, "t-hash", err, sizeof(err)) : NULL;
    rd_kafka_t *prod;
    rd_kafka_topic_conf_t *tc;
    rd_kafka_topic_t *rkt;
    uint32_t h1, h2;
    CHECK(conf != NULL);
    if (!conf) {
      ww_config_destroy(cfg);
      return;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, hash_dr);
    prod = ww_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    CHECK(prod != NULL);
    if (!prod) {
      ww_config_destroy(cfg);
      return;
    }
    tc = ww_kafka_key_hash_topic_conf(prod);
    if (other) { /* -X partitioner=murmur2_random is kept */
      CHECK(tc == NULL);
      rd_kafka_destroy(prod);
      ww_config_destroy(cfg);
      continue;
    }
    CHECK(tc != NULL);
    CHECK_INT_EQ(rd_kafka_mock_topic_create(rd_kafka_handle_mock_cluster(prod), "hk", 7, 1), 0);
    rkt = rd_kafka_topic_new(prod, "hk", tc);
    CHECK(rkt != NULL);
    CHECK_INT_EQ(ww_kafka_wait_ready(prod, 5000, err, sizeof(err)), 0);
    h1 = ww_kafka_key_hash("turbine-line-1", 14);
    h2 = ww_kafka_key_hash("turbine-line-2", 14);
    for (int i = 0; i < 8; i++)
      hashed_partition[i] = -1;
    /* 0, 1: each key with its own hash; 2: a hash that is not the key's
     * (the opaque decides: proof that the key was not hashed again);
     * 3: no opaque, the key is hashed. */
    CHECK_INT_EQ(rd_kafka_producev(prod, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY("turbine-line-1", 14),
                                   RD_KAFKA_V_VALUE("0", 1), RD_KAFKA_V_OPAQUE(&h1),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                 0);
    CHECK_INT_EQ(rd_kafka_producev(prod, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY("turbine-line-2", 14),
                                   RD_KAFKA_V_VALUE("1", 1), RD_KAFKA_V_OPAQUE(&h2),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                 0);
    CHECK_INT_EQ(rd_kafka_producev(prod, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY("turbine-line-1", 14),
                                   RD_KAFKA_V_VALUE("2", 1), RD_KAFKA_V_OPAQUE(&h2),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                 0);
    CHECK_INT_EQ(rd_kafka_producev(prod, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY("turbine-line-2", 14),
                                   RD_KAFKA_V_VALUE("3", 1),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                 0);
    CHECK_INT_EQ(rd_kafka_flush(prod, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK_INT_EQ(hashed_partition[0], (int32_t)(h1 % 7));
    CHECK_INT_EQ(hashed_partition[1], (int32_t)(h2 % 7));
    CHECK_INT_EQ(hashed_partition[2], (int32_t)(h2 % 7));
    CHECK_INT_EQ(hashed_partition[3], (int32_t)(h2 % 7));
    CHECK(h1 % 7 != h2 % 7); /* else the checks above could not tell the keys apart */
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(prod);
    ww_config_destroy(cfg);
  }
}

int main(void) {
  RUN(test_bad_property_is_named);
  RUN(test_eof_tracker);
  RUN(test_mock_round_trip);
  RUN(test_committed_retries);
  RUN(test_group_defaults);
  RUN(test_key_hash);
  RUN(test_key_hash_partitioner);
  return WW_TEST_RESULT();
}
