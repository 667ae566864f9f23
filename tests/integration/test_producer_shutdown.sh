#!/usr/bin/env bash
# Shutdown and visibility: SIGTERM mid-run flushes and loses nothing (delivered
# = produced = read back); stats lines and Prometheus metrics show the
# counters; a broker that never answers ends in exit 1 with the undelivered
# count on stderr after --flush-timeout.
source "$(dirname "$0")/lib.sh"
require_tools kcat curl
require_broker
ww_topics it-prod-shutdown

P="$WW_BIN_DIR/windwatch-producer"
port=$(free_port)
metrics="http://127.0.0.1:$port/metrics"

start_bg prod "$P" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --rate 2000 --stats-interval 1s \
  --metrics-listen "127.0.0.1:$port" --anomaly-probability 0.1
delivered_at_least() {
  local n
  n=$(curl -sf "$metrics" | awk '/^windwatch_producer_readings_delivered_total/ {print int($2)}')
  [ -n "$n" ] && [ "$n" -ge "$1" ]
}
wait_until 60 "1000 deliveries in $metrics" delivered_at_least 1000
wait_until 30 "a stats line" grep -q 'STATS: produced' "$WW_TMP/prod.log"
page=$(curl -sf "$metrics")
for m in readings_total readings_produced_total readings_delivered_total readings_failed_total \
  readings_dropped_total stall_seconds_total queue_depth delivery_latency_seconds_count \
  injected_anomalies_total; do
  check_contains "metric windwatch_producer_$m" "$page" "windwatch_producer_$m"
done
check_contains "metrics TYPE line" "$page" "# TYPE windwatch_producer_readings_delivered_total counter"

stop_bg prod
check_eq "exit code after SIGTERM" "$STOP_RC" 0
read -r taken produced delivered failed dropped < <(producer_summary "$WW_TMP/prod.log")
check_ge "readings before SIGTERM" "${taken:-0}" 1000
check_eq "produced = readings" "$produced" "$taken"
check_eq "delivered = produced" "$delivered" "$produced"
check_eq "failed + dropped" "$((failed + dropped))" 0
check_eq "read back = delivered" "$(kcat_count "$WW_T_DATA")" "$delivered"

# Nobody listens on the broker address: the flush times out, the readings are
# reported as undelivered and the exit code is 1.
dead=$(free_port)
rc=0
"$P" --brokers "127.0.0.1:$dead" --topic "$WW_T_DLQ" --count 10 --flush-timeout 2s \
  -X log_level=0 >/dev/null 2>"$WW_TMP/dead.log" || rc=$?
check_eq "exit code without a broker" "$rc" 1
check_contains "undelivered reported" "$(cat "$WW_TMP/dead.log")" "10 of 10 readings were not delivered"

# Usage errors exit 2; --help exits 0.
rc=0; "$P" --no-such-flag 2>/dev/null || rc=$?
check_eq "exit code for an unknown flag" "$rc" 2
rc=0; "$P" --metrics-listen nonsense --count 1 --brokers "$WW_BROKERS" --topic "$WW_T_DLQ" 2>"$WW_TMP/ml.log" || rc=$?
check_eq "exit code for a bad --metrics-listen" "$rc" 2
check_contains "bad --metrics-listen named" "$(cat "$WW_TMP/ml.log")" "nonsense"
rc=0; "$P" --help >"$WW_TMP/help.txt" || rc=$?
check_eq "exit code for --help" "$rc" 0
check_contains "--help lists --on-full" "$(cat "$WW_TMP/help.txt")" "--on-full"

ww_done
