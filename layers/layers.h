// All of galen's layers: #include "galen/layers/layers.h" (galen.h includes it).
#pragma once

#include "galen/layers/activation.h"
#include "galen/layers/attention.h"
#include "galen/layers/batchnorm.h"
#include "galen/layers/conv.h"
#include "galen/layers/dropout.h"
#include "galen/layers/embedding.h"
#include "galen/layers/gnn.h"
#include "galen/layers/init.h"
#include "galen/layers/linear.h"
#include "galen/layers/loss.h"
#include "galen/layers/module.h"
#include "galen/layers/normalization.h"
#include "galen/layers/pooling.h"
#include "galen/layers/rnn.h"
