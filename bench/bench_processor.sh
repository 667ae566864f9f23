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

# Warm-up, not measured (warm_broker): the broker's first transactions and
# group joins pay for JIT compilation and the set-up of its internal topics,
# and its JIT keeps compiling the produce path for many runs more (C2 still
# used 0.05 to 1.4 s of a run's 1.1 to 2.7 s of broker CPU after 10 to 20
# runs here; a run during which C2 used 0.6 to 0.8 s went 20 to 45 % slower
# than one after it had settled). The measured runs still record what the
# JIT used (eos.jit, alo.jit).
WARM=${BENCH_PROCESSOR_WARMUP:-10}
WARM_MAX=${BENCH_PROCESSOR_WARMUP_MAX:-30}
WARM_JIT=${BENCH_PROCESSOR_WARMUP_JIT:-0.15}
warm_proc() {
  topics "$(topic_specs "$pre.warm$1")"
  # shellcheck disable=SC2046
  "$WW_BIN/windwatch-processor" -b "$BROKERS" --topic-sensor-data "$pre.in.sensor-data" \
    $(topic_flags "$pre.warm$1" | sed 's/--topic-sensor-data [^ ]* //') --group "$pre-warm$1" \
    --mode batch --from-beginning --stats-interval 0 -q >/dev/null 2>>"$WORK/processor.log" ||
    die "warm-up run $1 failed"
}
warm_broker "$WARM" "$WARM_MAX" "$WARM_JIT" warm_proc

cat >"$META" <<EOF
{"title": "3. Processor throughput (real broker, scoring on)",
 "what": "windwatch-processor --mode batch --from-beginning over a 3-partition topic of $N simulated readings (5 % injected anomalies, event time 1 s per component from 2026-01-01; default 60 s event-time windows; Isolation Forest of 100 trees trained on the first 2048 readings of each line, then every reading scored; alerts, window stats and scored readings produced), once with --guarantee exactly-once (the default: outputs and offsets in one Kafka transaction, every second in batch mode) and once with at-least-once, vs kcat -C -e -o beginning -q reading the same topic to /dev/null, after $WARM_RUNS unmeasured processor runs that warm the freshly started broker (at least $WARM, then until its JIT compiler used under $WARM_JIT s of CPU in two runs in a row, at most $WARM_MAX). Rate = N / process wall time, start-up, group join and final commit included.",
 "params": {"readings": $N, "partitions": 3, "repetitions": $REPS, "warm-up runs": $WARM_RUNS},
 "series": {"eos": {"label": "processor exactly-once"}, "alo": {"label": "processor at-least-once"},
            "kcat": {"label": "kcat -C (raw consume)"},
            "eos_self": {"label": "processor exactly-once, own figure (readings_per_s of its summary)"},
            "eos.cpu": {"label": "processor exactly-once: its CPU time (all threads)", "better": "lower"},
            "eos.bcpu": {"label": "processor exactly-once: the broker's CPU time meanwhile", "better": "lower"},
            "eos.jit": {"label": "processor exactly-once: of that, the broker's JIT compiler threads", "better": "lower"},
            "alo.cpu": {"label": "processor at-least-once: its CPU time (all threads)", "better": "lower"},
            "alo.bcpu": {"label": "processor at-least-once: the broker's CPU time meanwhile", "better": "lower"},
            "alo.jit": {"label": "processor at-least-once: of that, the broker's JIT compiler threads", "better": "lower"},
            "kcat.cpu": {"label": "kcat -C: its CPU time", "better": "lower"},
            "kcat.bcpu": {"label": "kcat -C: the broker's CPU time meanwhile", "better": "lower"}},
 "ratios": [{"num": "eos", "den": "kcat", "goal": 0.5, "goal_text": "≥ 0.5×"},
            {"num": "alo", "den": "kcat", "goal": 0.5, "goal_text": "≥ 0.5×"}],
 "goals": [{"series": "eos", "min": 200000, "text": "≥ 200,000 readings/s"}]}
EOF

