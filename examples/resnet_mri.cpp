// ResNet slice classification on a real MRI with real labels: which brain
// regions a slice (axial, coronal or sagittal) of the Colin27 T1 volume (ch2.nii.gz) contains,
// according to the AAL atlas in the same space (aal.nii.gz, 116 regions).
//
// Labels (multi-label, one per region group; a slice contains a group when at
// least --min-voxels of its voxels carry one of the group's AAL labels, i.e.
// that many mm^2 at 1 mm):
//   frontal     AAL 1-28   precentral, frontal gyri, rolandic operculum, SMA, olfactory, rectus
//   limbic      29-42      insula, cingulum, hippocampus, parahippocampal gyrus, amygdala
//   occipital   43-54      calcarine, cuneus, lingual, occipital gyri
//   temporal    55-56, 79-90  fusiform, Heschl, temporal gyri and poles
//   parietal    57-70      postcentral, parietal gyri, supramarginal, angular, precuneus, paracentral
//   deep_grey   71-78      caudate, putamen, pallidum, thalamus
//   cerebellum  91-116     cerebellar hemispheres and vermis
// Slices are split by slab (--slab adjacent slices of one plane per group, split_groups with
// --seed) so neighbouring, near-identical slices never sit on both sides of
// the split. The model is a ResNet with one input channel (resnet50 by
// default, --arch resnet18 for speed), trained with BCE-with-logits and Adam
// on randomly rotated / scaled / shifted / mirrored slices; the test split's
// per-class AUROC, per-label accuracy at 0.5 and exact-match accuracy are printed.
//
//   ./build/examples/resnet_mri --scans ../shared/data/images --arch resnet18 --epochs 15
#include <galen/galen.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli.h"

