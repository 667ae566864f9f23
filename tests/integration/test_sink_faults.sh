#!/usr/bin/env bash
# Database faults on the real broker. WW_SINK_FAULTS picks the scenarios
# (default: all three, as tests/faults/run runs them; CTest runs "fsize locked"
# as it_sink_faults and "tmpfs" as it_sink_diskfull).
#  fsize  Disk full as a size-limited file: the sink runs with a 1 MiB
#         file-size limit (RLIMIT_FSIZE), so its writes fail part-way (EFBIG).
#         It must keep the batch, retry with backoff, never store an offset
#         past rows it did not write, and, once the limit is lifted (prlimit on
#         the running process), store every reading exactly once by itself.
#         Needs no privileges.
#  tmpfs  Disk full on a real small file system: the database lives on a 2 MiB
#         tmpfs; readings stream in until the file system is full (ENOSPC),
#         more arrive while it is full, then the tmpfs is grown on the fly
#         (mount -o remount,size=...) and the running sink stores every reading
#         exactly once. Asserts on the log, the stats line and /metrics.
#         Mounting needs root or unprivileged user namespaces; without either
#         the scenario FAILS and says so (fsize covers the same code path).
#  locked Database locked: another process holds the write lock; the sink
#         waits and retries, then catches up when the lock is released.
WW_SINK_FAULTS=${WW_SINK_FAULTS:-fsize tmpfs locked}
for sc in $WW_SINK_FAULTS; do
  case "$sc" in fsize | tmpfs | locked) ;; *)
    echo "FATAL: WW_SINK_FAULTS: unknown scenario '$sc' (use fsize, tmpfs, locked)" >&2; exit 1 ;;
  esac
done
# The tmpfs scenario mounts inside a private mount namespace: the mount is
# invisible to the rest of the machine and vanishes with this process even if
# it is killed before its trap runs. Root gets one with `unshare --mount`, other
# users through a user namespace in which they are root. The script re-runs
# itself in the namespace (same pid: unshare execs). WW_SINK_FAULTS_NS=mount|
# user|none forces one way (to test each); none mounts in the current namespace.
if [[ " $WW_SINK_FAULTS " == *" tmpfs "* ]] && [ -z "${WW_SINK_FAULTS_IN_NS:-}" ]; then
  export WW_SINK_FAULTS_IN_NS=none
  ns=${WW_SINK_FAULTS_NS:-auto}
  if [ "$ns" = auto ]; then
    if [ "$(id -u)" = 0 ] && unshare --mount true 2>/dev/null; then ns=mount
    elif unshare --user --map-root-user --mount true 2>/dev/null; then ns=user
    else ns=none; fi
  fi
  case "$ns" in
  mount) WW_SINK_FAULTS_IN_NS=mount exec unshare --mount --propagation private bash "$0" "$@" ;;
  user) WW_SINK_FAULTS_IN_NS=user exec unshare --user --map-root-user --mount bash "$0" "$@" ;;
  none) ;;
  *) echo "FATAL: WW_SINK_FAULTS_NS must be auto, mount, user or none (got '$ns')" >&2; exit 1 ;;
  esac
fi
source "$(dirname "$0")/lib.sh"
require_tools kcat sqlite3 python3 prlimit curl
require_broker
ww_topics it-sinkfault

# The tmpfs mounted by this run, unmounted on every exit after the processes
# using it are stopped (ww_cleanup would then remove the directory).
SMALLFS=
faults_cleanup() {
  local pid
  for pid in "${WW_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${WW_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$SMALLFS" ]; then # set only while mounted
    umount "$SMALLFS" || umount -l "$SMALLFS" || echo "WARNING: cannot unmount $SMALLFS" >&2
  fi
  ww_cleanup
}
trap faults_cleanup EXIT

N=${WW_DISKFULL_READINGS:-20000}
db="$WW_TMP/fault.db"
group="it-sinkfault-$$-$RANDOM"

