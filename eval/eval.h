// eval/: metrics and explanations. One header per area, all included here.
#pragma once

#include "galen/eval/metrics.h"
#include "galen/eval/gradcam.h"
