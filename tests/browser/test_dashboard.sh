#!/usr/bin/env bash
# test_dashboard.sh: the dashboard in Debian's Chromium, headless, driven by
# playwright-core (tests/browser/package.json), against a real windwatch-api
# over a database written by test_api_seed. Screenshots and the downloaded
# CSV are kept in $WW_BUILD_DIR/browser-artifacts.
source "$WW_SOURCE_DIR/tests/integration/lib.sh"
require_tools node curl sqlite3

HERE="$WW_SOURCE_DIR/tests/browser"
CHROMIUM=${WW_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || die "Chromium not found at $CHROMIUM (run scripts/bootstrap, or set WW_CHROMIUM)"
[ -d "$HERE/node_modules/playwright-core" ] ||
  die "playwright-core is not installed: run scripts/bootstrap (npm ci in tests/browser)"
[ -f "$WW_SOURCE_DIR/api/web/node_modules/uplot/dist/uPlot.iife.min.js" ] ||
  die "uPlot is not installed: run scripts/bootstrap (npm ci in api/web)"
SEED="${WW_BUILD_DIR:?}/tests/test_api_seed"
[ -x "$SEED" ] || die "missing $SEED (build the test_api_seed target)"

DB="$WW_TMP/api.db"
"$SEED" "$DB" 50 2>"$WW_TMP/seed.log" || die "seeding failed: $(cat "$WW_TMP/seed.log")"
PORT=$(free_port)
start_bg api "$WW_BIN_DIR/windwatch-api" --db "$DB" --listen "127.0.0.1:$PORT" \
  --web-root "$WW_SOURCE_DIR/api/web"
wait_until 20 "windwatch-api on $PORT" curl -sf "http://127.0.0.1:$PORT/api/health"

ART="$WW_BUILD_DIR/browser-artifacts"
rm -rf "$ART"
if WW_CHROMIUM="$CHROMIUM" node "$HERE/dashboard.test.mjs" "http://127.0.0.1:$PORT" "$DB" "$ART" \
  >"$WW_TMP/node.out" 2>"$WW_TMP/node.log"; then ok=1; else ok=0; fi
cat "$WW_TMP/node.log" >&2
check_eq "browser checks ($(cat "$WW_TMP/node.out"))" "$ok" 1
check_eq "screenshots kept" "$(ls "$ART"/*.png 2>/dev/null | wc -l)" 4
ww_done
