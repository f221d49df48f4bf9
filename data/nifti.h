// NIfTI-1 volumes: single-file ".nii" and gzip-compressed ".nii.gz" (detected
// from the gzip magic, not the name), either byte order.
//
// Layout: the file stores x fastest, then y, z, t. The tensor keeps that memory
// order and so has the header's dims reversed: a 4-D file (nx, ny, nz, nt)
// becomes (t, z, y, x), a 3-D one (z, y, x), a 2-D one (y, x). write_nifti takes
// the same order. Affines are 4x4 row-major, mapping (i, j, k, 1) = (x index,
// y index, z index) to scanner / template millimetres, as in the standard.
//
// Datatypes read: uint8, int8, int16, uint16, int32, uint32, float32, float64;
// others (complex, RGB, 64-bit integers, float128, binary) are refused. Up to
// 4-D (higher dims only when they are 1). scl_slope 0 or non-finite means "no
// scaling" (the standard's rule, and nibabel's).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::data {

struct NiftiImage {
  Tensor data;                 // dims reversed, (t, z, y, x); values * slope + inter when scaled
  std::vector<int64_t> dims;   // header order (nx, ny, nz, nt), dim[1..dim[0]] after dropping trailing 1s
  std::vector<double> pixdim;  // spacing per header dim (mm, s), same length as dims
  double qfac = 1.0;           // pixdim[0]: -1 flips k in the qform
  int datatype = 0;            // NIfTI code: 2 u8, 4 i16, 8 i32, 16 f32, 64 f64, 256 i8, 512 u16, 768 u32
  int bitpix = 0;
  double scl_slope = 0.0, scl_inter = 0.0;  // as stored (0 or NaN slope: no scaling)
  int64_t vox_offset = 0;
  int qform_code = 0, sform_code = 0;
  std::array<double, 16> qform{}, sform{};  // from the header's fields, whatever the codes say
  // The affine to use: sform when sform_code > 0, else qform when qform_code > 0,
  // else the standard's method 1, diag(pixdim x, y, z) with no offset.
  std::array<double, 16> affine{};
  bool big_endian = false;
  int xyzt_units = 0;
  std::string description;  // descrip
};

// Reads a .nii / .nii.gz into `dtype` (f32 or f64; f64 keeps int32 / uint32 /
// float64 exact). Throws galen::Error naming the file for a missing or
// truncated file, a header that is not NIfTI-1 (sizeof_hdr 348 in either byte
// order, magic "n+1"), unsupported datatypes or dims, or a data block that
// does not fit in the file.
NiftiImage read_nifti(const std::string& path, DType dtype = DType::f32);
// The same from the (already gunzipped) bytes of a file; `what` names them in errors.
NiftiImage parse_nifti(const std::string& bytes, const std::string& what, DType dtype = DType::f32);

struct NiftiWriteOptions {
  // NIfTI datatype code, 0 = from the tensor: u8 -> uint8, bool -> uint8,
  // i32 -> int32, i64 -> int32 (range checked), f32 -> float32, f64 -> float64.
  // Integer targets round to nearest and refuse values out of their range.
  int datatype = 0;
  // Spacing per header dim (x, y, z, t); missing entries are 1.
  std::vector<double> pixdim;
  // Written as the sform (code `sform_code`, default 2 = aligned anatomical);
  // when absent no qform / sform is written (codes 0: method 1 from pixdim).
  std::optional<std::array<double, 16>> affine;
  int sform_code = 2;
  // Stored = (value - scl_inter) / scl_slope, recorded in the header so readers
  // get the values back; scl_slope 0 = no scaling.
  double scl_slope = 0.0, scl_inter = 0.0;
  int xyzt_units = 2 | 8;  // mm, seconds
  std::string description = "galen";

  // Geometry (pixdim, affine) copied from an image read before, e.g. to write
  // a prediction in the space of its input.
  static NiftiWriteOptions like(const NiftiImage& img);
};

// Writes `data` ((t, z, y, x), 1-D to 4-D, any device / layout) as NIfTI-1:
// gzip-compressed when the path ends in ".gz". Written atomically (temporary
// file, fsync, rename). Errors name the file.
void write_nifti(const std::string& path, const Tensor& data, const NiftiWriteOptions& options = {});
// The file's bytes (uncompressed) without writing.
std::string encode_nifti(const Tensor& data, const NiftiWriteOptions& options = {});

}  // namespace galen::data
