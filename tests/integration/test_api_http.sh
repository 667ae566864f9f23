#!/usr/bin/env bash
# test_api_http.sh: windwatch-api over real HTTP on loopback against a real
# SQLite file written by test_api_seed: every endpoint, every error path,
# an SQL-injection attempt, path traversal, keep-alive, the event stream.
# Needs no broker.
source "$(dirname "$0")/lib.sh"
require_tools curl python3 sqlite3

SEED="${WW_BUILD_DIR:?}/tests/test_api_seed"
API="$WW_BIN_DIR/windwatch-api"
[ -x "$SEED" ] || die "missing $SEED (build the test_api_seed target)"
[ -x "$API" ] || die "missing $API (build windwatch-api)"

DB="$WW_TMP/api.db"
"$SEED" "$DB" 50 2>"$WW_TMP/seed.log" || die "seeding failed: $(cat "$WW_TMP/seed.log")"
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
start_bg api "$API" --db "$DB" --listen "127.0.0.1:$PORT" --threads 2 \
  --web-root "$WW_SOURCE_DIR/api/web" --max-body 4096
wait_until 20 "windwatch-api on $PORT" curl -sf "$BASE/api/health"

# get PATH: body on stdout, status in $WW_TMP/code
get() { curl -s -o "$WW_TMP/body" -w '%{http_code}' "$BASE$1" >"$WW_TMP/code"; cat "$WW_TMP/body"; }
code() { cat "$WW_TMP/code"; }
# js EXPR: evaluate a Python expression over the JSON body `d`
js() { python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$WW_TMP/body"; }
ctype() { curl -s -o /dev/null -w '%{content_type}' "$BASE$1"; }

# ---- health: a real query
get /api/health >/dev/null
check_eq "health status" "$(code)" 200
check_eq "health body" "$(js 'd["status"], d["database"], d["model"], d["scoring"]')" "('healthy', 'connected', 'loaded', 'model')"
check_contains "health content type" "$(ctype /api/health)" "application/json"

# ---- sensor-history: newest first, limit, filters, unknown sensor
get "/api/sensor-history/temperature?limit=5" >/dev/null
check_eq "history status" "$(code)" 200
check_eq "history shape" "$(js 'd["sensor_type"], d["count"], sorted(d["data"][0].keys())')" \
  "('temperature', 5, ['anomaly_score', 'component_id', 'is_anomaly', 'production_line', 'timestamp', 'value'])"
check_eq "history newest first" "$(js 'd["data"][0]["timestamp"] > d["data"][-1]["timestamp"]')" "True"
check_eq "history newest row" "$(js 'd["data"][0]["timestamp"]')" "2025-11-25T10:00:49.001Z"
get "/api/sensor-history/sound_level?line=turbine-line-1&limit=1000" >/dev/null
check_eq "history sound_level per line" "$(js 'd["count"], {r["production_line"] for r in d["data"]}')" \
  "(50, {'turbine-line-1'})"
get "/api/sensor-history/humidity?since=2025-11-25T10:00:40Z&until=2025-11-25T10:00:44.999Z" >/dev/null
check_eq "history time range" "$(js 'd["count"]')" "10"
get "/api/sensor-history/temperature?resolution=1m&line=turbine-line-1" >/dev/null
check_eq "history rollups" "$(js 'd["resolution"], d["count"], d["data"][0]["timestamp"], d["data"][0]["value"], d["data"][0]["count"]')" \
  "('1m', 2, '2025-11-25T10:01:00.000Z', 26.0, 30)"
get "/api/sensor-history/temperature?since=2025-11-25T00:00:00Z&until=2025-11-25T12:00:00Z" >/dev/null
check_eq "history long range uses rollups" "$(js 'd["resolution"], d["count"]')" "('1m', 3)"
get "/api/sensor-history/temperature?since=2025-11-25T00:00:00Z&until=2025-11-25T12:00:00Z&resolution=raw&limit=10000" >/dev/null
check_eq "history raw on request" "$(js 'd["resolution"], d["count"]')" "('raw', 101)"
get "/api/sensor-history/temperature?resolution=5m" >/dev/null
check_eq "history bad resolution 400" "$(code)" 400
get /api/sensor-history/pressure >/dev/null
check_eq "unknown sensor 404" "$(code)" 404
check_contains "unknown sensor message" "$(js 'd["error"]')" "pressure"
get "/api/sensor-history/temperature?limit=abc" >/dev/null
check_eq "bad limit 400" "$(code)" 400
check_contains "bad limit names the parameter" "$(js 'd["error"]')" "limit"
get "/api/sensor-history/temperature?limit=100001" >/dev/null
check_eq "limit bounded 400" "$(code)" 400
get "/api/sensor-history/temperature?since=yesterday" >/dev/null
check_eq "bad since 400" "$(code)" 400
# Relative times: the seeded readings are from 2025-11-25, older than a week.
get "/api/sensor-history/temperature?since=-7d&until=now&resolution=raw" >/dev/null
check_eq "history since -7d: nothing that recent" "$(code) $(js 'd["count"]')" "200 0"
get "/api/sensor-history/temperature?since=-36500d&until=now&resolution=raw&limit=10000" >/dev/null
check_eq "history since -36500d: everything" "$(code) $(js 'd["count"]')" "200 101"
for bad in -5 %2B5 -15x 2025-13-01T00:00:00Z; do
  get "/api/sensor-history/temperature?since=$bad" >/dev/null
  check_eq "since=$bad 400" "$(code)" 400
done
get "/api/sensor-history/temperature?limit=%205" >/dev/null
check_eq "limit with a space 400" "$(code)" 400

# ---- the original endpoints
get /api/current-status >/dev/null
check_eq "current-status" "$(code)" 200
check_eq "current-status shape" \
  "$(js 'sorted(d.keys()), d["model_status"]["model_type"], len(d["recent_data"]), sorted(d["production_lines"]["turbine-line-1"]["sensors"])')" \
  "(['model_status', 'production_lines', 'recent_data', 'timestamp'], 'IsolationForest', 10, ['humidity', 'sound_level', 'temperature'])"
# Line 1 has a model; line 2's two newest windows say its first model has 640 of 2048
# readings, 340 of them gathered in the 20 s between the two.
check_eq "current-status training" \
  "$(js 'sorted(d["model_status"]["models"]), d["model_status"]["training"]')" \
  "(['turbine-line-1'], {'turbine-line-2': {'readings': 640, 'needed': 2048, 'as_of': '2025-11-25T10:00:40.000Z', 'readings_per_minute': 1020.0}})"
get /api/production-lines >/dev/null
check_eq "production-lines" "$(js 'sorted(d), d["turbine-line-2"]["name"], d["turbine-line-2"]["components"]')" \
  "(['turbine-line-1', 'turbine-line-2'], 'Nacelle Assembly Line', ['Nacelle', 'Gearbox', 'Generator'])"
get /api/thresholds >/dev/null
check_eq "thresholds" "$(js 'd["normal_threshold"] <= d["warning_threshold"] < d["anomaly_threshold"], d["sensor_thresholds"]["sound_level"]["warning"]')" "(True, 70.0)"
get "/api/data-samples?limit=7&since=0" >/dev/null
check_eq "data-samples" "$(js 'len(d["sensor_readings"]), d["total_count"], d["summary"]["total_readings"], sorted(d["summary"])')" \
  "(7, 101, 101, ['anomaly_count', 'avg_anomaly_score', 'avg_humidity', 'avg_sound_level', 'avg_temperature', 'earliest_timestamp', 'latest_timestamp', 'since', 'total_readings', 'until'])"
get "/api/data-samples?limit=1" >/dev/null
check_eq "data-samples summary: newest hour by default" "$(js 'd["summary"]["since"], d["total_count"]')" "('2025-11-25T09:00:49.001Z', 101)"
get "/api/data-samples?limit=1&since=2025-11-25T10:00:40Z&until=2025-11-25T10:00:44.999Z" >/dev/null
check_eq "data-samples summary range" "$(js 'd["total_count"], d["summary"]["avg_humidity"]')" "(10, 52.0)"
get /api/debug-sensor-count >/dev/null
check_eq "debug-sensor-count" "$(js 'd["total_count"], d["earliest_timestamp"], d["latest_timestamp"]')" \
  "(101, '2025-11-25T09:59:00.000Z', '2025-11-25T10:00:49.001Z')"
get /api/dashboard-data >/dev/null
check_eq "dashboard-data" "$(js 'sorted(d), d["anomaly_distribution"]["anomaly_count"], len(d["sensor_history"]["sound_level"])')" \
  "(['anomaly_distribution', 'production_lines', 'recent_data', 'sensor_history', 'timestamp'], 10, 100)"
get /api/database-stats >/dev/null
check_eq "database-stats" "$(js 'd["tables"]["sensor_readings"]["row_count"], d["tables"]["alerts"]["row_count"], d["tables"]["readings_rollup_1m"]["row_count"], d["database_size_bytes"] > 0')" \
  "(101, 3, 4, True)"

# ---- table-data: allow-list, injection
for t in sensor_readings window_stats alerts models model_metadata production_lines dead_letters readings_rollup_1m; do
  get "/api/table-data/$t?limit=2" >/dev/null
  check_eq "table-data $t" "$(code)" 200
done
get "/api/table-data/sensor_readings?limit=3" >/dev/null
check_eq "table-data shape" "$(js 'd["table_name"], d["count"], "component_id" in d["data"][0]')" "('sensor_readings', 3, True)"
get "/api/table-data/kafka_offsets" >/dev/null
check_eq "table not on the allow-list" "$(code)" 404
get "/api/table-data/sensor_readings%20WHERE%201%3D1%3B%20DROP%20TABLE%20alerts%3B--" >/dev/null
check_eq "SQL injection in table name refused" "$(code)" 404
get "/api/table-data/sqlite_master" >/dev/null
check_eq "sqlite_master refused" "$(code)" 404
get "/api/table-data/alerts?limit=1%20UNION%20SELECT%201" >/dev/null
check_eq "SQL injection in limit refused" "$(code)" 400
get "/api/alerts?line=turbine-line-1'%20OR%20'1'%3D'1" >/dev/null
check_eq "SQL injection in a filter refused" "$(code)" 400
check_eq "alerts table intact" "$(sqlite3 "$DB" 'SELECT count(*) FROM alerts')" 3

# ---- new endpoints
get "/api/alerts?limit=2" >/dev/null
check_eq "alerts page 1" "$(js 'd["count"], [a["alert_id"] for a in d["alerts"]], d["next_cursor"] is not None')" \
  "(2, ['turbine-line-1-1764064809000-1', 'turbine-line-2-1764064819000-1'], True)"
cursor=$(js 'd["next_cursor"]')
get "/api/alerts?limit=2&cursor=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$cursor")" >/dev/null
check_eq "alerts page 2 (cursor)" "$(js 'd["count"], d["alerts"][0]["alert_id"], d["next_cursor"]')" \
  "(1, 'turbine-line-1-1764064700000-1', None)"
