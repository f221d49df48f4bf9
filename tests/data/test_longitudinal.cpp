// Longitudinal visit records: grouping and sorting, categorical maps, bad rows (file and line in the Error),
// standardisation fitted on training patients only, imputation + missingness mask, time deltas, padded batches,
// patient-level K-fold, the PBC label logic on hand-made rows, and the real committed pbcseq.csv.
#include <algorithm>
#include <cmath>
#include <set>

#include "galen/data/longitudinal.h"
#include "test_util.h"

using namespace galen;
using namespace galen::data;

namespace {

LongitudinalSpec small_spec() {
  LongitudinalSpec s;
  s.id_column = "pid";
  s.time_column = "t";
  s.feature_columns = {"a", "sex", "empty"};
  s.outcome_columns = {"y"};
  s.categories["sex"] = {{"f", 0.0}, {"m", 1.0}};
  return s;
}

// Patient p2 comes first and its visits are out of order; p9 has one visit; "empty" is never observed.
const char* kSmall =
    "pid,t,a,sex,empty,y\n"
    "p2,30,5,m,,0\n"
    "p2,10,3,m,NA,1\n"
    "p1,0,1,f,,0\n"
    "p2,20,NA,m,,1\n"
    "p1,5,3,\"f\",NA,0\n"
    "p9,7,100,f,,1\n";

std::string pbcseq_path() { return std::string(GALEN_SOURCE_DIR) + "/data/files/pbcseq.csv"; }

}  // namespace

TEST_CASE("longitudinal: grouping, time sort, categories, single visits, lines", "[data][longitudinal]") {
  auto d = parse_longitudinal_csv(kSmall, small_spec(), "small.csv");
  REQUIRE(d.num_patients() == 3);
  REQUIRE(d.num_visits() == 6);
  REQUIRE(d.max_visits() == 3);
  const auto& p2 = d.patient(0);
  CHECK(p2.id == "p2");
  CHECK(p2.times == std::vector<double>{10, 20, 30});  // unsorted input -> sorted
  CHECK(p2.lines == std::vector<int64_t>{3, 5, 2});
  CHECK(p2.features[0][0] == 3);
  CHECK(std::isnan(p2.features[1][0]));
  CHECK(p2.features[2][0] == 5);
  CHECK(p2.features[0][1] == 1.0);  // "m"
  CHECK(p2.outcomes[0][0] == 1);
  CHECK(d.patient(1).id == "p1");
  CHECK(d.patient(1).features[1][1] == 0.0);  // quoted "f"
  CHECK(d.patient(2).num_visits() == 1);
  CHECK(d.find_patient("p9") == 2);
  CHECK(d.find_patient("nobody") == -1);
  CHECK(d.feature_index("empty") == 2);
  CHECK_THROWS_AS(d.feature_index("nope"), Error);
  CHECK_THROWS_AS(d.patient(3), Error);
  for (const auto& p : d.patients())
    for (const auto& f : p.features) CHECK(std::isnan(f[2]));  // all-missing column
}

TEST_CASE("longitudinal: bad rows and specs are Errors naming the file and line", "[data][longitudinal][errors]") {
  const auto spec = small_spec();
  auto fails_with = [&](const std::string& text, const std::string& what) {
    INFO(text);
    CHECK_THROWS_WITH(parse_longitudinal_csv(text, spec, "bad.csv"),
                      Catch::Contains("bad.csv") && Catch::Contains(what));
  };
  const std::string head = "pid,t,a,sex,empty,y\n";
  fails_with(head + "p1,0,1,f,,0\np1,1,2,f,0\n", "line 3");                 // wrong column count
  fails_with(head + "p1,0,1,f,,0\np1,1,abc,f,,0\n", "line 3");              // non-numeric feature
  fails_with(head + "p1,0,1,f,,0\np1,1,2,f,,0\np1,x,2,f,,0\n", "line 4");   // non-numeric time
  fails_with(head + "p1,0,1,f,,0\np1,1,2,q,,0\n", "line 3, column 'sex'");  // unknown category
  fails_with(head + "p1,0,1,f,,0\n,1,2,f,,0\n", "line 3, column 'pid'");    // missing id
  fails_with(head + "p1,0,1,f,,0\np1,NA,2,f,,0\n", "line 3, column 't'");   // missing time
  fails_with(head + "p1,0,1,f,,0\np1,1,2,f,,oops\n", "line 3");             // non-numeric outcome
  fails_with("pid,t,a,sex,y\np1,0,1,f,0\n", "empty");                       // missing column
  fails_with(head, "no data rows");
  {
    auto s = spec;
    s.log_features = {"a"};
    CHECK_THROWS_WITH(parse_longitudinal_csv(head + "p1,0,1,f,,0\np1,1,0,f,,0\n", s, "bad.csv"),
                      Catch::Contains("bad.csv' line 3, column 'a'"));
  }
  auto bad_spec = spec;
  bad_spec.feature_columns.push_back("y");
  CHECK_THROWS_WITH(parse_longitudinal_csv(kSmall, bad_spec), Catch::Contains("twice"));
  bad_spec = spec;
  bad_spec.categories["a2"] = {{"x", 1}};
  CHECK_THROWS_AS(parse_longitudinal_csv(kSmall, bad_spec), Error);
  bad_spec = spec;
  bad_spec.log_features = {"nope"};
  CHECK_THROWS_AS(parse_longitudinal_csv(kSmall, bad_spec), Error);
  // A text column read with automatic typing (longitudinal_from_table) is still refused with its line.
  auto t = parse_csv("pid,t,a,sex,empty,y\np1,0,1,f,,0\np1,1,zz,f,,0\n", {}, "auto.csv");
  CHECK_THROWS_WITH(longitudinal_from_table(t, spec), Catch::Contains("'auto.csv' line 3, column 'a'"));
}

