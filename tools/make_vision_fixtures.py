#!/usr/bin/python3
"""Generates the torchvision parity fixtures for galen's vision zoo
(tests/zoo/test_vision.cpp replays them):

  tests/fixtures/vision/vision_parity.safetensors
  tests/fixtures/vision/{resnet18,resnet50,densenet121}_keys.txt

Run with Debian's python, torch and torchvision (no pip packages needed):
    /usr/bin/python3 tools/make_vision_fixtures.py [output-dir]

No weights are stored. Every state_dict entry of the model is filled with a
deterministic formula that the C++ test re-creates. For the k-th entry (k
counts from 0 in torchvision's state_dict order, i.e. the line number in
<model>_keys.txt) with n elements, s(i) = sin(A*i + B*(k+1)), i = 0..n-1 over
the flattened tensor, computed in f64:
  *.num_batches_tracked      0
  *.running_var              1 + 0.5 s(i)
  *.running_mean             0.1 s(i)
  1-D *.weight (BatchNorm)   1 + 0.2 s(i)
  *.bias                     0.1 s(i)
  other *.weight (conv, fc)  2 s(i) / sqrt(fan_in), fan_in = n / size(0)
(s has RMS ~1/sqrt(2), so conv weights have roughly kaiming's variance 2/fan_in.)
An f32 model gets the f64 values rounded to f32.

Contents of vision_parity.safetensors (x is shared by both models):
  x                          (2, 3, 64, 48) f32 input, non-square
  <m>.eval_logits_f32        eval-mode logits, model and input in f32
  <m>.eval_logits_f64        eval-mode logits, model in f64 (x cast to f64)
  <m>.train_loss_f64         cross_entropy(train-mode logits, labels), f64, labels = [3, 7]
  <m>.grad.<key>             d loss / d parameter <key> (f64), after that backward;
                             for big convolution weights only the first 256
                             elements of the flattened gradient
  <m>.running_mean.<key>     a BatchNorm running_mean after the train forward
for <m> in resnet50, densenet121 (torchvision defaults, 1000 classes).

The converter fixture (tools/convert_torch_checkpoint.py, tested by
tools/test_convert_torch_checkpoint.py and tests/zoo/test_vision.cpp):
  chexnet_tiny.pth.tar                  a tiny DenseNet (growth 4, blocks (2, 2), 8 initial
                                        features, bn_size 2, 3 classes) saved as public
                                        CheXNet checkpoints are: {"epoch", "arch", "state_dict",
                                        "best_loss", "optimizer"} from nn.DataParallel(Wrapper)
                                        with the model under "densenet121.", a
                                        Sequential(Linear, Sigmoid) classifier, pre-0.3
                                        torchvision layer names (norm.1, conv.2, ...), no
                                        num_batches_tracked, legacy (non-zip) serialization
  chexnet_tiny_expected.safetensors     what the converter must produce (made here from the
                                        unwrapped model's own state_dict, not by the converter)
  chexnet_tiny_io.safetensors           x (2, 3, 32, 32) and the eval-mode logits (before
                                        the sigmoid) of the tiny model on x

Gradient checkpointing (galen::autograd::checkpoint vs torch.utils.checkpoint),
checkpoint_parity.safetensors, all f64: x (2, 3, 6, 5), w (4, 3, 3, 3),
b (4) (a captured parameter, not an input of the checkpointed function),
out = checkpoint(lambda x, w: tanh(conv2d(x, w, b, padding=1)) * x.mean(), x, w),
r (out's shape), gx / gw / gb = d sum(out * r) / d x, w, b.

The key lists hold one state_dict entry per line: "<key> <kind> <d0>x<d1>..."
(kind param or buffer; a 0-d tensor's shape is written as "scalar").
"""

import collections
import json
import math
import os
import re
import sys

import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import write_safetensors  # noqa: E402  (the shared safetensors writer)

A = 0.7548776662466927
B = 0.5772156649015329
LABELS = [3, 7]
SLICE = 256