get "/api/alerts?state=open&severity=critical" >/dev/null
check_eq "alerts filters" "$(js '[(a["state"], a["severity"]) for a in d["alerts"]]')" "[('open', 'critical')]"
get "/api/alerts?line=turbine-line-2" >/dev/null
check_eq "alerts by line" "$(js 'd["count"]')" 1
get "/api/alerts?since=2025-11-25T10:00:30Z" >/dev/null
check_eq "alerts since" "$(js 'd["count"]')" 1
get "/api/alerts?state=closed" >/dev/null
check_eq "alerts bad state 400" "$(code)" 400
get "/api/alerts?cursor=garbage" >/dev/null
check_eq "alerts bad cursor 400" "$(code)" 400
get "/api/alerts/turbine-line-2-1764064819000-1" >/dev/null
check_eq "alert by id" "$(js 'd["severity"], d["sensors"], d["last_event"]["event"]')" "('warning', ['sound_level'], 'opened')"
get "/api/alerts/no-such-alert" >/dev/null
check_eq "unknown alert 404" "$(code)" 404
get "/api/windows?line=turbine-line-1" >/dev/null
check_eq "windows" "$(js 'd["count"], d["windows"][0]["window_end"] > d["windows"][1]["window_end"], d["windows"][0]["sensors"]["temperature"]["trend"]')" \
  "(2, True, 'stable')"
