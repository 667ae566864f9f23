#!/usr/bin/env bash
# A processor started before its input topic exists: it says what to do (its
# log names the topic and how to create it) and, once the topic is created,
# picks it up by itself within topic.metadata.refresh.interval.ms (10 s by
# default here; librdkafka's own 5 minutes left it idle that long) and scores
# every reading produced to it.
source "$(dirname "$0")/lib.sh"
require_broker
require_tools kcat
PROC="$WW_BIN_DIR/windwatch-processor"
PRODUCER="$WW_BIN_DIR/windwatch-producer"
for b in "$PROC" "$PRODUCER"; do [ -x "$b" ] || die "$b is missing: build it first"; done

N=200
ww_topics plate
DATA="$WW_T_DATA-late" # not created yet
start_bg proc "$PROC" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --topic-sensor-data "$DATA" \
  --group "g-$DATA" --stats-interval 0
told() { grep -q "create the topic" "$WW_TMP/proc.log"; }
wait_until 60 "the processor's log saying that $DATA is missing and what to do" told
grep -m1 "create the topic" "$WW_TMP/proc.log" >&2
check_contains "the log line names the topic" "$(grep -m1 'create the topic' "$WW_TMP/proc.log")" \
  "$DATA"
WINDWATCH_TOPICS="$DATA:3" "$WW_SOURCE_DIR/deploy/kafka/kafka.sh" topics >/dev/null ||
  die "cannot create $DATA"
"$PRODUCER" --brokers "$WW_BROKERS" --topic-sensor-data "$DATA" --count "$N" --rate 0 --seed 3 \
  --stats-interval 0 -q >/dev/null 2>"$WW_TMP/producer.log" || die "the producer failed"
alive() { kill -0 "$PID_proc" 2>/dev/null || die "the processor exited: $(tail -3 "$WW_TMP/proc.log")"; }
scored_all() { alive && [ "$(kcat_count "$WW_T_SCORED")" -ge "$N" ]; }
# 60 s: the refresh interval plus a group join, far below librdkafka's 5 min.
wait_until 60 "all $N readings scored once the topic exists" scored_all
stop_bg proc
check_eq "processor exit code" "$STOP_RC" 0
check_eq "sensor-scored readings (read_committed)" "$(kcat_count "$WW_T_SCORED")" "$N"
ww_done