# gen_scored FIRST COUNT MS_STEP: "key<TAB>json" scored readings with sequence
# numbers FIRST.., alternating between the two lines.
gen_scored() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys, time
first, n, step = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
now = int(time.time() * 1000) - 600000
for i in range(first, first + n):
    line = "turbine-line-%d" % (1 + i % 2)
    ts = now + i * step
    print(line + "\t" + json.dumps({"v": 1, "production_line": line,
        "component_id": "Blade" if i % 2 == 0 else "Gearbox",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1000)) + ".%03dZ" % (ts % 1000),
        "sequence_number": i, "temperature": 25.5, "humidity": 50.25, "sound_level": 65.125,
        "injected_anomaly": None, "episode_id": None, "anomaly_score": 0.2,
        "severity": "normal", "model_version": 1, "zscore": 0.5}, separators=(",", ":")))
PY
}
# produce TOPIC FILE
produce() { kcat -b "$WW_BROKERS" -P -t "$1" -K $'\t' -l "$2" || die "kcat cannot produce to $1"; }

# Queries on database $1 (read-only, as the api), waiting out a lock for up to
# 5 s. A query that fails prints "ERR: ", what sqlite3 said and the query in
# place of its result: that fails every count and comparison below where a 0
# could pass (no rows and no offsets would look like offsets equal to rows),
# and two different failed queries never compare equal.
qdb() {
  local out
  if ! out=$(sqlite3 -cmd '.timeout 5000' "file:$1?mode=ro" "$2" 2>&1); then
    out="ERR: $out (query: $2)"
    out=${out//$'\n'/ }
  fi
  printf '%s\n' "$out"
}
rows_in() { qdb "$1" 'SELECT count(*) FROM sensor_readings'; }
offsets_in() { # DB TOPIC: sum of the stored next offsets of TOPIC
  qdb "$1" "SELECT coalesce(sum(next_offset), 0) FROM kafka_offsets WHERE topic='$2'"
}
# DB TOPIC: per partition, stored rows and stored next offset ("p:rows/next ..."),
# equal pairs when no offset ran ahead of its rows (fresh topics start at 0).
rows_vs_offsets() {
  qdb "$1" "SELECT group_concat(p || ':' || r || '/' || o, ' ') FROM (SELECT k.partition AS p,
    k.next_offset AS o, (SELECT count(*) FROM sensor_readings s WHERE s.src_partition = k.partition) AS r
    FROM kafka_offsets k WHERE k.topic = '$2' ORDER BY k.partition)"
}
# DB TOPIC: 0 when every partition's stored offset equals its rows, 1 when one
# does not, "ERR: ..." when a query failed or answered something else.
offsets_match_rows() {
  local total rows pairs pair bad=0
  total=$(offsets_in "$1" "$2")
  rows=$(rows_in "$1")
  pairs=$(rows_vs_offsets "$1" "$2")
  if ! [[ $total =~ ^[0-9]+$ && $rows =~ ^[0-9]+$ ]] || [[ $pairs == ERR* ]]; then
    echo "ERR: offsets '$total', rows '$rows', per partition '$pairs'"
    return
  fi
  [ "$total" = "$rows" ] || bad=1
  for pair in $pairs; do
    if ! [[ $pair =~ ^[0-9]+:([0-9]+)/([0-9]+)$ ]]; then
      echo "ERR: per partition '$pairs'"
      return
    fi
    [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] || bad=1
  done
  echo "$bad"
}
q() { qdb "$db" "$1"; }
rows() { rows_in "$db"; }
stored_offsets() { offsets_in "$db" "$WW_T_SCORED"; }
sink_args=(--brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --db "$db" --group "$group"
  --batch-size 1000 --batch-ms 50ms --stats-interval 1s --retention 0)
# metric PORT NAME: the value of an unlabelled metric, empty if absent.
metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'; }
fault_lines() { grep -c 'offsets not advanced' "$1" || true; }

selected() { [[ " $WW_SINK_FAULTS " == *" $1 "* ]]; }

# fsize and locked read the same N readings; tmpfs streams its own.
if selected fsize || selected locked; then
  gen_scored 0 "$N" 10 >"$WW_TMP/scored.txt"
  produce "$WW_T_SCORED" "$WW_TMP/scored.txt"
