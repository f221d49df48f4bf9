// Binary-classification metrics (see metrics.h). Every curve is built from the
// same sorted cumulative counts as scikit-learn's _binary_clf_curve: scores
// sorted decreasing, one point per distinct score holding the cumulative true
// and false positives at that threshold. Areas are computed from the integer
// counts where possible so ties and rounding match scikit-learn to ~1e-15.
#include "galen/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "galen/core/error.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"

namespace galen::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ratio(int64_t num, int64_t den) { return den == 0 ? kNaN : static_cast<double>(num) / static_cast<double>(den); }

// Length, finiteness and 0/1 checks shared by every metric.
void check_inputs(const char* op, const std::vector<double>& scores, const std::vector<int>& labels) {
  GALEN_CHECK(scores.size() == labels.size(), op, ": scores and labels differ in length (", scores.size(), " vs ",
              labels.size(), ")");
  GALEN_CHECK(!scores.empty(), op, ": no samples");
  for (size_t i = 0; i < scores.size(); ++i) {
    GALEN_CHECK(std::isfinite(scores[i]), op, ": score ", i, " is not finite (", scores[i], ")");
    GALEN_CHECK(labels[i] == 0 || labels[i] == 1, op, ": label ", i, " is ", labels[i], ", expected 0 or 1");
  }
}

struct Counts {
  int64_t pos = 0, neg = 0;
};
Counts count_classes(const std::vector<int>& labels) {
  Counts c;
  for (int l : labels) (l ? c.pos : c.neg)++;
  return c;
}

void check_both_classes(const char* op, const std::vector<int>& labels) {
  const Counts c = count_classes(labels);
  GALEN_CHECK(c.pos > 0 && c.neg > 0, op, ": needs both classes, got ", c.pos, " positive and ", c.neg,
              " negative samples (the metric is undefined for one class)");
}

// Cumulative counts at each distinct score, scores decreasing (_binary_clf_curve).
struct ClfCurve {
  std::vector<int64_t> tps, fps;
  std::vector<double> thresholds;
};
ClfCurve clf_curve(const std::vector<double>& scores, const std::vector<int>& labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  ClfCurve c;
  int64_t tp = 0, fp = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    (labels[order[k]] ? tp : fp)++;
    if (k + 1 == order.size() || scores[order[k + 1]] != scores[order[k]]) {
      c.tps.push_back(tp);
      c.fps.push_back(fp);
      c.thresholds.push_back(scores[order[k]]);
    }
  }
  return c;
}

}  // namespace

std::vector<double> to_scores(const Tensor& scores) {
  GALEN_CHECK(scores.defined(), "to_scores: tensor is undefined");
  return scores.to_vector<double>();
}

std::vector<int> to_labels(const Tensor& labels) {
  GALEN_CHECK(labels.defined(), "to_labels: tensor is undefined");
  const std::vector<double> v = labels.to_vector<double>();
  std::vector<int> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    GALEN_CHECK(v[i] == 0.0 || v[i] == 1.0, "to_labels: label ", i, " is ", v[i], ", expected 0 or 1");
    out[i] = static_cast<int>(v[i]);
  }
  return out;
}

// ---- curves -------------------------------------------------------------------------------------

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& labels, bool drop_intermediate) {
  check_inputs("roc_curve", scores, labels);
  check_both_classes("roc_curve", labels);
  ClfCurve c = clf_curve(scores, labels);
  std::vector<size_t> keep;
  const size_t n = c.tps.size();
  for (size_t i = 0; i < n; ++i) {
    // sklearn keeps the ends and every point where the second difference of fps or tps is non-zero.
    bool k = !drop_intermediate || n <= 2 || i == 0 || i + 1 == n;
    if (!k) {
      const int64_t d2f = c.fps[i + 1] - 2 * c.fps[i] + c.fps[i - 1];
      const int64_t d2t = c.tps[i + 1] - 2 * c.tps[i] + c.tps[i - 1];
      k = d2f != 0 || d2t != 0;
    }
    if (k) keep.push_back(i);
  }
  const double p = static_cast<double>(c.tps.back()), q = static_cast<double>(c.fps.back());
  RocCurve r;
  r.fpr.push_back(0);
  r.tpr.push_back(0);
  r.thresholds.push_back(std::numeric_limits<double>::infinity());
  for (size_t i : keep) {
    r.fpr.push_back(static_cast<double>(c.fps[i]) / q);
    r.tpr.push_back(static_cast<double>(c.tps[i]) / p);
    r.thresholds.push_back(c.thresholds[i]);
  }
  return r;
}

