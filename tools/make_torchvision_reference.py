#!/usr/bin/env python3
"""Generate the PyTorch reference data for ctnn::TorchvisionGoogLeNet and ctnn::BatchNorm.

Usage (from anywhere; needs torch 1.13 and torchvision 0.14, e.g. Debian's interpreter):
    /usr/bin/python3 tools/make_torchvision_reference.py [--out DIR]

Writes, under tests/data/reference/ (every tensor float32 unless said otherwise):
  torchvision_googlenet.safetensors
      logits                    torchvision.models.googlenet(weights=None, aux_logits=False,
                                init_weights=False, transform_input=False), every parameter and
                                buffer from the reference initialisation (seed 7), eval mode,
                                input reference_uniform("input", [2, 3, 224, 224], 7)
      logits_transform_input    the same with transform_input=True
      <name>.from_f64           the same computed in float64, rounded to float32
      train_step.<bn>.running_mean / running_var
                                the 'logits' model's batch-norm statistics after one
                                training-mode forward on the same input
      backward.<f32|f64>.<name> [4] float64: that training forward, then backward of 1/2000 per
                                logit (dropout off): sum, sum of squares, sum of |.| and one
                                projection of every parameter's gradient and of the input's
                                ("input"), PyTorch in float32 and in float64
      metadata state_dict, state_dict_aux_logits: JSON [[name, shape], ...] of torchvision's
                                state_dict without and with the aux heads
      No weights or inputs are stored: C++ regenerates them (init::reference_uniform).
  batchnorm_train.safetensors
      batchnorm_train.*         nn.BatchNorm2d(6, eps=0.001) in training mode, two steps:
                                input.0 -> output.0, input.1 -> output.1, then backward of
                                output.1 with output_gradient -> input_gradient, weight.grad,
                                bias.grad; the parameters and buffers as initialised under their
                                own names, and <buffer>.after for the buffers after both steps
                                (num_batches_tracked.after is I64)
      batchnorm_momentum.*      nn.BatchNorm2d(5, momentum=0.3) (eps 1e-5), one training step
      batchnorm_eval.*          nn.BatchNorm2d(6, eps=0.001) in eval mode (layers.safetensors'
                                "batchnorm" case): output and the backward of output_gradient
      inception_train.*         torchvision's Inception(8, 4, 3, 5, 2, 3, 2) (BasicConv2d with
                                batch norm), one training step and its backward: output,
                                input_gradient, <parameter>.grad, <buffer>.after
"""

import argparse
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.googlenet import Inception, googlenet

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS_DIR)

import ctnn_reference as ref  # noqa: E402

NETWORK_SEED = 7
LAYER_SEED = 1


def metadata(command):
    return {"generator": "tools/make_torchvision_reference.py", "command": command,
            "torch_version": torch.__version__, "torchvision_version": torchvision.__version__,
            "numpy_version": np.__version__,
            "reference_init": "see include/ctnn/reference_init.hpp / tools/ctnn_reference.py"}


def f32(t):
    return t.detach().numpy().astype(np.float32)


def rel_err(a, b):
    """max|a - b| / max|b| with b the float64 result."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# --------------------------------------------------------------------------------------------------
# Whole network
# --------------------------------------------------------------------------------------------------

def state_dict_listing(model):
    """[[name, shape], ...] of the model's state_dict, for the C++ test of tensor names."""
    return json.dumps([[k, list(v.shape)] for k, v in model.state_dict().items()], separators=(",", ":"))


def make_googlenet(out_dir, command):
    tensors, meta, noise = {}, metadata(command), {}
    x = torch.from_numpy(ref.reference_uniform("input", [2, 3, 224, 224], NETWORK_SEED).copy())
    for key, transform in (("logits", False), ("logits_transform_input", True)):
        model = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=transform)
        ref.init_module(model, NETWORK_SEED)
        model.eval()
        with torch.no_grad():
            y32 = model(x)
            y64 = copy.deepcopy(model).double()(x.double())
        tensors[key] = f32(y32)
        tensors[key + ".from_f64"] = y64.numpy().astype(np.float32)
        noise[key] = rel_err(y32.numpy(), y64.numpy())
        meta[key] = (f"torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False, "
                     f"transform_input={transform}), init_module seed {NETWORK_SEED}, eval, input = "
                     f"reference_uniform('input', [2,3,224,224], {NETWORK_SEED})")
        print(f"  {key:24s} {list(y32.shape)}  float32 vs float64 rel max error {noise[key]:.3e}")
        if not transform:
            meta["state_dict"] = state_dict_listing(model)
            # One training-mode forward: every batch norm normalises with the batch's statistics
            # and moves its running ones; dropout (only before fc) does not touch them.
            model.train()
            with torch.no_grad():
                model(x)
            for name, value in model.state_dict().items():
                if name.endswith("running_mean") or name.endswith("running_var"):
                    tensors["train_step." + name] = f32(value)
            meta["train_step.<name>"] = ("running_mean / running_var of every batch norm of the "
                                         "'logits' model after one training-mode forward on the same input")
    make_backward(tensors, meta, noise, x)
    with_aux = googlenet(weights=None, aux_logits=True, init_weights=False)
    meta["state_dict_aux_logits"] = state_dict_listing(with_aux)
    meta["noise_floor_f32_vs_f64"] = json.dumps(noise)
    path = os.path.join(out_dir, "torchvision_googlenet.safetensors")
    ref.write_safetensors(path, tensors, meta)
    return path


