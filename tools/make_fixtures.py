#!/usr/bin/python3
"""Generates tests/fixtures/ops_parity.safetensors: PyTorch reference outputs and
gradients for every differentiable galen op (see core/op_registry.cpp).

Run with Debian's python and torch (no pip packages needed):
    /usr/bin/python3 tools/make_fixtures.py [output-path]

Layout of the file (all tensors little-endian, written by write_safetensors below):
  <case>.in<i>    input i as stored (f64 for floating inputs, I64 indices, BOOL masks).
                  If metadata "perms"[i] is a list, the op sees in<i>.permute(perms[i])
                  (a non-contiguous view of the stored contiguous base).
  <case>.out      the op's output (or <case>.out<k> for ops returning several tensors,
                  with metadata "nout": k).
  <case>.w        a fixed random weight of the output's shape/dtype (<case>.w<k> for
                  multi-output ops; absent for non-floating outputs).
  <case>.grad<i>  d(sum_k sum(out_k * w_k)) / d(in<i>) for each floating input, in the
                  shape of the stored in<i> (i.e. w.r.t. the base, before any permute).
  __metadata__["<case>"] = JSON string {"op": "<registry name>", ...parameters}.
"""

import json
import math
import os
import struct
import sys

import torch

torch.manual_seed(20240607)
F64 = torch.float64

CASES = []  # (name, meta, inputs, outputs, weights, grads)


def randn(*shape):
    return torch.randn(shape, dtype=F64)


def pos(*shape, lo=0.5, hi=2.0):
    """Values in [lo, hi): for log, sqrt, rsqrt, fractional powers, divisors."""
    return torch.rand(shape, dtype=F64) * (hi - lo) + lo


def away0(*shape):
    """Normal values pushed away from 0 (abs, relu, sign-sensitive ops)."""
    x = randn(*shape)
    return x + 0.25 * torch.sign(x)


def add_case(name, op, inputs, fn, perms=None, **params):
    """Runs fn on the (optionally permuted) inputs and records everything the C++
    test needs to replay it."""
    assert name not in {c[0] for c in CASES}, name
    assert "." not in name
    perms = perms or [None] * len(inputs)
    leaves = []
    for t in inputs:
        t = t.detach().clone().contiguous()
        if t.is_floating_point():
            t.requires_grad_(True)
        leaves.append(t)
    views = [t.permute(p) if p is not None else t for t, p in zip(leaves, perms)]
    res = fn(*views)
    multi = isinstance(res, (tuple, list))
    outs = list(res) if multi else [res]

    weights = []
    diff_outs = []
    for o in outs:
        if o.is_floating_point() and o.requires_grad:
            w = torch.randn(o.shape, dtype=F64).to(o.dtype)
            weights.append(w)
            diff_outs.append((o, w))
        else:
            weights.append(None)
    diff_leaves = [t for t in leaves if t.requires_grad]
    grads = [None] * len(leaves)
    if diff_outs and diff_leaves:
        gs = torch.autograd.grad([o for o, _ in diff_outs], diff_leaves,
                                 grad_outputs=[w for _, w in diff_outs], allow_unused=True)
        it = iter(gs)
        for i, t in enumerate(leaves):
            if t.requires_grad:
                g = next(it)
                grads[i] = torch.zeros_like(t) if g is None else g

    meta = {"op": op}
    meta.update(params)
    if any(p is not None for p in perms):
        meta["perms"] = [list(p) if p is not None else None for p in perms]
    if multi:
        meta["nout"] = len(outs)
    CASES.append((name, meta, [t.detach() for t in leaves], [o.detach() for o in outs],
                  weights, grads, multi))


