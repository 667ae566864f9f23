#!/usr/bin/env python3
"""Deterministic sensor-data for processor tests: KEY<TAB>JSON lines on stdout.

gen_readings.py N [--late] [--spike] [--spikes K] [--clean] [--rate R]
  N readings per line (turbine-line-1 and -2), one per second of event time,
  components in turn. --spike adds a ground-truth spike episode on
  turbine-line-1/Blade (temperature +20 C, 3 Blade readings from i=99);
  --spikes K one such episode every K readings (K >= 60), from i=99.
  --late appends one turbine-line-2 reading 30 s behind the newest.
  A malformed message and a NaN reading are appended unless --clean.
  --rate R writes about R lines per second (for a live stream into kcat -P).
"""
import datetime
import json
import random
import sys
import time

n = int(sys.argv[1])
late = "--late" in sys.argv
spike = "--spike" in sys.argv
clean = "--clean" in sys.argv
rate = float(sys.argv[sys.argv.index("--rate") + 1]) if "--rate" in sys.argv else 0.0
every = int(sys.argv[sys.argv.index("--spikes") + 1]) if "--spikes" in sys.argv else 0
if every:
    assert every >= 60, "--spikes K needs K >= 60 (an episode lasts 9 readings and needs a baseline)"
start = time.monotonic()
random.seed(7)
t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
lines = {"turbine-line-1": ["Blade", "Resin Infusion", "Curing Oven"],
         "turbine-line-2": ["Nacelle", "Gearbox", "Generator"]}


def ts(sec):
    return (t0 + datetime.timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def emit(line, rec):
    sys.stdout.write(line + "\t" + json.dumps(rec, separators=(",", ":")) + "\n")


for i in range(n):
    if rate > 0 and i % 50 == 0:
        sys.stdout.flush()
        ahead = start + 2 * i / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    for line, comps in lines.items():
        c = comps[i % 3]
        t, h, s = random.gauss(25, 1), random.gauss(50, 2), random.gauss(65, 1.5)
        inj, ep = None, None
        k = (i - 99) % every if every and i >= 99 else i - 99
        if (spike or every) and line == "turbine-line-1" and c == "Blade" and 0 <= k < 9:
            t += 20
            inj, ep = "spike", 1 + ((i - 99) // every if every else 0)
        emit(line, {"v": 1, "production_line": line, "component_id": c, "timestamp": ts(i),
                    "sequence_number": i, "temperature": round(t, 2), "humidity": round(h, 2),
                    "sound_level": round(s, 2), "injected_anomaly": inj, "episode_id": ep})
if late:
    emit("turbine-line-2", {"v": 1, "production_line": "turbine-line-2", "component_id": "Gearbox",
                            "timestamp": ts(n - 31), "temperature": 25.0, "humidity": 50.0,
                            "sound_level": 65.0})
if clean:
    sys.exit(0)
sys.stdout.write("turbine-line-1\t{not json\n")
sys.stdout.write('turbine-line-1\t{"production_line":"turbine-line-1","component_id":"Blade",'
                 '"timestamp":"2026-01-01T00:00:00Z","temperature":NaN,"humidity":1,"sound_level":50}\n')
