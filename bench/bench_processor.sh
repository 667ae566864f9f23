#!/usr/bin/env bash
# Processor throughput: windwatch-processor --mode batch over a topic of N
# readings (decode, windows, z-score, Isolation Forest scoring, alerts, and
# every output produced), exactly-once (default) and at-least-once, vs
# kcat -C -e -o beginning consuming the same topic to /dev/null. Each run
# gets fresh output topics and a fresh consumer group. Rate = N / process
# wall time (group join, start-up and the final commit included).
# Leaves $WORK/scored.env naming the output topics of the first
# exactly-once run, for bench_sink.sh.
source "$(dirname "$0")/lib.sh"
bench_begin processor

N=${BENCH_PROCESSOR_N:-$([ "${QUICK:-0}" = 1 ] && echo 100000 || echo 1000000)}
pre=bq$$
specs="$pre.in.sensor-data:3"
for r in $(seq 1 "$REPS"); do
  specs+=" $(topic_specs "$pre.eos$r") $(topic_specs "$pre.alo$r")"
done
topics "$specs"

log "producing $N readings into $pre.in.sensor-data"
"$WW_BIN/windwatch-producer" -b "$BROKERS" --topic-sensor-data "$pre.in.sensor-data" --count "$N" \
  --rate 0 --seed 42 --start-time 2026-01-01T00:00:00Z --stats-interval 0 -q \
  >/dev/null 2>>"$WORK/processor.log" || die "cannot produce the input readings"
[ "$(kcat_count "$pre.in.sensor-data")" = "$N" ] || die "input topic does not hold $N readings"

# Warm-up, not measured: the broker's first transactions and group joins pay
# for JIT compilation and the set-up of its internal topics.
topics "$(topic_specs "$pre.warm")"
# shellcheck disable=SC2046
"$WW_BIN/windwatch-processor" -b "$BROKERS" --topic-sensor-data "$pre.in.sensor-data" \
  $(topic_flags "$pre.warm" | sed 's/--topic-sensor-data [^ ]* //') --group "$pre-warm" \
  --mode batch --from-beginning --stats-interval 0 -q >/dev/null 2>>"$WORK/processor.log" ||
  die "the warm-up run failed"

cat >"$META" <<EOF
{"title": "3. Processor throughput (real broker, scoring on)",
 "what": "windwatch-processor --mode batch --from-beginning over a 3-partition topic of $N simulated readings (5 % injected anomalies, event time 1 s per component from 2026-01-01; default 60 s event-time windows; Isolation Forest of 100 trees trained on the first 2048 readings of each line, then every reading scored; alerts, window stats and scored readings produced), once with --guarantee exactly-once (the default: outputs and offsets in one Kafka transaction every 100 ms) and once with at-least-once, vs kcat -C -e -o beginning -q reading the same topic to /dev/null, after one unmeasured processor run that warms the freshly started broker. Rate = N / process wall time, start-up, group join and final commit included.",
 "params": {"readings": $N, "partitions": 3, "repetitions": $REPS},
 "series": {"eos": {"label": "processor exactly-once"}, "alo": {"label": "processor at-least-once"},
            "kcat": {"label": "kcat -C (raw consume)"},
            "eos_self": {"label": "processor exactly-once, own figure (readings_per_s of its summary)"}},
 "ratios": [{"num": "eos", "den": "kcat", "goal": 0.5, "goal_text": "≥ 0.5×"},
            {"num": "alo", "den": "kcat", "goal": 0.5, "goal_text": "≥ 0.5×"}],
 "goals": [{"series": "eos", "min": 200000, "text": "≥ 200,000 readings/s"}]}
EOF

# one_proc MODE REP: run the processor once; record its rate.
one_proc() {
  local mode=$1 r=$2 guarantee out got
  guarantee=$([ "$mode" = eos ] && echo exactly-once || echo at-least-once)
  # shellcheck disable=SC2046
  timed "$WW_BIN/windwatch-processor" -b "$BROKERS" --topic-sensor-data "$pre.in.sensor-data" \
    $(topic_flags "$pre.$mode$r" | sed 's/--topic-sensor-data [^ ]* //') \
    --group "$pre-$mode$r" --mode batch --from-beginning --guarantee "$guarantee" \
    --stats-interval 0 -q >"$WORK/processor.$mode$r.out" 2>>"$WORK/processor.log"
  out=$(tail -n 1 "$WORK/processor.$mode$r.out")
  got=$(json_get "$out" readings)
  if [ "$T_RC" = 0 ] && [ "$got" = "$N" ]; then
    rec "$mode" windwatch "process rate" "readings/s" "$(rate "$N" "$T_WALL")" "$T_RSS"
    [ "$mode" = eos ] && rec eos_self windwatch "process rate" "readings/s" "$(json_get "$out" readings_per_s)"
    if [ "$mode" = eos ] && [ "$r" = 1 ]; then
      echo "SCORED_PREFIX=$pre.eos1" >"$WORK/scored.env"
      echo "SCORED_SUMMARY='$out'" >>"$WORK/scored.env"
    fi
  else
    note "processor $guarantee repetition $r: exit $T_RC, $got of $N readings processed; not counted"
  fi
}

for r in $(seq 1 "$REPS"); do
  log "repetition $r/$REPS"
  one_proc eos "$r"
  one_proc alo "$r"
  timed kcat -C -b "$BROKERS" -t "$pre.in.sensor-data" -e -o beginning -q >/dev/null 2>>"$WORK/processor.log"
  if [ "$T_RC" = 0 ]; then
    rec kcat kcat "consume rate" "readings/s" "$(rate "$N" "$T_WALL")" "$T_RSS"
  else
    note "kcat -C repetition $r: exit $T_RC; not counted"
  fi
done
if [ -f "$WORK/scored.env" ]; then
  # shellcheck disable=SC1091
  source "$WORK/scored.env"
  extra "summary of the first exactly-once run" "$SCORED_SUMMARY"
fi
bench_end