def gradient_summary(name, gradient):
    """[sum, sum of squares, sum of |.|, probe . g] of one gradient, in float64; the probe is
    reference_uniform("probe.<name>", shape, NETWORK_SEED, bias_fan_in=1), regenerated by the reader."""
    g = gradient.detach().double().numpy().ravel()
    probe = ref.reference_uniform("probe." + name, list(gradient.shape), NETWORK_SEED, bias_fan_in=1)
    return np.array([g.sum(), (g * g).sum(), np.abs(g).sum(), probe.astype(np.float64).ravel() @ g])


def make_backward(tensors, meta, noise, x):
    """One training-mode forward and backward of the whole network (batch norms on batch
    statistics, dropout off), in float32 and in float64 from the same float32 values."""
    for precision, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        model = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=False)
        ref.init_module(model, NETWORK_SEED)
        model = model.to(dtype)
        model.train()
        model.dropout.p = 0.0
        xt = x.to(dtype).clone().requires_grad_(True)
        y = model(xt)
        y.backward(torch.full_like(y, 1.0 / 2000))
        for name, p in model.named_parameters():
            tensors[f"backward.{precision}.{name}"] = gradient_summary(name, p.grad)
        tensors[f"backward.{precision}.input"] = gradient_summary("input", xt.grad)
    worst = 0.0
    for name in [n for n, _ in model.named_parameters()] + ["input"]:
        a, b = tensors[f"backward.f32.{name}"], tensors[f"backward.f64.{name}"]
        worst = max(worst, abs(a[1] - b[1]) / b[1])
    noise["backward_sum_of_squares"] = worst
    print(f"  backward: worst float32 vs float64 relative error of a sum of squares {worst:.3e}")
    meta["backward.<precision>.<name>"] = (
        "the 'logits' model in training mode (batch statistics, dropout p=0), forward of the same "
        "input, backward of dL/dlogits = 1/2000: for each parameter's gradient and the input's "
        "('input'), [sum, sum of squares, sum of |.|, probe . gradient] in float64, the probe being "
        "reference_uniform('probe.<name>', shape, 7, bias_fan_in=1); precision f32: PyTorch in "
        "float32, f64: in float64 from the same float32 weights and input")


# --------------------------------------------------------------------------------------------------
# Batch norm in training (and evaluation backward)
# --------------------------------------------------------------------------------------------------

def store_state(tensors, prefix, module, suffix=""):
    """Every parameter and buffer as "<prefix><name><suffix>"; with a suffix (the state after
    training steps) only the buffers: forward and backward leave the parameters as they were."""
    parameters = {name for name, _ in module.named_parameters()}
    for key, value in module.state_dict().items():
        if suffix and key in parameters:
            continue
        arr = value.detach().numpy()
        tensors[prefix + key + suffix] = arr.astype(np.int64 if key.endswith("num_batches_tracked") else np.float32)


def store_gradients(tensors, prefix, module):
    for key, p in module.named_parameters():
        tensors[prefix + key + ".grad"] = f32(p.grad)


