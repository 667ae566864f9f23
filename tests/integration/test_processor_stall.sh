#!/usr/bin/env bash
# A fatal producer error does not end the processor. Two ways to get one:
# - fenced: another producer starts with the processor's transactional.id
#   (ww-fence-txn), which bumps the epoch and aborts the open transaction;
# - stalled: the processor stands still (SIGSTOP) for longer than its
#   transaction timeout, so the broker aborts the transaction (the test
#   broker looks every second) and the processor's next call fails, either
#   abortably (aborted and rewound) or fatally (fenced).
# Each time it must replace the producer (or abort) and rewind to the
# committed offsets by itself: every reading is then in sensor-scored exactly
# once, no alert event is repeated, and /metrics counts what happened.
source "$(dirname "$0")/lib.sh"
require_broker
require_tools python3 curl
PROC="$WW_BIN_DIR/windwatch-processor"
FENCE="$WW_BIN_DIR/ww-fence-txn"
[ -x "$PROC" ] || die "$PROC is missing: build the windwatch-processor target"
[ -x "$FENCE" ] || die "$FENCE is missing: build the ww-fence-txn target"

RATE=1000  # readings a second, until the producer is stopped
STALL_S=5  # transaction.timeout.ms (2 s) + the broker's check (1 s) + margin
ww_topics pstall
TID="tx-$WW_T_DATA"
port=$(free_port)
# Under the sanitizers, full stacks for this processor's allocations: the
# one leak it is allowed, librdkafka's own after a fence, is listed in
# tests/sanitize/lsan.supp by the librdkafka function on its stack, which
# the fast unwinder (librdkafka has no frame pointers) never reaches.
ww_asan=${ASAN_OPTIONS:-}
if [ -n "${WW_SANITIZE:-}" ]; then export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"; fi
start_bg proc "$PROC" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --group "g-$WW_T_DATA" \
  --transactional-id "$TID" --window-type count --window-size 60 --stats-interval 1s \
  --commit-interval 1s --metrics-listen "127.0.0.1:$port" -X transaction.timeout.ms=2000
if [ -n "${WW_SANITIZE:-}" ]; then export ASAN_OPTIONS="$ww_asan"; fi
metric() { curl -sf "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print int($2)}'; }
# The product's own producer: an even stream (a transaction is open on the
# broker at any instant) with injected anomalies, which keep alerts opening
# and resolving.
start_bg producer "$WW_BIN_DIR/windwatch-producer" --brokers "$WW_BROKERS" --topic "$WW_T_DATA" \
  --rate "$RATE" --stats-interval 0
renewals() { grep -c 'replacing it and going back' "$WW_TMP/proc.log" || true; }
alive() { kill -0 "$PID_proc" 2>/dev/null || die "the processor exited: $(tail -3 "$WW_TMP/proc.log")"; }

# The fence, with the processor held still meanwhile: the tool's
# InitProducerId is retried while the broker aborts the open transaction,
# and each retry that finds a transaction open again fences its producer
# anew. Left running, the processor's replacement producers opened one each
# time and the two fenced each other until the processor gave up (4 renewals
# in 1.5 s, exit 3: a CI run under the sanitizers). Held still, it finds
# itself fenced once when it goes on: one renewal (3 are allowed in 10
# minutes, and a stall below may use another).
progress=1000
wait_until 60 "more than $progress readings scored" more_than "$progress"
kill -STOP "$PID_proc"
fence_rc=0
"$FENCE" "$WW_BROKERS" "$TID" || fence_rc=$?
kill -CONT "$PID_proc"
[ "$fence_rc" = 0 ] || die "ww-fence-txn failed (exit $fence_rc)"
renewed() { alive && [ "$(renewals)" -ge 1 ]; }
wait_until 30 "the fenced producer replaced" renewed
progress=$((progress + 2000))
wait_until 60 "more than $progress readings scored after the fence" more_than "$progress"
fenced=$(renewals)
echo "producers replaced after the fence: $fenced" >&2
check_ge "producers replaced after the fence" "$fenced" 1

# Stall until one breaks a transaction (a stall between transactions breaks
# nothing; with an even stream that is rare), at most 4 times.
published() { [ -n "$(metric windwatch_processor_rewinds_total)" ]; }
wait_until 10 "the metrics" published
before=$(metric windwatch_processor_rewinds_total)
for stall in 1 2 3 4; do
  wait_until 60 "stall $stall: more than $progress readings scored" more_than "$progress"
  kill -STOP "$PID_proc"
  # The stall's length is the fault being injected, not a wait for readiness.
  sleep "$STALL_S"
  kill -CONT "$PID_proc"
  going_on() { alive && more_than $((progress + 1000)); }
  wait_until 60 "stall $stall: the processor going on" going_on
  progress=$((progress + 2000))
  [ "$(metric windwatch_processor_rewinds_total)" -gt "$before" ] && break
done
echo "stalls: $stall; producers replaced in all: $(renewals)" >&2
check_ge "rewinds after the stalls (windwatch_processor_rewinds_total)" \
  "$(metric windwatch_processor_rewinds_total)" $((before + 1))
check_ge "windwatch_processor_producer_renewals_total" \
  "$(metric windwatch_processor_producer_renewals_total)" "$fenced"

stop_bg producer
check_eq "producer exit code" "$STOP_RC" 0
read -r _ produced delivered failed dropped < <(producer_summary "$WW_TMP/producer.log")
check_eq "failed + dropped readings" "$((failed + dropped))" 0
scored_all() { alive && [ "$(kcat_count "$WW_T_SCORED")" -ge "$delivered" ]; }
wait_until 120 "all $delivered readings scored" scored_all
stop_bg proc
check_eq "processor exit code" "$STOP_RC" 0
check_eq "new producers ready" "$(grep -c 'a new producer is ready' "$WW_TMP/proc.log")" "$(renewals)"
check_eq "input readings" "$(kcat_count "$WW_T_DATA")" "$delivered"
check_eq "sensor-scored readings (read_committed)" "$(kcat_count "$WW_T_SCORED")" "$delivered"
check_eq "distinct readings in sensor-scored" "$(distinct_readings "$WW_T_SCORED")" "$delivered"
alerts=$(kcat -b "$WW_BROKERS" -C -t "$WW_T_ALERTS" -e -q -X isolation.level=read_committed \
  -f '%s\n' 2>/dev/null)
check_ge "alert events" "$(printf '%s\n' "$alerts" | grep -c '"event"')" 10
check_eq "duplicated alert events" "$(printf '%s\n' "$alerts" | sort | uniq -d | wc -l)" 0
ww_done
