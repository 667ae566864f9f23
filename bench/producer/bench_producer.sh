#!/usr/bin/env bash
# bench/producer/bench_producer.sh: windwatch-producer against `kcat -P` fed the
# same messages, on the same broker, side by side in one run.
#
# Both sides produce N readings to their own fresh 3-partition topic and are
# timed from start to exit, which includes waiting for every delivery report.
# kcat gets the producer's Kafka settings (idempotence, acks=all, lz4), so the
# comparison is of the two programs, not of their defaults. Rounds alternate
# (producer, kcat, producer, kcat, ...) so that background load hits both.
#
#   bench/producer/bench_producer.sh            # starts/reuses the local broker
#   WW_BROKERS=host:port BENCH_N=2000000 BENCH_ROUNDS=5 bench/producer/bench_producer.sh
#
# Output: progress on stderr; a markdown table on stdout (for docs/benchmarks.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${WW_BIN_DIR:-$ROOT/build/bin}
N=${BENCH_N:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
KAFKA_PROPS=(-X enable.idempotence=true -X acks=all -X compression.type=lz4)

command -v kcat >/dev/null || { echo "bench: kcat is missing (run scripts/bootstrap)" >&2; exit 1; }
[ -x "$BIN/windwatch-producer" ] || { echo "bench: no $BIN/windwatch-producer; build first (make)" >&2; exit 1; }
if [ -z "${WW_BROKERS:-}" ]; then
  WW_BROKERS=$("$ROOT/deploy/kafka/kafka.sh" start | tail -n 1)
fi
kcat -b "$WW_BROKERS" -L -m 10 >/dev/null 2>&1 || { echo "bench: no broker answers at $WW_BROKERS" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ww-bench-producer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix="bench-producer-$$"
topics=""
for r in $(seq 0 "$ROUNDS"); do topics="$topics $prefix-p$r:3 $prefix-k$r:3"; done
WINDWATCH_TOPICS="$topics" WINDWATCH_KAFKA_PORT=${WW_BROKERS##*:} "$ROOT/deploy/kafka/kafka.sh" topics >/dev/null

now() { date +%s.%N; }
rate() { awk -v n="$N" -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", n / (b - a) }'; }

# Round 0 makes the input for kcat: the producer's own messages, key<TAB>value.
echo "bench: preparing $N messages" >&2
"$BIN/windwatch-producer" -b "$WW_BROKERS" --topic "$prefix-p0" --count "$N" --rate 0 --seed 1 \
  --start-time 2026-01-01T00:00:00Z --stats-interval 0 -q "${KAFKA_PROPS[@]}"
kcat -b "$WW_BROKERS" -C -t "$prefix-p0" -e -q -f '%k\t%s\n' >"$tmp/msgs.tsv"
[ "$(wc -l <"$tmp/msgs.tsv")" -eq "$N" ] || { echo "bench: expected $N messages in $prefix-p0" >&2; exit 1; }

p_rates=(); k_rates=()
for r in $(seq 1 "$ROUNDS"); do
  t0=$(now)
  "$BIN/windwatch-producer" -b "$WW_BROKERS" --topic "$prefix-p$r" --count "$N" --rate 0 --seed 1 \
    --start-time 2026-01-01T00:00:00Z --stats-interval 0 -q "${KAFKA_PROPS[@]}"
  t1=$(now)
  kcat -b "$WW_BROKERS" -P -t "$prefix-k$r" -K $'\t' "${KAFKA_PROPS[@]}" -l "$tmp/msgs.tsv"
  t2=$(now)
  p_rates+=("$(rate "$t0" "$t1")"); k_rates+=("$(rate "$t1" "$t2")")
  echo "bench: round $r: windwatch-producer ${p_rates[-1]}/s, kcat -P ${k_rates[-1]}/s" >&2
done
for t in p k; do # both sides delivered everything
  got=$(kcat -b "$WW_BROKERS" -C -t "$prefix-${t}1" -e -q -f 'x\n' | wc -l)
  [ "$got" -eq "$N" ] || { echo "bench: $prefix-${t}1 holds $got messages, expected $N" >&2; exit 1; }
done

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
pm=$(median "${p_rates[@]}"); km=$(median "${k_rates[@]}")
echo "| what | readings/s (median of $ROUNDS) | rounds |"
echo "|---|---|---|"
echo "| windwatch-producer --rate 0 (simulating) | $pm | ${p_rates[*]} |"
echo "| kcat -P, same messages from a file | $km | ${k_rates[*]} |"
echo "| ratio producer / kcat | $(awk -v a="$pm" -v b="$km" 'BEGIN { printf "%.2f", a / b }') | goal >= 1.0 |"
echo
echo "$N messages of $(awk '{ s += length($0) } END { printf "%.0f", s / NR }' "$tmp/msgs.tsv") bytes (key+value) each, 3 partitions, ${KAFKA_PROPS[*]}, broker $WW_BROKERS, $(nproc) cores, $(date -u +%Y-%m-%d)."
