// eval/metrics.h against scikit-learn (tests/fixtures/metrics_sklearn.safetensors,
// made by tools/make_metrics_fixtures.py) to 1e-12, plus hand-checked cases,
// the bootstrap, multi-label AUROC and every degenerate input.
#include <cmath>
#include <limits>

#include "galen/core/json.h"
#include "galen/eval/metrics.h"
#include "test_util.h"

using namespace galen;
using namespace galen::eval;

namespace {

const SafetensorsFile& fixtures() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/metrics_sklearn.safetensors");
  return f;
}
std::vector<double> vec(const std::string& key) {
  INFO(key);
  REQUIRE(fixtures().tensors.count(key) == 1);
  return fixtures().tensors.at(key).to_vector<double>();
}
std::vector<int> ivec(const std::string& key) {
  std::vector<int> out;
  for (double v : vec(key)) out.push_back(static_cast<int>(v));
  return out;
}

void require_vec_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                       const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("index " << i << ": got " << got[i] << ", want " << want[i]);
    if (std::isinf(want[i])) REQUIRE(got[i] == want[i]);
    else if (std::isnan(want[i])) REQUIRE(std::isnan(got[i]));
    else REQUIRE(std::fabs(got[i] - want[i]) <= tol);
  }
}

const char* kCases[] = {"random", "tied", "imbalanced", "small", "all_tied", "perfect", "inverted"};

}  // namespace

TEST_CASE("metrics: curves and areas match scikit-learn", "[eval][metrics]") {
  constexpr double kTol = 1e-12;
  for (const char* name : kCases) {
    const std::string c = name;
    INFO("case " << c);
    const auto s = vec(c + ".scores");
    const auto l = ivec(c + ".labels");
    const auto summary = vec(c + ".summary");
    const double t = json::parse(fixtures().metadata.at(c)).find("threshold")->as_double();

    RocCurve roc = roc_curve(s, l);
    require_vec_close(roc.fpr, vec(c + ".roc_fpr"), kTol, "roc fpr");
    require_vec_close(roc.tpr, vec(c + ".roc_tpr"), kTol, "roc tpr");
    require_vec_close(roc.thresholds, vec(c + ".roc_thr"), 0, "roc thresholds");
    RocCurve full = roc_curve(s, l, false);
    require_vec_close(full.fpr, vec(c + ".rocf_fpr"), kTol, "full roc fpr");
    require_vec_close(full.tpr, vec(c + ".rocf_tpr"), kTol, "full roc tpr");
    require_vec_close(full.thresholds, vec(c + ".rocf_thr"), 0, "full roc thresholds");

    PrCurve pr = pr_curve(s, l);
    require_vec_close(pr.precision, vec(c + ".pr_p"), kTol, "precision");
    require_vec_close(pr.recall, vec(c + ".pr_r"), kTol, "recall");
    require_vec_close(pr.thresholds, vec(c + ".pr_thr"), 0, "pr thresholds");

    REQUIRE(std::fabs(roc_auc(s, l) - summary[0]) <= kTol);
    REQUIRE(std::fabs(trapezoid_auc(roc.fpr, roc.tpr) - summary[0]) <= kTol);
    REQUIRE(std::fabs(average_precision(s, l) - summary[1]) <= kTol);
    REQUIRE(std::fabs(pr_auc(s, l) - summary[2]) <= kTol);

    YoudenPoint y = youden_threshold(s, l);
    REQUIRE(y.threshold == summary[3]);
    REQUIRE(std::fabs(y.j - summary[4]) <= kTol);
    REQUIRE(std::fabs(y.sensitivity + y.specificity - 1 - summary[4]) <= 1e-12);

    ThresholdMetrics m = threshold_metrics(s, l, t);
    const auto cm = vec(c + ".cm");  // tn, fp, fn, tp
    REQUIRE(m.cm.tn == cm[0]);
    REQUIRE(m.cm.fp == cm[1]);
    REQUIRE(m.cm.fn == cm[2]);
    REQUIRE(m.cm.tp == cm[3]);
    // sklearn's zero_division=0 becomes NaN here; compare only where defined.
    const double got[] = {m.sensitivity, m.specificity, m.ppv, m.npv, m.accuracy, m.f1};
    for (int k = 0; k < 6; ++k) {
      INFO("threshold metric " << k);
      if (std::isnan(got[k])) REQUIRE(summary[5 + k] == 0.0);
      else REQUIRE(std::fabs(got[k] - summary[5 + k]) <= kTol);
    }
  }
}

