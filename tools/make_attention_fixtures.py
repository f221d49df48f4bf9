#!/usr/bin/python3
"""Generates tests/fixtures/attention_parity.safetensors: PyTorch reference values
for galen's attention layers (tests/layers/test_attention.cpp replays them).

Run with Debian's python and torch 1.13 (no pip packages needed):
    /usr/bin/python3 tools/make_attention_fixtures.py [output-path]

All floating tensors are f64 and every module runs in f64, in eval mode (dropout
configured but off), with inputs that require grad (so PyTorch takes its
reference "slow" path, not the fused inference fast path).

Per case <c>:
  <c>.in.<name>   inputs (query/key/value, src, h, q/k/v, masks: BOOL or f64, lengths: I64)
  <c>.p.<key>     the module's state_dict (fixed random values, not the default init)
  <c>.out         the main output; <c>.attw the attention weights where returned
  <c>.w, <c>.ww   fixed random weights of out's / attw's shape
  <c>.g.<name>    d [sum(out * w) + sum(attw * ww)] / d input <name> (floating inputs)
  <c>.gp.<key>    the same w.r.t. parameter <key>
  __metadata__[<c>] = JSON {"kind": ..., constructor and forward arguments}
Cases with fully masked rows hold NaN in out/attw (PyTorch's result) and no gradients.

scaled_dot_product_attention does not exist in torch 1.13; its reference here is
PyTorch 2's documented math (softmax(q k^T * scale + mask) v, bool mask True =
may attend, is_causal = lower-triangular (L, S) mask) written with 1.13 ops.
AttentionPooling has no PyTorch counterpart; its reference is written out too.
"""

import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import write_safetensors  # noqa: E402  (the shared safetensors writer)

F64 = torch.float64
TENSORS, META = {}, {}


def randomise(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, dtype=F64) * 0.5)


def store(name, inputs, outs, params=None, grads=True, **meta):
    """inputs: dict name -> tensor (floating ones already require grad); outs: [out] or [out, attw]."""
    assert name not in META and "." not in name
    for k, t in inputs.items():
        TENSORS[f"{name}.in.{k}"] = t.detach().clone()
    TENSORS[f"{name}.out"] = outs[0].detach()
    if len(outs) > 1 and outs[1] is not None:
        TENSORS[f"{name}.attw"] = outs[1].detach()
    if params is not None:
        for key, t in params.state_dict().items():
            TENSORS[f"{name}.p.{key}"] = t.detach().clone()
    if grads:
        w = torch.randn(outs[0].shape, dtype=F64)
        loss = (outs[0] * w).sum()
        TENSORS[f"{name}.w"] = w
        if len(outs) > 1 and outs[1] is not None:
            ww = torch.randn(outs[1].shape, dtype=F64)
            TENSORS[f"{name}.ww"] = ww
            loss = loss + (outs[1] * ww).sum()
        loss.backward()
        for k, t in inputs.items():
            if t.is_floating_point() and t.requires_grad:
                TENSORS[f"{name}.g.{k}"] = t.grad.detach().clone()
        if params is not None:
            for key, p in params.named_parameters():
                TENSORS[f"{name}.gp.{key}"] = p.grad.detach().clone()
    META[name] = json.dumps(meta, sort_keys=True)


def leaf(*shape):
    return torch.randn(shape, dtype=F64).requires_grad_(True)


# ---- scaled_dot_product_attention (PyTorch 2 semantics) ------------------------------------------------
def sdpa_ref(q, k, v, mask=None, is_causal=False, scale=None):
    L, S = q.shape[-2], k.shape[-2]
    s = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    att = torch.matmul(q, k.transpose(-2, -1)) * s
    if is_causal:
        mask = torch.ones(L, S, dtype=torch.bool).tril()
    if mask is not None:
        if mask.dtype == torch.bool:
            att = att.masked_fill(~mask, float("-inf"))
        else:
            att = att + mask
    return torch.matmul(torch.softmax(att, dim=-1), v)


