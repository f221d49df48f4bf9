// The umbrella header: #include <galen/galen.h>.
#pragma once

#include "galen/core/autograd.h"
#include "galen/core/checkpoint.h"
#include "galen/core/device.h"
#include "galen/core/dtype.h"
#include "galen/core/error.h"
#include "galen/core/gradcheck.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/core/serialize.h"
#include "galen/core/tensor.h"
#include "galen/data/data.h"
#include "galen/eval/eval.h"
#include "galen/layers/layers.h"
#include "galen/optim/optim.h"
#include "galen/zoo/zoo.h"