TEST_CASE("metrics: calibration matches scikit-learn's calibration_curve", "[eval][metrics]") {
  int checked = 0;
  for (const char* name : kCases) {
    const std::string c = name;
    const json::Value meta = json::parse(fixtures().metadata.at(c));
    for (const auto& b : meta.find("calibration")->as_array()) {
      const int bins = static_cast<int>(b.as_int());
      INFO("case " << c << ", " << bins << " bins");
      const auto p = vec(c + ".probs");
      const auto l = ivec(c + ".labels");
      const std::string k = c + ".cal" + std::to_string(bins);
      ReliabilityCurve r = reliability_curve(p, l, bins);
      require_vec_close(r.mean_predicted, vec(k + "_pred"), 1e-12, "prob_pred");
      require_vec_close(r.fraction_positive, vec(k + "_true"), 1e-12, "prob_true");
      std::vector<double> counts(r.count.begin(), r.count.end());
      require_vec_close(counts, vec(k + "_count"), 0, "counts");
      REQUIRE(std::fabs(expected_calibration_error(p, l, bins) - vec(k + "_ece")[0]) <= 1e-12);
      ++checked;
    }
  }
  REQUIRE(checked == 6);
}

TEST_CASE("metrics: hand-checked values and tie handling", "[eval][metrics]") {
  // One positive above both negatives, one tied with a negative: AUC = (1 + 1 + 1 + 0.5) / 4.
  REQUIRE(roc_auc(std::vector<double>{0.9, 0.5, 0.5, 0.1}, std::vector<int>{1, 1, 0, 0}) == 0.875);
  // Everything tied: 0.5 exactly.
  REQUIRE(roc_auc(std::vector<double>{2, 2, 2}, std::vector<int>{1, 0, 1}) == 0.5);
  // Tensor overloads (bool labels, f32 scores on a shape (2, 2)).
  Tensor sc = from_vector<float>({0.9f, 0.5f, 0.5f, 0.1f}, {2, 2});
  Tensor lb = from_vector<bool>({true, true, false, false}, {2, 2});
  REQUIRE(roc_auc(sc, lb) == 0.875);
  REQUIRE(average_precision(sc, lb) == Approx(0.5 * 1.0 + 0.5 * (2.0 / 3.0)).epsilon(1e-15));

  ConfusionMatrix cm = confusion_matrix({0.1, 0.6, 0.7, 0.2, 0.9}, {0, 1, 0, 1, 1}, 0.6);
  REQUIRE(cm.tp == 2);
  REQUIRE(cm.fp == 1);
  REQUIRE(cm.tn == 1);
  REQUIRE(cm.fn == 1);
  REQUIRE(cm.f1() == Approx(2.0 * 2 / (2 * 2 + 1 + 1)));
  // Undefined ratios are NaN, one class is allowed at a threshold.
  ConfusionMatrix none = confusion_matrix({0.1, 0.2}, {0, 0}, 0.5);
  REQUIRE(std::isnan(none.sensitivity()));
  REQUIRE(std::isnan(none.ppv()));
  REQUIRE(none.specificity() == 1.0);

  REQUIRE(trapezoid_auc({0, 1}, {0, 1}) == 0.5);
  REQUIRE(trapezoid_auc({1, 0}, {1, 0}) == 0.5);
  REQUIRE_THROWS_AS(trapezoid_auc({0, 1, 0.5}, {0, 1, 1}), Error);

  REQUIRE(percentile({1, 2, 3, 4}, 50) == 2.5);
  REQUIRE(percentile({5, 1, 3}, 25) == 2.0);
  REQUIRE(percentile({7}, 97.5) == 7.0);
}

