// A labelled lesion-detection data set made from real scans, written in exactly
// the NIH ChestX-ray14 layout (data/chestxray.h), so CheXNet's pipeline can be
// trained and evaluated end to end where no labelled chest X-ray set exists.
//
// Sources: 2-D slices of real volumes (the Colin27 T1 MRI, a head CT, a DICOM
// MR series), cut along the axial / coronal / sagittal planes, resampled to
// square pixels, padded to a square, resized to the output size and scaled to
// [0, 1] by their 0.5 / 99.5 intensity percentiles. Slices with little tissue
// are skipped. Consecutive slices of one volume and plane are grouped into
// slabs; a slab is a "patient" (Patient ID), so near-identical neighbouring
// slices never land in different splits.
//
// Findings, each present independently with its own probability, drawn at a
// tissue pixel, additively brightening the image (amplitudes are on the [0, 1]
// scale, times `contrast` and a per-finding jitter in [0.7, 1.3]):
//   Nodule         small round blob, radius 3.5-5.5% of the size, soft edge
//   Mass           larger irregular blob: radius 8-13% modulated by harmonics 2..5
//   Calcification  cluster (radius 3-5%) of 4-9 tiny bright Gaussian dots, sigma 0.8-1.4%
//                  of the size (at least 0.5 px)
//   Opacity        diffuse haze: a wide elliptical Gaussian (sigma 8-15%) times
//                  low-frequency ripples, fading out over air
// then a global intensity jitter (gain / gamma), Gaussian blur and Gaussian
// noise, so no single pixel or threshold gives a finding away. Each finding's
// box (x, y, w, h in output pixels, inside the image) goes to BBox_List_2017.csv.
//
// Determinism: image i depends only on (seed, i) and the sources: every random
// number comes from a Philox stream keyed by mix_seed(seed, i) (data/generator.h),
// no floating-point library distribution is used, so the output is the same on
// every platform and thread count.
//
//   auto sources = data::load_lesion_sources("../shared/data/images");
//   auto summary = data::write_lesion_dataset("/tmp/lesions", sources, {.size = 128, .count = 2000});
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "galen/core/tensor.h"
#include "galen/data/chestxray.h"

namespace galen::data {

// The findings in label order: Nodule, Mass, Calcification, Opacity.
const std::vector<std::string>& lesion_classes();

// One 2-D source slice.
struct LesionSource {
  Tensor image;        // (size, size) f32 in [0, 1]
  std::string volume;  // e.g. "ch2"
  std::string plane;   // "axial", "coronal", "sagittal"
  int64_t index = 0;   // slice index in that plane
  int64_t slab = 0;    // index / slab size
  double tissue = 0;   // fraction of pixels above the tissue level
  // "<volume>/<plane>/<slab>": the patient key.
  std::string patient_key() const;
};

struct SliceOptions {
  int64_t size = 128;  // output side, pixels
  int64_t slab = 8;    // adjacent slices per slab ("patient")
  std::vector<std::string> planes = {"axial", "coronal", "sagittal"};
  double tissue_level = 0.1;  // normalised intensity counted as tissue
  double min_tissue = 0.2;    // slices with a smaller tissue fraction are skipped
  int64_t step = 1;           // take every step-th slice
};

// Slices of a (D, H, W) volume with voxel spacing (dz, dy, dx) mm. `name` becomes LesionSource::volume.
std::vector<LesionSource> slices_from_volume(const Tensor& volume, const std::array<double, 3>& spacing,
                                             const std::string& name, const SliceOptions& options = {});
// The default scans under `images_dir`: nifti/ch2.nii.gz, nifti/ct_head.nii.gz
// (NIfTI) and mri_series/ (a DICOM series). A missing file is an Error naming
// it and saying where the scans come from.
std::vector<LesionSource> load_lesion_sources(const std::string& images_dir, const SliceOptions& options = {});

struct LesionOptions {
  int64_t size = 128;    // output images are size x size 8-bit gray PNGs
  int64_t count = 2000;  // images to write
  uint64_t seed = 0;
  double contrast = 1.0;  // multiplies every finding's amplitude
  // Per-finding probability of being present, in lesion_classes() order.
  std::array<double, 4> probability = {0.3, 0.3, 0.3, 0.3};
  // Peak amplitudes (before `contrast`) on the [0, 1] intensity scale.
  std::array<double, 4> amplitude = {0.22, 0.16, 0.40, 0.13};
  double blur = 0.7;    // Gaussian blur sigma in pixels (0: none)
  double noise = 0.04;  // standard deviation of the additive Gaussian noise
  double jitter = 0.1;  // global gain / gamma jitter (0: none)
  SplitFractions split = {0.7, 0.1, 0.2};
};

struct LesionFinding {
  std::string label;
  double x = 0, y = 0, w = 0, h = 0;  // box in pixels, inside the image
};

struct LesionImage {
  std::string name;                     // "<patient, 8 digits>_<follow-up, 3 digits>.png" as in ChestX-ray14
  Tensor image;                         // (size, size) u8
  std::vector<LesionFinding> findings;  // lesion_classes() order, at most one of each
  int64_t source = 0;                   // index into the sources
  int64_t patient = 0;                  // 1-based Patient ID
  int64_t follow_up = 0;                // Follow-up #
};

// Which source image i uses and its (patient, follow-up): the sources are
// visited in a seeded order, round robin, so every source is used about
// count / sources.size() times; patients are numbered by first appearance.
struct LesionPlan {
  std::vector<int64_t> source;            // per image
  std::vector<int64_t> patient;           // per image, 1-based
  std::vector<int64_t> follow_up;         // per image
  std::vector<std::string> patient_keys;  // per patient (index patient - 1)
};
LesionPlan plan_lesion_dataset(const std::vector<LesionSource>& sources, const LesionOptions& options);

// Renders image i of the plan (does not touch the file system).
LesionImage make_lesion_image(const std::vector<LesionSource>& sources, const LesionPlan& plan,
                              const LesionOptions& options, int64_t i);

struct LesionDatasetSummary {
  int64_t images = 0, patients = 0, boxes = 0;
  std::array<int64_t, 4> positives{};  // per class
  int64_t no_finding = 0;
  int64_t train = 0, val = 0, test = 0;  // images per split
};

// Writes the whole set under `root` (created; existing files of these names are replaced):
//   images/<name>.png, Data_Entry_2017.csv, BBox_List_2017.csv,
//   train_val_list.txt + test_list.txt (the official pair), train_list.txt + val_list.txt
//   (train_val split further, by patient), lesion_sources.csv (image -> volume, plane, slice),
//   README.txt (the parameters).
// The split is data::split_groups over Patient IDs with options.split and options.seed.
// `progress(done, total)` is called now and then when given.
LesionDatasetSummary write_lesion_dataset(const std::string& root, const std::vector<LesionSource>& sources,
                                          const LesionOptions& options,
                                          const std::function<void(int64_t, int64_t)>& progress = nullptr);

}  // namespace galen::data
