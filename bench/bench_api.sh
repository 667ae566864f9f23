#!/usr/bin/env bash
# API: wrk against windwatch-api and against bench/baseline_flask.py (the
# original Flask system's endpoints, rebuilt), both serving the same SQLite
# file of ROWS generated readings (24 h of history ending now, plus the
# models, alerts and window stats the sink benchmark stored). Per endpoint
# and repetition: windwatch, then Flask, each for DURATION seconds with the
# same wrk settings; req/s, p50 and p99 latency from wrk --latency.
source "$(dirname "$0")/lib.sh"
bench_begin api

command -v wrk >/dev/null 2>&1 || die "wrk is not installed (apt-get install wrk)"
ROWS=${BENCH_API_ROWS:-$([ "${QUICK:-0}" = 1 ] && echo 200000 || echo 10000000)}
DURATION=${BENCH_API_DURATION:-$([ "${QUICK:-0}" = 1 ] && echo 3 || echo 8)}
CONNS=16
THREADS=2
db=$WORK/api.db
rm -f "$db" "$db-wal" "$db-shm"

log "generating $ROWS readings in $db"
"$HBIN/sqlite_ceiling" init "$db" 2>>"$WORK/api.log" || die "cannot create $db"
t0=$(date +%s)
attach=""
if [ -f "$WORK/sink.keep.db" ]; then
  attach="ATTACH '$WORK/sink.keep.db' AS s;
INSERT INTO models SELECT * FROM s.models;
INSERT INTO alerts SELECT * FROM s.alerts;
INSERT INTO window_stats(production_line, window_start_ms, window_end_ms, window_type, count, anomalous, stats)
  SELECT production_line, window_start_ms, window_end_ms, window_type, count, anomalous, stats FROM s.window_stats;
DETACH s;"
fi
sqlite3 "$db" >/dev/null 2>>"$WORK/api.log" <<EOF || die "cannot fill $db"
PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM c WHERE i < $ROWS - 1),
p(now, step) AS (SELECT CAST(strftime('%s','now') AS INTEGER) * 1000, 86400000.0 / $ROWS)
INSERT INTO sensor_readings(timestamp, ts_ms, production_line, component_id, sequence_number,
  temperature, humidity, sound_level, is_anomaly, anomaly_score, severity, model_version, zscore)
SELECT strftime('%Y-%m-%dT%H:%M:%fZ', t / 1000.0, 'unixepoch'), t,
  CASE WHEN i % 2 = 0 THEN 'turbine-line-1' ELSE 'turbine-line-2' END,
  CASE i % 6 WHEN 0 THEN 'Blade' WHEN 2 THEN 'Resin Infusion' WHEN 4 THEN 'Curing Oven'
             WHEN 1 THEN 'Nacelle' WHEN 3 THEN 'Gearbox' ELSE 'Generator' END,
  i / 6, 22 + (abs(random()) % 600) / 100.0, 44 + (abs(random()) % 1200) / 100.0,
  61 + (abs(random()) % 800) / 100.0, (i % 50 = 0),
  (abs(random()) % 1000) / 2000.0 + CASE WHEN i % 50 = 0 THEN 0.5 ELSE 0 END,
  CASE WHEN i % 50 = 0 THEN 'warning' ELSE 'normal' END, 1, (abs(random()) % 300) / 100.0
FROM (SELECT i, CAST(p.now - ($ROWS - 1 - i) * p.step AS INTEGER) AS t FROM c, p);
COMMIT;
$attach
PRAGMA journal_mode=WAL;
EOF
gen_s=$(($(date +%s) - t0))
stored=$(sqlite3 "$db" 'SELECT count(*) FROM sensor_readings')
models=$(sqlite3 "$db" 'SELECT count(*) FROM models')
size_mb=$(($(stat -c %s "$db") / 1048576))
log "database ready: $stored readings, $models models, $size_mb MB in ${gen_s}s"

port_ww=$((39200 + RANDOM % 300))
port_fl=$((port_ww + 1))
"$WW_BIN/windwatch-api" --db "$db" --listen "127.0.0.1:$port_ww" -q >/dev/null 2>>"$WORK/api.log" &
pid_ww=$!
pid_fl=""
cleanup_api() {
  kill "$pid_ww" 2>/dev/null || true
  [ -n "$pid_fl" ] && kill "$pid_fl" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup_api EXIT

wait_http() { # URL SECONDS
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}
wait_http "http://127.0.0.1:$port_ww/api/health" 30 || die "windwatch-api did not answer on port $port_ww"
if [ -n "${PY:-}" ]; then
  # env execs python: $! is the server's own pid (for its VmHWM).
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
    "$PY" "$WW_SRC/bench/baseline_flask.py" --db "$db" --port "$port_fl" >/dev/null 2>>"$WORK/api.log" &
  pid_fl=$!
  if ! wait_http "http://127.0.0.1:$port_fl/api/health" 60; then
    note "The Flask baseline did not start (see $WORK/api.log); windwatch figures only."
    kill "$pid_fl" 2>/dev/null || true
    pid_fl=""
  fi
else
  note "The Flask baseline did not run: no Python environment with flask and scikit-learn."
fi

body='{"production_line":"turbine-line-1","component_id":"Blade","temperature":27.3,"humidity":48.2,"sound_level":66.1,"timestamp":"2026-01-01 00:00:00"}'
cat >"$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
EOF
answer=$(curl -sS -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port_ww/api/predict" | head -c 400)
extra "windwatch POST /api/predict answer" "$answer"
case $answer in
  *'"scoring":"model"'*) ;;
  *) note "windwatch's /api/predict answered without its Isolation Forest (\"scoring\" is not \"model\"; see the answer above and $WORK/api.log), so its predict figures are for threshold scoring." ;;
