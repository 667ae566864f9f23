#!/usr/bin/env bash
# Processor state restore on the real broker: a processor that starts (or is
# assigned lines) without a model loads each line's newest model from the
# compacted models topic, so model scoring resumes without --train-size
# readings of training. A first processor trains and publishes models; a
# second one, in another group, on new input too short to train on, scores
# with the restored versions; the same run with --restore-models=false
# trains nothing and scores no reading with a model (the control).
# Open alerts are carried over the same way, from the alerts topic: an alert
# left open by one processor is resolved, with the same alert_id, by the next.
source "$(dirname "$0")/lib.sh"
require_broker
require_tools python3
PROC="$WW_BIN_DIR/windwatch-processor"
PRODUCER="$WW_BIN_DIR/windwatch-producer"
for b in "$PROC" "$PRODUCER"; do [ -x "$b" ] || die "$b is missing: build it first"; done

run_batch() { # NAME ARGS...: the processor in batch mode; summary in $WW_TMP/NAME.json
  local name=$1; shift
  timeout 120 "$PROC" --brokers "$WW_BROKERS" --mode batch --stats-interval 0 "$@" \
    >"$WW_TMP/$name.json" 2>"$WW_TMP/$name.log" ||
    { cat "$WW_TMP/$name.log" >&2; die "processor run $name failed"; }
}

# model versions in the scored readings of TOPIC: "version count" lines
versions() {
  kcat -b "$WW_BROKERS" -C -t "$1" -e -q -X isolation.level=read_committed 2>/dev/null |
    python3 -c 'import json,sys,collections
c=collections.Counter(json.loads(l)["model_version"] for l in sys.stdin if l.strip())
print(" ".join("%s:%s" % (k, c[k]) for k in sorted(c)))'
}

# ---- 1. train and publish models -------------------------------------------
ww_topics prestore
MODELS=$WW_T_MODELS
"$PRODUCER" --brokers "$WW_BROKERS" --topic-sensor-data "$WW_T_DATA" --count 6000 --rate 0 \
  --seed 11 --start-time 2026-03-01T00:00:00Z --stats-interval 0 -q >/dev/null 2>"$WW_TMP/p1.log" ||
  die "producer run 1 failed"
