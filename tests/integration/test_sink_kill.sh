#!/usr/bin/env bash
# Exactly once across crashes, for every table the sink writes. While scored
# readings, window statistics, alert lifecycle events and model versions keep
# arriving, the sink is killed with SIGKILL at random moments and restarted,
# round after round. At the end, compared with what the topics hold (kcat):
#   - every reading is stored exactly once, the rollups count each reading
#     once, and the stored offsets cover exactly what was produced;
#   - every window-stats message is one row, identified by (production_line,
#     window_type, window_start_ms, window_end_ms) - the table has no unique key,
#     so a batch applied twice would show up here as a duplicate;
#   - every alert_id is one row whose state equals the last event of that id
#     on the topic (opened/updated/resolved events spread over several rounds);
#   - every model version (production_line, version) is one row holding the
#     message's bytes.
# WW_KILL_ROUNDS, WW_KILL_CHUNK (readings per round) and WW_KILL_SLICES (how
# many pieces each round is produced in) size it; tests/faults/run runs it large.
source "$(dirname "$0")/lib.sh"
require_tools kcat sqlite3 python3
require_broker
ww_topics it-sinkkill

db="$WW_TMP/kill.db"
group="it-sinkkill-$$-$RANDOM"
ROUNDS=${WW_KILL_ROUNDS:-8}
CHUNK=${WW_KILL_CHUNK:-60000}
SLICES=${WW_KILL_SLICES:-4}
base_ms=$(($(date +%s) * 1000 - 600000))

# gen.py OUTDIR ROUND CHUNK SLICES BASE_MS: one round's input as "key<TAB>json"
# lines in OUTDIR/{scored,windows,alerts,models}.K, K = 0..SLICES-1, so the
# other topics' messages arrive spread over the round, between the readings,
# and the kills land among them too. Deterministic in its arguments.
cat >"$WW_TMP/gen.py" <<'PY'
import json, sys, time
out, rnd, chunk, slices, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
LINES = [("turbine-line-1", "Blade"), ("turbine-line-2", "Gearbox")]

def ts(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)

def enc(o):
    return json.dumps(o, separators=(",", ":"))

