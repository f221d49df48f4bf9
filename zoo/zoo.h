// zoo/: the medical model zoo. One header per model family, all included here.
#pragma once

#include "galen/zoo/molecule.h"  // molecular GNNs: GIN-E, MPNN, molecule datasets and splits
