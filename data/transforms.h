// Image transforms on tensors, torchvision-style. Images are (C, H, W) floating
// tensors (any leading dims are treated as channels: (N, C, H, W) works too);
// to_tensor turns a decoded (H, W, C) image into one. Results are new tensors
// on the input's device (the work is done on the CPU), without autograd history.
//
// Geometry (resize, rotate, affine) follows PyTorch with align_corners=False:
// pixel centres sit at integer + 0.5, and rotate / affine equal torch's
// affine_grid + grid_sample(bilinear, zeros, align_corners=False) with the
// matrix given in the comment of affine() (tests/fixtures/data_parity.safetensors).
//
// Random transforms draw from `gen` when given, else from the thread's current
// generator (the DataLoader installs one per sample, so augmentations are the
// same for any num_workers), else from the global generator (galen::rand).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "galen/core/tensor.h"
#include "galen/data/generator.h"

namespace galen::data {

// (H, W, C) or (H, W) image -> (C, H, W) f32 in [0, 1]: u8 / 255, 16-bit
// (i32 from read_image) / 65535. Floating images are only permuted.
Tensor to_tensor(const Tensor& image);
// (x - mean[c]) / std[c] per channel (dim -3); mean / std of size C or 1.
Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std);

// Bilinear resize of the last two dims (align_corners=False, no antialias:
// torch.nn.functional.interpolate(mode="bilinear")).
Tensor resize(const Tensor& x, int64_t height, int64_t width);
// The shorter side becomes `size`, keeping the aspect ratio (torchvision Resize(int)).
Tensor resize(const Tensor& x, int64_t size);

// x[..., top:top+height, left:left+width]; parts outside the image are zero.
Tensor crop(const Tensor& x, int64_t top, int64_t left, int64_t height, int64_t width);
// Centre crop (torchvision rounding; zero-padded when larger than the image).
Tensor center_crop(const Tensor& x, int64_t height, int64_t width);
// torchvision FiveCrop / TenCrop of a (C, H, W) image, stacked on a new dim 0:
// (5, C, h, w) = top-left, top-right, bottom-left, bottom-right, centre;
// ten_crop adds the same five of the horizontally flipped image (10, C, h, w).
// Error when the crop is larger than the image.
Tensor five_crop(const Tensor& x, int64_t height, int64_t width);
Tensor ten_crop(const Tensor& x, int64_t height, int64_t width);
Tensor hflip(const Tensor& x);  // mirror the last dim
Tensor vflip(const Tensor& x);

// Rotation by `degrees` counter-clockwise (as displayed, y down) about the
// image centre, bilinear, zero fill, same size.
Tensor rotate(const Tensor& x, double degrees);
// Rotation + scale about the centre, then translation (tx right, ty down, in
// pixels). Output pixel p (centred coordinates, pixel centres at +0.5) takes
// the input at q = M (p - t), M = (1/scale) [[cos, -sin], [sin, cos]] of
// `degrees` (with y down this turns the picture counter-clockwise). As a torch
// affine_grid theta: [[M00, M01*H/W, -(Mt)_x/(W/2)], [M10*W/H, M11, -(Mt)_y/(H/2)]].
Tensor affine(const Tensor& x, double degrees, double tx, double ty, double scale);

// ---- random ------------------------------------------------------------------
// A (height, width) crop at a uniformly drawn position after zero-padding
// each side by `padding`.
Tensor random_crop(const Tensor& x, int64_t height, int64_t width, int64_t padding = 0, Generator* gen = nullptr);
// hflip with probability p.
Tensor random_horizontal_flip(const Tensor& x, double p = 0.5, Generator* gen = nullptr);
// rotate by an angle drawn uniformly from [-degrees, degrees].
Tensor random_rotation(const Tensor& x, double degrees, Generator* gen = nullptr);
// torchvision RandomAffine: angle ~ U[-degrees, degrees]; translation
// tx ~ U[-translate.first*W, +], ty ~ U[-translate.second*H, +], rounded to
// whole pixels; scale ~ U[scale.first, scale.second].
Tensor random_affine(const Tensor& x, double degrees, std::pair<double, double> translate = {0, 0},
                     std::pair<double, double> scale = {1, 1}, Generator* gen = nullptr);

}  // namespace galen::data
