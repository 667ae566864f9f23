#!/usr/bin/env bash
# End to end on the real broker: producer → processor → sink → SQLite → api.
# Asserts on the messages in every topic, the stored rows (count and content)
# and the HTTP answers.
source "$(dirname "$0")/lib.sh"
require_tools kcat sqlite3 curl python3
require_broker
ww_topics it-pipeline

N=600
db="$WW_TMP/windwatch.db"
group="it-pipeline-$$-$RANDOM"

# 1. producer: exactly N readings delivered, exit 0.
"$WW_BIN_DIR/windwatch-producer" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
  --count $N --rate 0 --seed 42 --anomaly-probability 0.05 \
  >"$WW_TMP/producer.out" 2>"$WW_TMP/producer.log" || die "producer failed: $(tail -5 "$WW_TMP/producer.log")"
check_eq "readings in $WW_T_DATA" "$(kcat_count "$WW_T_DATA")" "$N"
# Keyed by production_line, and every reading names a configured line.
keys=$(kcat -b "$WW_BROKERS" -C -t "$WW_T_DATA" -e -q -f '%k\n' | sort | uniq -c | awk '{print $2}' | tr '\n' ' ')
check_eq "message keys" "$keys" "turbine-line-1 turbine-line-2 "

# 2. processor in batch mode: every reading scored, windows closed.
"$WW_BIN_DIR/windwatch-processor" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
  --group "$group-p" --mode batch --window-type count --window-size 50 --alert-min-count 1 \
  >"$WW_TMP/processor.out" 2>"$WW_TMP/processor.log" || die "processor failed: $(tail -5 "$WW_TMP/processor.log")"
summary=$(tail -n 1 "$WW_TMP/processor.out")
echo "processor summary: $summary" >&2
p_readings=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["readings"])' "$summary")
p_windows=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["windows"])' "$summary")
check_eq "processor readings" "$p_readings" "$N"
check_eq "scored readings in $WW_T_SCORED" "$(kcat_count "$WW_T_SCORED")" "$N"
check_ge "window-stats messages" "$(kcat_count "$WW_T_STATS")" 10
check_eq "processor windows = window-stats messages" "$p_windows" "$(kcat_count "$WW_T_STATS")"
stats=$(kcat -b "$WW_BROKERS" -C -t "$WW_T_STATS" -e -q -c 1 -X isolation.level=read_committed)
python3 - "$stats" <<'PY' || fail "window-stats message shape"
import json, sys
m = json.loads(sys.argv[1])
assert m["count"] == 50, m
for s in ("temperature", "humidity", "sound_level"):
    st = m["sensors"][s]
    assert st["min"] <= st["mean"] <= st["max"], st
    assert st["std"] >= 0, st
PY
WW_CHECKS=$((WW_CHECKS + 1))
# 300 readings per line are fewer than --train-size (2048): every window says
# the first model is still gathering, and by how much, growing window by window.
kcat -b "$WW_BROKERS" -C -t "$WW_T_STATS" -e -q -X isolation.level=read_committed |
  python3 -c '
import json, sys
last = {}
for line in sys.stdin:
    m = json.loads(line)
    assert m["model_version"] == 0 and m["training"]["needed"] == 2048, m
    got = m["training"]["readings"]
    assert last.get(m["production_line"], 0) <= got <= 300, (last, m)
    last[m["production_line"]] = got
assert len(last) == 2 and min(last.values()) > 0, last
' || fail "window-stats messages do not say how far the first model is"
WW_CHECKS=$((WW_CHECKS + 1))

# 3. sink in batch mode: every record stored once.
"$WW_BIN_DIR/windwatch-sink" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --group "$group-s" \
  --mode batch --db "$db" >"$WW_TMP/sink.out" 2>"$WW_TMP/sink.log" || die "sink failed: $(tail -5 "$WW_TMP/sink.log")"
echo "sink summary: $(tail -n 1 "$WW_TMP/sink.out")" >&2
check_eq "rows in sensor_readings" "$(sqlite3 "$db" 'SELECT count(*) FROM sensor_readings')" "$N"
check_eq "distinct (line, component, sequence)" \
  "$(sqlite3 "$db" 'SELECT count(*) FROM (SELECT DISTINCT production_line, component_id, sequence_number FROM sensor_readings)')" "$N"
check_eq "rows in window_stats" "$(sqlite3 "$db" 'SELECT count(*) FROM window_stats')" "$p_windows"
check_eq "window rows with the model's state" \
  "$(sqlite3 "$db" 'SELECT count(*) FROM window_stats WHERE model_version = 0 AND training_needed = 2048 AND training_readings BETWEEN 0 AND 300')" "$p_windows"
