#!/usr/bin/python3
"""Generates tests/fixtures/gnn_parity.safetensors: reference values for galen's
graph primitives (core/graph_ops.h) and GNN layers (layers/gnn.h), replayed by
tests/layers/test_gnn.cpp.

PyTorch Geometric is not installed (and not needed): the reference formulas of
PyG's layers are written out below in plain torch with index_select / index_add /
scatter_reduce, following PyG's documented definitions and its source's
conventions (source_to_target flow, gcn_norm with add_remaining_self_loops, GAT's
remove-then-add self-loops, torch_geometric.utils.softmax, NNConv's per-edge
matrices). Parameter names are PyG's.

Run with Debian's python and torch (no pip packages needed):
    /usr/bin/python3 tools/make_gnn_fixtures.py [output-path]

Layout (f64 floating tensors, I64 indices):
  graph.x (N, F), graph.edge_index (2, E), graph.edge_attr (E, D),
  graph.edge_weight (E), graph.batch (N)       the shared test graph (see below)
  <c>.in<i>, <c>.out, <c>.w, <c>.grad<i>     primitive cases (index: <c>.index)
  <c>.p.<key>     a layer's parameters / buffers (state_dict keys)
  <c>.out, <c>.w  output, fixed random weight of its shape
  <c>.gx / <c>.gea / <c>.gew   d sum(out*w) / d x, edge_attr, edge_weight
  <c>.g.<key>     d sum(out*w) / d parameter <key>
  __metadata__[<c>] = JSON {"op"|"layer": ..., args}
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import write_safetensors  # noqa: E402  (the shared safetensors writer)

torch.manual_seed(2024)
F64 = torch.float64
TENSORS, META = {}, {}


def randn(*shape):
    return torch.randn(shape, dtype=F64)


# ---- reference primitives ------------------------------------------------------------------
def scatter_sum(src, index, n):
    return torch.zeros((n,) + tuple(src.shape[1:]), dtype=src.dtype).index_add(0, index, src)


def scatter_mean(src, index, n):
    s = scatter_sum(src, index, n)
    cnt = torch.zeros(n, dtype=src.dtype).index_add(0, index, torch.ones(len(index), dtype=src.dtype))
    return s / cnt.clamp(min=1).view((-1,) + (1,) * (src.dim() - 1))


def expand_index(index, src):
    return index.view((-1,) + (1,) * (src.dim() - 1)).expand_as(src)


def scatter_max(src, index, n):
    # include_self=False: empty segments keep the 0 they start with (PyG's rule).
    base = torch.zeros((n,) + tuple(src.shape[1:]), dtype=src.dtype)
    return base.scatter_reduce(0, expand_index(index, src), src, "amax", include_self=False)


def segment_softmax(src, index, n):
    m = torch.full((n,) + tuple(src.shape[1:]), float("-inf"), dtype=src.dtype)
    m = m.scatter_reduce(0, expand_index(index, src), src.detach(), "amax", include_self=True)
    e = (src - m[index]).exp()
    return e / scatter_sum(e, index, n)[index]


# ---- primitive cases -------------------------------------------------------------------------
def prim_case(name, op, fn, inputs, index, **params):
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    w = randn(*out.shape)
    grads = torch.autograd.grad((out * w).sum(), leaves)
    for i, (t, g) in enumerate(zip(inputs, grads)):
        TENSORS[f"{name}.in{i}"] = t.detach().clone()
        TENSORS[f"{name}.grad{i}"] = g
    TENSORS[f"{name}.index"] = index
    TENSORS[f"{name}.out"] = out.detach()
    TENSORS[f"{name}.w"] = w
    META[name] = json.dumps(dict(op=op, **params), sort_keys=True, separators=(",", ":"))


# 10 rows into 7 segments: segments 1 and 5 empty, duplicates, unsorted.
idx = torch.tensor([3, 0, 6, 3, 2, 0, 4, 3, 6, 2])
prim_case("gather_rows_dup", "gather_rows", lambda x: x[idx], [randn(7, 4)], idx)
prim_case("gather_rows_3d", "gather_rows", lambda x: x[idx], [randn(7, 2, 3)], idx)
for op, fn in [("scatter_sum", scatter_sum), ("scatter_mean", scatter_mean), ("scatter_max", scatter_max)]:
    prim_case(f"{op}_2d", op, lambda s, fn=fn: fn(s, idx, 7), [randn(10, 4)], idx, dim_size=7)
    prim_case(f"{op}_3d", op, lambda s, fn=fn: fn(s, idx, 8), [randn(10, 2, 3)], idx, dim_size=8)
prim_case("segment_softmax_2d", "segment_softmax", lambda s: segment_softmax(s, idx, 7), [randn(10, 3) * 3], idx,
          dim_size=7)
prim_case("segment_softmax_1d", "segment_softmax", lambda s: segment_softmax(s, idx, 7), [randn(10) * 3], idx,
          dim_size=7)
# Large logits: the stable form must not overflow.
prim_case("segment_softmax_big", "segment_softmax", lambda s: segment_softmax(s, idx, 7), [randn(10, 2) * 300],
          idx, dim_size=7)

# ---- the test graph ----------------------------------------------------------------------------
# Four graphs: 0 = nodes 0..4 (node 4 isolated, a self-loop on 2, edge 0->1 twice),
# 1 = empty (no nodes), 2 = nodes 5..9 (a 5-cycle both ways plus 5->7), 3 = node 10 alone.
pairs = [(0, 1), (1, 0), (0, 1), (1, 2), (2, 1), (2, 3), (3, 2), (2, 2)]
for a, b in [(5, 6), (6, 7), (7, 8), (8, 9), (9, 5)]:
    pairs += [(a, b), (b, a)]
pairs.append((5, 7))
perm = torch.randperm(len(pairs))
edge_index = torch.tensor([pairs[i] for i in perm.tolist()]).t().contiguous()
N, E, FIN, D = 11, edge_index.shape[1], 5, 3
batch = torch.tensor([0] * 5 + [2] * 5 + [3])
NUM_GRAPHS = 4
gx = randn(N, FIN)
gea = randn(E, D)
gew = torch.rand(E, dtype=F64) + 0.5
TENSORS["graph.x"] = gx
TENSORS["graph.edge_index"] = edge_index
TENSORS["graph.edge_attr"] = gea
TENSORS["graph.edge_weight"] = gew
TENSORS["graph.batch"] = batch
ROW, COL = edge_index[0], edge_index[1]


def add_remaining_self_loops(ei, w, n, fill=1.0):
    row, col = ei
    mask = row != col
    if w is None:
        w = torch.ones(ei.shape[1], dtype=F64)
    loop_w = torch.full((n,), fill, dtype=F64)
    inv = ~mask
    loop_w = loop_w.index_put((row[inv],), w[inv])
    loops = torch.arange(n)
    return torch.stack([torch.cat([row[mask], loops]), torch.cat([col[mask], loops])]), torch.cat([w[mask], loop_w])


def add_self_loops(ei, n):
    row, col = ei
    mask = row != col
    loops = torch.arange(n)
    return torch.stack([torch.cat([row[mask], loops]), torch.cat([col[mask], loops])])


class Params:
    """Named parameters of one layer case (fixed random values, PyG names)."""

    def __init__(self):
        self.p = {}

    def __call__(self, key, *shape, scale=0.5):
        t = (randn(*shape) * scale).requires_grad_(True)
        self.p[key] = t
        return t


def lin(x, P, key, fin, fout, bias=True):
    W = P(key + ".weight", fout, fin)
    out = x @ W.t()
    if bias:
        out = out + P(key + ".bias", fout)
    return out


def mlp(x, P, key, dims):
    """Sequential(Linear, ReLU, Linear, ...) named <key>.0, <key>.2, ..."""
    for k in range(len(dims) - 1):
        x = lin(x, P, f"{key}.{2 * k}", dims[k], dims[k + 1])
        if k < len(dims) - 2:
            x = x.relu()
    return x


def layer_case(name, layer, fn, use_ea=False, use_ew=False, buffers=None, **args):
    P = Params()
    x = gx.clone().requires_grad_(True)
    ea = gea.clone().requires_grad_(True)
    ew = gew.clone().requires_grad_(True)
    out = fn(x, ea if use_ea else None, ew if use_ew else None, P)
    w = randn(*out.shape)
    (out * w).sum().backward()
    TENSORS[f"{name}.out"] = out.detach()
    TENSORS[f"{name}.w"] = w
    TENSORS[f"{name}.gx"] = x.grad
    if use_ea:
        TENSORS[f"{name}.gea"] = ea.grad
    if use_ew:
        TENSORS[f"{name}.gew"] = ew.grad
    for k, t in P.p.items():
        TENSORS[f"{name}.p.{k}"] = t.detach()
        TENSORS[f"{name}.g.{k}"] = t.grad if t.grad is not None else torch.zeros_like(t)
    for k, t in (buffers or {}).items():
        TENSORS[f"{name}.p.{k}"] = t
    META[name] = json.dumps(dict(layer=layer, use_edge_attr=use_ea, use_edge_weight=use_ew, **args),
                            sort_keys=True, separators=(",", ":"))


# GCNConv: x' = D^-1/2 (A+I) D^-1/2 x Θᵀ + b   (PyG gcn_norm: degree on the target)
def gcn(x, ea, ew, P, fout=6, loops=True, normalize=True):
    ei, w = (add_remaining_self_loops(edge_index, ew, N) if loops
             else (edge_index, ew if ew is not None else torch.ones(E, dtype=F64)))
    row, col = ei
    if normalize:
        deg = scatter_sum(w, col, N)
        dinv = deg.pow(-0.5)
        dinv = dinv.masked_fill(dinv == float("inf"), 0)
        w = dinv[row] * w * dinv[col]
    h = x @ P("lin.weight", fout, FIN).t()
    return scatter_sum(h[row] * w.view(-1, 1), col, N) + P("bias", fout)


layer_case("gcn", "GCNConv", gcn, out_channels=6)
layer_case("gcn_weighted", "GCNConv", gcn, use_ew=True, out_channels=6)
layer_case("gcn_noloops", "GCNConv", lambda *a: gcn(*a, loops=False), use_ew=True, out_channels=6,
           add_self_loops=False)


# GraphConv: x_i' = Θ1 x_i + Θ2 aggr_j w_ji x_j
def graphconv(x, ea, ew, P, aggr="add"):
    msg = x[ROW] if ew is None else x[ROW] * ew.view(-1, 1)
    agg = {"add": scatter_sum, "mean": scatter_mean, "max": scatter_max}[aggr](msg, COL, N)
    return lin(agg, P, "lin_rel", FIN, 6) + lin(x, P, "lin_root", FIN, 6, bias=False)


layer_case("graphconv_add_w", "GraphConv", graphconv, use_ew=True, out_channels=6, aggr="add")
layer_case("graphconv_mean", "GraphConv", lambda *a: graphconv(*a, aggr="mean"), out_channels=6, aggr="mean")
layer_case("graphconv_max", "GraphConv", lambda *a: graphconv(*a, aggr="max"), out_channels=6, aggr="max")


# SAGEConv: x_i' = W1 x_i + W2 mean_j x_j
def sage(x, ea, ew, P, normalize=False):
    out = lin(scatter_mean(x[ROW], COL, N), P, "lin_l", FIN, 6) + lin(x, P, "lin_r", FIN, 6, bias=False)
    return F.normalize(out, p=2.0, dim=-1) if normalize else out


layer_case("sage", "SAGEConv", sage, out_channels=6)
layer_case("sage_norm", "SAGEConv", lambda *a: sage(*a, normalize=True), out_channels=6, normalize=True)


# GINConv: h((1+eps) x_i + sum_j x_j), h = Linear(5,8) ReLU Linear(8,6)
def gin(x, ea, ew, P, train_eps=True):
    eps = P("eps", 1, scale=0.3) if train_eps else torch.tensor([0.25], dtype=F64)
    return mlp((1 + eps) * x + scatter_sum(x[ROW], COL, N), P, "nn", [FIN, 8, 6])


layer_case("gin_train_eps", "GINConv", gin, train_eps=True)
layer_case("gin_fixed_eps", "GINConv", lambda *a: gin(*a, train_eps=False), train_eps=False, eps=0.25,
           buffers={"eps": torch.tensor([0.25], dtype=F64)})


# GINEConv: h((1+eps) x_i + sum_j relu(x_j + lin(e_ji)))
def gine(x, ea, ew, P):
    e = lin(ea, P, "lin", D, FIN)
    msg = (x[ROW] + e).relu()
    return mlp((1 + 0.1) * x + scatter_sum(msg, COL, N), P, "nn", [FIN, 8, 6])


layer_case("gine", "GINEConv", gine, use_ea=True, eps=0.1, edge_dim=D,
           buffers={"eps": torch.tensor([0.1], dtype=F64)})


# GATConv (H heads of C), LeakyReLU 0.2, softmax over each target's incoming edges
def gat(x, ea, ew, P, H=2, C=3, concat=True):
    ei = add_self_loops(edge_index, N)
    row, col = ei
    h = (x @ P("lin.weight", H * C, FIN).t()).view(N, H, C)
    a_src = (h * P("att_src", 1, H, C)).sum(-1)
    a_dst = (h * P("att_dst", 1, H, C)).sum(-1)
    alpha = F.leaky_relu(a_src[row] + a_dst[col], 0.2)
    alpha = segment_softmax(alpha, col, N)
    out = scatter_sum(h[row] * alpha.unsqueeze(-1), col, N)
    out = out.reshape(N, H * C) if concat else out.mean(1)
    return out + P("bias", H * C if concat else C)


layer_case("gat_concat", "GATConv", gat, out_channels=3, heads=2, concat=True)
layer_case("gat_mean", "GATConv", lambda *a: gat(*a, concat=False), out_channels=3, heads=2, concat=False)
layer_case("gat_1head", "GATConv", lambda *a: gat(*a, H=1, C=4), out_channels=4, heads=1, concat=True)


# NNConv: x_i' = Θ x_i + aggr_j x_j · h(e_ji) + b, h = Linear(D,6) ReLU Linear(6, FIN*4)
def nnconv(x, ea, ew, P, aggr="add"):
    W = mlp(ea, P, "nn", [D, 6, FIN * 4]).view(E, FIN, 4)
    msg = torch.bmm(x[ROW].unsqueeze(1), W).squeeze(1)
    agg = scatter_sum(msg, COL, N) if aggr == "add" else scatter_mean(msg, COL, N)
    return agg + x @ P("lin.weight", 4, FIN).t() + P("bias", 4)


layer_case("nnconv_add", "NNConv", nnconv, use_ea=True, out_channels=4, aggr="add")
layer_case("nnconv_mean", "NNConv", lambda *a: nnconv(*a, aggr="mean"), use_ea=True, out_channels=4, aggr="mean")

# Readout over the batch (graph 1 and graph 3's neighbours: empty graph 1 gives 0).
layer_case("pool_add", "global_add_pool", lambda x, ea, ew, P: scatter_sum(x, batch, NUM_GRAPHS))
layer_case("pool_mean", "global_mean_pool", lambda x, ea, ew, P: scatter_mean(x, batch, NUM_GRAPHS))
layer_case("pool_max", "global_max_pool", lambda x, ea, ew, P: scatter_max(x, batch, NUM_GRAPHS))


def global_attention(x, ea, ew, P):
    gate = lin(x, P, "gate_nn", FIN, 1)
    h = lin(x, P, "nn", FIN, 4)
    return scatter_sum(segment_softmax(gate, batch, NUM_GRAPHS) * h, batch, NUM_GRAPHS)


layer_case("global_attention", "GlobalAttention", global_attention)


def main():
    default = os.path.join(HERE, "..", "tests", "fixtures", "gnn_parity.safetensors")
    out = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default)
    META["__format__"] = json.dumps({"version": 1, "torch": torch.__version__, "num_graphs": NUM_GRAPHS})
    write_safetensors(out, TENSORS, META)
    print(f"wrote {out}: {len([k for k in META if not k.startswith('__')])} cases, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
