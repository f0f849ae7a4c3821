#!/usr/bin/python3
"""Reference values for tests/unit/test_metrics.c (common/metrics.c).

Run from the repository root with Debian's python3 (numpy, h5py):

    /usr/bin/python3 tests/reference/make_metrics_fixtures.py

Writes tests/reference/metrics.h5.  scikit-learn is not installed on the
build machines, so every value is computed here from its definition, the
way sklearn defines it:

  confusion[t, p]      number of samples with truth t predicted as p
  precision, recall    tp / predicted, tp / support (0 when the
                       denominator is 0: zero_division=0)
  f1                   2 tp / (2 tp + fp + fn)
  *_macro              mean over classes present in truth or prediction
  auc                  P(score of a positive > score of a negative) with
                       ties counted 1/2, from all positive-negative pairs
                       (an O(n^2) count, independent of the rank-sum code
                       under test); multiclass: one-vs-rest per class and
                       their mean
  r2                   1 - sum (y - p)^2 / sum (y - mean y)^2
  pearson_r            np.corrcoef

Groups: "multiclass" (3 classes, probabilities rounded to 0.05 so that
ties occur), "binary" (2 classes), "regression" (2 outputs with an offset
of 1e6 to test the streaming sums for cancellation).
"""
import os

import h5py
import numpy as np

OUT = os.path.dirname(os.path.abspath(__file__))


def auc_pairs(score, positive):
    s = score.astype(np.float32)
    pos, neg = s[positive], s[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return np.nan
    gt = (pos[:, None] > neg[None, :]).sum()
    eq = (pos[:, None] == neg[None, :]).sum()
    return (gt + 0.5 * eq) / (len(pos) * len(neg))


def classification(g, truth, pred, prob, C):
    conf = np.zeros((C, C), np.int64)
    np.add.at(conf, (truth, pred), 1)
    tp = np.diag(conf).astype(float)
    support = conf.sum(1)
    predicted = conf.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        den = 2 * tp + (predicted - tp) + (support - tp)
        f1 = np.where(den > 0, 2 * tp / den, 0.0)
    present = (support + predicted) > 0
    g["truth"] = truth.astype(np.int64)
    g["pred"] = pred.astype(np.int64)
    g["prob"] = prob.astype(np.float32)
    g["confusion"] = conf
    g["precision"] = precision
    g["recall"] = recall
    g["f1"] = f1
    g["macro"] = np.array([precision[present].mean(), recall[present].mean(),
                           f1[present].mean()])
    g["accuracy"] = np.array(np.mean(truth == pred))
    if C == 2:
        g["auc"] = np.array(auc_pairs(prob[:, 1], truth == 1))
    else:
        per = np.array([auc_pairs(prob[:, c], truth == c) for c in range(C)])
        g["auc_class"] = per
        g["auc"] = np.array(np.nanmean(per))


def main():
    rs = np.random.RandomState(20240611)
    with h5py.File(os.path.join(OUT, "metrics.h5"), "w") as f:
        # 3 classes; class 2 is rare.  Noisy scores that favour the truth.
        n, C = 300, 3
        truth = rs.choice(C, size=n, p=[0.5, 0.4, 0.1])
        logits = rs.randn(n, C) + 1.2 * np.eye(C)[truth]
        prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        prob = (np.round(prob / 0.05) * 0.05).astype(np.float32)
        pred = prob.argmax(1)  # first maximum, as quanta does
        classification(f.create_group("multiclass"), truth, pred, prob, C)

        n = 257
        truth = (rs.rand(n) < 0.3).astype(np.int64)
        p1 = np.clip(0.5 + 0.25 * (2 * truth - 1) + 0.3 * rs.randn(n), 0, 1)
        p1 = np.round(p1, 2).astype(np.float32)
        prob = np.stack([1 - p1, p1], 1).astype(np.float32)
        pred = (p1 > 0.5).astype(np.int64)
        classification(f.create_group("binary"), truth, pred, prob, 2)

        n, k = 1000, 2
        y = 1e6 + rs.randn(n, k) * np.array([1.0, 3.0])
        p = y + rs.randn(n, k) * np.array([0.3, 2.0]) + np.array([0.1, -0.2])
        g = f.create_group("regression")
        g["y"] = y
        g["p"] = p
        g["mse"] = ((y - p) ** 2).mean(0)
        g["mae"] = np.abs(y - p).mean(0)
        g["r2"] = 1 - ((y - p) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
        g["pearson_r"] = np.array([np.corrcoef(y[:, j], p[:, j])[0, 1]
                                   for j in range(k)])


if __name__ == "__main__":
    main()