check_eq "windows: the model's state" "$(js '[(w["model_version"], w["training"]) for w in d["windows"]]')" \
  "[(1, None), (1, None)]"
get "/api/windows?line=turbine-line-2" >/dev/null
check_eq "windows: the first model gathering" "$(js '[(w["model_version"], w["training"]) for w in d["windows"]]')" \
  "[(0, {'readings': 640, 'needed': 2048}), (0, {'readings': 300, 'needed': 2048})]"
get "/api/lines/turbine-line-1" >/dev/null
check_eq "line detail" "$(js 'd["id"], d["sensors"]["temperature"]["max"], d["latest_window"]["id"], len(d["active_alerts"])')" \
  "('turbine-line-1', 40.0, 3, 1)"
get "/api/lines/turbine-line-9" >/dev/null
check_eq "unknown line 404" "$(code)" 404
get /api/models >/dev/null
check_eq "models" "$(js 'd["count"], d["models"][0]["production_line"], d["models"][0]["version"], "model" in d["models"][0]')" \
  "(1, 'turbine-line-1', 1, False)"
metrics=$(get /metrics)
check_eq "metrics status" "$(code)" 200
check_contains "metrics content type" "$(ctype /metrics)" "text/plain"
check_contains "metrics counters" "$metrics" 'windwatch_api_requests_total{route="health",code="2xx"}'
check_contains "metrics histogram" "$metrics" 'windwatch_api_request_duration_seconds_bucket{route="alerts",le="+Inf"}'
check_contains "metrics database gauge" "$metrics" "windwatch_api_database_up 1"