fi

# --- fsize: disk full as a size-limited file ---------------------------------------
scenario_fsize() {
  local pid n rc
  # 1024 KiB is room for the schema and a few batches. The sink starts with
  # SIGXFSZ at its default action (death), whatever this shell inherited: it
  # must ignore the signal itself, so that a write over the limit fails
  # (EFBIG) and it retries, as a service under LimitFSIZE= would.
  (
    ulimit -S -f 1024
    exec env --default-signal=XFSZ "$WW_BIN_DIR/windwatch-sink" "${sink_args[@]}"
  ) >"$WW_TMP/full.out" 2>"$WW_TMP/full.log" &
  pid=$!
  WW_PIDS+=("$pid")
  # A failure logged, or the sink gone (then it is said below how it ended).
  faulted() { grep -q "offsets not advanced" "$WW_TMP/full.log" || ! kill -0 "$pid" 2>/dev/null; }
  wait_until 60 "the sink to report a write failure" faulted
  if ! kill -0 "$pid" 2>/dev/null; then
    rc=0; wait "$pid" || rc=$?
    [ "$rc" != $((128 + $(kill -l XFSZ))) ] || echo "the sink was killed by SIGXFSZ" >&2
    echo "the sink's exit status: $rc" >&2
  fi
  kill -0 "$pid" 2>/dev/null || die "the sink died on a full disk: $(tail -5 "$WW_TMP/full.log")"
  echo "fsize: first failure: $(grep -m1 'offsets not advanced' "$WW_TMP/full.log")" >&2
  check_contains "fault log names the cause" "$(grep -m1 'offsets not advanced' "$WW_TMP/full.log")" "retrying in"
  n=$(rows)
  echo "stored before the limit was lifted: $n of $N" >&2
  check_ge "some readings fit under the limit" "$n" 1
  check_eq "not everything fits under the limit" "$([ "$n" -lt "$N" ] && echo yes)" yes
  check_eq "stored offsets = stored rows while failing" "$(stored_offsets)" "$n"
  check_eq "stored offsets = stored rows, per partition, while failing" \
    "$(offsets_match_rows "$db" "$WW_T_SCORED")" 0
  # Still failing a moment later (it retries, it does not skip ahead).
  faults_twice() { [ "$(fault_lines "$WW_TMP/full.log")" -ge 2 ]; }
  wait_until 60 "a second retry" faults_twice
  check_eq "stored offsets = stored rows after retries" "$(stored_offsets)" "$(rows)"
  check_eq "stored offsets = stored rows, per partition, after retries" \
    "$(offsets_match_rows "$db" "$WW_T_SCORED")" 0

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
}