def sdpa_cases():
    q, k, v = leaf(2, 3, 4, 5), leaf(2, 3, 6, 5), leaf(2, 3, 6, 7)
    store("sdpa_plain", dict(q=q, k=k, v=v), [sdpa_ref(q, k, v)], kind="sdpa", is_causal=False)
    q, k, v = leaf(3, 5, 4), leaf(3, 6, 4), leaf(3, 6, 2)
    m = torch.rand(5, 6) > 0.3
    m[:, 0] = True  # every query keeps a key
    store("sdpa_bool_mask", dict(q=q, k=k, v=v, mask=m), [sdpa_ref(q, k, v, m)], kind="sdpa", is_causal=False)
    q, k, v = leaf(2, 2, 4, 3), leaf(2, 2, 5, 3), leaf(2, 2, 5, 3)
    fm = torch.randn(2, 1, 4, 5, dtype=F64)
    fm[0, 0, 1, 2] = float("-inf")
    store("sdpa_float_mask", dict(q=q, k=k, v=v, mask=fm), [sdpa_ref(q, k, v, fm)], kind="sdpa", is_causal=False)
    q, k, v = leaf(2, 4, 3), leaf(2, 6, 3), leaf(2, 6, 4)
    store("sdpa_causal", dict(q=q, k=k, v=v), [sdpa_ref(q, k, v, is_causal=True)], kind="sdpa", is_causal=True)
    q, k, v = leaf(1, 3, 2), leaf(1, 3, 2), leaf(1, 3, 2)
    store("sdpa_scale", dict(q=q, k=k, v=v), [sdpa_ref(q, k, v, scale=0.3)], kind="sdpa", is_causal=False, scale=0.3)
    q, k, v = leaf(2, 3, 4), leaf(2, 3, 4), leaf(2, 3, 4)
    m = torch.ones(2, 3, 3, dtype=torch.bool)
    m[1, 2, :] = False  # one query row may attend to nothing: NaN in PyTorch
    with torch.no_grad():
        out = sdpa_ref(q, k, v, m)
    store("sdpa_fully_masked", dict(q=q, k=k, v=v, mask=m), [out], grads=False, kind="sdpa", is_causal=False)


# ---- nn.MultiheadAttention -----------------------------------------------------------------------------
def mha_case(name, E, H, L, S, B, batch_first=False, kdim=None, vdim=None, bias=True, add_zero_attn=False,
             self_attn=False, kpm=None, attn_mask=None, need_weights=True, average=True, grads=True,
             unbatched=False, torch_attn_mask=None, torch_kpm="same"):
    mha = nn.MultiheadAttention(E, H, dropout=0.25, bias=bias, add_zero_attn=add_zero_attn, kdim=kdim, vdim=vdim,
                                batch_first=batch_first).double()
    randomise(mha)
    mha.eval()
    kd, vd = kdim or E, vdim or E

    def shape(n, d):
        if unbatched:
            return (n, d)
        return (B, n, d) if batch_first else (n, B, d)
    query = leaf(*shape(L, E))
    inputs = dict(query=query)
    if self_attn:
        key = value = query
    else:
        key, value = leaf(*shape(S, kd)), leaf(*shape(S, vd))
        inputs.update(key=key, value=value)
    if kpm is not None:
        inputs["key_padding_mask"] = kpm
    if attn_mask is not None:
        inputs["attn_mask"] = attn_mask
    # torch_attn_mask / torch_kpm: what PyTorch 1.13 is given when galen's inputs are a combination it lacks
    # (float key_padding_mask together with a float attn_mask: PyTorch 2 adds them).
    am = attn_mask if torch_attn_mask is None else torch_attn_mask
    kp = kpm if torch_kpm == "same" else torch_kpm
    ctx = torch.enable_grad() if grads else torch.no_grad()
    with ctx:
        out, w = mha(query, key, value, key_padding_mask=kp, need_weights=need_weights, attn_mask=am,
                     average_attn_weights=average)
    store(name, inputs, [out, w], params=mha, grads=grads, kind="mha", embed_dim=E, num_heads=H, dropout=0.25,
          bias=bias, add_zero_attn=add_zero_attn, kdim=kd, vdim=vd, batch_first=batch_first, self_attn=self_attn,
          need_weights=need_weights, average_attn_weights=average)