def formula(key, k, shape, dtype):
    n = 1
    for d in shape:
        n *= d
    s = torch.sin(A * torch.arange(n, dtype=torch.float64) + B * (k + 1))
    if key.endswith("num_batches_tracked"):
        v = torch.zeros(n, dtype=torch.float64)
    elif key.endswith("running_var"):
        v = 1 + 0.5 * s
    elif key.endswith("running_mean"):
        v = 0.1 * s
    elif key.endswith("bias"):
        v = 0.1 * s
    elif key.endswith("weight") and len(shape) == 1:
        v = 1 + 0.2 * s
    elif key.endswith("weight"):
        fan_in = n // shape[0]
        v = 2.0 * s / math.sqrt(fan_in)
    else:
        raise ValueError(f"no formula for {key}")
    return v.reshape(shape).to(dtype)


def fill(model):
    sd = model.state_dict()
    with torch.no_grad():
        for k, (key, t) in enumerate(sd.items()):
            t.copy_(formula(key, k, tuple(t.shape), t.dtype))


def key_lines(model):
    params = {k for k, _ in model.named_parameters()}
    lines = []
    for key, t in model.state_dict().items():
        shape = "x".join(str(d) for d in t.shape) if t.dim() else "scalar"
        lines.append(f"{key} {'param' if key in params else 'buffer'} {shape}")
    return lines


def x_input():
    n = 2 * 3 * 64 * 48
    i = torch.arange(n, dtype=torch.float64)
    return (torch.sin(0.013 * i) + 0.5 * torch.cos(0.37 * i + 1.0)).reshape(2, 3, 64, 48).float()


def run(name, build, grad_keys, slice_keys, bn_key, x, tensors):
    torch.manual_seed(0)
    m32 = build()
    fill(m32)
    m32.eval()
    with torch.no_grad():
        tensors[f"{name}.eval_logits_f32"] = m32(x)

    m64 = build().double()
    fill(m64)
    m64.eval()
    x64 = x.double()
    with torch.no_grad():
        tensors[f"{name}.eval_logits_f64"] = m64(x64)
    m64.train()
    logits = m64(x64)
    loss = F.cross_entropy(logits, torch.tensor(LABELS))
    loss.backward()
    tensors[f"{name}.train_loss_f64"] = loss.detach().reshape(1)
    params = dict(m64.named_parameters())
    for key in grad_keys:
        tensors[f"{name}.grad.{key}"] = params[key].grad.detach().clone()
    for key in slice_keys:
        tensors[f"{name}.grad.{key}"] = params[key].grad.detach().flatten()[:SLICE].clone()
    tensors[f"{name}.running_mean.{bn_key}"] = m64.state_dict()[bn_key + ".running_mean"].clone()
    mag = tensors[f"{name}.eval_logits_f32"].abs().max().item()
    rel = ((tensors[f"{name}.eval_logits_f32"].double() - tensors[f"{name}.eval_logits_f64"]).abs().max() /
           tensors[f"{name}.eval_logits_f64"].abs().max()).item()
    print(f"{name}: max |eval logit| {mag:.3g}, f32 vs f64 rel {rel:.2e}, train loss {loss.item():.6g}")


class Wrapper(torch.nn.Module):
    """The shape of the public CheXNet code's model: torchvision's DenseNet in an attribute."""

    def __init__(self):
        super().__init__()
        self.densenet121 = torchvision.models.densenet.DenseNet(
            growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=2, num_classes=3)
        n = self.densenet121.classifier.in_features
        self.densenet121.classifier = torch.nn.Sequential(torch.nn.Linear(n, 3), torch.nn.Sigmoid())

    def forward(self, x):
        return self.densenet121(x)


