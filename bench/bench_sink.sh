#!/usr/bin/env bash
# Sink throughput: windwatch-sink --mode batch over the processor's output
# topics (N scored readings plus their window stats, alerts and models) into
# a fresh SQLite file, vs bench/sqlite_ceiling.c inserting the same scored
# readings (decoded beforehand, untimed) with prepared INSERTs of 100 rows (as
# the sink) and a transaction per 5000 rows, into the same schema with the
# same pragmas.
# Uses the topics bench_processor.sh left in $WORK/scored.env, or makes its own.
source "$(dirname "$0")/lib.sh"
bench_begin sink

N=${BENCH_SINK_N:-$([ "${QUICK:-0}" = 1 ] && echo 100000 || echo 1000000)}
SCORED_PREFIX=""
if [ -f "$WORK/scored.env" ]; then
  # shellcheck disable=SC1091
  source "$WORK/scored.env"
  N=$(kcat_count "$SCORED_PREFIX.sensor-scored")
else
  SCORED_PREFIX=bs$$
  topics "$(topic_specs "$SCORED_PREFIX")"
  log "no processor output to reuse: producing and processing $N readings"
  # shellcheck disable=SC2046
  "$WW_BIN/windwatch-producer" -b "$BROKERS" $(topic_flags "$SCORED_PREFIX") --count "$N" --rate 0 \
    --seed 42 --start-time 2026-01-01T00:00:00Z --stats-interval 0 -q >/dev/null 2>>"$WORK/sink.log" ||
    die "cannot produce the input readings"
  # shellcheck disable=SC2046
  "$WW_BIN/windwatch-processor" -b "$BROKERS" $(topic_flags "$SCORED_PREFIX") --group "$SCORED_PREFIX-p" \
    --mode batch --from-beginning --stats-interval 0 -q >/dev/null 2>>"$WORK/sink.log" ||
    die "the processor failed to score the input readings"
  N=$(kcat_count "$SCORED_PREFIX.sensor-scored")
fi
[ "$N" -gt 0 ] || die "no scored readings in $SCORED_PREFIX.sensor-scored"
others=0
for t in window-stats alerts models; do others=$((others + $(kcat_count "$SCORED_PREFIX.$t"))); done

batch=5000
cat >"$META" <<EOF
{"title": "4. Sink into SQLite",
 "what": "windwatch-sink --mode batch (consume read_committed, decode, insert readings, one-minute rollups, window stats, alerts and models, Kafka offsets in the same transaction; --batch-size $batch) over $N scored readings and $others other messages into a fresh database, vs a plain C loop (bench/sqlite_ceiling.c) inserting the same $N readings into sensor_readings with prepared INSERTs of 100 rows each, as the sink does, a transaction per $batch rows, the same schema and pragmas (ww_db_open_rw: WAL, synchronous=NORMAL), rows decoded into memory beforehand and only the insert loop timed — SQLite's ceiling on this machine. windwatch's rate = readings / process wall time (Kafka start-up and group join included).",
 "params": {"scored readings": $N, "other messages": $others, "batch": $batch, "repetitions": $REPS},
 "series": {"ww": {"label": "windwatch-sink"},
            "ww_self": {"label": "windwatch-sink, own figure (rows_per_s of its summary: first message to the end)"},
            "ceil": {"label": "plain SQLite insert loop (ceiling)"}},
 "ratios": [{"num": "ww", "den": "ceil", "goal": null, "goal_text": "(ceiling: ≤ 1× expected)"}],
 "goals": [{"series": "ww", "min": 150000, "text": "≥ 150,000 rows/s"}]}
EOF

dump=$WORK/sink.scored.jsonl
kcat -b "$BROKERS" -C -t "$SCORED_PREFIX.sensor-scored" -e -q -X isolation.level=read_committed \
  >"$dump" 2>>"$WORK/sink.log" || die "cannot dump the scored readings"

for r in $(seq 1 "$REPS"); do
  log "repetition $r/$REPS"
  db=$WORK/sink.$r.db
  rm -f "$db" "$db-wal" "$db-shm"
  # shellcheck disable=SC2046
  timed "$WW_BIN/windwatch-sink" -b "$BROKERS" $(topic_flags "$SCORED_PREFIX") --group "bs$$-$r" \
    --mode batch --db "$db" --batch-size "$batch" --retention 0 --rollup-retention 0 --stats-interval 0 -q \
    >"$WORK/sink.$r.out" 2>>"$WORK/sink.log"
  got=$(sqlite3 "$db" 'SELECT count(*) FROM sensor_readings' 2>/dev/null || echo 0)
  if [ "$T_RC" = 0 ] && [ "$got" = "$N" ]; then
    rec ww windwatch "insert rate" "rows/s" "$(rate "$N" "$T_WALL")" "$T_RSS"
    self=$(json_get "$(tail -n 1 "$WORK/sink.$r.out")" rows_per_s)
    [ -n "$self" ] && rec ww_self windwatch "insert rate" "rows/s" "$self"
    [ "$r" = 1 ] && cp "$db" "$WORK/sink.keep.db"
  else
    note "windwatch-sink repetition $r: exit $T_RC, $got of $N rows stored; not counted"
  fi
  rm -f "$db" "$db-wal" "$db-shm"
  cdb=$WORK/ceiling.$r.db
  rm -f "$cdb" "$cdb-wal" "$cdb-shm"
  if out=$("$HBIN/sqlite_ceiling" insert "$cdb" "$dump" "$batch" 2>>"$WORK/sink.log"); then
    rec ceil "SQLite $(sqlite3 --version | cut -d' ' -f1)" "insert rate" "rows/s" \
      "$(json_get "$out" rows_per_s)" "$(json_get "$out" maxrss_kb)"
  else
    note "plain SQLite loop repetition $r failed (see $WORK/sink.log)"
  fi
  rm -f "$cdb" "$cdb-wal" "$cdb-shm"
done
note "The ceiling's peak RSS includes every decoded row held in memory; windwatch-sink streams."
note "--retention 0 --rollup-retention 0 for the sink: the readings have fixed 2026-01-01 event times, which the default 24 h (readings) and 30 d (rollups) retention would start deleting."
bench_end
