// Grad-CAM / Grad-CAM++ / saliency: against PyTorch on a tiny CNN with fixed
// weights (tests/fixtures/gradcam_parity.safetensors from
// tools/make_gradcam_fixtures.py), against a hand computation on a CNN whose
// CAM is known in closed form, plus overlays, the pointing game and errors.
#include <cstdio>
#include <filesystem>

#include "galen/core/json.h"
#include "galen/data/image.h"
#include "galen/eval/gradcam.h"
#include "test_util.h"

using namespace galen;
using namespace galen::eval;

namespace {

const SafetensorsFile& fixtures() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/gradcam_parity.safetensors");
  return f;
}
Tensor fx(const std::string& key) {
  INFO(key);
  REQUIRE(fixtures().tensors.count(key) == 1);
  return fixtures().tensors.at(key);
}

// The fixture's network with its weights, in f64 and eval mode.
std::shared_ptr<nn::Sequential> tiny_cnn() {
  auto net = std::make_shared<nn::Sequential>(nn::Sequential::List{
      std::make_shared<nn::Conv2d>(3, 4, 3, 1, 1), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Conv2d>(4, 6, 3, 1, 1), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::AdaptiveAvgPool2d>(1), std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(6, 3)});
  net->to(DType::f64);
  nn::StateDict sd;
  for (const auto& [k, v] : fixtures().tensors)
    if (k.rfind("w.", 0) == 0) sd[k.substr(2)] = v;
  net->load_state_dict(sd);
  net->eval();
  return net;
}

// A blob of height 1 centred on (row 5, col 2) of an 8 x 8 image, Gaussian falloff.
Tensor blob_image() {
  std::vector<double> v(64);
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) v[r * 8 + c] = std::exp(-((r - 5) * (r - 5) + (c - 2) * (c - 2)) / 1.5);
  return from_vector<double>(v, {1, 1, 8, 8});
}

// conv (identity on channel 0, negation on channel 1) -> ReLU -> global average -> Linear: the logit of class c is
// sum_k W[c, k] mean(relu(A_k)), so d logit / d relu(A_k) = W[c, k] / 64 everywhere.
std::shared_ptr<nn::Sequential> blob_cnn() {
  auto conv = std::make_shared<nn::Conv2d>(1, 2, 3, 1, 1);
  auto fc = std::make_shared<nn::Linear>(2, 2);
  auto net = std::make_shared<nn::Sequential>(nn::Sequential::List{conv, std::make_shared<nn::ReLU>(),
                                                                   std::make_shared<nn::AdaptiveAvgPool2d>(1),
                                                                   std::make_shared<nn::Flatten>(), fc});
  net->to(DType::f64);
  std::vector<double> w(18, 0.0);
  w[4] = 1.0;    // channel 0: centre tap +1
  w[13] = -1.0;  // channel 1: centre tap -1
  nn::StateDict sd = {{"0.weight", from_vector<double>(w, {2, 1, 3, 3})},
                      {"0.bias", zeros({2}, DType::f64)},
                      {"4.weight", from_vector<double>({2.0, 0.5, -1.0, 3.0}, {2, 2})},
                      {"4.bias", zeros({2}, DType::f64)}};
  net->load_state_dict(sd);
  net->eval();
  return net;
}

}  // namespace

TEST_CASE("grad_cam, grad_cam++ and HiResCAM match PyTorch on a tiny CNN", "[eval][gradcam]") {
  auto net = tiny_cnn();
  const Tensor x = fx("input");
  for (const char* name : {"conv2_pre_relu", "conv2_relu", "conv1_predicted"}) {
    const std::string c = name;
    INFO("case " << c);
    const json::Value meta = json::parse(fixtures().metadata.at(c));
    const std::string layer = meta.find("layer")->as_string();
    std::vector<int64_t> classes;
    for (const auto& v : meta.find("classes")->as_array()) classes.push_back(v.as_int());

    CamResult r = grad_cam(*net, layer, x, classes);
    REQUIRE(r.classes == fx(c + ".classes").to_vector<int64_t>());
    REQUIRE_CLOSE(r.activations, fx(c + ".act"), 1e-13, 1e-10);
    REQUIRE_CLOSE(r.gradients, fx(c + ".grad"), 1e-13, 1e-10);
    REQUIRE_CLOSE(r.cam, fx(c + ".cam"), 1e-13, 1e-10);
    REQUIRE_CLOSE(r.heatmap, fx(c + ".heat"), 1e-10, 1e-10);
    REQUIRE(max(r.cam).item() > 0);  // a non-trivial map

    CamResult pp = grad_cam(*net, layer, x, classes, CamMethod::GradCamPlusPlus);
    REQUIRE_CLOSE(pp.cam, fx(c + ".campp"), 1e-13, 1e-10);
    REQUIRE_CLOSE(pp.heatmap, fx(c + ".heatpp"), 1e-10, 1e-10);
    REQUIRE(max(pp.cam).item() > 0);
    // The captured tensors give the same CAM through the stand-alone function.
    REQUIRE_CLOSE(cam_from_gradients(pp.activations, pp.gradients, CamMethod::GradCamPlusPlus), pp.cam, 0, 0);

    CamResult hr = grad_cam(*net, layer, x, classes, CamMethod::HiResCam);
    REQUIRE_CLOSE(hr.cam, fx(c + ".camhr"), 1e-13, 1e-10);
    REQUIRE_CLOSE(hr.heatmap, fx(c + ".heathr"), 1e-10, 1e-10);
    REQUIRE(max(hr.cam).item() > 0);
  }
  REQUIRE_CLOSE(saliency(*net, x, {0, 2}), fx("saliency"), 1e-13, 1e-10);
  // No parameter gradient is touched, and the hook is gone afterwards.
  for (const auto& p : net->parameters()) REQUIRE_FALSE(p.grad().defined());
}

