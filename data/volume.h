// Volume utilities for medical scans: 2-D slices out of a (D, H, W) volume,
// resampling a slice to a physical pixel size, intensity normalisation.
//
// Volumes are (D, H, W) = (z, y, x): what read_dicom_series returns, and what
// read_nifti returns for a 3-D file. Plane names assume that axis order with z
// the slice (axial) axis, as for an axial series or an RAS-aligned NIfTI.
// Plain resizing is data::resize (transforms.h, bilinear, align_corners=False,
// = torch's interpolate); windowing is data::apply_window (dicom.h).
// All functions return new f32 (or f64 for f64 input) CPU-computed tensors on
// the input's device, without autograd history.
#pragma once

#include <cstdint>

#include "galen/core/tensor.h"

namespace galen::data {

enum class Plane { axial, coronal, sagittal };

// volume (D, H, W) -> axial: volume[index] (H, W); coronal: volume[:, index, :]
// (D, W); sagittal: volume[:, :, index] (D, H). Rows of coronal / sagittal
// slices follow increasing z (vflip them to put superior at the top of an RAS
// volume). A contiguous copy; index out of range is an error.
Tensor extract_slice(const Tensor& volume, Plane plane, int64_t index);
// The middle slice of that plane.
Tensor middle_slice(const Tensor& volume, Plane plane);

// Bilinear resampling of a (..., H, W) slice with pixel size (dy, dx) mm to
// pixel size (new_dy, new_dx): the output is round(H * dy / new_dy) x
// round(W * dx / new_dx) (at least 1), via data::resize.
Tensor resample_slice(const Tensor& slice, double dy, double dx, double new_dy, double new_dx);

// (x - min) / (max - min) over the whole tensor; a constant tensor gives zeros.
Tensor normalize_minmax(const Tensor& x);
// clamp((x - lo) / (hi - lo), 0, 1) with lo / hi the given percentiles (0..100)
// of all values (linear interpolation between order statistics, as numpy's
// default): robust to a few extreme voxels. lo == hi gives zeros.
Tensor normalize_percentile(const Tensor& x, double lower_percent = 0.5, double upper_percent = 99.5);

}  // namespace galen::data
