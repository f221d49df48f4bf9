// Everything in data/: readers (IDX, CSV, images, DICOM, NIfTI), volumes, datasets and the loader,
// transforms, progress reporting and checkpoints; molecules (SMILES, SDF, graph features,
// fingerprints).
#pragma once

#include "galen/data/checkpoint.h"
#include "galen/data/chestxray.h"
#include "galen/data/csv.h"
#include "galen/data/dataset.h"
#include "galen/data/dicom.h"
#include "galen/data/generator.h"
#include "galen/data/graph.h"
#include "galen/data/idx.h"
#include "galen/data/image.h"
#include "galen/data/lesions.h"
#include "galen/data/longitudinal.h"
#include "galen/data/nifti.h"
#include "galen/data/progress.h"
#include "galen/data/transforms.h"
#include "galen/data/volume.h"
// chemistry: molecules, SMILES / SDF readers, fingerprints (namespace galen::chem)
#include "galen/data/fingerprint.h"
#include "galen/data/molecule.h"
#include "galen/data/sdf.h"
#include "galen/data/smiles.h"