def batchnorm_train(tensors, meta):
    prefix = "batchnorm_train."
    bn = ref.init_module(nn.BatchNorm2d(6, eps=0.001), LAYER_SEED, prefix=prefix)
    store_state(tensors, prefix, bn)
    bn.train()
    shape = [4, 6, 5, 5]
    x0 = ref.reference_uniform(prefix + "input.0", shape, LAYER_SEED)
    # A second batch away from zero mean, so the mean's update and the two-pass variance matter.
    x1 = np.float32(3.0) * ref.reference_uniform(prefix + "input.1", shape, LAYER_SEED) + np.float32(2.0)
    dy = ref.reference_uniform(prefix + "output_gradient", shape, LAYER_SEED)
    with torch.no_grad():
        y0 = bn(torch.from_numpy(x0.copy()))
    x1_t = torch.from_numpy(x1.copy()).requires_grad_(True)
    y1 = bn(x1_t)
    y1.backward(torch.from_numpy(dy.copy()))
    for name, arr in (("input.0", x0), ("input.1", x1), ("output_gradient", dy)):
        tensors[prefix + name] = arr
    tensors[prefix + "output.0"] = f32(y0)
    tensors[prefix + "output.1"] = f32(y1)
    tensors[prefix + "input_gradient"] = f32(x1_t.grad)
    store_gradients(tensors, prefix, bn)
    store_state(tensors, prefix, bn, ".after")
    meta["case.batchnorm_train"] = ("nn.BatchNorm2d(6, eps=0.001), train, two forward steps on "
                                    "input.0 and input.1 ([4,6,5,5]), backward of output.1")


def batchnorm_momentum(tensors, meta):
    prefix = "batchnorm_momentum."
    bn = ref.init_module(nn.BatchNorm2d(5, momentum=0.3), LAYER_SEED, prefix=prefix)
    store_state(tensors, prefix, bn)
    bn.train()
    x = ref.reference_uniform(prefix + "input", [3, 5, 4, 4], LAYER_SEED)
    with torch.no_grad():
        y = bn(torch.from_numpy(x.copy()))
    tensors[prefix + "input"] = x
    tensors[prefix + "output"] = f32(y)
    store_state(tensors, prefix, bn, ".after")
    meta["case.batchnorm_momentum"] = "nn.BatchNorm2d(5, momentum=0.3), train, one step on [3,5,4,4]"


def batchnorm_eval(tensors, meta):
    prefix = "batchnorm_eval."
    bn = ref.init_module(nn.BatchNorm2d(6, eps=0.001), LAYER_SEED, prefix="batchnorm.")
    store_state(tensors, prefix, bn)
    bn.eval()
    shape = [2, 6, 5, 5]
    x = ref.reference_uniform("batchnorm.input", shape, LAYER_SEED)
    dy = ref.reference_uniform(prefix + "output_gradient", shape, LAYER_SEED)
    x_t = torch.from_numpy(x.copy()).requires_grad_(True)
    y = bn(x_t)
    y.backward(torch.from_numpy(dy.copy()))
    tensors[prefix + "input"] = x
    tensors[prefix + "output"] = f32(y)
    tensors[prefix + "output_gradient"] = dy
    tensors[prefix + "input_gradient"] = f32(x_t.grad)
    store_gradients(tensors, prefix, bn)
    meta["case.batchnorm_eval"] = ("layers.safetensors' batchnorm case (nn.BatchNorm2d(6, eps=0.001), "
                                   "eval, running statistics) and its backward")


def inception_train(tensors, meta):
    prefix = "inception_train."
    block = ref.init_module(Inception(8, 4, 3, 5, 2, 3, 2), LAYER_SEED, prefix=prefix)
    store_state(tensors, prefix, block)
    block.train()
    shape = [2, 8, 9, 9]
    x = ref.reference_uniform(prefix + "input", shape, LAYER_SEED)
    x_t = torch.from_numpy(x.copy()).requires_grad_(True)
    y = block(x_t)
    dy = ref.reference_uniform(prefix + "output_gradient", list(y.shape), LAYER_SEED)
    y.backward(torch.from_numpy(dy.copy()))
    tensors[prefix + "input"] = x
    tensors[prefix + "output"] = f32(y)
    tensors[prefix + "output_gradient"] = dy
    tensors[prefix + "input_gradient"] = f32(x_t.grad)
    store_gradients(tensors, prefix, block)
    store_state(tensors, prefix, block, ".after")
    meta["case.inception_train"] = ("torchvision.models.googlenet.Inception(8, 4, 3, 5, 2, 3, 2), "
                                    "train, one step on [2,8,9,9] and its backward")


def make_batchnorm(out_dir, command):
    tensors, meta = {}, metadata(command)
    meta["seed"] = str(LAYER_SEED)
    for case in (batchnorm_train, batchnorm_momentum, batchnorm_eval, inception_train):
        case(tensors, meta)
    path = os.path.join(out_dir, "batchnorm_train.safetensors")
    ref.write_safetensors(path, tensors, meta)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(TOOLS_DIR), "tests", "data",
                                                      "reference"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    command = "python3 tools/make_torchvision_reference.py"
    torch.manual_seed(0)  # nothing random is used; this only guards against surprises
    paths = [make_googlenet(args.out, command), make_batchnorm(args.out, command)]
    for p in paths:
        print(f"  {os.path.relpath(p)}  {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main()
