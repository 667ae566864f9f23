#!/usr/bin/env bash
# test_api_browser_pipeline.sh: an anomaly injected into the REAL pipeline
# (kcat → sensor-data → windwatch-processor → alerts → windwatch-sink →
# SQLite → windwatch-api /api/stream) appears in the dashboard's alert feed in
# headless Chromium. The page is open and live before the reading is
# produced; the browser side polls the DOM with a deadline
# (tests/browser/pipeline.test.mjs). Screenshot in
# $WW_BUILD_DIR/browser-artifacts/pipeline/.
source "$(dirname "$0")/lib.sh"
require_tools kcat sqlite3 curl node python3
require_broker
ww_topics browser-pipeline

HERE="$WW_SOURCE_DIR/tests/browser"
CHROMIUM=${WW_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || die "Chromium not found at $CHROMIUM (run scripts/bootstrap, or set WW_CHROMIUM)"
[ -d "$HERE/node_modules/playwright-core" ] ||
  die "playwright-core is not installed: run scripts/bootstrap (npm ci in tests/browser)"
[ -f "$WW_SOURCE_DIR/api/web/node_modules/uplot/dist/uPlot.iife.min.js" ] ||
  die "uPlot is not installed: run scripts/bootstrap (npm ci in api/web)"

DB="$WW_TMP/windwatch.db"
group="browser-pipeline-$$-$RANDOM"

# produce LINE COMPONENT SEQ TEMPERATURE HUMIDITY SOUND: one v1 reading stamped now, keyed by its line.
produce() {
  local ts
  ts=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
  printf '%s\t{"v":1,"production_line":"%s","component_id":"%s","timestamp":"%s","sequence_number":%d,"temperature":%s,"humidity":%s,"sound_level":%s,"injected_anomaly":null,"episode_id":null}\n' \
    "$1" "$1" "$2" "$ts" "$3" "$4" "$5" "$6"
}

# 1. the pipeline, following the topics from the start.
start_bg sink "$WW_BIN_DIR/windwatch-sink" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
  --group "$group-s" --db "$DB" --batch-ms 50ms
start_bg processor "$WW_BIN_DIR/windwatch-processor" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
  --group "$group-p" --mode real_time --window-type count --window-size 20 --alert-min-count 1 \
  --guarantee at-least-once

# 2. ordinary readings, mid-range on both lines and never constant (a stuck
#    sensor is an anomaly too), so the page has data and no alert yet.
N=40
for i in $(seq 1 $((N / 2))); do
  produce turbine-line-1 Blade "$i" "2$((i % 5)).5" "4$((i % 7)).2" "5$((i % 4)).5"
  produce turbine-line-2 Generator "$i" "2$(((i + 2) % 5)).5" "4$(((i + 3) % 7)).2" "5$(((i + 1) % 4)).5"
done | kcat -P -b "$WW_BROKERS" -t "$WW_T_DATA" -K $'\t' 2>"$WW_TMP/kcat.log" ||
  die "kcat could not produce: $(cat "$WW_TMP/kcat.log")"
stored() { [ "$(sqlite3 -cmd '.timeout 2000' "$DB" 'SELECT count(*) FROM sensor_readings' 2>/dev/null)" = "$1" ]; }
wait_until 120 "$N readings stored by the sink" stored "$N"
check_eq "alerts before the anomaly" "$(sqlite3 -cmd '.timeout 2000' "$DB" 'SELECT count(*) FROM alerts')" 0

# 3. the api and the dashboard.
PORT=$(free_port)
start_bg api "$WW_BIN_DIR/windwatch-api" --db "$DB" --listen "127.0.0.1:$PORT" \
  --web-root "$WW_SOURCE_DIR/api/web"
wait_until 20 "windwatch-api on $PORT" curl -sf "http://127.0.0.1:$PORT/api/health"

# The browser script runs this once the page is live: a 45 °C reading on
# turbine-line-2 / Generator (range 10..40, so a critical threshold alert).
cat >"$WW_TMP/inject.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
$(declare -f produce)
produce turbine-line-2 Generator $((N / 2 + 1)) 45.0 44.2 52.5 | kcat -P -b "$WW_BROKERS" -t "$WW_T_DATA" -K \$'\\t'
EOF
chmod +x "$WW_TMP/inject.sh"

ART="${WW_BUILD_DIR:?}/browser-artifacts/pipeline"
rm -rf "$ART"
if WW_CHROMIUM="$CHROMIUM" node "$HERE/pipeline.test.mjs" "http://127.0.0.1:$PORT" "$WW_TMP/inject.sh" "$ART" \
  >"$WW_TMP/node.out" 2>"$WW_TMP/node.log"; then ok=1; else ok=0; fi
cat "$WW_TMP/node.log" >&2
check_eq "browser checks ($(cat "$WW_TMP/node.out"))" "$ok" 1
check_eq "screenshot kept" "$(ls "$ART"/*.png 2>/dev/null | wc -l)" 1

# The alert the page showed is the pipeline's: on the alerts topic and stored.
shown=$(cat "$ART/alert_id" 2>/dev/null || true)
check_contains "alert id shown by the page" "$shown" "turbine-line-2-"
check_eq "that alert in SQLite (line, component, severity, sensors)" \
  "$(sqlite3 -cmd '.timeout 2000' "$DB" "SELECT production_line, component_id, severity, sensors FROM alerts WHERE alert_id = '$shown'")" \
  'turbine-line-2|Generator|critical|["temperature"]'
check_contains "that alert on $WW_T_ALERTS" \
  "$(kcat -b "$WW_BROKERS" -C -t "$WW_T_ALERTS" -e -q 2>/dev/null)" "\"alert_id\":\"$shown\""
ww_done
