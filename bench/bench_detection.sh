#!/usr/bin/env bash
# bench_detection.sh: detection quality on simulated data with ground truth.
# For REPS seeds: windwatch-producer simulates N readings with all five anomaly
# types (spike, drift, stuck, noise, multi; --anomaly-probability 0.05), the
# processor scores them in --mode batch with its defaults, and its summary's
# per-episode precision, recall and F1 (and recall per type) are kept. The
# processor never reads the ground-truth fields to detect; batch mode only
# compares its alerts with them at the end. Writes $RESULTS/detection.json.
set -euo pipefail
: "${WW_SRC:?run through bench/run}" "${WW_BIN:?}" "${BROKERS:?}" "${RESULTS:?}" "${REPS:?}"
N=${BENCH_DETECTION_N:-$([ "${QUICK:-0}" = 1 ] && echo 20000 || echo 120000)}
runs=()
for rep in $(seq 1 "$REPS"); do
  seed=$((rep * 7919))
  p="bench-det-$$-$rep"
  # shellcheck disable=SC2086
  env $KAFKA_ENV WINDWATCH_TOPICS="$p.in:3 $p.scored:3 $p.stats:1 $p.alerts:1 $p.dlq:1 $p.models:1:compact" \
    "$WW_SRC/deploy/kafka/kafka.sh" topics >/dev/null 2>&1
  flags=(--brokers "$BROKERS" --topic-sensor-data "$p.in" --topic-sensor-scored "$p.scored"
    --topic-window-stats "$p.stats" --topic-alerts "$p.alerts" --topic-dlq "$p.dlq" --topic-models "$p.models")
  "$WW_BIN/windwatch-producer" "${flags[@]}" --count "$N" --rate 0 --seed "$seed" \
    --start-time 2026-01-01T00:00:00Z --anomaly-types all -q >/dev/null
  summary=$("$WW_BIN/windwatch-processor" "${flags[@]}" --group "g-$p" --mode batch -q 2>/dev/null | tail -n 1)
  runs+=("$summary")
  echo "detection seed $seed: $(python3 -c 'import json,sys; q=json.loads(sys.argv[1])["quality"]; print("precision %.3f recall %.3f f1 %.3f" % (q["precision"], q["recall"], q["f1"]))' "$summary")" >&2
done
python3 - "$RESULTS/detection.json" "$N" "${runs[@]}" <<'PY'
import json, sys
path, n, runs = sys.argv[1], int(sys.argv[2]), [json.loads(r) for r in sys.argv[3:]]
json.dump({"name": "detection", "readings": n, "quality": [r["quality"] for r in runs]},
          open(path, "w"), indent=1)
PY
