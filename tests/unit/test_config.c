/* test_config.c: defaults, YAML, flags, validation messages, factory. */
#include <stdlib.h>
#include <string.h>

#include "windwatch/config.h"
#include "ww_test.h"

static ww_config_t *load(ww_role_t role, const char *yaml, int argc, char **argv, char *err,
                         size_t n) {
  return ww_config_load_yaml(role, yaml, yaml ? strlen(yaml) : 0, "t.yaml", argc, argv, err, n);
}

static void test_defaults_are_the_original_factory(void) {
  char err[512];
  char *argv[] = {"x", NULL};
  ww_config_t *cfg = load(WW_ROLE_PROCESSOR, NULL, 1, argv, err, sizeof(err));
  const ww_factory_t *fac;
  CHECK(cfg != NULL);
  if (!cfg)
    return;
  fac = ww_config_factory(cfg);
  CHECK_STR_EQ(fac->company, "PTech");
  CHECK_INT_EQ(fac->n_lines, 2);
  CHECK_STR_EQ(fac->lines[0].id, "turbine-line-1");
  CHECK_STR_EQ(fac->lines[0].name, "Blade Production Line");
  CHECK_INT_EQ(fac->lines[0].n_components, 3);
  CHECK_STR_EQ(fac->lines[0].components[2], "Curing Oven");
  CHECK_STR_EQ(fac->lines[1].components[1], "Gearbox");
  CHECK_INT_EQ(fac->n_sensors, 3);
  CHECK_STR_EQ(fac->sensors[2].name, "sound_level");
  CHECK_DBL_NEAR(fac->sensors[0].min, 10, 0);
  CHECK_DBL_NEAR(fac->sensors[0].max, 40, 0);
  CHECK_DBL_NEAR(fac->sensors[0].warning, 30, 0);
  CHECK_DBL_NEAR(fac->sensors[1].warning, 60, 0);
  CHECK_DBL_NEAR(fac->sensors[2].warning, 70, 0);
  CHECK_STR_EQ(ww_config_str(cfg, "brokers"), "127.0.0.1:9092");
  CHECK_STR_EQ(ww_config_str(cfg, "topic-sensor-data"), "sensor-data");
  CHECK_STR_EQ(ww_config_str(cfg, "window-type"), "time");
  CHECK_INT_EQ(ww_config_int(cfg, "window-size"), 60);
  CHECK(!ww_config_is_set(cfg, "window-size"));
  ww_config_destroy(cfg);
}

static void test_precedence_yaml_then_flags(void) {
  char err[512];
  const char *yaml = "window:\n  size: 30\n  type: count\nkafka:\n  brokers: k1:9092\n"
                     "  properties:\n    linger.ms: 7\n";
  char *argv[] = {"x", "--window-size", "10", "-X", "acks=all", "--kafka-servers", "k2:1", NULL};
  ww_config_t *cfg = load(WW_ROLE_PROCESSOR, yaml, 1, argv, err, sizeof(err));
  const char *k, *v;
  CHECK(cfg != NULL);
  if (!cfg)
    return;
  CHECK_INT_EQ(ww_config_int(cfg, "window-size"), 30);
  CHECK_STR_EQ(ww_config_str(cfg, "window-type"), "count");
  CHECK_STR_EQ(ww_config_str(cfg, "brokers"), "k1:9092");
  CHECK(ww_config_is_set(cfg, "window-size"));
  CHECK_INT_EQ(ww_config_kafka_prop_count(cfg), 1);
  ww_config_destroy(cfg);

  cfg = load(WW_ROLE_PROCESSOR, yaml, 7, argv, err, sizeof(err));
  CHECK(cfg != NULL);
  if (!cfg)
    return;
  CHECK_INT_EQ(ww_config_int(cfg, "window-size"), 10);
  CHECK_STR_EQ(ww_config_str(cfg, "brokers"), "k2:1");
  CHECK_INT_EQ(ww_config_kafka_prop_count(cfg), 2);
  ww_config_kafka_prop(cfg, 1, &k, &v);
  CHECK_STR_EQ(k, "acks");
  CHECK_STR_EQ(v, "all");
  ww_config_destroy(cfg);
}