double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  check_inputs("roc_auc", scores, labels);
  check_both_classes("roc_auc", labels);
  const ClfCurve c = clf_curve(scores, labels);
  // Twice the area in count units: sum of (fp_i - fp_{i-1}) * (tp_i + tp_{i-1}); exact in integers
  // up to 2^63 (n <= ~3e9).
  int64_t prev_tp = 0, prev_fp = 0;
  long double twice = 0;
  for (size_t i = 0; i < c.tps.size(); ++i) {
    twice += static_cast<long double>(c.fps[i] - prev_fp) * static_cast<long double>(c.tps[i] + prev_tp);
    prev_tp = c.tps[i];
    prev_fp = c.fps[i];
  }
  return static_cast<double>(twice / (2.0L * static_cast<long double>(prev_tp) * static_cast<long double>(prev_fp)));
}

double roc_auc(const Tensor& scores, const Tensor& labels) { return roc_auc(to_scores(scores), to_labels(labels)); }

PrCurve pr_curve(const std::vector<double>& scores, const std::vector<int>& labels) {
  check_inputs("pr_curve", scores, labels);
  GALEN_CHECK(count_classes(labels).pos > 0, "pr_curve: no positive samples (recall is undefined)");
  const ClfCurve c = clf_curve(scores, labels);
  PrCurve r;
  const double p = static_cast<double>(c.tps.back());
  for (size_t k = c.tps.size(); k-- > 0;) {
    r.precision.push_back(static_cast<double>(c.tps[k]) / static_cast<double>(c.tps[k] + c.fps[k]));
    r.recall.push_back(static_cast<double>(c.tps[k]) / p);
    r.thresholds.push_back(c.thresholds[k]);
  }
  r.precision.push_back(1.0);
  r.recall.push_back(0.0);
  return r;
}

double average_precision(const std::vector<double>& scores, const std::vector<int>& labels) {
  const PrCurve c = pr_curve(scores, labels);
  double ap = 0;
  for (size_t k = 0; k + 1 < c.recall.size(); ++k) ap -= (c.recall[k + 1] - c.recall[k]) * c.precision[k];
  return ap;
}

double average_precision(const Tensor& scores, const Tensor& labels) {
  return average_precision(to_scores(scores), to_labels(labels));
}

double trapezoid_auc(const std::vector<double>& x, const std::vector<double>& y) {
  GALEN_CHECK(x.size() == y.size(), "trapezoid_auc: x and y differ in length (", x.size(), " vs ", y.size(), ")");
  GALEN_CHECK(x.size() >= 2, "trapezoid_auc: needs at least 2 points, got ", x.size());
  bool inc = true, dec = true;
  for (size_t i = 1; i < x.size(); ++i) {
    inc = inc && x[i] >= x[i - 1];
    dec = dec && x[i] <= x[i - 1];
  }
  GALEN_CHECK(inc || dec, "trapezoid_auc: x is neither increasing nor decreasing");
  double area = 0;
  for (size_t i = 1; i < x.size(); ++i) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2.0;
  return inc ? area : -area;
}

double pr_auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  const PrCurve c = pr_curve(scores, labels);
  return trapezoid_auc(c.recall, c.precision);
}

// ---- threshold metrics ----------------------------------------------------------------------------

double ConfusionMatrix::sensitivity() const { return ratio(tp, tp + fn); }
double ConfusionMatrix::specificity() const { return ratio(tn, tn + fp); }
double ConfusionMatrix::ppv() const { return ratio(tp, tp + fp); }
double ConfusionMatrix::npv() const { return ratio(tn, tn + fn); }
double ConfusionMatrix::accuracy() const { return ratio(tp + tn, total()); }
double ConfusionMatrix::f1() const { return ratio(2 * tp, 2 * tp + fp + fn); }

ConfusionMatrix confusion_matrix(const std::vector<double>& scores, const std::vector<int>& labels, double threshold) {
  check_inputs("confusion_matrix", scores, labels);
  GALEN_CHECK(!std::isnan(threshold), "confusion_matrix: threshold is NaN");
  ConfusionMatrix cm;
  for (size_t i = 0; i < scores.size(); ++i) {
    const bool pred = scores[i] >= threshold;
    if (labels[i]) (pred ? cm.tp : cm.fn)++;
    else (pred ? cm.fp : cm.tn)++;
  }
  return cm;
}

