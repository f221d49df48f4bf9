// Grad-CAM / Grad-CAM++ / saliency (see gradcam.h). The network runs with
// autograd on whatever device it lives on; the small CAM arithmetic after it
// is done in f64 on the host, where it is easy to read and exact enough to
// compare with PyTorch to 1e-10.
#include "galen/eval/gradcam.h"

#include <algorithm>
#include <cmath>

#include "galen/core/autograd.h"
#include "galen/core/error.h"
#include "galen/core/ops.h"
#include "galen/data/image.h"
#include "galen/data/transforms.h"

namespace galen::eval {

namespace {

// Turns grad mode on for the scope (an explanation needs a graph even when the caller runs under NoGradGuard).
class GradModeOn {
 public:
  GradModeOn() : prev_(autograd::grad_mode_enabled()) { autograd::set_grad_mode(true); }
  ~GradModeOn() { autograd::set_grad_mode(prev_); }
  GradModeOn(const GradModeOn&) = delete;
  GradModeOn& operator=(const GradModeOn&) = delete;

 private:
  bool prev_;
};

// Removes a forward hook when the scope ends, also on an exception.
class HookScope {
 public:
  HookScope(nn::Module& m, nn::Module::ForwardHook fn) : m_(m), id_(m.register_forward_hook(std::move(fn))) {}
  ~HookScope() { m_.remove_forward_hook(id_); }
  HookScope(const HookScope&) = delete;
  HookScope& operator=(const HookScope&) = delete;

 private:
  nn::Module& m_;
  int id_;
};

Tensor prepare_input(const Tensor& input, const char* op) {
  GALEN_CHECK(input.defined() && input.dim() == 4, op, ": input must be (N, C, H, W), got ",
              input.defined() ? input.sizes() : Shape{});
  GALEN_CHECK(is_floating(input.dtype()), op, ": input must be floating, got ", dtype_name(input.dtype()));
  GALEN_CHECK(input.size(0) >= 1, op, ": empty batch");
  Tensor x = input.detach();
  x.requires_grad_(true);  // so the graph exists even for a frozen model
  return x;
}

// The logits' target classes, one per sample; validates the model output.
std::vector<int64_t> resolve_classes(const Tensor& out, int64_t n, const std::vector<int64_t>& classes, const char* op) {
  GALEN_CHECK(out.defined() && out.dim() == 2 && out.size(0) == n, op,
              ": the model must return (N, classes) logits for N = ", n, ", got ",
              out.defined() ? out.sizes() : Shape{});
  const int64_t c = out.size(1);
  GALEN_CHECK(classes.size() == 1 || static_cast<int64_t>(classes.size()) == n, op, ": ", classes.size(),
              " target classes for a batch of ", n, " (give 1 or N)");
  std::vector<int64_t> pred;
  std::vector<int64_t> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = classes.size() == 1 ? classes[0] : classes[i];
    if (k == kPredictedClass) {
      if (pred.empty()) pred = argmax(out.detach(), 1).to_vector<int64_t>();
      k = pred[i];
    }
    GALEN_CHECK(k >= 0 && k < c, op, ": target class ", k, " for sample ", i, " is out of range for ", c,
                " outputs");
    r[i] = k;
  }
  return r;
}

// sum_n out[n, classes[n]] (a scalar) and the per-sample scores.
std::pair<Tensor, Tensor> class_score(const Tensor& out, const std::vector<int64_t>& classes) {
  const int64_t n = out.size(0), c = out.size(1);
  std::vector<double> hot(static_cast<size_t>(n * c), 0.0);
  for (int64_t i = 0; i < n; ++i) hot[i * c + classes[i]] = 1.0;
  Tensor mask = from_vector<double>(hot, {n, c}).to(out.dtype()).to(out.device());
  Tensor per = sum(mul(out, mask), {1});
  return {per.sum(), per.detach()};
}

}  // namespace

const char* cam_method_name(CamMethod method) {
  switch (method) {
    case CamMethod::GradCam:
      return "grad_cam";
    case CamMethod::GradCamPlusPlus:
      return "grad_cam++";
    case CamMethod::HiResCam:
      return "hirescam";
  }
  return "cam";
}

