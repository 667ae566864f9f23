#!/usr/bin/env bash
# bench_detection.sh: detection quality on simulated data with ground truth.
# For REPS seeds: windwatch-producer simulates N readings with all five anomaly
# types (spike, drift, stuck, noise, multi; --anomaly-probability 0.05), the
# processor scores them in --mode batch with its defaults, and its summary's
# per-episode precision, recall and F1 (and recall per type) are kept. Then,
# for the same seeds, each type alone (--anomaly-types TYPE): a false alert
# belongs to no type, so precision per type is measured on a stream holding
# only that type's episodes. And a clean stream (--anomaly-probability 0):
# every alert on it is a false one, the rate an operator is paged for
# nothing. The processor never reads the ground-truth fields to detect;
# batch mode only compares its alerts with them at the end.
# Writes $RESULTS/detection.json.
set -euo pipefail
: "${WW_SRC:?run through bench/run}" "${WW_BIN:?}" "${BROKERS:?}" "${RESULTS:?}" "${REPS:?}"
N=${BENCH_DETECTION_N:-$([ "${QUICK:-0}" = 1 ] && echo 20000 || echo 120000)}
TYPES="spike drift stuck noise multi"
# one_run LABEL SEED [PRODUCER FLAGS...]: the processor's summary of one
# simulated stream.
one_run() {
  local p="bench-det-$$-$1-$2" seed=$2 flags
  shift 2
  # shellcheck disable=SC2086
  env $KAFKA_ENV WINDWATCH_TOPICS="$p.in:3 $p.scored:3 $p.stats:1 $p.alerts:1 $p.dlq:1 $p.models:1:compact" \
    "$WW_SRC/deploy/kafka/kafka.sh" topics >/dev/null 2>&1
  flags=(--brokers "$BROKERS" --topic-sensor-data "$p.in" --topic-sensor-scored "$p.scored"
    --topic-window-stats "$p.stats" --topic-alerts "$p.alerts" --topic-dlq "$p.dlq" --topic-models "$p.models")
  "$WW_BIN/windwatch-producer" "${flags[@]}" --count "$N" --rate 0 --seed "$seed" \
    --start-time 2026-01-01T00:00:00Z -qq "$@" >/dev/null
  "$WW_BIN/windwatch-processor" "${flags[@]}" --group "g-$p" --mode batch -q 2>/dev/null | tail -n 1
}
show() {
  python3 -c 'import json,sys; q=json.loads(sys.argv[2])["quality"]; print("detection %s: precision %.3f recall %.3f f1 %.3f" % (sys.argv[1], q["precision"], q["recall"], q["f1"]))' "$1" "$2" >&2
}
runs=()
typed=()
clean=()
for rep in $(seq 1 "$REPS"); do
  seed=$((rep * 7919))
  summary=$(one_run all "$seed" --anomaly-types all)
  runs+=("$summary")
  show "all types, seed $seed" "$summary"
  for t in $TYPES; do
    summary=$(one_run "$t" "$seed" --anomaly-types "$t")
    typed+=("$t=$summary")
    show "$t only, seed $seed" "$summary"
  done
  summary=$(one_run clean "$seed" --anomaly-probability 0)
  clean+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["alerts"])' "$summary")")
  echo "detection clean stream, seed $seed: ${clean[-1]} false alerts" >&2
done
python3 - "$RESULTS/detection.json" "$N" "${#runs[@]}" "${clean[*]}" "${runs[@]}" "${typed[@]}" <<'PY'
import json, sys
path, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
clean = [int(x) for x in sys.argv[4].split()]
runs = [json.loads(r) for r in sys.argv[5:5 + k]]
by_type = {}
for arg in sys.argv[5 + k:]:
    t, summary = arg.split("=", 1)
    by_type.setdefault(t, []).append(json.loads(summary)["quality"])
json.dump({"name": "detection", "readings": n, "quality": [r["quality"] for r in runs],
           "by_type": by_type, "clean_alerts": clean}, open(path, "w"), indent=1)
PY