def split(rows):
    """rows in order -> SLICES contiguous pieces (order kept across pieces)."""
    n = len(rows)
    return [rows[k * n // slices:(k + 1) * n // slices] for k in range(slices)]

# Readings: sequence numbers (rnd-1)*chunk .. rnd*chunk-1.
scored = []
for i in range((rnd - 1) * chunk, rnd * chunk):
    line, comp = LINES[i % 2]
    scored.append((line, enc({"v": 1, "production_line": line, "component_id": comp,
        "timestamp": ts(base + i // 10), "sequence_number": i, "temperature": 20 + i % 17,
        "humidity": 50 + i % 11, "sound_level": 60 + i % 7, "injected_anomaly": None,
        "episode_id": None, "anomaly_score": 0.1, "severity": "normal", "model_version": 1,
        "zscore": 0.0})))

# Window statistics: globally numbered, each identity once.
nwin = max(chunk // 200, 8)
windows = []
for g in range((rnd - 1) * nwin, rnd * nwin):
    line = LINES[g % 2][0]
    start = base + g * 5000
    wtype = "count" if g % 3 == 0 else "time"
    sens = {s: {"mean": 20.0 + g % 9, "std": 1.5, "min": 17.0, "max": 24.0 + g % 5, "p50": 20.0,
                "p95": 23.0, "trend": "stable", "slope_per_min": 0.0}
            for s in ("temperature", "humidity", "sound_level")}
    windows.append((line, enc({"v": 1, "production_line": line, "window_type": wtype,
        "window_start": ts(start), "window_end": ts(start + 10000), "count": 100 + g % 50,
        "anomalous": g % 4, "sensors": sens})))

# Alerts: round r0 opens nal alerts (opened + 2 updates); round r0+1 updates
# each once and resolves the even ones; round r0+2 resolves those with j % 4 == 1;
# j % 4 == 3 stays open. updated_at grows with every event in topic order, and
# one alert's events never leave their order (the topic has one partition).
nal = max(chunk // 2000, 6)
alert_base = base + 3600000
events = []  # (r0, j, kind)
for r0 in (rnd, rnd - 1, rnd - 2):
    if r0 < 1:
        continue
    for j in range(nal):
        if r0 == rnd:
            events += [(r0, j, "opened"), (r0, j, "updated"), (r0, j, "updated")]
        elif r0 == rnd - 1:
            events.append((r0, j, "updated"))
            if j % 2 == 0:
                events.append((r0, j, "resolved"))
        elif j % 4 == 1:
            events.append((r0, j, "resolved"))
# Interleave: the new alerts' "opened" and the older alerts' events first, then
# the new alerts' updates. The sort is stable, so each alert's events keep their order.
events.sort(key=lambda e: (e[0] == rnd and e[2] != "opened", e[1], -e[0]))
seen = {}
alerts = []
for idx, (r0, j, kind) in enumerate(events):
    now = alert_base + rnd * 1000000 + idx * 10
    line, comp = LINES[j % 2]
    opened = alert_base + r0 * 1000000  # when round r0 opened it (ids differ by j)
    aid = "%s-%d-%d" % (line, opened, j)
    seen[aid] = seen.get(aid, 0) + 1  # events of this alert so far in this round (<= 3)
    readings = (rnd - r0) * 10 + seen[aid] * 3  # grows with every event of the alert
    alerts.append((line, enc({"v": 1, "alert_id": aid, "event": kind,
        "state": "resolved" if kind == "resolved" else "open", "production_line": line,
        "component_id": comp, "severity": "critical" if readings > 12 else "warning",
        "anomaly_type": "threshold", "opened_at": ts(opened), "updated_at": ts(now),
        "resolved_at": ts(now) if kind == "resolved" else None, "max_score": 0.5 + readings / 100.0,
        "readings": readings, "sensors": ["temperature"],
        "details": {"temperature": 31.5, "humidity": 50.0, "sound_level": 65.0,
                    "expected_ranges": {"temperature": [10, 40]}}})))

# Models: two new versions per line per round, each with a model body.
models = []
for k in range(2):
    version = (rnd - 1) * 2 + k + 1
    for line, _ in LINES:
        models.append((line, enc({"v": 1, "production_line": line, "version": version,
            "trained_at": ts(base + version * 60000), "samples": 1000 + version,
            "features": ["temperature", "humidity", "sound_level"], "threshold": 0.6,
            "trees": [[version, t, t * 0.5] for t in range(64)]})))

for name, rows in (("scored", scored), ("windows", windows), ("alerts", alerts), ("models", models)):
    for k, piece in enumerate(split(rows)):
        with open("%s/%s.%d" % (out, name, k), "w") as f:
            f.writelines(key + "\t" + val + "\n" for key, val in piece)
PY

# produce FILE TOPIC: the file's "key<TAB>value" lines as messages (none if empty).
produce() {
  [ -s "$1" ] || return 0
  kcat -b "$WW_BROKERS" -P -t "$2" -K $'\t' -l "$1"
}

# produce_round: the round's slices in order; within a slice the four topics in parallel.
produce_round() {
  local k pids pid rc=0
  for k in $(seq 0 $((SLICES - 1))); do
    pids=()
    produce "$WW_TMP/scored.$k" "$WW_T_SCORED" & pids+=($!)
    produce "$WW_TMP/windows.$k" "$WW_T_STATS" & pids+=($!)
    produce "$WW_TMP/alerts.$k" "$WW_T_ALERTS" & pids+=($!)
    produce "$WW_TMP/models.$k" "$WW_T_MODELS" & pids+=($!)
    for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
    [ "$rc" = 0 ] || return 1
  done
}

# Static group membership: a restarted sink takes its dead predecessor's place
# at once instead of waiting for the session timeout to evict it.
sink_args=(--brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --db "$db" --group "$group"
  --stats-interval 0 --log-level warn --instance-id "$group-1" -X session.timeout.ms=6000)
q() { sqlite3 "file:$db?mode=ro" "$1" 2>/dev/null; }
rows() { q 'SELECT count(*) FROM sensor_readings' || echo 0; }
# Duplicates of any kind: readings by sequence number, windows by identity.
# A query that fails is a failure with sqlite3's message, never "none".
dups() {
  sqlite3 "file:$db?mode=ro" "SELECT (SELECT count(*) - count(DISTINCT sequence_number) FROM
    sensor_readings) + (SELECT count(*) FROM (SELECT 1 FROM window_stats GROUP BY production_line,
    window_type, window_start_ms, window_end_ms HAVING count(*) > 1))" 2>&1
}

total=0
mid_run=0
for round in $(seq 1 "$ROUNDS"); do
  # New data keeps arriving while the sink runs, so most kills land mid-batch.
  python3 "$WW_TMP/gen.py" "$WW_TMP" "$round" "$CHUNK" "$SLICES" "$base_ms" ||
    die "cannot generate round $round"
  total=$((total + CHUNK))
  produce_round &
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
  state="producing done"
  if kill -0 "$kpid" 2>/dev/null; then state="still producing"; fi
  nside=$(q 'SELECT (SELECT count(*) FROM window_stats) || " windows, " || (SELECT count(*) FROM
    alerts) || " alerts, " || (SELECT count(*) FROM models) || " models"' || echo "?")
  kill -KILL "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  wait "$kpid" || die "kcat could not produce round $round"
  echo "round $round: killed with at least $n of $total readings and $nside stored ($state)" >&2
  if [ "$n" -gt 0 ] && [ "$n" -lt "$total" ]; then mid_run=$((mid_run + 1)); fi
  d=$(dups) || die "round $round: cannot count duplicates: $d"
  [ "$d" = 0 ] || fail "round $round: $d duplicate readings or windows after SIGKILL"
done
check_ge "kills that landed while readings were still unstored" "$mid_run" 1

# A last clean run to the end of every partition.
"$WW_BIN_DIR/windwatch-sink" "${sink_args[@]}" --mode batch >"$WW_TMP/final.out" \
  2>"$WW_TMP/final.log" || die "final sink run failed: $(tail -5 "$WW_TMP/final.log")"
echo "final summary: $(tail -n 1 "$WW_TMP/final.out")" >&2

# --- readings ----------------------------------------------------------------
check_eq "readings in $WW_T_SCORED" "$(kcat_count "$WW_T_SCORED")" "$total"
check_eq "rows in sensor_readings" "$(sqlite3 "$db" 'SELECT count(*) FROM sensor_readings')" "$total"
check_eq "distinct sequence numbers" "$(sqlite3 "$db" 'SELECT count(DISTINCT sequence_number) FROM sensor_readings')" "$total"
check_eq "every sequence number 0..N-1" \
  "$(sqlite3 "$db" 'SELECT min(sequence_number) || ".." || max(sequence_number) FROM sensor_readings')" "0..$((total - 1))"
check_eq "distinct Kafka coordinates" \
  "$(sqlite3 "$db" 'SELECT count(*) FROM (SELECT DISTINCT src_partition, src_offset FROM sensor_readings)')" "$total"
check_eq "rollups count each reading once" "$(sqlite3 "$db" 'SELECT sum(count) FROM readings_rollup_1m')" $((total * 3))
check_eq "database integrity" "$(sqlite3 "$db" 'PRAGMA integrity_check')" "ok"
check_eq "dead letters (every message was valid)" "$(sqlite3 "$db" 'SELECT count(*) FROM dead_letters')" 0

# --- stored offsets = what each topic holds (fresh topics start at offset 0) ---
for t in "$WW_T_SCORED" "$WW_T_STATS" "$WW_T_ALERTS" "$WW_T_MODELS"; do
  check_eq "stored offsets cover $t" \
    "$(sqlite3 "$db" "SELECT coalesce(sum(next_offset), 0) FROM kafka_offsets WHERE topic='$t'")" \
    "$(kcat_count "$t")"
done

# --- windows, alerts, models against the topics -------------------------------
dump() { # TOPIC FILE: every committed message as "key<TAB>value", in topic order
  kcat -b "$WW_BROKERS" -C -t "$1" -e -q -X isolation.level=read_committed -f '%k\t%s\n' >"$2" ||
    die "cannot read $1"
}
dump "$WW_T_STATS" "$WW_TMP/windows.dump"
dump "$WW_T_ALERTS" "$WW_TMP/alerts.dump"
dump "$WW_T_MODELS" "$WW_TMP/models.dump"
# compare.py DB: "what<TAB>got<TAB>want" lines, checked below; the first few
# differences go to stderr.
cat >"$WW_TMP/compare.py" <<'PY'
import calendar, json, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
d = sys.argv[2]

def ms(s):
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 + int(s[20:23])

def load(name):
    with open("%s/%s.dump" % (d, name)) as f:
        return [(k, v, json.loads(v)) for k, v in (l.rstrip("\n").split("\t", 1) for l in f)]

def report(what, got, want):
    print("%s\t%s\t%s" % (what, got, want))

def diff(what, got, want):
    bad = sorted(set(got) ^ set(want), key=repr)
    for b in bad[:3]:
        sys.stderr.write("  %s: %r only in the %s\n" % (what, b, "database" if b in got else "topic"))
    return "same" if not bad else "%d differ" % len(bad)

# Windows: the identity and contents of every message, each stored once.
msgs = load("windows")
want = [(m["production_line"], m["window_type"], ms(m["window_start"]), ms(m["window_end"]),
         m["count"], m["anomalous"], json.dumps(m["sensors"], sort_keys=True)) for _, _, m in msgs]
got = [(l, t, s, e, c, a, json.dumps(json.loads(st), sort_keys=True)) for l, t, s, e, c, a, st in
       db.execute("SELECT production_line, window_type, window_start_ms, window_end_ms, count, "
                  "anomalous, stats FROM window_stats")]
report("window-stats messages on the topic, each a distinct identity", len(set(w[:4] for w in want)), len(want))
report("rows in window_stats", len(got), len(want))
report("distinct (line, type, start, end) in window_stats", len(set(w[:4] for w in got)), len(want))
report("window rows equal the topic's messages", diff("window", got, want), "same")

# Alerts: one row per alert_id, equal to the id's last event on the topic.
msgs = load("alerts")
last = {}
for _, raw, m in msgs:
    last[m["alert_id"]] = (raw, m)
states = {}
for raw, m in last.values():
    states[m["state"]] = states.get(m["state"], 0) + 1
sys.stderr.write("  alerts on the topic: %d events, %d alert_ids, final states %s\n"
                 % (len(msgs), len(last), states))
want = [(aid, m["state"], m["severity"], ms(m["updated_at"]),
         ms(m["resolved_at"]) if m["resolved_at"] else None, m["readings"], m["max_score"], raw)
        for aid, (raw, m) in last.items()]
got = list(db.execute("SELECT alert_id, state, severity, updated_ms, resolved_ms, readings, "
                      "max_score, last_event FROM alerts"))
report("rows in alerts", len(got), len(last))
report("distinct alert_id in alerts", len(set(a[0] for a in got)), len(last))
report("alerts opened, updated and resolved on the topic",
       "%d/%d/%d" % tuple(sum(1 for _, _, m in msgs if m["event"] == e) > 0 for e in ("opened", "updated", "resolved")),
       "1/1/1")
report("alerts still open and resolved, as on the topic",
       "%d/%d" % tuple(sum(1 for a in got if a[1] == s) for s in ("open", "resolved")),
       "%d/%d" % (states.get("open", 0), states.get("resolved", 0)))
report("alert rows equal the last event of their id", diff("alert", got, want), "same")

# Models: every (line, version) once, holding the message's bytes.
msgs = load("models")
want = [(m["production_line"], m["version"], m["samples"], raw.encode()) for _, raw, m in msgs]
got = [(l, v, s, bytes(b)) for l, v, s, b in
       db.execute("SELECT production_line, version, samples, model FROM models")]
report("model messages on the topic, each a distinct version", len(set(m[:2] for m in want)), len(want))
report("rows in models", len(got), len(want))
report("model rows equal the topic's messages", diff("model", got, want), "same")
PY
python3 "$WW_TMP/compare.py" "$db" "$WW_TMP" >"$WW_TMP/compare.out" || die "compare.py failed"
check_eq "comparisons made" "$(wc -l <"$WW_TMP/compare.out")" 12
while IFS=$'\t' read -r what got want; do
  check_eq "$what" "$got" "$want"
done <"$WW_TMP/compare.out"

ww_done
