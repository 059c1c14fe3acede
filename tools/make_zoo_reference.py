#!/usr/bin/env python3
"""Generate the PyTorch reference data of ctnn's model zoo (ctnn::ResNet18, ResNet50, MobileNetV2).

Usage (from anywhere; needs torch 1.13 and torchvision 0.14, e.g. Debian's interpreter):
    /usr/bin/python3 tools/make_zoo_reference.py [--out DIR]

Writes tests/data/reference/zoo.safetensors (every tensor float32). For each model of
torchvision.models -- resnet18, resnet50, mobilenet_v2, 1000 classes -- with every parameter and
buffer from the reference initialisation (seed 7: random weights and batch-norm running statistics,
running_var in [0.5, 1.5)), on the input reference_uniform("input", [2, 3, 224, 224], 7):
  <model>.logits              evaluation mode
  <model>.logits.from_f64     the same computed in float64, rounded to float32
  <model>.int8_logits         evaluation mode after PyTorch's own post-training quantisation
                              (FX graph mode, quantized engine onednn: weights s8 per output
                              channel, symmetric; activations u8 per tensor from min-max
                              observers; calibrated on the same input). ctnn's int8 is held to
                              be no further from <model>.logits than this is.
  <model>.train_logits        training mode (batch norm with the batch's statistics; mobilenet_v2's
                              dropout switched off)
  <model>.train_step.<bn>.running_mean / running_var   (resnet18 only) the running statistics after
                              that training-mode forward
  metadata <model>.state_dict JSON [[name, shape], ...] of torchvision's state_dict
No weights or inputs are stored: C++ regenerates them (init::reference_uniform), so the file stays
small (the weights of resnet50 alone are 100 MB).
"""

import argparse
import copy
import json
import os
import sys

import numpy as np
import torch
import torchvision
from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver, QConfig, QConfigMapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS_DIR)

import ctnn_reference as ref  # noqa: E402
from make_torchvision_reference import f32, rel_err  # noqa: E402

SEED = 7
MODELS = ("resnet18", "resnet50", "mobilenet_v2")


def build(name, num_classes=1000):
    """torchvision's model `name`, untrained, every tensor from the reference initialisation."""
    model = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
    return ref.init_module(model, SEED)


def pytorch_int8(model, x):
    """`model` quantised by PyTorch after training, calibrated on x: the logits of x."""
    torch.backends.quantized.engine = "onednn"
    qconfig = QConfig(activation=MinMaxObserver.with_args(dtype=torch.quint8, reduce_range=False),
                      weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8,
                                                                qscheme=torch.per_channel_symmetric))
    prepared = prepare_fx(copy.deepcopy(model).eval(), QConfigMapping().set_global(qconfig), example_inputs=(x,))
    with torch.no_grad():
        prepared(x)
        return convert_fx(prepared)(x)


def normwise(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b.astype(np.float64)))


def make_zoo(out_dir, command):
    tensors = {}
    meta = {"generator": "tools/make_zoo_reference.py", "command": command, "torch_version": torch.__version__,
            "torchvision_version": torchvision.__version__, "numpy_version": np.__version__, "seed": str(SEED),
            "reference_init": "see include/ctnn/reference_init.hpp / tools/ctnn_reference.py"}
    x = torch.from_numpy(ref.reference_uniform("input", [2, 3, 224, 224], SEED).copy())
    noise = {}
    for name in MODELS:
        model = build(name)
        meta[name + ".state_dict"] = json.dumps([[k, list(v.shape)] for k, v in model.state_dict().items()],
                                                separators=(",", ":"))
        model.eval()
        with torch.no_grad():
            y32 = model(x)
            y64 = copy.deepcopy(model).double()(x.double())
        tensors[name + ".logits"] = f32(y32)
        tensors[name + ".logits.from_f64"] = y64.numpy().astype(np.float32)
        noise[name] = rel_err(y32.numpy(), y64.numpy())
        tensors[name + ".int8_logits"] = f32(pytorch_int8(model, x))
        int8_error = normwise(tensors[name + ".int8_logits"], tensors[name + ".logits"])
        model.train()
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        with torch.no_grad():
            tensors[name + ".train_logits"] = f32(model(x))
        if name == "resnet18":
            for key, value in model.state_dict().items():
                if key.endswith("running_mean") or key.endswith("running_var"):
                    tensors[f"{name}.train_step.{key}"] = f32(value)
        print(f"  {name:14s} logits {list(y32.shape)}, |logits| <= {float(y32.abs().max()):.3g}, "
              f"float32 vs float64 rel. max error {noise[name]:.3e}, "
              f"PyTorch's int8 normwise error {int8_error:.4f}")
    meta["noise_floor_f32_vs_f64"] = json.dumps(noise)
    path = os.path.join(out_dir, "zoo.safetensors")
    ref.write_safetensors(path, tensors, meta)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(TOOLS_DIR), "tests", "data", "reference"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)  # nothing random is used; this only guards against surprises
    path = make_zoo(args.out, "python3 tools/make_zoo_reference.py")
    print(f"  {os.path.relpath(path)}  {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
