// One image in (DICOM, PNG or JPEG), one probability per finding out, and a
// class-activation overlay PNG (HiResCAM by default, or Grad-CAM / Grad-CAM++)
// of the most probable finding (or --class).
//
// Weights: a model file from chexnet_train (best.safetensors), a training
// checkpoint (last.ckpt.safetensors), or PyTorch weights converted by
// tools/convert_torch_checkpoint.py (taken as CheXNet: densenet121, the 14
// ChestX-ray14 findings, 256 -> 224, unless --arch / --classes / --resize /
// --crop say otherwise).
//
// DICOM pixels are windowed with the file's window (else scaled by the 0.5 /
// 99.5 percentiles) to [0, 1], MONOCHROME1 already inverted by the reader; the
// image then goes through the same transform as at test time (resize, ten-crop
// or centre crop, ImageNet normalisation). The CAM runs on the whole resized
// image and is drawn over it.
//
//   ./build/examples/chexnet_predict --weights runs/chexnet/best.safetensors --image scan.dcm --cam cam.png
#include <cstdio>
#include <string>

#include "chexnet_common.h"
#include "cli.h"

namespace {

using namespace galen;
namespace cx = galen::examples::chexnet;

void usage(const char* argv0) {
  std::printf(
      "usage: %s --weights FILE --image FILE [options]\n"
      "  --weights FILE    chexnet_train model file / checkpoint, or converted PyTorch safetensors\n"
      "  --image FILE      .dcm (DICOM; first frame) or any image stb_image reads (PNG, JPEG, BMP)\n"
      "  --cam FILE        CAM overlay PNG to write (default: <image name>_cam.png)\n"
      "  --class NAME      finding to explain (default: the most probable)\n"
      "  --cam-layer NAME  (densenet121: features.denseblock1, resnet: layer1)\n"
      "  --cam-method M    hirescam (default) | gradcam | gradcam++\n"
      "  --crops 1|10      centre crop or ten-crop average (10)\n"
      "  --arch A --classes A,B,... --resize N --crop M   for converted weights (default CheXNet: densenet121,\n"
      "                    the 14 findings, 256 -> 224); model files carry their own\n"
      "  --device cpu|cuda --threads T\n",
      argv0);
}

bool ends_with(std::string s, const std::string& suffix) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The image as (H, W) f32 in [0, 1] or a decoded (H, W, C) tensor for chestxray_transform.
Tensor load_input(const std::string& path) {
  bool dicom = ends_with(path, ".dcm") || ends_with(path, ".dicom");
  if (!dicom) {
    // DICOM files without the extension: "DICM" at byte 128.
    std::ifstream f(path, std::ios::binary);
    GALEN_CHECK(f.good(), "chexnet_predict: cannot open ", path);
    char magic[132] = {};
    f.read(magic, 132);
    dicom = f.gcount() == 132 && std::string(magic + 128, 4) == "DICM";
  }
  if (!dicom) return data::read_image(path);
  data::DicomData d = data::read_dicom(path);
  Tensor frame = d.pixels.select(0, 0);
  Tensor x = d.window_center && d.window_width ? data::apply_window(frame, *d.window_center, *d.window_width)
                                               : data::normalize_percentile(frame, 0.5, 99.5);
  // (H, W) in [0, 1] -> (H, W, 1) u8 as an 8-bit image file would give.
  return clamp(x * 255.0 + 0.5, 0.0, 255.0).to(DType::u8).unsqueeze(2).contiguous();
}

}  // namespace