run_batch train "${WW_TOPIC_FLAGS[@]}" --group "g1-$WW_T_DATA" --train-size 512
published=$(kcat_count "$MODELS")
check_ge "models published by the first processor" "$published" 2
last=$(kcat -b "$WW_BROKERS" -C -t "$MODELS" -e -q -X isolation.level=read_committed -f '%k %s\n' |
  python3 -c 'import json,sys
v={}
for l in sys.stdin:
  k,_,js=l.partition(" ")
  if js.strip(): v[k]=json.loads(js)["version"]
print(" ".join("%s=%s" % (k, v[k]) for k in sorted(v)))')
check_contains "both lines have a model" "$last" "turbine-line-2="

# ---- 2. a new processor restores them ---------------------------------------
# New input, later in time, too short to train a 2048-reading model on
# (1500 readings per line).
ww_topics prestore2
"$PRODUCER" --brokers "$WW_BROKERS" --topic-sensor-data "$WW_T_DATA" --count 3000 --rate 0 \
  --seed 12 --start-time 2026-03-02T00:00:00Z --stats-interval 0 -q >/dev/null 2>"$WW_TMP/p2.log" ||
  die "producer run 2 failed"
flags=(--topic-sensor-data "$WW_T_DATA" --topic-sensor-scored "$WW_T_SCORED"
  --topic-window-stats "$WW_T_STATS" --topic-alerts "$WW_T_ALERTS" --topic-dlq "$WW_T_DLQ"
  --topic-models "$MODELS" --train-size 2048)
run_batch restored "${flags[@]}" --group "g2-$WW_T_DATA"
for pair in $last; do
  line=${pair%=*} ver=${pair#*=}
  grep -q "$line: loaded model v$ver from topic $MODELS" "$WW_TMP/restored.log" ||
    fail "restore: no 'loaded model v$ver' log line for $line"
done
got=$(versions "$WW_T_SCORED")
echo "restored run, model_version:count = $got" >&2
# Every version used is one of the restored ones, and most readings use one
# (the first window slot of each component has no baseline yet).
scored_with_model=$(python3 -c 'import sys
last=dict(p.split("=") for p in sys.argv[1].split())
n=0
for p in sys.argv[2].split():
  v,c=p.split(":")
  if v!="0":
    assert v in last.values(), "version %s was not restored" % v
    n+=int(c)
print(n)' "$last" "$got") || fail "restore: a scored reading used a version that was not restored"
check_ge "restore: readings scored by a restored model" "$scored_with_model" 2000
check_eq "restore: no model trained here" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["models"])' "$WW_TMP/restored.json")" 0

# ---- 3. the control: the same input without restoring -----------------------
ww_topics prestore3
flags=(--topic-sensor-data "${flags[1]}" --topic-sensor-scored "$WW_T_SCORED"
  --topic-window-stats "$WW_T_STATS" --topic-alerts "$WW_T_ALERTS" --topic-dlq "$WW_T_DLQ"
  --topic-models "$MODELS" --train-size 2048)
run_batch control "${flags[@]}" --group "g3-$WW_T_DATA" --restore-models=false
check_eq "control: every reading scored without a model" "$(versions "$WW_T_SCORED")" "0:3000"
if grep -q "loaded model" "$WW_TMP/control.log"; then fail "control: a model was loaded"; fi

# ---- 4. open alerts are carried over -----------------------------------------
# turbine-line-1/Blade: normal readings, then critical temperatures at the end
# of the first batch, so its alert is still open when the first processor
# stops. More normal readings follow; a second processor in the same group
# carries the alert over and resolves it under the same alert_id. The control
# runs the same with --restore-models=false and never resolves it.
gen() { # START_EPOCH_S N HOT: key<TAB>value lines 1 s apart; the last HOT are 90 °C
  python3 - "$@" <<'PY'
import datetime, json, random, sys
start, n, hot = (int(a) for a in sys.argv[1:4])
rnd = random.Random(start)
for i in range(n):
    t = datetime.datetime.fromtimestamp(start + i, datetime.timezone.utc)
    m = {"v": 1, "production_line": "turbine-line-1", "component_id": "Blade",
         "timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "sequence_number": start + i,
         "temperature": 90.0 if i >= n - hot else round(rnd.gauss(25, 0.8), 2),
         "humidity": round(rnd.gauss(45, 1.5), 2), "sound_level": round(rnd.gauss(60, 1), 2),
         "injected_anomaly": None, "episode_id": None}
    print("turbine-line-1\t" + json.dumps(m, separators=(",", ":")))
PY
}
t0=$(date -u -d 2026-03-05T00:00:00Z +%s)
gen "$t0" 600 3 >"$WW_TMP/carry1.tsv"
gen $((t0 + 600)) 60 0 >"$WW_TMP/carry2.tsv"
# the alert events of TOPIC for Blade: "alert_id state" lines, in order
blade_events() {
  kcat -b "$WW_BROKERS" -C -t "$1" -e -q -X isolation.level=read_committed 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
  if l.strip():
    e=json.loads(l)
    if e["component_id"]=="Blade": print(e["alert_id"], e["state"], e["event"])'
}
carry_run() { # NAME RESTORE: both batches through two processors; sets OPEN_ID, EVENTS
  local name=$1 restore=$2
  ww_topics "pcarry$name"
  kcat -b "$WW_BROKERS" -P -t "$WW_T_DATA" -K $'\t' -l "$WW_TMP/carry1.tsv" || die "producing batch 1 failed"
  run_batch "${name}1" "${WW_TOPIC_FLAGS[@]}" --group "gc-$WW_T_DATA" --restore-models="$restore"
  OPEN_ID=$(blade_events "$WW_T_ALERTS" | awk '$2 == "open" { id = $1 } $2 == "resolved" && $1 == id { id = "" } END { print id }')
  kcat -b "$WW_BROKERS" -P -t "$WW_T_DATA" -K $'\t' -l "$WW_TMP/carry2.tsv" || die "producing batch 2 failed"
  run_batch "${name}2" "${WW_TOPIC_FLAGS[@]}" --group "gc-$WW_T_DATA" --restore-models="$restore"
  EVENTS=$(blade_events "$WW_T_ALERTS")
}
carry_run on true
echo "carry-over run, Blade alert events: $(echo "$EVENTS" | tr '\n' ';')" >&2
[ -n "$OPEN_ID" ] || fail "carry-over: the first processor left no Blade alert open (the test input is wrong)"
check_contains "carry-over: the log names the carried alert" "$(cat "$WW_TMP/on2.log")" \
  "carried over open alert $OPEN_ID"
check_eq "carry-over: the next processor resolves the same alert_id" \
  "$(echo "$EVENTS" | awk -v id="$OPEN_ID" '$1 == id && $2 == "resolved"' | wc -l)" 1
check_eq "carry-over: no other Blade alert after it" \
  "$(echo "$EVENTS" | awk -v id="$OPEN_ID" 'f && $1 != id; $1 == id { f = 1 }' | wc -l)" 0
carry_run off false
[ -n "$OPEN_ID" ] || fail "control: the first processor left no Blade alert open (the test input is wrong)"
check_eq "control (no carry-over): the open alert is never resolved" \
  "$(echo "$EVENTS" | awk -v id="$OPEN_ID" '$1 == id && $2 == "resolved"' | wc -l)" 0
if grep -q "carried over" "$WW_TMP/off2.log"; then fail "control: an alert was carried over"; fi

ww_done
