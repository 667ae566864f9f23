#!/usr/bin/env bash
# A broker outage loses nothing: a private broker (its own port and directory,
# so the shared test broker is never touched) is stopped while the producer and
# an exactly-once processor run, and started again. The producer's readings
# outlast it in its queue and arrive exactly once (the idempotent producer adds
# no duplicates); the processor's open transaction fails, is aborted and
# rewound to the committed offsets (no restart), and every reading is then in
# sensor-scored exactly once.
source "$(dirname "$0")/lib.sh"
require_tools kcat curl python3

export WINDWATCH_KAFKA_PORT WINDWATCH_KAFKA_CONTROLLER_PORT WINDWATCH_KAFKA_DIR WINDWATCH_TOPICS
export WINDWATCH_KAFKA_HEAP="-Xms256m -Xmx256m"
WINDWATCH_KAFKA_PORT=$(free_port)
WINDWATCH_KAFKA_CONTROLLER_PORT=$(free_port)
WINDWATCH_KAFKA_DIR="$WW_TMP/kafka"
WINDWATCH_TOPICS="outage.sensor-data:3 outage.sensor-scored:3 outage.window-stats:1 outage.alerts:1"
WINDWATCH_TOPICS+=" outage.sensor-data-dlq:1 outage.models:1:compact"
kafka="$WW_SOURCE_DIR/deploy/kafka/kafka.sh"
private_stop() { "$kafka" stop >/dev/null 2>&1 || true; }
trap 'private_stop; ww_cleanup' EXIT

brokers=$("$kafka" start 2>"$WW_TMP/kafka-start.log" | tail -n 1) ||
  die "private broker did not start: $(tail -5 "$WW_TMP/kafka-start.log")"
echo "private broker at $brokers" >&2
export WW_BROKERS=$brokers # for kcat_count and distinct_readings

P="$WW_BIN_DIR/windwatch-producer"
port=$(free_port)
metrics="http://127.0.0.1:$port/metrics"
metric() { curl -sf "$metrics" | awk -v m="$1{topic=\"outage.sensor-data\"}" '$1 == m {print int($2)}'; }
delivered_at_least() { local n; n=$(metric windwatch_producer_readings_delivered_total); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
backlog_at_least() { local q; q=$(metric windwatch_producer_queue_depth); [ -n "$q" ] && [ "$q" -ge "$1" ]; }

# Transactions of 2 s, so that the outage breaks one with outputs in it.
start_bg proc "$WW_BIN_DIR/windwatch-processor" --brokers "$brokers" --group outage \
  --topic-sensor-data outage.sensor-data --topic-sensor-scored outage.sensor-scored \
  --topic-window-stats outage.window-stats --topic-alerts outage.alerts \
  --topic-dlq outage.sensor-data-dlq --topic-models outage.models --stats-interval 1s \
  --commit-interval 2s
# Unbounded at 1000 readings/s; stopped with SIGTERM once the outage is over.
start_bg prod "$P" --brokers "$brokers" --topic outage.sensor-data --rate 1000 \
  --stats-interval 1s --metrics-listen "127.0.0.1:$port" --flush-timeout 120s
wait_until 60 "2000 deliveries before the outage" delivered_at_least 2000

"$kafka" stop 2>"$WW_TMP/kafka-stop.log" || die "private broker did not stop: $(tail -5 "$WW_TMP/kafka-stop.log")"
stopped_at=$SECONDS
# While the broker is away, readings pile up in the client's queue.
wait_until 60 "a backlog of 500 readings during the outage" backlog_at_least 500
# tests/faults/run keeps the broker away for 20 s (WW_FAULT_OUTAGE_SECONDS): the
# outage's length is the fault being injected, not a wait for readiness.
while [ $((SECONDS - stopped_at)) -lt "${WW_FAULT_OUTAGE_SECONDS:-0}" ]; do sleep 1; done
"$kafka" start >/dev/null 2>"$WW_TMP/kafka-restart.log" ||
  die "private broker did not restart: $(tail -5 "$WW_TMP/kafka-restart.log")"
# Everything produced before the restart gets delivered afterwards.
target=$(metric windwatch_producer_readings_produced_total)
wait_until 200 "delivery of the $target readings produced before the restart" delivered_at_least "$target"

stop_bg prod
check_eq "producer exit code across the outage" "$STOP_RC" 0
read -r _ produced delivered failed dropped < <(producer_summary "$WW_TMP/prod.log")
check_ge "readings produced across the outage" "${produced:-0}" "$target"
check_eq "delivered = produced" "$delivered" "$produced"
check_eq "failed + dropped" "$((failed + dropped))" 0
check_eq "messages read back = delivered" "$(kcat_count outage.sensor-data)" "$delivered"
check_eq "distinct readings read back (no duplicates)" \
  "$(distinct_readings outage.sensor-data)" "$delivered"

# The processor lived through the outage and scored every reading once.
kill -0 "$PID_proc" 2>/dev/null || die "the processor exited during the outage: $(tail -5 "$WW_TMP/proc.log")"
scored_all() { [ "$(kcat_count outage.sensor-scored)" -ge "$delivered" ]; }
wait_until 200 "all $delivered readings scored" scored_all
stop_bg proc
check_eq "processor exit code across the outage" "$STOP_RC" 0
grep -E 'TXN|fatal' "$WW_TMP/proc.log" | head -5 >&2 || true
check_eq "scored readings (read_committed)" "$(kcat_count outage.sensor-scored)" "$delivered"
check_eq "distinct scored readings (each exactly once)" \
  "$(distinct_readings outage.sensor-scored)" "$delivered"
ww_done
