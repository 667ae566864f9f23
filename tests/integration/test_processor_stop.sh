#!/usr/bin/env bash
# Exactly once across a graceful stop under load: the processor works through
# a backlog, so a SIGTERM lands while readings wait for their batch to be
# scored. It must finish them, produce their outputs and commit them with
# their offsets; a restart then goes on from there. Every reading must be in
# sensor-scored exactly once, as many stops later.
source "$(dirname "$0")/lib.sh"
require_broker
require_tools python3
PROC="$WW_BIN_DIR/windwatch-processor"
[ -x "$PROC" ] || die "$PROC is missing: build the windwatch-processor target"
PRODUCER="$WW_BIN_DIR/windwatch-producer"
[ -x "$PRODUCER" ] || die "$PRODUCER is missing: build the windwatch-producer target"

# A backlog large enough that the processor is still busy with it at every
# stop (it takes a few hundred thousand readings a second).
N=${WW_STOP_READINGS:-600000}
STOPS=${WW_STOPS:-3}
ww_topics pstop
"$PRODUCER" --brokers "$WW_BROKERS" --topic-sensor-data "$WW_T_DATA" --count "$N" --rate 0 \
  --seed 5 --start-time 2026-04-01T00:00:00Z --stats-interval 0 -q >/dev/null 2>"$WW_TMP/producer.log" ||
  die "producing the backlog failed (see $WW_TMP/producer.log)"
PFLAGS=(--brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --group "g-$WW_T_DATA"
  --transactional-id "tx-$WW_T_DATA" --stats-interval 0)

progress=0
for round in $(seq 1 "$STOPS"); do
  progress=$((progress + N / (STOPS + 3)))
  "$PROC" "${PFLAGS[@]}" >"$WW_TMP/proc$round.out" 2>"$WW_TMP/proc$round.log" &
  pid=$!
  wait_until 300 "round $round: more than $progress committed readings" more_than "$progress"
  kill -TERM "$pid"
  wait "$pid" || die "round $round: the processor did not stop cleanly (see $WW_TMP/proc$round.log)"
  echo "round $round: stopped after more than $progress committed readings" >&2
done
"$PROC" "${PFLAGS[@]}" --mode batch >"$WW_TMP/final.json" 2>"$WW_TMP/final.log" ||
  { cat "$WW_TMP/final.log" >&2; die "the final batch run failed"; }

check_eq "sensor-scored readings (read_committed)" "$(kcat_count "$WW_T_SCORED")" "$N"
unique=$(distinct_readings "$WW_T_SCORED")
check_eq "distinct readings in sensor-scored" "$unique" "$N"
ww_done
