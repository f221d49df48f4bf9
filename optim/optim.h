// Everything in optim/: optimizers, LR schedulers, gradient clipping.
#pragma once

#include "galen/optim/adagrad.h"
#include "galen/optim/adam.h"
#include "galen/optim/clip.h"
#include "galen/optim/optimizer.h"
#include "galen/optim/rmsprop.h"
#include "galen/optim/scheduler.h"
#include "galen/optim/sgd.h"
