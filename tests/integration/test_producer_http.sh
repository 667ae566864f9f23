#!/usr/bin/env bash
# --http: each simulated reading is POSTed to /api/predict on one keep-alive
# connection, a 503 is retried with backoff, a 400 is not, and every answer is
# printed on stdout with the reading's component and ground truth. The server
# is a small stand-in that records what it receives.
source "$(dirname "$0")/lib.sh"
require_tools python3

port=$(free_port)
cat >"$WW_TMP/server.py" <<'PY'
import http.server, json, sys
port, log = int(sys.argv[1]), open(sys.argv[2], "w", buffering=1)
seen = {"n": 0}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        seen["n"] += 1
        r = json.loads(body)
        log.write(json.dumps({"path": self.path, "peer": self.client_address[1], "body": r,
                              "type": self.headers.get("Content-Type")}) + "\n")
        if seen["n"] == 1:
            code, out = 503, {"error": "warming up"}
        elif seen["n"] == 5:
            code, out = 400, {"error": "Missing required field: sound_level"}
        else:
            code, out = 200, {"anomaly_score": 0.25, "production_line": r["production_line"],
                              "status": "normal", "timestamp": r["timestamp"]}
        data = json.dumps(out).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
start_bg server python3 "$WW_TMP/server.py" "$port" "$WW_TMP/requests.jsonl"
listening() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port"; }
wait_until 30 "the stand-in server on port $port" listening

rc=0
"$WW_BIN_DIR/windwatch-producer" --http "http://127.0.0.1:$port" --count 20 --rate 0 --seed 3 \
  --anomaly-probability 0.3 --http-retries 2 >"$WW_TMP/out.jsonl" 2>"$WW_TMP/prod.log" || rc=$?
check_eq "exit code (one reading refused with 400)" "$rc" 1
check_contains "refusal reported" "$(cat "$WW_TMP/prod.log")" "1 of 20 readings were not accepted"
check_eq "result lines on stdout" "$(wc -l <"$WW_TMP/out.jsonl")" 19
check_eq "requests (20 readings + 1 retry after the 503)" "$(wc -l <"$WW_TMP/requests.jsonl")" 21
python3 - "$WW_TMP/requests.jsonl" "$WW_TMP/out.jsonl" <<'PY' || fail "requests or results (see above)"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
outs = [json.loads(l) for l in open(sys.argv[2])]
assert {r["path"] for r in reqs} == {"/api/predict"}, reqs[0]
assert {r["type"] for r in reqs} == {"application/json"}, reqs[0]
assert len({r["peer"] for r in reqs}) == 1, "more than one connection: no keep-alive"
assert reqs[0]["body"] == reqs[1]["body"], "the retry must resend the same reading"
for r in reqs:
    for f in ("production_line", "component_id", "temperature", "humidity", "sound_level", "timestamp"):
        assert f in r["body"], (f, r)
for o in outs:
    assert o["anomaly_score"] == 0.25 and o["status"] == "normal", o
    assert "component_id" in o and "injected_anomaly" in o, o
print(f"{len(reqs)} requests on one connection, {len(outs)} results", file=sys.stderr)
PY
WW_CHECKS=$((WW_CHECKS + 1))

# Nothing listening: each reading is retried, then reported; exit 1.
dead=$(free_port)
rc=0
"$WW_BIN_DIR/windwatch-producer" --http "http://127.0.0.1:$dead/api/predict" --count 2 --rate 0 \
  --http-retries 1 --http-timeout 2s >/dev/null 2>"$WW_TMP/dead.log" || rc=$?
check_eq "exit code without a server" "$rc" 1
check_contains "failure reported" "$(cat "$WW_TMP/dead.log")" "failed after 2 attempts"

ww_done
