// zoo/progression: shapes with variable lengths, padding and causality invariances, the attention head against
// nn::AttentionPooling, loss masking, a short training run on the real PBC records, checkpoint round trip, the
// baselines (logistic-regression optimality, last value carried forward) and bad input.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "test_util.h"

using namespace galen;

namespace {

std::string pbcseq_path() { return std::string(GALEN_SOURCE_DIR) + "/data/files/pbcseq.csv"; }

zoo::ProgressionOptions small_options(const std::string& cell, const std::string& head, int64_t f = 7) {
  zoo::ProgressionOptions o;
  o.input_size = f;
  o.hidden_size = 6;
  o.attn_hidden = 5;
  o.cell = cell;
  o.head = head;
  o.skip_feature = 2;
  o.head_dropout = 0.0;
  return o;
}

// Random weights everywhere (the value head starts at zero otherwise).
void randomize(nn::Module& m) {
  NoGradGuard ng;
  for (Tensor& p : m.parameters()) p.copy_(randn(p.sizes(), p.dtype()) * 0.5);
}

// One header + rows of the pbcseq layout; `rows` are "id,futime,status,day,bili" and the rest is fixed.
std::string pbc_csv(const std::vector<std::string>& rows) {
  std::string s =
      "id,futime,status,trt,age,sex,day,ascites,hepato,spiders,edema,bili,chol,albumin,alk.phos,ast,platelet,protime,"
      "stage\n";
  for (const auto& r : rows) {
    std::vector<std::string> f;
    size_t a = 0;
    for (size_t b; (b = r.find(',', a)) != std::string::npos; a = b + 1) f.push_back(r.substr(a, b - a));
    f.push_back(r.substr(a));
    REQUIRE(f.size() == 5);
    s += f[0] + "," + f[1] + "," + f[2] + ",1,50.5,f," + f[3] + ",0,1,0,0," + f[4] + ",300,3.5,1500,120,200,10.5,3\n";
  }
  return s;
}

}  // namespace

TEST_CASE("progression: output shapes and padding with variable lengths", "[progression]") {
  for (const std::string cell : {"lstm", "gru"}) {
    for (const std::string head : {"attention", "last"}) {
      INFO(cell << " / " << head);
      manual_seed(1);
      zoo::ProgressionModel m(small_options(cell, head));
      randomize(m);
      m.eval();
      const Tensor x = randn({3, 5, 7});
      const Tensor len = tensor<int64_t>({5, 2, 1});
      const zoo::ProgressionOutput out = m.forward(x, len);
      REQUIRE(out.risk_logits.sizes() == Shape({3, 5}));
      REQUIRE(out.next_value.sizes() == Shape({3, 5}));
      const auto r = out.risk_logits.to_vector<float>(), v = out.next_value.to_vector<float>();
      const int64_t lens[3] = {5, 2, 1};
      for (int64_t b = 0; b < 3; ++b)
        for (int64_t t = 0; t < 5; ++t) {
          if (t >= lens[b]) {
            REQUIRE(r[b * 5 + t] == 0.0f);
            REQUIRE(v[b * 5 + t] == 0.0f);
          } else {
            REQUIRE(std::isfinite(r[b * 5 + t]));
            REQUIRE(r[b * 5 + t] != 0.0f);
          }
        }
      if (head == "attention") {
        REQUIRE(out.attention.sizes() == Shape({3, 5, 5}));
        const auto w = out.attention.to_vector<float>();
        for (int64_t b = 0; b < 3; ++b)
          for (int64_t t = 0; t < 5; ++t) {
            double s = 0;
            for (int64_t j = 0; j < 5; ++j) {
              const float wj = w[(b * 5 + t) * 5 + j];
              if (j > t || j >= lens[b]) REQUIRE(wj == 0.0f);  // causal and padding mask
              s += wj;
            }
            REQUIRE(s == Approx(1.0).epsilon(1e-6));
          }
      } else {
        REQUIRE(!out.attention.defined());
      }
      // No lengths = every step valid.
      REQUIRE(m.forward(x, Tensor()).risk_logits.sizes() == Shape({3, 5}));
      REQUIRE(m.forward(x).sizes() == Shape({3, 5}));
    }
  }
}

