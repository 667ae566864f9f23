/*
 * api_predict.c: POST /api/predict. Accepts the original simulator's body
 * exactly, {"production_line","component_id","temperature","humidity",
 * "sound_level","timestamp"}, validates every field, and scores the reading.
 *
 * Scoring: with the line's newest Isolation Forest from the models table
 * (api_model.c) when one is loaded ("scoring":"model", "model_version":N;
 * a model of window-context features is fed the same features the processor
 * computes, rebuilt from the stored readings of the reading's component, and
 * "baseline":false says the component had no stored baseline to rebuild them
 * from, so they were the neutral 0);
 * before the first model exists, from the configured sensor ranges (the same
 * rules as the processor's threshold alerts) with "scoring":"threshold" and
 * "model_version": null, so a client can tell which scorer answered.
 * With --brokers set, the reading is also produced to sensor-data.
 */
#include "api_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "windwatch/log.h"
#include "windwatch/reading.h"
#include "windwatch/timeutil.h"

/*
 * Score of one value against its sensor's ranges, 0..1:
 * inside [min, warning] it grows from 0 at the middle of that band to just
 * under the warning threshold at its edges; in (warning, max] it rises from
 * the warning to the critical threshold; outside [min, max] it is at least
 * the critical threshold, growing with the distance out of range.
 */
static double score_value(const ww_sensor_def_t *sd, double v, double warn, double crit) {
  double mid = (sd->min + sd->warning) / 2.0, half = (sd->warning - sd->min) / 2.0;
  double span = sd->max - sd->min;
  if (v < sd->min || v > sd->max) {
    double out = v < sd->min ? sd->min - v : v - sd->max;
    double s = crit + (1.0 - crit) * (span > 0 ? fmin(1.0, out / span) : 1.0);
    return fmin(1.0, s);
  }
  if (v > sd->warning) {
    double w = sd->max - sd->warning;
    return warn + (crit - warn) * (w > 0 ? (v - sd->warning) / w : 1.0) * 0.999;
  }
  if (half <= 0)
    return 0.0;
  return warn * 0.999 * fmin(1.0, fabs(v - mid) / half);
}

/* Produce \p rd to the sensor-data topic, keyed by its line. @returns 0 or -1. */
static int produce(ww_api_t *api, const ww_reading_t *rd) {
  const ww_factory_t *fac = api->conf.fac;
  const char *key = fac->lines[rd->line_idx].id;
  char buf[2048];
  size_t n = ww_reading_encode(fac, rd, buf, sizeof(buf));
  rd_kafka_resp_err_t err;
  if (n >= sizeof(buf))
    return -1;
  err = rd_kafka_producev(api->conf.rk, RD_KAFKA_V_TOPIC(api->conf.topic_data),
                          RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(buf, n),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  if (err) {
    WW_LOG(WW_LOG_WARN, "KAFKA", "cannot produce the predicted reading to %s: %s",
           api->conf.topic_data, rd_kafka_err2str(err));
    return -1;
  }
  return 0;
}

static int check_token(api_req_t *req) {
  const char *want = req->api->conf.token;
  const char *got;
  size_t n;
  if (!want || !*want)
    return 1;
  got = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!got || strncmp(got, "Bearer ", 7) != 0)
    return 0;
  got += 7;
  n = strlen(want);
  if (strlen(got) != n)
    return 0;
  /* Constant-time compare: the token is a secret. */
  unsigned char diff = 0;
  for (size_t i = 0; i < n; i++)
    diff |= (unsigned char)(got[i] ^ want[i]);
  return diff == 0;
}

/* 400 naming the field: {"error": message, "status": 400, "field": name or null}. */
static enum MHD_Result send_parse_error(api_req_t *req, const api_parse_err_t *e) {
  return api_send_json(
      req, e->status,
      json_pack("{s:s, s:i, s:s?}", "error", e->msg, "status", (int)e->status, "field", e->field));
}

enum MHD_Result api_h_predict(api_req_t *req) {
  const ww_factory_t *fac = req->api->conf.fac;
  json_t *per_sensor, *root;
  api_predict_in_t in;
  api_parse_err_t perr;
  const ww_line_def_t *line;
  int64_t version = 0;
  double warn, crit, score = 0.0, mscore;
  int baseline = 1;
  ww_severity_t sev, range_sev = WW_SEV_NORMAL;
  const char *scorer = "threshold";
  char ts[WW_TS_BUFSZ];

  if (!check_token(req)) {
    struct MHD_Response *resp;
    static const char msg[] =
        "{\"error\":\"missing or wrong bearer token (send Authorization: Bearer <token>)\","
        "\"status\":401}";
    resp = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
    if (!resp)
      return MHD_NO;
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    return api_send_response(req, MHD_HTTP_UNAUTHORIZED, resp);
  }
  if (api_predict_parse(fac, req->body, req->body_len, ww_now_ms(), &in, &perr) != 0)
    return send_parse_error(req, &perr);
  line = &fac->lines[in.rd.line_idx];
  api_score_thresholds(req->api, &warn, &crit);
  per_sensor = json_object();
  for (int s = 0; s < line->n_sensors; s++) {
    int si = line->sensor_idx[s];
    const ww_sensor_def_t *sd = &fac->sensors[si];
    double x = in.rd.values[si], sc;
    ww_severity_t s_sev = ww_sensor_severity(sd, x);
    if (s_sev > range_sev)
      range_sev = s_sev;
    json_object_set_new(per_sensor, sd->name, json_string(ww_severity_name(s_sev)));
    sc = score_value(sd, x, warn, crit);
    if (sc > score)
      score = sc;
  }
  /* The line's Isolation Forest when one is loaded; a value outside its
   * configured range is at least that severe whatever the model says. */
  if (api_models_score(req->api, &in.rd, &mscore, &version, &warn, &crit, &baseline)) {
    score = mscore;
    scorer = "model";
  }
  sev = score >= crit ? WW_SEV_CRITICAL : score >= warn ? WW_SEV_WARNING : WW_SEV_NORMAL;
  if (range_sev > sev)
    sev = range_sev;
  /* Six decimals, as the processor writes anomaly_score on sensor-scored. */
  score = nearbyint(score * 1e6) / 1e6;
  ww_ts_format(in.rd.ts_ms, ts, sizeof(ts));
  root = json_pack("{s:f, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:s?}", "anomaly_score", score,
                   "production_line", line->id, "status", ww_severity_name(sev), "severity",
                   ww_severity_name(sev), "timestamp", ts, "model_version",
                   version > 0 ? json_integer(version) : json_null(), "scoring", scorer, "sensors",
                   per_sensor, "component_id", in.has_component ? in.rd.component_id : NULL);
  /* A model of window features on a reading whose component has no stored
   * baseline scored neutral deviations: say so. */
  if (root && version > 0)
    json_object_set_new(root, "baseline", json_boolean(baseline));
  /* Into the pipeline like any other reading; the processor scores it again. */
  if (root && req->api->conf.rk)
    json_object_set_new(root, "produced", json_boolean(produce(req->api, &in.rd) == 0));
  return api_send_json(req, MHD_HTTP_OK, root);
}
