// Binary-classification metrics for medical models: ROC / PR curves and their
// areas, threshold metrics (sensitivity, specificity, PPV, NPV, accuracy, F1,
// confusion matrix), the Youden-optimal threshold, percentile bootstrap
// confidence intervals, calibration (ECE, reliability curve) and multi-label
// AUROC. Definitions follow scikit-learn (roc_curve, roc_auc_score,
// precision_recall_curve, average_precision_score, auc, calibration_curve);
// tests/eval/test_metrics.cpp compares against it to 1e-12.
//
// Inputs are scores (any real numbers; probabilities for calibration) and
// binary labels (0 / 1). A sample counts as predicted positive when
// score >= threshold (scikit-learn's convention for curve thresholds).
// Empty or mismatched inputs, NaN / infinite scores, labels other than 0 / 1,
// and curves asked of one-class data throw galen::Error saying which.
// Threshold metrics whose denominator is zero (e.g. PPV with no predicted
// positives) are NaN rather than an arbitrary 0.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::eval {

// ---- conversion from tensors ------------------------------------------------------------------
// A tensor of scores (any floating / integer dtype, any device, any shape: flattened) as doubles.
std::vector<double> to_scores(const Tensor& scores);
// A tensor of labels (bool / integer / floating holding exactly 0 or 1) as ints; Error otherwise.
std::vector<int> to_labels(const Tensor& labels);

// ---- curves and areas ---------------------------------------------------------------------------
// One point per distinct score, thresholds decreasing; thresholds[0] = +inf
// for the (0, 0) start (scikit-learn >= 1.3; 1.2 writes max + 1 there).
// drop_intermediate removes collinear points exactly as scikit-learn does.
struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;
};
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& labels, bool drop_intermediate = true);
// Area under the ROC curve: the trapezoid over distinct thresholds, computed in
// integer counts, so tied scores count one half (= roc_auc_score = the
// Mann-Whitney U / (P N)). Needs both classes.
double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels);
double roc_auc(const Tensor& scores, const Tensor& labels);

// precision_recall_curve's layout: thresholds increasing (one per distinct
// score), precision / recall one longer with the final point (1, 0) that has
// no threshold. Needs at least one positive.
struct PrCurve {
  std::vector<double> precision, recall, thresholds;
};
PrCurve pr_curve(const std::vector<double>& scores, const std::vector<int>& labels);
// average_precision_score: sum over thresholds of (R_k - R_{k-1}) P_k.
double average_precision(const std::vector<double>& scores, const std::vector<int>& labels);
double average_precision(const Tensor& scores, const Tensor& labels);
// The trapezoidal area under the PR curve above (sklearn.metrics.auc(recall, precision)).
double pr_auc(const std::vector<double>& scores, const std::vector<int>& labels);
// Trapezoidal area under y(x) for monotone x (either direction; decreasing x gives a positive area, as sklearn.auc).
double trapezoid_auc(const std::vector<double>& x, const std::vector<double>& y);

// ---- threshold metrics --------------------------------------------------------------------------
struct ConfusionMatrix {
  int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  int64_t total() const { return tp + fp + tn + fn; }
  double sensitivity() const;  // tp / (tp + fn), recall, TPR
  double specificity() const;  // tn / (tn + fp), TNR
  double ppv() const;          // tp / (tp + fp), precision
  double npv() const;          // tn / (tn + fn)
  double accuracy() const;     // (tp + tn) / total
  double f1() const;           // 2 tp / (2 tp + fp + fn)
};
// Predicted positive when score >= threshold. One-class data is allowed here.
ConfusionMatrix confusion_matrix(const std::vector<double>& scores, const std::vector<int>& labels, double threshold);

struct ThresholdMetrics {
  double threshold = 0;
  ConfusionMatrix cm;
  double sensitivity = 0, specificity = 0, ppv = 0, npv = 0, accuracy = 0, f1 = 0;
};
ThresholdMetrics threshold_metrics(const std::vector<double>& scores, const std::vector<int>& labels,
                                   double threshold);

// The ROC threshold (from the full curve, highest first on ties) maximising
// J = sensitivity + specificity - 1.
struct YoudenPoint {
  double threshold = 0, sensitivity = 0, specificity = 0, j = 0;
};
YoudenPoint youden_threshold(const std::vector<double>& scores, const std::vector<int>& labels);

// ---- bootstrap --------------------------------------------------------------------------------
using Metric = std::function<double(const std::vector<double>& scores, const std::vector<int>& labels)>;
struct BootstrapOptions {
  int64_t resamples = 1000;
  double confidence = 0.95;
  uint64_t seed = 0;
};
struct BootstrapCI {
  double estimate = 0;       // the metric on the full data
  double lower = 0, upper = 0;
  int64_t used = 0;          // resamples that gave a value
  int64_t skipped = 0;       // resamples holding a single class (not evaluated)
  std::vector<double> values;  // the metric on each used resample, in draw order
};
// Percentile bootstrap: `resamples` draws of n samples with replacement from
// a Philox stream keyed by `seed` (same seed, same draws); a draw holding one
// class only is skipped and counted; lower / upper are numpy-style linearly
// interpolated percentiles (1 -/+ confidence) / 2 of the values. A NaN value
// from the metric is skipped and counted too. Error when no resample is usable.
BootstrapCI bootstrap_ci(const std::vector<double>& scores, const std::vector<int>& labels, const Metric& metric,
                         const BootstrapOptions& options = {});
// numpy.percentile(values, q) with linear interpolation, q in [0, 100].
double percentile(std::vector<double> values, double q);

// ---- calibration ------------------------------------------------------------------------------
// Equal-width bins over [0, 1] with numpy's edges i / n_bins; a probability
// on an interior edge goes to the lower bin (calibration_curve's searchsorted).
// Only non-empty bins are listed (as calibration_curve does); `bin` says which.
struct ReliabilityCurve {
  std::vector<int64_t> bin;
  std::vector<double> mean_predicted;     // calibration_curve's prob_pred
  std::vector<double> fraction_positive;  // calibration_curve's prob_true
  std::vector<int64_t> count;
};
// Probabilities must lie in [0, 1].
ReliabilityCurve reliability_curve(const std::vector<double>& probs, const std::vector<int>& labels, int n_bins = 10);
// Expected calibration error: sum over bins of count / N * |mean_predicted - fraction_positive|.
double expected_calibration_error(const std::vector<double>& probs, const std::vector<int>& labels,
                                  int n_bins = 10);

// ---- multi-label ------------------------------------------------------------------------------
struct MultiLabelAuroc {
  std::vector<double> per_class;  // NaN for skipped classes
  std::vector<int64_t> skipped;   // classes whose labels hold a single value
  double mean = 0;                // over the classes not skipped
  std::string note;               // empty, or which classes were left out of the mean and why
};
// scores and labels (N, C); class_names (optional, size C) are used in the note.
// Error when every class is skipped.
MultiLabelAuroc multilabel_auroc(const Tensor& scores, const Tensor& labels,
                                 const std::vector<std::string>& class_names = {});

}  // namespace galen::eval
