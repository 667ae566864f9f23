#!/usr/bin/env bash
# Backpressure on the real broker with a tiny client queue
# (queue.buffering.max.messages=100): the default --on-full wait loses
# nothing; --on-full drop counts every drop, and what was not dropped arrives.
source "$(dirname "$0")/lib.sh"
require_tools kcat
require_broker
ww_topics it-prod-backpressure

P="$WW_BIN_DIR/windwatch-producer"
N=20000

# 1. wait (default): all N delivered and read back, exit 0.
rc=0
"$P" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --count $N --rate 0 --seed 1 \
  -X queue.buffering.max.messages=100 \
  >/dev/null 2>"$WW_TMP/wait.log" || rc=$?
check_eq "exit code with --on-full wait" "$rc" 0
check_contains "summary with --on-full wait" "$(cat "$WW_TMP/wait.log")" \
  "$N readings, $N produced, $N delivered, 0 failed, 0 dropped"
check_eq "readings read back" "$(kcat_count "$WW_T_DATA")" "$N"

# 2. drop: produced + dropped = N, everything produced is delivered and read
#    back, and the exit code says whether anything was dropped.
rc=0
"$P" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --topic-sensor-data "$WW_T_SCORED" \
  --count $N --rate 0 --seed 1 --on-full drop -X queue.buffering.max.messages=100 \
  >/dev/null 2>"$WW_TMP/drop.log" || rc=$?
read -r _ produced delivered failed dropped < <(producer_summary "$WW_TMP/drop.log")
check_eq "produced + dropped" "$((produced + dropped))" "$N"
check_eq "delivered = produced" "$delivered" "$produced"
check_eq "failed" "$failed" 0
check_eq "readings read back = delivered" "$(kcat_count "$WW_T_SCORED")" "$delivered"
if [ "$dropped" -gt 0 ]; then
  check_eq "exit code after drops" "$rc" 1
  check_contains "drops reported" "$(cat "$WW_TMP/drop.log")" "$dropped dropped on a full queue"
else
  check_eq "exit code without drops" "$rc" 0
fi

ww_done
