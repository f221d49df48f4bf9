#!/usr/bin/python3
"""Generates tests/fixtures/layers_parity.safetensors: PyTorch reference values
for galen's basic layers (tests/layers/test_layers_basic.cpp replays them).

Run with Debian's python and torch (no pip packages needed):
    /usr/bin/python3 tools/make_layer_fixtures.py [output-path]

Per layer case <c> (all floating tensors f64; the module runs in f64):
  <c>.x           the input (I64 for Embedding)
  <c>.p.<key>     the module's state_dict entries (fixed random values)
  <c>.out         module(x)
  <c>.w           a fixed random weight of out's shape
  <c>.gx          d sum(out * w) / dx (absent for integer inputs)
  <c>.g.<key>     d sum(out * w) / d parameter <key>
  __metadata__[<c>] = JSON {"layer": <class name>, "mode": "train"|"eval", ...args}
A nested model (custom module holding a Sequential) is stored in f32 as PyTorch
saves it: nested.sd.<state_dict key>, nested.x, nested.out (eval mode).
"""

import json
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import write_safetensors  # noqa: E402  (the shared safetensors writer)

torch.manual_seed(7031)
F64 = torch.float64
TENSORS, META = {}, {}


def away0(*shape):
    """Normal values pushed away from 0 (kinks of relu / leaky_relu / elu)."""
    x = torch.randn(shape, dtype=F64)
    return x + 0.25 * torch.sign(x)


def add_case(name, layer, module, x, mode="eval", **args):
    assert name not in META and "." not in name
    module = module.double()
    # Fixed random parameter values (not the default init), so every parameter
    # matters; LayerNorm's ones/zeros would hide a swapped weight and bias.
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, dtype=F64) * 0.5)
    module.train(mode == "train")
    x = x.detach().clone()
    if x.is_floating_point():
        x.requires_grad_(True)
    out = module(x)
    w = torch.randn(out.shape, dtype=F64)
    (out * w).sum().backward()
    TENSORS[f"{name}.x"] = x.detach()
    TENSORS[f"{name}.out"] = out.detach()
    TENSORS[f"{name}.w"] = w
    if x.is_floating_point():
        TENSORS[f"{name}.gx"] = x.grad.detach()
    for key, t in module.state_dict().items():
        TENSORS[f"{name}.p.{key}"] = t.detach().clone()
    for key, p in module.named_parameters():
        TENSORS[f"{name}.g.{key}"] = p.grad.detach().clone()
    META[name] = json.dumps(dict(layer=layer, mode=mode, **args), sort_keys=True)


def cases():
    add_case("linear", "Linear", nn.Linear(5, 3), torch.randn(4, 5, dtype=F64), in_features=5, out_features=3,
             bias=True)
    add_case("linear_nobias_3d", "Linear", nn.Linear(5, 3, bias=False), torch.randn(2, 3, 5, dtype=F64),
             in_features=5, out_features=3, bias=False)
    add_case("identity", "Identity", nn.Identity(), torch.randn(3, 4, dtype=F64))
    add_case("flatten", "Flatten", nn.Flatten(), torch.randn(2, 3, 2, 2, dtype=F64), start_dim=1, end_dim=-1)
    add_case("flatten_0_2", "Flatten", nn.Flatten(0, 2), torch.randn(2, 3, 2, 2, dtype=F64), start_dim=0,
             end_dim=2)
    add_case("relu", "ReLU", nn.ReLU(), away0(3, 5))
    add_case("leaky_relu", "LeakyReLU", nn.LeakyReLU(0.2), away0(3, 5), negative_slope=0.2)
    add_case("leaky_relu_default", "LeakyReLU", nn.LeakyReLU(), away0(4, 3), negative_slope=0.01)
    add_case("elu", "ELU", nn.ELU(0.7), away0(3, 5), alpha=0.7)
    add_case("elu_default", "ELU", nn.ELU(), away0(2, 3, 4), alpha=1.0)
    add_case("gelu", "GELU", nn.GELU(), torch.randn(3, 5, dtype=F64) * 2)
    add_case("sigmoid", "Sigmoid", nn.Sigmoid(), torch.randn(3, 5, dtype=F64) * 2)
    add_case("tanh", "Tanh", nn.Tanh(), torch.randn(3, 5, dtype=F64) * 2)
    add_case("softmax", "Softmax", nn.Softmax(dim=1), torch.randn(2, 4, 3, dtype=F64), dim=1)
    add_case("log_softmax", "LogSoftmax", nn.LogSoftmax(dim=-1), torch.randn(3, 6, dtype=F64), dim=-1)
    add_case("dropout_eval", "Dropout", nn.Dropout(0.4), torch.randn(3, 5, dtype=F64), p=0.4)
    add_case("embedding", "Embedding", nn.Embedding(7, 4), torch.tensor([[1, 3, 3, 0, 6], [6, 2, 1, 1, 1]]),
             num_embeddings=7, embedding_dim=4)
    add_case("embedding_1d", "Embedding", nn.Embedding(5, 3), torch.tensor([4, 0, 4]), num_embeddings=5,
             embedding_dim=3)
    add_case("layer_norm", "LayerNorm", nn.LayerNorm(6), torch.randn(3, 6, dtype=F64) * 3 + 1,
             normalized_shape=[6], eps=1e-5, elementwise_affine=True)
    add_case("layer_norm_2d", "LayerNorm", nn.LayerNorm([4, 5], eps=1e-3), torch.randn(2, 3, 4, 5, dtype=F64),
             normalized_shape=[4, 5], eps=1e-3, elementwise_affine=True)
    add_case("layer_norm_noaffine", "LayerNorm", nn.LayerNorm(6, elementwise_affine=False),
             torch.randn(2, 2, 6, dtype=F64), normalized_shape=[6], eps=1e-5, elementwise_affine=False)


class Net(nn.Module):
    """A custom module holding a Sequential, a ModuleList and an Embedding: the
    nesting whose state_dict keys galen must reproduce."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.LayerNorm(8), nn.Dropout(0.5))
        self.blocks = nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 4)])
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        h = self.features(x)
        for b in self.blocks:
            h = torch.tanh(b(h))
        return self.head(h)


def nested():
    net = Net()
    with torch.no_grad():  # non-default LayerNorm affine values
        net.features[2].weight.copy_(torch.rand(8) + 0.5)
        net.features[2].bias.copy_(torch.randn(8) * 0.1)
    net.eval()
    x = torch.randn(5, 6)
    with torch.no_grad():
        out = net(x)
    for key, t in net.state_dict().items():
        TENSORS[f"nested.sd.{key}"] = t.detach().clone()
    TENSORS["nested.x"] = x
    TENSORS["nested.out"] = out
    META["__nested__"] = json.dumps({"keys": list(net.state_dict().keys()), "repr": repr(net)})


def main():
    default = os.path.join(HERE, "..", "tests", "fixtures", "layers_parity.safetensors")
    out = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default)
    torch.manual_seed(7031)
    cases()
    nested()
    META["__generator__"] = "tools/make_layer_fixtures.py, torch " + torch.__version__
    write_safetensors(out, TENSORS, META)
    print(f"wrote {out}: {len(META) - 2} layer cases, {len(TENSORS)} tensors, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