def mha_cases():
    mha_case("mha_self", E=8, H=2, L=5, S=5, B=3, self_attn=True)
    kpm = torch.tensor([[False, False, False, True, True, False],
                        [False, True, False, False, False, False]])
    am = torch.rand(4, 6) > 0.7
    am[:, 0] = False
    mha_case("mha_bf_cross_bool", E=6, H=3, L=4, S=6, B=2, batch_first=True, kpm=kpm, attn_mask=am, average=False)
    fm3 = torch.randn(2 * 2, 3, 5, dtype=F64)
    fm3[1, 0, 3] = float("-inf")
    mha_case("mha_kdim_vdim_float3d", E=4, H=2, L=3, S=5, B=2, kdim=5, vdim=7, attn_mask=fm3)
    fkpm = torch.randn(2, 5, dtype=F64)
    fkpm[0, 4] = float("-inf")
    mha_case("mha_float_kpm", E=4, H=1, L=3, S=5, B=2, batch_first=True, kpm=fkpm)
    bkpm = torch.tensor([[False, False, True, False], [False, False, False, False], [True, False, False, False]])
    fam = torch.randn(2, 4, dtype=F64)
    mha_case("mha_bool_kpm_float_mask", E=6, H=2, L=2, S=4, B=3, kpm=bkpm, attn_mask=fam, average=False)
    fkpm2 = torch.randn(3, 4, dtype=F64)
    combined = (fam.unsqueeze(0) + fkpm2.view(3, 1, 1, 4)).expand(3, 2, 2, 4).reshape(6, 2, 4)
    mha_case("mha_float_kpm_float_mask", E=6, H=2, L=2, S=4, B=3, kpm=fkpm2, attn_mask=fam,
             torch_attn_mask=combined, torch_kpm=None)
    mha_case("mha_zero_attn_nobias", E=4, H=2, L=3, S=3, B=2, bias=False, add_zero_attn=True,
             kpm=torch.tensor([[False, True, False], [False, False, False]]))
    mha_case("mha_unbatched", E=6, H=3, L=4, S=2, B=1, unbatched=True, kpm=torch.tensor([False, True]))
    mha_case("mha_no_weights_causal", E=4, H=2, L=4, S=4, B=2, batch_first=True, self_attn=True,
             attn_mask=torch.ones(4, 4, dtype=torch.bool).triu(1), need_weights=False)
    # Batch 1's keys are all padding: every query of that batch attends to nothing (NaN in PyTorch).
    mha_case("mha_fully_masked", E=4, H=2, L=2, S=3, B=2, kpm=torch.tensor([[False, True, False], [True, True, True]]),
             grads=False)


# ---- nn.TransformerEncoderLayer / TransformerEncoder ----------------------------------------------------
def tel_case(name, d, nhead, ff, L, B, batch_first, norm_first, activation, src_mask=None, kpm=None):
    layer = nn.TransformerEncoderLayer(d, nhead, dim_feedforward=ff, dropout=0.1, activation=activation,
                                       layer_norm_eps=1e-5, batch_first=batch_first, norm_first=norm_first).double()
    randomise(layer)
    layer.eval()
    src = leaf(*((B, L, d) if batch_first else (L, B, d)))
    inputs = dict(src=src)
    if src_mask is not None:
        inputs["src_mask"] = src_mask
    if kpm is not None:
        inputs["src_key_padding_mask"] = kpm
    out = layer(src, src_mask=src_mask, src_key_padding_mask=kpm)
    store(name, inputs, [out], params=layer, kind="encoder_layer", d_model=d, nhead=nhead, dim_feedforward=ff,
          dropout=0.1, activation=activation, layer_norm_eps=1e-5, batch_first=batch_first, norm_first=norm_first)


