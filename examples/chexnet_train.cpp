// Trains CheXNet (DenseNet-121; or a ResNet, or a logistic regression on
// pixels as the baseline) on a folder in the ChestX-ray14 layout with CheXNet's
// recipe, then reports per-class and mean test AUROC with bootstrap 95% CIs,
// sensitivity / specificity at the Youden threshold (chosen on the validation
// split), and optionally the class-activation-map pointing game on the test boxes.
//
// Recipe (Rajpurkar et al. 2017): resize -> random crop + horizontal flip for
// training, ten-crop averaging of the probabilities at test time, ImageNet
// mean / std, gray -> 3 channels; class-weighted BCE-with-logits (w+ = |N|/(|P|+|N|),
// w- = |P|/(|P|+|N|) per class from the training labels); Adam (lr 1e-3,
// betas 0.9 / 0.999); ReduceLROnPlateau x0.1 on the validation loss; the
// checkpoint with the best mean validation AUROC is kept. Sizes default to
// 128 -> 112 (CPU-friendly; the paper uses 256 -> 224). Validation uses the
// centre crop by default (--val-crops 10 for ten-crop) to keep epochs short.
//
//   ./build/examples/chexnet_train --data /tmp/lesions --arch densenet121 --epochs 6 --out runs/chexnet
//   ./build/examples/chexnet_train --data /tmp/lesions --eval-only --weights runs/chexnet/best.safetensors \
//       --pointing-game
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "chexnet_common.h"
#include "cli.h"

