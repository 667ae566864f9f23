#!/usr/bin/env bash
# The sink alone on the real broker: scored readings, window stats, alerts,
# dead letters and models produced with kcat, stored by `windwatch-sink --mode
# batch`, checked row by row with sqlite3. Re-running (same group, a new group,
# new data) must never duplicate a row: the offsets live in the database.
source "$(dirname "$0")/lib.sh"
require_tools kcat sqlite3 python3 curl
require_broker
ww_topics it-sink

db="$WW_TMP/sink.db"
group="it-sink-$$-$RANDOM"

# gen_scored FIRST COUNT: "key<TAB>json" lines of scored readings, sequence
# numbers FIRST.., timestamps a few minutes old (well inside retention).
gen_scored() {
  python3 - "$1" "$2" <<'PY'
import json, sys, time
first, count = int(sys.argv[1]), int(sys.argv[2])
now = int(time.time() * 1000) - 300000
lines = [("turbine-line-1", ["Blade", "Resin Infusion", "Curing Oven"]),
         ("turbine-line-2", ["Nacelle", "Gearbox", "Generator"])]
out = []
for i in range(first, first + count):
    line, comps = lines[i % 2]
    ts = now + i
    m = {"v": 1, "production_line": line, "component_id": comps[i % 3],
         "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts / 1000)) + ".%03dZ" % (ts % 1000),
         "sequence_number": i, "temperature": 20 + i % 10, "humidity": 50.5,
         "sound_level": 60 + i % 7, "injected_anomaly": None, "episode_id": None,
         "anomaly_score": (i % 100) / 100.0, "severity": "critical" if i % 50 == 49 else "normal",
         "model_version": 2, "zscore": 0.25}
    out.append(line + "\t" + json.dumps(m, separators=(",", ":")))
print("\n".join(out))
PY
}

produce() { # produce TOPIC [kcat args...] < lines
  local t=$1; shift
  kcat -b "$WW_BROKERS" -P -t "$t" -K $'\t' "$@" || die "kcat cannot produce to $t"
}

run_sink() { # run_sink NAME [args...]: batch mode, summary in $WW_TMP/NAME.out
  local name=$1; shift
  "$WW_BIN_DIR/windwatch-sink" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --db "$db" \
    --mode batch --stats-interval 0 "$@" >"$WW_TMP/$name.out" 2>"$WW_TMP/$name.log" ||
    die "sink ($name) failed: $(tail -5 "$WW_TMP/$name.log")"
  echo "$name summary: $(tail -n 1 "$WW_TMP/$name.out")" >&2
}

field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$(tail -n 1 "$WW_TMP/$1.out")" "$2"; }
q() { sqlite3 "$db" "$1"; }

N=3000
gen_scored 0 $N | produce "$WW_T_SCORED"
printf '%s\t%s\n' turbine-line-1 '{not json' | produce "$WW_T_SCORED"

produce "$WW_T_STATS" <<'EOF'
turbine-line-1	{"v":1,"production_line":"turbine-line-1","window_type":"count","window_start":"2026-11-25T19:34:00.000Z","window_end":"2026-11-25T19:35:00.000Z","count":50,"anomalous":1,"sensors":{"temperature":{"mean":25.1,"std":1.2,"min":21,"max":29,"p50":25,"p95":28.5,"trend":"stable","slope_per_min":0.0}}}
turbine-line-2	{"v":1,"production_line":"turbine-line-2","window_type":"count","window_start":"2026-11-25T19:34:00.000Z","window_end":"2026-11-25T19:35:30.000Z","count":50,"anomalous":0,"sensors":{"temperature":{"mean":24.0,"std":0.9,"min":22,"max":27,"p50":24,"p95":26,"trend":"rising","slope_per_min":0.3}}}
EOF

A1='"alert_id":"turbine-line-1-1764099284000-1","production_line":"turbine-line-1","component_id":"Blade","anomaly_type":"threshold","opened_at":"2026-11-25T19:34:44.000Z","sensors":["temperature"],"details":{"temperature":44.0}'
A2='"alert_id":"turbine-line-2-1764099300000-1","production_line":"turbine-line-2","component_id":"Gearbox","anomaly_type":"zscore","opened_at":"2026-11-25T19:35:00.000Z","sensors":["sound_level"],"details":{"sound_level":95.0}'
produce "$WW_T_ALERTS" <<EOF
turbine-line-1	{"v":1,"event":"opened","state":"open","severity":"warning","updated_at":"2026-11-25T19:34:44.000Z","resolved_at":null,"max_score":0.7,"readings":1,$A1}
turbine-line-2	{"v":1,"event":"opened","state":"open","severity":"critical","updated_at":"2026-11-25T19:35:00.000Z","resolved_at":null,"max_score":0.9,"readings":1,$A2}
turbine-line-1	{"v":1,"event":"updated","state":"open","severity":"critical","updated_at":"2026-11-25T19:34:50.000Z","resolved_at":null,"max_score":0.8,"readings":4,$A1}
turbine-line-1	{"v":1,"event":"resolved","state":"resolved","severity":"critical","updated_at":"2026-11-25T19:35:20.000Z","resolved_at":"2026-11-25T19:35:20.000Z","max_score":0.8,"readings":9,$A1}
EOF