# one_proc MODE REP: run the processor once; record its rate.
one_proc() {
  local mode=$1 r=$2 guarantee out got b0 b1 j0 j1
  guarantee=$([ "$mode" = eos ] && echo exactly-once || echo at-least-once)
  b0=$(broker_cpu) j0=$(broker_jit_cpu)
  # shellcheck disable=SC2046
  timed "$WW_BIN/windwatch-processor" -b "$BROKERS" --topic-sensor-data "$pre.in.sensor-data" \
    $(topic_flags "$pre.$mode$r" | sed 's/--topic-sensor-data [^ ]* //') \
    --group "$pre-$mode$r" --mode batch --from-beginning --guarantee "$guarantee" \
    --stats-interval 0 -q >"$WORK/processor.$mode$r.out" 2>>"$WORK/processor.log"
  b1=$(broker_cpu) j1=$(broker_jit_cpu)
  out=$(tail -n 1 "$WORK/processor.$mode$r.out")
  got=$(json_get "$out" readings)
  if [ "$T_RC" = 0 ] && [ "$got" = "$N" ]; then
    rec "$mode" windwatch "process rate" "readings/s" "$(rate "$N" "$T_WALL")" "$T_RSS"
    [ "$mode" = eos ] && rec eos_self windwatch "process rate" "readings/s" "$(json_get "$out" readings_per_s)"
    rec "$mode.cpu" windwatch "CPU time" "s" "$T_CPU"
    rec "$mode.bcpu" broker "CPU time" "s" "$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.2f", b - a }')"
    rec "$mode.jit" broker "CPU time" "s" "$(awk -v a="$j0" -v b="$j1" 'BEGIN { printf "%.2f", b - a }')"
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
  b0=$(broker_cpu)
  timed kcat -C -b "$BROKERS" -t "$pre.in.sensor-data" -e -o beginning -q >/dev/null 2>>"$WORK/processor.log"
  b1=$(broker_cpu)
  if [ "$T_RC" = 0 ]; then
    rec kcat kcat "consume rate" "readings/s" "$(rate "$N" "$T_WALL")" "$T_RSS"
    rec kcat.cpu kcat "CPU time" "s" "$T_CPU"
    rec kcat.bcpu broker "CPU time" "s" "$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.2f", b - a }')"
  else
    note "kcat -C repetition $r: exit $T_RC; not counted"
  fi
done
# Where the time goes: the processor and the broker share this machine's
# cores, so the CPU both use per run bounds the wall time from below.
cpu_note=$(python3 - "$RAW" "$N" "$(nproc)" <<'PY'
import statistics, sys
raw, n, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
v = {}
for line in open(raw):
    f = line.rstrip("\n").split("\t")
    if f[0] == "m":
        v.setdefault(f[1], []).append(float(f[5]))
med = {k: statistics.median(x) for k, x in v.items()}
if all(k in med for k in ("eos", "eos.cpu", "eos.bcpu", "kcat", "kcat.cpu", "kcat.bcpu")):
    wall, kwall = n / med["eos"], n / med["kcat"]
    busy = med["eos.cpu"] + med["eos.bcpu"]
    jit = med.get("eos.jit")
    jit_text = (f" ({jit:.2f} s of it its JIT compiler, which a broker in service has long "
                f"finished)" if jit is not None else "")
    print(f"CPU per run (medians): the exactly-once processor used {med['eos.cpu']:.2f} s of CPU "
          f"and the broker {med['eos.bcpu']:.2f} s while it ran{jit_text}, {busy:.2f} s in {wall:.2f} s of wall "
          f"time, {busy / wall:.2f} of the {cores} cores; kcat -C used {med['kcat.cpu']:.2f} s and "
          f"the broker {med['kcat.bcpu']:.2f} s in {kwall:.2f} s. Consuming is the small part of the "
          f"processor's work: it also decodes, scores and re-encodes every reading and produces it "
          f"again, with the window stats, alerts and models, in transactions the broker must write. "
          f"With both programs on the same {cores} cores, the processor's wall time cannot drop below "
          f"{busy / cores:.2f} s (its and the broker's CPU spread over every core) without doing less "
          f"work per reading.")
PY
)
[ -n "$cpu_note" ] && note "$cpu_note"
if [ -f "$WORK/scored.env" ]; then
  # shellcheck disable=SC1091
  source "$WORK/scored.env"
  extra "summary of the first exactly-once run" "$SCORED_SUMMARY"
fi
bench_end
