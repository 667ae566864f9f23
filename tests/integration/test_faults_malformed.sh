#!/usr/bin/env bash
# Bad input loses nothing and stops nothing: 10 % malformed messages of every
# kind are mixed into a stream of valid readings. Every malformed message must
# reach the dead-letter topic with its reason (and the original bytes), every
# valid one must be scored, and the processor's valid-reading throughput is
# reported beside a clean run of the same valid readings (a figure for
# docs/benchmarks.md, not a pass/fail threshold).
source "$(dirname "$0")/lib.sh"
require_tools kcat python3
require_broker
N=${WW_FAULT_READINGS:-20000}   # tests/faults/run uses 1,000,000
ww_topics malformed
clean_topic="$WW_T_DATA.clean"
WINDWATCH_TOPICS="$clean_topic:3" "$WW_SOURCE_DIR/deploy/kafka/kafka.sh" topics >/dev/null ||
  die "cannot create $clean_topic"

# key<TAB>value lines: N valid readings, and after every 9th one a malformed
# message of one of the kinds the decoder knows (so 10 % of all messages).
python3 - "$N" "$WW_TMP/mixed.tsv" "$WW_TMP/clean.tsv" "$WW_TMP/expected.tsv" <<'PY'
import json, random, sys
rnd = random.Random(7)
n = int(sys.argv[1])
mixed, clean, expected = (open(p, "w") for p in sys.argv[2:5])
bad = [
    ("malformed_json", '{"production_line":"turbine-line-1","component_id":"Blade",'),
    ("malformed_json", "not json at all"),
    ("missing_field", '{"production_line":"turbine-line-1","component_id":"Blade","temperature":20}'),
    ("bad_type", '{"production_line":"turbine-line-1","component_id":"Blade","timestamp":"2026-01-01T00:00:00Z","temperature":"hot"}'),
    ("not_finite", '{"production_line":"turbine-line-1","component_id":"Blade","timestamp":"2026-01-01T00:00:00Z","temperature":NaN}'),
    ("impossible_value", '{"production_line":"turbine-line-1","component_id":"Blade","timestamp":"2026-01-01T00:00:00Z","humidity":140}'),
    ("unknown_line", '{"production_line":"line-99","component_id":"Blade","timestamp":"2026-01-01T00:00:00Z","temperature":20}'),
    ("bad_timestamp", '{"production_line":"turbine-line-2","component_id":"Gearbox","timestamp":"yesterday","temperature":20}'),
]
comps = {"turbine-line-1": ["Blade", "Resin Infusion", "Curing Oven"],
         "turbine-line-2": ["Nacelle", "Gearbox", "Generator"]}
k = 0
for i in range(n):
    line = "turbine-line-1" if i % 2 == 0 else "turbine-line-2"
    comp = comps[line][(i // 2) % 3]
    t = 1767225600 + i // 6
    m = {"v": 1, "production_line": line, "component_id": comp,
         "timestamp": "2026-01-01T%02d:%02d:%02d.000Z" % (t // 3600 % 24, t // 60 % 60, t % 60),
         "sequence_number": i // 6, "temperature": round(rnd.gauss(25, 1), 2),
         "humidity": round(rnd.gauss(50, 2), 2), "sound_level": round(rnd.gauss(65, 1.5), 2),
         "injected_anomaly": None, "episode_id": None}
    s = json.dumps(m, separators=(",", ":"))
    mixed.write(f"{line}\t{s}\n")
    clean.write(f"{line}\t{s}\n")
    if i % 9 == 8:
        reason, payload = bad[k % len(bad)]
        k += 1
        mixed.write(f"turbine-line-1\t{payload}\n")
        expected.write(f"{reason}\t{payload}\n")
PY
bad_count=$(wc -l <"$WW_TMP/expected.tsv")
kcat -b "$WW_BROKERS" -P -t "$WW_T_DATA" -K $'\t' -l "$WW_TMP/mixed.tsv" || die "producing the mixed stream failed"
kcat -b "$WW_BROKERS" -P -t "$clean_topic" -K $'\t' -l "$WW_TMP/clean.tsv" || die "producing the clean stream failed"

run_batch() { # NAME INPUT_TOPIC
  "$WW_BIN_DIR/windwatch-processor" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
    --topic-sensor-data "$2" --group "g-$1-$WW_T_DATA" --mode batch --window-type count \
    --window-size 60 --stats-interval 0 --train-size 0 \
    >"$WW_TMP/$1.json" 2>"$WW_TMP/$1.log" || die "processor ($1) failed: $(tail -3 "$WW_TMP/$1.log")"
  tail -n 1 "$WW_TMP/$1.json"
}
mixed=$(run_batch mixed "$WW_T_DATA")
echo "mixed: $mixed" >&2
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
check_eq "valid readings scored" "$(field "$mixed" readings)" "$N"
check_eq "dead letters counted" "$(field "$mixed" dead_letters)" "$bad_count"
check_eq "dead letters on $WW_T_DLQ" "$(kcat_count "$WW_T_DLQ")" "$bad_count"
# Each dead letter carries its reason and the original bytes, in order.
kcat -b "$WW_BROKERS" -C -t "$WW_T_DLQ" -e -q -X isolation.level=read_committed \
  -f '%h\t%s\n' >"$WW_TMP/dlq.tsv"
python3 - "$WW_TMP/dlq.tsv" "$WW_TMP/expected.tsv" <<'PY' || fail "dead letters differ from what was sent"
import re, sys
got = []
names = "reason|detail|source_topic|source_partition|source_offset"
for line in open(sys.argv[1], encoding="utf-8"):
    headers, payload = line.rstrip("\n").split("\t", 1)
    # kcat joins headers with ',' and the detail text may hold commas too.
    h = dict(kv.split("=", 1) for kv in re.split(r",(?=(?:%s)=)" % names, headers))
    assert h.get("source_topic") and h.get("source_offset"), h
    got.append((h["reason"], payload))
want = [tuple(l.rstrip("\n").split("\t", 1)) for l in open(sys.argv[2], encoding="utf-8")]
assert got == want, (len(got), len(want), [g for g, w in zip(got, want) if g != w][:3])
PY
WW_CHECKS=$((WW_CHECKS + 1))

clean=$(run_batch clean "$clean_topic")
echo "clean: $clean" >&2
check_eq "clean run readings" "$(field "$clean" readings)" "$N"
python3 - "$mixed" "$clean" >&2 <<'PY'
import json, sys
m, c = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"valid readings/s with 10% malformed: {m['readings']/m['seconds']:.0f}; clean: "
      f"{c['readings']/c['seconds']:.0f}; ratio {m['seconds'] and (m['readings']/m['seconds'])/(c['readings']/c['seconds']):.2f}")
PY
ww_done