static void test_errors_name_key_value_and_place(void) {
  char err[512];
  char *argv1[] = {"x", NULL};
  ww_config_t *cfg;

  cfg = load(WW_ROLE_PROCESSOR, "window:\n  size: -5\n", 1, argv1, err, sizeof(err));
  CHECK(cfg == NULL);
  CHECK_STR_CONTAINS(err, "window.size");
  CHECK_STR_CONTAINS(err, "-5");
  CHECK_STR_CONTAINS(err, "line 2");

  cfg = load(WW_ROLE_SINK, "window:\n  sise: 5\n", 1, argv1, err, sizeof(err));
  CHECK(cfg == NULL);
  CHECK_STR_CONTAINS(err, "unknown key 'window.sise'");

  cfg = load(WW_ROLE_SINK, "bogus: 1\n", 1, argv1, err, sizeof(err));
  CHECK(cfg == NULL);
  CHECK_STR_CONTAINS(err, "unknown key 'bogus'");

  {
    char *argv[] = {"x", "--window-type", "sliding", NULL};
    cfg = load(WW_ROLE_PROCESSOR, NULL, 3, argv, err, sizeof(err));
    CHECK(cfg == NULL);
    CHECK_STR_CONTAINS(err, "--window-type");
    CHECK_STR_CONTAINS(err, "time|count");
    CHECK_STR_CONTAINS(err, "sliding");
  }
  {
    char *argv[] = {"x", "--no-such-flag", NULL};
    cfg = load(WW_ROLE_API, NULL, 2, argv, err, sizeof(err));
    CHECK(cfg == NULL);
    CHECK_STR_CONTAINS(err, "--no-such-flag");
  }
  {
    char *argv[] = {"x", "-X", "nonsense", NULL};
    cfg = load(WW_ROLE_API, NULL, 3, argv, err, sizeof(err));
    CHECK(cfg == NULL);
    CHECK_STR_CONTAINS(err, "key=value");
  }
  cfg = load(WW_ROLE_SINK, "lines:\n  - id: a\n    components: [x]\n    sensors: [pressure]\n", 1,
             argv1, err, sizeof(err));
  CHECK(cfg == NULL);
  CHECK_STR_CONTAINS(err, "pressure");

  cfg = load(WW_ROLE_SINK,
             "sensors:\n  t: {min: 5, max: 1}\nlines:\n  - id: a\n"
             "    components: [x]\n",
             1, argv1, err, sizeof(err));
  CHECK(cfg == NULL);
  CHECK_STR_CONTAINS(err, "min must be below max");

  cfg = load(WW_ROLE_SINK, "window: [1, 2\n", 1, argv1, err, sizeof(err));
  CHECK(cfg == NULL);
  CHECK_STR_CONTAINS(err, "t.yaml");

  cfg = load(WW_ROLE_SINK,
             "lines:\n  - id: a\n    components: [x]\n  - id: a\n"
             "    components: [y]\n",
             1, argv1, err, sizeof(err));
  CHECK(cfg == NULL);
  CHECK_STR_CONTAINS(err, "used twice");
}

static void test_custom_factory_and_durations(void) {
  char err[512];
  const char *yaml = "company: Acme\nsensors:\n  pressure: {unit: bar, min: 1, max: 5, "
                     "warning: 4}\nlines:\n  - id: press-1\n    name: Press\n    components: "
                     "[Ram]\nsink:\n  batch_ms: 1s\n";
  char *argv[] = {"x", "--batch-ms", "250ms", NULL};
  ww_config_t *cfg = load(WW_ROLE_SINK, yaml, 1, argv, err, sizeof(err));
  const ww_factory_t *fac;
  CHECK(cfg != NULL);
  if (!cfg) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  fac = ww_config_factory(cfg);
  CHECK_STR_EQ(fac->company, "Acme");
  CHECK_INT_EQ(fac->n_sensors, 1);
  CHECK_INT_EQ(fac->lines[0].n_sensors, 1); /* defaults to every sensor */
  CHECK_INT_EQ(ww_factory_line_find(fac, "press-1", 7), 0);
  CHECK_INT_EQ(ww_factory_line_find(fac, "press", 5), -1);
  CHECK_INT_EQ(ww_factory_component_find(fac, 0, "Ram", 3), 0);
  CHECK_INT_EQ(ww_config_duration_ms(cfg, "batch-ms"), 1000);
  ww_config_destroy(cfg);
  cfg = load(WW_ROLE_SINK, yaml, 3, argv, err, sizeof(err));
  CHECK(cfg != NULL);
  if (cfg)
    CHECK_INT_EQ(ww_config_duration_ms(cfg, "batch-ms"), 250);
  ww_config_destroy(cfg);
}

static void test_shipped_file_parses_for_every_role(void) {
  char err[512], path[1024];
  char *argv[] = {"x", NULL};
  const char *src = getenv("WW_SOURCE_DIR");
  FILE *fp;
  static char buf[65536];
  size_t n;
  ww_role_t roles[] = {WW_ROLE_PRODUCER, WW_ROLE_PROCESSOR, WW_ROLE_SINK, WW_ROLE_API};
  CHECK(src != NULL);
  if (!src)
    return;
  snprintf(path, sizeof(path), "%s/config/windwatch.yaml", src);
  fp = fopen(path, "rb");
  CHECK(fp != NULL);
  if (!fp)
    return;
  n = fread(buf, 1, sizeof(buf), fp);
  fclose(fp);
  for (size_t i = 0; i < 4; i++) {
    ww_config_t *cfg = ww_config_load_yaml(roles[i], buf, n, path, 1, argv, err, sizeof(err));
    if (!cfg)
      fprintf(stderr, "role %s: %s\n", ww_role_name(roles[i]), err);
    CHECK(cfg != NULL);
    ww_config_destroy(cfg);
  }
}

int main(void) {
  RUN(test_defaults_are_the_original_factory);
  RUN(test_precedence_yaml_then_flags);
  RUN(test_errors_name_key_value_and_place);
  RUN(test_custom_factory_and_durations);
  RUN(test_shipped_file_parses_for_every_role);
  return WW_TEST_RESULT();
}
