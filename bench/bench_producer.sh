#!/usr/bin/env bash
# Producer throughput: windwatch-producer --count N --rate 0 (simulating,
# encoding and producing N readings) vs kcat -P fed the same N messages
# (key<TAB>value lines dumped from an unmeasured warm-up run) on the same
# broker, each into a fresh 3-partition topic, with the same producer
# settings (idempotence, acks=all, lz4, librdkafka's default linger and
# batching). Rate = N / wall time of the process, start-up and the final
# flush included (both wait for every delivery report).
source "$(dirname "$0")/lib.sh"
bench_begin producer

# 2,000,000 readings: a run of 500,000 took 0.35 to 0.5 s on a warm broker,
# where a broker pause or a slow first batch moved a side by 15 % either way
# (paired ratios of 0.67 to 1.26 in one run); at 2,000,000 a run takes 1 to
# 2 s and measures the sustained rate.
N=${BENCH_PRODUCER_N:-$([ "${QUICK:-0}" = 1 ] && echo 100000 || echo 2000000)}
pre=bp$$
specs=""
for r in $(seq 1 "$REPS"); do specs+=" $pre.ww$r:3 $pre.kc$r:3 $pre.st$r:3"; done
topics "$specs"

# Warm-up, not measured (warm_broker): the broker has just started, and its
# first topics and producers pay for JIT compilation and page-cache misses
# that would otherwise land on whichever side runs first. Each warm-up run is
# a windwatch run and a kcat run; the first windwatch run's readings are the
# messages kcat sends (the same as every windwatch run's: --seed 42).
msgs=$WORK/producer.msgs
topics "$pre.warm:3 $pre.warmk:3"
warm_prod() {
  "$WW_BIN/windwatch-producer" -b "$BROKERS" --topic-sensor-data "$pre.warm" --count "$N" \
    --rate 0 --seed 42 --start-time 2026-01-01T00:00:00Z --stats-interval 0 -q \
    >/dev/null 2>>"$WORK/producer.log" || die "warm-up run $1 failed"
  if [ "$1" = 1 ]; then
    kcat -b "$BROKERS" -C -t "$pre.warm" -e -q -f '%k\t%s\n' >"$msgs" 2>>"$WORK/producer.log" ||
      die "cannot dump $pre.warm"
    [ "$(wc -l <"$msgs")" = "$N" ] || die "dumped $(wc -l <"$msgs") of $N messages"
    cut -f2 "$msgs" >"$msgs.values"
  fi
  kcat -P -b "$BROKERS" -t "$pre.warmk" -K $'\t' -l "$msgs" -X enable.idempotence=true \
    -X acks=all -z lz4 >/dev/null 2>>"$WORK/producer.log" || die "kcat warm-up run $1 failed"
}
WARM=${BENCH_PRODUCER_WARMUP:-2}
WARM_MAX=${BENCH_PRODUCER_WARMUP_MAX:-12}
WARM_JIT=${BENCH_PRODUCER_WARMUP_JIT:-0.15}
warm_broker "$WARM" "$WARM_MAX" "$WARM_JIT" warm_prod

cat >"$META" <<EOF
{"title": "2. Producer throughput",
 "what": "windwatch-producer --count $N --rate 0 --seed 42 (simulates, encodes and produces) vs kcat -P -K'\\\\t' -l FILE fed the same $N key/value messages (dumped from an unmeasured windwatch warm-up run). Unmeasured pairs of runs (windwatch, then kcat) warm the freshly started broker first: $WARM_RUNS here (at least $WARM, then until its JIT compiler used under $WARM_JIT s of CPU in two pairs in a row, at most $WARM_MAX). The order alternates: windwatch, --stdin, kcat in odd repetitions, the reverse in even ones. Both: enable.idempotence=true, acks=all, compression lz4, librdkafka defaults otherwise, fresh 3-partition topic per run. Rate = N / process wall time (start-up and final flush included; both exit only after every delivery report).",
 "params": {"readings": $N, "repetitions": $REPS, "warm-up pairs": $WARM_RUNS},
 "series": {"ww": {"label": "windwatch-producer (simulating)"}, "kcat": {"label": "kcat -P"},
            "ww_stdin": {"label": "windwatch-producer --stdin (same file)"}},
 "ratios": [{"num": "ww", "den": "kcat", "goal": 1, "goal_text": "≥ 1×"},
            {"num": "ww_stdin", "den": "kcat", "goal": 1, "goal_text": "≥ 1×"}]}
EOF

# recorded SERIES SYSTEM TOPIC WHAT: after a timed run into TOPIC, record its
# rate if it exited 0 and TOPIC holds all N messages, else say why not.
recorded() {
  local got
  got=$(kcat_count "$3")
  if [ "$T_RC" = 0 ] && [ "$got" = "$N" ]; then
    rec "$1" "$2" "produce rate" "readings/s" "$(rate "$N" "$T_WALL")" "$T_RSS"
  else
    note "$4: exit $T_RC, $got of $N messages in the topic; not counted"
  fi
}
# run_ww, run_stdin, run_kcat REP: one measured run each.
run_ww() {
  timed "$WW_BIN/windwatch-producer" -b "$BROKERS" --topic-sensor-data "$pre.ww$1" --count "$N" \
    --rate 0 --seed 42 --start-time 2026-01-01T00:00:00Z --stats-interval 0 -q \
    >/dev/null 2>>"$WORK/producer.log"
  recorded ww windwatch "$pre.ww$1" "windwatch-producer repetition $1"
}
# The same messages through windwatch's --stdin path: parse, validate, produce.
run_stdin() {
  timed "$WW_BIN/windwatch-producer" -b "$BROKERS" --topic-sensor-data "$pre.st$1" --stdin \
    --stats-interval 0 -q <"$msgs.values" >/dev/null 2>>"$WORK/producer.log"
  recorded ww_stdin windwatch "$pre.st$1" "windwatch-producer --stdin repetition $1"
}
run_kcat() {
  timed kcat -P -b "$BROKERS" -t "$pre.kc$1" -K $'\t' -l "$msgs" -X enable.idempotence=true \
    -X acks=all -z lz4 >/dev/null 2>>"$WORK/producer.log"
  recorded kcat kcat "$pre.kc$1" "kcat -P repetition $1"
}

# The order alternates, so neither side always runs first after the other.
for r in $(seq 1 "$REPS"); do
  log "repetition $r/$REPS"
  if [ $((r % 2)) = 1 ]; then
    run_ww "$r"
    run_stdin "$r"
    run_kcat "$r"
  else
    run_kcat "$r"
    run_stdin "$r"
    run_ww "$r"
  fi
done
note "windwatch-producer does more work per message than kcat -P: it simulates the reading (random model, injected anomalies) and encodes the JSON, where kcat only splits lines of a file. The --stdin row sends the very same file through windwatch (each line parsed and validated, keyed by its production_line)."
bench_end
