#!/usr/bin/python3
"""Generates tests/fixtures/rnn_parity.safetensors: PyTorch reference outputs,
final states and gradients of torch.nn.RNN / LSTM / GRU (uni/bidirectional,
1-3 layers, batch_first both ways, with and without bias, variable lengths
through pack_padded_sequence(enforce_sorted=False)) and of the cells, replayed
by tests/layers/test_rnn.cpp.

Run with Debian's python and torch (no pip packages needed):
    /usr/bin/python3 tools/make_rnn_fixtures.py [output-path]

Layout (f64; lengths i64):
  <case>.x, .h0, .c0 (LSTM), .lengths (optional)   inputs
  <case>.p.<param name>                              the module's state_dict
  <case>.out, .hn, .cn                               outputs (out padded with 0, total_length T)
  <case>.w_out, .w_hn, .w_cn                         fixed random weights of the outputs' shapes
  <case>.gx, .gh0, .gc0, .g.<param name>             d(sum(out*w_out) + sum(hn*w_hn) + sum(cn*w_cn)) / d(.)
  __metadata__["<case>"] = JSON {"kind": "layer"|"cell", "mode", "I", "H", "layers", "bidirectional",
                                 "batch_first", "bias", "unbatched"}
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402
from make_fixtures import write_safetensors  # noqa: E402

torch.manual_seed(4242)
F64 = torch.float64
TENSORS, META = {}, {}


def randn(*shape):
    return torch.randn(shape, dtype=F64)


def make_module(mode, I, H, layers, bidir, batch_first, bias):
    kw = dict(num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir)
    if mode == "lstm":
        m = torch.nn.LSTM(I, H, **kw)
    elif mode == "gru":
        m = torch.nn.GRU(I, H, **kw)
    else:
        m = torch.nn.RNN(I, H, nonlinearity="tanh" if mode == "rnn_tanh" else "relu", **kw)
    return m.double()


def layer_case(name, mode, T=4, B=2, I=3, H=3, layers=1, bidir=False, batch_first=False, bias=True,
               lengths=None, unbatched=False, with_h0=True):
    assert name not in META
    m = make_module(mode, I, H, layers, bidir, batch_first, bias)
    D = 2 if bidir else 1
    if unbatched:
        x = randn(T, I)
        sshape = (layers * D, H)
    else:
        x = randn(B, T, I) if batch_first else randn(T, B, I)
        sshape = (layers * D, B, H)
    h0 = randn(*sshape) * 0.5 if with_h0 else torch.zeros(sshape, dtype=F64)
    c0 = randn(*sshape) * 0.5 if with_h0 else torch.zeros(sshape, dtype=F64)
    xl = x.clone().requires_grad_(True)
    h0l = h0.clone().requires_grad_(True)
    c0l = c0.clone().requires_grad_(True)
    state = (h0l, c0l) if mode == "lstm" else h0l
    if lengths is not None:
        lt = torch.tensor(lengths, dtype=torch.int64)
        packed = pack_padded_sequence(xl, lt, batch_first=batch_first, enforce_sorted=False)
        out_p, st = m(packed, state)
        out, _ = pad_packed_sequence(out_p, batch_first=batch_first, total_length=T)
        TENSORS[f"{name}.lengths"] = lt
    else:
        out, st = m(xl, state)
    hn, cn = (st if mode == "lstm" else (st, None))
    w_out, w_hn = randn(*out.shape), randn(*hn.shape)
    loss = (out * w_out).sum() + (hn * w_hn).sum()
    TENSORS[f"{name}.w_out"], TENSORS[f"{name}.w_hn"] = w_out, w_hn
    if cn is not None:
        w_cn = randn(*cn.shape)
        loss = loss + (cn * w_cn).sum()
        TENSORS[f"{name}.w_cn"] = w_cn
        TENSORS[f"{name}.cn"] = cn.detach()
    params = dict(m.named_parameters())
    leaves = [xl, h0l] + ([c0l] if mode == "lstm" else []) + list(params.values())
    grads = torch.autograd.grad(loss, leaves)
    TENSORS[f"{name}.x"], TENSORS[f"{name}.out"], TENSORS[f"{name}.hn"] = x, out.detach(), hn.detach()
    if with_h0:
        TENSORS[f"{name}.h0"] = h0
        if mode == "lstm":
            TENSORS[f"{name}.c0"] = c0
    TENSORS[f"{name}.gx"], TENSORS[f"{name}.gh0"] = grads[0], grads[1]
    k = 2
    if mode == "lstm":
        TENSORS[f"{name}.gc0"] = grads[2]
        k = 3
    for (pn, p), g in zip(params.items(), grads[k:]):
        TENSORS[f"{name}.p.{pn}"] = p.detach().clone()
        TENSORS[f"{name}.g.{pn}"] = g
    META[name] = json.dumps(dict(kind="layer", mode=mode, I=I, H=H, layers=layers, bidirectional=bidir,
                                 batch_first=batch_first, bias=bias, unbatched=unbatched), sort_keys=True,
                            separators=(",", ":"))


def cell_case(name, mode, B=3, I=4, H=3, bias=True, unbatched=False):
    if mode == "lstm":
        m = torch.nn.LSTMCell(I, H, bias=bias)
    elif mode == "gru":
        m = torch.nn.GRUCell(I, H, bias=bias)
    else:
        m = torch.nn.RNNCell(I, H, bias=bias, nonlinearity="tanh" if mode == "rnn_tanh" else "relu")
    m = m.double()
    x = randn(I) if unbatched else randn(B, I)
    h = randn(H) if unbatched else randn(B, H)
    c = randn(H) if unbatched else randn(B, H)
    xl, hl, cl = (t.clone().requires_grad_(True) for t in (x, h, c))
    if mode == "lstm":
        hn, cn = m(xl, (hl, cl))
    else:
        hn, cn = m(xl, hl), None
    w_hn = randn(*hn.shape)
    loss = (hn * w_hn).sum()
    TENSORS[f"{name}.w_hn"] = w_hn
    if cn is not None:
        w_cn = randn(*cn.shape)
        loss = loss + (cn * w_cn).sum()
        TENSORS[f"{name}.w_cn"], TENSORS[f"{name}.cn"] = w_cn, cn.detach()
    params = dict(m.named_parameters())
    leaves = [xl, hl] + ([cl] if mode == "lstm" else []) + list(params.values())
    grads = torch.autograd.grad(loss, leaves)
    TENSORS[f"{name}.x"], TENSORS[f"{name}.h0"], TENSORS[f"{name}.hn"] = x, h, hn.detach()
    TENSORS[f"{name}.gx"], TENSORS[f"{name}.gh0"] = grads[0], grads[1]
    k = 2
    if mode == "lstm":
        TENSORS[f"{name}.c0"], TENSORS[f"{name}.gc0"] = c, grads[2]
        k = 3
    for (pn, p), g in zip(params.items(), grads[k:]):
        TENSORS[f"{name}.p.{pn}"] = p.detach().clone()
        TENSORS[f"{name}.g.{pn}"] = g
    META[name] = json.dumps(dict(kind="cell", mode=mode, I=I, H=H, bias=bias, unbatched=unbatched),
                            sort_keys=True, separators=(",", ":"))


for mode in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
    layer_case(f"{mode}_basic", mode)
    layer_case(f"{mode}_bi", mode, bidir=True)
    layer_case(f"{mode}_l2_bf", mode, layers=2, batch_first=True)
    layer_case(f"{mode}_l3_bi_bf", mode, layers=3, bidir=True, batch_first=True, T=3, B=2, H=2)
    layer_case(f"{mode}_nobias", mode, bias=False, layers=2)
    layer_case(f"{mode}_len", mode, T=5, B=4, lengths=[5, 2, 4, 1])
    layer_case(f"{mode}_len_bi_l2", mode, T=5, B=3, layers=2, bidir=True, lengths=[3, 5, 1])
    layer_case(f"{mode}_len_bi_bf", mode, T=5, B=3, bidir=True, batch_first=True, lengths=[2, 5, 4])
    layer_case(f"{mode}_unbatched", mode, T=4, unbatched=True, bidir=True)
    layer_case(f"{mode}_noh0", mode, with_h0=False, layers=2)
    cell_case(f"{mode}_cell", mode)
    cell_case(f"{mode}_cell_nobias", mode, bias=False)
    cell_case(f"{mode}_cell_unbatched", mode, unbatched=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "tests", "fixtures", "rnn_parity.safetensors")
    out = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default)
    write_safetensors(out, TENSORS, META)
    print(f"wrote {len(META)} cases, {len(TENSORS)} tensors to {out}")


if __name__ == "__main__":
    main()
