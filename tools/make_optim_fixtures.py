#!/usr/bin/python3
"""Generates tests/fixtures/optim_parity.safetensors: torch.optim (1.13) trajectories
and LR-scheduler sequences that galen's optim/ must reproduce.

Run with Debian's python and torch (no pip packages needed):
    /usr/bin/python3 tools/make_optim_fixtures.py [output-path]

Optimizer case <c> (f64), two parameters p0 (3, 4) and p1 (5):
  <c>.p<j>.init    initial value
  <c>.p<j>.grads   (10, *shape): the gradient set before step k
  <c>.p<j>.traj    (10, *shape): the parameter after step k
  __metadata__[<c>] = JSON {"kind": "optimizer", "optimizer": "SGD|Adam|AdamW|RMSprop|Adagrad",
      "groups": [{"params": [j...], <galen option name>: value, ...}, ...]}
  (galen's option names: lr, momentum, dampening, weight_decay, nesterov, beta1, beta2,
  eps, amsgrad, alpha, centered, lr_decay, initial_accumulator_value; booleans 0/1.)
  In the "skip" case p1 has no gradient at steps 3 and 7 (grads row is NaN there).
Scheduler case <s>:
  <s>.lrs          (31, groups): lr after construction and after each of 30 steps
  <s>.momentum     (31, groups): OneCycleLR with cycle_momentum only
  <s>.metrics      (30): ReduceLROnPlateau's metric sequence
  __metadata__[<s>] = JSON {"kind": "scheduler", "scheduler": ..., "optimizer": ...,
      "lrs": [initial lr per group], parameters...}
"""

import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import write_safetensors  # noqa: E402

torch.manual_seed(424242)
F64 = torch.float64
STEPS = 10
TENSORS = {}
META = {}

TORCH_NAMES = {"lr": "lr", "momentum": "momentum", "dampening": "dampening",
               "weight_decay": "weight_decay", "eps": "eps", "alpha": "alpha",
               "lr_decay": "lr_decay", "initial_accumulator_value": "initial_accumulator_value"}
BOOLS = {"nesterov", "amsgrad", "centered"}


def torch_group(opts):
    kw = {}
    for k, v in opts.items():
        if k == "params":
            continue
        if k in BOOLS:
            kw[k] = bool(v)
        elif k in ("beta1", "beta2"):
            b = kw.get("betas", [0.9, 0.999])
            b[0 if k == "beta1" else 1] = v
            kw["betas"] = b
        else:
            kw[TORCH_NAMES[k]] = v
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    return kw


def optim_case(name, optimizer, groups, skip=None):
    """groups: list of dicts with "params" (indices) and galen option names."""
    assert name not in META
    shapes = [(3, 4), (5,)]
    init = [torch.randn(s, dtype=F64) for s in shapes]
    grads = [torch.randn((STEPS,) + s, dtype=F64) for s in shapes]
    if skip:
        for k in skip:
            grads[1][k] = float("nan")
    params = [t.clone().requires_grad_(True) for t in init]
    cls = getattr(torch.optim, optimizer)
    tgroups = [dict(params=[params[j] for j in g["params"]], **torch_group(g)) for g in groups]
    # Group 0's options double as the constructor defaults: torch's Adagrad reads
    # initial_accumulator_value from the constructor only (galen honours it per group).
    opt = cls(tgroups, **torch_group(groups[0]))
    traj = [torch.empty((STEPS,) + s, dtype=F64) for s in shapes]
    for k in range(STEPS):
        opt.zero_grad(set_to_none=True)
        for j, p in enumerate(params):
            if not torch.isnan(grads[j][k]).any():
                p.grad = grads[j][k].clone()
        opt.step()
        for j, p in enumerate(params):
            traj[j][k] = p.detach()
    for j in range(len(shapes)):
        TENSORS[f"{name}.p{j}.init"] = init[j]
        TENSORS[f"{name}.p{j}.grads"] = grads[j]
        TENSORS[f"{name}.p{j}.traj"] = traj[j]
    META[name] = json.dumps({"kind": "optimizer", "optimizer": optimizer, "groups": groups})


ALL = [0, 1]
# SGD
optim_case("sgd_plain", "SGD", [{"params": ALL, "lr": 0.1}])
optim_case("sgd_momentum", "SGD", [{"params": ALL, "lr": 0.05, "momentum": 0.9}])
optim_case("sgd_dampening_wd", "SGD", [{"params": ALL, "lr": 0.05, "momentum": 0.8, "dampening": 0.3,
                                        "weight_decay": 0.01}])
