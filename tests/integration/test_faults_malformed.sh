#!/usr/bin/env bash
# Bad input loses nothing and stops nothing: 10 % malformed messages of every
# kind are mixed into a stream of valid readings. Every malformed message must
# reach the dead-letter topic with its reason (and the original bytes), every
# valid one must be scored, and the processor's valid-reading throughput is
# reported beside a clean run of the same valid readings (one pair, for the
# log; bench/bench_malformed.sh measures it with repetitions for
# docs/benchmarks.md; never a pass/fail threshold).
source "$(dirname "$0")/lib.sh"
require_tools kcat python3
require_broker
N=${WW_FAULT_READINGS:-20000}   # tests/faults/run uses 1,000,000
ww_topics malformed
clean_topic="$WW_T_DATA.clean"
WINDWATCH_TOPICS="$clean_topic:3" "$WW_SOURCE_DIR/deploy/kafka/kafka.sh" topics >/dev/null ||
  die "cannot create $clean_topic"

# N valid readings and, after every 9th, a malformed message of one of the
# kinds the decoder knows (10 % of all messages); see gen_malformed.py.
python3 "$(dirname "$0")/gen_malformed.py" "$N" "$WW_TMP/mixed.tsv" "$WW_TMP/clean.tsv" \
  "$WW_TMP/expected.tsv" || die "cannot generate the input"
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
