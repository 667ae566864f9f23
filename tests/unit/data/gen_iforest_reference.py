#!/usr/bin/env python3
"""Regenerate iforest_reference.csv: a fixed data set and scikit-learn's scores.

Needs numpy and scikit-learn (a virtual environment is enough):
  python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy scikit-learn
  /tmp/venv/bin/python tests/unit/data/gen_iforest_reference.py > tests/unit/data/iforest_reference.csv
test_iforest.c trains windwatch's forest on the same rows and compares the
rankings (Spearman) and the ROC AUC against the planted outliers.
"""
import sys

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest

rng = np.random.default_rng(20261125)
# Two correlated clusters, like two machines' (temperature, humidity, sound).
cov = [[1.0, -0.6, 0.3], [-0.6, 4.0, 0.0], [0.3, 0.0, 2.25]]
a = rng.multivariate_normal([25, 50, 65], cov, size=700)
b = rng.multivariate_normal([32, 42, 70], cov, size=300)
# Planted outliers: far in one sensor, or off the correlation in several.
o1 = rng.multivariate_normal([25, 50, 65], cov, size=20)
o1[np.arange(20), rng.integers(0, 3, 20)] += rng.choice([-1, 1], 20) * rng.uniform(6, 12, 20)
o2 = rng.uniform([15, 30, 55], [40, 70, 80], size=(20, 3))
X = np.vstack([a, b, o1, o2]).round(2)
y = np.r_[np.zeros(1000, int), np.ones(40, int)]
clf = IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(X)
s = -clf.score_samples(X)
out = sys.stdout
out.write(f"# scikit-learn {sklearn.__version__} IsolationForest(n_estimators=100, "
          "max_samples=256, random_state=0); score = -score_samples(X)\n")
out.write("x1,x2,x3,outlier,sklearn_score\n")
for row, lab, sc in zip(X, y, s):
    out.write(f"{row[0]:.2f},{row[1]:.2f},{row[2]:.2f},{lab},{sc:.6f}\n")
