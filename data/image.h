// Image files through stb_image: PNG (8- and 16-bit), JPEG, BMP (and the other
// formats stb_image reads: TGA, GIF's first frame, PSD, PNM) into (H, W, C)
// tensors; PNG writing (8-bit through stb_image_write, 16-bit with zlib).
//
// galen has no u16 dtype: 16-bit images come back as i32 holding 0..65535
// (to_tensor in transforms.h scales them by 1/65535).
#pragma once

#include <string>

#include "galen/core/tensor.h"

namespace galen::data {

struct ImageInfo {
  int width = 0, height = 0;
  int channels = 0;   // as stored: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  int bit_depth = 8;  // 8 or 16
};

// Header only (no pixel decode). Errors name the file.
ImageInfo image_info(const std::string& path);

// Decodes to (H, W, C), C = `channels` (1, 2, 3, 4; converting as stb_image
// does: RGB -> gray uses its integer luma weights) or as stored when 0. dtype
// u8 for 8-bit files, i32 (0..65535) for 16-bit PNGs. A missing, truncated or
// malformed file throws galen::Error naming the file and stb_image's reason.
Tensor read_image(const std::string& path, int channels = 0);
// The same from encoded bytes in memory; `what` names them in errors.
Tensor decode_image(const std::string& bytes, const std::string& what, int channels = 0);

// Writes a PNG atomically (temporary file, fsync, rename): `image` is (H, W, C)
// with C in 1..4, or (H, W) for gray; u8 gives an 8-bit PNG, i32 (values in
// 0..65535) a 16-bit PNG. Any device / layout.
void write_png(const std::string& path, const Tensor& image);
// The PNG bytes without writing a file.
std::string encode_png(const Tensor& image);

}  // namespace galen::data
