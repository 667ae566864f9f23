#!/usr/bin/env bash
# Exactly once across crashes: while scored readings keep arriving, the sink is
# killed with SIGKILL at random moments and restarted, round after round. At the
# end every reading is in the database exactly once, the rollups count each
# reading once, and the stored offsets cover exactly what was produced.
source "$(dirname "$0")/lib.sh"
require_tools kcat sqlite3 python3
require_broker
ww_topics it-sinkkill

db="$WW_TMP/kill.db"
group="it-sinkkill-$$-$RANDOM"
ROUNDS=${WW_KILL_ROUNDS:-8}
CHUNK=${WW_KILL_CHUNK:-60000}

# gen_scored FIRST COUNT: "key<TAB>json" scored readings, sequence numbers FIRST...
gen_scored() {
  python3 - "$1" "$2" <<'PY'
import json, sys, time
first, count = int(sys.argv[1]), int(sys.argv[2])
now = int(time.time() * 1000) - 600000
lines = [("turbine-line-1", "Blade"), ("turbine-line-2", "Gearbox")]
w = sys.stdout.write
for i in range(first, first + count):
    line, comp = lines[i % 2]
    ts = now + i // 10
    w(line + "\t" + json.dumps({"v": 1, "production_line": line, "component_id": comp,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1000)) + ".%03dZ" % (ts % 1000),
        "sequence_number": i, "temperature": 20 + i % 17, "humidity": 50 + i % 11,
        "sound_level": 60 + i % 7, "injected_anomaly": None, "episode_id": None,
        "anomaly_score": 0.1, "severity": "normal", "model_version": 1, "zscore": 0.0},
        separators=(",", ":")) + "\n")
PY
}

# Static group membership: a restarted sink takes its dead predecessor's place
# at once instead of waiting for the session timeout to evict it.
sink_args=(--brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --db "$db" --group "$group"
  --stats-interval 0 --log-level warn --instance-id "$group-1" -X session.timeout.ms=6000)
rows() { sqlite3 "file:$db?mode=ro" 'SELECT count(*) FROM sensor_readings' 2>/dev/null || echo 0; }

total=0
mid_run=0
for round in $(seq 1 "$ROUNDS"); do
  # New data keeps arriving while the sink runs, so most kills land mid-batch.
  gen_scored "$total" "$CHUNK" >"$WW_TMP/chunk.txt"
  total=$((total + CHUNK))
  kcat -b "$WW_BROKERS" -P -t "$WW_T_SCORED" -K $'\t' -l "$WW_TMP/chunk.txt" &
  kpid=$!
  # Small batches: many commits, many moments to be killed in.
  "$WW_BIN_DIR/windwatch-sink" "${sink_args[@]}" --batch-size $((200 + RANDOM % 2000)) \
    --batch-ms 20ms >>"$WW_TMP/sink.out" 2>>"$WW_TMP/sink.log" &
  spid=$!
  # Kill it at a random point of the new chunk: once it has stored a random
  # number (1 .. CHUNK/2) of the new readings, so the kill lands mid-stream
  # however fast the machine is.
  before=$(rows)
  target=$((before + 1 + RANDOM * 32768 % (CHUNK / 2) + RANDOM % (CHUNK / 2)))
  [ "$target" -lt $((before + CHUNK / 2)) ] || target=$((before + CHUNK / 4))
  progressed() { [ "$(rows)" -ge "$target" ]; }
  wait_until 120 "the restarted sink to store $((target - before)) new readings (round $round)" progressed
  # Count while the sink still runs: read-only reads right after the SIGKILL
  # were seen to return the last checkpoint's count (the WAL of a killed
  # writer is only recovered by the next read-write open).
  n=$(rows)
  kill -KILL "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  wait "$kpid" || die "kcat could not produce round $round"
  echo "round $round: killed with at least $n of $total readings stored" >&2
  if [ "$n" -gt 0 ] && [ "$n" -lt "$total" ]; then mid_run=$((mid_run + 1)); fi
  dups=$(sqlite3 "file:$db?mode=ro" 'SELECT count(*) - count(DISTINCT sequence_number) FROM sensor_readings' 2>/dev/null || echo 0)
  [ "$dups" = 0 ] || fail "round $round: $dups duplicate readings after SIGKILL"
done
check_ge "kills that landed while readings were still unstored" "$mid_run" 1

# A last clean run to the end of every partition.
"$WW_BIN_DIR/windwatch-sink" "${sink_args[@]}" --mode batch >"$WW_TMP/final.out" \
  2>"$WW_TMP/final.log" || die "final sink run failed: $(tail -5 "$WW_TMP/final.log")"
echo "final summary: $(tail -n 1 "$WW_TMP/final.out")" >&2

check_eq "readings in $WW_T_SCORED" "$(kcat_count "$WW_T_SCORED")" "$total"
check_eq "rows in sensor_readings" "$(sqlite3 "$db" 'SELECT count(*) FROM sensor_readings')" "$total"
check_eq "distinct sequence numbers" "$(sqlite3 "$db" 'SELECT count(DISTINCT sequence_number) FROM sensor_readings')" "$total"
check_eq "every sequence number 0..N-1" \
  "$(sqlite3 "$db" 'SELECT min(sequence_number) || ".." || max(sequence_number) FROM sensor_readings')" "0..$((total - 1))"
check_eq "distinct Kafka coordinates" \
  "$(sqlite3 "$db" 'SELECT count(*) FROM (SELECT DISTINCT src_partition, src_offset FROM sensor_readings)')" "$total"
check_eq "rollups count each reading once" "$(sqlite3 "$db" 'SELECT sum(count) FROM readings_rollup_1m')" $((total * 3))
check_eq "stored offsets cover the topic" \
  "$(sqlite3 "$db" "SELECT sum(next_offset) FROM kafka_offsets WHERE topic='$WW_T_SCORED'")" "$total"
check_eq "database integrity" "$(sqlite3 "$db" 'PRAGMA integrity_check')" "ok"

ww_done