optim_case("sgd_nesterov_wd", "SGD", [{"params": ALL, "lr": 0.03, "momentum": 0.9, "nesterov": 1,
                                       "weight_decay": 0.1}])
optim_case("sgd_groups", "SGD", [{"params": [0], "lr": 0.1, "momentum": 0.5},
                                 {"params": [1], "lr": 0.01, "momentum": 0.9, "weight_decay": 0.2}])
optim_case("sgd_skip", "SGD", [{"params": ALL, "lr": 0.1, "momentum": 0.9}], skip=[3, 7])
# Adam / AdamW
optim_case("adam_default", "Adam", [{"params": ALL, "lr": 1e-3}])
optim_case("adam_betas_wd", "Adam", [{"params": ALL, "lr": 0.01, "beta1": 0.8, "beta2": 0.95,
                                      "eps": 1e-6, "weight_decay": 0.05}])
optim_case("adam_amsgrad", "Adam", [{"params": ALL, "lr": 0.02, "amsgrad": 1, "weight_decay": 0.01}])
optim_case("adam_skip", "Adam", [{"params": ALL, "lr": 0.01}], skip=[0, 5])
optim_case("adamw_default", "AdamW", [{"params": ALL, "lr": 1e-3, "weight_decay": 1e-2}])
optim_case("adamw_amsgrad", "AdamW", [{"params": ALL, "lr": 0.05, "weight_decay": 0.1, "amsgrad": 1,
                                       "beta1": 0.85}])
optim_case("adamw_groups", "AdamW", [{"params": [0], "lr": 0.01, "weight_decay": 0.0},
                                     {"params": [1], "lr": 0.003, "weight_decay": 0.3}])
# RMSprop
optim_case("rmsprop_default", "RMSprop", [{"params": ALL, "lr": 0.01}])
optim_case("rmsprop_momentum_wd", "RMSprop", [{"params": ALL, "lr": 0.01, "momentum": 0.9,
                                               "weight_decay": 0.05, "alpha": 0.9}])
optim_case("rmsprop_centered", "RMSprop", [{"params": ALL, "lr": 0.005, "centered": 1, "eps": 1e-6}])
optim_case("rmsprop_centered_momentum", "RMSprop", [{"params": ALL, "lr": 0.005, "centered": 1,
                                                     "momentum": 0.5, "weight_decay": 0.01}])
# Adagrad
optim_case("adagrad_default", "Adagrad", [{"params": ALL, "lr": 0.01}])
optim_case("adagrad_decay_wd", "Adagrad", [{"params": ALL, "lr": 0.1, "lr_decay": 0.05,
                                            "weight_decay": 0.1}])
optim_case("adagrad_init_acc", "Adagrad", [{"params": ALL, "lr": 0.05, "initial_accumulator_value": 0.5,
                                            "eps": 1e-8}])


# ---- schedulers ----------------------------------------------------------------------------
S = torch.optim.lr_scheduler
SCHED_STEPS = 30


def sched_case(name, make, lrs=(0.1,), optimizer="SGD", opt_kw=None, metrics=None,
               momentum_key=None, **meta):
    assert name not in META
    params = [torch.zeros(2, requires_grad=True) for _ in lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs)]
    opt = getattr(torch.optim, optimizer)(groups, **(opt_kw or {}))
    sched = make(opt)
    rows = [[g["lr"] for g in opt.param_groups]]
    moms = []

    def mom():
        if momentum_key == "beta1":
            return [g["betas"][0] for g in opt.param_groups]
        return [g["momentum"] for g in opt.param_groups]

    if momentum_key:
        moms.append(mom())
    for k in range(SCHED_STEPS):
        opt.step()
        if metrics is not None:
            sched.step(metrics[k])
        else:
            sched.step()
        rows.append([g["lr"] for g in opt.param_groups])
        if momentum_key:
            moms.append(mom())
    TENSORS[name + ".lrs"] = torch.tensor(rows, dtype=F64)
    if momentum_key:
        TENSORS[name + ".momentum"] = torch.tensor(moms, dtype=F64)
    if metrics is not None:
        TENSORS[name + ".metrics"] = torch.tensor(metrics, dtype=F64)
    m = {"kind": "scheduler", "optimizer": optimizer, "lrs": list(lrs)}
    m.update(meta)
    META[name] = json.dumps(m)


sched_case("step_lr", lambda o: S.StepLR(o, step_size=4, gamma=0.5), lrs=(0.1, 0.03),
           scheduler="StepLR", step_size=4, gamma=0.5)
