// zoo/: the medical model zoo. One header per model family, all included here.
#pragma once

// ---- vision: ResNet, DenseNet, CheXNet (engineer "vision") ----
#include "galen/zoo/chexnet.h"
#include "galen/zoo/densenet.h"
#include "galen/zoo/resnet.h"
// ---- end vision
