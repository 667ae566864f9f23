#!/usr/bin/env python3
"""Agreement of the Isolation Forest scores of one data set.

    iforest_agree.py IN.csv NAME=SCORES [NAME=SCORES ...]

Prints one JSON object: for every implementation, the ROC AUC of its scores
against the data set's outlier labels, and for every one but sklearn, the
Spearman rank correlation of its scores with sklearn's (when sklearn's file is
given). Scores are oriented higher = more anomalous.
"""
import json
import sys

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score


def main():
    labels = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)[:, 3]
    scores = {}
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        scores[name] = np.loadtxt(path)
    out = {"rows": int(labels.size), "outliers": int(labels.sum()), "auc": {}, "spearman_vs_sklearn": {}}
    for name, s in scores.items():
        out["auc"][name] = float(roc_auc_score(labels, s))
        if name != "sklearn" and "sklearn" in scores:
            out["spearman_vs_sklearn"][name] = float(spearmanr(s, scores["sklearn"]).statistic)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
