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

N=${BENCH_PRODUCER_N:-$([ "${QUICK:-0}" = 1 ] && echo 100000 || echo 500000)}
pre=bp$$
specs=""
for r in $(seq 1 "$REPS"); do specs+=" $pre.ww$r:3 $pre.kc$r:3 $pre.st$r:3"; done
topics "$specs"

cat >"$META" <<EOF
{"title": "2. Producer throughput",
 "what": "windwatch-producer --count $N --rate 0 --seed 42 (simulates, encodes and produces) vs kcat -P -K'\\\\t' -l FILE fed the same $N key/value messages (dumped from an unmeasured windwatch warm-up run, which with kcat's own warm-up run warms the freshly started broker). Both: enable.idempotence=true, acks=all, compression lz4, librdkafka defaults otherwise, fresh 3-partition topic per run. Rate = N / process wall time (start-up and final flush included; both exit only after every delivery report).",
 "params": {"readings": $N, "repetitions": $REPS},
 "series": {"ww": {"label": "windwatch-producer (simulating)"}, "kcat": {"label": "kcat -P"},
            "ww_stdin": {"label": "windwatch-producer --stdin (same file)"}},
 "ratios": [{"num": "ww", "den": "kcat", "goal": 1, "goal_text": "≥ 1×"},
            {"num": "ww_stdin", "den": "kcat", "goal": 1, "goal_text": "≥ 1×"}]}
EOF

# Warm-up, not measured: the broker has just started, and its first
# topics and producers pay for JIT compilation and page-cache misses that
# would otherwise land on whichever side runs first. The warm-up's readings
# are the messages kcat sends (the same as every windwatch run's: --seed 42).
msgs=$WORK/producer.msgs
topics "$pre.warm:3 $pre.warmk:3"
"$WW_BIN/windwatch-producer" -b "$BROKERS" --topic-sensor-data "$pre.warm" --count "$N" \
  --rate 0 --seed 42 --start-time 2026-01-01T00:00:00Z --stats-interval 0 -q \
  >/dev/null 2>>"$WORK/producer.log" || die "the warm-up run failed"
kcat -b "$BROKERS" -C -t "$pre.warm" -e -q -f '%k\t%s\n' >"$msgs" 2>>"$WORK/producer.log" ||
  die "cannot dump $pre.warm"
[ "$(wc -l <"$msgs")" = "$N" ] || die "dumped $(wc -l <"$msgs") of $N messages"
cut -f2 "$msgs" >"$msgs.values"
kcat -P -b "$BROKERS" -t "$pre.warmk" -K $'\t' -l "$msgs" -X enable.idempotence=true -X acks=all \
  -z lz4 >/dev/null 2>>"$WORK/producer.log" || die "the kcat warm-up run failed"

for r in $(seq 1 "$REPS"); do
  log "repetition $r/$REPS"
  timed "$WW_BIN/windwatch-producer" -b "$BROKERS" --topic-sensor-data "$pre.ww$r" --count "$N" \
    --rate 0 --seed 42 --start-time 2026-01-01T00:00:00Z --stats-interval 0 -q \
    >/dev/null 2>>"$WORK/producer.log"
  got=$(kcat_count "$pre.ww$r")
  if [ "$T_RC" = 0 ] && [ "$got" = "$N" ]; then
    rec ww windwatch "produce rate" "readings/s" "$(rate "$N" "$T_WALL")" "$T_RSS"
  else
    note "windwatch-producer repetition $r: exit $T_RC, $got of $N readings in the topic; not counted"
  fi
  # The same messages through windwatch's --stdin path: parse, validate, produce.
  timed "$WW_BIN/windwatch-producer" -b "$BROKERS" --topic-sensor-data "$pre.st$r" --stdin \
    --stats-interval 0 -q <"$msgs.values" >/dev/null 2>>"$WORK/producer.log"
  got=$(kcat_count "$pre.st$r")
  if [ "$T_RC" = 0 ] && [ "$got" = "$N" ]; then
    rec ww_stdin windwatch "produce rate" "readings/s" "$(rate "$N" "$T_WALL")" "$T_RSS"
  else
    note "windwatch-producer --stdin repetition $r: exit $T_RC, $got of $N readings in the topic; not counted"
  fi
  timed kcat -P -b "$BROKERS" -t "$pre.kc$r" -K $'\t' -l "$msgs" -X enable.idempotence=true \
    -X acks=all -z lz4 >/dev/null 2>>"$WORK/producer.log"
  got=$(kcat_count "$pre.kc$r")
  if [ "$T_RC" = 0 ] && [ "$got" = "$N" ]; then
    rec kcat kcat "produce rate" "readings/s" "$(rate "$N" "$T_WALL")" "$T_RSS"
  else
    note "kcat -P repetition $r: exit $T_RC, $got of $N messages in the topic; not counted"
  fi
done
note "windwatch-producer does more work per message than kcat -P: it simulates the reading (random model, injected anomalies) and encodes the JSON, where kcat only splits lines of a file. The --stdin row sends the very same file through windwatch (each line parsed and validated, keyed by its production_line)."
bench_end