namespace {

using namespace galen;
namespace cx = galen::examples::chexnet;
namespace fs = std::filesystem;

struct Args {
  std::string data, out = "chexnet_run", weights;
  std::string classes;  // comma separated; empty: from the label file
  std::string arch = "densenet121";
  std::string train_list, val_list, test_list;
  int64_t resize = 128, crop = 112;
  int64_t epochs = 6, batch = 16, max_train = 0;
  double lr = 1e-3;
  int64_t patience = 1;
  int64_t val_crops = 1, test_crops = 10;
  int64_t bootstrap = 1000;
  uint64_t seed = 0;
  std::string device = "cpu";
  int threads = 0, workers = 1;
  bool resume = false, eval_only = false, memory_efficient = false;
  bool pointing_game = false;
  std::string cam_layer;
  eval::CamMethod cam_method = cx::parse_cam_method("");
  double pointing_tolerance = 0;
  int64_t cam_examples = 8;
};

void usage(const char* argv0) {
  std::printf(
      "usage: %s --data DIR [options]\n"
      "DIR is in the ChestX-ray14 layout: Data_Entry_2017.csv, images/, list files, optional BBox_List_2017.csv.\n"
      "  --arch A            densenet121 (CheXNet, default) | resnet50 | resnet18 | logreg (pixel baseline)\n"
      "  --classes A,B,...   class names (default: from Finding Labels: the 14 ChestX-ray14 findings when all\n"
      "                      labels are among them, else the distinct labels sorted by name)\n"
      "  --train-list F      default train_list.txt if present, else train_val_list.txt minus the validation\n"
      "                      patients (1/8 of its patients, split by Patient ID with --seed)\n"
      "  --val-list F        default val_list.txt if present (see above)\n"
      "  --test-list F       default test_list.txt\n"
      "  --resize N --crop M training: resize to N, random M x M crop + flip; test: ten M x M crops (128, 112)\n"
      "  --epochs N          (6)      --batch B (16)     --lr LR (1e-3)   --patience P (1, ReduceLROnPlateau)\n"
      "  --val-crops 1|10    crops per validation image (1: centre crop)   --test-crops 1|10 (10)\n"
      "  --max-train N       use only the first N training images (quick runs)\n"
      "  --bootstrap N       bootstrap resamples for the 95%% CIs (1000)\n"
      "  --out DIR           checkpoints: DIR/last.ckpt.safetensors (resume), DIR/best.safetensors (model)\n"
      "  --resume            continue from DIR/last.ckpt.safetensors\n"
      "  --eval-only         no training: evaluate --weights (default DIR/best.safetensors) on the test split\n"
      "  --weights F         model file / checkpoint / converted safetensors for --eval-only\n"
      "  --pointing-game     CAM pointing game on the test images' boxes (heatmap maximum inside a box of\n"
      "                      the explained finding); overlays of the first examples go to DIR/cam/\n"
      "  --cam-layer NAME    (densenet121: features.denseblock1, resnet: layer1)\n"
      "  --cam-method M      hirescam (default) | gradcam | gradcam++\n"
      "  --pointing-tolerance PX  grow boxes by PX pixels of the network input (0)\n"
      "  --cam-examples N    overlay PNGs written (8)\n"
      "  --memory-efficient  DenseNet: recompute the bottlenecks in backward (less memory, slower)\n"
      "  --device cpu|cuda   --threads T   --workers W (loader threads, 1)   --seed S (0)\n",
      argv0);
}

struct Split {
  std::vector<int64_t> train, val, test;
};

Split make_split(const data::ChestXray14& layout, const Args& a) {
  Split s;
  auto has = [&](const std::string& f) { return fs::exists(fs::path(layout.root()) / f); };
  const std::string test = a.test_list.empty() ? "test_list.txt" : a.test_list;
  s.test = layout.list(test);
  if (!a.train_list.empty() || !a.val_list.empty() || (has("train_list.txt") && has("val_list.txt"))) {
    s.train = layout.list(a.train_list.empty() ? "train_list.txt" : a.train_list);
    s.val = layout.list(a.val_list.empty() ? "val_list.txt" : a.val_list);
  } else {
    // Split train_val by patient: 7/8 train, 1/8 validation.
    const std::vector<int64_t> tv = layout.list("train_val_list.txt");
    std::vector<std::string> groups;
    for (int64_t r : tv) groups.push_back(layout.labels().entries()[static_cast<size_t>(r)].patient_id);
    const auto sp = data::split_groups(groups, {0.875, 0.125, 0.0}, a.seed);
    for (size_t i = 0; i < tv.size(); ++i) (sp[i] == 0 ? s.train : s.val).push_back(tv[i]);
  }
  if (a.max_train > 0 && static_cast<int64_t>(s.train.size()) > a.max_train)
    s.train.resize(static_cast<size_t>(a.max_train));
  GALEN_CHECK(!s.train.empty() && !s.val.empty() && !s.test.empty(), "chexnet_train: empty split (train ",
              s.train.size(), ", val ", s.val.size(), ", test ", s.test.size(), " images)");
  // Patient-level split check: no patient in two splits.
  std::map<std::string, int> where;
  const std::vector<int64_t>* parts[3] = {&s.train, &s.val, &s.test};
  for (int p = 0; p < 3; ++p)
    for (int64_t r : *parts[p]) {
      const auto& e = layout.labels().entries()[static_cast<size_t>(r)];
      auto [it, fresh] = where.emplace(e.patient_id, p);
      GALEN_CHECK(fresh || it->second == p, "chexnet_train: patient ", e.patient_id, " (image ", e.image,
                  ") is in two splits; the lists must split by patient");
    }
  return s;
}

struct Predictions {
  Tensor probs;   // (N, C) f64 CPU
  Tensor labels;  // (N, C) f32 CPU
  double loss = 0;
};

// Probabilities (averaged over the crops when the dataset gives (K, 3, h, w) per image) and the weighted BCE.
Predictions predict(nn::Module& model, const data::ChestXrayDataset& ds, const data::ClassWeights& w, Device dev,
                    const Args& a, const std::string& what) {
  NoGradGuard ng;
  model.eval();
  data::DataLoaderOptions lo;
  lo.batch_size = std::max<int64_t>(1, a.batch);
  lo.num_workers = a.workers;
  data::DataLoader loader(ds, lo);
  data::ProgressOptions po;
  po.unit = "img";
  data::Progress bar(1, loader.size(), po);
  bar.start_epoch(0);
  std::vector<Tensor> probs, labels;
  double loss_sum = 0;
  for (data::Batch& b : loader) {
    Tensor x = b.input.to(dev);
    const int64_t n = x.size(0);
    Tensor p;
    if (x.dim() == 5) {  // (B, K, 3, h, w): K crops
      const int64_t k = x.size(1);
      Tensor logits = model(x.reshape({n * k, x.size(2), x.size(3), x.size(4)}));
      p = mean(sigmoid(logits).reshape({n, k, -1}), {1});
    } else {
      p = sigmoid(model(x));
    }
    p = p.to(Device(CPU)).to(DType::f64);
    Tensor y = b.target;
    Tensor pc = clamp(p.to(DType::f32), 1e-7, 1.0 - 1e-7);
    const double l = binary_cross_entropy(pc, y, w.element_weights(y)).item();
    loss_sum += l * static_cast<double>(n);
    probs.push_back(p);
    labels.push_back(y);
    bar.step(l, n);
  }
  bar.end_epoch(what);
  model.train();
  Predictions out;
  out.probs = cat(probs, 0);
  out.labels = cat(labels, 0);
  out.loss = loss_sum / static_cast<double>(out.probs.size(0));
  return out;
}

// Mean AUROC over the classes with both labels present; NaN when none.
double mean_auroc(const std::vector<std::vector<double>>& s, const std::vector<std::vector<int>>& y,
                  const std::vector<size_t>* rows = nullptr) {
  double sum = 0;
  int used = 0;
  for (size_t c = 0; c < s.size(); ++c) {
    std::vector<double> sc;
    std::vector<int> lb;
    if (rows) {
      for (size_t r : *rows) {
        sc.push_back(s[c][r]);
        lb.push_back(y[c][r]);
      }
    } else {
      sc = s[c];
      lb = y[c];
    }
    int pos = 0;
    for (int v : lb) pos += v;
    if (pos == 0 || pos == static_cast<int>(lb.size())) continue;
    sum += eval::roc_auc(sc, lb);
    ++used;
  }
  return used ? sum / used : std::nan("");
}

void columns(const Predictions& p, std::vector<std::vector<double>>& s, std::vector<std::vector<int>>& y) {
  const int64_t n = p.probs.size(0), c = p.probs.size(1);
  const auto pv = p.probs.contiguous().to_vector<double>();
  const auto lv = p.labels.to(DType::f64).contiguous().to_vector<double>();
  s.assign(static_cast<size_t>(c), {});
  y.assign(static_cast<size_t>(c), {});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k) {
      s[static_cast<size_t>(k)].push_back(pv[static_cast<size_t>(i * c + k)]);
      y[static_cast<size_t>(k)].push_back(lv[static_cast<size_t>(i * c + k)] > 0.5 ? 1 : 0);
    }
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// Per-class and mean AUROC with bootstrap CIs; sensitivity / specificity at the validation Youden threshold.
double report(const Predictions& test, const Predictions& val, const std::vector<std::string>& classes, const Args& a) {
  std::vector<std::vector<double>> s, vs;
  std::vector<std::vector<int>> y, vy;
  columns(test, s, y);
  columns(val, vs, vy);
  eval::BootstrapOptions bo;
  bo.resamples = a.bootstrap;
  bo.seed = a.seed;
  const eval::Metric auc = [](const std::vector<double>& sc, const std::vector<int>& lb) {
    return eval::roc_auc(sc, lb);
  };
  std::printf("\ntest split: %lld images, %lld crop(s) each\n", static_cast<long long>(test.probs.size(0)),
              static_cast<long long>(a.test_crops));
  std::printf("%-20s %5s %8s %18s %10s %8s %8s\n", "class", "pos", "AUROC", "95% CI", "threshold", "sens", "spec");
  for (size_t c = 0; c < classes.size(); ++c) {
    int pos = 0;
    for (int v : y[c]) pos += v;
    if (pos == 0 || pos == static_cast<int>(y[c].size())) {
      std::printf("%-20s %5d %8s (single-class labels: skipped)\n", classes[c].c_str(), pos, "-");
      continue;
    }
    const eval::BootstrapCI ci = eval::bootstrap_ci(s[c], y[c], auc, bo);
    std::string thr = "-", sens = "-", spec = "-";
    int vpos = 0;
    for (int v : vy[c]) vpos += v;
    if (vpos > 0 && vpos < static_cast<int>(vy[c].size())) {
      const eval::YoudenPoint yp = eval::youden_threshold(vs[c], vy[c]);
      const eval::ThresholdMetrics tm = eval::threshold_metrics(s[c], y[c], yp.threshold);
      thr = fmt("%.3f", yp.threshold);
      sens = fmt("%.3f", tm.sensitivity);
      spec = fmt("%.3f", tm.specificity);
    }
    std::printf("%-20s %5d %8.4f   [%.4f, %.4f] %10s %8s %8s\n", classes[c].c_str(), pos, ci.estimate, ci.lower,
                ci.upper, thr.c_str(), sens.c_str(), spec.c_str());
  }
  // Mean AUROC: resample images (rows), recompute every class's AUROC and their mean.
  const double est = mean_auroc(s, y);
  std::vector<double> values;
  const size_t n = s.empty() ? 0 : s[0].size();
  for (int64_t r = 0; r < a.bootstrap; ++r) {
    data::Generator g(data::mix_seed(a.seed, 0xb007, static_cast<uint64_t>(r)));
    std::vector<size_t> rows(n);
    for (auto& v : rows) v = static_cast<size_t>(g.randint(0, static_cast<int64_t>(n)));
    const double m = mean_auroc(s, y, &rows);
    if (!std::isnan(m)) values.push_back(m);
  }
  if (!values.empty()) {
    std::printf("%-20s %5s %8.4f   [%.4f, %.4f]   (bootstrap over images, %zu resamples)\n", "mean", "", est,
                eval::percentile(values, 2.5), eval::percentile(values, 97.5), values.size());
  } else {
    std::printf("%-20s %5s %8.4f\n", "mean", "", est);
  }
  std::printf("thresholds: Youden-optimal on the validation split, applied to the test split\n");
  return est;
}

// CAM pointing game on the test images that have boxes.
void pointing_game(nn::Module& model, const data::ChestXray14& layout, const std::vector<int64_t>& rows,
                   const cx::ModelInfo& info, Device dev, const Args& a) {
  const std::string layer = a.cam_layer.empty() ? cx::default_cam_layer(info.arch) : a.cam_layer;
  if (layer.empty()) {
    std::printf("\npointing game: not available for --arch %s (no convolutional layer)\n", info.arch.c_str());
    return;
  }
  model.eval();
  const auto& classes = info.classes;
  std::vector<int64_t> hits(classes.size(), 0), total(classes.size(), 0);
  std::vector<double> chance(classes.size(), 0.0);
  const fs::path cam_dir = fs::path(a.out) / "cam";
  int64_t written = 0;
  std::vector<const data::ChestXrayEntry*> todo;
  for (int64_t r : rows) todo.push_back(&layout.labels().entries()[static_cast<size_t>(r)]);
  data::Progress bar(1, static_cast<int64_t>(todo.size()));
  bar.start_epoch(0);
  data::ChestXrayTransform t = data::ChestXrayTransform::eval(info.resize, info.resize);
  for (const data::ChestXrayEntry* e : todo) {
    const auto boxes = layout.boxes_of(e->image);
    if (boxes.empty()) {
      bar.step(0, 1);
      continue;
    }
    const Tensor img = data::read_image(layout.image_path(e->image));
    const double sy = static_cast<double>(info.resize) / static_cast<double>(img.size(0));
    const double sx = static_cast<double>(info.resize) / static_cast<double>(img.size(1));
    // The whole image at the network's working scale (no crop), so box coordinates map by a scale only.
    GALEN_CHECK(img.size(0) == img.size(1), "pointing game: ", e->image, " is not square (", img.size(1), "x",
                img.size(0), "); boxes cannot be mapped through the resize");
    const Tensor x = data::chestxray_transform(img, t);
    std::vector<int64_t> cls;
    for (const auto& b : boxes) {
      const int64_t k = std::find(classes.begin(), classes.end(), b.label) - classes.begin();
      if (k < static_cast<int64_t>(classes.size()) && std::find(cls.begin(), cls.end(), k) == cls.end())
        cls.push_back(k);
    }
    std::vector<Tensor> xs(cls.size(), x);
    const eval::CamResult cam = eval::grad_cam(model, layer, stack(xs, 0).to(dev), cls, a.cam_method);
    for (size_t j = 0; j < cls.size(); ++j) {
      std::vector<eval::Box> bx;
      double area = 0;
      for (const auto& b : boxes)
        if (b.label == classes[static_cast<size_t>(cls[j])]) {
          bx.push_back({b.x * sx, b.y * sy, b.w * sx, b.h * sy});
          area += b.w * sx * b.h * sy;
        }
      const Tensor hm = cam.heatmap.select(0, static_cast<int64_t>(j));
      const bool hit = eval::pointing_game_hit(hm, bx, a.pointing_tolerance);
      const size_t c = static_cast<size_t>(cls[j]);
      hits[c] += hit;
      ++total[c];
      chance[c] += std::min(1.0, area / static_cast<double>(info.resize * info.resize));
      if (written < a.cam_examples) {
        fs::create_directories(cam_dir);
        const std::string name =
            e->image.substr(0, e->image.rfind('.')) + "_" + classes[c] + (hit ? "_hit" : "_miss") + ".png";
        eval::write_overlay_png((cam_dir / name).string(), x.select(0, 0), hm);
        ++written;
      }
    }
    bar.step(0, 1);
  }
  bar.end_epoch();
  model.train();
  int64_t h = 0, n = 0;
  std::printf("\npointing game, %s (layer %s, input %lldx%lld, tolerance %.1f px): heatmap maximum inside a box\n",
              eval::cam_method_name(a.cam_method), layer.c_str(), static_cast<long long>(info.resize),
              static_cast<long long>(info.resize), a.pointing_tolerance);
  std::printf("%-20s %6s %6s %8s %12s\n", "class", "boxes", "hits", "rate", "box area %");
  for (size_t c = 0; c < classes.size(); ++c) {
    if (total[c] == 0) continue;
    std::printf("%-20s %6lld %6lld %7.1f%% %11.1f%%\n", classes[c].c_str(), static_cast<long long>(total[c]),
                static_cast<long long>(hits[c]), 100.0 * hits[c] / total[c], 100.0 * chance[c] / total[c]);
    h += hits[c];
    n += total[c];
  }
  if (n > 0)
    std::printf("%-20s %6lld %6lld %7.1f%%   (box area %% = hit rate of a random point)%s\n", "all",
                static_cast<long long>(n), static_cast<long long>(h), 100.0 * h / n,
                written ? (", overlays in " + cam_dir.string()).c_str() : "");
  else
    std::printf("no test image has a box of a known class\n");
}

int run(const Args& a) {
  const auto t0 = std::chrono::steady_clock::now();
  if (a.threads > 0) set_num_threads(a.threads);
  const Device dev = Device::parse(a.device);
  manual_seed(a.seed);
  GALEN_CHECK(!a.data.empty(), "chexnet_train: --data DIR is required (see --help)");
  GALEN_CHECK(a.crop >= 32 && a.resize >= a.crop, "chexnet_train: need resize >= crop >= 32, got resize ", a.resize,
              ", crop ", a.crop);
  GALEN_CHECK(a.test_crops == 1 || a.test_crops == 10, "chexnet_train: --test-crops must be 1 or 10");
  GALEN_CHECK(a.val_crops == 1 || a.val_crops == 10, "chexnet_train: --val-crops must be 1 or 10");

  cx::ModelInfo info;
  info.arch = a.arch;
  info.resize = a.resize;
  info.crop = a.crop;
  info.classes = a.classes.empty() ? cx::classes_from_labels((fs::path(a.data) / "Data_Entry_2017.csv").string())
                                   : cx::split_list(a.classes);

  std::shared_ptr<nn::Module> model;
  if (a.eval_only) {
    const std::string w = a.weights.empty() ? (fs::path(a.out) / "best.safetensors").string() : a.weights;
    cx::LoadedModel lm = cx::load_model(w, info);
    model = lm.model;
    info = lm.info;
    std::printf("loaded %s (%s): %s, %zu classes, resize %lld, crop %lld\n", w.c_str(), lm.kind.c_str(),
                info.arch.c_str(), info.classes.size(), static_cast<long long>(info.resize),
                static_cast<long long>(info.crop));
  } else {
    model = cx::make_model(info, a.memory_efficient);
  }
  model->to(dev);

  data::ChestXrayOpenOptions oo;
  oo.labels.classes = info.classes;
  const auto layout = data::ChestXray14::open(a.data, oo);
  const Split split = make_split(*layout, a);
  auto mode = [](int64_t crops) { return crops == 10 ? data::CropMode::TenCrop : data::CropMode::Center; };
  data::ChestXrayTransform ttrain = data::ChestXrayTransform::train(info.resize, info.crop);
  data::ChestXrayTransform tval = data::ChestXrayTransform::eval(info.resize, info.crop);
  tval.mode = mode(a.val_crops);
  data::ChestXrayTransform ttest = data::ChestXrayTransform::eval(info.resize, info.crop);
  ttest.mode = mode(a.test_crops);
  auto train = std::make_shared<data::ChestXrayDataset>(layout, split.train, ttrain);
  data::ChestXrayDataset val(layout, split.val, tval), test(layout, split.test, ttest);
  const data::ClassWeights weights = data::class_weights(train->labels());

  std::printf("data: %s, classes %s\n  train %zu, val %zu, test %zu images (patient-level split); %s\n", a.data.c_str(),
              cx::classes_json(info.classes).c_str(), split.train.size(), split.val.size(), split.test.size(),
              a.eval_only ? "evaluation only" : "training");
  for (size_t c = 0; c < info.classes.size(); ++c)
    std::printf("  %-20s train positives %5lld / %lld  (w+ %.3f, w- %.3f)\n", info.classes[c].c_str(),
                static_cast<long long>(weights.positives[c]),
                static_cast<long long>(weights.positives[c] + weights.negatives[c]), weights.positive[c],
                weights.negative[c]);
  std::printf("model: %s, %lld parameters; input %lld -> crop %lld; device %s, %d threads\n", info.arch.c_str(),
              static_cast<long long>(model->num_parameters()), static_cast<long long>(info.resize),
              static_cast<long long>(info.crop), dev.str().c_str(), get_num_threads());

  const fs::path out(a.out);
  const std::string best_path = (out / "best.safetensors").string(),
                    last_path = (out / "last.ckpt.safetensors").string();
  if (!a.eval_only) {
    fs::create_directories(out);
    optim::AdamOptions ao;
    ao.lr = a.lr;
    optim::Adam opt(model->parameters(), ao);
    optim::PlateauOptions po;
    po.factor = 0.1;
    po.patience = a.patience;
    optim::ReduceLROnPlateau sched(opt, po);
    int64_t start = 0, best_epoch = -1;
    double best_auc = -1;
    if (a.resume) {
      GALEN_CHECK(fs::exists(last_path), "chexnet_train: --resume but ", last_path, " does not exist");
      data::Checkpoint ck = data::load_checkpoint(last_path);
      const json::Value meta = json::parse(ck.metadata);
      cx::ModelInfo saved;
      cx::read_info(meta, saved, last_path);
      GALEN_CHECK(saved.arch == info.arch && saved.classes == info.classes && saved.resize == info.resize &&
                      saved.crop == info.crop,
                  "chexnet_train: ", last_path, " was written for ", saved.arch, " with classes ",
                  cx::classes_json(saved.classes), ", ", saved.resize, " -> ", saved.crop,
                  "; the command line asks otherwise");
      model->load_state_dict(ck.model);
      opt.load_state_dict(ck.optimizer);
      sched.load_state_dict(ck.scheduler);
      set_rng_state(ck.rng);
      start = ck.epoch;
      if (const auto* b = meta.find("best_auroc")) best_auc = b->as_double();
      if (const auto* b = meta.find("best_epoch")) best_epoch = b->as_int();
      std::printf("resumed from %s after epoch %lld (best val AUROC %.4f)\n", last_path.c_str(),
                  static_cast<long long>(start), best_auc);
    }
    data::DataLoaderOptions lo;
    lo.batch_size = a.batch;
    lo.shuffle = true;
    lo.seed = a.seed;
    lo.num_workers = a.workers;
    lo.drop_last = static_cast<int64_t>(split.train.size()) > a.batch;  // BatchNorm needs > 1 sample
    lo.pin_memory = dev.is_cuda();
    data::DataLoader loader(train, lo);
    loader.set_epoch(start);
    data::Progress progress(a.epochs, loader.size());
    const Tensor pos_w;  // CheXNet's weighting is the per-element weight below
    for (int64_t epoch = start; epoch < a.epochs; ++epoch) {
      progress.start_epoch(epoch);
      model->train();
      for (data::Batch& b : loader) {
        Tensor x = b.input.to(dev), y = b.target.to(dev);
        Tensor loss = binary_cross_entropy_with_logits((*model)(x), y, weights.element_weights(b.target).to(dev));
        opt.zero_grad();
        loss.backward();
        opt.step();
        progress.step(loss.item(), b.size());
      }
      const Predictions v = predict(*model, val, weights, dev, a, "validation");
      std::vector<std::vector<double>> s;
      std::vector<std::vector<int>> y;
      columns(v, s, y);
      const double auc = mean_auroc(s, y);
      const double lr_before = opt.param_groups()[0].options.at("lr");
      sched.step(v.loss);
      const bool better = !std::isnan(auc) && auc > best_auc;
      if (better) {
        best_auc = auc;
        best_epoch = epoch + 1;
        cx::save_model_file(best_path, *model, info,
                            {{"epoch", std::to_string(epoch + 1)}, {"val_mean_auroc", fmt("%.6f", auc)}});
      }
      char extra[200];
      std::snprintf(extra, sizeof extra, "val loss %.4f  val mean AUROC %.4f%s  lr %.0e", v.loss, auc,
                    better ? " (best, saved)" : "", lr_before);
      progress.end_epoch(extra);
      json::Value meta(cx::info_json(info));
      meta["best_auroc"] = best_auc;
      meta["best_epoch"] = best_epoch;
      data::Checkpoint ck;
      ck.model = model->state_dict();
      ck.optimizer = opt.state_dict();
      ck.scheduler = sched.state_dict();
      ck.epoch = epoch + 1;
      ck.rng = get_rng_state();
      ck.metadata = json::write(meta);
      data::save_checkpoint(last_path, ck);
    }
    GALEN_CHECK(fs::exists(best_path),
                "chexnet_train: no best model was saved (validation AUROC undefined: does the "
                "validation split hold both labels of some class?)");
    std::printf("best validation mean AUROC %.4f at epoch %lld; loading %s\n", best_auc,
                static_cast<long long>(best_epoch), best_path.c_str());
    model = cx::load_model(best_path, info).model;
    model->to(dev);
  }
  const auto t1 = std::chrono::steady_clock::now();
  Predictions vp = predict(*model, val, weights, dev, a, "validation (thresholds)");
  Predictions tp = predict(*model, test, weights, dev, a, "test");
  const double m = report(tp, vp, info.classes, a);
  const auto t2 = std::chrono::steady_clock::now();
  if (a.pointing_game) pointing_game(*model, *layout, split.test, info, dev, a);
  const auto t3 = std::chrono::steady_clock::now();
  auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf("\n%s mean test AUROC %.4f | time: training %s, evaluation %s%s, total %s\n", info.arch.c_str(), m,
              data::format_duration(secs(t1 - t0)).c_str(), data::format_duration(secs(t2 - t1)).c_str(),
              a.pointing_game ? (", pointing game " + data::format_duration(secs(t3 - t2))).c_str() : "",
              data::format_duration(secs(t3 - t0)).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  galen::examples::Cli cli([&] { usage(argv[0]); });
  cli.text("--data", a.data).text("--out", a.out).text("--weights", a.weights).text("--classes", a.classes);
  cli.text("--arch", a.arch).text("--train-list", a.train_list).text("--val-list", a.val_list);
  cli.text("--test-list", a.test_list).number("--resize", a.resize).number("--crop", a.crop);
  cli.number("--epochs", a.epochs).number("--batch", a.batch).number("--max-train", a.max_train).number("--lr", a.lr);
  cli.number("--patience", a.patience).number("--val-crops", a.val_crops).number("--test-crops", a.test_crops);
  cli.number("--bootstrap", a.bootstrap).number("--seed", a.seed).text("--device", a.device);
  cli.number("--threads", a.threads).number("--workers", a.workers).text("--cam-layer", a.cam_layer);
  cli.custom("--cam-method", [&a](const std::string& v) { a.cam_method = cx::parse_cam_method(v); })
      .number("--pointing-tolerance", a.pointing_tolerance);
  cli.number("--cam-examples", a.cam_examples).flag("--resume", a.resume).flag("--eval-only", a.eval_only);
  cli.flag("--pointing-game", a.pointing_game).flag("--memory-efficient", a.memory_efficient);
  if (const int rc = cli.parse(argc, argv); rc >= 0) return rc;
  return galen::examples::run_guarded([&] { return run(a); });
}
