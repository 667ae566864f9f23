#!/usr/bin/env bash
# Exactly once under crashes: the processor is killed with SIGKILL mid-stream
# several times while readings keep arriving, restarted each time, and
# finally drained in batch mode. Every input reading must then be in
# sensor-scored exactly once (read_committed), no alert event repeated, and
# every alert's events in lifecycle order (opened once, nothing after resolved).
source "$(dirname "$0")/lib.sh"
require_broker
require_tools python3
PROC="$WW_BIN_DIR/windwatch-processor"
[ -x "$PROC" ] || die "$PROC is missing: build the windwatch-processor target"
GEN="$(dirname "$0")/gen_readings.py"

# tests/faults/run scales these up (1M readings, 5 kills); CI runs the short version.
N=${WW_FAULT_READINGS:-60000}
KILLS=${WW_FAULT_KILLS:-3}
RATE=${WW_FAULT_RATE:-5000}
STEP=$((N / (KILLS + 3)))
[ "$STEP" -ge 8000 ] || STEP=8000
ww_topics pkill
GROUP="g-$WW_T_DATA"
# A fixed transactional.id, as a supervisor restarting "instance 1" would
# keep: the restarted processor fences and aborts its predecessor's open
# transaction at once.
PFLAGS=(--brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --group "$GROUP"
  --transactional-id "tx-$WW_T_DATA" --commit-interval 50ms --window-type count
  --window-size 60 --stats-interval 0 -X session.timeout.ms=6000)
# (a short session timeout: the killed member's partitions are reassigned
# after 6 s instead of 45 s)

# N readings (N/2 per line) as a live stream of about RATE a second.
# A spike episode on turbine-line-1/Blade every 120 readings keeps alerts
# opening and resolving, so some kills land while an alert is open.
start_bg producer bash -c "set -o pipefail; python3 '$GEN' $((N / 2)) --clean --spikes 120 --rate $RATE |
  kcat -b '$WW_BROKERS' -P -t '$WW_T_DATA' -K \$'\t'"
committed() { kcat_count "$WW_T_SCORED"; }
progress=0

for round in $(seq 1 "$KILLS"); do
  before=$progress
  progress=$((progress + STEP))
  "$PROC" "${PFLAGS[@]}" >"$WW_TMP/proc$round.out" 2>"$WW_TMP/proc$round.log" &
  pid=$!
  wait_until 600 "round $round: progress past $before committed readings" more_than "$progress"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  echo "round $round: killed after more than $progress committed readings" >&2
done

wait "$PID_producer" || die "producing the readings failed (see $WW_TMP/producer.log)"
"$PROC" "${PFLAGS[@]}" --mode batch >"$WW_TMP/final.json" 2>"$WW_TMP/final.log" ||
  { cat "$WW_TMP/final.log" >&2; die "the final batch run failed"; }

check_eq "input readings" "$(kcat_count "$WW_T_DATA")" "$N"
check_eq "sensor-scored readings (read_committed)" "$(committed)" "$N"
unique=$(distinct_readings "$WW_T_SCORED")
check_eq "distinct readings in sensor-scored" "$unique" "$N"
dups=$(kcat -b "$WW_BROKERS" -C -t "$WW_T_ALERTS" -e -q -X isolation.level=read_committed \
  -f '%s\n' 2>/dev/null | sort | uniq -d | wc -l)
check_eq "duplicated alert events" "$dups" 0
# Every alert's events follow its lifecycle across the kills: opened once,
# first; nothing after resolved; and every alert of a component but its last
# is resolved. A restarted processor carries the open alerts over, so an
# episode that spans a kill keeps its alert_id and is resolved, instead of
# staying open while the component's next episode gets a new one.
lifecycle=$(kcat -b "$WW_BROKERS" -C -t "$WW_T_ALERTS" -e -q -X isolation.level=read_committed \
  -f '%s\n' 2>/dev/null | python3 -c 'import json,sys
ev, comp = {}, {}
for l in sys.stdin:
    d=json.loads(l); ev.setdefault(d["alert_id"], []).append(d["event"])
    ids=comp.setdefault((d["production_line"], d["component_id"]), [])
    if d["alert_id"] not in ids: ids.append(d["alert_id"])
bad=[k for k,v in ev.items() if v[0]!="opened" or v.count("opened")!=1 or
     ("resolved" in v and v.index("resolved")!=len(v)-1)]
bad+=[k for ids in comp.values() for k in ids[:-1] if "resolved" not in ev[k]]
print(len(bad), len(ev), bad[:3])')
echo "alert lifecycles: $lifecycle (broken, alerts, examples)" >&2
check_ge "alerts opened during the run" "$(echo "$lifecycle" | cut -d' ' -f2)" 10
check_eq "alerts whose events break the lifecycle" "${lifecycle%% *}" 0
carried=$(cat "$WW_TMP"/proc*.log "$WW_TMP/final.log" | grep -c "carried over open alert" || true)
echo "alerts carried over by restarted processors: $carried" >&2
ww_done
