// Explanations for CNN classifiers: Grad-CAM, Grad-CAM++, HiResCAM for any layer with a
// (N, K, h, w) output, input-gradient saliency, heatmap overlays written as
// PNG, and the pointing game.
//
// The target layer's output is captured with a forward hook (Module::
// register_forward_hook), so the layer must be run through operator() —
// Sequential does that for its children; a model whose forward calls
// `layer->forward(x)` directly hides the layer and grad_cam says so. The
// gradient of the class score with respect to that activation comes from
// autograd::grad (no parameter's .grad is touched). The model is used as it
// is: put it in eval() mode first so BatchNorm / Dropout do not mix samples.
//
//   model->eval();
//   auto r = eval::grad_cam(*model, "features.norm5", x, {eval::kPredictedClass});
//   eval::write_overlay_png("cam.png", x.select(0, 0), r.heatmap.select(0, 0));
//
// Definitions (A = activation, g = d score / d A, sums over the h x w positions):
//   Grad-CAM:   w_k = mean g_k;  cam = relu(sum_k w_k A_k)
//   Grad-CAM++: a = g^2 / (2 g^2 + (sum A_k) g^3 + 1e-6), 0 where g = 0;
//               w_k = sum a max(g, 0);  cam = relu(sum_k w_k A_k)
//               (the closed form for an exponential score, as in the paper and
//               in the common pytorch-grad-cam implementation)
//   HiResCAM:   cam = relu(sum_k g_k * A_k) elementwise (Draelos & Carin 2020): no spatial
//               averaging of the gradient, so the map shows where this input's evidence
//               for the class is, not where channels that help on average are active
//   heatmap:    cam resized bilinearly (align_corners=False) to the input's H x W,
//               then min-max scaled to [0, 1] per sample (all zeros when flat).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "galen/core/tensor.h"
#include "galen/layers/module.h"

namespace galen::eval {

enum class CamMethod { GradCam, GradCamPlusPlus, HiResCam };
// "grad_cam", "grad_cam++", "hirescam" (used in messages).
const char* cam_method_name(CamMethod method);

// In `classes`, this value means "the class the model predicts" (argmax of its output).
constexpr int64_t kPredictedClass = -1;

struct CamResult {
  Tensor cam;          // (N, h, w) f64, at the layer's resolution, after the ReLU, not scaled
  Tensor heatmap;      // (N, H, W) f64 in [0, 1], the input's size
  Tensor activations;  // (N, K, h, w) the layer's output (detached)
  Tensor gradients;    // (N, K, h, w) d score / d activations
  Tensor scores;       // (N) the target class logits
  std::vector<int64_t> classes;  // the class explained for each sample
};

// The CAM from an activation and its gradient (both (N, K, h, w)); (N, h, w) f64 on the CPU.
Tensor cam_from_gradients(const Tensor& activations, const Tensor& gradients, CamMethod method = CamMethod::GradCam);

// Runs `model` on `input` (N, C, H, W) -> (N, classes), explains the logit of
// classes[n] for sample n (one entry applies to every sample; kPredictedClass
// picks the argmax) at `layer`'s output.
CamResult grad_cam(nn::Module& model, nn::Module& layer, const Tensor& input, const std::vector<int64_t>& classes,
                   CamMethod method = CamMethod::GradCam);
// The layer named by its dotted path in model.named_modules() ("layer4", "features.denseblock4").
CamResult grad_cam(nn::Module& model, const std::string& layer, const Tensor& input,
                   const std::vector<int64_t>& classes, CamMethod method = CamMethod::GradCam);

// Input-gradient saliency (Simonyan et al.): max over channels of
// |d logit[classes[n]] / d input|, (N, H, W) f64, not scaled.
Tensor saliency(nn::Module& model, const Tensor& input, const std::vector<int64_t>& classes);

// (N, h, w) or (h, w) -> the same at (height, width), bilinear, then min-max scaled per sample to [0, 1].
Tensor upsample_heatmap(const Tensor& cam, int64_t height, int64_t width);
// Min-max scales each (h, w) map to [0, 1] (zeros when flat). f64.
Tensor normalize_heatmap(const Tensor& map);

// Jet-like colormap of a (H, W) map in [0, 1] -> (H, W, 3) u8.
Tensor colorize(const Tensor& heatmap);
// Blends the colormapped heatmap over `image`: (C, H, W) with C = 1 or 3, or
// (H, W); floating images are min-max scaled for display (so a mean/std
// normalised network input works), u8 images are taken as they are. Returns
// (H, W, 3) u8 = (1 - alpha) image + alpha colour. Heatmap (H, W), values in [0, 1].
Tensor overlay(const Tensor& image, const Tensor& heatmap, double alpha = 0.5);
void write_overlay_png(const std::string& path, const Tensor& image, const Tensor& heatmap, double alpha = 0.5);

// ---- pointing game ------------------------------------------------------------------------
// A box in pixels: columns [x, x + w), rows [y, y + h).
struct Box {
  double x = 0, y = 0, w = 0, h = 0;
};
// (row, column) of the heatmap's maximum (the first in row-major order on ties).
std::pair<int64_t, int64_t> heatmap_argmax(const Tensor& heatmap);
// True when the maximum of the (H, W) heatmap lies in one of the boxes,
// each grown by `tolerance` pixels on every side.
bool pointing_game_hit(const Tensor& heatmap, const std::vector<Box>& boxes, double tolerance = 0);

}  // namespace galen::eval
