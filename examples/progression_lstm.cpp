// Disease progression on the Mayo PBC follow-up records (data/files/pbcseq.csv): an LSTM / GRU over each patient's
// visits predicts, after every visit, (1) death or transplant within 2 years and (2) the next visit's
// log-bilirubin (zoo/progression.h).
//
// train (default): patient-level K-fold cross-validation (seeded; standardisation fitted on each training fold)
// of the model and, on the same folds, the baselines -- L2 logistic regression on the latest visit for task 1, last
// value carried forward for task 2 -- printing AUROC (mean ± sd over folds) and MAE; then trains a final model on
// all patients and saves it (model + standardiser + options) as a checkpoint.
// predict: reads one patient's visits (a CSV in the same long format; futime / status not needed) and a checkpoint,
// prints the 2-year risk after each visit and the predicted next log-bilirubin.
//
//   ./build/examples/progression_lstm [--epochs 40] [--cell lstm|gru] [--head attention|last] [--device cpu]
//   ./build/examples/progression_lstm predict --checkpoint progression.ckpt.safetensors --visits patient.csv
#include <galen/core/json.h>
#include <galen/galen.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

using namespace galen;

namespace {

void usage(const char* argv0) {
  std::printf(
      "usage: %s [train] [--data CSV] [--device cpu|cuda] [--cell lstm|gru] [--head attention|last]\n"
      "          [--epochs N] [--hidden H] [--batch B] [--lr LR] [--wd WD] [--dropout P] [--folds K] [--seed S]\n"
      "          [--threads T] [--checkpoint PATH] [--no-final] [--quiet]\n"
      "       %s predict --visits CSV [--checkpoint PATH] [--patient ID] [--device cpu|cuda]\n"
      "\n"
      "train: K-fold (default 5) patient-level cross-validation on the PBC records of CSV (default\n"
      "  data/files/pbcseq.csv), model vs baselines, then a final model on all patients saved to PATH\n"
      "  (default progression.ckpt.safetensors; --no-final skips it; --folds 0 skips the cross-validation).\n"
      "  Defaults: --cell lstm --head attention --epochs 40 --hidden 32 --batch 32 --lr 0.001 --wd 1e-4\n"
      "  --dropout 0.2 (on the heads' input) --seed 0 --threads 1 (0 = galen's default; the model's ops are\n"
      "  tiny, so more threads rarely pay).\n"
      "predict: CSV holds one patient's visits in the same long format (columns id, day and the features\n"
      "  trt age sex ascites hepato spiders edema bili chol albumin alk.phos ast platelet protime stage;\n"
      "  NA = missing). With several patients in CSV, --patient picks one.\n",
      argv0, argv0);
}

struct Args {
  std::string mode = "train";
  std::string data;
  std::string device = "cpu";
  std::string cell = "lstm", head = "attention";
  int64_t epochs = 40, hidden = 32, batch = 32, folds = 5;
  double lr = 1e-3, wd = -1, dropout = -1;
  uint64_t seed = 0;
  int threads = 1;  // the model's ops are tiny (batch <= 32, hidden 32): threads cost more than they give
  std::string checkpoint = "progression.ckpt.safetensors";
  std::string visits, patient;
  bool final_model = true, quiet = false;
};

std::string find_data(const std::string& given) {
  if (!given.empty()) {
    GALEN_CHECK(std::filesystem::exists(given), "data file '", given, "' does not exist");
    return given;
  }
  for (const char* c : {"data/files/pbcseq.csv", "../data/files/pbcseq.csv", "../../data/files/pbcseq.csv"})
    if (std::filesystem::exists(c)) return c;
  GALEN_FAIL("data/files/pbcseq.csv not found from the current directory; pass --data PATH/TO/pbcseq.csv");
}

int train(const Args& a) {
  const Device dev = Device::parse(a.device);
  const std::string path = find_data(a.data);
  const data::LongitudinalData d = data::read_longitudinal_csv(path, data::pbc::pbcseq_spec());
  std::printf("data: %s: %lld patients, %lld visits (1-%lld per patient); device %s, %d threads\n", path.c_str(),
              static_cast<long long>(d.num_patients()), static_cast<long long>(d.num_visits()),
              static_cast<long long>(d.max_visits()), dev.str().c_str(), get_num_threads());

  zoo::pbc::CvOptions o;
  o.folds = a.folds;
  o.seed = a.seed;
  o.model.cell = a.cell;
  o.model.head = a.head;
  o.model.hidden_size = a.hidden;
  o.train.epochs = a.epochs;
  o.train.batch_size = a.batch;
  o.train.lr = a.lr;
  if (a.wd >= 0) o.train.weight_decay = a.wd;
  if (a.dropout >= 0) o.model.head_dropout = a.dropout;
  o.train.device = dev;
  o.progress = !a.quiet;
  std::printf("model: %s encoder (hidden %lld), %s head; AdamW lr %g, wd %g, %lld epochs, batch %lld patients\n",
              a.cell.c_str(), static_cast<long long>(a.hidden), a.head.c_str(), a.lr, o.train.weight_decay,
              static_cast<long long>(a.epochs), static_cast<long long>(a.batch));
  const auto t0 = std::chrono::steady_clock::now();
  if (a.folds > 0) {
    const zoo::pbc::CvResult r = zoo::pbc::cross_validate(d, o);
    std::vector<double> am, al, mm, ml;
    for (const auto& f : r.folds) {
      am.push_back(f.auc_model);
      al.push_back(f.auc_logreg);
      mm.push_back(f.mae_model);
      ml.push_back(f.mae_lvcf);
    }
    auto show = [](const char* what, const std::vector<double>& v) {
      const auto [m, s] = zoo::pbc::mean_sd(v);
      std::printf("  %-44s %.3f ± %.3f\n", what, m, s);
    };
    std::printf("%lld-fold patient-level cross-validation (seed %llu), mean ± sd over folds:\n",
                static_cast<long long>(a.folds), static_cast<unsigned long long>(a.seed));
    show("task 1 AUROC, 2-year death/transplant: model", am);
    show("task 1 AUROC, logistic regression (latest)", al);
    show("task 2 MAE, next log-bilirubin: model", mm);
    show("task 2 MAE, last value carried forward", ml);
    std::printf("cross-validation time %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (a.final_model) {
    std::vector<int64_t> all(static_cast<size_t>(d.num_patients()));
    for (int64_t i = 0; i < d.num_patients(); ++i) all[static_cast<size_t>(i)] = i;
    const data::VisitStandardizer st = data::fit_standardizer(d, all);
    const zoo::pbc::PbcTensors t = zoo::pbc::make_tensors(d, st, all);
    zoo::ProgressionOptions mo = o.model;
    mo.input_size = t.batch.x.size(2);
    mo.skip_feature = t.bili_index;
    manual_seed(a.seed);
    zoo::ProgressionModel model(mo);
    model.to(dev);
    zoo::pbc::TrainOptions to = o.train;
    to.seed = a.seed;
    std::printf("final model on all %lld patients:\n", static_cast<long long>(d.num_patients()));
    data::ProgressOptions po;
    po.unit = "patients";
    std::unique_ptr<data::Progress> bar;
    if (!a.quiet)
      bar = std::make_unique<data::Progress>(to.epochs, (d.num_patients() + to.batch_size - 1) / to.batch_size, po);
    const auto losses = zoo::pbc::train(model, t, to, bar.get());
    bar.reset();
    json::Value user;
    user["data"] = std::filesystem::path(path).filename().string();
    user["epochs"] = a.epochs;
    user["seed"] = static_cast<int64_t>(a.seed);
    zoo::save_progression(a.checkpoint, model, st, t.batch.feature_names, a.epochs, json::write(user));
    std::printf("final training loss %.4f; checkpoint saved to %s\n", losses.empty() ? 0.0 : losses.back(),
                a.checkpoint.c_str());
  }
  std::printf("total time %.1f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}

int predict(const Args& a) {
  GALEN_CHECK(!a.visits.empty(), "predict needs --visits CSV (one patient's visits)");
  GALEN_CHECK(std::filesystem::exists(a.visits), "visits file '", a.visits, "' does not exist");
  GALEN_CHECK(std::filesystem::exists(a.checkpoint), "checkpoint '", a.checkpoint,
              "' does not exist (train first, or pass --checkpoint)");
  const Device dev = Device::parse(a.device);
  zoo::ProgressionBundle b = zoo::load_progression(a.checkpoint);
  data::LongitudinalSpec spec = data::pbc::pbcseq_spec();
  spec.outcome_columns.clear();  // a new patient's follow-up is unknown
  const data::LongitudinalData d = data::read_longitudinal_csv(a.visits, spec);
  int64_t pi = 0;
  if (!a.patient.empty()) {
    pi = d.find_patient(a.patient);
    GALEN_CHECK(pi >= 0, "'", a.visits, "' has no patient '", a.patient, "'");
  } else {
    GALEN_CHECK(d.num_patients() == 1, "'", a.visits, "' holds ", d.num_patients(),
                " patients; pass --patient ID to pick one");
  }
  GALEN_CHECK(b.standardizer.names.size() == static_cast<size_t>(d.num_features()) + 1, "checkpoint '", a.checkpoint,
              "' was trained on ", b.standardizer.names.size(), " standardised inputs, the PBC spec has ",
              d.num_features(), " features + dt");
  const data::SequenceBatch batch = data::make_sequence_batch(d, b.standardizer, {pi});
  GALEN_CHECK(batch.feature_names == b.feature_names, "checkpoint '", a.checkpoint,
              "' expects other input features than the PBC spec gives");
  b.model->to(dev);
  zoo::ProgressionOutput out;
  {
    NoGradGuard ng;
    out = b.model->forward(batch.x.to(dev), batch.lengths);
  }
  const auto risk = sigmoid(out.risk_logits).cpu().to(DType::f64).to_vector<double>();
  const auto next = out.next_value.cpu().to(DType::f64).to_vector<double>();
  const int64_t bi = d.feature_index("bili");
  const double mean = b.standardizer.mean[static_cast<size_t>(bi)], sd = b.standardizer.std[static_cast<size_t>(bi)];
  const data::PatientSequence& p = d.patient(pi);
  const auto& o = b.model->options();
  std::printf("patient %s: %lld visits; model %s/%s from %s\n", p.id.c_str(), static_cast<long long>(p.num_visits()),
              o.cell.c_str(), o.head.c_str(), a.checkpoint.c_str());
  std::printf("%5s %7s %10s %14s %18s %16s\n", "visit", "day", "bili", "2-year risk", "next log-bili", "(next bili)");
  for (int64_t v = 0; v < p.num_visits(); ++v) {
    const double lb = p.features[static_cast<size_t>(v)][static_cast<size_t>(bi)];
    const double nl = next[static_cast<size_t>(v)] * sd + mean;
    char bili[32];
    if (std::isnan(lb))
      std::snprintf(bili, sizeof bili, "NA");
    else
      std::snprintf(bili, sizeof bili, "%.2f", std::exp(lb));
    std::printf("%5lld %7.0f %10s %13.1f%% %18.3f %16.2f\n", static_cast<long long>(v + 1),
                p.times[static_cast<size_t>(v)], bili, 100.0 * risk[static_cast<size_t>(v)], nl, std::exp(nl));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  int i = 1;
  if (i < argc && (std::string(argv[i]) == "train" || std::string(argv[i]) == "predict")) a.mode = argv[i++];
  for (; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      usage(argv[0]);
      return 0;
    }
    if (k == "--no-final") {
      a.final_model = false;
      continue;
    }
    if (k == "--quiet") {
      a.quiet = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "error: %s needs a value (see --help)\n", k.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    char* end = nullptr;
    auto integer = [&](int64_t lo) {
      const long long n = std::strtoll(v.c_str(), &end, 10);
      if (n < lo) end = const_cast<char*>("<");
      return static_cast<int64_t>(n);
    };
    if (k == "--data")
      a.data = v;
    else if (k == "--device")
      a.device = v;
    else if (k == "--cell")
      a.cell = v;
    else if (k == "--head")
      a.head = v;
    else if (k == "--checkpoint")
      a.checkpoint = v;
    else if (k == "--visits")
      a.visits = v;
    else if (k == "--patient")
      a.patient = v;
    else if (k == "--epochs")
      a.epochs = integer(0);
    else if (k == "--hidden")
      a.hidden = integer(1);
    else if (k == "--batch")
      a.batch = integer(1);
    else if (k == "--folds")
      a.folds = integer(0);
    else if (k == "--threads")
      a.threads = static_cast<int>(integer(0));
    else if (k == "--seed")
      a.seed = static_cast<uint64_t>(integer(0));
    else if (k == "--wd") {
      a.wd = std::strtod(v.c_str(), &end);
      if (!(a.wd >= 0)) end = const_cast<char*>("<");
    } else if (k == "--dropout") {
      a.dropout = std::strtod(v.c_str(), &end);
      if (!(a.dropout >= 0 && a.dropout < 1)) end = const_cast<char*>("<");
    } else if (k == "--lr") {
      a.lr = std::strtod(v.c_str(), &end);
      if (!(a.lr > 0)) end = const_cast<char*>("<");
    } else {
      std::fprintf(stderr, "error: unknown option %s (see --help)\n", k.c_str());
      return 2;
    }
    if (v.empty() || (end && *end)) {
      std::fprintf(stderr, "error: %s: bad value '%s' (see --help)\n", k.c_str(), v.c_str());
      return 2;
    }
  }
  if (a.cell != "lstm" && a.cell != "gru") {
    std::fprintf(stderr, "error: --cell must be lstm or gru, got '%s'\n", a.cell.c_str());
    return 2;
  }
  if (a.head != "attention" && a.head != "last") {
    std::fprintf(stderr, "error: --head must be attention or last, got '%s'\n", a.head.c_str());
    return 2;
  }
  if (a.folds == 1) {
    std::fprintf(stderr, "error: --folds must be 0 (no cross-validation) or >= 2\n");
    return 2;
  }
  try {
    if (a.threads > 0) set_num_threads(a.threads);  // 0: leave galen's default
    return a.mode == "predict" ? predict(a) : train(a);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
