// Shared by chexnet_train and chexnet_predict: the architectures (CheXNet =
// DenseNet-121, ResNets, a logistic regression on pixels), the model file
// (weights + what is needed to rebuild and feed the model) and loading of
// either such a file, a training checkpoint, or converted PyTorch weights.
//
// Model file ("best.safetensors"): the state_dict with string metadata
//   format = "galen.chexnet", arch, classes (JSON array), resize, crop.
// A training checkpoint (data/checkpoint.h) carries the same fields in its JSON
// metadata. Converted weights (tools/convert_torch_checkpoint.py) carry none:
// they are taken as CheXNet (densenet121, the 14 findings, 256 -> 224) unless
// --arch / --classes say otherwise.
#pragma once

#include <galen/core/json.h>
#include <galen/core/serialize.h>
#include <galen/galen.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace galen::examples::chexnet {

struct ModelInfo {
  std::string arch = "densenet121";
  std::vector<std::string> classes;
  int64_t resize = 256, crop = 224;
};

inline std::vector<std::string> split_list(const std::string& s, char sep = ',') {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

inline const std::vector<std::string>& archs() {
  static const std::vector<std::string> a = {"densenet121", "resnet50", "resnet18", "logreg"};
  return a;
}

// Builds the network: (N, 3, crop, crop) -> (N, classes) logits.
inline std::shared_ptr<nn::Module> make_model(const ModelInfo& info, bool memory_efficient = false) {
  const int64_t c = static_cast<int64_t>(info.classes.size());
  GALEN_CHECK(c >= 1, "chexnet: no classes");
  if (info.arch == "densenet121") {
    zoo::CheXNetOptions o;
    o.class_names = info.classes;
    o.memory_efficient = memory_efficient;
    return zoo::chexnet(o);
  }
  if (info.arch == "resnet50" || info.arch == "resnet18") {
    zoo::ResNetOptions o;
    o.num_classes = c;
    return zoo::resnet(info.arch, o);
  }
  if (info.arch == "logreg") {
    // Logistic regression on the (normalised, 3-channel) pixels: one linear layer.
    return std::make_shared<nn::Sequential>(nn::Sequential::List{
        std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(3 * info.crop * info.crop, c)});
  }
  GALEN_FAIL("chexnet: unknown --arch \"", info.arch, "\" (densenet121, resnet50, resnet18 or logreg)");
}

// Explanation used by default: HiResCAM (eval/gradcam.h) at a block that keeps
// resolution at CPU-friendly input sizes. Measured on the 128 px lesion set
// (README "Model zoo"): pointing game 89.6% with HiResCAM at denseblock1 (32x32),
// 81.0% at denseblock2, against 53.6% for plain Grad-CAM at denseblock2 (its
// spatially averaged gradient lights up every bright structure the class's
// channels respond to) and under 50% for either at denseblock3. ResNet: layer1
// is the same 1/4 scale as denseblock1 (not measured on the lesion set).
inline std::string default_cam_layer(const std::string& arch) {
  if (arch == "densenet121") return "features.denseblock1";
  if (arch == "resnet50" || arch == "resnet18") return "layer1";
  return "";
}

// --cam-method: "hirescam" (default), "gradcam" or "gradcam++" (definitions in eval/gradcam.h).
inline eval::CamMethod parse_cam_method(const std::string& name) {
  if (name.empty() || name == "hirescam") return eval::CamMethod::HiResCam;
  if (name == "gradcam") return eval::CamMethod::GradCam;
  if (name == "gradcam++") return eval::CamMethod::GradCamPlusPlus;
  if (name == "hirescam") return eval::CamMethod::HiResCam;
  GALEN_FAIL("chexnet: unknown --cam-method \"", name, "\" (gradcam, gradcam++ or hirescam)");
}

inline std::string classes_json(const std::vector<std::string>& classes) {
  json::Array a;
  for (const auto& c : classes) a.emplace_back(c);
  return json::write(json::Value(a));
}

inline json::Object info_json(const ModelInfo& info) {
  json::Array a;
  for (const auto& c : info.classes) a.emplace_back(c);
  return json::Object{{"arch", info.arch}, {"classes", a}, {"resize", info.resize}, {"crop", info.crop}};
}

inline void read_info(const json::Value& v, ModelInfo& info, const std::string& what) {
  if (const auto* a = v.find("arch")) info.arch = a->as_string();
  if (const auto* c = v.find("classes")) {
    info.classes.clear();
    for (const auto& x : c->as_array()) info.classes.push_back(x.as_string());
  }
  if (const auto* r = v.find("resize")) info.resize = r->as_int();
  if (const auto* r = v.find("crop")) info.crop = r->as_int();
  GALEN_CHECK(!info.classes.empty(), what, ": the metadata names no classes");
}

inline void save_model_file(const std::string& path, nn::Module& model, const ModelInfo& info,
                            const std::map<std::string, std::string>& extra = {}) {
  std::map<std::string, std::string> meta = extra;
  meta["format"] = "galen.chexnet";
  meta["arch"] = info.arch;
  meta["classes"] = classes_json(info.classes);
  meta["resize"] = std::to_string(info.resize);
  meta["crop"] = std::to_string(info.crop);
  save_safetensors(path, model.state_dict(), meta);
}

// Loads a model file, a training checkpoint or converted weights. `info`
// holds the caller's defaults / overrides on entry (a non-empty arch or class
// list given on the command line wins over converted weights only: files
// written here carry their own and those are used).
struct LoadedModel {
  std::shared_ptr<nn::Module> model;
  ModelInfo info;
  std::string kind;  // "model file", "training checkpoint", "converted weights"
};

inline LoadedModel load_model(const std::string& path, ModelInfo defaults) {
  GALEN_CHECK(std::filesystem::exists(path), "chexnet: weights file ", path, " not found");
  SafetensorsFile f = load_safetensors(path);
  LoadedModel out;
  out.info = defaults;
  nn::StateDict state;
  auto fmt = f.metadata.find("format");
  if (fmt != f.metadata.end() && fmt->second == "galen.checkpoint") {
    data::Checkpoint ck = data::load_checkpoint(path);
    const json::Value meta = json::parse(ck.metadata);
    read_info(meta, out.info, path);
    state = ck.model;
    out.kind = "training checkpoint";
  } else if (fmt != f.metadata.end() && fmt->second == "galen.chexnet") {
    out.info.arch = f.metadata.at("arch");
    out.info.classes.clear();
    const json::Value names = json::parse(f.metadata.at("classes"));  // kept alive over the loop
    for (const auto& c : names.as_array()) out.info.classes.push_back(c.as_string());
    out.info.resize = std::stoll(f.metadata.at("resize"));
    out.info.crop = std::stoll(f.metadata.at("crop"));
    state = f.tensors;
    out.kind = "model file";
  } else {
    // Converted PyTorch weights: torchvision keys, maybe under "module." (DataParallel) or "densenet121." (the
    // public CheXNet checkpoint's wrapper); the converter strips these, this accepts both.
    for (auto& [k, v] : f.tensors) {
      std::string key = k;
      for (const std::string prefix : {"module.", "densenet121."})
        if (key.rfind(prefix, 0) == 0) key = key.substr(prefix.size());
      // CheXNet's head is Sequential(Linear, Sigmoid): classifier.0.* -> classifier.*
      if (key.rfind("classifier.0.", 0) == 0) key = "classifier." + key.substr(13);
      state[key] = v;
    }
    if (out.info.classes.empty()) {
      auto it = state.find(out.info.arch == "densenet121" ? "classifier.weight" : "fc.weight");
      const int64_t n = it != state.end() ? it->second.size(0) : 14;
      if (n == 14) {
        out.info.classes = zoo::chestxray14_findings();
      } else {
        for (int64_t i = 0; i < n; ++i) out.info.classes.push_back("class_" + std::to_string(i));
      }
    }
    out.kind = "converted weights";
  }
  out.model = make_model(out.info);
  auto r = out.model->load_state_dict(state, false);
  std::string problem;
  if (!r.missing.empty())
    problem += " missing " + std::to_string(r.missing.size()) + " keys (e.g. " + r.missing[0] + ")";
  if (!r.unexpected.empty())
    problem += " unexpected " + std::to_string(r.unexpected.size()) + " keys (e.g. " + r.unexpected[0] + ")";
  GALEN_CHECK(problem.empty(), "chexnet: ", path, " (", out.kind, ") does not fit ", out.info.arch, " with ",
              out.info.classes.size(), " classes:", problem);
  return out;
}

// Class names from a Data_Entry_2017.csv: the ChestX-ray14 findings when every
// label is one of them, otherwise the distinct labels sorted by name.
inline std::vector<std::string> classes_from_labels(const std::string& csv) {
  std::ifstream f(csv, std::ios::binary);
  GALEN_CHECK(f.good(), "chexnet: cannot open label file ", csv);
  std::string line;
  GALEN_CHECK(static_cast<bool>(std::getline(f, line)), csv, ": empty file");
  if (line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line = line.substr(3);
  std::vector<std::string> header = split_list(line);
  int64_t col = -1;
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == "Finding Labels") col = static_cast<int64_t>(i);
  GALEN_CHECK(col >= 0, csv, ":1: no \"Finding Labels\" column");
  std::set<std::string> names;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Cells may be quoted ("A|B"); labels contain no commas.
    std::string clean;
    for (char ch : line)
      if (ch != '"') clean += ch;
    std::vector<std::string> cells;
    std::stringstream ss(clean);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (static_cast<int64_t>(cells.size()) <= col) continue;
    for (const auto& n : split_list(cells[static_cast<size_t>(col)], '|'))
      if (n != "No Finding") names.insert(n);
  }
  GALEN_CHECK(!names.empty(), csv, ": no findings in the \"Finding Labels\" column (pass --classes)");
  const auto& cxr = data::chestxray14_classes();
  bool all_cxr = true;
  for (const auto& n : names)
    all_cxr = all_cxr && (std::find(cxr.begin(), cxr.end(), n) != cxr.end() || n == "Infiltrate");
  if (all_cxr) return cxr;
  return std::vector<std::string>(names.begin(), names.end());
}

}  // namespace galen::examples::chexnet
