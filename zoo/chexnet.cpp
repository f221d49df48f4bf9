// CheXNet = densenet121 with its classifier sized to the label set (see chexnet.h).
#include "galen/zoo/chexnet.h"

#include "galen/core/error.h"
#include "galen/core/ops.h"

namespace galen::zoo {

std::vector<std::string> chestxray14_findings() {
  return {kChestXray14Findings.begin(), kChestXray14Findings.end()};
}

namespace {

std::vector<std::string> resolve_names(const CheXNetOptions& o) {
  GALEN_CHECK(o.num_classes >= 0, "chexnet: num_classes must not be negative, got ", o.num_classes);
  if (!o.class_names.empty()) {
    GALEN_CHECK(o.num_classes == 0 || o.num_classes == static_cast<int64_t>(o.class_names.size()),
                "chexnet: num_classes = ", o.num_classes, " but ", o.class_names.size(), " class names were given");
    return o.class_names;
  }
  if (o.num_classes == 0) return chestxray14_findings();
  std::vector<std::string> names;
  for (int64_t i = 0; i < o.num_classes; ++i) names.push_back("class_" + std::to_string(i));
  return names;
}

DenseNetOptions densenet_options(const CheXNetOptions& o, int64_t num_classes) {
  DenseNetOptions d;  // the defaults are densenet121's architecture
  d.num_classes = num_classes;
  d.in_channels = o.in_channels;
  d.drop_rate = o.drop_rate;
  d.memory_efficient = o.memory_efficient;
  return d;
}

}  // namespace

CheXNet::CheXNet(const CheXNetOptions& o)
    : DenseNet(densenet_options(o, static_cast<int64_t>(resolve_names(o).size()))), class_names_(resolve_names(o)) {}

Tensor CheXNet::probabilities(const Tensor& x) { return sigmoid(forward(x)); }

std::shared_ptr<CheXNet> chexnet(const CheXNetOptions& options) { return std::make_shared<CheXNet>(options); }

}  // namespace galen::zoo
