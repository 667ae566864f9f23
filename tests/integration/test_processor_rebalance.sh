#!/usr/bin/env bash
# Two processors in one consumer group (cooperative-sticky): the second joins
# mid-stream and takes partitions over, then the first leaves with SIGTERM and
# hands its partitions back. Across both rebalances every reading is in
# sensor-scored exactly once (read_committed), and each line's model gauges
# come from the processor that holds it: the other reads 0 for the line, so
# that max by (line) over both gives the owner's figures.
source "$(dirname "$0")/lib.sh"
require_broker
require_tools python3 curl
PROC="$WW_BIN_DIR/windwatch-processor"
[ -x "$PROC" ] || die "$PROC is missing: build the windwatch-processor target"
GEN="$(dirname "$0")/gen_readings.py"

N=40000
WW_PARTITIONS=6 ww_topics preb
PFLAGS=(--brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --group "g-$WW_T_DATA"
  --commit-interval 50ms --stats-interval 0 -X session.timeout.ms=6000)
P_A=$(free_port) P_B=$(free_port)
LINES=(turbine-line-1 turbine-line-2)
assigned() { grep -q "REBALANCE: assigned" "$1"; }
# ratio PORT LINE: that processor's windwatch_processor_model_training_ratio
# for LINE ('' when it does not export one).
ratio() {
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk -v m="windwatch_processor_model_training_ratio{line=\"$2\"}" '$1 == m { print $2; exit }'
}
# one_owner: for every line, one processor reports a share above 0 and the
# other an explicit 0.
one_owner() {
  local line a b
  for line in "${LINES[@]}"; do
    a=$(ratio "$P_A" "$line") b=$(ratio "$P_B" "$line")
    [ -n "$a" ] && [ -n "$b" ] || return 1
    awk -v a="$a" -v b="$b" 'BEGIN { exit !((a > 0 && b == 0) || (a == 0 && b > 0)) }' || return 1
  done
}
# b_owns_all: B reports every line's first model as trained (share 1).
b_owns_all() {
  local line
  for line in "${LINES[@]}"; do [ "$(ratio "$P_B" "$line")" = 1 ] || return 1; done
}
revoked() { grep -q "REBALANCE: revoked" "$1"; }

# N readings (N/2 per line) as a live stream of about 5000 a second.
start_bg producer bash -c "set -o pipefail; python3 '$GEN' $((N / 2)) --clean --rate 5000 |
  kcat -b '$WW_BROKERS' -P -t '$WW_T_DATA' -K \$'\t'"
start_bg procA "$PROC" "${PFLAGS[@]}" --transactional-id "txA-$WW_T_DATA" \
  --metrics-listen "127.0.0.1:$P_A"
wait_until 120 "processor A to make progress" more_than 3000
start_bg procB "$PROC" "${PFLAGS[@]}" --transactional-id "txB-$WW_T_DATA" \
  --metrics-listen "127.0.0.1:$P_B"
wait_until 120 "processor B to be assigned partitions" assigned "$WW_TMP/procB.log"
wait_until 60 "processor A to give partitions up" revoked "$WW_TMP/procA.log"
wait_until 60 "each line's model gauges to come from one processor, 0 from the other" one_owner
wait "$PID_producer" || die "producing the readings failed (see $WW_TMP/producer.log)"
kill -TERM "$PID_procA"
wait "$PID_procA" || die "processor A did not stop cleanly (see $WW_TMP/procA.log)"
wait_until 120 "processor B to finish all $N readings" more_than $((N - 1))
wait_until 30 "processor B to report every line's first model trained" b_owns_all
kill -TERM "$PID_procB"
wait "$PID_procB" || die "processor B did not stop cleanly (see $WW_TMP/procB.log)"

check_eq "sensor-scored readings (read_committed)" "$(kcat_count "$WW_T_SCORED")" "$N"
unique=$(distinct_readings "$WW_T_SCORED")
check_eq "distinct readings in sensor-scored" "$unique" "$N"
check_ge "partitions B was assigned" "$(grep -c 'REBALANCE: assigned' "$WW_TMP/procB.log")" 1
check_ge "partitions A gave up" "$(grep -c 'REBALANCE: revoked' "$WW_TMP/procA.log")" 1
ww_done
