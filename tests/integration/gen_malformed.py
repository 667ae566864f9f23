#!/usr/bin/env python3
"""Write a stream of N valid readings with 10 % malformed messages mixed in.

Usage: gen_malformed.py N MIXED CLEAN EXPECTED

MIXED and CLEAN get key<TAB>value lines (for kcat -P -K'\\t'): N valid readings,
and in MIXED after every 9th one a malformed message of one of the kinds the
decoder knows (so 10 % of all messages). EXPECTED gets reason<TAB>payload of
every malformed message, in order. Used by tests/integration/test_faults_malformed.sh
and bench/bench_malformed.sh.
"""
import datetime, json, random, sys
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
         "timestamp": datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
                      .strftime("%Y-%m-%dT%H:%M:%S.000Z"),
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