# ---- unary -----------------------------------------------------------------------
add_case("neg", "neg", [randn(3, 4)], torch.neg)
add_case("neg_0d", "neg", [randn()], torch.neg)
add_case("abs", "abs", [away0(3, 4)], torch.abs)
add_case("abs_nc", "abs", [away0(4, 3)], torch.abs, perms=[(1, 0)])
add_case("exp", "exp", [randn(2, 3, 2)], torch.exp)
add_case("exp_nc", "exp", [randn(3, 5)], torch.exp, perms=[(1, 0)])
add_case("log", "log", [pos(3, 4)], torch.log)
add_case("sqrt", "sqrt", [pos(3, 4)], torch.sqrt)
add_case("rsqrt", "rsqrt", [pos(3, 4)], torch.rsqrt)
add_case("rsqrt_nc", "rsqrt", [pos(2, 3, 4)], torch.rsqrt, perms=[(2, 0, 1)])
for tag, e, gen in [("2", 2.0, randn), ("3", 3.0, randn), ("half", 0.5, pos),
                    ("m1p5", -1.5, pos), ("0", 0.0, randn), ("1", 1.0, randn)]:
    add_case("pow_scalar_" + tag, "pow_scalar", [gen(3, 4)], lambda x, e=e: torch.pow(x, e),
             exponent=e)
add_case("sigmoid", "sigmoid", [randn(3, 4) * 2], torch.sigmoid)
add_case("tanh", "tanh", [randn(3, 4)], torch.tanh)
add_case("tanh_nc", "tanh", [randn(4, 3)], torch.tanh, perms=[(1, 0)])
add_case("relu", "relu", [away0(3, 5)], torch.relu)
add_case("gelu", "gelu", [randn(3, 5) * 2], torch.nn.functional.gelu)
add_case("square", "square", [randn(3, 4)], torch.square)
add_case("square_0d", "square", [randn()], torch.square)

# ---- binary ------------------------------------------------------------------------
add_case("add", "add", [randn(3, 4), randn(3, 4)], torch.add)
add_case("add_bcast", "add", [randn(3, 1, 5), randn(4, 1)], torch.add)
add_case("add_alpha", "add", [randn(2, 3), randn(3)], lambda a, b: torch.add(a, b, alpha=-2.5),
         alpha=-2.5)
add_case("add_0d", "add", [randn(2, 3), randn()], torch.add)
add_case("add_nc", "add", [randn(4, 3), randn(3, 4)], torch.add, perms=[(1, 0), None])
add_case("add_scalar", "add", [randn(2, 3)], lambda a: a + 1.75, scalar=1.75)
add_case("sub", "sub", [randn(3, 4), randn(3, 4)], torch.sub)
add_case("sub_bcast", "sub", [randn(4, 1), randn(3, 1, 5)], torch.sub)
add_case("sub_alpha", "sub", [randn(2, 3), randn(2, 3)], lambda a, b: torch.sub(a, b, alpha=0.5),
         alpha=0.5)
add_case("sub_scalar", "sub", [randn(2, 3)], lambda a: a - 0.25, scalar=0.25)
add_case("mul", "mul", [randn(3, 4), randn(3, 4)], torch.mul)
add_case("mul_bcast", "mul", [randn(3, 1, 5), randn(4, 1)], torch.mul)
add_case("mul_nc", "mul", [randn(5, 2, 3), randn(5, 3)], torch.mul, perms=[(1, 2, 0), (1, 0)])
add_case("mul_scalar", "mul", [randn(2, 3)], lambda a: a * -3.0, scalar=-3.0)
add_case("div", "div", [randn(3, 4), away0(3, 4)], torch.div)
add_case("div_bcast", "div", [randn(2, 1, 3), away0(4, 1)], torch.div)
add_case("div_scalar", "div", [randn(2, 3)], lambda a: a / 4.0, scalar=4.0)
add_case("pow", "pow", [pos(3, 4), randn(3, 4)], torch.pow)
add_case("pow_bcast", "pow", [pos(3, 1), randn(4)], torch.pow)
a = randn(3, 4)
b = randn(3, 4)
b[0, 1] = a[0, 1]  # ties: the gradient is split evenly
b[2, 3] = a[2, 3]
add_case("maximum", "maximum", [a, b], torch.maximum)
add_case("maximum_bcast", "maximum", [randn(3, 1), randn(1, 4)], torch.maximum)
add_case("minimum", "minimum", [a, b], torch.minimum)
add_case("minimum_bcast", "minimum", [randn(2, 3), randn(3)], torch.minimum)
cond = torch.rand(3, 4) > 0.5
add_case("where", "where", [cond, randn(3, 4), randn(3, 4)], torch.where)
add_case("where_bcast", "where", [torch.rand(3, 1) > 0.5, randn(1, 4), randn(3, 4)], torch.where)
add_case("where_scalar", "where", [cond, randn(3, 4)], lambda c, x: torch.where(c, x, -0.5),
         scalar=-0.5)
