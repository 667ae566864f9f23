#!/usr/bin/env bash
# test_api_predict_kafka.sh: with --brokers set, POST /api/predict also
# produces the reading to sensor-data on the real broker, keyed by its line,
# in the v1 message format; SIGTERM flushes it before exit.
source "$(dirname "$0")/lib.sh"
require_tools curl python3
require_broker
ww_topics api-predict

SEED="${WW_BUILD_DIR:?}/tests/test_api_seed"
DB="$WW_TMP/api.db"
"$SEED" "$DB" 5 2>"$WW_TMP/seed.log" || die "seeding failed: $(cat "$WW_TMP/seed.log")"
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
start_bg api "$WW_BIN_DIR/windwatch-api" --db "$DB" --listen "127.0.0.1:$PORT" \
  --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}"
wait_until 20 "windwatch-api on $PORT" curl -sf "$BASE/api/health"

for comp in Blade Gearbox; do
  line=turbine-line-1; [ "$comp" = Gearbox ] && line=turbine-line-2
  out=$(curl -s -H 'Content-Type: application/json' --data-binary \
    "{\"production_line\":\"$line\",\"component_id\":\"$comp\",\"temperature\":27.3,\"humidity\":48.2,\"sound_level\":66.1,\"timestamp\":\"2026-01-01 00:00:00\"}" \
    "$BASE/api/predict")
  check_contains "predict $line says produced" "$out" '"produced":true'
done

stop_bg api
check_eq "api exit code after flushing" "$STOP_RC" 0

kcat -b "$WW_BROKERS" -C -t "$WW_T_DATA" -e -q -f '%k %s\n' >"$WW_TMP/msgs" 2>"$WW_TMP/kcat.log" ||
  die "kcat failed: $(cat "$WW_TMP/kcat.log")"
check_eq "messages on $WW_T_DATA" "$(wc -l <"$WW_TMP/msgs")" 2
check_eq "message content" "$(python3 -c '
import json,sys
rows=[l.split(" ",1) for l in open(sys.argv[1]).read().splitlines()]
out=sorted((k, m["v"], m["production_line"], m["component_id"], m["timestamp"], m["sound_level"])
           for k,m in ((k,json.loads(v)) for k,v in rows))
print(out)' "$WW_TMP/msgs")" \
  "[('turbine-line-1', 1, 'turbine-line-1', 'Blade', '2026-01-01T00:00:00.000Z', 66.1), ('turbine-line-2', 1, 'turbine-line-2', 'Gearbox', '2026-01-01T00:00:00.000Z', 66.1)]"
ww_done
