#!/usr/bin/env bash
# POST /api/predict scores with the same model and the same features as the
# processor: readings go through the real pipeline (kcat -> processor, time
# windows, two model versions per line -> sink -> SQLite), then every stored
# reading the processor scored with its line's newest model is posted back
# to the api, whose anomaly_score must equal the stored one (both are rounded
# to 6 decimals, so within 1e-6), with "scoring":"model" and the newest
# model_version.
#
# Which readings are compared, and why only those: the processor scores a
# reading with the model only when its component has a baseline (a previous
# pane with >= 2 values of every sensor); before that it stores a z-score
# based score with model_version 0, which depends on the line's
# watermark-driven windows and is not what /api/predict computes (it answers
# with the model and "baseline":false). Every reading scored by a model is
# compared: those of v2 against the api on the database, those of v1 against
# an api on a copy of the database from which v2 is removed (the api always
# answers with the newest version it has). The readings are stored in event
# time order, as the processor saw them; a reading that arrived out of order
# would not be reproducible (the processor leaves it out of its baselines).
source "$(dirname "$0")/lib.sh"
require_tools kcat sqlite3 curl python3
require_broker
for b in windwatch-processor windwatch-sink windwatch-api; do
  [ -x "$WW_BIN_DIR/$b" ] || die "$WW_BIN_DIR/$b is missing: build it first"
done
ww_topics it-model-parity

N=2450 # readings per line, one per second of event time: 40 one-minute windows
db="$WW_TMP/windwatch.db"
group="it-model-parity-$$-$RANDOM"

python3 "$WW_SOURCE_DIR/tests/integration/gen_readings.py" $N --spike --clean >"$WW_TMP/in.txt"
kcat -b "$WW_BROKERS" -P -t "$WW_T_DATA" -K $'\t' -l "$WW_TMP/in.txt" || die "kcat produce failed"

# Time windows of 60 s (the default); model v1 after 500 normal readings with
# a baseline, v2 trained 1000 s of event time later, taking over 500 s after
# that (half the interval; 4,096 rows would be later). The stream ends before
# the next retrain starts, 1000 s after v2's.
timeout 200 "$WW_BIN_DIR/windwatch-processor" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
  --group "$group-p" --mode batch --stats-interval 0 --window-type time --window-size 60 \
  --train-size 500 --retrain-interval 1000 \
  >"$WW_TMP/processor.out" 2>"$WW_TMP/processor.log" ||
  die "processor failed: $(tail -5 "$WW_TMP/processor.log")"
echo "processor summary: $(tail -n 1 "$WW_TMP/processor.out")" >&2
timeout 200 "$WW_BIN_DIR/windwatch-sink" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
  --group "$group-s" --mode batch --db "$db" >"$WW_TMP/sink.out" 2>"$WW_TMP/sink.log" ||
  die "sink failed: $(tail -5 "$WW_TMP/sink.log")"
check_eq "rows in sensor_readings" "$(sqlite3 "$db" 'SELECT count(*) FROM sensor_readings')" \
  $((2 * N))
check_eq "model versions per line" \
  "$(sqlite3 "$db" 'SELECT production_line || ":" || group_concat(version) FROM
     (SELECT production_line, version FROM models ORDER BY 1, 2) GROUP BY production_line' |
     tr '\n' ' ')" "turbine-line-1:1,2 turbine-line-2:1,2 "
check_contains "the model describes its features" \
  "$(sqlite3 "$db" "SELECT model FROM models WHERE version = 2 LIMIT 1")" \
  '"feature_kind":"window_z","feature_context":{"window_type":"time","window_size":60,'

# Every model message matches docs/schemas/models.schema.json.
WW_CHECKS=$((WW_CHECKS + 1))
kcat -b "$WW_BROKERS" -C -t "$WW_T_MODELS" -e -q -X isolation.level=read_committed |
  /usr/bin/python3 "$WW_SOURCE_DIR/tests/integration/check_schema.py" \
    "$WW_SOURCE_DIR/docs/schemas/models.schema.json" || fail "models messages do not match their schema"

# compare DB VERSION: post every reading the processor scored with model
# VERSION (the newest in DB) to an api on DB; all must match.
compare() {
  local cdb=$1 version=$2 port
  port=$(free_port)
  start_bg "api_v$version" "$WW_BIN_DIR/windwatch-api" --db "$cdb" --listen "127.0.0.1:$port"
  wait_until 20 "api on port $port" curl -fsS "http://127.0.0.1:$port/api/health"
  # The models load within the api's check interval (2 s).
  wait_until 20 "model scoring" sh -c \
    "curl -fsS http://127.0.0.1:$port/api/health | grep -q '\"scoring\":\"model\"'"
  WW_CHECKS=$((WW_CHECKS + 1))
  python3 - "$cdb" "$port" "$version" <<'PY' || fail "api scores differ from the processor's (model v$version)"
import http.client, json, sqlite3, sys
db, port, version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = sqlite3.connect(db).execute(
    "SELECT production_line, component_id, timestamp, temperature, humidity, sound_level, "
    "anomaly_score FROM sensor_readings WHERE model_version = ? ORDER BY id", (version,)).fetchall()
assert len(rows) >= 300, f"only {len(rows)} readings scored by model v{version}"
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
bad, worst = [], 0.0
for line, comp, ts, t, h, s, stored in rows:
    body = json.dumps({"production_line": line, "component_id": comp, "temperature": t,
                       "humidity": h, "sound_level": s, "timestamp": ts})
    conn.request("POST", "/api/predict", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    ans = json.loads(r.read())
    assert r.status == 200, (r.status, ans)
    assert ans["scoring"] == "model" and ans["model_version"] == version, ans
    assert ans["baseline"] is True, (ts, comp, ans)
    d = abs(ans["anomaly_score"] - stored)
    worst = max(worst, d)
    if d > 1e-6:
        bad.append((line, comp, ts, stored, ans["anomaly_score"]))
print(f"model v{version}: {len(rows)} readings compared, {len(bad)} differ, "
      f"largest difference {worst:.3g}", file=sys.stderr)
for b in bad[:10]:
    print("  differs:", b, file=sys.stderr)
assert not bad
PY
}

# The newest models (v2) answer for the readings the processor scored with v2.
compare "$db" 2
# And v1, on a copy of the database in which v2 does not exist yet.
cp "$db" "$WW_TMP/v1.db"
sqlite3 "$WW_TMP/v1.db" "DELETE FROM models WHERE version > 1" || die "cannot prepare v1.db"
compare "$WW_TMP/v1.db" 1
ww_done
