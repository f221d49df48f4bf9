#!/usr/bin/env python3
"""Fixtures for tests/data: real images and PyTorch references for transforms.

Run with Debian's python3 (torch 1.13 and PIL from python3-torch / python3-pil):

    /usr/bin/python3 tools/make_data_fixtures.py [SHARED_DATA_DIR]

SHARED_DATA_DIR defaults to ../shared/data (next to the repository). Writes

  tests/fixtures/images/BrainT1Slice.png             copied byte for byte (RGB, 8-bit)
  tests/fixtures/images/BrainProtonDensitySlice.png  copied byte for byte (palette)
  tests/fixtures/images/retina_crop.jpg              48x48 centre crop of retina.jpg, re-encoded (q 90)
  tests/fixtures/images/retina_crop.bmp              the same crop's decoded pixels, 24-bit BMP
  tests/fixtures/data_parity.safetensors             reference tensors, listed below

Reference tensors (decoded with PIL, transforms computed with torch):
  img.t1.sub / img.pd.sub   decoded pixels [::8, ::8, :] (u8) and img.*.sum (f64, all pixels)
  img.jpg / img.bmp         full decoded (48,48,3) u8
  resize.<k>.in / .out      F.interpolate(mode="bilinear", align_corners=False)
  affine.<k>.in / .out      F.affine_grid + F.grid_sample(bilinear, zeros, align_corners=False)
with the parameters of each case in __metadata__ (JSON).
"""
import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data")
OUT_IMG = os.path.join(ROOT, "tests", "fixtures", "images")
OUT_ST = os.path.join(ROOT, "tests", "fixtures", "data_parity.safetensors")

DT = {torch.float32: "F32", torch.float64: "F64", torch.uint8: "U8", torch.int64: "I64"}


def save_st(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def pil_u8(path):
    im = Image.open(path)
    if im.mode == "P":
        im = im.convert("RGB")  # stb_image expands palettes to RGB too
    return torch.from_numpy(np.array(im, dtype=np.uint8))


def theta_for(deg, tx, ty, scale, h, w):
    """torch affine_grid theta equal to galen's affine(): q = M (p - t)."""
    a = math.radians(deg)
    c, s = math.cos(a) / scale, math.sin(a) / scale
    m = [[c, -s], [s, c]]
    b0 = -(m[0][0] * tx + m[0][1] * ty)
    b1 = -(m[1][0] * tx + m[1][1] * ty)
    return torch.tensor([[[m[0][0], m[0][1] * h / w, b0 / (w / 2)],
                          [m[1][0] * w / h, m[1][1], b1 / (h / 2)]]], dtype=torch.float64)


def main():
    os.makedirs(OUT_IMG, exist_ok=True)
    png = os.path.join(SHARED, "images", "png")
    t, meta = {}, {}
    for key, name in (("t1", "BrainT1Slice.png"), ("pd", "BrainProtonDensitySlice.png")):
        dst = os.path.join(OUT_IMG, name)
        shutil.copyfile(os.path.join(png, name), dst)
        x = pil_u8(dst)
        if x.dim() == 2:
            x = x.unsqueeze(2)
        t[f"img.{key}.sub"] = x[::8, ::8, :].contiguous()
        t[f"img.{key}.sum"] = x.to(torch.float64).sum().reshape(1)
    # A small real JPEG and BMP: the centre of the skimage retina photograph.
    ret = Image.open(os.path.join(png, "retina.jpg")).convert("RGB")
    W, H = ret.size
    crop = ret.crop((W // 2 - 24, H // 2 - 24, W // 2 + 24, H // 2 + 24))
    jpg = os.path.join(OUT_IMG, "retina_crop.jpg")
    crop.save(jpg, quality=90)
    bmp = os.path.join(OUT_IMG, "retina_crop.bmp")
    crop.save(bmp)
    t["img.jpg"] = pil_u8(jpg)
    t["img.bmp"] = pil_u8(bmp)

    g = torch.Generator().manual_seed(1234)
    resize_cases = [((2, 7, 9), (4, 5)), ((1, 5, 6), (13, 17)), ((3, 8, 8), (3, 3)), ((1, 4, 10), (4, 23))]
    for k, (shape, size) in enumerate(resize_cases):
        x = torch.rand(shape, generator=g, dtype=torch.float32)
        y = F.interpolate(x.unsqueeze(0), size=size, mode="bilinear", align_corners=False).squeeze(0)
        t[f"resize.{k}.in"], t[f"resize.{k}.out"] = x, y
        meta[f"resize.{k}"] = json.dumps({"height": size[0], "width": size[1]})
    affine_cases = [((2, 9, 11), 30.0, 0.0, 0.0, 1.0), ((1, 12, 7), -75.0, 0.0, 0.0, 1.0),
                    ((1, 10, 10), 90.0, 0.0, 0.0, 1.0), ((3, 9, 13), 20.0, 2.0, -1.0, 1.3),
                    ((1, 8, 8), 0.0, 1.5, 0.5, 0.8)]
    for k, (shape, deg, tx, ty, sc) in enumerate(affine_cases):
        x = torch.rand(shape, generator=g, dtype=torch.float64)
        c, h, w = shape
        grid = F.affine_grid(theta_for(deg, tx, ty, sc, h, w), [1, c, h, w], align_corners=False)
        y = F.grid_sample(x.unsqueeze(0), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        t[f"affine.{k}.in"], t[f"affine.{k}.out"] = x, y.squeeze(0)
        meta[f"affine.{k}"] = json.dumps({"degrees": deg, "tx": tx, "ty": ty, "scale": sc})
    meta["__format__"] = json.dumps({"torch": torch.__version__, "script": "tools/make_data_fixtures.py"})
    save_st(OUT_ST, t, meta)
    print(f"wrote {OUT_ST} ({os.path.getsize(OUT_ST)} bytes) and images in {OUT_IMG}")


if __name__ == "__main__":
    main()