TEST_CASE("grad_cam equals the closed form on a CNN with known structure and peaks on the blob",
          "[eval][gradcam]") {
  auto net = blob_cnn();
  const Tensor x = blob_image();
  {
    NoGradGuard no_grad;  // explanations turn grad mode on for themselves
    for (int64_t cls : {0, 1}) {
      INFO("class " << cls);
      CamResult r = grad_cam(*net, "1", x, {cls});  // the ReLU's output
      const double w0 = cls == 0 ? 2.0 : -1.0, w1 = cls == 0 ? 0.5 : 3.0;
      // d logit / d relu(A_k) = W[c, k] / 64 at every position.
      const auto g = r.gradients.to_vector<double>();
      for (int p = 0; p < 64; ++p) {
        REQUIRE(g[p] == Approx(w0 / 64).epsilon(1e-14));
        REQUIRE(g[64 + p] == Approx(w1 / 64).epsilon(1e-14));
      }
      // relu(A_0) = blob, relu(A_1) = 0, so cam = relu(W[c, 0] / 64 * blob).
      const auto img = x.to_vector<double>();
      const auto cam = r.cam.to_vector<double>();
      for (int p = 0; p < 64; ++p) REQUIRE(cam[p] == Approx(std::max(0.0, w0 / 64 * img[p])).margin(1e-16));
      // Manual Grad-CAM from the captured activations / gradients.
      const auto a = r.activations.to_vector<double>();
      for (int p = 0; p < 64; ++p) {
        double mg0 = 0, mg1 = 0;
        for (int q = 0; q < 64; ++q) {
          mg0 += g[q] / 64;
          mg1 += g[64 + q] / 64;
        }
        REQUIRE(cam[p] == Approx(std::max(0.0, mg0 * a[p] + mg1 * a[64 + p])).margin(1e-16));
      }
      if (cls == 0) {
        REQUIRE(heatmap_argmax(r.heatmap.select(0, 0)) == std::pair<int64_t, int64_t>{5, 2});
        REQUIRE(r.heatmap.to_vector<double>()[5 * 8 + 2] == 1.0);
        REQUIRE(pointing_game_hit(r.heatmap.select(0, 0), {Box{1, 4, 3, 3}}));
        REQUIRE_FALSE(pointing_game_hit(r.heatmap.select(0, 0), {Box{5, 0, 3, 3}}));
        REQUIRE(pointing_game_hit(r.heatmap.select(0, 0), {Box{5, 0, 3, 3}, Box{2, 5, 1, 1}}));
        REQUIRE(pointing_game_hit(r.heatmap.select(0, 0), {Box{3, 5, 1, 1}}, 1.0));  // one pixel of tolerance
        REQUIRE(r.scores.item() == Approx(2.0 * (r.activations.select(1, 0).sum().item() / 64)).epsilon(1e-14));
      } else {
        // Class 1 weighs the blob negatively: the ReLU leaves nothing, the heatmap is flat zero.
        REQUIRE(max(r.cam).item() == 0.0);
        REQUIRE(max(r.heatmap).item() == 0.0);
      }
    }
    // The predicted class (class 0 here: 2 * m > -m) is explained by default.
    CamResult pred = grad_cam(*net, "1", x, {kPredictedClass}, CamMethod::GradCamPlusPlus);
    REQUIRE(pred.classes == std::vector<int64_t>{0});
    REQUIRE(heatmap_argmax(pred.heatmap.select(0, 0)) == std::pair<int64_t, int64_t>{5, 2});
    // Saliency peaks near the blob too: d logit0 / dx = 2/64 * (blob > 0) with a 1-pixel conv, nonzero everywhere
    // the blob is positive; its maximum equals 2/64.
    Tensor s = saliency(*net, x, {0});
    REQUIRE(s.sizes() == Shape{1, 8, 8});
    REQUIRE(max(s).item() == Approx(2.0 / 64).epsilon(1e-14));
  }
}