add_case("clamp", "clamp", [randn(4, 5)], lambda x: torch.clamp(x, -0.5, 0.7), min=-0.5, max=0.7)
add_case("clamp_min", "clamp", [randn(4, 5)], lambda x: torch.clamp(x, min=-0.3), min=-0.3,
         max=None)
add_case("clamp_max", "clamp", [randn(4, 5)], lambda x: torch.clamp(x, max=0.2), min=None,
         max=0.2)
add_case("masked_fill", "masked_fill", [randn(3, 4), torch.rand(3, 4) > 0.5],
         lambda x, m: x.masked_fill(m, 2.5), value=2.5)
add_case("masked_fill_bcast", "masked_fill", [randn(3, 4), torch.rand(4) > 0.5],
         lambda x, m: x.masked_fill(m, -1.0), value=-1.0)

# ---- reductions ----------------------------------------------------------------------


def reduce_cases(op, fn, gen=randn):
    x = gen(2, 3, 4)
    add_case(op + "_all", op, [x], lambda t: fn(t, None, False), dims=[], keepdim=False)
    add_case(op + "_d1", op, [x], lambda t: fn(t, [1], False), dims=[1], keepdim=False)
    add_case(op + "_d1_keep", op, [x], lambda t: fn(t, [1], True), dims=[1], keepdim=True)
    add_case(op + "_dneg1", op, [x], lambda t: fn(t, [-1], False), dims=[-1], keepdim=False)
    add_case(op + "_d02_keep", op, [x], lambda t: fn(t, [0, 2], True), dims=[0, 2], keepdim=True)
    add_case(op + "_nc", op, [gen(4, 3)], lambda t: fn(t, [0], False), perms=[(1, 0)], dims=[0],
             keepdim=False)


def dims_or_all(t, dims):
    return list(range(t.dim())) if dims is None else dims


reduce_cases("sum", lambda t, d, k: t.sum() if d is None else t.sum(d, keepdim=k))
reduce_cases("mean", lambda t, d, k: t.mean() if d is None else t.mean(d, keepdim=k))
reduce_cases("amax", lambda t, d, k: torch.amax(t, dims_or_all(t, d), keepdim=k))
reduce_cases("amin", lambda t, d, k: torch.amin(t, dims_or_all(t, d), keepdim=k))
at = randn(2, 3)
at[0, 2] = at[0, 0]
at[1, 1] = at[1, 0] = at[1, :].max() + 0.5
add_case("amax_ties", "amax", [at], lambda t: torch.amax(t, [1]), dims=[1], keepdim=False)
add_case("amin_ties", "amin", [-at], lambda t: torch.amin(t, [1]), dims=[1], keepdim=False)
add_case("sum_0d", "sum", [randn()], lambda t: t.sum(), dims=[], keepdim=False)
add_case("sum_empty", "sum", [randn(0, 3)], lambda t: t.sum(0), dims=[0], keepdim=False)
add_case("mean_0d", "mean", [randn()], lambda t: t.mean(), dims=[], keepdim=False)

for tag, d, k in [("d0", 0, False), ("d1_keep", 1, True), ("dneg1", -1, False)]:
    add_case("prod_" + tag, "prod", [pos(3, 4, lo=0.6, hi=1.4) * torch.sign(randn(3, 4))],
             lambda t, d=d, k=k: torch.prod(t, d, keepdim=k), dim=d, keepdim=k)
add_case("prod_nc", "prod", [randn(4, 3)], lambda t: torch.prod(t, 1), perms=[(1, 0)], dim=1,
         keepdim=False)

for op, f in [("max_dim", torch.max), ("min_dim", torch.min)]:
    for tag, d, k in [("d0", 0, False), ("d1_keep", 1, True), ("dneg1", -1, False)]:
        add_case(op + "_" + tag, op, [randn(3, 4, 2)],
                 lambda t, d=d, k=k, f=f: tuple(f(t, d, keepdim=k)), dim=d, keepdim=k)
    add_case(op + "_nc", op, [randn(4, 3)], lambda t, f=f: tuple(f(t, 1)), perms=[(1, 0)], dim=1,
             keepdim=False)