# --- tmpfs: disk full on a real small file system --------------------------------
scenario_tmpfs() {
  local mnt="$WW_TMP/smallfs" tdb topic port n n2 first rc m faults
  local m1=$((N * 3 / 2)) m2=$((N / 2)) # readings before the fs fills, and while it is full
  local total=$((m1 + m2))
  mkdir -p "$mnt"
  if ! mount -t tmpfs -o size=2m,mode=0700 tmpfs "$mnt" 2>"$WW_TMP/mount.err"; then
    die "tmpfs: cannot mount a 2 MiB tmpfs on $mnt ($(tr -s '\n' ' ' <"$WW_TMP/mount.err")uid \
$(id -u), namespace: $WW_SINK_FAULTS_IN_NS). This scenario needs root, or unprivileged user \
namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0) for \
'unshare --user --map-root-user --mount'. Without them only the size-limited-file variant can \
run (it_sink_faults, WW_SINK_FAULTS=fsize): it covers the same code path, not a real file system"
  fi
  SMALLFS=$mnt
  echo "tmpfs: mounted (namespace: $WW_SINK_FAULTS_IN_NS): $(df -k "$mnt" | tail -1)" >&2
  tdb="$mnt/small.db"
  # Its own topic, so the readings can stream in while the sink runs.
  topic="${WW_T_SCORED%.sensor-scored}.tmpfs-scored"
  WINDWATCH_TOPICS="$topic:3" "$WW_SOURCE_DIR/deploy/kafka/kafka.sh" topics >/dev/null ||
    die "cannot create $topic"
  port=$(free_port)
  start_bg tmpfs "$WW_BIN_DIR/windwatch-sink" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
    --topic-sensor-scored "$topic" --db "$tdb" --group "$group-tmpfs" --batch-size 1000 \
    --batch-ms 50ms --stats-interval 1s --retention 0 --metrics-listen "127.0.0.1:$port"
  assigned_t() { grep -q "assigned $topic" "$WW_TMP/tmpfs.log"; }
  wait_until 60 "the tmpfs sink to be assigned $topic" assigned_t

  # Stream readings in until the file system is full.
  gen_scored 0 "$m1" 10 >"$WW_TMP/tmpfs1.txt"
  produce "$topic" "$WW_TMP/tmpfs1.txt"
  full() { grep -q "offsets not advanced" "$WW_TMP/tmpfs.log"; }
  wait_until 120 "the sink to report the full file system" full
  kill -0 "$PID_tmpfs" 2>/dev/null || die "the sink died on a full file system: $(tail -5 "$WW_TMP/tmpfs.log")"
  first=$(grep -m1 'offsets not advanced' "$WW_TMP/tmpfs.log")
  echo "tmpfs: first failure: $first" >&2
  echo "tmpfs: $(df -k "$mnt" | tail -1)" >&2
  check_eq "tmpfs: the file system is full (< 64 KiB free)" \
    "$([ "$(df -k --output=avail "$mnt" | tail -1)" -lt 64 ] && echo yes)" yes
  check_contains "tmpfs: the error is the full disk" "$first" "database or disk is full"
  check_contains "tmpfs: the log says what to do" "$first" "(free disk space)"
  check_contains "tmpfs: the log says the batch is kept" "$first" "messages kept, offsets not advanced"
  check_contains "tmpfs: the log says it retries" "$first" "retrying in"
  n=$(rows_in "$tdb")
  echo "tmpfs: stored when the file system filled: $n of $m1" >&2
  check_eq "tmpfs: some but not all readings fit" "$([ "$n" -gt 0 ] && [ "$n" -lt "$m1" ] && echo yes)" yes
  check_eq "tmpfs: stored offsets = stored rows, per partition, once full" "$(offsets_match_rows "$tdb" "$topic")" 0

  # More readings arrive while the disk is full; the sink keeps failing, keeps
  # running and stores nothing past what it wrote.
  gen_scored "$m1" "$m2" 10 >"$WW_TMP/tmpfs2.txt"
  produce "$topic" "$WW_TMP/tmpfs2.txt"
  faults=$(fault_lines "$WW_TMP/tmpfs.log")
  more_faults() { [ "$(fault_lines "$WW_TMP/tmpfs.log")" -ge $((faults + 2)) ]; }
  wait_until 60 "two more retries on the full file system" more_faults
  kill -0 "$PID_tmpfs" 2>/dev/null || die "the sink died while the file system was full"
  n2=$(rows_in "$tdb")
  check_eq "tmpfs: nothing stored while full" "$n2" "$n"
  check_eq "tmpfs: stored offsets = stored rows after retries" "$(offsets_match_rows "$tdb" "$topic")" 0
  echo "tmpfs: rows/offsets per partition while full: $(rows_vs_offsets "$tdb" "$topic")" >&2
  stats_fault() { grep 'STATS:' "$WW_TMP/tmpfs.log" | grep -q ' faults=[1-9]'; }
  wait_until 30 "a stats line counting the failed batches" stats_fault
  check_ge "tmpfs: failed batches in the last stats line" \
    "$(grep 'STATS:' "$WW_TMP/tmpfs.log" | tail -1 | sed -n 's/.* faults=\([0-9]*\).*/\1/p')" 1
  m=$(metric "$port" windwatch_sink_batch_failures_total)
  check_ge "tmpfs: windwatch_sink_batch_failures_total while full" "${m:-0}" 3

  # Free space: grow the file system under the running sink.
  # The source is named: without it util-linux refuses the remount in a user namespace.
  mount -t tmpfs -o remount,size=256m tmpfs "$mnt" || die "cannot grow the tmpfs on $mnt"
  echo "tmpfs: grown: $(df -k "$mnt" | tail -1)" >&2
  all_t() { [ "$(rows_in "$tdb")" -eq "$total" ]; }
  wait_until 120 "the sink to recover and store all $total readings" all_t
  check_contains "tmpfs: recovery is logged" "$(cat "$WW_TMP/tmpfs.log")" "database writable again"
  # Every failure is counted once, in the log and in /metrics (no failure after recovery).
  m=$(metric "$port" windwatch_sink_batch_failures_total)
  check_eq "tmpfs: batch failures in /metrics = failures logged" "$m" "$(fault_lines "$WW_TMP/tmpfs.log")"
  rows_metric() { curl -sf "http://127.0.0.1:$port/metrics" |
    grep -q "^windwatch_sink_rows_total{table=\"sensor_readings\"} $total\$"; }
  wait_until 30 "/metrics to count all $total readings" rows_metric
  check_eq "tmpfs: the sink kept running through the fault" "$(kill -0 "$PID_tmpfs" 2>/dev/null && echo running)" running
  kill -TERM "$PID_tmpfs"
  rc=0; wait "$PID_tmpfs" || rc=$?
  check_eq "tmpfs: exit code after recovery" "$rc" 0
  check_eq "tmpfs: rows" "$(rows_in "$tdb")" "$total"
  check_eq "tmpfs: distinct sequence numbers" \
    "$(qdb "$tdb" 'SELECT count(DISTINCT sequence_number) FROM sensor_readings')" "$total"
  check_eq "tmpfs: every sequence number 0..N-1" \
    "$(qdb "$tdb" 'SELECT min(sequence_number) || ".." || max(sequence_number) FROM sensor_readings')" \
    "0..$((total - 1))"
  check_eq "tmpfs: stored offsets" "$(offsets_in "$tdb" "$topic")" "$total"
  check_eq "tmpfs: stored offsets = rows per partition" "$(offsets_match_rows "$tdb" "$topic")" 0
  check_eq "tmpfs: rollups" "$(qdb "$tdb" 'SELECT sum(count) FROM readings_rollup_1m')" $((total * 3))
  check_eq "tmpfs: integrity" "$(sqlite3 "$tdb" 'PRAGMA integrity_check')" "ok"
  umount "$mnt" || die "cannot unmount $mnt"
  SMALLFS=
}