TEST_CASE("grad_cam refuses what it cannot explain", "[eval][gradcam]") {
  auto net = tiny_cnn();
  const Tensor x = fx("input");
  REQUIRE_THROWS_WITH(grad_cam(*net, "9", x, {0}), Catch::Contains("no layer \"9\"") && Catch::Contains("0, 1, 2"));
  REQUIRE_THROWS_WITH(grad_cam(*net, "3", x, {3}), Catch::Contains("target class 3 for sample 0 is out of range"));
  REQUIRE_THROWS_WITH(grad_cam(*net, "3", x, {0, 1, 2}), Catch::Contains("3 target classes for a batch of 2"));
  REQUIRE_THROWS_WITH(grad_cam(*net, "3", x, {}), Catch::Contains("no target class"));
  REQUIRE_THROWS_WITH(grad_cam(*net, "3", x.select(0, 0), {0}), Catch::Contains("(N, C, H, W)"));
  REQUIRE_THROWS_WITH(grad_cam(*net, "6", x, {0}), Catch::Contains("must be (N, K, h, w)"));  // Flatten's output

  // A model that calls its layer with forward() hides it from the hook.
  struct Hidden : nn::Module {
    std::shared_ptr<nn::Sequential> inner;
    explicit Hidden(std::shared_ptr<nn::Sequential> s) : inner(register_module("inner", std::move(s))) {}
    Tensor forward(const Tensor& in) override { return inner->forward(in); }
  };
  Hidden hidden(net);
  REQUIRE_THROWS_WITH(grad_cam(hidden, "inner", x, {0}), Catch::Contains("did not run through operator()"));
  // ... while its Sequential's children are still visible.
  REQUIRE_NOTHROW(grad_cam(hidden, "inner.3", x, {0}));
  REQUIRE_THROWS_AS(cam_from_gradients(zeros({1, 2, 3, 3}), zeros({1, 2, 3, 4})), Error);
  REQUIRE_THROWS_AS(pointing_game_hit(zeros({2, 2, 2}), {Box{0, 0, 1, 1}}), Error);
  REQUIRE_THROWS_AS(heatmap_argmax(full({2, 2}, std::nan(""), DType::f64)), Error);
}

TEST_CASE("heatmap colouring, overlays and PNG output", "[eval][gradcam]") {
  Tensor hm = from_vector<double>({0.0, 0.5, 1.0, 0.25}, {2, 2});
  const auto col = colorize(hm).to_vector<uint8_t>();
  // jet(0) = dark blue, jet(0.5) = (128, 255, 128), jet(1) = dark red.
  REQUIRE(std::vector<uint8_t>(col.begin(), col.begin() + 9) == std::vector<uint8_t>{0, 0, 128, 128, 255, 128, 128, 0, 0});
  // alpha 0: the image (min-max scaled for display) in grey; alpha 1: the colours.
  Tensor img = from_vector<float>({-1.f, 1.f, 0.f, 3.f}, {1, 2, 2});
  REQUIRE(overlay(img, hm, 0.0).to_vector<uint8_t>() ==
          std::vector<uint8_t>{0, 0, 0, 128, 128, 128, 64, 64, 64, 255, 255, 255});
  REQUIRE(overlay(img, hm, 1.0).to_vector<uint8_t>() == colorize(hm).to_vector<uint8_t>());
  // RGB u8 (H, W, C) image.
  Tensor rgb = from_vector<uint8_t>({200, 0, 0, 0, 200, 0, 0, 0, 200, 10, 20, 30}, {2, 2, 3});
  Tensor half = overlay(rgb, hm, 0.5);
  REQUIRE(half.sizes() == Shape{2, 2, 3});
  REQUIRE(half.to_vector<uint8_t>()[0] == 100);  // (200 + 0) / 2
  REQUIRE(half.to_vector<uint8_t>()[2] == 64);   // (0 + 128) / 2

  const std::string path = (std::filesystem::temp_directory_path() / "galen_test_overlay.png").string();
  write_overlay_png(path, img, hm);
  Tensor back = data::read_image(path);
  REQUIRE(back.sizes() == Shape{2, 2, 3});
  REQUIRE(equal(back, overlay(img, hm)));
  std::remove(path.c_str());

  // Upsampling + scaling to [0, 1].
  Tensor up = upsample_heatmap(from_vector<double>({0, 1, 2, 3}, {1, 2, 2}), 4, 4);
  REQUIRE(up.sizes() == Shape{1, 4, 4});
  REQUIRE(min(up).item() == 0.0);
  REQUIRE(max(up).item() == 1.0);
  REQUIRE(max(normalize_heatmap(full({3, 3}, 2.0))).item() == 0.0);

  REQUIRE_THROWS_WITH(overlay(img, zeros({3, 3}), 0.5), Catch::Contains("heatmap must be (H, W) = (2, 2)"));
  REQUIRE_THROWS_AS(overlay(zeros({2, 2, 2}), hm, 0.5), Error);
  REQUIRE_THROWS_AS(overlay(img, hm, 1.5), Error);
}