TEST_CASE("metrics: bootstrap CI is seeded, skips one-class draws and uses the percentile method",
          "[eval][metrics]") {
  const auto s = vec("random.scores");
  const auto l = ivec("random.labels");
  Metric auc = [](const std::vector<double>& a, const std::vector<int>& b) { return roc_auc(a, b); };
  BootstrapCI a = bootstrap_ci(s, l, auc, {.resamples = 200, .confidence = 0.95, .seed = 7});
  BootstrapCI b = bootstrap_ci(s, l, auc, {.resamples = 200, .confidence = 0.95, .seed = 7});
  BootstrapCI c = bootstrap_ci(s, l, auc, {.resamples = 200, .confidence = 0.95, .seed = 8});
  REQUIRE(a.values == b.values);
  REQUIRE(a.values != c.values);
  REQUIRE(a.used == 200);
  REQUIRE(a.skipped == 0);
  REQUIRE(a.estimate == roc_auc(s, l));
  REQUIRE(a.lower < a.estimate);
  REQUIRE(a.upper > a.estimate);
  REQUIRE(a.lower == percentile(a.values, 2.5));
  REQUIRE(a.upper == percentile(a.values, 97.5));
  // A 300-sample AUROC has a standard error of a few hundredths: the 95% CI is a few tenths wide at most.
  REQUIRE(a.upper - a.lower > 0.02);
  REQUIRE(a.upper - a.lower < 0.3);
  // The bootstrap mean is close to the estimate.
  double mean = 0;
  for (double v : a.values) mean += v;
  REQUIRE(std::fabs(mean / a.values.size() - a.estimate) < 0.02);

  // 1 positive in 4: P(no positive in a draw) = (3/4)^4 ~ 0.32 of draws are skipped and counted.
  BootstrapCI d = bootstrap_ci({0.9, 0.1, 0.2, 0.3}, {1, 0, 0, 0}, auc, {.resamples = 1000, .seed = 3});
  REQUIRE(d.used + d.skipped == 1000);
  REQUIRE(d.skipped > 250);
  REQUIRE(d.skipped < 390);
  REQUIRE(d.lower == 1.0);  // the positive always ranks first

  // No usable draw: Error. One-class data fails in the metric itself.
  Metric nan_metric = [](const std::vector<double>&, const std::vector<int>&) {
    return std::numeric_limits<double>::quiet_NaN();
  };
  REQUIRE_THROWS_WITH(bootstrap_ci(s, l, nan_metric, {.resamples = 10}), Catch::Contains("none of the 10 resamples"));
  REQUIRE_THROWS_WITH(bootstrap_ci({0.9, 0.1}, {1, 1}, auc, {.resamples = 10}), Catch::Contains("needs both classes"));
  REQUIRE_THROWS_AS(bootstrap_ci(s, l, auc, {.resamples = 0}), Error);
  REQUIRE_THROWS_AS(bootstrap_ci(s, l, auc, {.confidence = 1.0}), Error);
}

