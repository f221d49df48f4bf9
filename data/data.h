// Everything in data/: readers (IDX, CSV, images), datasets and the loader,
// transforms, progress reporting and checkpoints.
#pragma once

#include "galen/data/checkpoint.h"
#include "galen/data/csv.h"
#include "galen/data/dataset.h"
#include "galen/data/generator.h"
#include "galen/data/graph.h"
#include "galen/data/idx.h"
#include "galen/data/image.h"
#include "galen/data/progress.h"
#include "galen/data/transforms.h"