printf '%s\t%s\n' turbine-line-1 '{"production_line":"turbine-line-1","temperature":"hot"}' |
  produce "$WW_T_DLQ" -H reason=bad_type -H "detail=field 'temperature' is a string" \
    -H "source_topic=$WW_T_DATA" -H source_partition=1 -H source_offset=17
printf '%s\t%s\n' turbine-line-9 '{"production_line":"turbine-line-9","temperature":20}' |
  produce "$WW_T_DLQ" -H reason=unknown_line -H "source_topic=$WW_T_DATA" -H source_partition=0 \
    -H source_offset=3
printf '%s\t%s\n' turbine-line-1 \
  '{"v":1,"production_line":"turbine-line-1","version":1,"trained_at":"2026-11-25T19:30:00.000Z","samples":256,"trees":[[0,1]]}' |
  produce "$WW_T_MODELS"

# 1. First run stores everything.
run_sink first --group "$group"
check_eq "summary records" "$(field first records)" $((N + 1 + 2 + 4 + 2 + 1))
check_eq "summary readings" "$(field first readings)" "$N"
check_eq "summary windows" "$(field first windows)" 2
check_eq "summary alerts" "$(field first alerts)" 4
check_eq "summary dead_letters" "$(field first dead_letters)" 3
check_eq "summary models" "$(field first models)" 1
check_eq "rows in sensor_readings" "$(q 'SELECT count(*) FROM sensor_readings')" "$N"
check_eq "distinct sequence numbers" "$(q 'SELECT count(DISTINCT sequence_number) FROM sensor_readings')" "$N"
check_eq "reading 149" \
  "$(q "SELECT production_line||'|'||component_id||'|'||temperature||'|'||sound_level||'|'||severity||'|'||is_anomaly||'|'||anomaly_score||'|'||model_version FROM sensor_readings WHERE sequence_number=149")" \
  "turbine-line-2|Generator|29.0|62.0|critical|1|0.49|2"
check_eq "timestamps are RFC 3339 UTC" "$(q "SELECT count(*) FROM sensor_readings WHERE timestamp GLOB '????-??-??T??:??:??.???Z'")" "$N"
check_eq "rollup counts" "$(q 'SELECT sum(count) FROM readings_rollup_1m')" $((N * 3))
check_eq "rollup mean = raw mean" \
  "$(q "SELECT (SELECT round(sum(sum)/sum(count), 6) FROM readings_rollup_1m WHERE sensor='temperature') = (SELECT round(avg(temperature), 6) FROM sensor_readings)")" 1
check_eq "window rows" "$(q "SELECT group_concat(production_line||':'||count||':'||(window_end_ms-window_start_ms), ' ') FROM (SELECT * FROM window_stats ORDER BY production_line)")" \
  "turbine-line-1:50:60000 turbine-line-2:50:90000"
check_eq "alert rows" "$(q 'SELECT count(*) FROM alerts')" 2
check_eq "alert lifecycle" \
  "$(q "SELECT state||'|'||severity||'|'||readings||'|'||(resolved_ms IS NOT NULL) FROM alerts WHERE production_line='turbine-line-1'")" \
  "resolved|critical|9|1"
check_eq "open alert" "$(q "SELECT state||'|'||severity FROM alerts WHERE production_line='turbine-line-2'")" "open|critical"
check_eq "dead letter from the DLQ" \
  "$(q "SELECT reason||'|'||src_topic||'|'||src_partition||'|'||src_offset||'|'||CAST(payload AS TEXT) FROM dead_letters WHERE reason='bad_type'")" \
  "bad_type|$WW_T_DATA|1|17|{\"production_line\":\"turbine-line-1\",\"temperature\":\"hot\"}"
check_eq "dead letter detail" "$(q "SELECT detail FROM dead_letters WHERE reason='bad_type'")" "field 'temperature' is a string"
check_eq "undecodable scored message" \
  "$(q "SELECT reason||'|'||src_topic FROM dead_letters WHERE src_topic='$WW_T_SCORED'")" "malformed_json|$WW_T_SCORED"
check_eq "model row" "$(q "SELECT production_line||'|'||version||'|'||samples FROM models")" "turbine-line-1|1|256"
check_eq "stored offsets of $WW_T_SCORED" \
  "$(q "SELECT sum(next_offset) FROM kafka_offsets WHERE topic='$WW_T_SCORED'")" $((N + 1))