# ---- CSV exports: streamed, RFC 4180, no silent limit
curl -s -D "$WW_TMP/csvh" -o "$WW_TMP/all.csv" "$BASE/export-csv"
check_contains "export-csv disposition" "$(cat "$WW_TMP/csvh")" 'filename="sensor_readings.csv"'
check_contains "export-csv chunked" "$(tr -d '\r' <"$WW_TMP/csvh")" "Transfer-Encoding: chunked"
check_eq "export-csv header" "$(head -1 "$WW_TMP/all.csv" | tr -d '\r')" \
  "timestamp,production_line,component_id,temperature,humidity,sound_level,is_anomaly,anomaly_score"
check_eq "export-csv rows (all, newest first, CRLF, quoted)" \
  "$(python3 -c '
import csv,sys
raw=open(sys.argv[1],newline="").read()
rows=list(csv.reader(raw.splitlines(True)))
print(len(rows)-1, rows[1][0] > rows[-1][0], raw.count("\r\n")==len(rows), rows[-1][2])' "$WW_TMP/all.csv")" \
  '101 True True Curing "Oven", B'
check_eq "export-csv ?limit and ?line" "$(curl -s "$BASE/export-csv?limit=5&line=turbine-line-2" | tail -n +2 | grep -c turbine-line-2)" 5
curl -s -D "$WW_TMP/ph" -o "$WW_TMP/pred.csv" "$BASE/export-predictions-csv"
check_contains "export-predictions-csv disposition" "$(cat "$WW_TMP/ph")" 'filename="predictions.csv"'
check_eq "export-predictions-csv rows" "$(($(wc -l <"$WW_TMP/pred.csv") - 1))" 101
check_eq "export-predictions-csv header" "$(head -1 "$WW_TMP/pred.csv" | tr -d '\r')" \
  "timestamp,production_line,component_id,temperature,humidity,sound_level,anomaly_score,status,model_version"

# ---- POST /api/predict: the original body exactly, validation
ORIG='{"production_line":"turbine-line-1","component_id":"Blade","temperature":27.3,"humidity":48.2,"sound_level":66.1,"timestamp":"2026-01-01 00:00:00"}'
post() { curl -s -o "$WW_TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$1" "$BASE/api/predict" >"$WW_TMP/code"; }
post "$ORIG"
check_eq "predict original body" "$(code)" 200
check_eq "predict shape" "$(js 'sorted(k for k in d if k in ("anomaly_score","production_line","status","timestamp","severity","model_version")), d["status"], d["timestamp"]')" \
  "(['anomaly_score', 'model_version', 'production_line', 'severity', 'status', 'timestamp'], 'normal', '2026-01-01T00:00:00.000Z')"