esac

# to_ms VALUE_WITH_UNIT: wrk's "635.91us" / "1.04ms" / "2.01s" in ms.
to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
    printf "%.3f", n }'
}

# one_wrk SID SYSTEM PID URL [LUA]: one wrk run; records req/s, p50, p99.
one_wrk() {
  local sid=$1 sys=$2 pid=$3 url=$4 lua=${5:-} out rps p50 p99 bad hwm
  local args=(-t "$THREADS" -c "$CONNS" -d "${DURATION}s" --timeout 10s --latency)
  [ -n "$lua" ] && args+=(-s "$lua")
  if ! out=$(wrk "${args[@]}" "$url" 2>&1); then
    note "wrk failed against $sys $url: $(echo "$out" | tail -1)"
    return 0
  fi
  rps=$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')
  p50=$(echo "$out" | awk '$1 == "50%" { print $2 }')
  p99=$(echo "$out" | awk '$1 == "99%" { print $2 }')
  bad=$(echo "$out" | awk '/Non-2xx or 3xx responses:/ { print $NF }')
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo "")
  if [ -z "$rps" ] || [ -z "$p99" ]; then
    note "cannot read wrk's output for $sys $url"
    return 0
  fi
  if [ -n "$bad" ] && [ "$bad" != 0 ]; then
    note "$sys $url: $bad non-2xx answers in one run (the figures of that run include them)"
  fi
  rec "$sid.rps" "$sys" "throughput" "req/s" "$rps" "$hwm"
  rec "$sid.p50" "$sys" "latency p50" "ms" "$(to_ms "$p50")" "$hwm"
  rec "$sid.p99" "$sys" "latency p99" "ms" "$(to_ms "$p99")" "$hwm"
}

endpoints=(health current_status history predict)
declare -A path=([health]=/api/health [current_status]=/api/current-status
  [history]=/api/sensor-history/temperature [predict]=/api/predict)
for e in "${endpoints[@]}"; do
  lua=""
  [ "$e" = predict ] && lua=$WORK/post.lua
  for r in $(seq 1 "$REPS"); do
    log "${path[$e]}: repetition $r/$REPS"
    one_wrk "ww.$e" windwatch "$pid_ww" "http://127.0.0.1:$port_ww${path[$e]}" "$lua"
    [ -n "$pid_fl" ] && one_wrk "fl.$e" "Flask baseline" "$pid_fl" "http://127.0.0.1:$port_fl${path[$e]}" "$lua"
  done
done

python3 - "$META" "$ROWS" "$DURATION" "$CONNS" "$THREADS" "$REPS" "$stored" "$models" "$size_mb" "$gen_s" <<'PY'
import json, sys
meta, rows, dur, conns, threads, reps, stored, models, size_mb, gen_s = sys.argv[1:]
paths = {"health": "GET /api/health", "current_status": "GET /api/current-status",
         "history": "GET /api/sensor-history/temperature", "predict": "POST /api/predict"}
series, ratios, goals = {}, [], []
for e, p in paths.items():
    for sysid, name in (("ww", "windwatch"), ("fl", "Flask")):
        series["%s.%s.rps" % (sysid, e)] = {"label": "%s %s req/s" % (name, p)}
        series["%s.%s.p50" % (sysid, e)] = {"label": "%s %s p50" % (name, p), "better": "lower"}
        series["%s.%s.p99" % (sysid, e)] = {"label": "%s %s p99" % (name, p), "better": "lower"}
    goal = 100 if e in ("current_status", "predict") else None
    ratios.append({"num": "ww.%s.rps" % e, "den": "fl.%s.rps" % e, "goal": goal,
                   "goal_text": "≥ 100×" if goal else "-"})
    ratios.append({"num": "ww.%s.p99" % e, "den": "fl.%s.p99" % e, "goal": None, "goal_text": "-"})
    goals.append({"series": "ww.%s.p99" % e, "max": 10, "text": "p99 < 10 ms"})
json.dump({"title": "5. API (HTTP, %s readings stored)" % format(int(stored), ","),
           "what": ("wrk -t%s -c%s -d%ss --latency against windwatch-api (libmicrohttpd, read-only SQLite, "
                    "default threads) and the Flask baseline (bench/baseline_flask.py: the original's "
                    "endpoints rebuilt, per-request connection and StandardScaler + IsolationForest scoring, "
                    "Flask's threaded server), one after the other on the same database: %s readings over the "
                    "last 24 h (%s MB, generated in %s s with one INSERT ... SELECT), %s models. wrk runs on "
                    "the same 2 cores as the server. The original system measured on a 2-core machine: "
                    "health 696 req/s, current-status 20 req/s, predict 46 req/s (p99 1.7 s at 16 "
                    "connections).") % (threads, conns, dur, format(int(stored), ","), size_mb, gen_s, models),
           "params": {"readings stored": int(stored), "wrk connections": int(conns), "wrk threads": int(threads),
                      "seconds per run": int(dur), "repetitions": int(reps)},
           "series": series, "ratios": ratios, "goals": goals}, open(meta, "w"))
PY
note "Peak RSS of a server is its VmHWM after the run, cumulative over the endpoints measured before."
note "wrk is closed-loop at saturation (16 connections kept busy) and shares the 2 cores with the server, so p99 includes queueing behind wrk itself; it is not the latency at a moderate request rate."
note "The Flask reconstruction is a conservative baseline: it uses windwatch's indexes and writes nothing per request, and runs faster than the original system did (see the figures quoted above), so ratios against the original would be larger."
bench_end
