#!/usr/bin/env python3
"""Generate ctnn's PyTorch training references under tests/data/reference/.

Usage (from anywhere; needs torch, e.g. Debian's interpreter):
    /usr/bin/python3 tools/make_training_reference.py [--out DIR]

Writes
  training_step.safetensors  three SGD steps of tools/reference_model/googlenet_seed.py's
                             GoogLeNet(num_classes=10, aux_logits=True), 224x224, batch 2, train mode
                             with every dropout disabled, every tensor and the input from the
                             reference initialisation (seed 5), labels [1, 0], objective
                             CE(main) + 0.3 CE(aux1) + 0.3 CE(aux2), torch.optim.SGD(lr 0.01,
                             momentum 0.9, weight_decay 1e-4), computed in FLOAT64: in float32
                             the run is not reproducible to 1e-4 (PyTorch's own float32 gradients
                             of the first layers differ from float64 by ~1e-2 after cancellation,
                             and the loss jumps to ~150 at step 2, amplifying every rounding), so
                             the exact comparison is double against double. Float64 entries:
      loss                     [4]: the objective before step 1 and after steps 1, 2, 3
      loss.main/.aux1/.aux2    [4]: its parts
      logits.main/.aux1/.aux2  the outputs of the first forward
      grad_checksum.<name>     [3]: sum, sum of squares, sum of |.| of the gradient of every
                               parameter after the first backward
      param_checksum.<name>    [3]: the same of the parameter after three steps
      update_checksum.<name>   [3]: the same of (after three steps - initial)
      grad.<name>, param.<name> full first gradient and final values of a few small tensors
                               (fc.*, aux1.fc2.*, conv1.conv.bias)
    and from the same run in float32, for judging a float32 implementation:
      float32.loss*            [4] as above
      float32.grad_checksum.<name> [3] as above
      float32.grad_error.<name> [1]: max |g32 - g64| / max |g64| of PyTorch's float32 gradient
  optimizers.safetensors     torch.optim on one 64-element parameter for 5 steps with fixed
                             gradients (reference initialisation seed 9: "optim.param",
                             "optim.grad<k>"): "<case>.params" [5, 64] float32 after each step, for
                             SGD / Adam / AdamW variants; "<schedule>.lr" float64 learning rates
                             after each scheduler.step() for StepLR and CosineAnnealingLR.
and prints the float32-vs-float64 noise floor of the training step.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS_DIR)

import ctnn_reference as ref  # noqa: E402
from make_reference_data import DropoutDisabled  # noqa: E402
from reference_model import googlenet_seed as gs  # noqa: E402

SEED = 5
CLASSES = 10
LABELS = [1, 0]
AUX_WEIGHT = 0.3
SGD_OPTIONS = {"lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4}
STEPS = 3
FULL_TENSORS = ["fc.weight", "fc.bias", "aux1.fc2.weight", "aux1.fc2.bias", "conv1.conv.bias"]


def checksum(t):
    a = t.detach().double()
    return np.array([float(a.sum()), float((a * a).sum()), float(a.abs().sum())], dtype=np.float64)


def training_run(dtype):
    """The three SGD steps in `dtype`; returns everything the reference file stores."""
    model = gs.GoogLeNet(num_classes=CLASSES, aux_logits=True, init_weights=False)
    ref.init_module(model, SEED)
    model = model.to(dtype)
    x = torch.from_numpy(ref.reference_uniform("input", [2, 3, 224, 224], SEED).copy()).to(dtype)
    labels = torch.tensor(LABELS, dtype=torch.int64)
    initial = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), foreach=False, **SGD_OPTIONS)
    out = {"loss": [], "loss.main": [], "loss.aux1": [], "loss.aux2": []}
    model.train()
    with DropoutDisabled(model):
        for step in range(STEPS + 1):
            optimizer.zero_grad()
            main, aux2, aux1 = model(x)
            parts = [F.cross_entropy(main, labels), F.cross_entropy(aux1, labels),
                     F.cross_entropy(aux2, labels)]
            loss = parts[0] + AUX_WEIGHT * parts[1] + AUX_WEIGHT * parts[2]
            out["loss"].append(loss.item())
            for key, part in zip(["loss.main", "loss.aux1", "loss.aux2"], parts):
                out[key].append(part.item())
            if step == 0:
                out["logits"] = {"main": main.detach(), "aux1": aux1.detach(), "aux2": aux2.detach()}
            if step == STEPS:
                break
            loss.backward()
            if step == 0:
                out["grads"] = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
            optimizer.step()
    out["params"] = {name: p.detach().clone() for name, p in model.named_parameters()}
    out["initial"] = initial
    return out


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def make_training_step(out_dir, command):
    t0 = time.time()
    run = training_run(torch.float64)
    t1 = time.time()
    run32 = training_run(torch.float32)
    t2 = time.time()

    tensors = {}
    for key in ["loss", "loss.main", "loss.aux1", "loss.aux2"]:
        tensors[key] = np.array(run[key], dtype=np.float64)
        tensors[f"float32.{key}"] = np.array(run32[key], dtype=np.float64)
    for key, value in run["logits"].items():
        tensors[f"logits.{key}"] = value.numpy()
    noise = {"loss_step0": rel(run32["loss"][0], run["loss"][0]),
             "loss": max(rel(a, b) for a, b in zip(run32["loss"], run["loss"])),
             "grad_max": 0.0, "grad_sum_vs_sum_abs": 0.0, "grad_sumsq": 0.0,
             "update_sum_vs_sum_abs": 0.0, "update_sumsq": 0.0}
    for name, grad in run["grads"].items():
        param = run["params"][name]
        update = param - run["initial"][name]
        tensors[f"grad_checksum.{name}"] = checksum(grad)
        tensors[f"param_checksum.{name}"] = checksum(param)
        tensors[f"update_checksum.{name}"] = checksum(update)
        if name in FULL_TENSORS:
            tensors[f"grad.{name}"] = grad.numpy()
            tensors[f"param.{name}"] = param.numpy()
        grad32 = run32["grads"][name]
        tensors[f"float32.grad_checksum.{name}"] = checksum(grad32)
        # PyTorch float32's own error: max |g32 - g64| / max |g64|, per tensor.
        grad_error = float((grad32.double() - grad).abs().max() / grad.abs().max())
        tensors[f"float32.grad_error.{name}"] = np.array([grad_error], dtype=np.float64)
        g32, g64 = checksum(grad32), checksum(grad)
        u32 = checksum(run32["params"][name].double() - run32["initial"][name].double())
        u64 = checksum(update)
        noise["grad_max"] = max(noise["grad_max"], grad_error)
        noise["grad_sum_vs_sum_abs"] = max(noise["grad_sum_vs_sum_abs"], abs(g32[0] - g64[0]) / g64[2])
        noise["grad_sumsq"] = max(noise["grad_sumsq"], rel(g32[1], g64[1]))
        noise["update_sum_vs_sum_abs"] = max(noise["update_sum_vs_sum_abs"], abs(u32[0] - u64[0]) / u64[2])
        noise["update_sumsq"] = max(noise["update_sumsq"], rel(u32[1], u64[1]))

    metadata = {
        "generator": "tools/make_training_reference.py", "command": command,
        "torch_version": torch.__version__, "numpy_version": np.__version__,
        "model": f"googlenet_seed.GoogLeNet(num_classes={CLASSES}, aux_logits=True), init_module seed {SEED}",
        "input": f"reference_uniform('input', [2, 3, 224, 224], {SEED})",
        "labels": json.dumps(LABELS),
        "mode": "train, every nn.Dropout p=0 and googlenet_seed.F.dropout the identity",
        "objective": f"CE(main) + {AUX_WEIGHT} CE(aux1) + {AUX_WEIGHT} CE(aux2), mean over the batch",
        "optimizer": "torch.optim.SGD(" + ", ".join(f"{k}={v}" for k, v in SGD_OPTIONS.items()) + ")",
        "steps": str(STEPS),
        "precision": "float64 (model.double()); float32.* entries come from the same run in float32",
        "parameter_order": json.dumps(list(run["grads"].keys())),
        "noise_floor_f32_vs_f64": json.dumps(noise),
    }
    path = os.path.join(out_dir, "training_step.safetensors")
    ref.write_safetensors(path, tensors, metadata)
    print(f"training_step: float64 run {t1 - t0:.1f} s, float32 run {t2 - t1:.1f} s")
    print("  losses (float64):", ", ".join(f"{v:.9f}" for v in run["loss"]))
    print("  losses (float32):", ", ".join(f"{v:.9f}" for v in run32["loss"]))
    print("  PyTorch float32 vs float64:", ", ".join(f"{k} {v:.2e}" for k, v in noise.items()))
    return path


# --------------------------------------------------------------------------------------------------
# Optimizers and schedules on one small parameter
# --------------------------------------------------------------------------------------------------

OPTIM_SEED = 9
OPTIM_SIZE = 64
OPTIM_STEPS = 5
OPTIMIZER_CASES = [
    ("sgd", torch.optim.SGD, {"lr": 0.1}),
    ("sgd_momentum", torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    ("sgd_dampening", torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    ("sgd_nesterov", torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01, "nesterov": True}),
    ("adam", torch.optim.Adam, {"lr": 0.01}),
    ("adam_weight_decay", torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("adam_amsgrad", torch.optim.Adam, {"lr": 0.01, "amsgrad": True}),
    ("adamw", torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
    ("adamw_amsgrad", torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]
SCHEDULE_CASES = [
    ("step_lr", lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), 0.1, 10),
    ("cosine", lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.001), 0.1, 13),
    ("cosine_no_min", lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7), 0.05, 20),
]


def make_optimizers(out_dir, command):
    tensors, metadata = {}, {"generator": "tools/make_training_reference.py", "command": command,
                             "torch_version": torch.__version__}
    p0 = ref.reference_uniform("optim.param", [OPTIM_SIZE], OPTIM_SEED)
    grads = [ref.reference_uniform(f"optim.grad{k}", [OPTIM_SIZE], OPTIM_SEED) for k in range(OPTIM_STEPS)]
    for case, cls, options in OPTIMIZER_CASES:
        param = torch.nn.Parameter(torch.from_numpy(p0.copy()))
        optimizer = cls([param], foreach=False, **options)
        history = []
        for g in grads:
            param.grad = torch.from_numpy(g.copy())
            optimizer.step()
            history.append(param.detach().numpy().copy())
        tensors[f"{case}.params"] = np.stack(history).astype(np.float32)
        metadata[f"case.{case}"] = f"{cls.__name__}({json.dumps(options)})"
    for case, make, base_lr, epochs in SCHEDULE_CASES:
        param = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([param], lr=base_lr)
        scheduler = make(optimizer)
        lrs = []
        for _ in range(epochs):
            optimizer.step()
            scheduler.step()
            lrs.append(scheduler.get_last_lr()[0])
        tensors[f"{case}.lr"] = np.array(lrs, dtype=np.float64)
        metadata[f"schedule.{case}"] = f"base lr {base_lr}: {scheduler.__class__.__name__}, {epochs} steps"
    path = os.path.join(out_dir, "optimizers.safetensors")
    ref.write_safetensors(path, tensors, metadata)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(TOOLS_DIR), "tests", "data",
                                                      "reference"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    command = "python3 tools/make_training_reference.py"
    torch.manual_seed(0)  # nothing random is used; this only guards against surprises
    paths = [make_training_step(args.out, command), make_optimizers(args.out, command)]
    print("files:")
    for p in paths:
        print(f"  {os.path.relpath(p)}  {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main()