TEST_CASE("progression: padded steps and future visits do not change outputs", "[progression]") {
  for (const std::string cell : {"lstm", "gru"}) {
    for (const std::string head : {"attention", "last"}) {
      INFO(cell << " / " << head);
      manual_seed(2);
      zoo::ProgressionModel m(small_options(cell, head));
      randomize(m);
      m.to(DType::f64);
      m.eval();
      const Tensor x = randn({3, 6, 7}, DType::f64);
      const Tensor len = tensor<int64_t>({6, 3, 1});
      const zoo::ProgressionOutput ref = m.forward(x, len);
      // Garbage in the padding, and extra padding steps: valid outputs unchanged.
      Tensor xg = cat({x, full({3, 2, 7}, 1e3, DType::f64)}, 1).clone();
      {
        NoGradGuard ng;
        xg.narrow(0, 1, 1).narrow(1, 3, 5).fill_(-7.0);
        xg.narrow(0, 2, 1).narrow(1, 1, 7).copy_(randn({1, 7, 7}, DType::f64) * 100.0);
      }
      const zoo::ProgressionOutput g = m.forward(xg, len);
      REQUIRE_CLOSE(g.risk_logits.narrow(1, 0, 6), ref.risk_logits, 1e-12, 1e-12);
      REQUIRE_CLOSE(g.next_value.narrow(1, 0, 6), ref.next_value, 1e-12, 1e-12);
      REQUIRE(equal(g.risk_logits.narrow(1, 6, 2), zeros({3, 2}, DType::f64)));
      // Each sequence alone, unpadded: the same values.
      const int64_t lens[3] = {6, 3, 1};
      for (int64_t b = 0; b < 3; ++b) {
        const zoo::ProgressionOutput one = m.forward(x.narrow(0, b, 1).narrow(1, 0, lens[b]), Tensor());
        REQUIRE_CLOSE(one.risk_logits, ref.risk_logits.narrow(0, b, 1).narrow(1, 0, lens[b]), 1e-12, 1e-12);
        REQUIRE_CLOSE(one.next_value, ref.next_value.narrow(0, b, 1).narrow(1, 0, lens[b]), 1e-12, 1e-12);
      }
      // Causality: changing visit 4 of sequence 0 leaves steps 0..3 alone and changes step 4.
      Tensor xf = x.clone();
      {
        NoGradGuard ng;
        xf.narrow(0, 0, 1).narrow(1, 4, 1).fill_(3.0);
      }
      const zoo::ProgressionOutput f = m.forward(xf, len);
      REQUIRE_CLOSE(f.risk_logits.narrow(1, 0, 4), ref.risk_logits.narrow(1, 0, 4), 1e-12, 1e-12);
      REQUIRE(std::abs(f.risk_logits.select(0, 0).select(0, 4).item() -
                       ref.risk_logits.select(0, 0).select(0, 4).item()) > 1e-9);
    }
  }
}

TEST_CASE("progression: attention head at the last visit equals AttentionPooling over the history", "[progression]") {
  manual_seed(3);
  zoo::ProgressionModel m(small_options("lstm", "attention"));
  randomize(m);
  m.to(DType::f64);
  m.eval();
  const Tensor x = randn({3, 4, 7}, DType::f64);
  const Tensor len = tensor<int64_t>({4, 2, 3});
  const zoo::ProgressionOutput out = m.forward(x, len);
  const Tensor h = std::static_pointer_cast<nn::LSTM>(m.rnn)->forward(x, Tensor(), Tensor(), len).output;
  const auto [pooled, w] = m.pool->forward(h, len);
  const int64_t lens[3] = {4, 2, 3};
  for (int64_t b = 0; b < 3; ++b)
    REQUIRE_CLOSE(out.attention.select(0, b).select(0, lens[b] - 1), w.select(0, b), 1e-14, 1e-12);
  // The skip connection: with the value head zeroed, next_value = the skip input on valid steps.
  {
    NoGradGuard ng;
    m.value_head->weight.zero_();
    m.value_head->bias.zero_();
  }
  const Tensor nv = m.forward(x, len).next_value;
  REQUIRE_CLOSE(nv.select(0, 0), x.select(0, 0).select(1, 2), 0.0, 0.0);
}

