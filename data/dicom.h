// DICOM images through DCMTK (the OFFIS toolkit, Debian libdcmtk-dev): one file
// into a (frames, H, W) f32 tensor in modality units, a series of files into a
// (D, H, W) volume sorted along the slice normal, and windowing.
//
// Transfer syntaxes: implicit / explicit VR little endian, explicit VR big
// endian, deflated, and the compressed ones DCMTK decodes: JPEG baseline /
// extended (8 and 12 bit) / lossless, JPEG-LS lossless / near-lossless, RLE.
// JPEG 2000 and other codecs DCMTK lacks are refused with a clear error.
// Grayscale only (MONOCHROME1 / MONOCHROME2, one sample per pixel); 1, 8, 16
// and 32 bits allocated, any bits stored / high bit, signed or unsigned.
//
// Design notes:
// - Pixel values are unpacked here from the decoded Pixel Data (after DCMTK's
//   codecs have decompressed it) instead of through DCMTK's DicomImage, so the
//   result is exactly stored value * RescaleSlope + RescaleIntercept, with no
//   VOI / presentation processing in between.
// - MONOCHROME1 (low values displayed white) is inverted so bright = dense as in
//   MONOCHROME2: v' = lo + hi - v, where [lo, hi] is the range the stored bits
//   can hold, in modality units. The window centre is mapped the same way, so
//   apply_window() on the result shows what the file's window showed.
// - Per-frame functional groups of enhanced multi-frame objects are not read:
//   the top-level Rescale Slope / Intercept (and Pixel Spacing, etc.) apply to
//   every frame.
// - DCMTK's decoders are registered once (thread-safe, never deregistered), and
//   DCMTK's own loggers ("dcmtk.*") are set to OFF on first use: every reason a
//   read fails reaches the caller in the galen::Error text (DCMTK's OFCondition
//   text included), so nothing is printed to the console.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::data {

struct DicomData {
  // (frames, rows, cols) f32: stored value * slope + intercept (Hounsfield units
  // for CT), MONOCHROME1 inverted (see above).
  Tensor pixels;
  std::string path;

  int64_t rows = 0, cols = 0, frames = 0;
  int bits_allocated = 0, bits_stored = 0, high_bit = 0;
  bool is_signed = false;                               // Pixel Representation 1 (two's complement)
  std::string photometric;                              // as stored: "MONOCHROME1" or "MONOCHROME2"
  bool inverted = false;                                // true when MONOCHROME1 was inverted
  double rescale_slope = 1.0, rescale_intercept = 0.0;  // 1, 0 when absent
  // First value of Window Center / Width, in the units of `pixels` (so mapped
  // when inverted); absent when the file has none (or width <= 0).
  std::optional<double> window_center, window_width;
  // Pixel Spacing: (between rows, between columns) in mm, i.e. (dy, dx).
  std::optional<std::array<double, 2>> pixel_spacing;
  std::optional<double> slice_thickness;
  std::optional<std::array<double, 3>> image_position;     // ImagePositionPatient (x, y, z) mm
  std::optional<std::array<double, 6>> image_orientation;  // row direction cosines, then column
  std::optional<int64_t> instance_number;
  std::string modality, patient_id, study_uid, series_uid, sop_instance_uid;
  std::string transfer_syntax;       // UID of the file's transfer syntax, e.g. "1.2.840.10008.1.2.4.70"
  std::string transfer_syntax_name;  // DCMTK's name for it, e.g. "JPEG Lossless, Non-hierarchical, ..."
};

// Reads one DICOM file (Part 10 with meta header, or a bare dataset). Throws
// galen::Error naming the file and the reason for a missing, truncated or
// malformed file, a missing data dictionary, colour / palette images,
// unsupported compression (DCMTK's condition text is included), or pixel data
// shorter than rows x cols x frames needs.
DicomData read_dicom(const std::string& path);

// clamp((x - (centre - width / 2)) / width, 0, 1): linear window to [0, 1]
// (width must be > 0). New f32 tensor on the input's device, no autograd.
Tensor apply_window(const Tensor& x, double centre, double width);

struct DicomSeries {
  Tensor volume;  // (D, H, W) f32, slices in increasing position along the normal
  // (slice spacing, row spacing dy, column spacing dx) in mm. Slice spacing is
  // the mean distance between consecutive positions along the normal; without
  // positions (or for one slice), Slice Thickness, else 1.
  std::array<double, 3> spacing{1.0, 1.0, 1.0};
  std::optional<std::array<double, 3>> origin;  // ImagePositionPatient of slice 0
  std::optional<std::array<double, 6>> orientation;
  std::vector<DicomData> slices;  // per slice in volume order, metadata only (pixels undefined)
};

// A series from the files in a directory (all regular files in it; files that
// are not DICOM are an error, not skipped) or from a list of paths. Each file
// must be single-frame. Slices are sorted by ImagePositionPatient projected on
// the slice normal (row x column direction cosines); when any slice lacks
// position / orientation, by Instance Number; two slices at the same place, or
// a mix of sizes / orientations / series, are an error naming both files.
DicomSeries read_dicom_series(const std::string& directory);
DicomSeries read_dicom_series(const std::vector<std::string>& paths);

}  // namespace galen::data
