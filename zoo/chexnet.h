// CheXNet (Rajpurkar et al. 2017): DenseNet-121 features with a Linear(1024, 14)
// head over the 14 ChestX-ray14 findings. forward() returns logits (train with
// binary_cross_entropy_with_logits); probabilities() applies the sigmoid the
// original model ends with. Weights converted from the public PyTorch
// checkpoints (tools/convert_torch_checkpoint.py) load into it directly: the
// state_dict keys are torchvision's densenet121 keys.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "galen/zoo/densenet.h"

namespace galen::zoo {

// The ChestX-ray14 findings in the standard order of the data set's label
// vectors (Wang et al. 2017; CheXNet's output order).
inline constexpr std::array<const char*, 14> kChestXray14Findings = {
    "Atelectasis", "Cardiomegaly", "Effusion",     "Infiltration", "Mass",     "Nodule",   "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema",      "Emphysema",    "Fibrosis", "Pleural_Thickening", "Hernia"};
// The same as strings.
std::vector<std::string> chestxray14_findings();

struct CheXNetOptions {
  // Output names, one per logit. Empty: the 14 ChestX-ray14 findings, or
  // "class_0".."class_<n-1>" when num_classes is set.
  std::vector<std::string> class_names;
  // 0: class_names.size() (14 by default). When both are given they must agree.
  int64_t num_classes = 0;
  int64_t in_channels = 3;
  double drop_rate = 0.0;
  bool memory_efficient = false;
};

class CheXNet : public DenseNet {
 public:
  explicit CheXNet(const CheXNetOptions& options = {});
  std::string name() const override { return "CheXNet"; }
  // sigmoid(forward(x)): one independent probability per finding.
  Tensor probabilities(const Tensor& x);
  const std::vector<std::string>& class_names() const { return class_names_; }

 private:
  std::vector<std::string> class_names_;
};

std::shared_ptr<CheXNet> chexnet(const CheXNetOptions& options = {});

}  // namespace galen::zoo