def make_tiny_checkpoint(out_dir):
    torch.manual_seed(1234)
    model = Wrapper()
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if key.endswith("num_batches_tracked"):
                t.fill_(5)
            elif key.endswith("running_var"):
                t.copy_(torch.rand(t.shape) + 0.5)
            else:
                t.copy_(torch.randn(t.shape) * 0.3)
    model.eval()
    dp = torch.nn.DataParallel(model)
    old = collections.OrderedDict()
    for key, t in dp.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        old[re.sub(r"(denselayer\d+\.(?:norm|relu|conv))(\d)\.", r"\1.\2.", key)] = t.clone()
    assert any(".norm.1." in k for k in old) and all(k.startswith("module.densenet121.") for k in old)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ckpt = {"epoch": 7, "arch": "densenet121", "state_dict": old, "best_loss": 0.123,
            "optimizer": opt.state_dict()}
    torch.save(ckpt, os.path.join(out_dir, "chexnet_tiny.pth.tar"), _use_new_zipfile_serialization=False)

    expected = collections.OrderedDict()
    for key, t in model.densenet121.state_dict().items():
        key = key.replace("classifier.0.", "classifier.")
        expected[key] = torch.zeros((), dtype=torch.int64) if key.endswith("num_batches_tracked") else t.clone()
    write_safetensors(os.path.join(out_dir, "chexnet_tiny_expected.safetensors"), expected, {})
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = model.densenet121.classifier[0](
            torch.flatten(F.adaptive_avg_pool2d(F.relu(model.densenet121.features(x)), 1), 1))
    write_safetensors(os.path.join(out_dir, "chexnet_tiny_io.safetensors"), {"x": x, "logits": logits}, {})


def make_checkpoint_case(out_dir):
    import torch.utils.checkpoint as cp
    torch.manual_seed(99)
    x = torch.randn(2, 3, 6, 5, dtype=torch.float64, requires_grad=True)
    w = (torch.randn(4, 3, 3, 3, dtype=torch.float64) * 0.3).requires_grad_()
    b = (torch.randn(4, dtype=torch.float64) * 0.1).requires_grad_()
    out = cp.checkpoint(lambda x_, w_: torch.tanh(F.conv2d(x_, w_, b, padding=1)) * x_.mean(), x, w,
                        use_reentrant=True)
    r = torch.randn(out.shape, dtype=torch.float64)
    (out * r).sum().backward()
    write_safetensors(os.path.join(out_dir, "checkpoint_parity.safetensors"),
                      {"x": x.detach(), "w": w.detach(), "b": b.detach(), "out": out.detach(), "r": r,
                       "gx": x.grad, "gw": w.grad, "gb": b.grad}, {})


def main():
    out_dir = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else
                               os.path.join(HERE, "..", "tests", "fixtures", "vision"))
    os.makedirs(out_dir, exist_ok=True)
    tv = torchvision.models
    for name, build in [("resnet18", tv.resnet18), ("resnet50", tv.resnet50), ("densenet121", tv.densenet121)]:
        with open(os.path.join(out_dir, f"{name}_keys.txt"), "w") as f:
            f.write("\n".join(key_lines(build())) + "\n")
    for name in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
                 "wide_resnet50_2", "densenet121", "densenet161", "densenet169", "densenet201"]:
        m = getattr(tv, name)()
        print(f"{name}: {sum(p.numel() for p in m.parameters())} parameters")

    x = x_input()
    tensors = {"x": x}
    run("resnet50", tv.resnet50,
        ["bn1.weight", "layer1.0.conv1.weight", "layer2.0.downsample.1.bias", "layer4.2.bn3.weight", "fc.bias"],
        ["conv1.weight", "layer3.5.conv2.weight"], "layer1.0.bn1", x, tensors)
    run("densenet121", tv.densenet121,
        ["features.norm0.weight", "features.denseblock1.denselayer1.norm1.weight", "features.transition3.norm.bias",
         "features.denseblock4.denselayer16.norm2.weight", "features.norm5.weight", "classifier.bias"],
        ["features.conv0.weight", "features.denseblock2.denselayer7.conv1.weight",
         "features.denseblock4.denselayer16.conv2.weight"], "features.denseblock3.denselayer5.norm1", x, tensors)
    make_tiny_checkpoint(out_dir)
    make_checkpoint_case(out_dir)
    meta = {"__format__": json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__,
                                       "A": A, "B": B, "labels": LABELS, "slice": SLICE})}
    write_safetensors(os.path.join(out_dir, "vision_parity.safetensors"), tensors, meta)


if __name__ == "__main__":
    main()
