#!/usr/bin/env bash
# test_ops_metrics.sh: the operations kit matches what the binaries really export.
# Runs a small live pipeline (producer -> processor -> sink -> api) on the test broker
# with --metrics-listen on free ports, scrapes every /metrics endpoint and checks:
#  - every line is valid Prometheus text format (HELP/TYPE comments, name{labels} value);
#  - every metric family has a TYPE, histograms have le buckets ending in +Inf, _sum, _count;
#  - every metric named in a query of deploy/grafana/windwatch-dashboard.json is exported
#    with at least one sample;
#  - every metric in docs/operations.md's metric tables is exported with the documented
#    type, and every exported family is documented there (so the doc cannot go stale);
#  - every target of deploy/prometheus/prometheus.yml names a /metrics path;
#  - --log-format json writes one JSON object per stderr line.
source "$(dirname "$0")/lib.sh"
require_broker
require_tools curl python3

WW_PARTITIONS=3 ww_topics ops
P_PROD=$(free_port); P_PROC=$(free_port); P_SINK=$(free_port); P_API=$(free_port)
DB="$WW_TMP/ww.db"

# Short time windows and a small training set so windows close and models train in seconds.
start_bg sink "$WW_BIN_DIR/windwatch-sink" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
  --group "ops-sink-$$" --db "$DB" --metrics-listen "127.0.0.1:$P_SINK" --stats-interval 2s
start_bg proc "$WW_BIN_DIR/windwatch-processor" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
  --group "ops-proc-$$" --metrics-listen "127.0.0.1:$P_PROC" --window-size 2 --train-size 100 \
  --stats-interval 2s
start_bg prod "$WW_BIN_DIR/windwatch-producer" --brokers "$WW_BROKERS" "${WW_TOPIC_FLAGS[@]}" \
  --rate 200 --anomaly-probability 0.05 --seed 7 --metrics-listen "127.0.0.1:$P_PROD" \
  --stats-interval 2s --log-format json

wait_until 60 "the sink to create $DB" test -s "$DB"
start_bg api "$WW_BIN_DIR/windwatch-api" --db "$DB" --listen "127.0.0.1:$P_API" --threads 2

api_ok() { curl -sf -o /dev/null "http://127.0.0.1:$P_API/api/health"; }
wait_until 60 "the api to answer /api/health" api_ok

# A malformed and an incomplete reading give the dead-letter counters samples with reasons.
printf 'turbine-line-1\tnot json\nturbine-line-1\t{"v":1}\n' |
  kcat -b "$WW_BROKERS" -P -t "$WW_T_DATA" -K $'\t' || die "cannot produce to $WW_T_DATA"

metric_value() { # PORT NAME-WITH-LABELS: the value of one sample line, empty if absent
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2; exit }'
}
positive() { local v; v=$(metric_value "$1" "$2"); [ -n "$v" ] && awk -v v="$v" 'BEGIN { exit !(v > 0) }'; }
wait_until 90 "readings stored by the sink" positive "$P_SINK" 'windwatch_sink_rows_total{table="sensor_readings"}'
wait_until 90 "a window closed" positive "$P_PROC" windwatch_processor_windows_total
wait_until 90 "dead letters stored" positive "$P_SINK" 'windwatch_sink_rows_total{table="dead_letters"}'
# --train-size 100: each line's first model is announced, then trained within seconds.
wait_until 90 "a model for turbine-line-1" positive "$P_PROC" 'windwatch_processor_model_version{line="turbine-line-1"}'
check_eq "first model's training readings all gathered" \
  "$(metric_value "$P_PROC" 'windwatch_processor_model_training_ratio{line="turbine-line-1"}')" 1
check_contains "the processor says how long a line goes without a model" "$(cat "$WW_TMP/proc.log")" \
  "MODEL: turbine-line-1: no model yet: z-scores and thresholds alone judge its readings until the first version is trained on 100 of them"

# Touch the api's routes so its per-route series have samples.
for u in /api/health /api/current-status /api/production-lines /api/sensor-history/temperature \
  /api/thresholds /api/data-samples /api/database-stats /api/alerts /api/windows /api/models \
  /api/lines/turbine-line-1 /export-csv /; do
  curl -s -o /dev/null "http://127.0.0.1:$P_API$u" || fail "GET $u did not answer"
done
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"production_line":"turbine-line-1","temperature":25,"humidity":40,"sound_level":60}' \
  "http://127.0.0.1:$P_API/api/predict" || fail "POST /api/predict did not answer"