Tensor cam_from_gradients(const Tensor& activations, const Tensor& gradients, CamMethod method) {
  GALEN_CHECK(activations.defined() && activations.dim() == 4, "cam_from_gradients: activations must be (N, K, h, w), got ",
              activations.defined() ? activations.sizes() : Shape{});
  GALEN_CHECK(gradients.defined() && gradients.sizes() == activations.sizes(), "cam_from_gradients: gradients ",
              gradients.defined() ? gradients.sizes() : Shape{}, " must have the activations' shape ",
              activations.sizes());
  const int64_t n = activations.size(0), k = activations.size(1), h = activations.size(2), w = activations.size(3);
  GALEN_CHECK(h * w > 0, "cam_from_gradients: empty spatial size ", activations.sizes());
  const std::vector<double> a = activations.to_vector<double>();
  const std::vector<double> g = gradients.to_vector<double>();
  const int64_t hw = h * w;
  std::vector<double> cam(static_cast<size_t>(n * hw), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < k; ++c) {
      const double* ap = a.data() + (i * k + c) * hw;
      const double* gp = g.data() + (i * k + c) * hw;
      double* out = cam.data() + i * hw;
      if (method == CamMethod::HiResCam) {
        for (int64_t p = 0; p < hw; ++p) out[p] += gp[p] * ap[p];
        continue;
      }
      double weight = 0;
      if (method == CamMethod::GradCam) {
        for (int64_t p = 0; p < hw; ++p) weight += gp[p];
        weight /= static_cast<double>(hw);
      } else {
        double sum_a = 0;
        for (int64_t p = 0; p < hw; ++p) sum_a += ap[p];
        for (int64_t p = 0; p < hw; ++p) {
          const double g1 = gp[p];
          if (g1 == 0) continue;
          const double g2 = g1 * g1, g3 = g2 * g1;
          const double alpha = g2 / (2 * g2 + sum_a * g3 + 1e-6);
          weight += alpha * std::max(g1, 0.0);
        }
      }
      for (int64_t p = 0; p < hw; ++p) out[p] += weight * ap[p];
    }
  }
  for (double& v : cam) v = std::max(v, 0.0);
  return from_vector<double>(cam, {n, h, w});
}

CamResult grad_cam(nn::Module& model, nn::Module& layer, const Tensor& input, const std::vector<int64_t>& classes,
                   CamMethod method) {
  const char* op = cam_method_name(method);
  GALEN_CHECK(!classes.empty(), op, ": no target class given (use kPredictedClass for the predicted one)");
  GradModeOn grad_on;
  Tensor x = prepare_input(input, op);
  const int64_t n = x.size(0);
  Tensor act;
  int calls = 0;
  Tensor out;
  {
    HookScope hook(layer, [&](nn::Module&, const Tensor&, const Tensor& y) {
      ++calls;
      act = y;
    });
    out = model(x);
  }
  GALEN_CHECK(calls > 0, op, ": the target layer (", layer.name(),
              ") did not run through operator() during the model's forward; the model must call it as (*layer)(x) "
              "(Sequential does) rather than layer->forward(x), or pick a layer that is");
  GALEN_CHECK(calls == 1, op, ": the target layer (", layer.name(), ") ran ", calls,
              " times in one forward; pick a layer used once");
  GALEN_CHECK(act.defined() && act.dim() == 4 && act.size(0) == n, op, ": the target layer's output must be (N, K, h, w) with N = ",
              n, ", got ", act.defined() ? act.sizes() : Shape{});
  GALEN_CHECK(act.requires_grad(), op, ": the target layer's output does not depend on the input or on any "
              "parameter (no gradient can reach it)");
  CamResult r;
  r.classes = resolve_classes(out, n, classes, op);
  auto [total, per] = class_score(out, r.classes);
  r.scores = per;
  Tensor g = autograd::grad({total}, {act})[0];
  if (!g.defined()) g = zeros_like(act.detach());  // the score does not depend on the layer: flat CAM
  r.activations = act.detach();
  r.gradients = g.detach();
  r.cam = cam_from_gradients(r.activations, r.gradients, method);
  r.heatmap = upsample_heatmap(r.cam, x.size(2), x.size(3));
  return r;
}

