#!/usr/bin/env bash
# windwatch-producer on the real broker: the number delivered equals the number
# kcat reads back; every message is a valid reading keyed by its line, with
# per-component sequence numbers in order and ground truth on every reading;
# the same --seed and --start-time give the same messages byte for byte.
source "$(dirname "$0")/lib.sh"
require_tools kcat python3
require_broker
ww_topics it-prod-delivery

P="$WW_BIN_DIR/windwatch-producer"
N=6000
run() { # run TOPIC LOG: N readings with a fixed seed and start time
  local rc=0
  "$P" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --topic-sensor-data "$1" --count $N --rate 0 \
    --seed 42 --start-time 2026-01-01T00:00:00Z --anomaly-probability 0.2 \
    --stats-interval 0 >"$WW_TMP/$2.out" 2>"$WW_TMP/$2.log" || rc=$?
  echo "$rc"
}

check_eq "producer exit code" "$(run "$WW_T_DATA" p1)" 0
check_contains "producer summary" "$(cat "$WW_TMP/p1.log")" "$N delivered, 0 failed, 0 dropped"
check_eq "producer stdout (data only, none for Kafka)" "$(wc -c <"$WW_TMP/p1.out")" 0
check_eq "messages read back by kcat" "$(kcat_count "$WW_T_DATA")" "$N"

kcat -b "$WW_BROKERS" -C -t "$WW_T_DATA" -e -q -f '%p %o %k %s\n' >"$WW_TMP/data1.txt"
python3 - "$WW_TMP/data1.txt" "$N" <<'PY' || fail "message content (see above)"
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
rows = []
for line in open(path):
    p, o, k, s = line.rstrip("\n").split(" ", 3)
    rows.append((int(p), int(o), k, s))
rows.sort()
assert len(rows) == n, len(rows)
fields = ["v", "production_line", "component_id", "timestamp", "sequence_number",
          "temperature", "humidity", "sound_level", "injected_anomaly", "episode_id"]
seq, last_ts, anomalous, comps = {}, {}, 0, set()
for p, o, k, s in rows:
    m = json.loads(s)
    assert list(m) == fields, m
    assert m["v"] == 1 and m["production_line"] == k, (k, m)
    c = (k, m["component_id"])
    comps.add(c)
    assert m["sequence_number"] == seq.get(c, 0), ("sequence out of order", c, m)
    seq[c] = m["sequence_number"] + 1
    ts = m["timestamp"]
    assert len(ts) == 24 and ts.endswith("Z") and ts[10] == "T", ts
    assert ts > last_ts.get(c, ""), ("event time not increasing", c, ts)
    last_ts[c] = ts
    assert (m["injected_anomaly"] is None) == (m["episode_id"] is None), m
    if m["injected_anomaly"] is not None:
        anomalous += 1
        assert m["injected_anomaly"] in ("spike", "drift", "stuck", "noise", "multi"), m
        assert m["episode_id"] > 0, m
    assert -50 <= m["temperature"] <= 250 and 0 <= m["humidity"] <= 100, m
    assert 0 <= m["sound_level"] <= 194, m
assert len(comps) == 6, comps
assert sum(seq.values()) == n, seq
assert anomalous > 0, "no anomaly injected at p=0.2"
print(f"checked {n} messages, {anomalous} with injected anomalies", file=sys.stderr)
PY
WW_CHECKS=$((WW_CHECKS + 1))

# Keys land where librdkafka's default partitioner (kcat -P) puts them, so
# every producer of a line's readings shares that line's partition.
WINDWATCH_TOPICS="$WW_T_DATA.kcat:3" "$WW_SOURCE_DIR/deploy/kafka/kafka.sh" topics >/dev/null ||
  die "cannot create $WW_T_DATA.kcat"
cut -d' ' -f3- "$WW_TMP/data1.txt" | tr ' ' '\t' | sed 's/\t/ /2g' >"$WW_TMP/kv.txt"
kcat -b "$WW_BROKERS" -P -t "$WW_T_DATA.kcat" -K $'\t' -l "$WW_TMP/kv.txt"
check_eq "partition of each key, windwatch vs kcat -P" \
  "$(awk '{print $3, $1}' "$WW_TMP/data1.txt" | sort -u)" \
  "$(kcat -b "$WW_BROKERS" -C -t "$WW_T_DATA.kcat" -e -q -f '%k %p\n' | sort -u)"

# Same seed, same start time, another topic: the very same messages.
check_eq "second run exit code" "$(run "$WW_T_SCORED" p2)" 0
kcat -b "$WW_BROKERS" -C -t "$WW_T_SCORED" -e -q -f '%p %o %k %s\n' >"$WW_TMP/data2.txt"
check_eq "second run is byte for byte the first" \
  "$(sort "$WW_TMP/data1.txt" | md5sum)" "$(sort "$WW_TMP/data2.txt" | md5sum)"

# Paced without --start-time, event time is the wall clock when the reading is
# produced: never ahead of the message's CreateTime, and not behind it by the
# producer's set-up time (connecting to the broker took about 10 ms here,
# every timestamp lagged by that much). 200 readings/s: one reading every 5 ms.
rc=0
"$P" --brokers "$WW_BROKERS" --topic-sensor-data "$WW_T_STATS" --count 400 --rate 200 \
  --stats-interval 0 >/dev/null 2>"$WW_TMP/paced.log" || rc=$?
check_eq "paced run exit code" "$rc" 0
kcat -b "$WW_BROKERS" -C -t "$WW_T_STATS" -e -q -f '%T %s\n' >"$WW_TMP/paced.txt"
python3 - "$WW_TMP/paced.txt" <<'PY' || fail "paced event time vs CreateTime (see above)"
import datetime, json, sys
lags = []
for line in open(sys.argv[1]):
    ct, s = line.rstrip("\n").split(" ", 1)
    ts = json.loads(s)["timestamp"]
    ev = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    lags.append(int(ct) - round(ev.timestamp() * 1000))
assert len(lags) == 400, len(lags)
assert min(lags) >= 0, f"a reading stamped {-min(lags)} ms after it was produced"
assert min(lags) < 5, f"every reading stamped at least {min(lags)} ms before it was produced"
print(f"CreateTime - event time: min {min(lags)} ms, median {sorted(lags)[200]} ms", file=sys.stderr)
PY
WW_CHECKS=$((WW_CHECKS + 1))

# --count with an unknown anomaly type is a usage error (exit 2) naming the value.
rc=0
"$P" --brokers "$WW_BROKERS" --topic "$WW_T_DLQ" --count 1 --anomaly-types spike,wobble \
  2>"$WW_TMP/bad.log" || rc=$?
check_eq "exit code for --anomaly-types wobble" "$rc" 2
check_contains "error names the bad type" "$(cat "$WW_TMP/bad.log")" "wobble"
check_eq "nothing produced on a usage error" "$(kcat_count "$WW_T_DLQ")" 0

ww_done