# --- locked: another process holds the write lock ---------------------------------
scenario_locked() {
  local lockpid rc
  gen_scored "$N" 5000 1 >"$WW_TMP/more.txt"
  start_bg busy "$WW_BIN_DIR/windwatch-sink" "${sink_args[@]}"
  assigned() { grep -q "assigned $WW_T_SCORED" "$WW_TMP/busy.log"; }
  wait_until 60 "the sink to be assigned its partitions" assigned
  # Everything so far first (already there when fsize ran before).
  all_rows() { [ "$(rows)" -eq "$N" ]; }
  wait_until 120 "the sink to store the first $N readings" all_rows
  # A writer that holds the lock until told to stop (a fifo keeps its session open).
  mkfifo "$WW_TMP/lock.fifo"
  sqlite3 "$db" <"$WW_TMP/lock.fifo" >"$WW_TMP/lock.out" 2>&1 &
  lockpid=$!
  exec 7>"$WW_TMP/lock.fifo"
  echo "BEGIN IMMEDIATE; SELECT 'locked';" >&7
  locked() { grep -q locked "$WW_TMP/lock.out"; }
  wait_until 30 "the lock holder" locked
  produce "$WW_T_SCORED" "$WW_TMP/more.txt"
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
}

# Always in this order, whatever the order in WW_SINK_FAULTS: locked expects
# the database fsize leaves behind (or fills it itself when fsize did not run).
for sc in fsize tmpfs locked; do
  selected "$sc" || continue
  echo "--- scenario $sc" >&2
  "scenario_$sc"
done

ww_done
