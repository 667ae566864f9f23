#!/usr/bin/env python3
"""Baselines for the Isolation Forest benchmark: scikit-learn and isotree.

    iforest_baseline.py {sklearn|isotree} IN.csv REPS SCORES_OUT [TREES SAMPLES]

Trains on every row of IN.csv (the file bench/iforest_bench.c writes), then
scores every row REPS times on one thread, timing only the scoring call, and
prints one JSON object like iforest_bench's (single_rows_per_s: one call
per row for the first 500 rows, as the original system scored each request). SCORES_OUT receives the scores of
the last repetition, one per line, oriented like windwatch's (higher = more
anomalous): scikit-learn's score_samples() is negated, isotree's "score"
output already is 2^(-E[h]/c(psi)).

Run with OMP_NUM_THREADS=1 and the library thread settings below: the
comparison is per core.
"""
import json
import resource
import sys
import time

import numpy as np


def main():
    impl, path, reps, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    trees = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    samples = int(sys.argv[6]) if len(sys.argv) > 6 else 256
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    X = np.ascontiguousarray(data[:, :3], dtype=np.float64)

    if impl == "sklearn":
        import sklearn
        from sklearn.ensemble import IsolationForest
        version = sklearn.__version__
        model = IsolationForest(n_estimators=trees, max_samples=samples, n_jobs=1,
                                random_state=1)
        t0 = time.perf_counter()
        model.fit(X)
        train_s = time.perf_counter() - t0

        def score():
            return -model.score_samples(X)
    elif impl == "isotree":
        import importlib.metadata
        from isotree import IsolationForest
        version = importlib.metadata.version("isotree")
        # Standard (axis-parallel) Isolation Forest: one feature per split,
        # uniform thresholds, no missing values to handle, depth limit
        # log2(sample_size) as in the paper and sklearn.
        model = IsolationForest(ntrees=trees, sample_size=samples, ndim=1, nthreads=1,
                                missing_action="fail", random_seed=1)
        t0 = time.perf_counter()
        model.fit(X)
        train_s = time.perf_counter() - t0

        def score():
            return model.predict(X)
    else:
        sys.exit("impl must be sklearn or isotree, got %r" % impl)

    # One row per call, as the original system scored each request.
    k = min(500, X.shape[0])
    if impl == "sklearn":
        def score_one(row):
            return model.score_samples(row)
    else:
        def score_one(row):
            return model.predict(row)
    t0 = time.perf_counter()
    for i in range(k):
        score_one(X[i:i + 1])
    single_s = time.perf_counter() - t0

    times = []
    s = None
    for _ in range(reps):
        t0 = time.perf_counter()
        s = score()
        times.append(time.perf_counter() - t0)
    np.savetxt(out_path, s, fmt="%.17g")
    print(json.dumps({
        "impl": impl, "version": version, "rows": int(X.shape[0]), "trees": trees,
        "samples": samples, "train_s": train_s, "score_s": times,
        "best_rows_per_s": X.shape[0] / min(times), "single_rows_per_s": k / single_s,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