add_case("max_all", "max_all", [randn(3, 4)], torch.max)
add_case("min_all", "min_all", [randn(3, 4)], torch.min)
mt = randn(3, 4)
mt[2, 1] = mt[0, 3] = mt.max() + 1.0
add_case("max_all_ties", "max_all", [mt], torch.max)
add_case("min_all_ties", "min_all", [-mt], torch.min)

for op, f in [("var", torch.var), ("std", torch.std)]:
    x = randn(3, 4, 5)
    for tag, d, u, k in [("all_unb", [], True, False), ("all_b", [], False, False),
                         ("d1_unb", [1], True, False), ("d1_b_keep", [1], False, True),
                         ("dneg1_unb_keep", [-1], True, True), ("d02_b", [0, 2], False, False)]:
        add_case(op + "_" + tag, op, [x],
                 lambda t, d=d, u=u, k=k, f=f: f(t, unbiased=u) if not d else
                 f(t, d, unbiased=u, keepdim=k), dims=d, unbiased=u, keepdim=k)
    add_case(op + "_nc", op, [randn(5, 3)], lambda t, f=f: f(t, [1], unbiased=True),
             perms=[(1, 0)], dims=[1], unbiased=True, keepdim=False)

x = randn(2, 3, 4) * 3
for tag, d, k in [("d1", [1], False), ("dneg1_keep", [-1], True), ("d02", [0, 2], False),
                  ("all", [0, 1, 2], False)]:
    add_case("logsumexp_" + tag, "logsumexp", [x],
             lambda t, d=d, k=k: torch.logsumexp(t, d, keepdim=k), dims=d, keepdim=k)
add_case("logsumexp_nc", "logsumexp", [randn(4, 3)], lambda t: torch.logsumexp(t, [1]),
         perms=[(1, 0)], dims=[1], keepdim=False)

x = away0(3, 4)
for tag, p, d, k in [("p2_all", 2.0, [], False), ("p2_d1", 2.0, [1], False),
                     ("p1_d0_keep", 1.0, [0], True), ("p3_dneg1", 3.0, [-1], False),
                     ("pinf_d1", math.inf, [1], False), ("pinf_all", math.inf, [], False)]:
    add_case("norm_" + tag, "norm", [x],
             lambda t, p=p, d=d, k=k: torch.norm(t, p) if not d else torch.norm(t, p, d, keepdim=k),
             p=("inf" if math.isinf(p) else p), dims=d, keepdim=k)
add_case("norm_nc", "norm", [randn(4, 3)], lambda t: torch.norm(t, 2.0, [0]), perms=[(1, 0)],
         p=2.0, dims=[0], keepdim=False)

# ---- linear algebra ---------------------------------------------------------------------
for tag, sa, sb in [("1d_1d", (4,), (4,)), ("2d_1d", (3, 4), (4,)), ("1d_2d", (4,), (4, 3)),
                    ("2d_2d", (3, 4), (4, 2)), ("3d_3d", (2, 3, 4), (2, 4, 5)),
                    ("3d_2d", (2, 3, 4), (4, 5)), ("2d_3d", (3, 4), (2, 4, 5)),
                    ("3d_1d", (2, 3, 4), (4,)), ("1d_3d", (4,), (2, 4, 3)),
                    ("bcast_batch", (2, 1, 3, 4), (5, 4, 2))]:
    add_case("matmul_" + tag, "matmul", [randn(*sa), randn(*sb)], torch.matmul)
