// Disease-progression model (recurrent encoder + per-visit risk and next-value heads), its checkpoint format and
// the PBC cross-validation recipe with its baselines. See progression.h for the design.
#include "galen/zoo/progression.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "galen/core/autograd.h"
#include "galen/core/error.h"
#include "galen/core/json.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/data/checkpoint.h"
#include "galen/data/generator.h"
#include "galen/data/progress.h"
#include "galen/eval/metrics.h"
#include "galen/optim/adam.h"
#include "galen/optim/clip.h"

namespace galen::zoo {

// ---- model ---------------------------------------------------------------------------------------------------

ProgressionModel::ProgressionModel(const ProgressionOptions& o) : options_(o) {
  GALEN_CHECK(o.input_size > 0, "ProgressionModel: input_size must be > 0, got ", o.input_size);
  GALEN_CHECK(o.hidden_size > 0, "ProgressionModel: hidden_size must be > 0, got ", o.hidden_size);
  GALEN_CHECK(o.num_layers >= 1, "ProgressionModel: num_layers must be >= 1, got ", o.num_layers);
  GALEN_CHECK(o.cell == "lstm" || o.cell == "gru", "ProgressionModel: cell must be 'lstm' or 'gru', got '", o.cell,
              "'");
  GALEN_CHECK(o.head == "attention" || o.head == "last", "ProgressionModel: head must be 'attention' or 'last', got '",
              o.head, "'");
  GALEN_CHECK(o.skip_feature >= -1 && o.skip_feature < o.input_size, "ProgressionModel: skip_feature ", o.skip_feature,
              " is outside [-1, input_size = ", o.input_size, ")");
  GALEN_CHECK(o.head != "attention" || o.attn_hidden > 0, "ProgressionModel: attn_hidden must be > 0, got ",
              o.attn_hidden);
  nn::RnnOptions ro;
  ro.num_layers = o.num_layers;
  ro.batch_first = true;
  ro.dropout = o.dropout;
  if (o.cell == "lstm")
    rnn = register_module("rnn", std::make_shared<nn::LSTM>(o.input_size, o.hidden_size, ro));
  else
    rnn = register_module("rnn", std::make_shared<nn::GRU>(o.input_size, o.hidden_size, ro));
  int64_t d = o.hidden_size;
  if (o.head == "attention") {
    pool = register_module("pool", std::make_shared<nn::AttentionPooling>(o.hidden_size, o.attn_hidden));
    d = 2 * o.hidden_size;
  }
  GALEN_CHECK(o.head_dropout >= 0 && o.head_dropout < 1, "ProgressionModel: head_dropout must be in [0, 1), got ",
              o.head_dropout);
  drop = register_module("drop", std::make_shared<nn::Dropout>(o.head_dropout));
  risk_head = register_module("risk_head", std::make_shared<nn::Linear>(d, 1));
  value_head = register_module("value_head", std::make_shared<nn::Linear>(d, 1));
  if (o.skip_feature >= 0) {  // start from the carried-forward value
    NoGradGuard ng;
    value_head->weight.zero_();
    value_head->bias.zero_();
  }
}

std::string ProgressionModel::extra_repr() const {
  return "cell=" + options_.cell + ", head=" + options_.head +
         ", skip_feature=" + std::to_string(options_.skip_feature);
}

ProgressionOutput ProgressionModel::forward(const Tensor& x, const Tensor& lengths) {
  GALEN_CHECK(x.defined() && x.dim() == 3 && x.size(2) == options_.input_size && is_floating(x.dtype()),
              "ProgressionModel: x must be floating (B, T, ", options_.input_size, "), got ",
              x.defined() ? x.sizes() : Shape{}, x.defined() ? std::string(" ") + dtype_name(x.dtype()) : "");
  const int64_t B = x.size(0), T = x.size(1);
  GALEN_CHECK(B >= 1 && T >= 1, "ProgressionModel: x must have at least one sequence and one step, got ", x.sizes());
  Tensor len_cpu;
  if (lengths.defined()) {
    GALEN_CHECK(lengths.dim() == 1 && lengths.size(0) == B && !is_floating(lengths.dtype()) &&
                    lengths.dtype() != DType::boolean,
                "ProgressionModel: lengths must be a (B) = (", B, ") integer tensor, got ", lengths.sizes(), " ",
                dtype_name(lengths.dtype()));
    len_cpu = lengths.cpu().to(DType::i64).contiguous();
    for (int64_t v : len_cpu.to_vector<int64_t>())
      GALEN_CHECK(v >= 1 && v <= T, "ProgressionModel: a length ", v, " is outside [1, T = ", T, "]");
  } else {
    len_cpu = full({B}, static_cast<double>(T), DType::i64);
  }
  Tensor h;  // (B, T, H), 0 on padding
  if (options_.cell == "lstm")
    h = std::static_pointer_cast<nn::LSTM>(rnn)->forward(x, Tensor(), Tensor(), len_cpu).output;
  else
    h = std::static_pointer_cast<nn::GRU>(rnn)->forward(x, Tensor(), len_cpu).output;

  const TensorOptions iopt(DType::i64, x.device());
  const Tensor steps = arange(T, iopt);                         // (T)
  const Tensor len = len_cpu.to(x.device());                    // (B)
  const Tensor pad = ge(steps.unsqueeze(0), len.unsqueeze(1));  // (B, T) true on padding
  ProgressionOutput out;
  Tensor feat = h;
  if (options_.head == "attention") {
    // Scores depend on the key step only, so one (B, T) score row serves every query step t; step t may attend to
    // j <= t (causal) with j < length (real visits). j = 0 is always allowed, so no row is empty.
    Tensor scores = pool->v->forward(galen::tanh(pool->proj->forward(h))).squeeze(2);  // (B, T)
    const Tensor future = gt(steps.unsqueeze(0), steps.unsqueeze(1));                  // (T, T) [t, j] = j > t
    const Tensor banned = gt(add(future.unsqueeze(0).to(DType::i64), pad.unsqueeze(1).to(DType::i64)), 0.0);
    Tensor s = masked_fill(scores.unsqueeze(1).expand({B, T, T}), banned.expand({B, T, T}),
                           -std::numeric_limits<double>::infinity());
    out.attention = softmax(s, 2);           // (B, T, T)
    Tensor context = bmm(out.attention, h);  // (B, T, H)
    feat = cat({h, context}, 2);             // (B, T, 2H)
  }
  feat = drop->forward(feat);
  Tensor risk = risk_head->forward(feat).squeeze(2);    // (B, T)
  Tensor value = value_head->forward(feat).squeeze(2);  // (B, T)
  if (options_.skip_feature >= 0) value = add(value, x.select(2, options_.skip_feature));
  out.risk_logits = masked_fill(risk, pad, 0.0);
  out.next_value = masked_fill(value, pad, 0.0);
  return out;
}

ProgressionLoss progression_loss(const ProgressionOutput& out, const Tensor& risk_target, const Tensor& risk_known,
                                 const Tensor& value_target, const Tensor& value_known, double value_weight) {
  const Shape& s = out.risk_logits.sizes();
  auto check = [&](const Tensor& t, const char* what, bool is_bool) {
    GALEN_CHECK(t.defined() && t.sizes() == s && (is_bool ? t.dtype() == DType::boolean : is_floating(t.dtype())),
                "progression_loss: ", what, " must be ", is_bool ? "bool " : "floating ", shape_str(s), ", got ",
                t.defined() ? shape_str(t.sizes()) + " " + dtype_name(t.dtype()) : std::string("undefined"));
  };
  check(risk_target, "risk_target", false);
  check(risk_known, "risk_known", true);
  check(value_target, "value_target", false);
  check(value_known, "value_known", true);
  const DType dt = out.risk_logits.dtype();
  const Tensor rk = risk_known.to(dt), vk = value_known.to(dt);
  const Tensor bce =
      binary_cross_entropy_with_logits(out.risk_logits, risk_target.to(dt), Tensor(), Tensor(), Reduction::None);
  ProgressionLoss l;
  l.risk = div(sum(mul(bce, rk)), clamp(sum(rk), 1.0, std::nullopt));
  const Tensor err = sub(out.next_value, value_target.to(dt));
  l.value = div(sum(mul(mul(err, err), vk)), clamp(sum(vk), 1.0, std::nullopt));
  l.total = add(l.risk, mul(l.value, value_weight));
  return l;
}

// ---- checkpoint ----------------------------------------------------------------------------------------------

namespace {

json::Value doubles(const std::vector<double>& v) {
  json::Array a;
  for (double x : v) a.emplace_back(x);
  return json::Value(std::move(a));
}
json::Value strings(const std::vector<std::string>& v) {
  json::Array a;
  for (const auto& x : v) a.emplace_back(x);
  return json::Value(std::move(a));
}
const json::Value& member(const json::Value& o, const char* key) {
  const json::Value* v = o.find(key);
  GALEN_CHECK(v != nullptr, "metadata has no \"", key, "\"");
  return *v;
}
std::vector<double> read_doubles(const json::Value& v) {
  std::vector<double> out;
  for (const auto& x : v.as_array()) out.push_back(x.as_double());
  return out;
}
std::vector<std::string> read_strings(const json::Value& v) {
  std::vector<std::string> out;
  for (const auto& x : v.as_array()) out.push_back(x.as_string());
  return out;
}

}  // namespace

void save_progression(const std::string& path, const ProgressionModel& model, const data::VisitStandardizer& st,
                      const std::vector<std::string>& feature_names, int64_t epochs, const std::string& user_json) {
  const ProgressionOptions& o = model.options();
  GALEN_CHECK(static_cast<int64_t>(feature_names.size()) == o.input_size, "save_progression: ", feature_names.size(),
              " feature names for a model with input_size ", o.input_size);
  GALEN_CHECK(st.mean.size() == st.names.size() && st.std.size() == st.names.size(),
              "save_progression: standardizer has inconsistent sizes");
  json::Value meta;
  meta["model"] = "galen.progression";
  json::Value& jo = meta["options"];
  jo["input_size"] = o.input_size;
  jo["hidden_size"] = o.hidden_size;
  jo["num_layers"] = o.num_layers;
  jo["cell"] = o.cell;
  jo["head"] = o.head;
  jo["attn_hidden"] = o.attn_hidden;
  jo["dropout"] = o.dropout;
  jo["head_dropout"] = o.head_dropout;
  jo["skip_feature"] = o.skip_feature;
  json::Value& js = meta["standardizer"];
  js["names"] = strings(st.names);
  js["mean"] = doubles(st.mean);
  js["std"] = doubles(st.std);
  json::Array obs;
  for (int64_t n : st.observed) obs.emplace_back(n);
  js["observed"] = json::Value(std::move(obs));
  meta["features"] = strings(feature_names);
  meta["user"] = json::parse(user_json);
  data::Checkpoint ck;
  for (const auto& [k, v] : model.state_dict()) ck.model[k] = v.cpu();
  ck.epoch = epochs;
  ck.rng = get_rng_state();
  ck.metadata = json::write(meta);
  data::save_checkpoint(path, ck);
}

ProgressionBundle load_progression(const std::string& path) {
  data::Checkpoint ck = data::load_checkpoint(path);
  ProgressionBundle b;
  try {
    const json::Value meta = json::parse(ck.metadata);
    GALEN_CHECK(meta.is_object() && meta.find("model") && meta.find("model")->is_string() &&
                    meta.find("model")->as_string() == "galen.progression",
                "not a progression-model checkpoint (metadata \"model\" is not \"galen.progression\")");
    const json::Value& jo = member(meta, "options");
    ProgressionOptions o;
    o.input_size = member(jo, "input_size").as_int();
    o.hidden_size = member(jo, "hidden_size").as_int();
    o.num_layers = member(jo, "num_layers").as_int();
    o.cell = member(jo, "cell").as_string();
    o.head = member(jo, "head").as_string();
    o.attn_hidden = member(jo, "attn_hidden").as_int();
    o.dropout = member(jo, "dropout").as_double();
    o.head_dropout = member(jo, "head_dropout").as_double();
    o.skip_feature = member(jo, "skip_feature").as_int();
    const json::Value& js = member(meta, "standardizer");
    b.standardizer.names = read_strings(member(js, "names"));
    b.standardizer.mean = read_doubles(member(js, "mean"));
    b.standardizer.std = read_doubles(member(js, "std"));
    for (const auto& x : member(js, "observed").as_array()) b.standardizer.observed.push_back(x.as_int());
    const size_t n = b.standardizer.names.size();
    GALEN_CHECK(
        b.standardizer.mean.size() == n && b.standardizer.std.size() == n && b.standardizer.observed.size() == n,
        "standardizer names / mean / std / observed have different lengths");
    b.feature_names = read_strings(member(meta, "features"));
    GALEN_CHECK(static_cast<int64_t>(b.feature_names.size()) == o.input_size, "metadata lists ", b.feature_names.size(),
                " features for input_size ", o.input_size);
    if (const json::Value* u = meta.find("user")) b.user_json = json::write(*u);
    b.model = std::make_shared<ProgressionModel>(o);
    b.model->load_state_dict(ck.model);
  } catch (const Error& e) {
    GALEN_FAIL("load_progression: '", path, "': ", e.what());
  }
  b.model->eval();
  return b;
}

// ---- PBC recipe ----------------------------------------------------------------------------------------------

namespace pbc {

PbcTensors make_tensors(const data::LongitudinalData& d, const data::VisitStandardizer& st,
                        const std::vector<int64_t>& patients) {
  GALEN_CHECK(!patients.empty(), "pbc::make_tensors: no patients");
  PbcTensors t;
  t.batch = data::make_sequence_batch(d, st, patients);
  t.risk = data::pbc::event_within_targets(d, patients);
  t.next = data::pbc::next_log_bili_targets(d, patients);
  t.bili_index = d.feature_index("bili");
  GALEN_CHECK(t.batch.feature_names.at(t.bili_index) == "bili" && st.names.at(t.bili_index) == "bili",
              "pbc::make_tensors: input ", t.bili_index, " is not 'bili'");
  GALEN_CHECK(d.spec().log_features.count("bili"), "pbc::make_tensors: 'bili' must be a logged feature");
  t.bili_mean = st.mean[t.bili_index];
  t.bili_std = st.std[t.bili_index];
  t.next.values = where(t.next.known, div(sub(t.next.values, t.bili_mean), t.bili_std), 0.0);
  return t;
}

namespace {

struct DeviceTensors {
  Tensor x, lengths, risk, risk_known, next, next_known;
};
DeviceTensors to_device(const PbcTensors& t, Device dev) {
  return {t.batch.x.to(dev),    t.batch.lengths,       t.risk.values.to(dev),
          t.risk.known.to(dev), t.next.values.to(dev), t.next.known.to(dev)};
}

}  // namespace

std::vector<double> train(ProgressionModel& model, const PbcTensors& t, const TrainOptions& o,
                          data::Progress* progress) {
  GALEN_CHECK(o.epochs >= 0 && o.batch_size >= 1, "pbc::train: need epochs >= 0 and batch_size >= 1, got ", o.epochs,
              " and ", o.batch_size);
  const DeviceTensors all = to_device(t, o.device);
  const int64_t B = all.x.size(0);
  const auto lengths = t.batch.lengths.to_vector<int64_t>();
  optim::AdamOptions ao;
  ao.lr = o.lr;
  ao.weight_decay = o.weight_decay;
  optim::AdamW opt(model.parameters(), ao);
  model.train();
  std::vector<double> losses;
  for (int64_t e = 0; e < o.epochs; ++e) {
    if (progress) progress->start_epoch(e);
    const std::vector<int64_t> order = data::permutation(B, o.seed * 1000003ULL + static_cast<uint64_t>(e));
    double sum_loss = 0;
    int64_t steps = 0;
    for (int64_t s = 0; s < B; s += o.batch_size) {
      const int64_t n = std::min(o.batch_size, B - s);
      std::vector<int64_t> idx(order.begin() + s, order.begin() + s + n);
      int64_t tmax = 1;
      for (int64_t i : idx) tmax = std::max(tmax, lengths[i]);
      const Tensor ic = from_vector<int64_t>(idx, {n});
      const Tensor id = ic.to(o.device);
      auto rows = [&](const Tensor& v) { return index_select(v, 0, id).narrow(1, 0, tmax); };
      const Tensor x = rows(all.x);
      const Tensor len = index_select(all.lengths, 0, ic);
      ProgressionOutput out = model.forward(x, len);
      ProgressionLoss l = progression_loss(out, rows(all.risk), rows(all.risk_known), rows(all.next),
                                           rows(all.next_known), o.value_weight);
      opt.zero_grad();
      l.total.backward();
      if (o.clip_norm > 0) optim::clip_grad_norm_(model.parameters(), o.clip_norm);
      opt.step();
      const double lv = l.total.item();
      sum_loss += lv;
      ++steps;
      if (progress) progress->step(lv, n);
    }
    losses.push_back(steps ? sum_loss / static_cast<double>(steps) : 0.0);
    if (progress) progress->end_epoch();
  }
  model.eval();
  return losses;
}

Predictions predict(ProgressionModel& model, const PbcTensors& t, Device device) {
  NoGradGuard ng;
  const bool was_training = model.is_training();
  model.eval();
  const DeviceTensors dt = to_device(t, device);
  ProgressionOutput out = model.forward(dt.x, dt.lengths);
  if (was_training) model.train();
  const auto risk = sigmoid(out.risk_logits).cpu().to(DType::f64).to_vector<double>();
  const auto next = out.next_value.cpu().to(DType::f64).to_vector<double>();
  const auto rk = t.risk.known.to_vector<bool>(), nk = t.next.known.to_vector<bool>();
  const auto rv = t.risk.values.to(DType::f64).to_vector<double>();
  const auto nv = t.next.values.to(DType::f64).to_vector<double>();
  Predictions p;
  for (size_t i = 0; i < risk.size(); ++i) {
    if (rk[i]) {
      p.risk.push_back(risk[i]);
      p.risk_label.push_back(rv[i] > 0.5 ? 1 : 0);
    }
    if (nk[i]) {
      p.next.push_back(next[i] * t.bili_std + t.bili_mean);
      p.next_true.push_back(nv[i] * t.bili_std + t.bili_mean);
    }
  }
  return p;
}

double LogisticRegression::predict_proba(const double* x) const {
  double z = b;
  for (size_t j = 0; j < w.size(); ++j) z += w[j] * x[j];
  return 1.0 / (1.0 + std::exp(-z));
}

LogisticRegression fit_logistic_regression(const std::vector<std::vector<double>>& x, const std::vector<int>& y,
                                           double l2, int64_t max_iters) {
  GALEN_CHECK(!x.empty() && x.size() == y.size(), "fit_logistic_regression: need as many labels as rows (>= 1), got ",
              x.size(), " rows and ", y.size(), " labels");
  GALEN_CHECK(l2 >= 0 && max_iters >= 1, "fit_logistic_regression: need l2 >= 0 and max_iters >= 1");
  const int64_t n = static_cast<int64_t>(x.size()), f = static_cast<int64_t>(x[0].size());
  std::vector<double> flat;
  flat.reserve(static_cast<size_t>(n * f));
  for (const auto& r : x) {
    GALEN_CHECK(static_cast<int64_t>(r.size()) == f, "fit_logistic_regression: rows have different lengths");
    flat.insert(flat.end(), r.begin(), r.end());
  }
  std::vector<double> yd;
  for (int v : y) {
    GALEN_CHECK(v == 0 || v == 1, "fit_logistic_regression: labels must be 0 or 1, got ", v);
    yd.push_back(v);
  }
  const Tensor X = from_vector<double>(flat, {n, f}), Y = from_vector<double>(yd, {n});
  Tensor w = zeros({f}, DType::f64).requires_grad_();
  Tensor b = zeros({1}, DType::f64).requires_grad_();
  optim::Adam opt({w, b}, optim::AdamOptions{0.05});
  LogisticRegression m;
  for (m.iters = 0; m.iters < max_iters; ++m.iters) {
    opt.zero_grad();
    Tensor loss = add(binary_cross_entropy_with_logits(add(matmul(X, w), b), Y), mul(sum(mul(w, w)), 0.5 * l2));
    loss.backward();
    m.grad_max = std::max(amax(abs(w.grad())).item(), std::abs(b.grad().item()));
    if (m.grad_max < 1e-6) break;
    opt.step();
  }
  m.w = w.detach().to_vector<double>();
  m.b = b.detach().item();
  return m;
}

void risk_rows(const PbcTensors& t, std::vector<std::vector<double>>& x, std::vector<int>& y) {
  const Tensor xs = t.batch.x.cpu().to(DType::f64).contiguous();
  const int64_t B = xs.size(0), T = xs.size(1), F = xs.size(2);
  const auto xv = xs.to_vector<double>();
  const auto known = t.risk.known.to_vector<bool>();
  const auto val = t.risk.values.to(DType::f64).to_vector<double>();
  x.clear();
  y.clear();
  for (int64_t i = 0; i < B * T; ++i) {
    if (!known[i]) continue;
    x.emplace_back(xv.begin() + i * F, xv.begin() + (i + 1) * F);
    y.push_back(val[i] > 0.5 ? 1 : 0);
  }
}

std::vector<double> last_value_carried_forward(const data::LongitudinalData& d, const PbcTensors& t) {
  const int64_t T = t.next.known.size(1);
  const auto known = t.next.known.to_vector<bool>();
  std::vector<double> out;
  for (size_t b = 0; b < t.batch.patients.size(); ++b) {
    const data::PatientSequence& p = d.patient(t.batch.patients[b]);
    double last = t.bili_mean;  // no observation yet: the training mean
    for (int64_t v = 0; v < p.num_visits() && v < T; ++v) {
      const double cur = p.features[v][t.bili_index];
      if (!std::isnan(cur)) last = cur;
      if (known[b * T + v]) out.push_back(last);
    }
  }
  return out;
}

std::pair<double, double> mean_sd(const std::vector<double>& v) {
  if (v.empty()) return {std::nan(""), std::nan("")};
  double m = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  if (v.size() < 2) return {m, 0.0};
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / static_cast<double>(v.size() - 1))};
}

