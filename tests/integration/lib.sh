# tests/integration/lib.sh: helpers for integration tests (bash).
# Each test gets its own temporary directory, topic names and ports.
# Nothing here sleeps for readiness: every wait polls with a deadline.
set -euo pipefail

: "${WW_SOURCE_DIR:?run through ctest}"
: "${WW_BIN_DIR:?run through ctest}"
: "${WW_BROKERS:?run through ctest}"
WW_TEST_NAME=${WW_TEST_NAME:-$(basename "$0" .sh)}

WW_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ww-${WW_TEST_NAME}.XXXXXX")
WW_PIDS=()
WW_FAILS=0
WW_CHECKS=0

# A sanitized build (make test-sanitize): every process this test starts
# writes its ASan/LSan/UBSan reports to $WW_TMP/sanitizer.<pid>, including
# background processes whose exit status no check reads. ww_cleanup fails
# the test if any report exists once they have all exited.
if [ -n "${WW_SANITIZE:-}" ]; then
  source "$WW_SOURCE_DIR/tests/sanitize/env.sh"
  export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$WW_TMP/sanitizer"
  export UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$WW_TMP/sanitizer"
fi

ww_cleanup() {
  local pid f san=0
  for pid in "${WW_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${WW_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${WW_SANITIZE:-}" ]; then
    # GCC's UBSan ignores log_path when ASan is linked too: its reports stay
    # on stderr, which start_bg and the tests send to $WW_TMP/*.log.
    for f in "$WW_TMP"/sanitizer.* $(grep -l -s -I -d skip -D skip -E \
      '^[^ ]+:[0-9]+:[0-9]+: runtime error: ' "$WW_TMP"/*.log || true); do
      [ -e "$f" ] || continue
      sed -n '/ERROR: \|runtime error: /,$p' "$f" | head -n 60 >&2
      echo "FAIL: sanitizer report in $f" >&2
      WW_FAILS=$((WW_FAILS + 1)); san=1
    done
  fi
  if [ "$WW_FAILS" -eq 0 ] && [ -z "${WW_KEEP_TMP:-}" ]; then rm -rf "$WW_TMP"; else
    echo "test files kept in $WW_TMP" >&2; fi
  if [ "$san" -ne 0 ]; then exit 1; fi
}
trap ww_cleanup EXIT

fail() { echo "FAIL: $*" >&2; WW_FAILS=$((WW_FAILS + 1)); }
die() { echo "FATAL: $*" >&2; WW_FAILS=$((WW_FAILS + 1)); exit 1; }

# check_eq WHAT GOT WANT
check_eq() {
  WW_CHECKS=$((WW_CHECKS + 1))
  if [ "$2" != "$3" ]; then fail "$1: got '$2', want '$3'"; else echo "ok   $1 = $2" >&2; fi
}
# check_ge WHAT GOT MIN
check_ge() {
  WW_CHECKS=$((WW_CHECKS + 1))
  if ! [ "$2" -ge "$3" ] 2>/dev/null; then fail "$1: got '$2', want >= $3"; else
    echo "ok   $1 = $2 (>= $3)" >&2; fi
}
# check_contains WHAT HAYSTACK NEEDLE
check_contains() {
  WW_CHECKS=$((WW_CHECKS + 1))
  case "$2" in *"$3"*) echo "ok   $1 contains '$3'" >&2 ;; *) fail "$1: '$2' lacks '$3'" ;; esac
}

# Finish: non-zero if any check failed or none ran.
ww_done() {
  if [ "$WW_CHECKS" -eq 0 ]; then die "no check ran"; fi
  echo "$WW_TEST_NAME: $WW_CHECKS checks, $WW_FAILS failed" >&2
  [ "$WW_FAILS" -eq 0 ]
}

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
wait_until() {
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then die "timed out after ${secs}s waiting for $what"; fi
    sleep 0.1
  done
}

require_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || die "required tool '$t' is missing (run scripts/bootstrap)"
  done
}

require_broker() {
  require_tools kcat
  kcat -b "$WW_BROKERS" -L -m 10 >/dev/null 2>&1 ||
    die "no Kafka broker answers at $WW_BROKERS (the kafka_start fixture should have started it)"
}

# ww_topics PREFIX: set WW_T_* topic names unique to this test and create them.
# Exports WW_TOPIC_FLAGS for the binaries.
ww_topics() {
  local p="$1-$$-$RANDOM"
  WW_T_DATA="$p.sensor-data"; WW_T_SCORED="$p.sensor-scored"; WW_T_STATS="$p.window-stats"
  WW_T_ALERTS="$p.alerts"; WW_T_DLQ="$p.sensor-data-dlq"; WW_T_MODELS="$p.models"
  WW_TOPIC_FLAGS=(--topic-sensor-data "$WW_T_DATA" --topic-sensor-scored "$WW_T_SCORED"
    --topic-window-stats "$WW_T_STATS" --topic-alerts "$WW_T_ALERTS" --topic-dlq "$WW_T_DLQ"
    --topic-models "$WW_T_MODELS")
  WINDWATCH_TOPICS="$WW_T_DATA:${WW_PARTITIONS:-3} $WW_T_SCORED:${WW_PARTITIONS:-3} $WW_T_STATS:1 $WW_T_ALERTS:1 $WW_T_DLQ:1 $WW_T_MODELS:1:compact" \
    "$WW_SOURCE_DIR/deploy/kafka/kafka.sh" topics >/dev/null || die "cannot create topics"
}

# free_port: a TCP port nobody listens on right now, below the kernel's
# ephemeral range (32768+), so a client retrying a stopped server's port can
# never connect to itself and hold the port. Nothing binds it until the
# caller starts its server, so the ports this test already got are kept in
# $WW_TMP/ports and never handed out twice (two servers once drew the same).
free_port() {
  python3 - "$WW_TMP/ports" <<'PY'
import random, socket, sys
path = sys.argv[1]
try:
    taken = set(open(path).read().split())
except OSError:
    taken = set()
for _ in range(200):
    port = random.randint(20000, 32000)
    if str(port) in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    with open(path, "a") as f:
        f.write(f"{port}\n")
    print(port)
    break
else:
    raise SystemExit("no free port between 20000 and 32000")
PY
}

# start_bg NAME CMD...: run CMD in the background, logs in $WW_TMP/NAME.log.
start_bg() {
  local name=$1; shift
  "$@" >"$WW_TMP/$name.out" 2>"$WW_TMP/$name.log" &
  WW_PIDS+=($!)
  eval "PID_$name=$!"
}

# stop_bg NAME: SIGTERM the process start_bg started as NAME and wait for it;
# its exit code goes to STOP_RC (a variable: wait only works in this shell).
stop_bg() {
  local pid
  pid=$(eval "echo \"\$PID_$1\"")
  STOP_RC=0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || STOP_RC=$?
}

# producer_summary LOG: the numbers of windwatch-producer's last "done:" line
# in LOG, "readings produced delivered failed dropped" (nothing when there is
# none); the line itself goes to stderr for the test's log.
producer_summary() {
  local line
  line=$(grep 'done: ' "$1" | tail -n 1)
  echo "summary: $line" >&2
  [ -n "$line" ] || return 0
  echo "$line" | sed -E 's/.*done: ([0-9]+) readings, ([0-9]+) produced, ([0-9]+) delivered, ([0-9]+) failed, ([0-9]+) dropped.*/\1 \2 \3 \4 \5/'
}