TEST_CASE("metrics: multi-label AUROC skips one-valued classes and says so", "[eval][metrics]") {
  // 4 samples, 3 classes; class 1 has no positives.
  Tensor scores = from_vector<double>({0.9, 0.2, 0.1,  //
                                       0.1, 0.3, 0.8,  //
                                       0.6, 0.1, 0.7,  //
                                       0.3, 0.4, 0.2},
                                      {4, 3});
  Tensor labels = from_vector<int64_t>({1, 0, 0,  //
                                        0, 0, 1,  //
                                        1, 0, 1,  //
                                        0, 0, 0},
                                       {4, 3});
  MultiLabelAuroc r = multilabel_auroc(scores, labels, {"Atelectasis", "Hernia", "Mass"});
  REQUIRE(r.per_class.size() == 3);
  REQUIRE(r.per_class[0] == 1.0);
  REQUIRE(std::isnan(r.per_class[1]));
  REQUIRE(r.per_class[2] == 1.0);
  REQUIRE(r.skipped == std::vector<int64_t>{1});
  REQUIRE(r.mean == 1.0);
  REQUIRE_THAT(r.note, Catch::Contains("Hernia (no positives)") && Catch::Contains("2 of 3"));

  // Each column equals the binary AUROC on that column.
  const auto s = vec("random.scores");
  const auto l = ivec("random.labels");
  const auto s2 = vec("tied.scores");
  const auto l2 = ivec("tied.labels");
  std::vector<double> sm;
  std::vector<int64_t> lm;
  for (size_t i = 0; i < 200; ++i) {
    sm.insert(sm.end(), {s[i], s2[i]});
    lm.insert(lm.end(), {l[i], l2[i]});
  }
  MultiLabelAuroc m = multilabel_auroc(from_vector<double>(sm, {200, 2}), from_vector<int64_t>(lm, {200, 2}));
  REQUIRE(m.skipped.empty());
  REQUIRE(m.note.empty());
  REQUIRE(m.per_class[1] == roc_auc(s2, l2));
  REQUIRE(m.mean == Approx((m.per_class[0] + m.per_class[1]) / 2).epsilon(1e-15));

  REQUIRE_THROWS_WITH(multilabel_auroc(scores.narrow(1, 1, 1), labels.narrow(1, 1, 1)),
                      Catch::Contains("every class has a single label value"));
  REQUIRE_THROWS_AS(multilabel_auroc(scores, labels.narrow(1, 0, 2)), Error);
  REQUIRE_THROWS_AS(multilabel_auroc(scores.flatten(), labels.flatten()), Error);
  REQUIRE_THROWS_AS(multilabel_auroc(scores, labels, {"a", "b"}), Error);
}

TEST_CASE("metrics: degenerate input is a galen::Error with a clear message", "[eval][metrics]") {
  const std::vector<double> s = {0.1, 0.2, 0.3};
  REQUIRE_THROWS_WITH(roc_auc(s, std::vector<int>{1, 1, 1}), Catch::Contains("needs both classes"));
  REQUIRE_THROWS_WITH(roc_auc(s, std::vector<int>{0, 0, 0}), Catch::Contains("needs both classes"));
  REQUIRE_THROWS_WITH(roc_curve(s, std::vector<int>{0, 0, 0}), Catch::Contains("needs both classes"));
  REQUIRE_THROWS_WITH(youden_threshold(s, std::vector<int>{0, 0, 0}), Catch::Contains("needs both classes"));
  REQUIRE_THROWS_WITH(average_precision(s, std::vector<int>{0, 0, 0}), Catch::Contains("no positive samples"));
  REQUIRE_THROWS_WITH(roc_auc(s, std::vector<int>{0, 1}), Catch::Contains("differ in length (3 vs 2)"));
  REQUIRE_THROWS_WITH(roc_auc(std::vector<double>{0.1, std::nan(""), 0.3}, std::vector<int>{0, 1, 1}),
                      Catch::Contains("score 1 is not finite"));
  REQUIRE_THROWS_WITH(roc_auc(s, std::vector<int>{0, 2, 1}), Catch::Contains("label 1 is 2"));
  REQUIRE_THROWS_WITH(roc_auc(std::vector<double>{}, std::vector<int>{}), Catch::Contains("no samples"));
  REQUIRE_THROWS_WITH(to_labels(tensor<double>({0, 0.5})), Catch::Contains("label 1 is 0.5"));
  REQUIRE_THROWS_WITH(reliability_curve({0.1, 1.2}, {0, 1}), Catch::Contains("outside [0, 1]"));
  REQUIRE_THROWS_AS(reliability_curve({0.1, 0.2}, {0, 1}, 0), Error);
  REQUIRE_THROWS_AS(confusion_matrix(s, {0, 1, 1}, std::nan("")), Error);
  REQUIRE_THROWS_AS(percentile({}, 50), Error);
}