namespace {
double mae(const std::vector<double>& a, const std::vector<double>& b) {
  GALEN_CHECK(a.size() == b.size() && !a.empty(), "mae: sizes ", a.size(), " and ", b.size());
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::abs(a[i] - b[i]);
  return s / static_cast<double>(a.size());
}
}  // namespace

CvResult cross_validate(const data::LongitudinalData& d, const CvOptions& o) {
  GALEN_CHECK(o.folds >= 2 && o.folds <= d.num_patients(), "pbc::cross_validate: folds must be in [2, ",
              d.num_patients(), "], got ", o.folds);
  const auto folds = data::kfold_patients(d.num_patients(), o.folds, o.seed);
  CvResult r;
  for (int64_t f = 0; f < o.folds; ++f) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int64_t> train_ids = data::kfold_train(folds, f);
    const std::vector<int64_t>& test_ids = folds[f];
    const data::VisitStandardizer st = data::fit_standardizer(d, train_ids);
    const PbcTensors tr = make_tensors(d, st, train_ids), te = make_tensors(d, st, test_ids);

    ProgressionOptions mo = o.model;
    mo.input_size = tr.batch.x.size(2);
    mo.skip_feature = tr.bili_index;
    manual_seed(o.seed * 1000 + static_cast<uint64_t>(f));
    auto model = std::make_shared<ProgressionModel>(mo);
    model->to(o.train.device);
    TrainOptions to = o.train;
    to.seed = o.seed * 1000 + static_cast<uint64_t>(f);
    std::unique_ptr<data::Progress> bar;
    if (o.progress) {
      data::ProgressOptions po;
      po.unit = "patients";
      bar = std::make_unique<data::Progress>(to.epochs, (tr.batch.x.size(0) + to.batch_size - 1) / to.batch_size, po);
    }
    const std::vector<double> losses = train(*model, tr, to, bar.get());
    bar.reset();
    const Predictions p = predict(*model, te, o.train.device);

    std::vector<std::vector<double>> xr, xe;
    std::vector<int> yr, ye;
    risk_rows(tr, xr, yr);
    risk_rows(te, xe, ye);
    const LogisticRegression lr = fit_logistic_regression(xr, yr, o.lr_l2);
    std::vector<double> lr_scores;
    for (const auto& row : xe) lr_scores.push_back(lr.predict_proba(row.data()));
    GALEN_CHECK(ye == p.risk_label, "pbc::cross_validate: model and baseline visits differ");
    const std::vector<double> lvcf = last_value_carried_forward(d, te);

    FoldResult fr;
    fr.train_patients = static_cast<int64_t>(train_ids.size());
    fr.test_patients = static_cast<int64_t>(test_ids.size());
    fr.risk_visits = static_cast<int64_t>(p.risk.size());
    for (int v : p.risk_label) fr.risk_events += v;
    fr.next_visits = static_cast<int64_t>(p.next.size());
    fr.auc_model = eval::roc_auc(p.risk, p.risk_label);
    fr.auc_logreg = eval::roc_auc(lr_scores, ye);
    fr.mae_model = mae(p.next, p.next_true);
    fr.mae_lvcf = mae(lvcf, p.next_true);
    fr.final_loss = losses.empty() ? 0.0 : losses.back();
    fr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (o.verbose)
      std::printf(
          "fold %lld/%lld: %lld train / %lld test patients; %lld visits with 2-year outcome (%lld events), %lld with a "
          "next bilirubin | AUROC model %.3f, logistic %.3f | MAE model %.3f, LVCF %.3f | %.1f s\n",
          static_cast<long long>(f + 1), static_cast<long long>(o.folds), static_cast<long long>(fr.train_patients),
          static_cast<long long>(fr.test_patients), static_cast<long long>(fr.risk_visits),
          static_cast<long long>(fr.risk_events), static_cast<long long>(fr.next_visits), fr.auc_model, fr.auc_logreg,
          fr.mae_model, fr.mae_lvcf, fr.seconds);
    std::fflush(stdout);
    r.folds.push_back(fr);
  }
  return r;
}

}  // namespace pbc

}  // namespace galen::zoo
