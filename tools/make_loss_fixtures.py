#!/usr/bin/python3
"""Generates tests/fixtures/loss_parity.safetensors: PyTorch 1.13 reference values
and input gradients for galen's loss functions (core/ops_loss.cpp).

Run with Debian's python and torch (no pip packages needed):
    /usr/bin/python3 tools/make_loss_fixtures.py [output-path]

Per case <c> (all floating tensors f64):
  <c>.input, <c>.target            the loss's arguments (target i64 for class indices)
  <c>.weight, <c>.pos_weight       optional
  <c>.out                          the loss
  <c>.w                            a fixed random weight of out's shape
  <c>.grad                         d sum(out * w) / d input
  __metadata__[<c>] = JSON {"op": <registry name>, "reduction": "none|mean|sum",
                            "ignore_index", "label_smoothing", "beta", "delta" as used}
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import write_safetensors  # noqa: E402  (its module body only builds a case list)

torch.manual_seed(31337)
F64 = torch.float64
TENSORS = {}
META = {}


def randn(*s):
    return torch.randn(s, dtype=F64)


def add(name, op, inp, target, reduction, weight=None, pos_weight=None, **params):
    assert name not in META and "." not in name
    x = inp.detach().clone().requires_grad_(True)
    kw = dict(params)
    if weight is not None:
        kw["weight"] = weight
    if pos_weight is not None:
        kw["pos_weight"] = pos_weight
    fn = {
        "mse_loss": F.mse_loss, "l1_loss": F.l1_loss, "smooth_l1_loss": F.smooth_l1_loss,
        "huber_loss": F.huber_loss, "nll_loss": F.nll_loss, "cross_entropy": F.cross_entropy,
        "binary_cross_entropy": F.binary_cross_entropy,
        "binary_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
    }[op]
    out = fn(x, target, reduction=reduction, **kw)
    w = torch.randn(out.shape, dtype=F64)
    (g,) = torch.autograd.grad(out, x, grad_outputs=w)
    TENSORS[name + ".input"] = inp
    TENSORS[name + ".target"] = target
    if weight is not None:
        TENSORS[name + ".weight"] = weight
    if pos_weight is not None:
        TENSORS[name + ".pos_weight"] = pos_weight
    TENSORS[name + ".out"] = out.detach()
    TENSORS[name + ".w"] = w
    TENSORS[name + ".grad"] = g
    meta = {"op": op, "reduction": reduction}
    meta.update(params)
    META[name] = json.dumps(meta)


REDS = ["none", "mean", "sum"]

# ---- regression losses -----------------------------------------------------------------
for r in REDS:
    add("mse_" + r, "mse_loss", randn(3, 4), randn(3, 4), r)
    add("l1_" + r, "l1_loss", randn(3, 4), randn(3, 4), r)
    add("smooth_l1_" + r, "smooth_l1_loss", randn(4, 5) * 2, randn(4, 5), r, beta=1.0)
    add("huber_" + r, "huber_loss", randn(4, 5) * 2, randn(4, 5), r, delta=1.0)
add("smooth_l1_beta05", "smooth_l1_loss", randn(4, 5), randn(4, 5), "mean", beta=0.5)
add("smooth_l1_beta0", "smooth_l1_loss", randn(4, 5), randn(4, 5), "sum", beta=0.0)
add("huber_delta03", "huber_loss", randn(4, 5), randn(4, 5), "mean", delta=0.3)
add("huber_delta2", "huber_loss", randn(2, 3, 4) * 3, randn(2, 3, 4), "none", delta=2.0)

# ---- nll / cross entropy -------------------------------------------------------------
N, C = 6, 5
tgt = torch.randint(0, C, (N,))
tgt_ign = tgt.clone()
tgt_ign[1] = -100
tgt_ign[4] = -100
tgt_ign2 = tgt.clone()
tgt_ign2[2] = 3  # ignore_index=3 below ignores every 3 (a valid class)
cw = torch.rand(C, dtype=F64) + 0.2
sp_tgt = torch.randint(0, C, (2, 3, 4))
sp_tgt[0, 1, 2] = -100
lsm = lambda *s: torch.log_softmax(randn(*s), 1)  # noqa: E731

for r in REDS:
    add("nll_" + r, "nll_loss", lsm(N, C), tgt, r)
    add("nll_weight_" + r, "nll_loss", lsm(N, C), tgt, r, weight=cw)
    add("nll_ignore_" + r, "nll_loss", lsm(N, C), tgt_ign, r, ignore_index=-100)
    add("nll_weight_ignore_" + r, "nll_loss", lsm(N, C), tgt_ign, r, weight=cw, ignore_index=-100)
    add("nll_spatial_" + r, "nll_loss", lsm(2, C, 3, 4), sp_tgt, r, weight=cw, ignore_index=-100)
add("nll_ignore3", "nll_loss", lsm(N, C), tgt_ign2, "mean", weight=cw, ignore_index=3)
add("nll_unbatched", "nll_loss", torch.log_softmax(randn(C), 0), torch.tensor(2), "mean")

probs = torch.softmax(randn(N, C) * 2, 1)
sp_probs = torch.softmax(randn(2, C, 3, 4), 1)
for r in REDS:
    add("ce_" + r, "cross_entropy", randn(N, C) * 2, tgt, r)
    add("ce_weight_" + r, "cross_entropy", randn(N, C) * 2, tgt, r, weight=cw)
    add("ce_ignore_" + r, "cross_entropy", randn(N, C) * 2, tgt_ign, r, ignore_index=-100)
    add("ce_weight_ignore_" + r, "cross_entropy", randn(N, C), tgt_ign, r, weight=cw, ignore_index=-100)
    add("ce_ls_" + r, "cross_entropy", randn(N, C), tgt, r, label_smoothing=0.1)
    add("ce_ls_weight_" + r, "cross_entropy", randn(N, C), tgt, r, weight=cw, label_smoothing=0.2)
    add("ce_ls_weight_ignore_" + r, "cross_entropy", randn(N, C), tgt_ign, r, weight=cw,
        ignore_index=-100, label_smoothing=0.25)
    add("ce_ls_ignore_" + r, "cross_entropy", randn(N, C), tgt_ign, r, ignore_index=-100,
        label_smoothing=0.15)
    add("ce_spatial_" + r, "cross_entropy", randn(2, C, 3, 4), sp_tgt, r, weight=cw,
        ignore_index=-100, label_smoothing=0.1)
    add("ce_prob_" + r, "cross_entropy", randn(N, C), probs, r)
    add("ce_prob_weight_" + r, "cross_entropy", randn(N, C), probs, r, weight=cw)
    add("ce_prob_ls_weight_" + r, "cross_entropy", randn(N, C), probs, r, weight=cw,
        label_smoothing=0.3)
    add("ce_prob_spatial_" + r, "cross_entropy", randn(2, C, 3, 4), sp_probs, r, label_smoothing=0.1)
add("ce_ignore3", "cross_entropy", randn(N, C), tgt_ign2, "mean", weight=cw, ignore_index=3,
    label_smoothing=0.1)
add("ce_large_logits", "cross_entropy", randn(N, C) * 300, tgt, "mean")
add("ce_unbatched", "cross_entropy", randn(C), torch.tensor(4), "none", label_smoothing=0.1)
add("ce_unbatched_prob", "cross_entropy", randn(C), probs[0], "sum")

# ---- binary cross entropy ---------------------------------------------------------------
p = torch.rand(4, 3, dtype=F64) * 0.9 + 0.05
y = (torch.rand(4, 3, dtype=F64) > 0.5).to(F64)
ysoft = torch.rand(4, 3, dtype=F64)
bw = torch.rand(4, 3, dtype=F64) + 0.5
for r in REDS:
    add("bce_" + r, "binary_cross_entropy", p, y, r)
    add("bce_weight_" + r, "binary_cross_entropy", p, ysoft, r, weight=bw)
    add("bcel_" + r, "binary_cross_entropy_with_logits", randn(4, 3) * 3, y, r)
    add("bcel_weight_" + r, "binary_cross_entropy_with_logits", randn(4, 3) * 3, ysoft, r, weight=bw)
    add("bcel_pos_" + r, "binary_cross_entropy_with_logits", randn(4, 3) * 3, y, r,
        pos_weight=torch.tensor([0.5, 2.0, 4.0], dtype=F64))
    add("bcel_both_" + r, "binary_cross_entropy_with_logits", randn(4, 3) * 3, ysoft, r,
        weight=torch.tensor([1.5, 0.7, 1.0], dtype=F64),
        pos_weight=torch.tensor([3.0, 0.25, 1.0], dtype=F64))
add("bce_row_weight", "binary_cross_entropy", p, y, "mean", weight=torch.rand(4, 1, dtype=F64) + 0.5)
add("bce_extreme", "binary_cross_entropy", torch.tensor([1e-50, 0.5, 1 - 1e-17, 0.3], dtype=F64),
    torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=F64), "none")
add("bcel_large", "binary_cross_entropy_with_logits",
    torch.tensor([-800.0, -40.0, 0.25, 40.0, 800.0], dtype=F64),
    torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0], dtype=F64), "none",
    pos_weight=torch.tensor([2.0], dtype=F64))


def main():
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                           "loss_parity.safetensors")
    out = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default)
    META["__generator__"] = "tools/make_loss_fixtures.py, torch " + torch.__version__
    write_safetensors(out, TENSORS, META)
    print(f"wrote {out}: {len(META) - 1} cases, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