TEST_CASE("progression: loss is masked to known targets", "[progression]") {
  zoo::ProgressionOutput out;
  out.risk_logits = tensor<double>({0.5, -1.0, 2.0, 0.0}, DType::f64).reshape({2, 2});
  out.next_value = tensor<double>({1.0, 2.0, 3.0, 4.0}, DType::f64).reshape({2, 2});
  const Tensor rt = tensor<double>({1, 0, 0, 1}, DType::f64).reshape({2, 2});
  const Tensor rk = tensor<bool>({true, true, false, true}).reshape({2, 2});
  const Tensor vt = tensor<double>({1.5, 0.0, 0.0, 0.0}, DType::f64).reshape({2, 2});
  const Tensor vk = tensor<bool>({true, false, false, false}).reshape({2, 2});
  const zoo::ProgressionLoss l = zoo::progression_loss(out, rt, rk, vt, vk, 2.0);
  auto bce = [](double z, double y) { return std::log1p(std::exp(-std::abs(z))) + std::max(z, 0.0) - z * y; };
  const double risk = (bce(0.5, 1) + bce(-1.0, 0) + bce(0.0, 1)) / 3.0;
  REQUIRE(l.risk.item() == Approx(risk).epsilon(1e-12));
  REQUIRE(l.value.item() == Approx(0.25).epsilon(1e-12));
  REQUIRE(l.total.item() == Approx(risk + 0.5).epsilon(1e-12));
  // Nothing known: 0, not NaN.
  const Tensor none = zeros({2, 2}, DType::boolean);
  REQUIRE(zoo::progression_loss(out, rt, none, vt, none).total.item() == 0.0);
  REQUIRE_THROWS_AS(zoo::progression_loss(out, rt, rk.to(DType::f64), vt, vk), Error);
  REQUIRE_THROWS_AS(zoo::progression_loss(out, rt.reshape({4}), rk, vt, vk), Error);
}

TEST_CASE("progression: a short training run on PBC lowers the loss; save -> load predicts identically",
          "[progression]") {
  const data::LongitudinalData d = data::read_longitudinal_csv(pbcseq_path(), data::pbc::pbcseq_spec());
  std::vector<int64_t> train_ids, test_ids;
  for (int64_t i = 0; i < 80; ++i) (i < 60 ? train_ids : test_ids).push_back(i);
  const data::VisitStandardizer st = data::fit_standardizer(d, train_ids);
  const zoo::pbc::PbcTensors tr = zoo::pbc::make_tensors(d, st, train_ids),
                             te = zoo::pbc::make_tensors(d, st, test_ids);
  REQUIRE(tr.batch.feature_names[tr.bili_index] == "bili");
  zoo::ProgressionOptions o;
  o.input_size = tr.batch.x.size(2);
  o.skip_feature = tr.bili_index;
  o.hidden_size = 16;
  manual_seed(0);
  zoo::ProgressionModel m(o);
  zoo::pbc::TrainOptions to;
  to.epochs = 8;
  to.batch_size = 16;
  to.lr = 3e-3;
  std::ostringstream log;
  data::ProgressOptions po;
  po.out = &log;
  po.terminal = 0;
  data::Progress bar(to.epochs, 4, po);
  const std::vector<double> losses = zoo::pbc::train(m, tr, to, &bar);
  REQUIRE(losses.size() == 8);
  INFO("epoch losses " << losses.front() << " ... " << losses.back());
  REQUIRE(losses.back() < 0.9 * losses.front());
  REQUIRE(log.str().find("epoch 8/8") != std::string::npos);
  REQUIRE(!m.is_training());

  const zoo::pbc::Predictions p = zoo::pbc::predict(m, te);
  REQUIRE(p.risk.size() == p.risk_label.size());
  REQUIRE(!p.risk.empty());
  REQUIRE(p.next.size() == p.next_true.size());

  const std::string path = (std::filesystem::temp_directory_path() / "galen_test_progression.safetensors").string();
  zoo::save_progression(path, m, st, tr.batch.feature_names, 8, "{\"note\":\"test\"}");
  const zoo::ProgressionBundle b = zoo::load_progression(path);
  REQUIRE(b.feature_names == tr.batch.feature_names);
  REQUIRE(b.standardizer.names == st.names);
  REQUIRE(b.standardizer.mean == st.mean);  // exact: shortest round-trip doubles
  REQUIRE(b.standardizer.std == st.std);
  REQUIRE(b.standardizer.observed == st.observed);
  REQUIRE(b.user_json == "{\"note\":\"test\"}");
  REQUIRE(b.model->options().cell == "lstm");
  REQUIRE(b.model->options().skip_feature == o.skip_feature);
  REQUIRE(!b.model->is_training());
  NoGradGuard ng;
  m.eval();
  const zoo::ProgressionOutput a1 = m.forward(te.batch.x, te.batch.lengths);
  const zoo::ProgressionOutput a2 = b.model->forward(te.batch.x, te.batch.lengths);
  REQUIRE(equal(a1.risk_logits, a2.risk_logits));
  REQUIRE(equal(a1.next_value, a2.next_value));
  REQUIRE(equal(a1.attention, a2.attention));
  const zoo::pbc::Predictions p2 = zoo::pbc::predict(*b.model, te);
  REQUIRE(p2.risk == p.risk);
  REQUIRE(p2.next == p.next);

  // A checkpoint that is not a progression model, and a truncated file: clear errors.
  data::Checkpoint other;
  other.model["w"] = zeros({2});
  data::save_checkpoint(path, other);
  REQUIRE_THROWS_WITH(zoo::load_progression(path), Catch::Contains("not a progression-model checkpoint"));
  zoo::save_progression(path, m, st, tr.batch.feature_names, 8);
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size / 2);
  REQUIRE_THROWS_AS(zoo::load_progression(path), Error);
  std::filesystem::remove(path);
  REQUIRE_THROWS_AS(zoo::save_progression(path, m, st, {"a"}, 1), Error);
}

