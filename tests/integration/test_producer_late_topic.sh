#!/usr/bin/env bash
# A topic that does not exist when the producer starts: the producer sends one
# by one while the partition count is unknown, switches to per-partition
# batches once it is known, and every reading arrives exactly once, each key
# on one partition, in per-component sequence order.
#  1. the topic is auto-created by the producer's first request;
#  2. auto-creation is off (-X allow.auto.create.topics=false) and an
#     operator creates the topic while the producer runs.
source "$(dirname "$0")/lib.sh"
require_tools kcat python3
require_broker

P="$WW_BIN_DIR/windwatch-producer"
prefix="it-prod-late-$$-$RANDOM"

# verify NAME TOPIC LOG: the run's summary and the topic's content agree.
verify() {
  local name=$1 topic=$2 log=$3 sums readings produced delivered failed dropped batched batches
  sums=$(grep 'done: ' "$log" | sed -E 's/.*done: ([0-9]+) readings, ([0-9]+) produced, ([0-9]+) delivered, ([0-9]+) failed, ([0-9]+) dropped, stall [0-9]+ ms, ([0-9]+) in ([0-9]+) batches.*/\1 \2 \3 \4 \5 \6 \7/')
  read -r readings produced delivered failed dropped batched batches <<<"$sums" ||
    die "$name: no summary line in $log"
  check_ge "$name: readings" "$readings" 1
  check_eq "$name: produced" "$produced" "$readings"
  check_eq "$name: delivered" "$delivered" "$readings"
  check_eq "$name: failed + dropped" "$((failed + dropped))" 0
  check_ge "$name: batches sent" "$batches" 1
  check_ge "$name: readings batched" "$batched" 1
  check_eq "$name: messages read back" "$(kcat_count "$topic")" "$readings"
  kcat -b "$WW_BROKERS" -C -t "$topic" -e -q -f '%p %o %k %s\n' | sort -n -k1,1 -k2,2 \
    >"$WW_TMP/$name.txt"
  python3 - "$WW_TMP/$name.txt" "$readings" <<'PY' || fail "$name: readings lost, duplicated, mis-partitioned or out of order (see above)"
import json, sys
parts, seqs = {}, {}
for line in open(sys.argv[1]):
    p, o, k, s = line.rstrip("\n").split(" ", 3)
    m = json.loads(s)
    assert m["production_line"] == k, m
    parts.setdefault(k, set()).add(p)
    seqs.setdefault((k, m["component_id"]), []).append(m["sequence_number"])
for k, ps in parts.items():
    assert len(ps) == 1, f"key {k} on partitions {sorted(ps)}"
total = 0
for key, got in seqs.items():
    # The simulator numbers each component 0, 1, 2, ...: offset order must be exactly that.
    assert got == list(range(len(got))), (key, [s for i, s in enumerate(got) if s != i][:5])
    total += len(got)
assert total == int(sys.argv[2]), (total, sys.argv[2])
print(f"{total} readings, {len(seqs)} components, each exactly once and in order; "
      f"{len(parts)} keys, one partition each", file=sys.stderr)
PY
  WW_CHECKS=$((WW_CHECKS + 1))
}

# stop_after_batches NAME: once the producer started as NAME has sent batches,
# SIGTERM it and check its exit code.
stop_after_batches() {
  local name=$1 pid rc=0
  pid=$(eval echo "\$PID_$name")
  wait_until 120 "$name: a stats line with batches" \
    grep -Eq 'STATS: .* batches [1-9][0-9]* ' "$WW_TMP/$name.log"
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  check_eq "$name: exit code" "$rc" 0
}

# 1. Auto-created by the producer.
T1="$prefix.auto"
start_bg auto "$P" --brokers "$WW_BROKERS" --topic-sensor-data "$T1" --rate 500 \
  --stats-interval 1s --seed 11
stop_after_batches auto
check_contains "auto: switch logged" "$(cat "$WW_TMP/auto.log")" \
  "batching per partition from now on"
verify auto "$T1" "$WW_TMP/auto.log"

# 2. Created by an operator while the producer runs. librdkafka fails readings
# for a topic still missing after topic.metadata.propagation.max.ms (30 s by
# default); the topic tool's JVM can take a while to start on a loaded machine.
T2="$prefix.operator"
start_bg operator "$P" --brokers "$WW_BROKERS" --topic-sensor-data "$T2" --rate 500 \
  --stats-interval 1s --seed 12 -X allow.auto.create.topics=false \
  -X topic.metadata.propagation.max.ms=300000
wait_until 60 "operator: readings produced one by one" \
  grep -Eq 'STATS: produced [1-9]' "$WW_TMP/operator.log"
WINDWATCH_TOPICS="$T2:3" "$WW_SOURCE_DIR/deploy/kafka/kafka.sh" topics >/dev/null ||
  die "cannot create topic $T2"
stop_after_batches operator
check_eq "operator: switch logged once" \
  "$(grep -c 'batching per partition from now on' "$WW_TMP/operator.log")" 1
# Readings taken before the topic existed went one by one.
grep 'done: ' "$WW_TMP/operator.log" >&2
check_eq "operator: some readings went one by one" "$(sed -nE \
  's/.*done: [0-9]+ readings, ([0-9]+) produced.*, ([0-9]+) in [0-9]+ batches.*/\1 \2/p' \
  "$WW_TMP/operator.log" | awk '{print ($1 > $2)}')" 1
verify operator "$T2" "$WW_TMP/operator.log"

ww_done