for pair in producer:$P_PROD processor:$P_PROC sink:$P_SINK api:$P_API; do
  name=${pair%%:*}; port=${pair#*:}
  code=$(curl -s -o "$WW_TMP/metrics.$name" -w '%{http_code}' "http://127.0.0.1:$port/metrics")
  check_eq "GET /metrics of windwatch-$name" "$code" 200
done

python3 - "$WW_TMP" "$WW_SOURCE_DIR" >"$WW_TMP/check.out" 2>&1 <<'PY'
import json, os, re, sys

tmp, src = sys.argv[1], sys.argv[2]
fails = []
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE = re.compile(r'^(' + NAME + r')(\{(?:' + LABEL + r')(?:,' + LABEL + r')*,?\})? '
                    r'([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))( -?[0-9]+)?$')
HELP = re.compile(r'^# HELP (' + NAME + r') .+$')
TYPE = re.compile(r'^# TYPE (' + NAME + r') (counter|gauge|histogram|summary|untyped)$')

types = {}      # family -> type, over every binary
samples = {}    # family -> number of sample lines
owner = {}      # family -> binary
for b in ('producer', 'processor', 'sink', 'api'):
    text = open(os.path.join(tmp, 'metrics.' + b)).read()
    if not text.endswith('\n'):
        fails.append(f'{b}: /metrics does not end with a newline')
    fam_types, buckets = {}, {}
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith('# HELP '):
            if not HELP.match(line):
                fails.append(f'{b} line {n}: bad HELP: {line!r}')
            continue
        if line.startswith('# TYPE '):
            m = TYPE.match(line)
            if not m:
                fails.append(f'{b} line {n}: bad TYPE: {line!r}')
            elif m.group(1) in types:
                fails.append(f'{b} line {n}: family {m.group(1)} also exported by {owner[m.group(1)]}')
            else:
                fam_types[m.group(1)] = m.group(2)
                types[m.group(1)] = m.group(2)
                owner[m.group(1)] = b
                samples[m.group(1)] = 0
            continue
        if line.startswith('#') or line == '':
            continue
        m = SAMPLE.match(line)
        if not m:
            fails.append(f'{b} line {n}: not Prometheus text format: {line!r}')
            continue
        name, labels = m.group(1), m.group(2) or ''
        fam = name
        for suffix in ('_bucket', '_sum', '_count'):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and fam_types.get(base) in ('histogram', 'summary'):
                fam = base
        if fam not in fam_types:
            fails.append(f'{b} line {n}: sample {name} has no # TYPE before it')
            continue
        samples[fam] += 1
        if fam_types[fam] == 'histogram' and name.endswith('_bucket'):
            if 'le="' not in labels:
                fails.append(f'{b} line {n}: histogram bucket without le: {line!r}')
            series = re.sub(r',?le="[^"]*"', '', labels)
            buckets.setdefault((fam, series), []).append('le="+Inf"' in labels)
    for (fam, series), infs in buckets.items():
        if not infs[-1]:
            fails.append(f'{b}: histogram {fam}{series} does not end with le="+Inf"')
    for fam, t in fam_types.items():
        if t == 'histogram' and samples[fam] and \
                not re.search('^' + re.escape(fam) + r'_count[{ ]', text, re.M):
            fails.append(f'{b}: histogram {fam} has no _count')
    print(f'{b}: {len(fam_types)} metric families, {sum(samples[f] for f in fam_types)} samples')

def family(name):
    for suffix in ('_bucket', '_sum', '_count'):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) in ('histogram', 'summary'):
            return name[:-len(suffix)]
    return name

# The dashboard: well-formed JSON, a Prometheus datasource variable, every queried metric exported.
dash = json.load(open(os.path.join(src, 'deploy/grafana/windwatch-dashboard.json')))
exprs = []
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == 'expr' and isinstance(v, str):
                exprs.append(v)
            else:
                walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(dash.get('panels', []))
if not any(v.get('type') == 'datasource' and v.get('query') == 'prometheus'
           for v in dash.get('templating', {}).get('list', [])):
    fails.append('dashboard: no Prometheus datasource variable in templating.list')
dash_names = set()
for e in exprs:
    dash_names.update(re.findall(r'\b((?:windwatch|ww)_[a-zA-Z0-9_:]+)', e))
for n in sorted(dash_names):
    f = family(n)
    if f not in types:
        fails.append(f'dashboard queries {n}, which no binary exports')
    elif samples[f] == 0:
        fails.append(f'dashboard queries {n}, exported without any sample')
print(f'dashboard: {len(exprs)} queries naming {len(dash_names)} metrics')

# docs/operations.md: rows "| `name` | type | ..." of the metric tables.
doc_types = {}
for line in open(os.path.join(src, 'docs/operations.md')):
    m = re.match(r'^\| `((?:windwatch|ww)_[a-zA-Z0-9_:]+)` \| (\w+) \|', line)
    if m:
        doc_types[m.group(1)] = m.group(2)
for n, t in sorted(doc_types.items()):
    if n not in types:
        fails.append(f'docs/operations.md documents {n}, which no binary exports')
    elif types[n] != t:
        fails.append(f'docs/operations.md says {n} is a {t}, the binary exports a {types[n]}')
for n in sorted(types):
    if n not in doc_types:
        fails.append(f'{owner[n]} exports {n}, missing from docs/operations.md')
print(f'docs: {len(doc_types)} metrics documented')

# The Prometheus example scrapes /metrics of four jobs.
prom = open(os.path.join(src, 'deploy/prometheus/prometheus.yml')).read()
for job in ('windwatch-producer', 'windwatch-processor', 'windwatch-sink', 'windwatch-api'):
    if f'job_name: {job}' not in prom:
        fails.append(f'deploy/prometheus/prometheus.yml has no job {job}')

for f in fails:
    print('FAIL: ' + f)
print(f'names {len(dash_names)} {len(doc_types)} failures {len(fails)}')
PY
cat "$WW_TMP/check.out" >&2
summary=$(tail -n 1 "$WW_TMP/check.out")
read -r _ n_dash n_doc _ n_fail <<<"$summary"
check_eq "metrics format/dashboard/doc failures" "${n_fail:-missing}" 0
check_ge "metrics queried by the dashboard" "${n_dash:-0}" 15
check_ge "metrics documented in docs/operations.md" "${n_doc:-0}" 30

# --log-format json: every stderr line of the producer is one JSON object with these keys.
json_bad=$(python3 -c '
import json, sys
bad = 0
lines = [l for l in open(sys.argv[1]) if l.strip()]
for l in lines:
    try:
        o = json.loads(l)
        bad += not all(k in o for k in ("ts", "level", "prog", "facility", "msg"))
    except ValueError:
        bad += 1
print(bad if lines else "no lines")
' "$WW_TMP/prod.log")
check_eq "producer --log-format json lines that are not JSON log records" "$json_bad" 0

ww_done