namespace {

using namespace galen;
namespace fs = std::filesystem;

struct Group {
  const char* name;
  std::vector<std::pair<int, int>> ranges;  // inclusive AAL label ranges
};
const std::vector<Group>& groups() {
  static const std::vector<Group> g = {{"frontal", {{1, 28}}},     {"limbic", {{29, 42}}},
                                       {"occipital", {{43, 54}}},  {"temporal", {{55, 56}, {79, 90}}},
                                       {"parietal", {{57, 70}}},   {"deep_grey", {{71, 78}}},
                                       {"cerebellum", {{91, 116}}}};
  return g;
}

struct Args {
  std::string scans = "../shared/data/images", arch = "resnet50", out = "resnet_mri.ckpt.safetensors";
  int64_t size = 96, epochs = 15, batch = 16, slab = 8, min_voxels = 50;
  double lr = 1e-3;
  uint64_t seed = 0;
  std::string device = "cpu";
  int threads = 0;
  bool resume = false;
  std::vector<std::string> planes = {"axial", "coronal", "sagittal"};
};

void usage(const char* argv0) {
  std::printf(
      "usage: %s [options]\n"
      "  --scans DIR       folder with nifti/ch2.nii.gz and nifti/aal.nii.gz (default ../shared/data/images)\n"
      "  --arch A          resnet50 (default) | resnet18 | resnet34 ...\n"
      "  --size N          slices are padded to a square and resized to N x N (96)\n"
      "  --epochs N (15)   --batch B (16)   --lr LR (1e-3)   --seed S (0)\n"
      "  --planes LIST     planes to slice (axial,coronal,sagittal)\n"
      "  --slab N          adjacent slices per split group (8)\n"
      "  --min-voxels N    voxels of a region group for it to count as present (50)\n"
      "  --out FILE        checkpoint written after every epoch (resnet_mri.ckpt.safetensors)\n"
      "  --resume          continue from --out\n"
      "  --device cpu|cuda --threads T\n",
      argv0);
}

data::Plane parse_plane(const std::string& p) {
  if (p == "axial") return data::Plane::axial;
  if (p == "coronal") return data::Plane::coronal;
  if (p == "sagittal") return data::Plane::sagittal;
  GALEN_FAIL("resnet_mri: unknown plane \"", p, "\" (axial, coronal, sagittal)");
}

// Slice `index` of a (z, y, x) volume as (1, size, size): rows flipped (anterior / superior up), padded to a
// square, resized.
Tensor prepare(const Tensor& vol, data::Plane plane, int64_t index, int64_t size) {
  Tensor s = data::vflip(data::extract_slice(vol, plane, index));
  const int64_t h = s.size(0), w = s.size(1), side = std::max(h, w);
  s = data::crop(s, -(side - h) / 2, -(side - w) / 2, side, side);
  return data::resize(s, size, size).unsqueeze(0).contiguous();
}

struct Metrics {
  double loss = 0, label_acc = 0, exact = 0;
  Tensor probs;
};

Metrics evaluate(nn::Module& model, const Tensor& x, const Tensor& y, Device dev, int64_t batch) {
  NoGradGuard ng;
  model.eval();
  std::vector<Tensor> ps;
  for (int64_t s = 0; s < x.size(0); s += batch) {
    const int64_t m = std::min(batch, x.size(0) - s);
    ps.push_back(sigmoid(model(x.narrow(0, s, m).to(dev))).to(Device(CPU)));
  }
  model.train();
  Metrics r;
  r.probs = cat(ps, 0);
  r.loss = binary_cross_entropy(clamp(r.probs, 1e-7, 1 - 1e-7), y).item();
  Tensor pred = gt(r.probs, 0.5).to(DType::f32);
  Tensor ok = eq(pred, y).to(DType::f32);
  r.label_acc = mean(ok).item();
  r.exact = mean(eq(sum(ok, {1}), static_cast<double>(y.size(1))).to(DType::f32)).item();
  return r;
}

int run(const Args& a) {
  const auto t0 = std::chrono::steady_clock::now();
  if (a.threads > 0) set_num_threads(a.threads);
  const Device dev = Device::parse(a.device);
  manual_seed(a.seed);
  const fs::path t1 = fs::path(a.scans) / "nifti" / "ch2.nii.gz", atlas = fs::path(a.scans) / "nifti" / "aal.nii.gz";
  for (const auto& p : {t1, atlas})
    GALEN_CHECK(fs::exists(p), "resnet_mri: ", p.string(), " not found (Debian mricron-data; pass --scans)");
  const data::NiftiImage img = data::read_nifti(t1.string());
  const data::NiftiImage lab = data::read_nifti(atlas.string(), DType::f64);
  GALEN_CHECK(img.data.dim() == 3 && img.data.sizes() == lab.data.sizes(), "resnet_mri: ", t1.string(), " ",
              img.data.sizes(), " and ", atlas.string(), " ", lab.data.sizes(), " must be 3-D volumes of one shape");
  const Tensor vol = data::normalize_percentile(img.data, 0.5, 99.5);
  const int64_t C = static_cast<int64_t>(groups().size());

  // Slices with some brain (any AAL label), their group counts and slabs.
  struct SliceRef {
    data::Plane plane;
    int64_t index;
  };
  std::vector<SliceRef> refs;
  std::vector<float> targets;
  std::vector<std::string> slab_of;
  for (const std::string& pname : a.planes) {
    const data::Plane plane = parse_plane(pname);
    const int64_t dim = plane == data::Plane::axial ? 0 : (plane == data::Plane::coronal ? 1 : 2);
    for (int64_t z = 0; z < vol.size(dim); ++z) {
      const auto labels = data::extract_slice(lab.data, plane, z).to_vector<double>();
      std::vector<int64_t> count(static_cast<size_t>(C), 0);
      int64_t brain = 0;
      for (double lv : labels) {
        const int v = static_cast<int>(std::lround(lv));
        if (v <= 0) continue;
        ++brain;
        for (int64_t c = 0; c < C; ++c)
          for (const auto& [lo, hi] : groups()[static_cast<size_t>(c)].ranges)
            if (v >= lo && v <= hi) ++count[static_cast<size_t>(c)];
      }
      if (brain < a.min_voxels) continue;
      refs.push_back({plane, z});
      for (int64_t c = 0; c < C; ++c) targets.push_back(count[static_cast<size_t>(c)] >= a.min_voxels ? 1.f : 0.f);
      slab_of.push_back(pname + "/" + std::to_string(z / a.slab));
    }
  }
  GALEN_CHECK(!refs.empty(), "resnet_mri: no slice holds AAL labels");
  const auto split = data::split_groups(slab_of, {0.7, 0.1, 0.2}, a.seed);
  std::vector<Tensor> xs[3];
  std::vector<float> ys[3];
  for (size_t i = 0; i < refs.size(); ++i) {
    const int s = split[i];
    xs[s].push_back(prepare(vol, refs[i].plane, refs[i].index, a.size));
    ys[s].insert(ys[s].end(), targets.begin() + static_cast<int64_t>(i) * C,
                 targets.begin() + static_cast<int64_t>(i + 1) * C);
  }
  for (int s = 0; s < 3; ++s)
    GALEN_CHECK(!xs[s].empty(), "resnet_mri: empty split (try another --seed or a smaller --slab)");
  const Tensor xtr = stack(xs[0], 0), xva = stack(xs[1], 0), xte = stack(xs[2], 0);
  const Tensor ytr = from_vector<float>(ys[0], {xtr.size(0), C}), yva = from_vector<float>(ys[1], {xva.size(0), C}),
               yte = from_vector<float>(ys[2], {xte.size(0), C});
  std::printf(
      "data: %s slices -> %lldx%lld; %zu slices with brain in %s-slice slabs: train %lld, "
      "val %lld, test %lld\n",
      t1.string().c_str(), static_cast<long long>(a.size), static_cast<long long>(a.size), refs.size(),
      std::to_string(a.slab).c_str(), static_cast<long long>(xtr.size(0)), static_cast<long long>(xva.size(0)),
      static_cast<long long>(xte.size(0)));
  const auto ptr = sum(ytr, {0}).to_vector<float>(), pte = sum(yte, {0}).to_vector<float>();
  for (int64_t c = 0; c < C; ++c)
    std::printf("  %-11s present in %3.0f / %lld train, %3.0f / %lld test slices\n", groups()[c].name, ptr[c],
                static_cast<long long>(xtr.size(0)), pte[c], static_cast<long long>(xte.size(0)));

  zoo::ResNetOptions ro;
  ro.num_classes = C;
  ro.in_channels = 1;
  auto model = zoo::resnet(a.arch, ro);
  model->to(dev);
  optim::AdamOptions ao;
  ao.lr = a.lr;
  optim::Adam opt(model->parameters(), ao);
  optim::CosineAnnealingLR sched(opt, a.epochs);
  std::printf("model: %s (1 input channel), %lld parameters; device %s, %d threads\n", a.arch.c_str(),
              static_cast<long long>(model->num_parameters()), dev.str().c_str(), get_num_threads());
  int64_t start = 0;
  if (a.resume) {
    GALEN_CHECK(fs::exists(a.out), "resnet_mri: --resume but ", a.out, " does not exist");
    data::Checkpoint ck = data::load_checkpoint(a.out);
    model->load_state_dict(ck.model);
    opt.load_state_dict(ck.optimizer);
    sched.load_state_dict(ck.scheduler);
    set_rng_state(ck.rng);
    start = ck.epoch;
    std::printf("resumed from %s after epoch %lld\n", a.out.c_str(), static_cast<long long>(start));
  }
  const int64_t n = xtr.size(0), batches = (n + a.batch - 1) / a.batch;
  data::Progress bar(a.epochs, batches);
  for (int64_t e = start; e < a.epochs; ++e) {
    bar.start_epoch(e);
    const auto perm = data::permutation(n, data::mix_seed(a.seed, static_cast<uint64_t>(e)));
    for (int64_t b = 0; b < batches; ++b) {
      std::vector<Tensor> bx, by;
      for (int64_t k = b * a.batch; k < std::min(n, (b + 1) * a.batch); ++k) {
        const int64_t i = perm[static_cast<size_t>(k)];
        data::Generator g(data::mix_seed(a.seed, static_cast<uint64_t>(e), static_cast<uint64_t>(i)));
        const double s = static_cast<double>(a.size);
        Tensor x = data::affine(xtr.select(0, i), g.uniform(-10, 10), g.uniform(-0.06, 0.06) * s,
                                g.uniform(-0.06, 0.06) * s, g.uniform(0.9, 1.1));
        if (g.uniform() < 0.5) x = data::hflip(x);  // the groups pool left and right
        x = x * g.uniform(0.85, 1.15);              // intensity gain
        bx.push_back(x);
        by.push_back(ytr.select(0, i));
      }
      if (bx.size() < 2) continue;  // BatchNorm needs more than one sample
      Tensor x = stack(bx, 0).to(dev), y = stack(by, 0).to(dev);
      Tensor loss = binary_cross_entropy_with_logits((*model)(x), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      bar.step(loss.item(), static_cast<int64_t>(bx.size()));
    }
    sched.step();
    const Metrics v = evaluate(*model, xva, yva, dev, a.batch);
    char extra[128];
    std::snprintf(extra, sizeof extra, "val loss %.4f  val label accuracy %.3f", v.loss, v.label_acc);
    bar.end_epoch(extra);
    data::Checkpoint ck;
    ck.model = model->state_dict();
    ck.optimizer = opt.state_dict();
    ck.scheduler = sched.state_dict();
    ck.epoch = e + 1;
    ck.rng = get_rng_state();
    data::save_checkpoint(a.out, ck);
  }
  const Metrics t = evaluate(*model, xte, yte, dev, a.batch);
  const eval::MultiLabelAuroc auc = eval::multilabel_auroc(t.probs, yte, [] {
    std::vector<std::string> names;
    for (const auto& g : groups()) names.push_back(g.name);
    return names;
  }());
  std::printf("\ntest split (%lld slices, slabs unseen in training):\n", static_cast<long long>(xte.size(0)));
  for (int64_t c = 0; c < C; ++c)
    std::printf("  %-11s AUROC %s\n", groups()[c].name,
                std::isnan(auc.per_class[c]) ? "-    (one label only in the test split)"
                                             : std::to_string(auc.per_class[c]).substr(0, 6).c_str());
  std::printf("  mean AUROC %.4f%s\n  per-label accuracy %.4f, exact-match accuracy %.4f, loss %.4f\n", auc.mean,
              auc.note.empty() ? "" : (" (" + auc.note + ")").c_str(), t.label_acc, t.exact, t.loss);
  std::printf(
      "time %s; checkpoint %s\n",
      data::format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()).c_str(),
      a.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  galen::examples::Cli cli([&] { usage(argv[0]); });
  cli.text("--scans", a.scans).text("--arch", a.arch).text("--out", a.out).number("--size", a.size);
  cli.number("--epochs", a.epochs).number("--batch", a.batch).number("--slab", a.slab);
  cli.number("--min-voxels", a.min_voxels).number("--lr", a.lr).number("--seed", a.seed).text("--device", a.device);
  cli.number("--threads", a.threads).flag("--resume", a.resume);
  cli.custom("--planes", [&](const std::string& v) { a.planes = galen::examples::split_commas(v); });
  if (const int rc = cli.parse(argc, argv); rc >= 0) return rc;
  return galen::examples::run_guarded([&] { return run(a); });
}
