// Bench files include this. There is no central list to edit: each bench file
// registers its factory with `static Register r(order, factory);` (harness.h).
#pragma once

#include "harness.h"
