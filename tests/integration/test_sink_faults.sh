#!/usr/bin/env bash
# Database faults on the real broker.
# 1. Disk full: the sink runs with a 1 MiB file-size limit (RLIMIT_FSIZE, a
#    size-limited file), so its writes fail part-way. It must keep the batch,
#    retry with backoff, never store an offset past rows it did not write,
#    and, once the limit is lifted (prlimit on the running process), store
#    every reading exactly once by itself.
# 2. Database locked: another process holds the write lock; the sink waits and
#    retries, then catches up when the lock is released.
source "$(dirname "$0")/lib.sh"
require_tools kcat sqlite3 python3 prlimit
require_broker
ww_topics it-sinkfault

N=20000
db="$WW_TMP/fault.db"
group="it-sinkfault-$$-$RANDOM"

python3 - "$N" >"$WW_TMP/scored.txt" <<'PY'
import json, sys, time
n = int(sys.argv[1])
now = int(time.time() * 1000) - 600000
for i in range(n):
    line = "turbine-line-%d" % (1 + i % 2)
    ts = now + i * 10
    print(line + "\t" + json.dumps({"v": 1, "production_line": line,
        "component_id": "Blade" if i % 2 == 0 else "Gearbox",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1000)) + ".%03dZ" % (ts % 1000),
        "sequence_number": i, "temperature": 25.5, "humidity": 50.25, "sound_level": 65.125,
        "injected_anomaly": None, "episode_id": None, "anomaly_score": 0.2,
        "severity": "normal", "model_version": 1, "zscore": 0.5}, separators=(",", ":")))
PY
kcat -b "$WW_BROKERS" -P -t "$WW_T_SCORED" -K $'\t' -l "$WW_TMP/scored.txt" || die "kcat cannot produce"

q() { sqlite3 "file:$db?mode=ro" "$1"; }
rows() { q 'SELECT count(*) FROM sensor_readings' 2>/dev/null || echo 0; }
stored_offsets() { q "SELECT coalesce(sum(next_offset), 0) FROM kafka_offsets WHERE topic='$WW_T_SCORED'" 2>/dev/null || echo 0; }
sink_args=(--brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --db "$db" --group "$group"
  --batch-size 1000 --batch-ms 50ms --stats-interval 1s --retention 0)

# --- 1. disk full -----------------------------------------------------------
# SIGXFSZ ignored so that a write over the limit fails (EFBIG) instead of
# killing the process; 1024 KiB is room for the schema and a few batches.
(
  trap '' XFSZ
  ulimit -S -f 1024
  exec "$WW_BIN_DIR/windwatch-sink" "${sink_args[@]}"
) >"$WW_TMP/full.out" 2>"$WW_TMP/full.log" &
pid=$!
WW_PIDS+=("$pid")
faulted() { grep -q "offsets not advanced" "$WW_TMP/full.log"; }
wait_until 60 "the sink to report a write failure" faulted
kill -0 "$pid" 2>/dev/null || die "the sink died on a full disk: $(tail -5 "$WW_TMP/full.log")"
check_contains "fault log names the cause" "$(grep -m1 'offsets not advanced' "$WW_TMP/full.log")" "retrying in"
n=$(rows)
echo "stored before the limit was lifted: $n of $N" >&2
check_eq "not everything fits under the limit" "$([ "$n" -lt "$N" ] && echo yes)" yes
check_eq "stored offsets = stored rows while failing" "$(stored_offsets)" "$n"
# Still failing a moment later (it retries, it does not skip ahead).
faults_twice() { [ "$(grep -c 'offsets not advanced' "$WW_TMP/full.log")" -ge 2 ]; }
wait_until 60 "a second retry" faults_twice
check_eq "stored offsets = stored rows after retries" "$(stored_offsets)" "$(rows)"

prlimit --pid "$pid" --fsize=unlimited:unlimited || die "prlimit cannot lift the file-size limit"
all_rows() { [ "$(rows)" -eq "$N" ]; }
wait_until 120 "the sink to recover and store all $N readings" all_rows
check_contains "recovery is logged" "$(cat "$WW_TMP/full.log")" "database writable again"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
check_eq "exit code after recovery" "$rc" 0
check_eq "rows after recovery" "$(rows)" "$N"
check_eq "distinct after recovery" "$(q 'SELECT count(DISTINCT sequence_number) FROM sensor_readings')" "$N"
check_eq "offsets after recovery" "$(stored_offsets)" "$N"
check_eq "rollups after recovery" "$(q 'SELECT sum(count) FROM readings_rollup_1m')" $((N * 3))
check_eq "integrity after recovery" "$(q 'PRAGMA integrity_check')" "ok"

# --- 2. database locked -------------------------------------------------------
python3 - "$N" 5000 >"$WW_TMP/more.txt" <<'PY'
import json, sys, time
first, n = int(sys.argv[1]), int(sys.argv[2])
now = int(time.time() * 1000) - 300000
for i in range(first, first + n):
    ts = now + i
    print("turbine-line-1\t" + json.dumps({"v": 1, "production_line": "turbine-line-1",
        "component_id": "Blade",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1000)) + ".%03dZ" % (ts % 1000),
        "sequence_number": i, "temperature": 21.0, "anomaly_score": 0.1, "severity": "normal",
        "model_version": 1, "zscore": 0.0}, separators=(",", ":")))
PY
start_bg busy "$WW_BIN_DIR/windwatch-sink" "${sink_args[@]}"
assigned() { grep -q "assigned $WW_T_SCORED" "$WW_TMP/busy.log"; }
wait_until 60 "the sink to be assigned its partitions" assigned
# A writer that holds the lock until told to stop (a fifo keeps its session open).
mkfifo "$WW_TMP/lock.fifo"
sqlite3 "$db" <"$WW_TMP/lock.fifo" >"$WW_TMP/lock.out" 2>&1 &
lockpid=$!
exec 7>"$WW_TMP/lock.fifo"
echo "BEGIN IMMEDIATE; SELECT 'locked';" >&7
locked() { grep -q locked "$WW_TMP/lock.out"; }
wait_until 30 "the lock holder" locked
kcat -b "$WW_BROKERS" -P -t "$WW_T_SCORED" -K $'\t' -l "$WW_TMP/more.txt" || die "kcat cannot produce"
busy_logged() { grep -q "offsets not advanced" "$WW_TMP/busy.log"; }
wait_until 90 "the sink to report the locked database" busy_logged
check_contains "locked database is reported as busy" "$(grep -m1 'offsets not advanced' "$WW_TMP/busy.log")" "busy"
check_eq "nothing stored while locked" "$(rows)" "$N"
echo "ROLLBACK;" >&7
exec 7>&-
wait "$lockpid" || true
all_more() { [ "$(rows)" -eq $((N + 5000)) ]; }
wait_until 120 "the sink to catch up after the lock" all_more
kill -TERM "$PID_busy"
rc=0; wait "$PID_busy" || rc=$?
check_eq "exit code after the lock" "$rc" 0
check_eq "distinct after the lock" "$(q 'SELECT count(DISTINCT sequence_number) FROM sensor_readings')" $((N + 5000))
check_eq "offsets after the lock" "$(stored_offsets)" $((N + 5000))

ww_done
