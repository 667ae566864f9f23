#!/usr/bin/env bash
# Isolation Forest scoring: windwatch (libwindwatch, C) vs scikit-learn's
# IsolationForest.score_samples (n_jobs=1) vs isotree (nthreads=1, ndim=1),
# same data file, same hyper-parameters (100 trees, 256 rows per tree), one
# thread each. Each repetition is a fresh process per implementation that
# trains once and scores every row INNER times; its figure is rows / the
# fastest pass. Agreement: ROC AUC against the outlier labels, Spearman rank
# correlation with sklearn's scores.
source "$(dirname "$0")/lib.sh"
bench_begin iforest

ROWS=${BENCH_IFOREST_ROWS:-$([ "${QUICK:-0}" = 1 ] && echo 20000 || echo 100000)}
INNER=3
data=$WORK/iforest.csv
"$HBIN/iforest_bench" gen "$ROWS" 0.02 7 "$data" || die "cannot generate $data"

cat >"$META" <<EOF
{"title": "1. Isolation Forest scoring (one core)",
 "what": "$ROWS rows × 3 features (2 % uniform outliers, the rest normal around the factory's set points), one CSV read by every side. Train on all rows, then score all rows $INNER times in one process; a repetition's figure is rows / fastest pass. windwatch: ww_iforest_score_batch(); scikit-learn: IsolationForest(n_estimators=100, max_samples=256, n_jobs=1).score_samples(X) on the float64 array; isotree: IsolationForest(ntrees=100, sample_size=256, ndim=1, nthreads=1, missing_action='fail').predict(X). OMP/OpenBLAS threads = 1.",
 "params": {"rows": $ROWS, "trees": 100, "samples per tree": 256, "passes per process": $INNER, "repetitions": $REPS},
 "series": {"ww": {"label": "windwatch scoring"}, "sk": {"label": "scikit-learn scoring"},
            "iso": {"label": "isotree scoring"},
            "ww_train": {"label": "windwatch training", "better": "lower"},
            "sk_train": {"label": "scikit-learn training", "better": "lower"},
            "iso_train": {"label": "isotree training", "better": "lower"},
            "ww_1": {"label": "windwatch, one row per call (ww_iforest_score)"},
            "sk_1": {"label": "scikit-learn, one row per call (score_samples)"},
            "iso_1": {"label": "isotree, one row per call (predict)"}},
 "ratios": [{"num": "ww", "den": "sk", "goal": 20, "goal_text": "≥ 20×"},
            {"num": "ww", "den": "iso", "goal": 1, "goal_text": "≥ 1×"},
            {"num": "ww_1", "den": "sk_1", "goal": null, "goal_text": "-"},
            {"num": "ww_1", "den": "iso_1", "goal": null, "goal_text": "-"}]}
EOF

# one_impl SERIES SYSTEM CMD...: run one repetition, record rows/s and training time.
one_impl() {
  local sid=$1 sys=$2 out; shift 2
  if ! out=$("$@" 2>>"$WORK/iforest.log"); then
    note "$sys failed in one repetition (see $WORK/iforest.log)"
    return 0
  fi
  rec "$sid" "$sys" "scoring rate" "rows/s" "$(json_get "$out" best_rows_per_s)" "$(json_get "$out" maxrss_kb)"
  rec "${sid}_train" "$sys" "training time" "s" "$(json_get "$out" train_s)" "$(json_get "$out" maxrss_kb)"
  rec "${sid}_1" "$sys" "one row per call" "rows/s" "$(json_get "$out" single_rows_per_s)" "$(json_get "$out" maxrss_kb)"
  [ "$sid" = ww ] && WW_KERNEL=$(json_get "$out" kernel)
  return 0
}

for r in $(seq 1 "$REPS"); do
  log "repetition $r/$REPS"
  one_impl ww windwatch "$HBIN/iforest_bench" score "$data" "$INNER" "$WORK/if.windwatch.scores"
  if [ -n "${PY:-}" ]; then
    one_impl sk scikit-learn py_baseline "$WW_SRC/bench/iforest_baseline.py" sklearn "$data" "$INNER" "$WORK/if.sklearn.scores"
    one_impl iso isotree py_baseline "$WW_SRC/bench/iforest_baseline.py" isotree "$data" "$INNER" "$WORK/if.isotree.scores"
  fi
done
if [ -z "${PY:-}" ]; then
  note "The Python baselines did not run: the virtual environment bench/.venv could not be set up (see the machine section)."
fi

if [ -n "${PY:-}" ] && [ -s "$WORK/if.sklearn.scores" ]; then
  args=("windwatch=$WORK/if.windwatch.scores" "sklearn=$WORK/if.sklearn.scores")
  [ -s "$WORK/if.isotree.scores" ] && args+=("isotree=$WORK/if.isotree.scores")
  if agree=$(py_baseline "$WW_SRC/bench/iforest_agree.py" "$data" "${args[@]}" 2>>"$WORK/iforest.log"); then
    extra "agreement (ROC AUC vs outlier labels; Spearman rank correlation vs scikit-learn)" "$agree"
  else
    note "agreement could not be computed (see $WORK/iforest.log)"
  fi
fi
[ -n "${WW_KERNEL:-}" ] &&
  note "windwatch's batch kernel on this machine: $WW_KERNEL, the fastest this CPU runs (AVX-512, AVX2 and portable C give the same scores bit for bit; tests/unit/test_iforest.c checks each kernel the CPU has)."
note "Batch scoring is where scikit-learn is strongest: score_samples walks each tree for all rows in compiled code, so its per-row cost is no longer Python's. The one-row-per-call rows show the cost of scoring readings one at a time, as a stream processor or an HTTP handler does (and as the original system did per request)."
note "Peak RSS is the whole process: for the baselines it includes the Python interpreter, numpy and the library itself; for windwatch, the C program with the data set in memory."
bench_end
