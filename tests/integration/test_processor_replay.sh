#!/usr/bin/env bash
# A line that changes hands keeps its windows. One processor reads a paced
# stream from start to end; another, in its own group on the same input, is
# stopped twice mid-stream (SIGTERM) and started again. Each restart replays
# the input before its committed offsets, without outputs, so the windows
# that were open at the stop close later with every reading they had: the
# two processors publish the same windows with the same statistics
# (window_seq included), no window twice, none cut short. The same stops
# with --restore-models=false (no replay) are the control: there, each stop
# leaves windows cut in two.
#
# REPLAY_WINDOWS=count runs the same with count windows: there the replay
# starts from the counts each commit keeps with its offsets, so the
# restarted processor closes its windows after the same readings, with the
# same window_seq, as the one that ran through.
source "$(dirname "$0")/lib.sh"
require_broker
require_tools python3 kcat curl
PROC="$WW_BIN_DIR/windwatch-processor"
PRODUCER="$WW_BIN_DIR/windwatch-producer"
for b in "$PROC" "$PRODUCER"; do [ -x "$b" ] || die "$b is missing: build it first"; done

N=24000   # readings in all
RATE=1500 # a second: 16 s of stream
P=preplay
[ "${REPLAY_WINDOWS:-time}" = count ] && P=preplayc
ww_topics $P
DATA=$WW_T_DATA
# Outputs of the processor that is stopped (with replay), of the control, and
# of the one that runs through.
STOPPED=("${WW_TOPIC_FLAGS[@]}")
STATS_STOPPED=$WW_T_STATS
SCORED_STOPPED=$WW_T_SCORED
ww_topics $P-ctl
CONTROL=("${WW_TOPIC_FLAGS[@]}")
CONTROL[1]=$DATA
STATS_CONTROL=$WW_T_STATS
SCORED_CONTROL=$WW_T_SCORED
ww_topics $P-ref
THROUGH=("${WW_TOPIC_FLAGS[@]}")
THROUGH[1]=$DATA
STATS_THROUGH=$WW_T_STATS
SCORED_THROUGH=$WW_T_SCORED

# The paced stream's event time follows the clock: hopping windows of 4 s
# every 2 s, closed 1 s after their end, give some 14 windows per line, and
# the replay goes back 4 + 2 x 2 + 1 = 9 s of the 16 s, so the restarts
# replay part of the history, not all of it. --train-size 0: no model, so
# that the anomalous counts depend on the readings alone too.
common=(--brokers "$WW_BROKERS" --train-size 0 --stats-interval 0 --commit-interval 200ms
  --window-size 4 --window-slide 2 --allowed-lateness 1s)
# Count windows: 400 readings of a line every 200 (about half a second of
# the 750 readings/s each line gets), panes of 200 readings per component.
[ "${REPLAY_WINDOWS:-time}" = count ] &&
  common=(--brokers "$WW_BROKERS" --train-size 0 --stats-interval 0 --commit-interval 200ms
    --window-type count --window-size 400 --window-slide 200)
run() { # NAME GROUP TOPIC-FLAGS... -- EXTRA...
  local name=$1 group=$2; shift 2
  start_bg "$name" "$PROC" "${common[@]}" --group "$group" "$@"
}

start_bg producer "$PRODUCER" --brokers "$WW_BROKERS" --topic-sensor-data "$DATA" --count "$N" \
  --rate "$RATE" --seed 21 --start-time 2026-05-01T00:00:00Z --stats-interval 0
run through "g-through-$DATA" "${THROUGH[@]}"
for variant in stopped control; do
  if [ "$variant" = stopped ]; then flags=("${STOPPED[@]}"); scored=$SCORED_STOPPED; else
    flags=("${CONTROL[@]}" --restore-models=false); scored=$SCORED_CONTROL; fi
  # Two stops, each after another third of the stream, while it is produced.
  for round in 1 2; do
    run "$variant$round" "g-$variant-$DATA" "${flags[@]}"
    wait_until 120 "$variant, round $round: more than $((round * N / 3)) readings scored" \
      more_than $((round * N / 3)) "$scored"
    stop_bg "$variant$round"
    check_eq "$variant, round $round: processor exit code" "$STOP_RC" 0
  done
  [ "$variant" = stopped ] && port=$(free_port) && flags+=(--metrics-listen "127.0.0.1:$port")
  run "${variant}3" "g-$variant-$DATA" "${flags[@]}"
done
wait "$PID_producer" || die "the producer failed (see $WW_TMP/producer.log)"

all_scored() { [ "$(kcat_count "$1")" -ge "$N" ]; }
wait_until 120 "all $N readings scored by the processor that ran through" all_scored "$SCORED_THROUGH"
wait_until 120 "all $N readings scored by the stopped processor" all_scored "$SCORED_STOPPED"
wait_until 120 "all $N readings scored by the control" all_scored "$SCORED_CONTROL"
# The last restart's replay, in its log and in /metrics.
logged=$(grep -o 'replayed [0-9]* readings' "$WW_TMP/stopped3.log" | awk '{s += $2} END {print s + 0}')
metric() { curl -sf "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print int($2)}'; }
check_ge "the last restart's replay (log)" "$logged" 1
check_eq "windwatch_processor_replayed_readings_total" \
  "$(metric windwatch_processor_replayed_readings_total)" "$logged"
check_contains "windwatch_processor_replay_seconds_total" \
  "$(curl -sf "http://127.0.0.1:$port/metrics" | grep '^windwatch_processor_replay_seconds_total ')" \
  "windwatch_processor_replay_seconds_total "
for name in through stopped3 control3; do
  stop_bg "$name"
  check_eq "$name: processor exit code" "$STOP_RC" 0
done
replayed=$(grep -ho 'replayed [0-9]* readings' "$WW_TMP"/stopped2.log "$WW_TMP"/stopped3.log |
  awk '{s += $2} END {print s + 0}')
echo "readings replayed by the restarts: $replayed" >&2
check_ge "readings replayed by the restarts" "$replayed" 1
if [ "${REPLAY_WINDOWS:-time}" = count ]; then
  # Each restart took up both lines from their committed counts.
  check_eq "lines whose count windows went on from their committed counts" \
    "$(cat "$WW_TMP"/stopped2.log "$WW_TMP"/stopped3.log | grep -c 'count windows go on from reading' || true)" 4
fi
check_eq "readings replayed by the control" \
  "$(cat "$WW_TMP"/control*.log | grep -c 'replayed [0-9]* readings' || true)" 0

check_windows_match "$STATS_THROUGH" "$STATS_STOPPED" 10 "after the stops"
window_rows "$STATS_CONTROL" >"$WW_TMP/control.txt"
# The control shows what the replay prevents.
check_ge "control: windows that differ (cut in two by a stop)" \
  "$(diff "$WW_TMP/through.txt" "$WW_TMP/control.txt" | grep -c '^[<>]' || true)" 2
ww_done