TEST_CASE("longitudinal: standardisation from training patients only; imputation, mask, dt, padding",
          "[data][longitudinal]") {
  auto d = parse_longitudinal_csv(kSmall, small_spec(), "small.csv");
  // Train on p2 (index 0) and p1 (1); p9's a = 100 must not enter the statistics.
  const auto st = fit_standardizer(d, {0, 1});
  REQUIRE(st.names == std::vector<std::string>{"a", "sex", "empty", "dt"});
  // a observed: 3, 5 (p2), 1, 3 (p1): mean 3, population variance (0 + 4 + 4 + 0) / 4 = 2.
  CHECK(st.mean[0] == Approx(3.0).epsilon(1e-15));
  CHECK(st.std[0] == Approx(std::sqrt(2.0)).epsilon(1e-15));
  CHECK(st.observed[0] == 4);
  // sex: 1, 1, 1, 0, 0 -> mean 0.6, std sqrt(0.24).
  CHECK(st.mean[1] == Approx(0.6).epsilon(1e-15));
  CHECK(st.std[1] == Approx(std::sqrt(0.24)).epsilon(1e-15));
  // Never observed: mean 0, std 1.
  CHECK(st.observed[2] == 0);
  CHECK(st.mean[2] == 0.0);
  CHECK(st.std[2] == 1.0);
  // dt over training visits: p2 0, 10, 10; p1 0, 5 -> mean 5, variance (25 + 25 + 25 + 25 + 0) / 5 = 20.
  CHECK(st.mean[3] == Approx(5.0).epsilon(1e-15));
  CHECK(st.std[3] == Approx(std::sqrt(20.0)).epsilon(1e-15));
  // Changing a test patient's values leaves the standardiser unchanged.
  const std::string changed = std::string(kSmall).replace(std::string(kSmall).find("p9,7,100"), 8, "p9,7,-55");
  auto d2 = parse_longitudinal_csv(changed, small_spec(), "small2.csv");
  const auto st2 = fit_standardizer(d2, {0, 1});
  CHECK(st2.mean == st.mean);
  CHECK(st2.std == st.std);
  CHECK(fit_standardizer(d, {0, 1, 2}).mean[0] != st.mean[0]);

  const auto b = make_sequence_batch(d, st, {2, 0}, {true, true, DType::f64});
  REQUIRE(b.x.sizes() == Shape{2, 3, 7});
  REQUIRE(b.feature_names ==
          std::vector<std::string>{"a", "sex", "empty", "dt", "a_missing", "sex_missing", "empty_missing"});
  CHECK(b.lengths.to_vector<int64_t>() == std::vector<int64_t>{1, 3});
  CHECK(b.lengths.dtype() == DType::i64);
  CHECK(b.valid.to(DType::i64).to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0, 1, 1, 1});
  const auto x = b.x.to_vector<double>();
  auto at = [&](int64_t i, int64_t t, int64_t f) { return x[static_cast<size_t>((i * 3 + t) * 7 + f)]; };
  const double sa = std::sqrt(2.0), sd = std::sqrt(20.0), ss = std::sqrt(0.24);
  // p9 (test patient): a = 100 standardised with the training statistics; first visit dt = 0.
  CHECK(at(0, 0, 0) == Approx((100 - 3) / sa).epsilon(1e-14));
  CHECK(at(0, 0, 1) == Approx((0 - 0.6) / ss).epsilon(1e-14));
  CHECK(at(0, 0, 2) == 0.0);  // all-missing column imputed with 0
  CHECK(at(0, 0, 3) == Approx((0 - 5) / sd).epsilon(1e-14));
  CHECK(at(0, 0, 4) == 0.0);
  CHECK(at(0, 0, 6) == 1.0);
  // Padding rows are all zero.
  for (int64_t t = 1; t < 3; ++t)
    for (int64_t f = 0; f < 7; ++f) CHECK(at(0, t, f) == 0.0);
  // p2's second visit (t = 20): a missing -> 0 with mask 1; dt = 10.
  CHECK(at(1, 1, 0) == 0.0);
  CHECK(at(1, 1, 4) == 1.0);
  CHECK(at(1, 1, 3) == Approx((10 - 5) / sd).epsilon(1e-14));
  CHECK(at(1, 2, 0) == Approx((5 - 3) / sa).epsilon(1e-14));
  CHECK(at(1, 2, 4) == 0.0);

  const auto plain = make_sequence_batch(d, st, {1}, {false, false, DType::f32});
  CHECK(plain.x.sizes() == Shape{1, 2, 3});
  CHECK(plain.x.dtype() == DType::f32);
  CHECK_THROWS_AS(make_sequence_batch(d, st, {3}), Error);
  CHECK_THROWS_AS(fit_standardizer(d, {}), Error);
  CHECK_THROWS_AS(fit_standardizer(d, {-1}), Error);
}

