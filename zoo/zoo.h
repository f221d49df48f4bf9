// zoo/: the medical model zoo. One header per model family, all included here.
#pragma once

// vision: ResNet, DenseNet, CheXNet
#include "galen/zoo/chexnet.h"
#include "galen/zoo/densenet.h"
#include "galen/zoo/resnet.h"
// disease progression (LSTM over visits)
#include "galen/zoo/progression.h"
// molecular GNNs: GIN-E, MPNN, molecule datasets and splits
#include "galen/zoo/molecule.h"