int main(int argc, char** argv) {
  std::string weights, image, cam_path, cls, cam_layer, device = "cpu", arch = "densenet121", classes;
  int64_t crops = 10, resize = 0, crop = 0;
  int threads = 0;
  eval::CamMethod method = cx::parse_cam_method("");
  galen::examples::Cli cli([&] { usage(argv[0]); });
  cli.text("--weights", weights).text("--image", image).text("--cam", cam_path).text("--class", cls);
  cli.text("--cam-layer", cam_layer)
      .custom("--cam-method", [&](const std::string& v) { method = cx::parse_cam_method(v); })
      .number("--crops", crops);
  cli.text("--arch", arch).text("--classes", classes).number("--resize", resize).number("--crop", crop);
  cli.text("--device", device).number("--threads", threads);
  if (const int rc = cli.parse(argc, argv); rc >= 0) return rc;
  if (weights.empty() || image.empty()) {
    std::fprintf(stderr, "error: --weights and --image are required (see --help)\n");
    return 2;
  }
  return galen::examples::run_guarded([&] {
    if (threads > 0) set_num_threads(threads);
    const Device dev = Device::parse(device);
    GALEN_CHECK(crops == 1 || crops == 10, "chexnet_predict: --crops must be 1 or 10");
    cx::ModelInfo defaults;
    defaults.arch = arch;
    if (!classes.empty()) defaults.classes = cx::split_list(classes);
    if (resize > 0) defaults.resize = resize;
    if (crop > 0) defaults.crop = crop;
    cx::LoadedModel lm = cx::load_model(weights, defaults);
    const cx::ModelInfo& info = lm.info;
    std::printf("model: %s (%s, %s), %zu classes, resize %lld, crop %lld\n", weights.c_str(), lm.kind.c_str(),
                info.arch.c_str(), info.classes.size(), static_cast<long long>(info.resize),
                static_cast<long long>(info.crop));
    nn::Module& model = *lm.model;
    model.to(dev);
    model.eval();

    const Tensor img = load_input(image);
    data::ChestXrayTransform t = data::ChestXrayTransform::eval(info.resize, info.crop);
    if (crops == 10) t.mode = data::CropMode::TenCrop;
    Tensor x = data::chestxray_transform(img, t);
    Tensor probs;
    {
      NoGradGuard ng;
      if (x.dim() == 3) x = x.unsqueeze(0);
      probs = mean(sigmoid(model(x.to(dev))), {0}).to(Device(CPU)).to(DType::f64);
    }
    const auto p = probs.contiguous().to_vector<double>();
    std::printf("%s (%lldx%lld), %lld crop(s):\n", image.c_str(), static_cast<long long>(img.size(1)),
                static_cast<long long>(img.size(0)), static_cast<long long>(crops));
    size_t best = 0;
    for (size_t c = 0; c < p.size(); ++c) {
      std::printf("  %-20s %.4f\n", info.classes[c].c_str(), p[c]);
      if (p[c] > p[best]) best = c;
    }

    const std::string layer = cam_layer.empty() ? cx::default_cam_layer(info.arch) : cam_layer;
    if (layer.empty()) {
      std::printf("no CAM for --arch %s\n", info.arch.c_str());
      return 0;
    }
    size_t target = best;
    if (!cls.empty()) {
      auto it = std::find(info.classes.begin(), info.classes.end(), cls);
      GALEN_CHECK(it != info.classes.end(), "chexnet_predict: --class ", cls, " is not one of ",
                  cx::classes_json(info.classes));
      target = static_cast<size_t>(it - info.classes.begin());
    }
    // The CAM on the whole image at the working scale (shorter side = resize, no crop).
    Tensor im = img.dim() == 2 ? img.unsqueeze(2) : img;
    if (im.size(2) == 2 || im.size(2) == 4) im = im.narrow(2, 0, im.size(2) - 1);  // drop alpha
    Tensor whole = data::resize(data::to_tensor(im.contiguous()), info.resize);
    const int64_t h = whole.size(1), w = whole.size(2);
    if (whole.size(0) == 1) whole = whole.expand({3, h, w}).contiguous();
    whole = data::normalize(whole, t.mean, t.std);
    const eval::CamResult r =
        eval::grad_cam(model, layer, whole.unsqueeze(0).to(dev), {static_cast<int64_t>(target)}, method);
    if (cam_path.empty()) {
      std::string base = image.substr(image.find_last_of('/') + 1);
      cam_path = base.substr(0, base.rfind('.')) + "_cam.png";
    }
    eval::write_overlay_png(cam_path, whole, r.heatmap.select(0, 0));
    const auto [row, col] = eval::heatmap_argmax(r.heatmap.select(0, 0));
    std::printf("%s of %s at %s: maximum at (x %lld, y %lld) of %lldx%lld; overlay %s\n", eval::cam_method_name(method),
                info.classes[target].c_str(), layer.c_str(), static_cast<long long>(col), static_cast<long long>(row),
                static_cast<long long>(w), static_cast<long long>(h), cam_path.c_str());
    return 0;
  });
}
