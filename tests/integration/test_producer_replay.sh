#!/usr/bin/env bash
# CSV replay on the real broker: every valid row arrives intact and in order
# per line, with the file's own timestamps; malformed rows are reported with
# their line number and skipped. Then the replayed messages go back in through
# --stdin and come out byte for byte.
source "$(dirname "$0")/lib.sh"
require_tools kcat python3
require_broker
ww_topics it-prod-replay

P="$WW_BIN_DIR/windwatch-producer"
csv="$WW_TMP/readings.csv"
# 3000 rows over both lines; distinct values; two malformed rows (file lines 101 and 2002).
python3 - "$csv" <<'PY'
import random, sys
random.seed(7)
comps = {"turbine-line-1": ["Blade", "Resin Infusion", "Curing Oven"],
         "turbine-line-2": ["Nacelle", "Gearbox", "Generator"]}
with open(sys.argv[1], "w") as f:
    f.write("timestamp,production_line,component_id,temperature,humidity,sound_level\n")
    for i in range(3000):
        if i == 99:
            f.write("2026-03-01T00:00:00Z,turbine-line-1,Blade,not-a-number,50,60\n")
        if i == 1999:
            f.write("2026-03-01 00:00:00,turbine-line-7,Blade,20,50,60\n")
        line = random.choice(sorted(comps))
        comp = random.choice(comps[line])
        ts = f"2026-03-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"
        f.write(f'{ts},{line},"{comp}",{15 + i / 1000:.3f},{random.uniform(20, 80):.4f},{random.randint(40, 90)}\n')
PY

rc=0
"$P" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --replay "$csv" --speed 0 \
  >/dev/null 2>"$WW_TMP/replay.log" || rc=$?
check_eq "replay exit code" "$rc" 0
check_contains "malformed row reported" "$(cat "$WW_TMP/replay.log")" "line 101 skipped"
check_contains "second malformed row reported" "$(cat "$WW_TMP/replay.log")" "line 2002 skipped: production_line 'turbine-line-7'"
check_contains "summary" "$(cat "$WW_TMP/replay.log")" "3000 delivered, 0 failed"
check_eq "messages read back" "$(kcat_count "$WW_T_DATA")" 3000

kcat -b "$WW_BROKERS" -C -t "$WW_T_DATA" -e -q -f '%p %o %k %s\n' | sort -n -k1,1 -k2,2 >"$WW_TMP/out.txt"
python3 - "$csv" "$WW_TMP/out.txt" <<'PY' || fail "replayed content differs from the file (see above)"
import csv, datetime, json, sys
want = {}
with open(sys.argv[1]) as f:
    for row in csv.DictReader(f):
        try:
            vals = [float(row[k]) for k in ("temperature", "humidity", "sound_level")]
        except ValueError:
            continue
        if row["production_line"] not in ("turbine-line-1", "turbine-line-2"):
            continue
        ts = datetime.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
        ts = ts.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
            f"{ts.microsecond // 1000:03d}Z"
        want.setdefault(row["production_line"], []).append((row["component_id"], ts, vals))
got = {}
for line in open(sys.argv[2]):
    p, o, k, s = line.rstrip("\n").split(" ", 3)
    m = json.loads(s)
    assert m["production_line"] == k, m
    assert m["injected_anomaly"] is None and m["episode_id"] is None, m
    got.setdefault(k, []).append((m["component_id"], m["timestamp"],
                                  [m["temperature"], m["humidity"], m["sound_level"]]))
for k in want:
    assert len(got.get(k, [])) == len(want[k]), (k, len(got.get(k, [])), len(want[k]))
    for i, (g, w) in enumerate(zip(got[k], want[k])):
        assert g == w, (k, i, g, w)
assert sorted(got) == sorted(want), (sorted(got), sorted(want))
print("replayed rows match the file, in order per line", file=sys.stderr)
PY
WW_CHECKS=$((WW_CHECKS + 1))

# --stdin: the replayed messages, fed back in, come out unchanged, in order per line.
cut -d' ' -f4- "$WW_TMP/out.txt" >"$WW_TMP/in.jsonl"
printf '{"broken json\n' >>"$WW_TMP/in.jsonl"
rc=0
"$P" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --topic-sensor-data "$WW_T_SCORED" --stdin \
  <"$WW_TMP/in.jsonl" >/dev/null 2>"$WW_TMP/stdin.log" || rc=$?
check_eq "stdin exit code" "$rc" 0
check_contains "bad stdin line reported" "$(cat "$WW_TMP/stdin.log")" "line 3001 skipped"
kcat -b "$WW_BROKERS" -C -t "$WW_T_SCORED" -e -q -f '%p %o %k %s\n' | sort -n -k1,1 -k2,2 >"$WW_TMP/out2.txt"
check_eq "stdin messages are the replayed bytes" "$(md5sum <"$WW_TMP/out2.txt")" "$(md5sum <"$WW_TMP/out.txt")"

