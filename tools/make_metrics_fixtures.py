#!/usr/bin/python3
"""Generates tests/fixtures/metrics_sklearn.safetensors: scikit-learn reference
values for galen's eval/metrics.h, replayed by tests/eval/test_metrics.cpp.

Run with Debian's python and scikit-learn (python3-sklearn, no pip packages):
    /usr/bin/python3 tools/make_metrics_fixtures.py [output-path]

Each case <case> (f64 tensors):
  <case>.scores, <case>.labels          the inputs
  <case>.roc_fpr/.roc_tpr/.roc_thr      roc_curve (drop_intermediate=True); thr[0] is
                                        written as +inf (sklearn >= 1.3; 1.2 writes max + 1)
  <case>.rocf_fpr/.rocf_tpr/.rocf_thr   roc_curve(drop_intermediate=False)
  <case>.pr_p/.pr_r/.pr_thr             precision_recall_curve
  <case>.summary  [roc_auc_score, average_precision_score, auc(recall, precision),
                   youden threshold, youden J, sens@t, spec@t, ppv@t, npv@t, acc@t, f1@t]
                   at t = metadata "threshold" (sens/spec/... by sklearn's recall_score,
                   precision_score, accuracy_score, f1_score on score >= t; npv and
                   specificity as recall/precision of the negative class)
  <case>.cm       confusion_matrix(labels, score >= t).ravel() = [tn, fp, fn, tp]
  <case>.cal<b>_true/_pred/_count/_ece  calibration_curve(n_bins=b, 'uniform') on the
                   case's probabilities (scores squashed by a logistic), the bin counts and
                   ECE = sum count/N |pred - true|  (only for cases with "calibration")
  __metadata__["<case>"] = JSON {"threshold": t, "calibration": [bins...]}
"""

import json
import math
import os
import sys

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, auc, average_precision_score, confusion_matrix, f1_score,
                             precision_recall_curve, precision_score, recall_score, roc_auc_score, roc_curve)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from make_fixtures import write_safetensors  # noqa: E402

rng = np.random.default_rng(20240611)
TENSORS, META = {}, {}


def t(a):
    return torch.tensor(np.array(a, dtype=np.float64))


def add_case(name, scores, labels, threshold, calibration=()):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    TENSORS[f"{name}.scores"] = t(scores)
    TENSORS[f"{name}.labels"] = t(labels)
    for tag, drop in (("roc", True), ("rocf", False)):
        fpr, tpr, thr = roc_curve(labels, scores, drop_intermediate=drop)
        thr = thr.copy()
        thr[0] = math.inf
        TENSORS[f"{name}.{tag}_fpr"] = t(fpr)
        TENSORS[f"{name}.{tag}_tpr"] = t(tpr)
        TENSORS[f"{name}.{tag}_thr"] = t(thr)
    p, r, thr = precision_recall_curve(labels, scores)
    TENSORS[f"{name}.pr_p"] = t(p)
    TENSORS[f"{name}.pr_r"] = t(r)
    TENSORS[f"{name}.pr_thr"] = t(thr)
    fpr, tpr, thr = roc_curve(labels, scores, drop_intermediate=False)
    j = tpr - fpr
    best = int(np.argmax(j))
    pred = (scores >= threshold).astype(np.int64)
    zd = dict(zero_division=0)
    summary = [roc_auc_score(labels, scores), average_precision_score(labels, scores), auc(r, p),
               thr[best] if best > 0 else math.inf, j[best],
               recall_score(labels, pred, **zd), recall_score(labels, pred, pos_label=0, **zd),
               precision_score(labels, pred, **zd), precision_score(labels, pred, pos_label=0, **zd),
               accuracy_score(labels, pred), f1_score(labels, pred, **zd)]
    TENSORS[f"{name}.summary"] = t(summary)
    TENSORS[f"{name}.cm"] = t(confusion_matrix(labels, pred, labels=[0, 1]).ravel())
    probs = 1.0 / (1.0 + np.exp(-scores))
    for b in calibration:
        prob_true, prob_pred = calibration_curve(labels, probs, n_bins=b, strategy="uniform")
        bins = np.linspace(0.0, 1.0, b + 1)
        binids = np.searchsorted(bins[1:-1], probs)
        counts = np.bincount(binids, minlength=b)
        counts = counts[counts != 0]
        ece = float(np.sum(counts / len(probs) * np.abs(prob_pred - prob_true)))
        TENSORS[f"{name}.cal{b}_true"] = t(prob_true)
        TENSORS[f"{name}.cal{b}_pred"] = t(prob_pred)
        TENSORS[f"{name}.cal{b}_count"] = t(counts)
        TENSORS[f"{name}.cal{b}_ece"] = t([ece])
    if calibration:
        TENSORS[f"{name}.probs"] = t(probs)
    META[name] = json.dumps(dict(threshold=threshold, calibration=list(calibration)), sort_keys=True,
                            separators=(",", ":"))


# Random continuous scores, weakly informative.
n = 300
y = rng.integers(0, 2, n)
add_case("random", rng.normal(size=n) + 0.8 * y, y, 0.3, calibration=(5, 10, 15))
# Heavy ties: scores rounded to a few levels, so many thresholds hold both classes.
n = 200
y = rng.integers(0, 2, n)
add_case("tied", np.round(rng.normal(size=n) + y, 0) / 2.0, y, 0.5, calibration=(10,))
# Real-ish: imbalanced (10% prevalence) risk scores from a logistic model of two features,
# with probabilities on bin edges (0.2, 0.4, ...) to exercise calibration's edge rule.
n = 500
x = rng.normal(size=(n, 2))
logit = -2.4 + 1.3 * x[:, 0] - 0.7 * x[:, 1]
y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
s = logit + 0.3 * rng.normal(size=n)
edge_logits = np.log(np.array([0.2, 0.4, 0.6, 0.8]) / (1 - np.array([0.2, 0.4, 0.6, 0.8])))
s[:4] = edge_logits
add_case("imbalanced", s, y, -1.0, calibration=(5, 10))
# Small hand-checkable cases.
add_case("small", [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.35)
add_case("all_tied", [0.5] * 6, [0, 1, 0, 1, 1, 0], 0.5)
add_case("perfect", [0.1, 0.2, 0.7, 0.9, 0.95], [0, 0, 1, 1, 1], 0.5)
add_case("inverted", [0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1], 0.5)

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures",
                                                         "metrics_sklearn.safetensors")
write_safetensors(out, TENSORS, META)
print(f"wrote {len(META)} cases, {len(TENSORS)} tensors to {out}")