CamResult grad_cam(nn::Module& model, const std::string& layer, const Tensor& input,
                   const std::vector<int64_t>& classes, CamMethod method) {
  std::vector<std::string> names;
  for (const auto& [name, m] : model.named_modules()) {
    if (name == layer) return grad_cam(model, *m, input, classes, method);
    if (!name.empty()) names.push_back(name);
  }
  std::string list;
  for (size_t i = 0; i < names.size() && i < 40; ++i) {
    if (i) list += ", ";
    list += names[i];
  }
  if (names.size() > 40) list += ", ...";
  GALEN_FAIL("grad_cam: the model has no layer \"", layer, "\"; its layers are: ", list);
}

Tensor saliency(nn::Module& model, const Tensor& input, const std::vector<int64_t>& classes) {
  GALEN_CHECK(!classes.empty(), "saliency: no target class given (use kPredictedClass for the predicted one)");
  GradModeOn grad_on;
  Tensor x = prepare_input(input, "saliency");
  Tensor out = model(x);
  const std::vector<int64_t> cls = resolve_classes(out, x.size(0), classes, "saliency");
  Tensor total = class_score(out, cls).first;
  Tensor g = autograd::grad({total}, {x})[0];
  if (!g.defined()) g = zeros_like(x.detach());
  return amax(abs(g.detach().to(DType::f64)), {1}).cpu();
}

Tensor normalize_heatmap(const Tensor& map) {
  GALEN_CHECK(map.defined() && map.dim() >= 2, "normalize_heatmap: expected (..., h, w), got ",
              map.defined() ? map.sizes() : Shape{});
  const int64_t hw = map.size(-1) * map.size(-2);
  std::vector<double> v = map.to_vector<double>();
  for (size_t start = 0; hw > 0 && start < v.size(); start += static_cast<size_t>(hw)) {
    const auto [lo_it, hi_it] = std::minmax_element(v.begin() + start, v.begin() + start + hw);
    const double lo = *lo_it, hi = *hi_it;
    GALEN_CHECK(std::isfinite(lo) && std::isfinite(hi), "normalize_heatmap: the map holds non-finite values");
    for (int64_t p = 0; p < hw; ++p) {
      double& e = v[start + p];
      e = hi > lo ? (e - lo) / (hi - lo) : 0.0;
    }
  }
  return from_vector<double>(v, map.sizes());
}

Tensor upsample_heatmap(const Tensor& cam, int64_t height, int64_t width) {
  GALEN_CHECK(cam.defined() && (cam.dim() == 2 || cam.dim() == 3), "upsample_heatmap: expected (N, h, w) or (h, w), got ",
              cam.defined() ? cam.sizes() : Shape{});
  return normalize_heatmap(data::resize(cam.detach().to(DType::f64).cpu(), height, width));
}

Tensor colorize(const Tensor& heatmap) {
  GALEN_CHECK(heatmap.defined() && heatmap.dim() == 2, "colorize: expected a (H, W) heatmap, got ",
              heatmap.defined() ? heatmap.sizes() : Shape{});
  const std::vector<double> v = heatmap.to_vector<double>();
  std::vector<uint8_t> rgb(v.size() * 3);
  for (size_t i = 0; i < v.size(); ++i) {
    GALEN_CHECK(std::isfinite(v[i]), "colorize: heatmap value ", i, " is not finite");
    const double t = std::clamp(v[i], 0.0, 1.0);
    // Jet: blue -> cyan -> yellow -> red, each channel a clipped tent.
    const double c[3] = {1.5 - std::fabs(4 * t - 3), 1.5 - std::fabs(4 * t - 2), 1.5 - std::fabs(4 * t - 1)};
    for (int k = 0; k < 3; ++k) rgb[i * 3 + k] = static_cast<uint8_t>(std::lround(255.0 * std::clamp(c[k], 0.0, 1.0)));
  }
  return from_vector<uint8_t>(rgb, {heatmap.size(0), heatmap.size(1), 3});
}