ThresholdMetrics threshold_metrics(const std::vector<double>& scores, const std::vector<int>& labels,
                                   double threshold) {
  ThresholdMetrics m;
  m.threshold = threshold;
  m.cm = confusion_matrix(scores, labels, threshold);
  m.sensitivity = m.cm.sensitivity();
  m.specificity = m.cm.specificity();
  m.ppv = m.cm.ppv();
  m.npv = m.cm.npv();
  m.accuracy = m.cm.accuracy();
  m.f1 = m.cm.f1();
  return m;
}

YoudenPoint youden_threshold(const std::vector<double>& scores, const std::vector<int>& labels) {
  const RocCurve r = roc_curve(scores, labels, /*drop_intermediate=*/false);
  size_t best = 0;
  double best_j = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < r.fpr.size(); ++i) {
    const double j = r.tpr[i] - r.fpr[i];
    if (j > best_j) {
      best_j = j;
      best = i;
    }
  }
  return YoudenPoint{r.thresholds[best], r.tpr[best], 1.0 - r.fpr[best], best_j};
}

// ---- bootstrap ------------------------------------------------------------------------------------

double percentile(std::vector<double> values, double q) {
  GALEN_CHECK(!values.empty(), "percentile: no values");
  GALEN_CHECK(q >= 0 && q <= 100, "percentile: q must lie in [0, 100], got ", q);
  std::sort(values.begin(), values.end());
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  // numpy's _lerp: a + (b - a) * t, switching to b - (b - a) * (1 - t) for t >= 0.5.
  const double a = values[lo], b = values[hi], d = b - a;
  return frac >= 0.5 ? b - d * (1.0 - frac) : a + d * frac;
}

BootstrapCI bootstrap_ci(const std::vector<double>& scores, const std::vector<int>& labels, const Metric& metric,
                         const BootstrapOptions& options) {
  check_inputs("bootstrap_ci", scores, labels);
  GALEN_CHECK(static_cast<bool>(metric), "bootstrap_ci: no metric given");
  GALEN_CHECK(options.resamples > 0, "bootstrap_ci: resamples must be positive, got ", options.resamples);
  GALEN_CHECK(options.confidence > 0 && options.confidence < 1, "bootstrap_ci: confidence must lie in (0, 1), got ",
              options.confidence);
  BootstrapCI ci;
  ci.estimate = metric(scores, labels);
  const size_t n = scores.size();
  std::vector<double> s(n);
  std::vector<int> l(n);
  // One Philox block (4 x u32) gives two 64-bit draws; counters run 0, 1, 2, ...
  uint64_t counter = 0;
  for (int64_t r = 0; r < options.resamples; ++r) {
    int64_t pos = 0;
    for (size_t i = 0; i < n; i += 2) {
      const auto b = philox::block(counter++, 0, options.seed);
      const uint64_t u0 = (static_cast<uint64_t>(b[0]) << 32) | b[1];
      const uint64_t u1 = (static_cast<uint64_t>(b[2]) << 32) | b[3];
      for (size_t k = 0; k < 2 && i + k < n; ++k) {
        // Multiply-shift keeps the draw unbiased to 2^-64 relative error.
        const uint64_t j = static_cast<uint64_t>((static_cast<unsigned __int128>(k ? u1 : u0) * n) >> 64);
        s[i + k] = scores[j];
        l[i + k] = labels[j];
        pos += labels[j];
      }
    }
    if (pos == 0 || pos == static_cast<int64_t>(n)) {
      ++ci.skipped;
      continue;
    }
    const double v = metric(s, l);
    if (std::isnan(v)) {
      ++ci.skipped;
      continue;
    }
    ci.values.push_back(v);
  }
  ci.used = static_cast<int64_t>(ci.values.size());
  GALEN_CHECK(ci.used > 0, "bootstrap_ci: none of the ", options.resamples,
              " resamples gave a value (each held a single class or the metric returned NaN)");
  const double alpha = (1.0 - options.confidence) / 2.0;
  ci.lower = percentile(ci.values, 100.0 * alpha);
  ci.upper = percentile(ci.values, 100.0 * (1.0 - alpha));
  return ci;
}

// ---- calibration ----------------------------------------------------------------------------------

