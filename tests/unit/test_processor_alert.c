/* test_processor_alert.c: the alert state machine (open, update, resolve, no flapping). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processor_alert.h"
#include "windwatch/config.h"
#include "ww_test.h"

static ww_alert_event_t step(ww_alert_t *a, int64_t ts, int anomalous, ww_severity_t sev,
                             double score, uint32_t sensors, int64_t *seq) {
  ww_alert_obs_t obs;
  double vals[WW_MAX_SENSORS] = {45.0, 50.0, 60.0};
  memset(&obs, 0, sizeof(obs));
  obs.ts_ms = ts;
  obs.anomalous = anomalous;
  obs.severity = anomalous ? sev : WW_SEV_NORMAL;
  obs.score = score;
  obs.sensors = anomalous ? sensors : 0;
  obs.type = anomalous ? "threshold" : NULL;
  obs.values = vals;
  obs.present = 0x7;
  obs.opens_now = anomalous && sev == WW_SEV_CRITICAL;
  return ww_alert_step(a, &obs, 2, 3, "turbine-line-1", seq);
}

static void test_lifecycle(void) {
  ww_alert_t a;
  int64_t seq = 0;
  char id[WW_ALERT_ID_MAX];
  memset(&a, 0, sizeof(a));
  /* one anomalous reading alone opens nothing */
  CHECK_INT_EQ(step(&a, 1000, 1, WW_SEV_WARNING, 0.7, 1, &seq), WW_ALERT_NONE);
  CHECK_INT_EQ(step(&a, 2000, 0, 0, 0.1, 0, &seq), WW_ALERT_NONE);
  CHECK(!a.open);
  /* two in a row open it, dated from the first of the streak */
  CHECK_INT_EQ(step(&a, 3000, 1, WW_SEV_WARNING, 0.7, 1, &seq), WW_ALERT_NONE);
  CHECK_INT_EQ(step(&a, 4000, 1, WW_SEV_WARNING, 0.72, 1, &seq), WW_ALERT_OPENED);
  CHECK(a.open);
  CHECK_INT_EQ(a.opened_ms, 3000);
  CHECK_INT_EQ(a.readings, 2);
  CHECK_STR_EQ(a.alert_id, "turbine-line-1-3000-1");
  snprintf(id, sizeof(id), "%s", a.alert_id);
  /* same severity, same sensor, small score change: no event */
  CHECK_INT_EQ(step(&a, 5000, 1, WW_SEV_WARNING, 0.73, 1, &seq), WW_ALERT_NONE);
  /* escalation to critical and a new sensor: one update */
  CHECK_INT_EQ(step(&a, 6000, 1, WW_SEV_CRITICAL, 0.9, 3, &seq), WW_ALERT_UPDATED);
  CHECK_INT_EQ(a.severity, WW_SEV_CRITICAL);
  CHECK_INT_EQ(a.sensors, 3);
  CHECK_DBL_NEAR(a.max_score, 0.9, 1e-12);
  /* normal, normal, anomalous: the clear count restarts, no flapping */
  CHECK_INT_EQ(step(&a, 7000, 0, 0, 0.1, 0, &seq), WW_ALERT_NONE);
  CHECK_INT_EQ(step(&a, 8000, 0, 0, 0.1, 0, &seq), WW_ALERT_NONE);
  CHECK_INT_EQ(step(&a, 9000, 1, WW_SEV_WARNING, 0.6, 1, &seq), WW_ALERT_NONE);
  CHECK_STR_EQ(a.alert_id, id);
  CHECK_INT_EQ(step(&a, 10000, 0, 0, 0.1, 0, &seq), WW_ALERT_NONE);
  CHECK_INT_EQ(step(&a, 11000, 0, 0, 0.1, 0, &seq), WW_ALERT_NONE);
  CHECK_INT_EQ(step(&a, 12000, 0, 0, 0.1, 0, &seq), WW_ALERT_RESOLVED);
  CHECK(!a.open);
  CHECK_INT_EQ(a.resolved_ms, 12000);
  CHECK_INT_EQ(a.readings, 5);
  CHECK_STR_EQ(a.alert_id, id);
  /* a new episode gets a new id and fresh figures */
  CHECK_INT_EQ(step(&a, 13000, 1, WW_SEV_WARNING, 0.65, 4, &seq), WW_ALERT_NONE);
  CHECK_INT_EQ(step(&a, 14000, 1, WW_SEV_WARNING, 0.66, 4, &seq), WW_ALERT_OPENED);
  CHECK_STR_EQ(a.alert_id, "turbine-line-1-13000-2");
  CHECK_INT_EQ(a.severity, WW_SEV_WARNING);
  CHECK_INT_EQ(a.sensors, 4);
  CHECK_INT_EQ(a.readings, 2);
  CHECK_INT_EQ(seq, 2);
}

static void test_encode(void) {
  ww_factory_t *fac = calloc(1, sizeof(*fac));
  ww_alert_t a;
  int64_t seq = 0;
  char buf[4096];
  size_t n;
  if (!fac) {
    CHECK(fac != NULL);
    return;
  }
  fac->n_sensors = 3;
  snprintf(fac->sensors[0].name, WW_ID_MAX, "temperature");
  fac->sensors[0].min = 10, fac->sensors[0].max = 40, fac->sensors[0].warning = 30;
  snprintf(fac->sensors[1].name, WW_ID_MAX, "humidity");
  fac->sensors[1].min = 20, fac->sensors[1].max = 80, fac->sensors[1].warning = 60;
  snprintf(fac->sensors[2].name, WW_ID_MAX, "sound_level");
  fac->sensors[2].min = 40, fac->sensors[2].max = 90, fac->sensors[2].warning = 70;
  fac->n_lines = 1;
  snprintf(fac->lines[0].id, WW_ID_MAX, "turbine-line-1");
  fac->lines[0].n_sensors = 3;
  for (int i = 0; i < 3; i++)
    fac->lines[0].sensor_idx[i] = i;
  memset(&a, 0, sizeof(a));
  /* one critical reading opens at once */
  CHECK_INT_EQ(step(&a, 1700000000000, 1, WW_SEV_CRITICAL, 0.8, 1, &seq), WW_ALERT_OPENED);
  n = ww_alert_encode(&a, WW_ALERT_OPENED, fac, 0, "Blade", buf, sizeof(buf));
  CHECK(n < sizeof(buf));
  CHECK_STR_CONTAINS(buf, "{\"v\":1,\"alert_id\":\"turbine-line-1-1700000000000-1\"");
  CHECK_STR_CONTAINS(buf, "\"event\":\"opened\",\"state\":\"open\"");
  CHECK_STR_CONTAINS(buf, "\"severity\":\"critical\"");
  CHECK_STR_CONTAINS(buf, "\"anomaly_type\":\"threshold\"");
  CHECK_STR_CONTAINS(buf, "\"opened_at\":\"2023-11-14T22:13:20.000Z\"");
  CHECK_STR_CONTAINS(buf, "\"resolved_at\":null");
  CHECK_STR_CONTAINS(buf, "\"sensors\":[\"temperature\"]");
  CHECK_STR_CONTAINS(buf, "\"temperature\":45.00");
  CHECK_STR_CONTAINS(buf,
                     "\"expected_ranges\":{\"temperature\":{\"min\":10,\"max\":40,\"warning\":30}");
  /* truncation reports the size needed */
  CHECK_INT_EQ(ww_alert_encode(&a, WW_ALERT_OPENED, fac, 0, "Blade", buf, 10), n);
  free(fac);
}

int main(void) {
  RUN(test_lifecycle);
  RUN(test_encode);
  return WW_TEST_RESULT();
}
