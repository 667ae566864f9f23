#!/usr/bin/env bash
# Processor on the real broker, --mode batch: count windows and time windows,
# scored readings, window statistics, alert lifecycle, dead letters with
# reasons (malformed, NaN, late), and a second run that finds nothing new.
source "$(dirname "$0")/lib.sh"
require_broker
require_tools python3
PROC="$WW_BIN_DIR/windwatch-processor"
[ -x "$PROC" ] || die "$PROC is missing: build the windwatch-processor target"
GEN="$(dirname "$0")/gen_readings.py"

# json_get FILE KEY.PATH: one value of the summary JSON.
json_get() {
  python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"
}

kcat_dump() { # TOPIC FORMAT
  kcat -b "$WW_BROKERS" -C -t "$1" -e -q -X isolation.level=read_committed -f "$2" 2>/dev/null
}

run_batch() { # NAME ARGS...: run the processor in batch mode, summary in $WW_TMP/NAME.json
  local name=$1; shift
  timeout 120 "$PROC" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --mode batch \
    --stats-interval 0 "$@" >"$WW_TMP/$name.json" 2>"$WW_TMP/$name.log" ||
    { cat "$WW_TMP/$name.log" >&2; die "processor run $name failed"; }
  check_eq "$name: summary lines" "$(wc -l <"$WW_TMP/$name.json")" 1
}

# ---- count windows, exactly-once (the default guarantee) -------------------
ww_topics pcount
python3 "$GEN" 300 --spike >"$WW_TMP/in.txt"
kcat -b "$WW_BROKERS" -P -t "$WW_T_DATA" -K $'\t' -l "$WW_TMP/in.txt" || die "kcat produce failed"
run_batch count --group "g-$WW_T_DATA" --window-type count --window-size 50

S="$WW_TMP/count.json"
# Batch mode's own commit interval (1 s, not real time's 100 ms) when none is given.
check_contains "count: batch commit interval" "$(grep -o "commits every [0-9]* ms" "$WW_TMP/count.log")" 'commits every 1000 ms'
check_eq "count: messages" "$(json_get "$S" messages)" 602
check_eq "count: readings" "$(json_get "$S" readings)" 600
check_eq "count: windows (300 per line / 50)" "$(json_get "$S" windows)" 12
check_ge "count: alerts" "$(json_get "$S" alerts)" 1
check_eq "count: true alerts (the spike)" "$(json_get "$S" quality.true_alerts)" 1
check_eq "count: dead letters" "$(json_get "$S" dead_letters)" 2
check_eq "count: malformed" "$(json_get "$S" dead_letters_by_reason.malformed_json)" 1
check_eq "count: not finite" "$(json_get "$S" dead_letters_by_reason.not_finite)" 1
check_eq "count: episodes" "$(json_get "$S" quality.episodes)" 1
check_eq "count: recall" "$(json_get "$S" quality.recall)" 1.0

check_eq "sensor-scored messages" "$(kcat_count "$WW_T_SCORED")" 600
check_eq "window-stats messages" "$(kcat_count "$WW_T_STATS")" 12
check_eq "dlq messages" "$(kcat_count "$WW_T_DLQ")" 2
scored=$(kcat_dump "$WW_T_SCORED" '%k %s\n' | awk 'NR==1')
check_contains "scored key and score" "$scored" '"anomaly_score":'
check_contains "scored severity" "$scored" '"severity":"normal"'
stats=$(kcat_dump "$WW_T_STATS" '%s\n' | awk 'NR==1')
check_contains "window-stats type" "$stats" '"window_type":"count"'
check_contains "window-stats count" "$stats" '"count":50,'
check_contains "window-stats p95" "$stats" '"p95":'
check_contains "window-stats trend" "$stats" '"trend":"'
dlq=$(kcat_dump "$WW_T_DLQ" '%h|%s\n')
check_contains "dlq reason header" "$dlq" 'reason=malformed_json'
check_contains "dlq source header" "$dlq" "source_topic=$WW_T_DATA"
check_contains "dlq original bytes" "$dlq" '|{not json'
check_contains "dlq NaN reason" "$dlq" 'reason=not_finite'
# The spike's alert: Blade of turbine-line-1 (the z-score may flag noise elsewhere).
alerts=$(kcat_dump "$WW_T_ALERTS" '%k %s\n' | grep '"component_id":"Blade"')
check_eq "spike alert events (opened, resolved)" "$(printf '%s\n' "$alerts" | grep -c .)" 2
check_contains "alert opened" "$alerts" '"event":"opened"'
check_contains "alert resolved" "$alerts" '"event":"resolved"'
check_contains "alert key" "$alerts" 'turbine-line-1 {"v":1,"alert_id":"turbine-line-1-'
check_eq "one alert_id per episode" \
  "$(printf '%s\n' "$alerts" | grep -o '"alert_id":"[^"]*"' | sort -u | wc -l)" 1

# Offsets were committed with the outputs: a second run finds nothing new.
run_batch again --group "g-$WW_T_DATA" --window-type count --window-size 50 \
  --commit-interval 250ms
check_contains "rerun: --commit-interval wins" "$(grep -o "commits every [0-9]* ms" "$WW_TMP/again.log")" 'commits every 250 ms'
check_eq "rerun: readings" "$(json_get "$WW_TMP/again.json" readings)" 0
check_eq "rerun: sensor-scored unchanged" "$(kcat_count "$WW_T_SCORED")" 600

# ---- time windows, at-least-once, late data --------------------------------
ww_topics ptime
python3 "$GEN" 200 --late >"$WW_TMP/in2.txt"
kcat -b "$WW_BROKERS" -P -t "$WW_T_DATA" -K $'\t' -l "$WW_TMP/in2.txt" || die "kcat produce failed"
run_batch time --group "g-$WW_T_DATA" --window-type time --window-size 60 \
  --allowed-lateness 10s --guarantee at-least-once
S="$WW_TMP/time.json"
check_eq "time: readings" "$(json_get "$S" readings)" 400
check_eq "time: late" "$(json_get "$S" dead_letters_by_reason.late)" 1
# 200 s per line: [0,60) [60,120) [120,180) closed by the watermark, [180,240) at the end
check_eq "time: windows" "$(json_get "$S" windows)" 8
check_eq "time: window-stats messages" "$(kcat_count "$WW_T_STATS")" 8
check_contains "late dead letter" "$(kcat_dump "$WW_T_DLQ" '%h\n')" 'reason=late'
stats=$(kcat_dump "$WW_T_STATS" '%s\n' | grep turbine-line-2 | awk 'NR==1')
check_contains "time window bounds" "$stats" \
  '"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","count":60,'

ww_done