ReliabilityCurve reliability_curve(const std::vector<double>& probs, const std::vector<int>& labels, int n_bins) {
  check_inputs("reliability_curve", probs, labels);
  GALEN_CHECK(n_bins >= 1, "reliability_curve: n_bins must be >= 1, got ", n_bins);
  for (size_t i = 0; i < probs.size(); ++i)
    GALEN_CHECK(probs[i] >= 0 && probs[i] <= 1, "reliability_curve: probability ", i, " is ", probs[i],
                ", outside [0, 1]");
  // numpy.linspace(0, 1, n_bins + 1) edges: i * (1 / n_bins).
  const double step = 1.0 / n_bins;
  std::vector<double> edges;
  for (int i = 1; i < n_bins; ++i) edges.push_back(static_cast<double>(i) * step);
  std::vector<double> sum(n_bins, 0.0), pos(n_bins, 0.0);
  std::vector<int64_t> cnt(n_bins, 0);
  for (size_t i = 0; i < probs.size(); ++i) {
    const int b = static_cast<int>(std::lower_bound(edges.begin(), edges.end(), probs[i]) - edges.begin());
    sum[b] += probs[i];
    pos[b] += labels[i];
    cnt[b]++;
  }
  ReliabilityCurve r;
  for (int b = 0; b < n_bins; ++b) {
    if (!cnt[b]) continue;
    r.bin.push_back(b);
    r.mean_predicted.push_back(sum[b] / static_cast<double>(cnt[b]));
    r.fraction_positive.push_back(pos[b] / static_cast<double>(cnt[b]));
    r.count.push_back(cnt[b]);
  }
  return r;
}

double expected_calibration_error(const std::vector<double>& probs, const std::vector<int>& labels, int n_bins) {
  const ReliabilityCurve r = reliability_curve(probs, labels, n_bins);
  double ece = 0;
  const double n = static_cast<double>(probs.size());
  for (size_t b = 0; b < r.bin.size(); ++b)
    ece += static_cast<double>(r.count[b]) / n * std::fabs(r.mean_predicted[b] - r.fraction_positive[b]);
  return ece;
}

// ---- multi-label ----------------------------------------------------------------------------------

MultiLabelAuroc multilabel_auroc(const Tensor& scores, const Tensor& labels,
                                 const std::vector<std::string>& class_names) {
  GALEN_CHECK(scores.defined() && labels.defined(), "multilabel_auroc: undefined tensor");
  GALEN_CHECK(scores.dim() == 2, "multilabel_auroc: scores must be (N, C), got ", scores.sizes());
  GALEN_CHECK(labels.sizes() == scores.sizes(), "multilabel_auroc: labels ", labels.sizes(),
              " must have the shape of scores ", scores.sizes());
  const int64_t n = scores.size(0), c = scores.size(1);
  GALEN_CHECK(class_names.empty() || static_cast<int64_t>(class_names.size()) == c, "multilabel_auroc: ",
              class_names.size(), " class names for ", c, " classes");
  const std::vector<double> s = to_scores(scores);
  const std::vector<int> l = to_labels(labels);
  MultiLabelAuroc r;
  double total = 0;
  int64_t used = 0;
  std::ostringstream note;
  for (int64_t k = 0; k < c; ++k) {
    std::vector<double> sk(n);
    std::vector<int> lk(n);
    int64_t pos = 0;
    for (int64_t i = 0; i < n; ++i) {
      sk[i] = s[i * c + k];
      lk[i] = l[i * c + k];
      pos += lk[i];
    }
    const std::string name = class_names.empty() ? "class " + std::to_string(k) : class_names[k];
    if (pos == 0 || pos == n) {
      r.per_class.push_back(kNaN);
      r.skipped.push_back(k);
      note << (r.skipped.size() == 1 ? "" : ", ") << name << (pos == 0 ? " (no positives)" : " (no negatives)");
      continue;
    }
    try {
      r.per_class.push_back(roc_auc(sk, lk));
    } catch (const Error& e) {
      GALEN_FAIL("multilabel_auroc: ", name, ": ", e.what());
    }
    total += r.per_class.back();
    ++used;
  }
  GALEN_CHECK(used > 0, "multilabel_auroc: every class has a single label value, no AUROC is defined: ", note.str());
  r.mean = total / static_cast<double>(used);
  if (!r.skipped.empty())
    r.note = "mean AUROC over " + std::to_string(used) + " of " + std::to_string(c) +
             " classes; left out (one label value): " + note.str();
  return r;
}

}  // namespace galen::eval
