#!/usr/bin/python3
"""Generates tests/fixtures/nn_parity.safetensors: PyTorch reference outputs and
gradients for galen's convolution, pooling and batch-norm ops (core/ops_nn.cpp),
replayed by tests/kernels/test_kernels_nn.cpp.

Run with Debian's python and torch (no pip packages needed):
    /usr/bin/python3 tools/make_nn_fixtures.py [output-path]

Layout (f64 tensors; the safetensors writer is make_fixtures.py's):
  <case>.in<i>     input i (x, weight, bias)
  <case>.out       the op's output
  <case>.w         a fixed random weight of the output's shape
  <case>.grad<i>   d(sum(out * w)) / d(in<i>)
  <case>.rm/.rv    batch_norm: running stats before the call (absent: none passed)
  <case>.rm_out/.rv_out  batch_norm training: running stats after the call
  __metadata__["<case>"] = JSON {"op": ..., parameters}
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from make_fixtures import write_safetensors  # noqa: E402  (runs its case table too; cheap)

torch.manual_seed(31337)
F64 = torch.float64
TENSORS, META = {}, {}


def randn(*shape):
    return torch.randn(shape, dtype=F64)


def pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def add_case(name, op, inputs, fn, extra_tensors=None, **params):
    assert name not in META and "." not in name, name
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    w = randn(*out.shape)
    grads = torch.autograd.grad((out * w).sum(), leaves)
    for i, (t, g) in enumerate(zip(inputs, grads)):
        TENSORS[f"{name}.in{i}"] = t.detach().clone()
        TENSORS[f"{name}.grad{i}"] = g.detach()
    TENSORS[f"{name}.out"] = out.detach()
    TENSORS[f"{name}.w"] = w
    for k, v in (extra_tensors or {}).items():
        TENSORS[f"{name}.{k}"] = v.detach().clone()
    META[name] = json.dumps(dict(op=op, **params), sort_keys=True, separators=(",", ":"))


# ---- conv2d --------------------------------------------------------------------------------
def conv(name, x_shape, w_shape, bias=True, stride=1, padding=0, dilation=1, groups=1):
    ins = [randn(*x_shape), randn(*w_shape) * 0.5]
    if bias:
        ins.append(randn(w_shape[0]))

    def fn(x, w, b=None):
        return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)

    add_case(name, "conv2d", ins, fn, stride=pair(stride),
             padding=padding if isinstance(padding, str) else pair(padding),
             dilation=pair(dilation), groups=groups)


conv("conv_3x3_pad1", (2, 3, 6, 5), (4, 3, 3, 3), padding=1)
conv("conv_1x1", (2, 5, 4, 3), (3, 5, 1, 1))
conv("conv_1x1_nobias_groups", (2, 4, 3, 5), (6, 2, 1, 1), bias=False, groups=2)
conv("conv_stride2", (2, 3, 9, 8), (4, 3, 3, 3), stride=2, padding=1)
conv("conv_stride_asym", (1, 2, 9, 7), (3, 2, 3, 2), stride=(2, 1), padding=(1, 0))
conv("conv_dilation2", (1, 2, 9, 9), (3, 2, 3, 3), dilation=2, padding=2)
conv("conv_groups", (2, 6, 5, 5), (4, 3, 3, 3), groups=2, padding=1)
conv("conv_depthwise", (2, 4, 7, 6), (4, 1, 3, 3), groups=4, stride=2, padding=1)
conv("conv_depthwise_mult", (1, 3, 5, 5), (6, 1, 3, 3), groups=3, bias=False)
conv("conv_same_odd", (2, 3, 6, 7), (2, 3, 3, 5), padding="same")
conv("conv_same_even", (1, 2, 6, 5), (3, 2, 4, 2), padding="same")
conv("conv_same_dilated", (1, 2, 7, 7), (2, 2, 3, 3), padding="same", dilation=2)
conv("conv_valid", (1, 2, 6, 6), (2, 2, 3, 3), padding="valid")
conv("conv_kernel_eq_input", (3, 1, 5, 5), (2, 1, 5, 5))
conv("conv_prime", (1, 3, 11, 13), (5, 3, 2, 3), stride=(3, 2), padding=(1, 2), dilation=(2, 1))


# ---- pooling -------------------------------------------------------------------------------
def maxpool(name, shape, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    s = kernel if stride is None else stride
    add_case(name, "max_pool2d", [randn(*shape)],
             lambda x: F.max_pool2d(x, kernel, s, padding, dilation, ceil_mode),
             kernel=pair(kernel), stride=pair(s), padding=pair(padding), dilation=pair(dilation),
             ceil_mode=ceil_mode)


def avgpool(name, shape, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    s = kernel if stride is None else stride
    add_case(name, "avg_pool2d", [randn(*shape)],
             lambda x: F.avg_pool2d(x, kernel, s, padding, ceil_mode, count_include_pad),
             kernel=pair(kernel), stride=pair(s), padding=pair(padding), ceil_mode=ceil_mode,
             count_include_pad=count_include_pad)


maxpool("maxpool_2", (2, 3, 6, 6), 2)
maxpool("maxpool_3s2p1", (2, 2, 7, 9), 3, 2, 1)
maxpool("maxpool_ceil", (1, 2, 6, 6), 3, 2, 0, ceil_mode=True)
maxpool("maxpool_ceil_pad_dropped", (1, 2, 5, 5), 2, 2, 1, ceil_mode=True)
maxpool("maxpool_dilation", (1, 2, 9, 8), (3, 2), (1, 2), (1, 1), dilation=(2, 1))
maxpool("maxpool_unbatched", (3, 5, 7), 2, 1)
avgpool("avgpool_2", (2, 3, 6, 6), 2)
avgpool("avgpool_pad_include", (1, 2, 7, 6), 3, 2, 1, count_include_pad=True)
avgpool("avgpool_pad_exclude", (1, 2, 7, 6), 3, 2, 1, count_include_pad=False)
avgpool("avgpool_ceil_include", (1, 2, 6, 7), 3, 2, 1, ceil_mode=True, count_include_pad=True)
avgpool("avgpool_ceil_exclude", (1, 2, 6, 7), (3, 2), (2, 2), (1, 1), ceil_mode=True,
        count_include_pad=False)
avgpool("avgpool_ceil_nopad", (1, 1, 5, 5), 2, 2, 0, ceil_mode=True)


def adaptive(name, shape, out):
    add_case(name, "adaptive_avg_pool2d", [randn(*shape)],
             lambda x: F.adaptive_avg_pool2d(x, out), output_size=pair(out))


adaptive("adaptive_global", (2, 3, 5, 7), 1)
adaptive("adaptive_divisible", (2, 2, 6, 8), (3, 4))
adaptive("adaptive_nondivisible", (2, 2, 7, 5), (3, 2))
adaptive("adaptive_upsample", (1, 2, 3, 2), (5, 4))
adaptive("adaptive_unbatched", (3, 10, 9), (4, 7))


# ---- batch norm --------------------------------------------------------------------------------
def bn(name, shape, training, affine=True, running=True, momentum=0.1, eps=1e-5, offset=0.0):
    C = shape[1]
    x = randn(*shape) * 1.5 + offset
    ins = [x] + ([randn(C) * 0.5 + 1.0, randn(C)] if affine else [])
    rm0 = randn(C) * 0.2 if running else None
    rv0 = torch.rand(C, dtype=F64) + 0.5 if running else None
    extra = {}
    if running:
        extra["rm"], extra["rv"] = rm0, rv0
    holder = {}

    def fn(x, w=None, b=None):
        rm = rm0.clone() if running else None
        rv = rv0.clone() if running else None
        y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=momentum, eps=eps)
        holder["rm"], holder["rv"] = rm, rv
        return y

    # Run once to capture the updated running stats, then record the case.
    fn(*[t.detach() for t in ins])
    if running and training:
        extra["rm_out"], extra["rv_out"] = holder["rm"], holder["rv"]
    add_case(name, "batch_norm", ins, fn, extra, training=training, momentum=momentum, eps=eps)


bn("bn2d_train", (4, 3, 5, 4), True)
bn("bn2d_train_offset", (3, 2, 4, 4), True, momentum=0.3, eps=1e-3, offset=5.0)
bn("bn2d_eval", (2, 3, 4, 5), False)
bn("bn1d_train", (8, 5), True)
bn("bn1d_train_3d", (4, 3, 7), True)
bn("bn1d_eval_3d", (4, 3, 7), False)
bn("bn_train_noaffine_nostats", (5, 4, 3, 3), True, affine=False, running=False)
bn("bn_eval_noaffine", (3, 4, 2, 2), False, affine=False)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "tests", "fixtures", "nn_parity.safetensors")
    out = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default)
    meta = dict(META)
    meta["__format__"] = "galen nn parity v1; torch " + torch.__version__
    write_safetensors(out, TENSORS, meta)
    print(f"wrote {out}: {len(META)} cases, {len(TENSORS)} tensors, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