TEST_CASE("progression: GRU / last-state model trains and round-trips too", "[progression]") {
  manual_seed(4);
  zoo::ProgressionOptions o = small_options("gru", "last");
  zoo::ProgressionModel m(o);
  randomize(m);
  m.eval();
  data::VisitStandardizer st;
  st.names = {"a", "dt"};
  st.mean = {0.1, 0.2};
  st.std = {1.0 / 3.0, 2.0};
  st.observed = {5, 6};
  const std::vector<std::string> names = {"f0", "f1", "f2", "f3", "f4", "f5", "f6"};
  const std::string path = (std::filesystem::temp_directory_path() / "galen_test_progression_gru.safetensors").string();
  zoo::save_progression(path, m, st, names, 3);
  const zoo::ProgressionBundle b = zoo::load_progression(path);
  std::filesystem::remove(path);
  REQUIRE(b.standardizer.std[0] == 1.0 / 3.0);
  const Tensor x = randn({2, 4, 7});
  const Tensor len = tensor<int64_t>({4, 3});
  NoGradGuard ng;
  REQUIRE(equal(m.forward(x, len).next_value, b.model->forward(x, len).next_value));
  REQUIRE(b.model->state_dict().count("rnn.weight_hh_l0"));
  REQUIRE(b.model->state_dict().at("rnn.weight_hh_l0").sizes() == Shape({18, 6}));  // GRU: 3 gates
}

TEST_CASE("progression: logistic-regression baseline reaches the penalised optimum", "[progression]") {
  manual_seed(5);
  const int64_t n = 200, f = 3;
  const auto xv = randn({n, f}, DType::f64).to_vector<double>();
  const auto uv = rand({n}, DType::f64).to_vector<double>();
  std::vector<std::vector<double>> x;
  std::vector<int> y;
  for (int64_t i = 0; i < n; ++i) {
    x.emplace_back(xv.begin() + i * f, xv.begin() + (i + 1) * f);
    const double z = 0.3 + 1.5 * x.back()[0] - 1.0 * x.back()[1];
    y.push_back(uv[i] < 1.0 / (1.0 + std::exp(-z)) ? 1 : 0);
  }
  const double l2 = 0.05;
  const zoo::pbc::LogisticRegression lr = zoo::pbc::fit_logistic_regression(x, y, l2);
  INFO("iterations " << lr.iters << ", final max |grad| " << lr.grad_max);
  REQUIRE(lr.grad_max < 1e-6);
  // Stationarity, recomputed here: (1/n) X^T (p - y) + l2 w = 0 and mean(p - y) = 0.
  std::vector<double> g(f, 0.0);
  double gb = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double r = lr.predict_proba(x[i].data()) - y[i];
    for (int64_t j = 0; j < f; ++j) g[j] += r * x[i][j] / n;
    gb += r / n;
  }
  for (int64_t j = 0; j < f; ++j) REQUIRE(std::abs(g[j] + l2 * lr.w[j]) < 1e-5);
  REQUIRE(std::abs(gb) < 1e-5);
  REQUIRE(lr.w[0] > 0.5);  // the generating signs
  REQUIRE(lr.w[1] < -0.3);
  REQUIRE_THROWS_AS(zoo::pbc::fit_logistic_regression(x, std::vector<int>(n, 2)), Error);
  REQUIRE_THROWS_AS(zoo::pbc::fit_logistic_regression({}, {}), Error);
  REQUIRE_THROWS_AS(zoo::pbc::fit_logistic_regression({{1.0, 2.0}, {1.0}}, {0, 1}), Error);
}

