#!/usr/bin/env bash
# A restart during a backfill replays by event time, not by timestamps. A
# backlog produced as fast as possible (event time one second a component per
# reading, all of it stamped within a few seconds) is processed, the
# processor is stopped and started again: its replay goes back the lookback
# in event time (the window size, two slides and the allowed lateness, plus
# the allowed lateness for disorder), a small part of the backlog, where a
# replay by message timestamps would read all of it. Then more of the
# backfill arrives, and the restarted processor publishes the same windows
# as one that ran through it all: the short replay held everything the open
# windows and the baselines needed.
source "$(dirname "$0")/lib.sh"
require_broker
require_tools python3 kcat
PROC="$WW_BIN_DIR/windwatch-processor"
PRODUCER="$WW_BIN_DIR/windwatch-producer"
for b in "$PROC" "$PRODUCER"; do [ -x "$b" ] || die "$b is missing: build it first"; done

N1=15000 # the backlog before the stop
N2=6000  # the backfill's rest
ww_topics pbackfill
DATA=$WW_T_DATA
STOPPED=("${WW_TOPIC_FLAGS[@]}")
STATS_STOPPED=$WW_T_STATS
SCORED_STOPPED=$WW_T_SCORED
DLQ_STOPPED=$WW_T_DLQ
ww_topics pbackfill-ref
THROUGH=("${WW_TOPIC_FLAGS[@]}")
THROUGH[1]=$DATA
STATS_THROUGH=$WW_T_STATS
SCORED_THROUGH=$WW_T_SCORED
DLQ_THROUGH=$WW_T_DLQ

# Hopping windows of 20 s every 10 s, 2 s of lateness: the replay goes back
# 20 + 2 x 10 + 2 s, and 2 s more for disorder, of the backlog's ~1,000 s.
# --train-size 0: no model, as in test_processor_replay.sh.
common=(--brokers "$WW_BROKERS" --train-size 0 --stats-interval 0 --commit-interval 200ms
  --window-size 20 --window-slide 10 --allowed-lateness 2s)
BACK_S=44

"$PRODUCER" --brokers "$WW_BROKERS" --topic-sensor-data "$DATA" --count "$N1" --rate 0 --seed 31 \
  --start-time 2026-05-01T00:00:00Z --stats-interval 0 >/dev/null 2>"$WW_TMP/producer1.log" ||
  die "the producer failed (see $WW_TMP/producer1.log)"
# Components in the backlog, and the event time of its last reading.
read -r K LAST < <(kcat -b "$WW_BROKERS" -C -t "$DATA" -e -q -f '%s\n' 2>/dev/null |
  python3 -c 'import json,sys
from datetime import datetime, timedelta
comps, last = set(), None
for l in sys.stdin:
    d = json.loads(l)
    comps.add((d["production_line"], d["component_id"]))
    t = datetime.fromisoformat(d["timestamp"].replace("Z", "+00:00"))
    last = t if last is None or t > last else last
print(len(comps), (last + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z"))')
echo "components: $K; the rest of the backfill starts at $LAST" >&2
check_ge "components in the backlog" "$K" 2

start_bg through "$PROC" "${common[@]}" --group "g-through-$DATA" "${THROUGH[@]}"
start_bg stopped1 "$PROC" "${common[@]}" --group "g-stopped-$DATA" "${STOPPED[@]}"
wait_until 120 "the backlog scored" more_than $((N1 - 1)) "$SCORED_STOPPED"
stop_bg stopped1
check_eq "processor exit code at the stop" "$STOP_RC" 0
check_eq "the stop's log: no replay at the first start" \
  "$(grep -c 'replayed [0-9]* readings' "$WW_TMP/stopped1.log" || true)" 0

start_bg stopped2 "$PROC" "${common[@]}" --group "g-stopped-$DATA" "${STOPPED[@]}"
wait_until 60 "the restart's replay" grep -q 'replayed [0-9]* readings' "$WW_TMP/stopped2.log"
replayed=$(grep -o 'replayed [0-9]* readings' "$WW_TMP/stopped2.log" | awk '{print $2}')
echo "replayed at the restart: $replayed of the backlog's $N1 readings" >&2
# Each line's components give one reading a second of event time each: the
# lookback holds about BACK_S x K readings (a second either way at its ends).
check_ge "readings replayed (at least the lookback in event time)" "$replayed" \
  $(((BACK_S - 2) * K))
excess=$((replayed - (BACK_S + 2) * K))
check_eq "readings replayed beyond the lookback in event time" "$((excess > 0 ? excess : 0))" 0

"$PRODUCER" --brokers "$WW_BROKERS" --topic-sensor-data "$DATA" --count "$N2" --rate 0 --seed 32 \
  --start-time "$LAST" --stats-interval 0 >/dev/null 2>"$WW_TMP/producer2.log" ||
  die "the producer failed (see $WW_TMP/producer2.log)"
all_scored() { [ "$(kcat_count "$1")" -ge $((N1 + N2)) ]; }
wait_until 120 "all readings scored by the processor that ran through" all_scored "$SCORED_THROUGH"
wait_until 120 "all readings scored by the restarted processor" all_scored "$SCORED_STOPPED"
for name in through stopped2; do
  stop_bg "$name"
  check_eq "$name: processor exit code" "$STOP_RC" 0
done
check_eq "dead letters of the restarted processor (those of the one that ran through)" \
  "$(kcat_count "$DLQ_STOPPED")" "$(kcat_count "$DLQ_THROUGH")"

check_windows_match "$STATS_THROUGH" "$STATS_STOPPED" 100 "after the restart"
ww_done
