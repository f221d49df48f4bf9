#!/usr/bin/python3
"""Generates tests/fixtures/gradcam_parity.safetensors: PyTorch Grad-CAM,
Grad-CAM++ and input-gradient saliency on a tiny CNN with fixed (seeded)
weights, replayed by tests/eval/test_gradcam.cpp with the same weights loaded
into galen.

Run with Debian's python and torch (no pip packages needed):
    /usr/bin/python3 tools/make_gradcam_fixtures.py [output-path]

The network (f64), as an nn.Sequential so state_dict keys are "0.weight", ...:
  0 Conv2d(3, 4, 3, padding=1)  1 ReLU  2 MaxPool2d(2)  3 Conv2d(4, 6, 3, padding=1)
  4 ReLU  5 AdaptiveAvgPool2d(1)  6 Flatten  7 Linear(6, 3)
Tensors: "w.<state_dict key>", "input" (2, 3, 12, 12), and per case <case>:
  <case>.act, <case>.grad   the target layer's output and d score / d output
  <case>.cam, <case>.campp, <case>.camhr  Grad-CAM / Grad-CAM++ / HiResCAM at the layer's
                            resolution (N, h, w)
  <case>.heat, <case>.heatpp, <case>.heathr  the same resized bilinearly (align_corners=False) to 12 x 12
                              and min-max scaled per sample
  <case>.classes            the explained class per sample
  saliency (N, 12, 12)      max over channels of |d logit[classes] / d input|, classes [0, 2]
  __metadata__["<case>"] = JSON {"layer": "<module name>", "classes": [...] (-1 = predicted)}
The CAM formulas are written out below (the definitions in eval/gradcam.h).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from make_fixtures import write_safetensors  # noqa: E402

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)

net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1),
                    nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)).eval()
x = torch.randn(2, 3, 12, 12)
TENSORS = {"input": x.clone()}
for k, v in net.state_dict().items():
    TENSORS[f"w.{k}"] = v.clone()
META = {}


def cams(act, grad):
    w = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((w * act).sum(1))
    g2 = grad ** 2
    g3 = g2 * grad
    sum_a = act.sum(dim=(2, 3), keepdim=True)
    aij = g2 / (2 * g2 + sum_a * g3 + 1e-6)
    aij = torch.where(grad != 0, aij, torch.zeros_like(aij))
    wpp = (aij * F.relu(grad)).sum(dim=(2, 3), keepdim=True)
    campp = F.relu((wpp * act).sum(1))
    camhr = F.relu((grad * act).sum(1))
    return cam, campp, camhr


def heat(cam):
    h = F.interpolate(cam[:, None], size=(12, 12), mode="bilinear", align_corners=False)[:, 0]
    lo = h.amin(dim=(1, 2), keepdim=True)
    hi = h.amax(dim=(1, 2), keepdim=True)
    return torch.where(hi > lo, (h - lo) / (hi - lo), torch.zeros_like(h))


def add_case(name, layer, classes):
    store = {}
    handle = net[int(layer)].register_forward_hook(lambda m, i, o: store.__setitem__("act", o))
    xi = x.clone().requires_grad_(True)
    out = net(xi)
    handle.remove()
    cls = [int(out[n].argmax()) if (classes[0] if len(classes) == 1 else classes[n]) == -1
           else (classes[0] if len(classes) == 1 else classes[n]) for n in range(x.shape[0])]
    score = out[torch.arange(x.shape[0]), torch.tensor(cls)].sum()
    act = store["act"]
    (grad,) = torch.autograd.grad(score, act)
    cam, campp, camhr = cams(act.detach(), grad)
    TENSORS[f"{name}.act"] = act.detach()
    TENSORS[f"{name}.grad"] = grad
    TENSORS[f"{name}.cam"] = cam
    TENSORS[f"{name}.campp"] = campp
    TENSORS[f"{name}.camhr"] = camhr
    TENSORS[f"{name}.heathr"] = heat(camhr)
    TENSORS[f"{name}.heat"] = heat(cam)
    TENSORS[f"{name}.heatpp"] = heat(campp)
    TENSORS[f"{name}.classes"] = torch.tensor(cls, dtype=torch.int64)
    META[name] = json.dumps(dict(layer=layer, classes=classes), sort_keys=True, separators=(",", ":"))


add_case("conv2_pre_relu", "3", [0, 2])
add_case("conv2_relu", "4", [1])
add_case("conv1_predicted", "0", [-1])

xi = x.clone().requires_grad_(True)
out = net(xi)
(g,) = torch.autograd.grad(out[torch.arange(2), torch.tensor([0, 2])].sum(), xi)
TENSORS["saliency"] = g.abs().amax(dim=1)

out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                              "tests", "fixtures", "gradcam_parity.safetensors")
write_safetensors(out_path, TENSORS, META)
print(f"wrote {len(META)} cases, {len(TENSORS)} tensors to {out_path}")
