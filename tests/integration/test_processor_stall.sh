#!/usr/bin/env bash
# A processor that stands still for longer than its transaction timeout (a
# stalled VM, a swap storm, SIGSTOP) finds its transaction aborted by the
# broker and its producer fenced: a fatal producer error. It must replace the
# producer, go back to the committed offsets and go on, without a restart:
# every reading is then in sensor-scored exactly once and no alert event is
# repeated. The stall is SIGSTOP; the test broker (deploy/kafka/kafka.sh)
# looks for timed-out transactions every second.
source "$(dirname "$0")/lib.sh"
require_broker
require_tools python3 curl
PROC="$WW_BIN_DIR/windwatch-processor"
[ -x "$PROC" ] || die "$PROC is missing: build the windwatch-processor target"

N=20000      # readings, at RATE a second
RATE=1000
WANT=2       # stalls that break a transaction (3 renewals in 10 minutes are allowed)
STALL_S=5    # each stall: transaction.timeout.ms (2 s) + the broker's check (1 s) + margin
# An even stream keeps a transaction open on the broker at any instant, so
# the stall finds one, and the broker aborts it 2 s after it began: the
# processor's next call finds its producer fenced. (A stall that finds none
# breaks nothing; the loop stalls again, up to 6 times.)
ww_topics pstall
port=$(free_port)
start_bg proc "$PROC" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --group "g-$WW_T_DATA" \
  --window-type count --window-size 60 --stats-interval 1s --commit-interval 1s \
  --metrics-listen "127.0.0.1:$port" -X transaction.timeout.ms=2000
metric() { curl -sf "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print int($2)}'; }
# The product's own producer: an even stream with injected anomalies, which
# keep alerts opening and resolving.
start_bg producer "$WW_BIN_DIR/windwatch-producer" --brokers "$WW_BROKERS" --topic "$WW_T_DATA" \
  --rate "$RATE" --count "$N" --stats-interval 0

renewals() { grep -c 'replacing it and going back' "$WW_TMP/proc.log" || true; }
progress=500
for attempt in $(seq 1 6); do
  [ "$(renewals)" -ge "$WANT" ] && break
  progress=$((progress + 2500))
  wait_until 120 "stall $attempt: more than $progress readings scored" more_than "$progress"
  before=$(renewals)
  kill -STOP "$PID_proc"
  # The stall's length is the fault being injected, not a wait for readiness.
  sleep "$STALL_S"
  kill -CONT "$PID_proc"
  # Going on: either the producer is replaced or 500 more readings commit.
  going_on() {
    kill -0 "$PID_proc" 2>/dev/null || die "the processor exited after stall $attempt: $(tail -3 "$WW_TMP/proc.log")"
    [ "$(renewals)" -gt "$before" ] || more_than $((progress + 500))
  }
  wait_until 60 "stall $attempt: the processor going on" going_on
  echo "stall $attempt: producers replaced so far: $(renewals)" >&2
done
check_eq "stalls that fenced the producer (at most 6 tried)" "$(renewals)" "$WANT"

wait "$PID_producer" || die "producing the readings failed (see $WW_TMP/producer.log)"
scored_all() { [ "$(kcat_count "$WW_T_SCORED")" -ge "$N" ]; }
wait_until 120 "all $N readings scored after the stalls" scored_all
kill -0 "$PID_proc" 2>/dev/null || die "the processor exited: $(tail -5 "$WW_TMP/proc.log")"
# Operators see it in the metrics (metrics are published every 250 ms).
renewals_published() { [ "$(metric windwatch_processor_producer_renewals_total)" = "$WANT" ]; }
wait_until 10 "the renewals in the metrics" renewals_published
check_eq "windwatch_processor_producer_renewals_total" \
  "$(metric windwatch_processor_producer_renewals_total)" "$WANT"
check_ge "windwatch_processor_rewinds_total" "$(metric windwatch_processor_rewinds_total)" "$WANT"
stop_bg proc
check_eq "processor exit code after the stalls" "$STOP_RC" 0
check_eq "new producers ready" "$(grep -c 'a new producer is ready' "$WW_TMP/proc.log")" "$WANT"
check_eq "input readings" "$(kcat_count "$WW_T_DATA")" "$N"
check_eq "sensor-scored readings (read_committed)" "$(kcat_count "$WW_T_SCORED")" "$N"
check_eq "distinct readings in sensor-scored" "$(distinct_readings "$WW_T_SCORED")" "$N"
alerts=$(kcat -b "$WW_BROKERS" -C -t "$WW_T_ALERTS" -e -q -X isolation.level=read_committed \
  -f '%s\n' 2>/dev/null)
check_ge "alert events" "$(printf '%s\n' "$alerts" | grep -c '"event"')" 10
check_eq "duplicated alert events" "$(printf '%s\n' "$alerts" | sort | uniq -d | wc -l)" 0
ww_done