check_eq "predict scored by line 1's model" "$(js 'd["scoring"], d["model_version"]')" "('model', 1)"
post '{"production_line":"turbine-line-1","component_id":"Blade","temperature":25.0,"humidity":50.0,"sound_level":65.0}'
normal_score=$(js 'd["anomaly_score"]')
post '{"production_line":"turbine-line-1","component_id":"Blade","temperature":36,"humidity":30,"sound_level":50}'
check_eq "model scores an unusual reading higher" "$(js "d['anomaly_score'] > $normal_score")" "True"
post '{"production_line":"turbine-line-2","component_id":"Gearbox","temperature":27.3,"humidity":48.2,"sound_level":66.1}'
check_eq "line without a model: threshold scoring" "$(js 'd["scoring"], d["model_version"], d["status"]')" "('threshold', None, 'normal')"
post '{"production_line":"turbine-line-2","component_id":"Blade","temperature":27.3,"humidity":48.2,"sound_level":66.1}'
check_eq "predict component of another line 400" "$(code)" 400
post '{"production_line":"turbine-line-1","component_id":"Blade","temperature":27.3,"humidity":48.2,"sound_level":95,"timestamp":"2026-01-01 00:00:00"}'
check_eq "predict uses sound_level" "$(js 'd["status"], d["sensors"]["sound_level"]')" "('critical', 'critical')"
post '{"production_line":"turbine-line-1","component_id":"Blade","temperature":27.3,"humidity":48.2}'
check_eq "predict missing field 400" "$(code)" 400
check_eq "predict missing field message" "$(js 'd["error"]')" "Missing required field: sound_level"
check_eq "predict missing field named" "$(js 'd["field"], d["status"]')" "('sound_level', 400)"
post '{"production_line":"turbine-line-1","temperature":"hot","humidity":48.2,"sound_level":60}'
check_eq "predict wrong type names the field" "$(code) $(js 'd["error"]')" "400 field temperature must be a number"
post '{"production_line":"turbine-line-1","temperature":900,"humidity":48.2,"sound_level":60}'
check_eq "predict impossible value 400" "$(code)" 400
post '{"production_line":"line-x","temperature":20,"humidity":48.2,"sound_level":60}'
check_eq "predict unknown line 400" "$(code)" 400
post '{"production_line":'
check_eq "predict malformed JSON 400" "$(code)" 400
check_eq "predict malformed JSON names no field" "$(js 'd["field"]')" "None"
post "{\"production_line\":\"turbine-line-1\",\"pad\":\"$(head -c 5000 /dev/zero | tr '\0' x)\"}"
check_eq "predict body too large 413" "$(code)" 413
check_eq "predict 413 is JSON" "$(js 'd["status"]')" 413
get /api/predict >/dev/null
check_eq "GET predict 405" "$(code)" 405
check_contains "405 Allow header" "$(curl -s -D - -o /dev/null "$BASE/api/predict" | tr -d '\r')" "Allow: POST"
check_eq "DELETE health 405" "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$BASE/api/health")" 405
check_eq "POST current-status 405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "$BASE/api/current-status")" 405
get /api/no-such-endpoint >/dev/null
check_eq "unknown endpoint 404 JSON" "$(code) $(js 'd["status"]')" "404 404"
check_eq "long query 414" "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/health?x=$(head -c 6000 /dev/zero | tr '\0' a)")" 414

# ---- pages and static files, path traversal
for p in / /predictions /data-view /app.css /dashboard.js /vendor/uplot/uPlot.iife.min.js; do
  check_eq "GET $p" "$(curl -s -o /dev/null -w '%{http_code}' "$BASE$p")" 200
done
check_contains "page content type" "$(ctype /)" "text/html"
check_contains "dashboard loads uPlot locally" "$(curl -s "$BASE/")" 'src="/vendor/uplot/uPlot.iife.min.js"'
check_eq "no CDN in pages" "$(curl -s "$BASE/" "$BASE/predictions" "$BASE/data-view" | grep -c 'https\?://')" 0
for p in "/../../../../etc/passwd" "/%2e%2e/%2e%2e/etc/passwd" "/vendor/uplot/../../../../etc/passwd" \
  "/vendor/uplot/..%2f..%2f..%2fpackage.json" "/node_modules/uplot/package.json" "/package.json" \
  "/.git/config" "/%2e%2e%2f%2e%2e%2fetc%2fpasswd"; do
  body=$(curl -s --path-as-is -o - -w ' %{http_code}' "$BASE$p")
  check_eq "path traversal $p refused" "${body##* }" 404
  case "$body" in *root:*) fail "path traversal $p leaked /etc/passwd" ;; esac
done

# ---- keep-alive: two requests on one connection
curl -sv -o /dev/null -o /dev/null "$BASE/api/health" "$BASE/api/thresholds" 2>"$WW_TMP/ka.log"
check_contains "keep-alive" "$(cat "$WW_TMP/ka.log")" "Re-using existing connection"