TEST_CASE("longitudinal: patient-level K-fold is a seeded partition", "[data][longitudinal]") {
  for (int64_t n : {10, 13, 312}) {
    for (int64_t k : {2, 5}) {
      const auto folds = kfold_patients(n, k, 42);
      REQUIRE(static_cast<int64_t>(folds.size()) == k);
      std::set<int64_t> all;
      size_t lo = SIZE_MAX, hi = 0, total = 0;
      for (const auto& f : folds) {
        lo = std::min(lo, f.size());
        hi = std::max(hi, f.size());
        total += f.size();
        for (int64_t p : f) {
          CHECK(p >= 0);
          CHECK(p < n);
          all.insert(p);
        }
      }
      CHECK(total == static_cast<size_t>(n));
      CHECK(all.size() == static_cast<size_t>(n));  // no patient in two folds
      CHECK(hi - lo <= 1);
      for (int64_t f = 0; f < k; ++f) {
        const auto train = kfold_train(folds, f);
        CHECK(train.size() + folds[f].size() == static_cast<size_t>(n));
        std::vector<int64_t> both;
        std::set_intersection(train.begin(), train.end(), folds[f].begin(), folds[f].end(), std::back_inserter(both));
        CHECK(both.empty());
      }
    }
  }
  CHECK(kfold_patients(50, 5, 7) == kfold_patients(50, 5, 7));
  CHECK(kfold_patients(50, 5, 7) != kfold_patients(50, 5, 8));
  CHECK_THROWS_AS(kfold_patients(5, 1, 0), Error);
  CHECK_THROWS_AS(kfold_patients(5, 6, 0), Error);
  CHECK_THROWS_AS(kfold_train(kfold_patients(5, 2, 0), 2), Error);
}