sched_case("multistep_lr", lambda o: S.MultiStepLR(o, milestones=[3, 8, 8, 20], gamma=0.3),
           scheduler="MultiStepLR", milestones=[3, 8, 8, 20], gamma=0.3)
sched_case("exponential_lr", lambda o: S.ExponentialLR(o, gamma=0.9), lrs=(0.1, 1.0),
           scheduler="ExponentialLR", gamma=0.9)
sched_case("cosine_lr", lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001), lrs=(0.1, 0.05),
           scheduler="CosineAnnealingLR", T_max=10, eta_min=0.001)
sched_case("cosine_lr_long", lambda o: S.CosineAnnealingLR(o, T_max=40),
           scheduler="CosineAnnealingLR", T_max=40, eta_min=0.0)
sched_case("linear_lr", lambda o: S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=8),
           lrs=(0.1, 0.02), scheduler="LinearLR", start_factor=0.1, end_factor=1.0, total_iters=8)
sched_case("linear_lr_decay", lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.25, total_iters=12),
           scheduler="LinearLR", start_factor=1.0, end_factor=0.25, total_iters=12)
sched_case("onecycle_cos",
           lambda o: S.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=30, cycle_momentum=False),
           lrs=(0.1, 0.1), scheduler="OneCycleLR", max_lr=[0.5, 0.2], total_steps=30, pct_start=0.3,
           anneal="cos", div_factor=25.0, final_div_factor=1e4, cycle_momentum=0)
sched_case("onecycle_linear",
           lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=30, pct_start=0.25,
                                  anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0,
                                  cycle_momentum=False),
           scheduler="OneCycleLR", max_lr=[1.0], total_steps=30, pct_start=0.25, anneal="linear",
           div_factor=10.0, final_div_factor=100.0, cycle_momentum=0)
sched_case("onecycle_momentum_sgd",
           lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=30),
           optimizer="SGD", opt_kw={"momentum": 0.9}, momentum_key="momentum",
           scheduler="OneCycleLR", max_lr=[0.3], total_steps=30, pct_start=0.3, anneal="cos",
           div_factor=25.0, final_div_factor=1e4, cycle_momentum=1)
sched_case("onecycle_momentum_adam",
           lambda o: S.OneCycleLR(o, max_lr=0.01, total_steps=30, base_momentum=0.8,
                                  max_momentum=0.9),
           optimizer="Adam", momentum_key="beta1",
           scheduler="OneCycleLR", max_lr=[0.01], total_steps=30, pct_start=0.3, anneal="cos",
           div_factor=25.0, final_div_factor=1e4, cycle_momentum=1, base_momentum=0.8,
           max_momentum=0.9)

plateau_metrics = [1.0, 0.9, 0.8, 0.8, 0.8, 0.79999, 0.8, 0.81, 0.7, 0.7, 0.7, 0.7, 0.7, 0.69, 0.71,
                   0.72, 0.73, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4]
plateau_up = [0.1 * k - 0.01 * (k % 4 == 0) * k for k in range(30)]
sched_case("plateau_min_rel", lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=2),
           metrics=plateau_metrics, scheduler="ReduceLROnPlateau", mode="min", factor=0.5, patience=2,
           threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr=[0.0], eps=1e-8)
sched_case("plateau_min_abs_cooldown",
           lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.3, patience=1, threshold=0.05,
                                         threshold_mode="abs", cooldown=2, min_lr=[0.004, 0.001]),
           lrs=(0.1, 0.05), metrics=plateau_metrics, scheduler="ReduceLROnPlateau", mode="min",
           factor=0.3, patience=1, threshold=0.05, threshold_mode="abs", cooldown=2,
           min_lr=[0.004, 0.001], eps=1e-8)
sched_case("plateau_max_rel",
           lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.1, patience=0, threshold=0.1,
                                         min_lr=1e-5),
           metrics=plateau_up, scheduler="ReduceLROnPlateau", mode="max", factor=0.1, patience=0,
           threshold=0.1, threshold_mode="rel", cooldown=0, min_lr=[1e-5], eps=1e-8)
sched_case("plateau_eps",
           lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=0, eps=0.02),
           metrics=[1.0] * 30, scheduler="ReduceLROnPlateau", mode="min", factor=0.5, patience=0,
           threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr=[0.0], eps=0.02)


def main():
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                           "optim_parity.safetensors")
    out = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default)
    META["__generator__"] = "tools/make_optim_fixtures.py, torch " + torch.__version__
    write_safetensors(out, TENSORS, META)
    print(f"wrote {out}: {len(META) - 1} cases, {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