# ---- Server-Sent Events: an alert written to the database arrives on the stream
curl -s -N --max-time 30 "$BASE/api/stream" >"$WW_TMP/sse" 2>/dev/null &
sse_pid=$!
WW_PIDS+=("$sse_pid")
wait_until 10 "stream preamble" grep -q '^retry:' "$WW_TMP/sse"
now=$(($(date +%s) * 1000))
sqlite3 -cmd '.timeout 5000' "$DB" "INSERT INTO alerts VALUES('it-alert-$now','turbine-line-1','Blade','open','critical','spike',$now,$now,NULL,0.99,1,'[\"temperature\"]','{}')"
sqlite3 -cmd '.timeout 5000' "$DB" "INSERT INTO sensor_readings(timestamp, ts_ms, production_line, component_id, temperature, humidity, sound_level, is_anomaly, anomaly_score, severity) VALUES('2026-11-25T00:00:00.000Z', $now, 'turbine-line-2', 'Gearbox', 20, 50, 60, 0, 0.1, 'normal')"
wait_until 20 "alert event on the stream" grep -q "it-alert-$now" "$WW_TMP/sse"
check_contains "stream alert event" "$(cat "$WW_TMP/sse")" "event: alert"
wait_until 20 "reading event on the stream" grep -q '^event: reading' "$WW_TMP/sse"
check_contains "stream reading event" "$(cat "$WW_TMP/sse")" '"component_id":"Gearbox"'
last_id=$(grep '^id: ' "$WW_TMP/sse" | head -1 | cut -d' ' -f2)
kill "$sse_pid" 2>/dev/null || true
# Resume: from before the first event, the missed events come back at once.
curl -s -N --max-time 3 -H "Last-Event-ID: $((last_id - 1))" "$BASE/api/stream" >"$WW_TMP/sse2" 2>/dev/null || true
check_contains "stream resumes with Last-Event-ID" "$(cat "$WW_TMP/sse2")" "id: $last_id"
curl -s -N --max-time 3 -H "Last-Event-ID: 1" "$BASE/api/stream" >"$WW_TMP/sse3" 2>/dev/null || true
check_contains "stream: an id from an earlier run replays this run's events" "$(cat "$WW_TMP/sse3")" "it-alert-$now"
check_eq "stream bad Last-Event-ID 400" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Last-Event-ID: x' "$BASE/api/stream")" 400

# ---- current-status is built once per change of the database, per worker
# thread: a reading the sink (here sqlite3) commits shows at once on every
# thread, and the ages go on between changes.
for i in 1 2 3 4; do get /api/current-status >/dev/null; done
age1=$(js 'd["production_lines"]["turbine-line-2"]["age_seconds"]')
sleep 0.3
get /api/current-status >/dev/null
check_eq "current-status ages go on between changes" \
  "$(python3 -c "print($(js 'd["production_lines"]["turbine-line-2"]["age_seconds"]') > $age1)")" True
sqlite3 "$DB" "INSERT INTO sensor_readings(timestamp, ts_ms, production_line, component_id,
  temperature, humidity, sound_level, anomaly_score, severity, is_anomaly)
  VALUES('2027-01-01T00:00:00.000Z', 1798761600000, 'turbine-line-2', 'Gearbox', 31.5, 40, 60,
  0.2, 'normal', 0)"
for i in 1 2 3 4; do
  get /api/current-status >/dev/null
  check_eq "current-status after a commit (request $i)" \
    "$(js 'd["recent_data"][0]["timestamp"], d["production_lines"]["turbine-line-2"]["last_reading_at"], d["production_lines"]["turbine-line-2"]["sensors"]["temperature"]')" \
    "('2027-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z', 31.5)"
done

# ---- health fails for real when the database is unusable
mv "$DB" "$DB.gone"
rm -f "$DB-wal" "$DB-shm"
PORT2=$(free_port)
start_bg api2 "$API" --db "$DB" --listen "127.0.0.1:$PORT2" --token s3cret
wait_until 20 "second api on $PORT2" curl -s "http://127.0.0.1:$PORT2/metrics"
check_eq "health 503 without a database" "$(curl -s -o "$WW_TMP/body" -w '%{http_code}' "http://127.0.0.1:$PORT2/api/health")" 503
check_eq "health 503 body" "$(js 'd["status"], d["database"]')" "('unhealthy', 'error')"
check_eq "endpoints 503 without a database" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT2/api/current-status")" 503

# ---- --token guards POST
B2="http://127.0.0.1:$PORT2/api/predict"
check_eq "predict without token 401" "$(curl -s -o /dev/null -w '%{http_code}' --data-binary "$ORIG" "$B2")" 401
check_eq "predict with a wrong token 401" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' --data-binary "$ORIG" "$B2")" 401
check_eq "predict with the token 200" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret' --data-binary "$ORIG" "$B2")" 200

# ---- bad flags name the flag, the value and the fix
out=$("$API" --listen nonsense 2>&1 >/dev/null) && fail "--listen nonsense accepted"
check_contains "bad --listen message" "$out" "--listen: 'nonsense' is not HOST:PORT"

# ---- graceful stop
stop_bg api
check_eq "exit code after SIGTERM" "$STOP_RC" 0

ww_done