TEST_CASE("progression: last value carried forward and the PBC targets", "[progression]") {
  // Patient 7: bili 1, NA, 4, 2 (days 0, 100, 200, 300; died day 1000). Patient 8: NA, 3 (censored day 400).
  const std::string csv = pbc_csv(
      {"7,1000,2,0,1.0", "7,1000,2,100,NA", "7,1000,2,200,4.0", "7,1000,2,300,2.0", "8,400,0,0,NA", "8,400,0,50,3.0"});
  const data::LongitudinalData d = data::parse_longitudinal_csv(csv, data::pbc::pbcseq_spec());
  const data::VisitStandardizer st = data::fit_standardizer(d, {0, 1});
  const zoo::pbc::PbcTensors t = zoo::pbc::make_tensors(d, st, {0, 1});
  // Next log-bili known at: p7 v0 (NA next -> unknown), v1 (next 4), v2 (next 2); p8 v0 (next 3).
  REQUIRE(t.next.known.to(DType::i64).to_vector<int64_t>() == std::vector<int64_t>({0, 1, 1, 0, 1, 0, 0, 0}));
  const std::vector<double> lvcf = zoo::pbc::last_value_carried_forward(d, t);
  REQUIRE(lvcf.size() == 3);
  REQUIRE(lvcf[0] == std::log(1.0));  // visit 1 missing: carried from visit 0
  REQUIRE(lvcf[1] == std::log(4.0));
  REQUIRE(lvcf[2] == Approx(st.mean[t.bili_index]).epsilon(1e-15));  // nothing observed yet: training mean
  REQUIRE(st.mean[t.bili_index] == Approx((std::log(1.0) + std::log(4.0) + std::log(2.0) + std::log(3.0)) / 4));
  // Targets in standardised units convert back exactly.
  const auto nv = t.next.values.to(DType::f64).to_vector<double>();
  REQUIRE(nv[1] * t.bili_std + t.bili_mean == Approx(std::log(4.0)).epsilon(1e-6));
  // Two-year outcome: p7 died at day 1000: visits 0, 100, 200 (>= 800 days left, > 730.5: 0), 300 (700 left: 1); p8
  // censored at day 400: unknown everywhere.
  REQUIRE(t.risk.known.to(DType::i64).to_vector<int64_t>() == std::vector<int64_t>({1, 1, 1, 1, 0, 0, 0, 0}));
  REQUIRE(t.risk.values.to(DType::i64).to_vector<int64_t>() == std::vector<int64_t>({0, 0, 0, 1, 0, 0, 0, 0}));
  std::vector<std::vector<double>> rows;
  std::vector<int> labels;
  zoo::pbc::risk_rows(t, rows, labels);
  REQUIRE(rows.size() == 4);
  REQUIRE(labels == std::vector<int>({0, 0, 0, 1}));
  REQUIRE(rows[0].size() == static_cast<size_t>(t.batch.x.size(2)));
  REQUIRE_THROWS_AS(zoo::pbc::make_tensors(d, st, {}), Error);
}

TEST_CASE("progression: cross-validation folds cover every patient once and are seeded", "[progression]") {
  const data::LongitudinalData d = data::read_longitudinal_csv(pbcseq_path(), data::pbc::pbcseq_spec());
  zoo::pbc::CvOptions o;
  o.folds = 3;
  o.seed = 7;
  o.train.epochs = 1;
  o.verbose = false;
  o.progress = false;
  o.model.hidden_size = 8;
  const zoo::pbc::CvResult a = zoo::pbc::cross_validate(d, o), b = zoo::pbc::cross_validate(d, o);
  REQUIRE(a.folds.size() == 3);
  int64_t test = 0, risk_visits = 0;
  for (size_t f = 0; f < 3; ++f) {
    test += a.folds[f].test_patients;
    risk_visits += a.folds[f].risk_visits;
    REQUIRE(a.folds[f].train_patients + a.folds[f].test_patients == d.num_patients());
    REQUIRE(a.folds[f].auc_model == b.folds[f].auc_model);  // same seed, same result
    REQUIRE(a.folds[f].auc_logreg == b.folds[f].auc_logreg);
    REQUIRE(a.folds[f].mae_lvcf == b.folds[f].mae_lvcf);
    REQUIRE(a.folds[f].auc_logreg > 0.75);  // the latest labs predict 2-year outcome well on PBC
    REQUIRE(a.folds[f].mae_lvcf > 0.2);
    REQUIRE(a.folds[f].mae_lvcf < 0.5);
  }
  REQUIRE(test == d.num_patients());
  // All visits with a known 2-year outcome are scored exactly once.
  std::vector<int64_t> all(static_cast<size_t>(d.num_patients()));
  for (int64_t i = 0; i < d.num_patients(); ++i) all[static_cast<size_t>(i)] = i;
  const auto known = data::pbc::event_within_targets(d, all).known.to(DType::i64).sum().item();
  REQUIRE(risk_visits == static_cast<int64_t>(known));
  o.folds = 1;
  REQUIRE_THROWS_AS(zoo::pbc::cross_validate(d, o), Error);
}

