#!/usr/bin/env bash
# Backpressure: with a tiny output queue the processor pauses its input
# partitions instead of blocking the group or dropping anything, resumes when
# deliveries drain the queue, and still scores every reading exactly once.
source "$(dirname "$0")/lib.sh"
require_tools kcat python3
require_broker
N=12000
ww_topics pbackpressure
python3 "$(dirname "$0")/gen_readings.py" $((N / 2)) --clean |
  kcat -b "$WW_BROKERS" -P -t "$WW_T_DATA" -K $'\t' || die "producing the readings failed"
"$WW_BIN_DIR/windwatch-processor" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
  --group "g-$WW_T_DATA" --mode batch --window-type count --window-size 60 --stats-interval 0 \
  -X queue.buffering.max.messages=500 -X linger.ms=20 -X fetch.wait.max.ms=50 \
  >"$WW_TMP/out.json" 2>"$WW_TMP/proc.log" || die "processor failed: $(tail -3 "$WW_TMP/proc.log")"
echo "summary: $(tail -n 1 "$WW_TMP/out.json")" >&2
check_eq "readings scored" "$(kcat_count "$WW_T_SCORED")" "$N"
check_eq "distinct readings in sensor-scored" "$(kcat -b "$WW_BROKERS" -C -t "$WW_T_SCORED" -e -q \
  -X isolation.level=read_committed -f '%s\n' | python3 -c 'import json,sys
print(len({(d["production_line"], d["component_id"], d["sequence_number"]) for d in map(json.loads, sys.stdin)}))')" "$N"
check_ge "times the input was paused" "$(grep -c 'input paused' "$WW_TMP/proc.log")" 1
ww_done
