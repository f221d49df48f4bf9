#!/usr/bin/env python3
"""Fixtures for tests/data/test_dicom.cpp and test_nifti.cpp: real DICOM / NIfTI
files and the values an independent reader (pydicom 2.3 + GDCM, nibabel 5.0)
finds in them.

Run with Debian's python3 (apt-get install python3-pydicom python3-gdcm
python3-nibabel):

    /usr/bin/python3 tools/make_medical_fixtures.py [SHARED_DATA_DIR]

SHARED_DATA_DIR defaults to ../shared/data. Writes under tests/fixtures/medical/:

  dicom/*.dcm      small real files copied byte for byte (provenance in README.md)
                   plus two derived from MR_small.dcm with pydicom:
                     MR_small_mono1.dcm  the same pixels marked MONOCHROME1
                     MR_small_3frame.dcm 3 frames, unsigned 12-in-16 bit, slope 2, intercept -100
  series/brain_00{2,3,4}.dcm   three slices of the shared MRI series
  nifti/aal.nii.gz             copied
  nifti/small_<dtype>.nii      (x, y, z, t) = (5, 4, 3, 2) patterns, written by nibabel
  nifti/small_be_int16.nii.gz  big-endian, scl_slope 2, scl_inter -3, qform only
  nifti/small_ext_float32.nii  with a header extension (vox_offset 368)
  nifti/small_complex64.nii    an unsupported datatype (error path)
  expected.safetensors         reference values, below

Reference tensors, for each file key <k> (file name without extension):
  <k>.sub  pixels, every 8th row / column (all frames / slices), f32: DICOM after
           pydicom's apply_modality_lut (MONOCHROME1 inverted as galen defines it,
           lo + hi - v over the stored range); f64: NIfTI as nibabel's get_fdata()
           in (t, z, y, x) order, every `step`-th voxel (step in the metadata)
  <k>.sum  f64 sum over all pixels / voxels
  <k>.affine  (NIfTI) nibabel's best affine, 4x4 f64
and __metadata__["<k>"] a JSON object of header values (rows, cols, frames,
bits, window, spacing, UIDs, ... or dims, pixdim, datatype, slopes).
Files under the shared folder that are too big to commit (brain_001..020,
ch2.nii.gz, ct_head.nii.gz) get the same entries under "shared.<k>"; the tests
skip those when the folder is absent.
"""
import glob
import json
import os
import shutil
import struct
import sys

import nibabel as nib
import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import apply_modality_lut

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data")
PYDICOM_FILES = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
OUT = os.path.join(ROOT, "tests", "fixtures", "medical")

DT = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("uint8"): "U8", np.dtype("int64"): "I64"}


