// The lesion data set generator (data/lesions.h): determinism for a seed, boxes
// inside the image and on the rendered findings, labels consistent with the
// boxes, the written layout read back by data/chestxray.h, a patient-level split
// with no patient (slab) in two splits, slicing of a real DICOM series (the
// committed 3-slice fixture), option errors, and a tiny end-to-end training
// step on a generated mini set that lowers the loss.
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "galen/data/chestxray.h"
#include "galen/data/dicom.h"
#include "galen/data/lesions.h"
#include "galen/eval/gradcam.h"
#include "galen/optim/adam.h"
#include "galen/zoo/densenet.h"
#include "galen/zoo/resnet.h"
#include "test_util.h"

using namespace galen;
using namespace galen::data;
namespace fs = std::filesystem;

namespace {

// Two small synthetic "volumes" (a bright ellipsoid in a dark box) sliced in all planes.
std::vector<LesionSource> synthetic_sources(int64_t size) {
  std::vector<LesionSource> out;
  for (int v = 0; v < 2; ++v) {
    const int64_t d = 20, h = 28 + 4 * v, w = 24;
    std::vector<float> vol(static_cast<size_t>(d * h * w));
    for (int64_t z = 0; z < d; ++z)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const double r = std::pow((z - d / 2.0) / (0.45 * d), 2) + std::pow((y - h / 2.0) / (0.45 * h), 2) +
                           std::pow((x - w / 2.0) / (0.45 * w), 2);
          vol[static_cast<size_t>((z * h + y) * w + x)] = r < 1 ? static_cast<float>(100 + 20 * ((x + y) % 3)) : 0.f;
        }
    SliceOptions so;
    so.size = size;
    so.slab = 4;
    auto s = slices_from_volume(from_vector<float>(vol, {d, h, w}), {1.5, 1.0, 1.0}, "vol" + std::to_string(v), so);
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

fs::path temp_dir(const std::string& tag) {
  static int counter = 0;
  fs::path p = fs::temp_directory_path() /
               ("galen_lesions_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::remove_all(p);
  return p;
}

// Findings only: no blur, noise or intensity jitter, so an image minus its finding-free twin is the findings.
LesionOptions clean_options(int64_t size, int64_t count, std::array<double, 4> probability) {
  LesionOptions o;
  o.size = size;
  o.count = count;
  o.probability = probability;
  o.blur = 0;
  o.noise = 0;
  o.jitter = 0;
  return o;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_CASE("lesions: slices of a volume are normalised, square, grouped into slabs", "[lesions]") {
  const auto src = synthetic_sources(32);
  REQUIRE(src.size() > 20);
  std::set<std::string> planes;
  for (const auto& s : src) {
    REQUIRE(s.image.sizes() == Shape{32, 32});
    const auto v = s.image.to_vector<float>();
    REQUIRE(*std::min_element(v.begin(), v.end()) >= 0.f);
    REQUIRE(*std::max_element(v.begin(), v.end()) <= 1.f);
    REQUIRE(s.tissue >= 0.2);
    REQUIRE(s.slab == s.index / 4);
    REQUIRE(s.patient_key() == s.volume + "/" + s.plane + "/" + std::to_string(s.slab));
    planes.insert(s.plane);
  }
  REQUIRE(planes == std::set<std::string>{"axial", "coronal", "sagittal"});
  // Edge slices of the ellipsoid hold too little tissue and are skipped.
  REQUIRE(src.size() < static_cast<size_t>(2 * (20 + 24 + 28 + 4 + 24)));
}

TEST_CASE("lesions: a real DICOM series (committed fixture) slices into sources", "[lesions]") {
  const DicomSeries s = read_dicom_series(std::string(GALEN_FIXTURES_DIR) + "/medical/series");
  SliceOptions so;
  so.size = 48;
  so.planes = {"axial"};
  so.slab = 2;
  const auto src = slices_from_volume(s.volume, s.spacing, "mr", so);
  REQUIRE(src.size() == 3);
  for (size_t i = 0; i < src.size(); ++i) {
    REQUIRE(src[i].index == static_cast<int64_t>(i));
    REQUIRE(src[i].image.sizes() == Shape{48, 48});
  }
  REQUIRE(src[0].slab == src[1].slab);
  REQUIRE(src[1].slab != src[2].slab);
}

TEST_CASE("lesions: the same seed gives the same images, another seed others", "[lesions]") {
  const auto src = synthetic_sources(48);
  LesionOptions o;
  o.size = 48;
  o.count = 12;
  o.seed = 7;
  const LesionPlan p1 = plan_lesion_dataset(src, o), p2 = plan_lesion_dataset(src, o);
  REQUIRE(p1.source == p2.source);
  REQUIRE(p1.patient == p2.patient);
  REQUIRE(p1.follow_up == p2.follow_up);
  int differ = 0;
  LesionOptions o2 = o;
  o2.seed = 8;
  const LesionPlan q = plan_lesion_dataset(src, o2);
  for (int64_t i = 0; i < o.count; ++i) {
    const LesionImage a = make_lesion_image(src, p1, o, i), b = make_lesion_image(src, p1, o, i);
    REQUIRE(a.name == b.name);
    REQUIRE(a.image.to_vector<uint8_t>() == b.image.to_vector<uint8_t>());
    REQUIRE(a.findings.size() == b.findings.size());
    for (size_t k = 0; k < a.findings.size(); ++k) {
      REQUIRE(a.findings[k].label == b.findings[k].label);
      REQUIRE(a.findings[k].x == b.findings[k].x);
      REQUIRE(a.findings[k].h == b.findings[k].h);
    }
    differ += make_lesion_image(src, q, o2, i).image.to_vector<uint8_t>() != a.image.to_vector<uint8_t>();
  }
  REQUIRE(differ == o.count);

  // The written files are identical byte for byte too.
  const fs::path d1 = temp_dir("det"), d2 = temp_dir("det");
  write_lesion_dataset(d1.string(), src, o);
  write_lesion_dataset(d2.string(), src, o);
  for (const char* f : {"Data_Entry_2017.csv", "BBox_List_2017.csv", "train_val_list.txt", "test_list.txt",
                        "train_list.txt", "val_list.txt", "lesion_sources.csv"})
    REQUIRE(read_all(d1 / f) == read_all(d2 / f));
  for (const auto& e : fs::directory_iterator(d1 / "images"))
    REQUIRE(read_all(e.path()) == read_all(d2 / "images" / e.path().filename()));
  fs::remove_all(d1);
  fs::remove_all(d2);
}

TEST_CASE("lesions: boxes lie inside the image and on the rendered findings", "[lesions]") {
  const auto src = synthetic_sources(64);
  const LesionOptions on = clean_options(64, 24, {1, 1, 1, 1});
  LesionOptions off = on;
  off.probability = {0, 0, 0, 0};
  const LesionPlan plan = plan_lesion_dataset(src, on);
  for (int64_t i = 0; i < on.count; ++i) {
    const LesionImage with = make_lesion_image(src, plan, on, i), without = make_lesion_image(src, plan, off, i);
    REQUIRE(with.findings.size() == 4);
    REQUIRE(without.findings.empty());
    for (size_t k = 0; k < 4; ++k) {
      const auto& f = with.findings[k];
      REQUIRE(f.label == lesion_classes()[k]);
      REQUIRE(f.x >= 0);
      REQUIRE(f.y >= 0);
      REQUIRE(f.w >= 1);
      REQUIRE(f.h >= 1);
      REQUIRE(f.x + f.w <= 64);
      REQUIRE(f.y + f.h <= 64);
    }
    // The largest brightening lies in the union of the boxes (the clipped image can only equal, not exceed 255).
    const auto a = with.image.to_vector<uint8_t>(), b = without.image.to_vector<uint8_t>();
    int best = -1;
    int64_t at = 0;
    for (size_t p = 0; p < a.size(); ++p)
      if (a[p] - b[p] > best) {
        best = a[p] - b[p];
        at = static_cast<int64_t>(p);
      }
    REQUIRE(best > 0);
    const double px = at % 64 + 0.5, py = at / 64 + 0.5;
    bool inside = false;
    for (const auto& f : with.findings) inside = inside || (px >= f.x && px < f.x + f.w && py >= f.y && py < f.y + f.h);
    REQUIRE(inside);
  }
}

TEST_CASE("lesions: every finding covers the same fraction of the image at 64 and 128 px", "[lesions]") {
  // Geometry is relative to the size, so a 128 px set shows the findings of a 64 px one at twice the
  // pixels. (Calcification dots once had a fixed 0.5-0.9 px sigma: at 128 px they covered a quarter of
  // the fraction they cover at 64 px, and this ratio was about 0.3.)
  double fraction[2][4] = {};
  for (int s = 0; s < 2; ++s) {
    const int64_t n = s == 0 ? 64 : 128;
    const auto src = synthetic_sources(n);
    for (size_t k = 0; k < 4; ++k) {
      std::array<double, 4> only = {0, 0, 0, 0};
      only[k] = 1;
      LesionOptions on = clean_options(n, 32, only);
      on.contrast = 0.5;  // no saturation at 255
      LesionOptions off = on;
      off.probability = {0, 0, 0, 0};
      const LesionPlan plan = plan_lesion_dataset(src, on);
      int64_t lit = 0;
      for (int64_t i = 0; i < on.count; ++i) {
        const auto a = make_lesion_image(src, plan, on, i).image.to_vector<uint8_t>();
        const auto b = make_lesion_image(src, plan, off, i).image.to_vector<uint8_t>();
        for (size_t p = 0; p < a.size(); ++p) lit += a[p] - b[p] >= 8;  // brightened by >= 8 grey levels
      }
      fraction[s][k] = static_cast<double>(lit) / static_cast<double>(on.count * n * n);
    }
  }
  for (size_t k = 0; k < 4; ++k) {
    INFO(lesion_classes()[k] << ": brightened fraction " << fraction[0][k] << " at 64 px, " << fraction[1][k]
                             << " at 128 px");
    REQUIRE(fraction[0][k] > 0);
    const double ratio = fraction[1][k] / fraction[0][k];
    REQUIRE(ratio > 0.75);
    REQUIRE(ratio < 1.33);
  }
}

TEST_CASE("lesions: the written layout reads back through data/chestxray.h with a patient-level split", "[lesions]") {
  const auto src = synthetic_sources(40);
  LesionOptions o;
  o.size = 40;
  o.count = 60;
  o.seed = 3;
  const fs::path root = temp_dir("layout");
  const LesionDatasetSummary sum = write_lesion_dataset(root.string(), src, o);
  REQUIRE(sum.images == 60);
  REQUIRE(sum.train + sum.val + sum.test == 60);
  REQUIRE(sum.train > 0);
  REQUIRE(sum.test > 0);

  ChestXrayOpenOptions oo;
  oo.labels.classes = lesion_classes();
  const auto layout = ChestXray14::open(root.string(), oo);
  REQUIRE(layout->labels().size() == 60);
  // Labels agree with the boxes: each finding has exactly one box, "No Finding" none.
  std::map<std::string, std::multiset<std::string>> box_labels;
  for (const auto& b : layout->boxes()) {
    box_labels[b.image].insert(b.label);
    REQUIRE(b.x >= 0);
    REQUIRE(b.y >= 0);
    REQUIRE(b.x + b.w <= 40);
    REQUIRE(b.y + b.h <= 40);
  }
  int64_t no_finding = 0, positives = 0;
  for (const auto& e : layout->labels().entries()) {
    const std::multiset<std::string> f(e.findings.begin(), e.findings.end());
    REQUIRE(f == box_labels[e.image]);
    no_finding += e.findings.empty();
    positives += static_cast<int64_t>(e.findings.size());
    REQUIRE(e.width == 40);
    REQUIRE(e.height == 40);
    REQUIRE(fs::exists(layout->image_path(e.image)));
  }
  REQUIRE(no_finding == sum.no_finding);
  REQUIRE(positives == sum.boxes);

  // Lists: train_val = train + val, all disjoint by patient, covering every image.
  const auto train = layout->list("train_list.txt"), val = layout->list("val_list.txt"),
             test = layout->list("test_list.txt"), train_val = layout->list("train_val_list.txt");
  REQUIRE(train.size() + val.size() == train_val.size());
  REQUIRE(train.size() + val.size() + test.size() == 60);
  std::map<std::string, int> where;
  int split = 0;
  for (const auto* rows : {&train, &val, &test}) {
    for (int64_t r : *rows) {
      const auto& pid = layout->labels().entries()[static_cast<size_t>(r)].patient_id;
      auto [it, fresh] = where.emplace(pid, split);
      REQUIRE(it->second == split);
    }
    ++split;
  }
  // A patient is one slab: all its images come from one (volume, plane, slab).
  const std::string sources = read_all(root / "lesion_sources.csv");
  std::map<std::string, std::string> slab_of;
  std::stringstream ss(sources);
  std::string line;
  std::getline(ss, line);
  while (std::getline(ss, line)) {
    std::vector<std::string> c;
    std::stringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) c.push_back(cell);
    REQUIRE(c.size() == 6);
    const std::string key = c[2] + "/" + c[3] + "/" + c[5];
    auto [it, fresh] = slab_of.emplace(c[1], key);
    REQUIRE(it->second == key);
  }
  REQUIRE(slab_of.size() == static_cast<size_t>(sum.patients));

  // The dataset decodes the PNGs through the CheXNet transform.
  ChestXrayDataset ds(layout, test, ChestXrayTransform::ten_crop(40, 32));
  const Example ex = ds.get(0);
  REQUIRE(ex.input.sizes() == Shape{10, 3, 32, 32});
  REQUIRE(ex.target.sizes() == Shape{4});
  fs::remove_all(root);
}

TEST_CASE("lesions: bad options and missing scans are errors that say what", "[lesions]") {
  const auto src = synthetic_sources(32);
  LesionOptions o;
  o.size = 16;
  REQUIRE_THROWS_WITH(plan_lesion_dataset(src, o), Catch::Contains("size must be in 32..4096"));
  o.size = 32;
  o.probability[2] = 1.5;
  REQUIRE_THROWS_WITH(plan_lesion_dataset(src, o), Catch::Contains("probability of Calcification"));
  o.probability[2] = 0.3;
  REQUIRE_THROWS_WITH(plan_lesion_dataset({}, o), Catch::Contains("no source slices"));
  const LesionPlan plan = plan_lesion_dataset(src, o);
  REQUIRE_THROWS_WITH(make_lesion_image(src, plan, o, o.count), Catch::Contains("not in the plan"));
  REQUIRE_THROWS_WITH(load_lesion_sources("/nonexistent/scans"),
                      Catch::Contains("/nonexistent/scans/nifti/ch2.nii.gz not found"));
  SliceOptions so;
  so.planes = {"oblique"};
  REQUIRE_THROWS_WITH(slices_from_volume(zeros({4, 4, 4}), {1, 1, 1}, "v", so),
                      Catch::Contains("unknown plane \"oblique\""));
  REQUIRE_THROWS_WITH(slices_from_volume(zeros({4, 4}), {1, 1, 1}, "v"),
                      Catch::Contains("expected a (D, H, W) volume"));
}

TEST_CASE("lesions: a few training steps on a generated mini set lower the weighted BCE", "[lesions]") {
  const auto src = synthetic_sources(40);
  LesionOptions o;
  o.size = 40;
  o.count = 16;
  o.probability = {0.5, 0.5, 0.5, 0.5};
  const fs::path root = temp_dir("train");
  write_lesion_dataset(root.string(), src, o);
  ChestXrayOpenOptions oo;
  oo.labels.classes = lesion_classes();
  const auto layout = ChestXray14::open(root.string(), oo);
  ChestXrayDataset ds(layout, layout->all(), ChestXrayTransform::train(40, 32));
  const ClassWeights w = class_weights(ds.labels());
  std::vector<Tensor> xs, ys;
  for (int64_t i = 0; i < 8; ++i) {
    const Example e = ds.get(i);
    xs.push_back(e.input);
    ys.push_back(e.target);
  }
  const Tensor x = stack(xs, 0), y = stack(ys, 0), wt = w.element_weights(y);
  manual_seed(0);
  auto model = zoo::resnet18({.num_classes = 4});
  optim::Adam opt(model->parameters(), optim::AdamOptions{1e-3});
  double first = 0, last = 0;
  for (int step = 0; step < 6; ++step) {
    Tensor loss = binary_cross_entropy_with_logits((*model)(x), y, wt);
    if (step == 0) first = loss.item();
    last = loss.item();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  REQUIRE(std::isfinite(first));
  REQUIRE(last < 0.8 * first);
  fs::remove_all(root);
}

TEST_CASE("lesions: Grad-CAM reaches the zoo models' inner layers (children run through operator())", "[lesions]") {
  manual_seed(1);
  auto r = zoo::resnet18({.num_classes = 4});
  r->eval();
  const Tensor x = randn({2, 3, 64, 64});
  for (const char* layer : {"layer2", "layer3", "layer4"}) {
    const eval::CamResult c = eval::grad_cam(*r, layer, x, {0, 3});
    REQUIRE(c.heatmap.sizes() == Shape{2, 64, 64});
    REQUIRE(c.activations.size(0) == 2);
  }
  zoo::DenseNetOptions o;
  o.num_classes = 4;
  o.block_config = {1, 1, 1, 1};  // a narrow DenseNet: the same module tree as densenet121, fewer layers
  auto d = std::make_shared<zoo::DenseNet>(o);
  d->eval();
  for (const char* layer : {"features.denseblock2", "features.denseblock3", "features.norm5"}) {
    const eval::CamResult c = eval::grad_cam(*d, layer, x, {1});
    REQUIRE(c.heatmap.sizes() == Shape{2, 64, 64});
  }
}