check_eq "readings with a score and a severity" \
  "$(sqlite3 "$db" "SELECT count(*) FROM sensor_readings WHERE anomaly_score BETWEEN 0 AND 1 AND severity IN ('normal','warning','critical')")" "$N"
check_eq "readings of unknown lines" \
  "$(sqlite3 "$db" "SELECT count(*) FROM sensor_readings WHERE production_line NOT IN (SELECT id FROM production_lines)")" "0"
alerts_topic=$(kcat_count "$WW_T_ALERTS")
check_ge "alert events (anomalies were injected)" "$alerts_topic" 1
check_ge "alert rows" "$(sqlite3 "$db" 'SELECT count(*) FROM alerts')" 1
# Stored content equals what was produced: compare one reading field by field.
first=$(kcat -b "$WW_BROKERS" -C -t "$WW_T_DATA" -e -q -c 1 -p 0 -o beginning)
python3 - "$first" "$db" <<'PY' || fail "stored reading differs from the produced one"
import json, sqlite3, sys
m = json.loads(sys.argv[1])
row = sqlite3.connect(sys.argv[2]).execute(
    "SELECT temperature, humidity, sound_level, timestamp FROM sensor_readings "
    "WHERE production_line=? AND component_id=? AND sequence_number=?",
    (m["production_line"], m["component_id"], m["sequence_number"])).fetchone()
assert row is not None, m
assert (row[0], row[1], row[2]) == (m["temperature"], m["humidity"], m["sound_level"]), (row, m)
assert row[3] == m["timestamp"], (row, m)
PY
WW_CHECKS=$((WW_CHECKS + 1))

# Every topic's messages match their documented schema (docs/schemas/).
check_topic_schema() { # TOPIC SCHEMA
  WW_CHECKS=$((WW_CHECKS + 1))
  kcat -b "$WW_BROKERS" -C -t "$1" -e -q -X isolation.level=read_committed |
    /usr/bin/python3 "$WW_SOURCE_DIR/tests/integration/check_schema.py" \
      "$WW_SOURCE_DIR/docs/schemas/$2" || fail "messages of $1 do not match $2"
}
check_topic_schema "$WW_T_DATA" sensor-data.schema.json
check_topic_schema "$WW_T_SCORED" sensor-scored.schema.json
check_topic_schema "$WW_T_STATS" window-stats.schema.json
check_topic_schema "$WW_T_ALERTS" alert.schema.json

# Running the sink again stores nothing twice.
"$WW_BIN_DIR/windwatch-sink" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --group "$group-s2" \
  --mode batch --db "$db" >"$WW_TMP/sink2.out" 2>"$WW_TMP/sink2.log" || die "second sink run failed"
check_eq "rows after a second sink run" "$(sqlite3 "$db" 'SELECT count(*) FROM sensor_readings')" "$N"

# 4. api over real HTTP.
port=$(free_port)
start_bg api "$WW_BIN_DIR/windwatch-api" --db "$db" --listen "127.0.0.1:$port"
wait_until 20 "api on port $port" curl -fsS "http://127.0.0.1:$port/api/health"
health=$(curl -fsS "http://127.0.0.1:$port/api/health")
check_contains "health" "$health" '"status":"healthy"'
check_contains "health" "$health" '"database":"connected"'
hist=$(curl -fsS "http://127.0.0.1:$port/api/sensor-history/temperature?limit=20")
python3 - "$hist" "$db" <<'PY' || fail "sensor-history is not the newest readings, newest first"
import json, sqlite3, sys
h = json.loads(sys.argv[1])
assert h["sensor_type"] == "temperature" and h["count"] == 20 == len(h["data"]), h
ts = [d["timestamp"] for d in h["data"]]
assert ts == sorted(ts, reverse=True), ts
newest = sqlite3.connect(sys.argv[2]).execute("SELECT max(timestamp) FROM sensor_readings").fetchone()[0]
assert ts[0] == newest, (ts[0], newest)
for d in h["data"]:
    assert set(d) >= {"timestamp", "production_line", "value", "is_anomaly"}, d
PY
WW_CHECKS=$((WW_CHECKS + 1))
code=$(curl -s -o "$WW_TMP/404.json" -w '%{http_code}' "http://127.0.0.1:$port/api/sensor-history/pressure")
check_eq "unknown sensor status" "$code" "404"
check_contains "unknown sensor body" "$(cat "$WW_TMP/404.json")" '"error"'
ww_done
