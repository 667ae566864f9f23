#!/usr/bin/env python3
"""Benchmark results: raw measurements -> JSON -> docs/benchmarks.md.

    report.py collect NAME RAW.tsv META.json   > results/NAME.json
    report.py render RESULTS_DIR               > docs/benchmarks.md

RAW.tsv lines, tab-separated (written by bench/lib.sh):
    m  SERIES_ID  SYSTEM  METRIC  UNIT  VALUE  RSS_KB      one measurement (one repetition)
    note  TEXT                                             a remark for the report
    extra KEY JSON                                         a free-form figure (agreement, counts)
META.json: {"title", "what", "params": {...}, "series": {ID: {"label", "better": "higher"|"lower"}},
            "ratios": [{"num": ID, "den": ID, "goal": X or null, "goal_text": "..."}],
            "goals": [{"series": ID, "min"|"max": X, "text": "...",
                       "unless": ID}]}  (a stand-in: judged only when ID has no values)

Uses the Python standard library only, so the report works without the
baselines' virtual environment.
"""
import json
import os
import statistics
import sys


def collect(name, raw_path, meta_path):
    with open(meta_path) as f:
        meta = json.load(f)
    series, notes, extra = {}, [], {}
    with open(raw_path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "m" and len(parts) >= 7:
                sid, system, metric, unit, value, rss = parts[1:7]
                s = series.setdefault(sid, {"system": system, "metric": metric, "unit": unit,
                                            "values": [], "rss_kb": []})
                s["values"].append(float(value))
                if rss not in ("", "-"):
                    s["rss_kb"].append(int(float(rss)))
            elif parts[0] == "note" and len(parts) >= 2:
                notes.append(parts[1])
            elif parts[0] == "extra" and len(parts) >= 3:
                try:
                    extra[parts[1]] = json.loads(parts[2])
                except ValueError:
                    extra[parts[1]] = parts[2]
    for sid, info in meta.get("series", {}).items():
        if sid in series:
            series[sid].update(info)
    meta.update({"name": name, "series": series, "notes": meta.get("notes", []) + notes,
                 "extra": extra})
    json.dump(meta, sys.stdout, indent=1)
    sys.stdout.write("\n")


def mmm(values):
    if not values:
        return None
    return min(values), statistics.median(values), max(values)


def fmt(x, unit=""):
    if x is None:
        return "n/a"
    if unit in ("ms", "s"):
        return "%.3g" % x if x < 10 else "%.1f" % x
    if abs(x) >= 100:
        return "{:,.0f}".format(x)
    return "%.3g" % x


def fmt_mmm(values, unit=""):
    t = mmm(values)
    if t is None:
        return "n/a"
    return "%s / **%s** / %s" % (fmt(t[0], unit), fmt(t[1], unit), fmt(t[2], unit))


def fmt_mb(rss):
    t = mmm(rss)
    if t is None:
        return "n/a"
    return "%.0f MB" % (t[2] / 1024.0) if t[2] >= 10240 else "%.1f MB" % (t[2] / 1024.0)


def ratio_values(num, den, better):
    """Paired ratios, repetition by repetition, oriented so that > 1 favours num."""
    out = []
    for a, b in zip(num["values"], den["values"]):
        if better == "lower":
            a, b = b, a
        if b > 0:
            out.append(a / b)
    return out


def render_bench(r, summary):
    """Markdown of one benchmark; appends its goal rows to \p summary."""
    title = r.get("title", r["name"])
    lines = ["## %s" % title, ""]
    if r.get("what"):
        lines += [r["what"], ""]
    params = r.get("params") or {}
    if params:
        lines += ["Parameters: " + ", ".join("%s = %s" % (k, v) for k, v in params.items()) + ".", ""]
    series = r.get("series", {})
    if series:
        lines += ["| series | system | metric | min / **median** / max | runs | peak RSS (max) |",
                  "|---|---|---|---|---|---|"]
        for sid, s in series.items():
            lines.append("| %s | %s | %s (%s) | %s | %d | %s |" % (
                s.get("label", sid), s["system"], s["metric"], s["unit"],
                fmt_mmm(s["values"], s["unit"]), len(s["values"]), fmt_mb(s["rss_kb"])))
        lines.append("")
    ratios = r.get("ratios", [])
    rows = []
    for q in ratios:
        num, den = series.get(q["num"]), series.get(q["den"])
        if not num or not den:
            rows.append("| %s vs %s | n/a (a side did not run) | %s | **not measured** |" % (
                q["num"], q["den"], q.get("goal_text", "-")))
            continue
        better = num.get("better", "higher")
        vals = ratio_values(num, den, better)
        t = mmm(vals)
        verdict = "-"
        if q.get("goal") is not None and t is not None:
            verdict = "met" if t[1] >= q["goal"] else "**missed**"
        if q.get("goal") is not None:
            summary.append("| %s | %s vs %s | %s | %s | %s |" % (
                title, num.get("label", q["num"]), den.get("label", q["den"]),
                "n/a" if t is None else "%.2f×" % t[1], q.get("goal_text", "-"),
                verdict if t is not None else "**not measured**"))
        rows.append("| %s vs %s | %s | %s | %s |" % (
            num.get("label", q["num"]), den.get("label", q["den"]),
            "n/a" if t is None else "%.2f× / **%.2f×** / %.2f×" % t, q.get("goal_text", "-"), verdict))
    for g in r.get("goals", []):
        if g.get("unless") and series.get(g["unless"], {}).get("values"):
            continue
        s = series.get(g["series"])
        t = mmm(s["values"]) if s else None
        if t is None:
            rows.append("| %s (absolute) | n/a | %s | **not measured** |" % (g["series"], g["text"]))
            summary.append("| %s | %s | n/a | %s | **not measured** |" % (title, g["series"], g["text"]))
            continue
        ok = (t[1] >= g["min"]) if "min" in g else (t[1] <= g["max"])
        summary.append("| %s | %s | %s %s | %s | %s |" % (
            title, s.get("label", g["series"]), fmt(t[1], s["unit"]), s["unit"], g["text"],
            "met" if ok else "**missed**"))
        rows.append("| %s (absolute) | %s %s (median) | %s | %s |" % (
            s.get("label", g["series"]), fmt(t[1], s["unit"]), s["unit"], g["text"],
            "met" if ok else "**missed**"))
    if rows:
        lines += ["| comparison | ratio min / **median** / max (paired by repetition; > 1 favours windwatch) | goal | verdict |",
                  "|---|---|---|---|"] + rows + [""]
    extra = r.get("extra") or {}
    for k, v in extra.items():
        lines.append("- %s: `%s`" % (k, json.dumps(v, sort_keys=True)))
    if extra:
        lines.append("")
    for n in r.get("notes", []):
        lines.append("- " + n)
    if r.get("notes"):
        lines.append("")
    return lines


ORDER = ["iforest", "producer", "processor", "sink", "api", "e2e", "malformed"]


def render(results_dir):
    def load(name):
        try:
            with open(os.path.join(results_dir, name + ".json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None
    machine = load("machine") or {}
    out = ["# Benchmarks", "",
           "Generated by `make bench` (`bench/run`) from `bench/results/*.json`; do not edit by hand.",
           "Every figure is measured side by side with its baseline in the same run, on the same",
           "machine, with repetitions interleaved (windwatch, baseline, windwatch, ...). Each row",
           "gives min / **median** / max over the repetitions; ratios are computed repetition by",
           "repetition (so a noisy moment hits both sides of one pair) and oriented so that a",
           "ratio above 1 favours windwatch. Peak RSS is the process's `ru_maxrss`. All load goes",
           "to 127.0.0.1. No test asserts a timing: these figures are reported, not enforced.", "",
           "Run it: `make bench` (20 to 30 minutes on 2 cores), `BENCH_QUICK=1 make bench` (a ~3",
           "minute smoke run), `BENCH_ONLY=\"iforest api\" make bench` for a subset; see `bench/run --help`.",
           "The harness: `bench/run` starts its own broker (port 39092), compiles the C helpers in",
           "`bench/` against the build's `libwindwatch.a`, sets up the Python baselines in `bench/.venv`",
           "(PyPI: numpy, scipy, scikit-learn, isotree, pandas, flask) and runs `bench/bench_*.sh`.", ""]
    if machine:
        out += ["## Machine and versions", "", "| item | value |", "|---|---|"]
        for k, v in machine.items():
            if k == "sections measured" and isinstance(v, dict):
                v = ", ".join("%s %s" % (b, d) for b, d in v.items())
            if k != "notes":
                out.append("| %s | %s |" % (k, v))
        out.append("")
        for n in machine.get("notes", []):
            out.append("- " + n)
        if machine.get("notes"):
            out.append("")
    names = ORDER + sorted(n[:-5] for n in os.listdir(results_dir)
                           if n.endswith(".json") and n[:-5] not in ORDER and n != "machine.json")
    summary, body = [], []
    for name in names:
        r = load(name)
        if name not in ORDER and not (isinstance(r, dict) and r.get("name") == name and "series" in r):
            continue  # another tool's file in the results directory, not a benchmark of bench/run
        if r is None:
            body += ["## %s" % name, "", "Not run in this run (see the bench/run log).", ""]
            summary.append("| %s | - | n/a | - | **not run** |" % name)
            continue
        body += render_bench(r, summary)
    summary += detection_glance(load)
    if summary:
        out += ["## Goals at a glance", "",
                "Medians of this run; the sections below give min / median / max and the details.", "",
                "| benchmark | figure | median | goal | verdict |", "|---|---|---|---|---|"] + summary + [""]
    out += body
    out += render_detection(load)
    out += render_soak(load)
    sys.stdout.write("\n".join(out).rstrip() + "\n")


def detection_glance(load):
    """Rows of the goals table for detection quality: medians over the seeds, on mixed
    anomalies and for the weakest type alone."""
    try:
        d = load("detection")
    except Exception:  # a missing or broken file must not hide the benchmarks
        return []
    if not isinstance(d, dict) or not d.get("quality"):
        return []

    def med(vals):
        v = sorted(vals)
        return v[len(v) // 2]

    def row(figure, value, goal):
        return "| Detection quality (simulated data) | %s | %.3f | ≥ %g | %s |" % (
            figure, value, goal, "met" if value >= goal else "**missed**")
    q = d["quality"]
    rows = [row("precision per episode, all types mixed", med([x["precision"] for x in q]), 0.9),
            row("recall per episode, all types mixed", med([x["recall"] for x in q]), 0.95)]
    by_type = d.get("by_type") or {}
    if by_type:
        for key, goal in (("precision", 0.9), ("recall", 0.95)):
            t = min(by_type, key=lambda t: med([x[key] for x in by_type[t]]))
            rows.append(row("%s, weakest type alone (%s)" % (key, t),
                            med([x[key] for x in by_type[t]]), goal))
    return rows


def render_detection(load):
    """Detection quality per seed (bench_detection.sh), min / median / max."""
    d = load("detection")
    if not isinstance(d, dict) or not d.get("quality"):
        return []
    q = d["quality"]

    def mmm(vals):
        v = sorted(vals)
        return "%.3f / **%.3f** / %.3f" % (v[0], v[len(v) // 2], v[-1])
    rows = ["## Detection quality (simulated data with ground truth)", "",
            "windwatch-producer simulates %d readings per run (all five anomaly types, "
            "--anomaly-probability 0.05, one seed per run), windwatch-processor scores them with "
            "its defaults in --mode batch and compares its alerts with the injected episodes. "
            "%d runs; min / median / max. Goals: recall >= 0.95 and precision >= 0.9, for each type." %
            (d["readings"], len(q)), "",
            "| figure | min / median / max | goal |", "|---|---|---|",
            "| precision (alerts that match an episode) | %s | >= 0.9 |" % mmm([x["precision"] for x in q]),
            "| recall (episodes alerted) | %s | >= 0.95 |" % mmm([x["recall"] for x in q]),
            "| F1 | %s | |" % mmm([x["f1"] for x in q])]
    types = sorted({t for x in q for t in x.get("recall_by_type", {})})
    for t in types:
        vals = [x["recall_by_type"][t]["recall"] for x in q if t in x.get("recall_by_type", {})]
        eps = sum(x["recall_by_type"][t]["episodes"] for x in q if t in x.get("recall_by_type", {}))
        rows.append("| recall, %s (%d episodes in all runs) | %s | >= 0.95 |" % (t, eps, mmm(vals)))
    by_type = d.get("by_type") or {}
    if by_type:
        rows += ["", "Each type alone (--anomaly-types TYPE, the same seeds): a false alert belongs "
                 "to no type, so this is where precision per type is measured.", "",
                 "| type | episodes in all runs | precision | recall | false alerts in all runs |",
                 "|---|---|---|---|---|"]
        for t in sorted(by_type):
            qs = by_type[t]
            rows.append("| %s | %d | %s | %s | %d |" % (
                t, sum(x["episodes"] for x in qs), mmm([x["precision"] for x in qs]),
                mmm([x["recall"] for x in qs]), sum(x["alerts"] - x["true_alerts"] for x in qs)))
        rows.append("")
        rows.append("Goals, per type: precision >= 0.9, recall >= 0.95.")
    clean = d.get("clean_alerts") or []
    if clean:
        v = sorted(clean)
        rows += ["", "A clean stream (--anomaly-probability 0, the same seeds), where every alert is "
                 "a false one: %d / **%d** / %d alerts per run of %d readings (min / median / max)." % (
                     v[0], v[len(v) // 2], v[-1], d["readings"])]
    return rows + [""]


def render_soak(load):
    """The last `make soak` (tests/soak/run writes bench/results/soak.json), if any."""
    try:
        s = load("soak")
    except Exception:  # a broken file must not hide the benchmarks
        return []
    if not isinstance(s, dict) or "binaries" not in s:
        return []
    rows = ["## Soak (`make soak`, last run)", "",
            "The whole pipeline at %g readings/s for %d s (%d readings stored); RSS and open file "
            "descriptors of every binary sampled during the run. The first fifth is warm-up; growth "
            "compares the second fifth with the last. This is not a paired benchmark: it shows "
            "whether memory stays flat." % (s["rate"], s["seconds"], s.get("readings_stored", 0)), "",
            "| binary | RSS after warm-up (KiB) | RSS at the end (KiB) | max (KiB) | growth | fds start → end |",
            "|---|---|---|---|---|---|"]
    for b, v in s["binaries"].items():
        rows.append("| %s | %d | %d | %d | %+.1f %% | %d → %d |" % (
            b, v["rss_kib_after_warmup"], v["rss_kib_end"], v["rss_kib_max"], v["growth_pct"],
            v["fds_start"], v["fds_end"]))
    if s["seconds"] < 3600:
        rows += ["", "The goal is one hour at 5k readings/s; this run was shorter (%d s)." % s["seconds"]]
    return rows + [""]


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "collect":
        collect(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 3 and sys.argv[1] == "render":
        render(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