def save_st(path, tensors, metadata):
    """safetensors, written by hand (no pip package needed)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DT[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
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


tensors, meta = {}, {}


def fnum(v):
    return None if v is None or v == "" else float(v)


def dicom_entry(key, path):
    d = pydicom.dcmread(path)
    arr = d.pixel_array  # stored values (GDCM decodes the compressed syntaxes)
    frames = int(getattr(d, "NumberOfFrames", 1) or 1)
    if frames == 1:
        arr = arr[None]
    mod = np.asarray(apply_modality_lut(arr, d), dtype=np.float64)
    slope, inter = float(d.get("RescaleSlope", 1) or 1), float(d.get("RescaleIntercept", 0) or 0)
    bs, signed = int(d.BitsStored), int(d.PixelRepresentation) == 1
    lo, hi = (-(2 ** (bs - 1)), 2 ** (bs - 1) - 1) if signed else (0, 2 ** bs - 1)
    flip = (lo * slope + inter) + (hi * slope + inter)
    inverted = d.PhotometricInterpretation == "MONOCHROME1"
    if inverted:
        mod = flip - mod
    wc, ww = d.get("WindowCenter"), d.get("WindowWidth")
    first = lambda v: None if v is None else float(v[0] if isinstance(v, pydicom.multival.MultiValue) else v)
    wc, ww = first(wc), first(ww)
    if wc is None or ww is None or ww <= 0:
        wc = ww = None
    elif inverted:
        wc = flip - wc
    tensors[key + ".sub"] = mod[:, ::8, ::8].astype(np.float32)
    tensors[key + ".sum"] = np.array(mod.sum(), dtype=np.float64)
    lst = lambda v: None if v is None else [float(x) for x in v]
    meta[key] = json.dumps({
        "rows": int(d.Rows), "cols": int(d.Columns), "frames": frames,
        "bits_allocated": int(d.BitsAllocated), "bits_stored": bs, "high_bit": int(d.HighBit),
        "signed": signed, "photometric": str(d.PhotometricInterpretation), "inverted": inverted,
        "slope": slope, "intercept": inter, "window_center": wc, "window_width": ww,
        "pixel_spacing": lst(d.get("PixelSpacing")), "slice_thickness": fnum(d.get("SliceThickness")),
        "position": lst(d.get("ImagePositionPatient")), "orientation": lst(d.get("ImageOrientationPatient")),
        "instance_number": None if d.get("InstanceNumber") in (None, "") else int(d.InstanceNumber),
        "modality": str(d.get("Modality", "")), "patient_id": str(d.get("PatientID", "")),
        "study_uid": str(d.get("StudyInstanceUID", "")), "series_uid": str(d.get("SeriesInstanceUID", "")),
        "transfer_syntax": str(d.file_meta.TransferSyntaxUID),
        "min": float(mod.min()), "max": float(mod.max()), "mean": float(mod.mean()),
    })


def nifti_entry(key, path, step):
    img = nib.load(path)
    h = img.header
    data = np.asarray(img.get_fdata(dtype=np.float64))
    tzyx = np.transpose(data, tuple(range(data.ndim))[::-1])  # (x, y, z, t) -> (t, z, y, x)
    sl = tuple(slice(None, None, step) for _ in range(tzyx.ndim))
    tensors[key + ".sub"] = np.ascontiguousarray(tzyx[sl]).astype(np.float64)
    tensors[key + ".sum"] = np.array(data.sum(), dtype=np.float64)
    tensors[key + ".affine"] = np.asarray(img.affine, dtype=np.float64)
    # The header as stored (the loaded image's header copy resets vox_offset
    # and the scaling fields; the array proxy keeps what the file said).
    slope, inter, offset = float(img.dataobj.slope), float(img.dataobj.inter), int(img.dataobj.offset)
    ndim = int(h["dim"][0])
    meta[key] = json.dumps({
        "dims": [int(x) for x in h["dim"][1:ndim + 1]], "pixdim": [float(x) for x in h["pixdim"][1:ndim + 1]],
        "datatype": int(h["datatype"]), "bitpix": int(h["bitpix"]), "vox_offset": offset,
        "slope": slope, "intercept": inter,
        "qform_code": int(h["qform_code"]), "sform_code": int(h["sform_code"]),
        "big_endian": h.endianness == ">", "step": step,
        "min": float(data.min()), "max": float(data.max()), "mean": float(data.mean()),
    })


def copy(src, dst_dir, name=None):
    os.makedirs(dst_dir, exist_ok=True)
    dst = os.path.join(dst_dir, name or os.path.basename(src))
    shutil.copyfile(src, dst)
    return dst


def main():
    ddir, sdir, ndir = (os.path.join(OUT, x) for x in ("dicom", "series", "nifti"))
    for d in (ddir, sdir, ndir):
        shutil.rmtree(d, ignore_errors=True)
    img = os.path.join(SHARED, "images")

    # ---- DICOM, committed ----------------------------------------------------
    for f in ("CT_small.dcm", "MR_small.dcm", "implicit_little.dcm", "jpeg_lossless_sel1.dcm"):
        copy(os.path.join(img, "dicom", f), ddir)
    for f in ("MR_small_bigendian.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "JPGExtended.dcm",
              "rtdose.dcm", "rtdose_expb.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm", "MR_truncated.dcm"):
        copy(os.path.join(PYDICOM_FILES, f), ddir)

    mr = pydicom.dcmread(os.path.join(ddir, "MR_small.dcm"))
    mr.PhotometricInterpretation = "MONOCHROME1"
    mr.WindowCenter, mr.WindowWidth = 600, 1600
    mr.save_as(os.path.join(ddir, "MR_small_mono1.dcm"))

    mf = pydicom.dcmread(os.path.join(ddir, "MR_small.dcm"))
    base = mf.pixel_array.astype(np.int32)
    frames = np.stack([base, base.T, base[::-1, :]]).astype(np.uint16)  # 127..2145 fits 12 bits
    mf.NumberOfFrames = 3
    mf.BitsAllocated, mf.BitsStored, mf.HighBit, mf.PixelRepresentation = 16, 12, 11, 0
    mf.RescaleSlope, mf.RescaleIntercept = 2, -100
    mf.PixelData = frames.tobytes()
    mf["PixelData"].VR = "OW"
    mf.save_as(os.path.join(ddir, "MR_small_3frame.dcm"))

    for f in sorted(glob.glob(os.path.join(ddir, "*.dcm"))):
        key = os.path.splitext(os.path.basename(f))[0]
        if key in ("JPEG2000", "SC_rgb_rle", "MR_truncated"):
            continue  # error paths only
        dicom_entry(key, f)

    # ---- series: three slices committed, the whole series from shared ---------
    for i in (2, 3, 4):
        copy(os.path.join(img, "mri_series", "brain_%03d.dcm" % i), sdir)
    for f in sorted(glob.glob(os.path.join(img, "mri_series", "*.dcm"))):
        dicom_entry("shared." + os.path.splitext(os.path.basename(f))[0], f)

    # ---- NIfTI ---------------------------------------------------------------
    copy(os.path.join(img, "nifti", "aal.nii.gz"), ndir)
    nifti_entry("aal", os.path.join(ndir, "aal.nii.gz"), 16)
    nifti_entry("shared.ch2", os.path.join(img, "nifti", "ch2.nii.gz"), 16)
    nifti_entry("shared.ct_head", os.path.join(img, "nifti", "ct_head.nii.gz"), 16)

    shape = (5, 4, 3, 2)  # x, y, z, t
    ramp = np.arange(np.prod(shape)).reshape(shape, order="F")  # x fastest on disk
    aff = np.array([[0.9, 0, 0, -10], [0, 1.1, 0, 20], [0, 0, 2.5, -5], [0, 0, 0, 1]])
    pats = {
        "uint8": (ramp * 7) % 256, "int8": (ramp * 5) % 256 - 128, "int16": ramp * 613 - 30000,
        "uint16": ramp * 1097, "int32": ramp * 35791393 - 2 ** 31 + 5, "uint32": ramp * 71582788 + 3,
        "float32": (ramp - 60) * 0.37, "float64": (ramp - 60) * 1e-3 + 1 / 3,
    }
    for name, a in pats.items():
        arr = a.astype(name)
        im = nib.Nifti1Image(arr, aff)
        im.header.set_data_dtype(name)
        im.header["pixdim"][4] = 0.5
        im.header.set_slope_inter(None, None)
        p = os.path.join(ndir, "small_%s.nii" % name)
        im.to_filename(p)
        nifti_entry("small_" + name, p, 1)

    # Big-endian int16, scaled, with only a qform (a rotation about z).
    hdr = nib.Nifti1Header(endianness=">")
    arr = (ramp * 101 - 6000).astype(">i2")
    im = nib.Nifti1Image(arr, None, hdr)
    im.header.set_data_dtype(">i2")
    c, s = np.cos(0.3), np.sin(0.3)
    qaff = np.array([[c * 1.5, -s * 1.5, 0, 3], [s * 1.5, c * 1.5, 0, -7], [0, 0, 2.0, 11], [0, 0, 0, 1]])
    im.set_qform(qaff, code=1)
    im.set_sform(None, code=0)
    raw = os.path.join(ndir, "small_be_int16.nii")
    im.to_filename(raw)
    b = bytearray(open(raw, "rb").read())
    b[112:120] = struct.pack(">ff", 2.0, -3.0)  # scl_slope, scl_inter: nibabel applies them on load
    import gzip
    with gzip.open(raw + ".gz", "wb") as g:
        g.write(bytes(b))
    os.remove(raw)
    nifti_entry("small_be_int16", raw + ".gz", 1)

    # A header extension pushes vox_offset past 352.
    im = nib.Nifti1Image(pats["float32"].astype("float32"), aff)
    im.header.extensions.append(nib.nifti1.Nifti1Extension("comment", b"galen test extension"))
    p = os.path.join(ndir, "small_ext_float32.nii")
    im.to_filename(p)
    nifti_entry("small_ext_float32", p, 1)

    im = nib.Nifti1Image(np.zeros((2, 2, 2), dtype=np.complex64), aff)
    im.to_filename(os.path.join(ndir, "small_complex64.nii"))

    save_st(os.path.join(OUT, "expected.safetensors"), tensors, meta)
    total = sum(os.path.getsize(f) for f in glob.glob(os.path.join(OUT, "**", "*"), recursive=True)
                if os.path.isfile(f))
    print("wrote %d tensors, %d metadata entries; tests/fixtures/medical is %.0f KB" % (len(tensors), len(meta),
                                                                                     total / 1024))


if __name__ == "__main__":
    main()
