#!/usr/bin/python3
"""Converts a PyTorch checkpoint (.pth / .pth.tar / .pt) into a safetensors file
that galen's Module::load_state_dict reads (galen::load_safetensors).

    /usr/bin/python3 tools/convert_torch_checkpoint.py model.pth.tar model.safetensors

What it handles, in this order:
  * wrappers: a dict holding the weights under "state_dict", "model_state_dict"
    or "model" (training scripts save {"epoch", "state_dict", "optimizer", ...});
    a whole pickled nn.Module (only with --unsafe-pickle) gives its state_dict();
  * prefixes: every leading "module." (nn.DataParallel / DistributedDataParallel)
    and the --strip-prefix list, by default "densenet121." (public CheXNet
    checkpoints wrap torchvision's densenet121 in a module attribute of that name);
  * old torchvision DenseNet names (before torchvision 0.3): inside a dense layer
    "norm.1" -> "norm1", "relu.1" -> "relu1", "conv.2" -> "conv2", ...;
  * a classifier saved as nn.Sequential(nn.Linear, nn.Sigmoid) (CheXNet): the
    keys "classifier.0.weight/bias" become "classifier.weight/bias", since
    galen's CheXNet outputs logits (--keep-classifier-index turns this off);
  * BatchNorm layers saved before PyTorch 0.4.1 lack "num_batches_tracked":
    a 0 (int64 scalar) is added for every prefix that has running_mean and
    running_var (--no-add-num-batches-tracked turns this off).
Floating tensors are written as F32 unless --keep-dtype (f16/bf16 always
become F32: galen stores them but its models compute in f32/f64).

The file is unpickled with torch.load(weights_only=True) where torch supports
it, so a hostile checkpoint cannot run code; --unsafe-pickle lifts that for
checkpoints that pickle whole modules, and for torch 1.13, whose weights_only
loader rejects plain floats (an epoch's loss, optimizer settings) in
legacy-format files such as the public CheXNet checkpoint (only for files you
trust).
"""

import argparse
import collections
import json
import os
import re
import struct
import sys

OLD_DENSE = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))\.(\d+)\.")
DTYPE_NAMES = None  # filled once torch is imported


def fail(msg):
    print(f"convert_torch_checkpoint: error: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path, unsafe):
    import torch
    if not os.path.isfile(path):
        fail(f"{path}: no such file")
    try:
        if unsafe:
            return torch.load(path, map_location="cpu")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except TypeError:  # torch < 1.13 has no weights_only
            return torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001  (torch raises many kinds on bad files)
        hint = "" if unsafe else " (if the file pickles a whole model and you trust it, try --unsafe-pickle)"
        fail(f"{path}: cannot unpickle: {type(e).__name__}: {e}{hint}")


def unwrap(obj, path):
    import torch
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if not isinstance(obj, dict):
        fail(f"{path}: expected a dict of tensors or a checkpoint dict, got {type(obj).__name__}")
    for key in ("state_dict", "model_state_dict", "model"):
        inner = obj.get(key)
        if isinstance(inner, torch.nn.Module):
            return inner.state_dict()
        if isinstance(inner, dict) and inner and all(torch.is_tensor(v) for v in inner.values()):
            return inner
    if obj and all(torch.is_tensor(v) for v in obj.values()):
        return obj
    fail(f"{path}: no state_dict found (top-level keys: {', '.join(map(str, list(obj)[:10]))})")


def rename(key, prefixes):
    changed = True
    while changed:
        changed = False
        if key.startswith("module."):
            key, changed = key[len("module."):], True
        for p in prefixes:
            if p and key.startswith(p):
                key, changed = key[len(p):], True
    return OLD_DENSE.sub(r"\1\2.", key)


def convert(sd, prefixes, flatten_classifier, add_nbt, keep_dtype):
    import torch
    out = collections.OrderedDict()
    for key, t in sd.items():
        new = rename(key, prefixes)
        if new in out:
            fail(f"two keys map to '{new}' (the second is '{key}')")
        out[new] = t
    if flatten_classifier and "classifier.weight" not in out and "classifier.0.weight" in out:
        out = collections.OrderedDict(
            (re.sub(r"^classifier\.0\.", "classifier.", k), v) for k, v in out.items())
    if add_nbt:
        with_stats = [k[:-len("running_mean")] for k in out if k.endswith("running_mean")]
        for p in with_stats:
            if p + "running_var" in out and p + "num_batches_tracked" not in out:
                out[p + "num_batches_tracked"] = torch.zeros((), dtype=torch.int64)
    result = collections.OrderedDict()
    for k, t in out.items():
        t = t.detach().cpu().contiguous()
        if t.is_floating_point() and (not keep_dtype or t.dtype in (torch.float16, torch.bfloat16)):
            t = t.float()
        if t.dtype not in DTYPE_NAMES:
            fail(f"'{k}' has dtype {t.dtype}, which safetensors/galen do not store")
        result[k] = t
    return result


def write_safetensors(path, tensors, metadata):
    """u64 little-endian header length, JSON header (space-padded to 8 bytes), raw data."""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        raw = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help=".pth / .pth.tar / .pt checkpoint")
    ap.add_argument("output", help="safetensors file to write")
    ap.add_argument("--strip-prefix", action="append", default=None, metavar="P",
                    help="strip this leading key prefix (repeatable; default: densenet121.)")
    ap.add_argument("--keep-classifier-index", action="store_true",
                    help="keep classifier.0.* keys as they are")
    ap.add_argument("--no-add-num-batches-tracked", action="store_true",
                    help="do not add missing BatchNorm num_batches_tracked entries")
    ap.add_argument("--keep-dtype", action="store_true", help="keep f64 tensors as F64")
    ap.add_argument("--unsafe-pickle", action="store_true",
                    help="allow arbitrary pickled objects (whole modules); trusted files only")
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        fail("PyTorch is not importable by this python (on Debian: apt install python3-torch, "
             "run with /usr/bin/python3)")
    global DTYPE_NAMES
    DTYPE_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
                   torch.uint8: "U8", torch.bool: "BOOL"}
    prefixes = args.strip_prefix if args.strip_prefix is not None else ["densenet121."]
    sd = unwrap(load(args.input, args.unsafe_pickle), args.input)
    tensors = convert(sd, prefixes, not args.keep_classifier_index, not args.no_add_num_batches_tracked,
                      args.keep_dtype)
    renamed = sum(1 for k in sd if rename(k, prefixes) != k)
    write_safetensors(args.output, tensors, {"source": os.path.basename(args.input),
                                             "converter": "galen tools/convert_torch_checkpoint.py"})
    print(f"{args.output}: {len(tensors)} tensors ({renamed} keys renamed, "
          f"{len(tensors) - len(sd)} added)")


if __name__ == "__main__":
    main()
