#!/usr/bin/python3
"""CTest case for tools/convert_torch_checkpoint.py: converts the committed
tests/fixtures/vision/chexnet_tiny.pth.tar (old CheXNet-style keys) and checks
the result equals chexnet_tiny_expected.safetensors tensor for tensor (names,
dtypes, shapes and bytes). Prints "SKIPPED: ..." and exits 0 when PyTorch is
not importable (CTest's SKIP_REGULAR_EXPRESSION turns that into a skip).

    /usr/bin/python3 tools/test_convert_torch_checkpoint.py [fixtures-dir]
"""

import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    return {k: (v["dtype"], tuple(v["shape"]), data[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
            for k, v in header.items()}


def main():
    try:
        import torch  # noqa: F401
    except ImportError:
        print("SKIPPED: PyTorch is not importable by", sys.executable, "(the converter needs it)")
        return 0
    fixtures = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "tests", "fixtures", "vision")
    src = os.path.join(fixtures, "chexnet_tiny.pth.tar")
    expected = read_safetensors(os.path.join(fixtures, "chexnet_tiny_expected.safetensors"))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "converted.safetensors")
        # The fixture is ours and, like real training checkpoints, holds plain
        # floats (epoch loss, optimizer hyper-parameters), which torch 1.13's
        # weights_only unpickler rejects in the legacy format: allow full unpickling.
        subprocess.run([sys.executable, os.path.join(HERE, "convert_torch_checkpoint.py"), "--unsafe-pickle",
                        src, out], check=True)
        got = read_safetensors(out)
        # A missing input is an error naming the file, not a traceback.
        bad = subprocess.run([sys.executable, os.path.join(HERE, "convert_torch_checkpoint.py"),
                              os.path.join(tmp, "absent.pth"), out], capture_output=True, text=True)
        if bad.returncode == 0 or "absent.pth" not in bad.stderr:
            print("FAIL: a missing input file was not reported:", bad.returncode, bad.stderr)
            return 1
    errors = []
    for k in sorted(set(expected) | set(got)):
        if k not in got:
            errors.append(f"missing key {k}")
        elif k not in expected:
            errors.append(f"unexpected key {k}")
        elif got[k][:2] != expected[k][:2]:
            errors.append(f"{k}: dtype/shape {got[k][:2]} != expected {expected[k][:2]}")
        elif got[k][2] != expected[k][2]:
            errors.append(f"{k}: values differ")
    if errors:
        print("FAIL:\n  " + "\n  ".join(errors))
        return 1
    print(f"OK: {len(got)} tensors match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