# A file without a timestamp column is a usage error naming the fix.
printf 'time,value\n1,2\n' >"$WW_TMP/bad.csv"
rc=0
"$P" --brokers "$WW_BROKERS" --topic "$WW_T_DLQ" --replay "$WW_TMP/bad.csv" 2>"$WW_TMP/bad.log" || rc=$?
check_eq "exit code without a timestamp column" "$rc" 2
check_contains "error names the fix" "$(cat "$WW_TMP/bad.log")" "--replay-map"

# ---- ground truth: a labelled file ------------------------------------------
# One label column of 0/1 flags and a type name ("spike"), as labelled data sets
# have; a malformed label on file line 202. Consecutive labelled rows of one
# component form one episode with a generated id.
ww_topics it-prod-replay-lab
lab="$WW_TMP/labelled.csv"
python3 - "$lab" "$WW_TMP/truth.json" <<'PY'
import json, sys
comps = [("turbine-line-1", "Blade"), ("turbine-line-1", "Curing Oven"),
         ("turbine-line-2", "Gearbox"), ("turbine-line-2", "Generator")]
def label(comp, k):  # k: the component's k-th row
    if comp == "Blade" and 40 <= k < 50: return "1"
    if comp == "Gearbox" and 20 <= k < 24: return "spike"
    if comp == "Generator" and (60 <= k < 63 or 64 <= k < 66): return "1"  # two episodes
    return "0"
truth, state, next_ep, k = {}, {}, 1, {}
with open(sys.argv[1], "w") as f:
    f.write("timestamp,production_line,component_id,temperature,humidity,sound_level,label\n")
    for i in range(600):
        line, comp = comps[i % 4]
        if i == 200:  # file line 202
            f.write(f"2026-03-02T00:03:19.500Z,{line},{comp},20,50,60,0.5\n")  # a score, no flag
        n = k.get(comp, 0); k[comp] = n + 1
        lab = label(comp, n)
        ts = f"2026-03-02T00:{i // 60:02d}:{i % 60:02d}.000Z"
        temp = 38.5 if lab != "0" else 20 + (i % 7) * 0.5
        f.write(f"{ts},{line},{comp},{temp},50,60,{lab}\n")
        typ = {"0": None, "1": "labelled"}.get(lab, lab)
        ep = None
        if typ:
            cur = state.get(comp)
            if cur and cur[1] == typ:
                ep = cur[0]
            else:
                ep, next_ep = next_ep, next_ep + 1
        state[comp] = (ep, typ) if typ else None
        truth[f"{comp}/{n}"] = [typ, ep]
json.dump({"rows": truth, "episodes": next_ep - 1}, open(sys.argv[2], "w"))
PY
rc=0
"$P" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --replay "$lab" --speed 0 \
  --replay-map injected_anomaly=label >/dev/null 2>"$WW_TMP/labelled.log" || rc=$?
check_eq "labelled replay exit code" "$rc" 0
check_contains "malformed label reported" "$(cat "$WW_TMP/labelled.log")" \
  "line 202 skipped: injected_anomaly '0.5'"
check_contains "labelled summary" "$(cat "$WW_TMP/labelled.log")" "600 delivered, 0 failed"
kcat -b "$WW_BROKERS" -C -t "$WW_T_DATA" -e -q -f '%s\n' >"$WW_TMP/labelled.jsonl"
python3 - "$WW_TMP/truth.json" "$WW_TMP/labelled.jsonl" <<'PY' || fail "labels on the topic differ from the file (see above)"
import json, sys
want = json.load(open(sys.argv[1]))["rows"]
got = {}
for line in open(sys.argv[2]):
    m = json.loads(line)
    got[f"{m['component_id']}/{m['sequence_number']}"] = [m["injected_anomaly"], m["episode_id"]]
assert len(got) == len(want) == 600, (len(got), len(want))
bad = [(k, got.get(k), w) for k, w in want.items() if got.get(k) != w]
assert not bad, bad[:5]
n = sum(1 for v in got.values() if v[0])
print(f"600 readings, {n} labelled, labels and episodes as in the file", file=sys.stderr)
PY
WW_CHECKS=$((WW_CHECKS + 1))

# The processor's batch evaluation now has ground truth to measure against.
PROC="$WW_BIN_DIR/windwatch-processor"
[ -x "$PROC" ] || die "$PROC is missing: build the windwatch-processor target"
timeout 120 "$PROC" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" --mode batch \
  --stats-interval 0 --group "g-$WW_T_DATA" >"$WW_TMP/proc.json" 2>"$WW_TMP/proc.log" ||
  { cat "$WW_TMP/proc.log" >&2; die "processor batch run failed"; }
json_get() { # FILE KEY.PATH: one value of a JSON file
  python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"
}
check_eq "processor: ground-truth episodes" "$(json_get "$WW_TMP/proc.json" quality.episodes)" \
  "$(json_get "$WW_TMP/truth.json" episodes)"

ww_done