TEST_CASE("progression: bad input is a clear error", "[progression]") {
  auto make = [](auto mutate) {
    zoo::ProgressionOptions o = small_options("lstm", "attention");
    mutate(o);
    return std::make_shared<zoo::ProgressionModel>(o);
  };
  REQUIRE_THROWS_WITH(make([](auto& o) { o.cell = "rnn"; }), Catch::Contains("cell must be"));
  REQUIRE_THROWS_WITH(make([](auto& o) { o.head = "mean"; }), Catch::Contains("head must be"));
  REQUIRE_THROWS_AS(make([](auto& o) { o.input_size = 0; }), Error);
  REQUIRE_THROWS_AS(make([](auto& o) { o.skip_feature = 7; }), Error);
  REQUIRE_THROWS_AS(make([](auto& o) { o.head_dropout = 1.0; }), Error);
  zoo::ProgressionModel m(small_options("lstm", "attention"));
  REQUIRE_THROWS_WITH(m.forward(randn({2, 3, 6}), Tensor()), Catch::Contains("x must be floating (B, T, 7)"));
  REQUIRE_THROWS_AS(m.forward(randn({2, 3}), Tensor()), Error);
  REQUIRE_THROWS_AS(m.forward(randint(0, 3, {2, 3, 7}), Tensor()), Error);
  REQUIRE_THROWS_WITH(m.forward(randn({2, 3, 7}), tensor<int64_t>({3, 4})), Catch::Contains("outside [1, T = 3]"));
  REQUIRE_THROWS_AS(m.forward(randn({2, 3, 7}), tensor<int64_t>({3, 0})), Error);
  REQUIRE_THROWS_AS(m.forward(randn({2, 3, 7}), tensor<int64_t>({3})), Error);
  REQUIRE_THROWS_AS(m.forward(randn({2, 3, 7}), tensor<float>({3, 2})), Error);
  REQUIRE_THROWS_AS(zoo::load_progression("/nonexistent/galen_progression.safetensors"), Error);
}

TEST_CASE("progression: CUDA forward and training step match the CPU", "[progression][cuda]") {
  GALEN_REQUIRE_CUDA();
  for (const std::string head : {"attention", "last"}) {
    manual_seed(6);
    zoo::ProgressionModel cpu(small_options("lstm", head)), gpu(small_options("lstm", head));
    randomize(cpu);
    gpu.load_state_dict(cpu.state_dict());
    gpu.to(Device::parse("cuda"));
    cpu.eval();
    gpu.eval();
    const Tensor x = randn({4, 5, 7});
    const Tensor len = tensor<int64_t>({5, 1, 3, 4});
    const zoo::ProgressionOutput a = cpu.forward(x, len), b = gpu.forward(x.cuda(), len);
    REQUIRE_CLOSE(b.risk_logits.cpu(), a.risk_logits, 1e-5, 1e-4);
    REQUIRE_CLOSE(b.next_value.cpu(), a.next_value, 1e-5, 1e-4);
    const Tensor rt = zeros({4, 5}), known = ones({4, 5}, DType::boolean);
    zoo::progression_loss(a, rt, known, rt, known).total.backward();
    zoo::progression_loss(b, rt.cuda(), known.cuda(), rt.cuda(), known.cuda()).total.backward();
    REQUIRE_CLOSE(gpu.risk_head->weight.grad().cpu(), cpu.risk_head->weight.grad(), 1e-5, 1e-4);
  }
}
