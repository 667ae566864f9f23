# shellcheck shell=bash
# shellcheck disable=SC2034  # T_*, RAW, META are read by the scripts that source this
# bench/lib.sh: helpers shared by the bench/bench_*.sh scripts (bash).
# bench/run exports the environment below and runs each script; a script
# records measurements with `rec`, remarks with `note`, and ends with
# `bench_end`, which writes bench/results/NAME.json.
#
# Environment (from bench/run): WW_SRC (repo), WW_BIN (windwatch binaries),
# HBIN (compiled bench helpers), WORK (scratch directory), RESULTS,
# BROKERS, REPS, QUICK (1 = smoke run), PY (baselines' python, empty when
# the virtual environment is unusable), KAFKA_ENV (env for deploy/kafka/kafka.sh).
set -euo pipefail

: "${WW_SRC:?run through bench/run}" "${WW_BIN:?}" "${HBIN:?}" "${WORK:?}" "${RESULTS:?}"
: "${BROKERS:?}" "${REPS:?}"

BENCH_NAME=""
RAW=""
META=""

log() { printf 'bench %s: %s\n' "${BENCH_NAME:-run}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# bench_begin NAME: start a results file for NAME.
bench_begin() {
  BENCH_NAME=$1
  RAW=$WORK/$1.raw
  META=$WORK/$1.meta.json
  : >"$RAW"
  echo '{}' >"$META"
}

# rec SERIES SYSTEM METRIC UNIT VALUE [RSS_KB]: one measurement of one repetition.
rec() {
  printf 'm\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:--}" >>"$RAW"
  log "$1: $5 $4${6:+ (peak RSS ${6} kB)}"
}
note() { printf 'note\t%s\n' "$*" >>"$RAW"; log "note: $*"; }
# extra KEY JSON: a free-form figure shown under the tables.
extra() { printf 'extra\t%s\t%s\n' "$1" "$2" >>"$RAW"; }

# bench_end: write $RESULTS/NAME.json from the measurements and $META.
bench_end() {
  python3 "$WW_SRC/bench/report.py" collect "$BENCH_NAME" "$RAW" "$META" \
    >"$RESULTS/$BENCH_NAME.json.tmp"
  mv "$RESULTS/$BENCH_NAME.json.tmp" "$RESULTS/$BENCH_NAME.json"
  log "wrote $RESULTS/$BENCH_NAME.json"
}

# timed CMD...: run CMD under bench/measure.c; sets T_WALL (s), T_RSS (kB),
# T_RC. stdin/stdout/stderr are the caller's: redirect around the call.
timed() {
  local f=$WORK/measure.$BASHPID.txt
  rm -f "$f"
  "$HBIN/measure" "$f" -- "$@" || true
  if [ ! -s "$f" ]; then T_WALL=0; T_RSS=0; T_RC=255; T_CPU=0; return 0; fi
  read -r T_WALL T_RSS T_RC T_CPU <"$f"
}

# broker_cpu: CPU seconds (user + system) the bench broker's JVM has used so far.
broker_cpu() {
  local pid
  pid=$(cat "$WORK/kafka/kafka.pid" 2>/dev/null) || { echo 0; return 0; }
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat" \
    2>/dev/null || echo 0
}

# broker_jit_cpu: the part of broker_cpu its JIT compiler threads (C1, C2 and
# the code-cache sweeper) have used: work a young broker does once per code
# path, and a broker in service has long finished.
broker_jit_cpu() {
  local pid t ticks=0 f
  pid=$(cat "$WORK/kafka/kafka.pid" 2>/dev/null) || { echo 0; return 0; }
  for t in /proc/"$pid"/task/*; do
    case $(cat "$t/comm" 2>/dev/null) in
      "C1 Compiler"* | "C2 Compiler"* | "Sweeper thread")
        # fields 14 and 15 of stat (utime, stime) counted after the ') '
        read -ra f <<<"$(sed 's/.*) //' "$t/stat" 2>/dev/null)" || continue
        ticks=$((ticks + ${f[11]:-0} + ${f[12]:-0}))
        ;;
    esac
  done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# rate COUNT SECONDS: COUNT / SECONDS, one decimal.
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", n / s; else print 0 }'; }

# topics "NAME:PARTITIONS[:compact] ...": create topics on the bench broker.
topics() {
  env $KAFKA_ENV WINDWATCH_TOPICS="$1" "$WW_SRC/deploy/kafka/kafka.sh" topics >/dev/null \
    2>>"$WORK/kafka-topics.log" || die "cannot create topics $1 (see $WORK/kafka-topics.log)"
}

# kcat_count TOPIC: messages in TOPIC (read_committed), reading to the end.
kcat_count() {
  kcat -b "$BROKERS" -C -t "$1" -e -q -X isolation.level=read_committed -f 'x\n' 2>/dev/null | wc -l
}

# topic_flags PREFIX: windwatch flags naming the six topics PREFIX.<topic>.
topic_flags() {
  echo "--topic-sensor-data $1.sensor-data --topic-sensor-scored $1.sensor-scored" \
    "--topic-window-stats $1.window-stats --topic-alerts $1.alerts" \
    "--topic-dlq $1.sensor-data-dlq --topic-models $1.models"
}
# topic_specs PREFIX [DATA_PARTITIONS]: the kafka.sh spec of those six topics.
topic_specs() {
  local p=${2:-3}
  echo "$1.sensor-data:$p $1.sensor-scored:$p $1.window-stats:1 $1.alerts:1" \
    "$1.sensor-data-dlq:1 $1.models:1:compact"
}

# warm_broker MIN MAX JIT_S FN: the unmeasured warm-up of a freshly started
# broker. Calls FN 1, FN 2, ... at least MIN times, then until the broker's
# JIT compiler threads used under JIT_S s of CPU in two calls in a row, MAX
# calls at most. A young broker's C2 compiler keeps compiling the produce and
# transaction paths for 10 to 20 runs, and a measured run it compiles during
# is slower by a fifth or more; a broker in service has long been warm. Sets
# WARM_RUNS and notes the JIT CPU of each call.
warm_broker() {
  local min=$1 max=$2 thr=$3 fn=$4 n=0 settled=0 j0 jit jits=""
  while [ "$n" -lt "$max" ] && { [ "$n" -lt "$min" ] || [ "$settled" -lt 2 ]; }; do
    n=$((n + 1))
    j0=$(broker_jit_cpu)
    "$fn" "$n"
    jit=$(awk -v a="$j0" -v b="$(broker_jit_cpu)" 'BEGIN { printf "%.2f", b - a }')
    jits+="${jits:+, }$jit"
    if awk -v j="$jit" -v t="$thr" 'BEGIN { exit !(j < t) }'; then
      settled=$((settled + 1))
    else
      settled=0
    fi
  done
  WARM_RUNS=$n
  if [ "$settled" -ge 2 ]; then
    note "warm-up: $n unmeasured runs; the broker's JIT compiler used $jits s of CPU in them, in order (the warm-up ends after two runs in a row under $thr s, at least $min runs)"
  else
    note "warm-up: the broker's JIT compiler had not settled after $n runs ($jits s of CPU in them, in order); the measured runs may include its compilation"
  fi
}

# json_get JSON KEY: a top-level number or string of a JSON object.
json_get() {
  python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' \
    "$1" "$2" 2>/dev/null || true
}

# py_baseline ARGS...: run the baselines' python (OpenBLAS tuning unset,
# one thread everywhere: the comparisons are per core).
py_baseline() {
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 "$PY" "$@"
}