def tel_cases():
    kpm = torch.tensor([[False, False, False, True], [False, False, False, False], [False, True, False, False]])
    causal = torch.ones(4, 4, dtype=torch.bool).triu(1)
    tel_case("tel_post_relu", 8, 2, 16, 4, 3, batch_first=False, norm_first=False, activation="relu", kpm=kpm)
    tel_case("tel_pre_gelu_bf", 8, 2, 16, 4, 3, batch_first=True, norm_first=True, activation="gelu",
             src_mask=causal, kpm=kpm)
    fm = torch.randn(4, 4, dtype=F64)
    tel_case("tel_post_gelu_bf_float", 6, 3, 10, 4, 2, batch_first=True, norm_first=False, activation="gelu",
             src_mask=fm)
    tel_case("tel_pre_relu_float_kpm", 6, 2, 12, 4, 3, batch_first=False, norm_first=True, activation="relu",
             kpm=torch.randn(3, 4, dtype=F64))

    layer = nn.TransformerEncoderLayer(6, 2, dim_feedforward=12, dropout=0.1, batch_first=True).double()
    enc = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(6).double(), enable_nested_tensor=False)
    randomise(enc)
    enc.eval()
    src = leaf(2, 5, 6)
    kpm = torch.tensor([[False, False, False, False, True], [False, False, False, False, False]])
    out = enc(src, src_key_padding_mask=kpm)
    store("encoder_2", dict(src=src, src_key_padding_mask=kpm), [out], params=enc, kind="encoder", d_model=6,
          nhead=2, dim_feedforward=12, num_layers=2, batch_first=True, norm_first=False, activation="relu",
          keys=list(enc.state_dict().keys()))


# ---- AttentionPooling (reference written out) -----------------------------------------------------------
class AttentionPoolingRef(nn.Module):
    def __init__(self, hidden, attn_hidden):
        super().__init__()
        self.proj = nn.Linear(hidden, attn_hidden)
        self.v = nn.Linear(attn_hidden, 1, bias=False)

    def forward(self, h, pad):  # pad (B, T) bool, True = padding
        scores = self.v(torch.tanh(self.proj(h))).squeeze(-1)
        scores = scores.masked_fill(pad, float("-inf"))
        w = torch.softmax(scores, dim=1)
        return (w.unsqueeze(-1) * h).sum(1), w


def pool_cases():
    pool = AttentionPoolingRef(5, 4).double()
    randomise(pool)
    h = leaf(3, 6, 5)
    lengths = torch.tensor([6, 2, 4])
    pad = torch.arange(6).unsqueeze(0) >= lengths.unsqueeze(1)
    pooled, w = pool(h, pad)
    store("pool_lengths", dict(h=h, lengths=lengths, padding_mask=pad), [pooled, w], params=pool,
          kind="pool", hidden=5, attn_hidden=4)
    pool = AttentionPoolingRef(3, 2).double()
    randomise(pool)
    h = leaf(2, 4, 3)
    pooled, w = pool(h, torch.zeros(2, 4, dtype=torch.bool))
    store("pool_nomask", dict(h=h), [pooled, w], params=pool, kind="pool", hidden=3, attn_hidden=2)


def main():
    default = os.path.join(HERE, "..", "tests", "fixtures", "attention_parity.safetensors")
    out = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default)
    torch.manual_seed(4051)
    sdpa_cases()
    mha_cases()
    tel_cases()
    pool_cases()
    META["__generator__"] = "tools/make_attention_fixtures.py, torch " + torch.__version__
    write_safetensors(out, TENSORS, META)
    print(f"wrote {out}: {len(META) - 1} cases, {len(TENSORS)} tensors, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