add_case("matmul_nc", "matmul", [randn(4, 3), randn(5, 4)], torch.matmul, perms=[(1, 0), (1, 0)])
add_case("mm", "mm", [randn(3, 4), randn(4, 5)], torch.mm)
add_case("mm_nc", "mm", [randn(4, 3), randn(4, 5)], torch.mm, perms=[(1, 0), None])
add_case("mm_1xk", "mm", [randn(1, 4), randn(4, 1)], torch.mm)
add_case("bmm", "bmm", [randn(2, 3, 4), randn(2, 4, 5)], torch.bmm)
add_case("bmm_nc", "bmm", [randn(2, 4, 3), randn(5, 2, 4)], torch.bmm, perms=[(0, 2, 1), (1, 2, 0)])
F = torch.nn.functional
add_case("linear", "linear", [randn(3, 4), randn(5, 4), randn(5)], F.linear)
add_case("linear_nobias", "linear", [randn(3, 4), randn(5, 4)], F.linear)
add_case("linear_3d", "linear", [randn(2, 3, 4), randn(5, 4), randn(5)], F.linear)
add_case("linear_1d", "linear", [randn(4), randn(2, 4), randn(2)], F.linear)

# ---- shape and indexing ---------------------------------------------------------------------
add_case("cat_d0", "cat", [randn(2, 3), randn(4, 3)], lambda *t: torch.cat(t, 0), dim=0)
add_case("cat_dneg1", "cat", [randn(2, 3), randn(2, 1), randn(2, 2)], lambda *t: torch.cat(t, -1),
         dim=-1)
add_case("cat_nc", "cat", [randn(3, 2), randn(2, 4)], lambda *t: torch.cat(t, 1),
         perms=[(1, 0), None], dim=1)
add_case("cat_one", "cat", [randn(2, 3)], lambda *t: torch.cat(t, 1), dim=1)
add_case("stack_d0", "stack", [randn(2, 3), randn(2, 3)], lambda *t: torch.stack(t, 0), dim=0)
add_case("stack_d1", "stack", [randn(2, 3), randn(2, 3), randn(2, 3)], lambda *t: torch.stack(t, 1),
         dim=1)
add_case("stack_dneg1", "stack", [randn(2, 3), randn(3, 2)], lambda *t: torch.stack(t, -1),
         perms=[None, (1, 0)], dim=-1)
add_case("split_size", "split", [randn(7, 3)], lambda t: torch.split(t, 3, 0), split_size=3, dim=0)
add_case("split_sizes", "split", [randn(2, 6)], lambda t: torch.split(t, [1, 3, 2], -1),
         sizes=[1, 3, 2], dim=-1)
add_case("split_nc", "split", [randn(5, 2)], lambda t: torch.split(t, 2, 1), perms=[(1, 0)],
         split_size=2, dim=1)
add_case("chunk_7_3", "chunk", [randn(7, 2)], lambda t: torch.chunk(t, 3, 0), chunks=3, dim=0)
add_case("chunk_6_4", "chunk", [randn(2, 6)], lambda t: torch.chunk(t, 4, 1), chunks=4, dim=1)
add_case("chunk_even", "chunk", [randn(4, 3)], lambda t: torch.chunk(t, 2, -2), chunks=2, dim=-2)
add_case("index_select_d0", "index_select", [randn(4, 3), torch.tensor([3, 0, 3, 1])],
         lambda x, i: torch.index_select(x, 0, i), dim=0)
add_case("index_select_dneg1", "index_select", [randn(2, 5), torch.tensor([4, 4, 2])],
         lambda x, i: torch.index_select(x, -1, i), dim=-1)
add_case("index_select_nc", "index_select", [randn(5, 3), torch.tensor([1, 0])],
         lambda x, i: torch.index_select(x, 1, i), perms=[(1, 0), None], dim=1)
add_case("gather_d1", "gather", [randn(3, 4), torch.randint(0, 4, (3, 5))],
         lambda x, i: torch.gather(x, 1, i), dim=1)
add_case("gather_d0", "gather", [randn(3, 4), torch.randint(0, 3, (2, 4))],
         lambda x, i: torch.gather(x, 0, i), dim=0)
add_case("gather_nc", "gather", [randn(4, 3), torch.randint(0, 4, (3, 2))],
         lambda x, i: torch.gather(x, -1, i), perms=[(1, 0), None], dim=-1)
add_case("scatter_add_d0", "scatter_add", [randn(3, 4), torch.randint(0, 3, (5, 4)), randn(5, 4)],
         lambda x, i, s: torch.scatter_add(x, 0, i, s), dim=0)