# kcat_count TOPIC: number of messages in TOPIC (read_committed), reading to the end.
kcat_count() {
  kcat -b "$WW_BROKERS" -C -t "$1" -e -q -X isolation.level=read_committed -f 'x\n' 2>/dev/null | wc -l
}

# more_than M [TOPIC]: TOPIC (default $WW_T_SCORED) holds more than M committed
# messages. Reads only M+1, because while transactions keep opening a
# read_committed reader may not see the end of a partition (kcat -e would not
# return).
more_than() {
  [ "$(timeout 10 kcat -b "$WW_BROKERS" -C -t "${2:-$WW_T_SCORED}" -q -c "$(($1 + 1))" \
    -X isolation.level=read_committed -f 'x\n' 2>/dev/null | wc -l)" -gt "$1" ]
}

# window_rows TOPIC: the window-stats TOPIC holds (read_committed), one line per
# window, "line seq start count sensors", sorted; the statistics as published.
# Not the anomalous count: a replay that starts later than the stream did
# judges the replayed readings with less history of the components' long-run
# spread (the z-score rule's floor), so a few of them can be judged
# differently from the first time.
window_rows() {
  kcat -b "$WW_BROKERS" -C -t "$1" -e -q -X isolation.level=read_committed -f '%s\n' 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    d = json.loads(l)
    print(d["production_line"], d["window_seq"], d["window_start"], d["count"],
          json.dumps(d["sensors"], sort_keys=True))' | sort
}

# check_windows_match THROUGH STOPPED MIN WHEN: the windows (window_rows) of
# the topic STOPPED, published by a processor stopped and restarted (WHEN
# names the stops), against those of THROUGH, published by one that ran
# through: at least MIN of them, none published twice, none that differ.
# Leaves them in $WW_TMP/through.txt and $WW_TMP/stopped.txt.
check_windows_match() {
  local total
  window_rows "$1" >"$WW_TMP/through.txt"
  window_rows "$2" >"$WW_TMP/stopped.txt"
  total=$(wc -l <"$WW_TMP/through.txt")
  echo "windows published by the processor that ran through: $total" >&2
  check_ge "windows published" "$total" "$3"
  check_eq "windows published twice $4" \
    "$(cut -d' ' -f1,3 "$WW_TMP/stopped.txt" | uniq -d | wc -l)" 0
  check_eq "windows that differ from those of the processor that ran through" \
    "$(diff "$WW_TMP/through.txt" "$WW_TMP/stopped.txt" | grep -c '^[<>]' || true)" 0
}

# distinct_readings TOPIC: how many distinct (line, component, sequence number)
# readings TOPIC holds (read_committed): with the count, "each exactly once".
distinct_readings() {
  kcat -b "$WW_BROKERS" -C -t "$1" -e -q -X isolation.level=read_committed -f '%s\n' 2>/dev/null |
    python3 -c 'import json,sys
seen=set()
for l in sys.stdin:
    d=json.loads(l); seen.add((d["production_line"], d["component_id"], d["sequence_number"]))
print(len(seen))'
}