TEST_CASE("pbc: death or transplant within two years, censoring unknown; next log-bilirubin",
          "[data][longitudinal][pbc]") {
  using pbc::event_within;
  CHECK(event_within(0, 100, 2) == 1.0);             // death 100 days after the visit
  CHECK(event_within(200, 900, 1) == 1.0);           // transplant 700 days after
  CHECK(event_within(0, 730.5, 2) == 1.0);           // exactly at the horizon: within
  CHECK(event_within(0, 731, 2) == 0.0);             // death later than two years: 0 for this visit
  CHECK(event_within(0, 5000, 0) == 0.0);            // censored long after: event-free
  CHECK(event_within(0, 730.5, 0) == 0.0);           // followed exactly two years event-free
  CHECK_FALSE(event_within(0, 700, 0).has_value());  // censored before two years: unknown
  CHECK_FALSE(event_within(400, 400, 0).has_value());
  CHECK(event_within(0, 100, 2, 50.0) == 0.0);  // another horizon
  CHECK_THROWS_AS(event_within(0, 100, 3), Error);
  CHECK_THROWS_AS(event_within(200, 100, 0), Error);

  const char* text =
      "\"id\",\"futime\",\"status\",\"trt\",\"age\",\"sex\",\"day\",\"ascites\",\"hepato\",\"spiders\",\"edema\","
      "\"bili\",\"chol\",\"albumin\",\"alk.phos\",\"ast\",\"platelet\",\"protime\",\"stage\"\n"
      "7,1000,2,1,50,\"f\",400,0,1,0,0,2.0,NA,3.5,1000,100,200,10,3\n"
      "7,1000,2,1,50,\"f\",0,0,1,0,0,1.0,250,3.5,1000,100,200,10,3\n"
      "8,600,0,2,60,\"m\",0,0,0,0,0,0.5,300,4,800,90,250,11,2\n"
      "8,600,0,2,60,\"m\",180,NA,0,0,0,NA,NA,4,800,90,250,11,2\n"
      "8,600,0,2,60,\"m\",365,0,0,0,0,0.7,NA,4,800,90,250,11,2\n"
      "9,3000,1,1,40,\"f\",0,0,0,0,0,1.5,200,3.9,700,80,150,10.5,1\n";
  auto d = parse_longitudinal_csv(text, pbc::pbcseq_spec(), "pbc_small.csv");
  REQUIRE(d.num_patients() == 3);
  CHECK(d.patient(0).times == std::vector<double>{0, 400});
  const auto y = pbc::event_within_targets(d, {0, 1, 2}, 730.5, DType::f64);
  REQUIRE(y.values.sizes() == Shape{3, 3});
  // 7: death at 1000: visit 0 (1000 left) -> 0, visit 400 (600 left) -> 1; 8: censored at 600 -> unknown;
  // 9: transplant at 3000, one visit -> 0.
  CHECK(y.values.to_vector<double>() == std::vector<double>{0, 1, 0, 0, 0, 0, 0, 0, 0});
  CHECK(y.known.to(DType::i64).to_vector<int64_t>() == std::vector<int64_t>{1, 1, 0, 0, 0, 0, 1, 0, 0});
  const auto nb = pbc::next_log_bili_targets(d, {0, 1, 2}, DType::f64);
  CHECK(nb.known.to(DType::i64).to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0, 0, 1, 0, 0, 0, 0});
  const auto nbv = nb.values.to_vector<double>();
  CHECK(nbv[0] == Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(nbv[4] == Approx(std::log(0.7)).epsilon(1e-15));
  // Outcomes that change between a patient's visits are refused with the line.
  std::string bad = text;
  bad.replace(bad.find("8,600,0,2,60,\"m\",365"), 5, "8,601");
  auto d2 = parse_longitudinal_csv(bad, pbc::pbcseq_spec(), "pbc_bad.csv");
  CHECK_THROWS_WITH(pbc::event_within_targets(d2, {1}), Catch::Contains("pbc_bad.csv' line 6"));
}

TEST_CASE("pbc: the committed pbcseq.csv loads (1945 visits, 312 patients)", "[data][longitudinal][pbc]") {
  auto d = read_longitudinal_csv(pbcseq_path(), pbc::pbcseq_spec());
  REQUIRE(d.num_patients() == 312);
  REQUIRE(d.num_visits() == 1945);
  CHECK(d.max_visits() == 16);
  int64_t single = 0;
  for (const auto& p : d.patients()) {
    single += p.num_visits() == 1;
    CHECK(std::is_sorted(p.times.begin(), p.times.end()));
  }
  CHECK(single == 27);
  const auto& p1 = d.patient(0);
  CHECK(p1.id == "1");
  CHECK(p1.times == std::vector<double>{0, 192});
  CHECK(p1.features[0][d.feature_index("bili")] == Approx(std::log(14.5)).epsilon(1e-15));
  CHECK(p1.features[0][d.feature_index("sex")] == 0.0);
  CHECK(std::isnan(p1.features[1][d.feature_index("chol")]));
  std::vector<int64_t> all(312);
  for (int64_t i = 0; i < 312; ++i) all[i] = i;
  const auto st = fit_standardizer(d, all);
  const int64_t bi = d.feature_index("bili");
  CHECK(st.mean[bi] == Approx(0.603137827849658).epsilon(1e-13));  // Python over the same file
  CHECK(st.std[bi] == Approx(1.1100393626396865).epsilon(1e-13));
  CHECK(st.observed[d.feature_index("chol")] == 1124);
  // Labels over every visit (counted independently in Python): 313 events within two years, 1489 event-free,
  // 143 unknown; the next log-bilirubin is known for 1633 visits.
  const auto y = pbc::event_within_targets(d, all);
  const auto known = y.known.to(DType::i64).sum().item();
  CHECK(known == 1489 + 313);
  CHECK(y.values.sum().item() == 313);
  CHECK(pbc::next_log_bili_targets(d, all).known.to(DType::i64).sum().item() == 1633);
  // A fold's batch is ready for an LSTM's variable-length path.
  const auto folds = kfold_patients(d.num_patients(), 5, 1);
  const auto b = make_sequence_batch(d, fit_standardizer(d, kfold_train(folds, 0)), folds[0]);
  CHECK(b.x.dim() == 3);
  CHECK(b.x.size(0) == static_cast<int64_t>(folds[0].size()));
  CHECK(b.x.size(2) == 15 + 1 + 15);
  CHECK(b.lengths.dtype() == DType::i64);
  CHECK(galen::max(b.lengths).item() == b.x.size(1));
  CHECK(std::isfinite(b.x.abs().sum().item()));
}