add_case("scatter_add_d1", "scatter_add", [randn(3, 4), torch.randint(0, 4, (3, 2)), randn(3, 2)],
         lambda x, i, s: torch.scatter_add(x, 1, i, s), dim=1)
add_case("index_add_d0", "index_add", [randn(4, 3), torch.tensor([0, 2, 0]), randn(3, 3)],
         lambda x, i, s: torch.index_add(x, 0, i, s), dim=0, alpha=1.0)
add_case("index_add_alpha", "index_add", [randn(3, 4), torch.tensor([3, 3]), randn(3, 2)],
         lambda x, i, s: torch.index_add(x, -1, i, s, alpha=-0.5), dim=-1, alpha=-0.5)
add_case("softmax_d0", "softmax", [randn(3, 4) * 2], lambda x: torch.softmax(x, 0), dim=0)
add_case("softmax_dneg1", "softmax", [randn(2, 3, 4) * 2], lambda x: torch.softmax(x, -1), dim=-1)
add_case("softmax_d1_3d", "softmax", [randn(2, 3, 4)], lambda x: torch.softmax(x, 1), dim=1)
add_case("softmax_nc", "softmax", [randn(5, 3)], lambda x: torch.softmax(x, -1), perms=[(1, 0)],
         dim=-1)
add_case("softmax_large", "softmax", [randn(2, 4) * 30], lambda x: torch.softmax(x, -1), dim=-1)
add_case("log_softmax_d0", "log_softmax", [randn(3, 4) * 2], lambda x: torch.log_softmax(x, 0),
         dim=0)
add_case("log_softmax_dneg1", "log_softmax", [randn(2, 3, 4) * 2],
         lambda x: torch.log_softmax(x, -1), dim=-1)
add_case("log_softmax_nc", "log_softmax", [randn(5, 3)], lambda x: torch.log_softmax(x, -1),
         perms=[(1, 0)], dim=-1)
add_case("log_softmax_large", "log_softmax", [randn(2, 4) * 30],
         lambda x: torch.log_softmax(x, -1), dim=-1)

# ---- views and copies ----------------------------------------------------------------------
add_case("view", "view", [randn(2, 6)], lambda x: x.view(3, 4), shape=[3, 4])
add_case("view_infer", "view", [randn(2, 3, 4)], lambda x: x.view(-1, 4), shape=[-1, 4])
add_case("reshape", "reshape", [randn(2, 6)], lambda x: x.reshape(4, 3), shape=[4, 3])
add_case("reshape_nc", "reshape", [randn(3, 4)], lambda x: x.reshape(-1), perms=[(1, 0)],
         shape=[-1])
add_case("reshape_0d", "reshape", [randn(1, 1)], lambda x: x.reshape([]), shape=[])
add_case("permute", "permute", [randn(2, 3, 4)], lambda x: x.permute(2, 0, 1), dims=[2, 0, 1])
add_case("permute_neg", "permute", [randn(2, 3, 4)], lambda x: x.permute(-1, -3, -2),
         dims=[-1, -3, -2])
add_case("transpose", "transpose", [randn(2, 3, 4)], lambda x: x.transpose(0, 2), dim0=0, dim1=2)
add_case("transpose_neg", "transpose", [randn(2, 3, 4)], lambda x: x.transpose(-1, -2), dim0=-1,
         dim1=-2)
add_case("squeeze_all", "squeeze", [randn(2, 1, 3, 1)], lambda x: x.squeeze())
add_case("squeeze_dim", "squeeze", [randn(2, 1, 3, 1)], lambda x: x.squeeze(-1), dim=-1)
add_case("squeeze_noop", "squeeze", [randn(2, 3)], lambda x: x.squeeze(0), dim=0)
add_case("unsqueeze", "unsqueeze", [randn(2, 3)], lambda x: x.unsqueeze(1), dim=1)
add_case("unsqueeze_neg", "unsqueeze", [randn(2, 3)], lambda x: x.unsqueeze(-1), dim=-1)
add_case("unsqueeze_0d", "unsqueeze", [randn()], lambda x: x.unsqueeze(0), dim=0)
add_case("flatten_all", "flatten", [randn(2, 3, 4)], lambda x: x.flatten(), start_dim=0,
         end_dim=-1)