# 2. Same group again: nothing new, nothing duplicated.
run_sink again --group "$group"
check_eq "second run records" "$(field again records)" 0
check_eq "rows after the second run" "$(q 'SELECT count(*) FROM sensor_readings')" "$N"

# 3. A new group has no Kafka offsets; the database's offsets still rule.
run_sink newgroup --group "$group-new"
check_eq "new-group run records" "$(field newgroup records)" 0
check_eq "rows after the new-group run" "$(q 'SELECT count(*) FROM sensor_readings')" "$N"
check_eq "alert rows after re-runs" "$(q 'SELECT count(*) FROM alerts')" 2
check_eq "dead letters after re-runs" "$(q 'SELECT count(*) FROM dead_letters')" 3

# 4. New data: only the new data is stored.
gen_scored $N 500 | produce "$WW_T_SCORED"
run_sink more --group "$group"
check_eq "third run readings" "$(field more readings)" 500
check_eq "rows after new data" "$(q 'SELECT count(*) FROM sensor_readings')" $((N + 500))
check_eq "distinct after new data" "$(q 'SELECT count(DISTINCT sequence_number) FROM sensor_readings')" $((N + 500))

# 5. real_time mode: follows new data; the api-side read works while it writes (WAL);
#    SIGTERM stores the open batch and exits 0.
mport=$(free_port)
start_bg live "$WW_BIN_DIR/windwatch-sink" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
  --db "$db" --group "$group" --batch-ms 50ms --stats-interval 1s \
  --metrics-listen "127.0.0.1:$mport"
gen_scored $((N + 500)) 1000 | produce "$WW_T_SCORED"
want=$((N + 1500))
rows_reached() { [ "$(sqlite3 "file:$db?mode=ro" 'SELECT count(*) FROM sensor_readings')" -ge "$want" ]; }
wait_until 60 "the live sink to store $want readings" rows_reached
# A reader (as the api) works while the sink holds the database open for writing.
check_eq "read-only query while the sink runs" \
  "$(sqlite3 "file:$db?mode=ro" "SELECT count(*) FROM sensor_readings WHERE production_line='turbine-line-1'")" $((want / 2))
# The counters follow the commit by a moment (the consumer thread counts it).
metrics_counted() { curl -sf "http://127.0.0.1:$mport/metrics" | grep -q '^windwatch_sink_rows_total{table="sensor_readings"} 1000$'; }
wait_until 30 "/metrics to count the 1000 live readings" metrics_counted
metrics=$(curl -sf "http://127.0.0.1:$mport/metrics") || die "no /metrics on port $mport"
check_contains "metrics: rows by table" "$metrics" 'windwatch_sink_rows_total{table="sensor_readings"} 1000'
check_contains "metrics: batch latency" "$metrics" "windwatch_sink_batch_seconds_count"
check_contains "metrics: lag" "$metrics" "windwatch_sink_lag_messages"
kill -TERM "$PID_live"
rc=0; wait "$PID_live" || rc=$?
check_eq "live sink exit code on SIGTERM" "$rc" 0
check_contains "live sink summary" "$(cat "$WW_TMP/live.out")" '"readings":1000'
check_contains "live sink stats line" "$(cat "$WW_TMP/live.log")" "rows/s readings="
check_eq "rows after the live run" "$(q 'SELECT count(*) FROM sensor_readings')" "$want"
check_eq "distinct after the live run" "$(q 'SELECT count(DISTINCT sequence_number) FROM sensor_readings')" "$want"

# 6. Retention: readings two days old are stored (and rolled up), then the next
#    start deletes the raw rows older than --retention; the rollups stay.
python3 - <<'PY' | produce "$WW_T_SCORED"
import json, time
old = int(time.time() * 1000) - 2 * 86400 * 1000
for i in range(10):
    ts = old + i * 1000
    print("turbine-line-1\t" + json.dumps({"v": 1, "production_line": "turbine-line-1",
        "component_id": "Blade",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1000)) + ".%03dZ" % (ts % 1000),
        "sequence_number": 900000 + i, "temperature": 30.0, "humidity": 40.0, "sound_level": 70.0,
        "anomaly_score": 0.1, "severity": "normal", "model_version": 1, "zscore": 0.0},
        separators=(",", ":")))
PY
run_sink old --group "$group" --retention 0
check_eq "old readings stored with retention off" "$(q 'SELECT count(*) FROM sensor_readings WHERE sequence_number >= 900000')" 10
run_sink expire --group "$group" --retention 24h --retention-batch 3
check_eq "old readings deleted by retention" "$(q 'SELECT count(*) FROM sensor_readings WHERE sequence_number >= 900000')" 0
check_eq "recent readings kept by retention" "$(q 'SELECT count(*) FROM sensor_readings')" "$want"
check_eq "rollups of the deleted readings kept" \
  "$(q "SELECT sum(count) FROM readings_rollup_1m WHERE minute_ms < (strftime('%s','now') - 86400) * 1000")" 30

ww_done