Tensor overlay(const Tensor& image, const Tensor& heatmap, double alpha) {
  GALEN_CHECK(alpha >= 0 && alpha <= 1, "overlay: alpha must lie in [0, 1], got ", alpha);
  GALEN_CHECK(image.defined() && (image.dim() == 2 || image.dim() == 3), "overlay: image must be (H, W), (C, H, W) "
              "floating or (H, W, C) u8, got ", image.defined() ? image.sizes() : Shape{});
  // To (3, H, W) f64 in [0, 1].
  Tensor img;
  if (image.dtype() == DType::u8) {
    img = image.dim() == 2 ? image.unsqueeze(0) : image.permute({2, 0, 1});
    img = div(img.to(DType::f64), 255.0);
  } else {
    GALEN_CHECK(is_floating(image.dtype()), "overlay: image dtype must be u8 or floating, got ", dtype_name(image.dtype()));
    img = image.dim() == 2 ? image.unsqueeze(0) : image;
    img = normalize_heatmap(img.detach().to(DType::f64).cpu().reshape({1, -1})).reshape(img.sizes());
  }
  img = img.cpu();
  GALEN_CHECK(img.size(0) == 1 || img.size(0) == 3, "overlay: image must have 1 or 3 channels, got ", image.sizes());
  const int64_t h = img.size(1), w = img.size(2);
  GALEN_CHECK(heatmap.defined() && heatmap.dim() == 2 && heatmap.size(0) == h && heatmap.size(1) == w,
              "overlay: heatmap must be (H, W) = (", h, ", ", w, "), got ", heatmap.defined() ? heatmap.sizes() : Shape{});
  const std::vector<double> px = img.contiguous().to_vector<double>();
  const std::vector<uint8_t> col = colorize(heatmap).to_vector<uint8_t>();
  const int64_t chans = img.size(0);
  std::vector<uint8_t> out(static_cast<size_t>(h * w * 3));
  for (int64_t p = 0; p < h * w; ++p)
    for (int64_t k = 0; k < 3; ++k) {
      const double base = px[(chans == 1 ? 0 : k) * h * w + p] * 255.0;
      out[p * 3 + k] = static_cast<uint8_t>(std::lround(std::clamp((1 - alpha) * base + alpha * col[p * 3 + k], 0.0, 255.0)));
    }
  return from_vector<uint8_t>(out, {h, w, 3});
}

void write_overlay_png(const std::string& path, const Tensor& image, const Tensor& heatmap, double alpha) {
  data::write_png(path, overlay(image, heatmap, alpha));
}

std::pair<int64_t, int64_t> heatmap_argmax(const Tensor& heatmap) {
  GALEN_CHECK(heatmap.defined() && heatmap.dim() == 2 && heatmap.numel() > 0, "heatmap_argmax: expected a non-empty "
              "(H, W) heatmap, got ", heatmap.defined() ? heatmap.sizes() : Shape{});
  const std::vector<double> v = heatmap.to_vector<double>();
  size_t best = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    GALEN_CHECK(!std::isnan(v[i]), "heatmap_argmax: heatmap value ", i, " is NaN");
    if (v[i] > v[best]) best = i;
  }
  const int64_t w = heatmap.size(1);
  return {static_cast<int64_t>(best) / w, static_cast<int64_t>(best) % w};
}

bool pointing_game_hit(const Tensor& heatmap, const std::vector<Box>& boxes, double tolerance) {
  GALEN_CHECK(tolerance >= 0, "pointing_game_hit: tolerance must be >= 0, got ", tolerance);
  const auto [row, col] = heatmap_argmax(heatmap);
  for (const Box& b : boxes) {
    GALEN_CHECK(b.w >= 0 && b.h >= 0, "pointing_game_hit: box has a negative size (", b.w, " x ", b.h, ")");
    const double c = static_cast<double>(col), r = static_cast<double>(row);
    if (c >= b.x - tolerance && c < b.x + b.w + tolerance && r >= b.y - tolerance && r < b.y + b.h + tolerance)
      return true;
  }
  return false;
}

}  // namespace galen::eval