add_case("flatten_mid", "flatten", [randn(2, 3, 4, 2)], lambda x: x.flatten(1, 2), start_dim=1,
         end_dim=2)
add_case("flatten_nc", "flatten", [randn(3, 4)], lambda x: x.flatten(), perms=[(1, 0)],
         start_dim=0, end_dim=-1)
add_case("expand", "expand", [randn(3, 1)], lambda x: x.expand(3, 4), shape=[3, 4])
add_case("expand_new_dims", "expand", [randn(1, 3)], lambda x: x.expand(2, -1, 3),
         shape=[2, -1, 3])
add_case("expand_0d", "expand", [randn()], lambda x: x.expand(2, 3), shape=[2, 3])
add_case("narrow", "narrow", [randn(5, 3)], lambda x: x.narrow(0, 1, 3), dim=0, start=1, length=3)
add_case("narrow_neg", "narrow", [randn(2, 6)], lambda x: x.narrow(-1, 2, 2), dim=-1, start=2,
         length=2)


def slice_fn(dim, start, end, step):
    def f(x):
        idx = [slice(None)] * x.dim()
        idx[dim] = slice(start, end, step)
        return x[tuple(idx)]
    return f


for tag, d, s, e, st in [("basic", 0, 1, 4, 1), ("step", 1, 0, 7, 2), ("neg", 1, -4, -1, 1),
                         ("clamped", 0, 2, 100, 1), ("step3", -1, 1, 100, 3)]:
    add_case("slice_" + tag, "slice", [randn(5, 7)], slice_fn(d, s, e, st), dim=d, start=s, end=e,
             step=st)
add_case("select", "select", [randn(3, 4)], lambda x: x.select(1, 2), dim=1, index=2)
add_case("select_neg", "select", [randn(3, 4, 2)], lambda x: x.select(-2, -1), dim=-2, index=-1)
add_case("select_1d", "select", [randn(4)], lambda x: x.select(0, 1), dim=0, index=1)
add_case("contiguous", "contiguous", [randn(3, 4)], lambda x: x.contiguous())
add_case("contiguous_nc", "contiguous", [randn(3, 4, 2)], lambda x: x.contiguous(),
         perms=[(2, 0, 1)])
add_case("clone", "clone", [randn(3, 4)], lambda x: x.clone())
add_case("clone_nc", "clone", [randn(4, 3)], lambda x: x.clone(), perms=[(1, 0)])
add_case("to_dtype_f32", "to_dtype", [randn(3, 4)], lambda x: x.to(torch.float32), dtype="f32")
add_case("to_dtype_f64", "to_dtype", [randn(3, 4)], lambda x: x.to(torch.float64), dtype="f64")

# ---- write -------------------------------------------------------------------------------

ST_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int32: "I32",
             torch.int64: "I64", torch.uint8: "U8", torch.bool: "BOOL"}


def write_safetensors(path, tensors, metadata):
    """The safetensors layout: u64 LE header length, JSON header padded with
    spaces to a multiple of 8, then each tensor's bytes in header order."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        raw = t.numpy().tobytes() if t.numel() else b""
        assert len(raw) == t.numel() * t.element_size()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), sort_keys=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "tests", "fixtures", "ops_parity.safetensors")
    out = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default)
    tensors, metadata = {}, {}
    for name, meta, ins, outs, ws, grads, multi in CASES:
        metadata[name] = json.dumps(meta, sort_keys=True, separators=(",", ":"))
        for i, t in enumerate(ins):
            tensors[f"{name}.in{i}"] = t
        for k, (o, w) in enumerate(zip(outs, ws)):
            suffix = str(k) if multi else ""
            tensors[f"{name}.out{suffix}"] = o
            if w is not None:
                tensors[f"{name}.w{suffix}"] = w
        for i, g in enumerate(grads):
            if g is not None:
                tensors[f"{name}.grad{i}"] = g
    metadata["__format__"] = "galen ops parity v1; torch " + torch.__version__
    write_safetensors(out, tensors, metadata)
    ops = sorted({m["op"] for _, m, *_ in CASES})
    print(f"wrote {out}: {len(CASES)} cases, {len(ops)} ops, {len(tensors)} tensors, "
          f"{os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
