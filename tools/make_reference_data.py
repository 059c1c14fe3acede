#!/usr/bin/env python3
"""Generate ctnn's PyTorch reference data under tests/data/reference/.

Usage (from anywhere; needs torch, e.g. Debian's interpreter):
    /usr/bin/python3 tools/make_reference_data.py [--out DIR]

Writes
  layers.safetensors            per-layer cases: "<case>.input", "<case>.<state_dict name>",
                                "<case>.output" (float32). Inputs and parameters come from the
                                reference initialisation with seed 1 under exactly those names.
  activations_upsampling.safetensors
                                the same for the element-wise activations, Softmax, Identity,
                                Upsample and ConvTranspose2d (inputs scaled by a power of two)
  residual.safetensors          skip connections: "<case>.input", "<case>.<state_dict name>",
                                "<case>.output" (evaluation) and "<case>.train_output" (training:
                                batch statistics) of a sum of branches and torchvision's ResNet
                                BasicBlock, with and without its downsampling shortcut
  googlenet.safetensors         whole-network outputs of tools/reference_model/googlenet_seed.py
                                with every tensor set by the reference initialisation (no weights
                                or inputs stored: C++ regenerates them): logits on 224x224 and on a
                                non-square 163x187 input, each also computed in float64
                                ("<name>.from_f64"), every top-level stage's [sum, sum of squares]
                                ("stage.<name>"), and the train-mode (main, aux2, aux1) logits.
  reference_init_check.bin/json raw float32 values of a few reference_uniform cases, for the C++
                                reference_init test.
and prints the float32-vs-float64 noise floor of the whole network.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS_DIR)

import ctnn_reference as ref  # noqa: E402
from reference_model import googlenet_seed as gs  # noqa: E402

LAYER_SEED = 1
# The non-square input of the whole-network check (height, width).
NON_SQUARE = (163, 187)
# Tensors larger than this (elements) are not stored in layers.safetensors; they are listed in its
# metadata under "not_stored" and must be regenerated with the reference initialisation.
MAX_STORED_ELEMENTS = 1 << 18


def common_metadata(command):
    return {"generator": "tools/make_reference_data.py", "command": command,
            "torch_version": torch.__version__, "numpy_version": np.__version__,
            "reference_init": "see include/ctnn/reference_init.hpp / tools/ctnn_reference.py"}


# --------------------------------------------------------------------------------------------------
# Per-layer cases
# --------------------------------------------------------------------------------------------------

class Flatten1(nn.Module):
    def forward(self, x):
        return torch.flatten(x, 1)


class TransformInput(nn.Module):
    """torchvision's own transform_input step, taken from a GoogLeNet built with it."""

    def __init__(self):
        super().__init__()
        import torchvision  # only this case needs torchvision
        network = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False,
                                               transform_input=True)
        self.transform = network._transform_input

    def forward(self, x):
        return self.transform(x)


def layer_cases():
    """(case name, description, module, input shape) in file order."""
    return [
        ("conv_k3_s1_p1", "nn.Conv2d(4, 6, 3, 1, 1)", nn.Conv2d(4, 6, 3, 1, 1), [2, 4, 9, 9]),
        ("conv_k7_s2_p3", "nn.Conv2d(3, 5, 7, 2, 3)", nn.Conv2d(3, 5, 7, 2, 3), [2, 3, 17, 17]),
        ("conv_k1", "nn.Conv2d(8, 4, 1)", nn.Conv2d(8, 4, 1), [2, 8, 5, 5]),
        ("conv_k5_s3_p2", "nn.Conv2d(3, 4, 5, 3, 2)", nn.Conv2d(3, 4, 5, 3, 2), [2, 3, 11, 13]),
        ("relu", "nn.ReLU()", nn.ReLU(), [2, 3, 5, 5]),
        ("maxpool_k3_s2_ceil", "nn.MaxPool2d(3, 2, ceil_mode=True)",
         nn.MaxPool2d(3, 2, ceil_mode=True), [2, 3, 14, 14]),
        ("maxpool_k3_s2_ceil_odd", "nn.MaxPool2d(3, 2, ceil_mode=True)",
         nn.MaxPool2d(3, 2, ceil_mode=True), [2, 2, 13, 13]),
        ("maxpool_k3_s1_p1", "nn.MaxPool2d(3, 1, padding=1)",
         nn.MaxPool2d(3, 1, padding=1), [2, 3, 7, 7]),
        ("maxpool_k3_s2_p1_ceil", "nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)",
         nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), [2, 2, 6, 6]),
        # Here ceil mode alone would give 4 outputs, but the 4th window would start in the right
        # padding, so PyTorch drops it: output 3x3 (the "last window starts inside" rule).
        ("maxpool_k2_s2_p1_ceil_drop", "nn.MaxPool2d(2, 2, padding=1, ceil_mode=True)",
         nn.MaxPool2d(2, 2, padding=1, ceil_mode=True), [2, 2, 5, 5]),
        ("maxpool_k2_s2_ceil", "nn.MaxPool2d(2, 2, ceil_mode=True)",
         nn.MaxPool2d(2, 2, ceil_mode=True), [2, 2, 7, 7]),
        ("avgpool_k5_s3", "nn.AvgPool2d(5, 3)", nn.AvgPool2d(5, 3), [2, 4, 14, 14]),
        # count_include_pad=True: the divisor counts padding but not the part of the last (ceil)
        # window that hangs past the right padding.
        ("avgpool_k3_s2_p1_ceil", "nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)",
         nn.AvgPool2d(3, 2, padding=1, ceil_mode=True), [2, 2, 6, 6]),
        ("avgpool_k2_s2_p1_ceil_drop", "nn.AvgPool2d(2, 2, padding=1, ceil_mode=True)",
         nn.AvgPool2d(2, 2, padding=1, ceil_mode=True), [2, 2, 5, 5]),
        ("adaptive_avgpool_1x1", "nn.AdaptiveAvgPool2d((1, 1))",
         nn.AdaptiveAvgPool2d((1, 1)), [2, 5, 7, 7]),
        ("adaptive_avgpool_4x4", "nn.AdaptiveAvgPool2d((4, 4))",
         nn.AdaptiveAvgPool2d((4, 4)), [2, 3, 14, 14]),
        # Non-divisible: bin i covers [floor(i*H/4), ceil((i+1)*H/4)), bins overlap.
        ("adaptive_avgpool_4x4_uneven", "nn.AdaptiveAvgPool2d((4, 4))",
         nn.AdaptiveAvgPool2d((4, 4)), [2, 3, 10, 10]),
        # Non-square inputs, each chosen so the two axes follow different rules: a height/width
        # swap in a kernel's index arithmetic changes the output.
        # 13x10 -> 6x5: ceil mode adds a window along W only (floor would give 6x4).
        ("maxpool_k3_s2_ceil_13x10", "nn.MaxPool2d(3, 2, ceil_mode=True)",
         nn.MaxPool2d(3, 2, ceil_mode=True), [2, 3, 13, 10]),
        # 5x6 -> 3x4: along H the last ceil window would start in the padding and is dropped.
        ("maxpool_k2_s2_p1_ceil_5x6", "nn.MaxPool2d(2, 2, padding=1, ceil_mode=True)",
         nn.MaxPool2d(2, 2, padding=1, ceil_mode=True), [2, 2, 5, 6]),
        ("maxpool_k3_s1_p1_5x8", "nn.MaxPool2d(3, 1, padding=1)",
         nn.MaxPool2d(3, 1, padding=1), [2, 2, 5, 8]),
        # 7x10 -> 4x6: the last window along W hangs past the padding (its divisor is smaller).
        ("avgpool_k3_s2_p1_ceil_7x10", "nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)",
         nn.AvgPool2d(3, 2, padding=1, ceil_mode=True), [2, 2, 7, 10]),
        ("avgpool_k2_s2_p1_ceil_5x6", "nn.AvgPool2d(2, 2, padding=1, ceil_mode=True)",
         nn.AvgPool2d(2, 2, padding=1, ceil_mode=True), [2, 2, 5, 6]),
        ("avgpool_k5_s3_14x11", "nn.AvgPool2d(5, 3)", nn.AvgPool2d(5, 3), [2, 4, 14, 11]),
        ("adaptive_avgpool_4x4_10x13", "nn.AdaptiveAvgPool2d((4, 4))",
         nn.AdaptiveAvgPool2d((4, 4)), [2, 3, 10, 13]),
        # The configurations tests/cuda/test_layers.cpp runs that no case above has, with its
        # shapes, so the CPU and the GPU are each compared with PyTorch on them.
        ("adaptive_avgpool_3x2_7x5", "nn.AdaptiveAvgPool2d((3, 2))",
         nn.AdaptiveAvgPool2d((3, 2)), [2, 2, 7, 5]),
        ("maxpool_k3_s1_p1_ceil", "nn.MaxPool2d(3, 1, padding=1, ceil_mode=True) (torchvision's branch4)",
         nn.MaxPool2d(3, 1, padding=1, ceil_mode=True), [2, 2, 7, 7]),
        ("avgpool_k3_s2_p1_ceil_7x7", "nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)",
         nn.AvgPool2d(3, 2, padding=1, ceil_mode=True), [2, 2, 7, 7]),
        ("conv_no_bias", "nn.Conv2d(6, 5, 3, 1, 1, bias=False)",
         nn.Conv2d(6, 5, 3, 1, 1, bias=False), [2, 6, 7, 7]),
        ("conv_dropout", "nn.Sequential(nn.Conv2d(2, 3, 3), nn.Dropout(0.4)) (eval: dropout is identity)",
         nn.Sequential(nn.Conv2d(2, 3, 3), nn.Dropout(0.4)), [2, 2, 6, 6]),
        ("conv_flatten_linear", "nn.Sequential(nn.Conv2d(2, 3, 3, 1, 1), nn.ReLU(), nn.Flatten(), nn.Linear(75, 4))",
         nn.Sequential(nn.Conv2d(2, 3, 3, 1, 1), nn.ReLU(), nn.Flatten(), nn.Linear(75, 4)), [2, 2, 5, 5]),
        ("transform_input", "torchvision GoogLeNet(transform_input=True)._transform_input",
         TransformInput(), [2, 3, 8, 8]),
        ("inception_16", "googlenet_seed.Inception(16, 4, 3, 5, 2, 3, 2)",
         gs.Inception(16, 4, 3, 5, 2, 3, 2), [2, 16, 9, 9]),
        ("linear", "nn.Linear(12, 7)", nn.Linear(12, 7), [3, 12]),
        ("flatten", "torch.flatten(x, 1)", Flatten1(), [2, 3, 4, 4]),
        ("basic_conv", "googlenet_seed.BasicConv2d(4, 6, kernel_size=3, padding=1)",
         gs.BasicConv2d(4, 6, kernel_size=3, padding=1), [2, 4, 8, 8]),
        ("inception", "googlenet_seed.Inception(8, 4, 3, 5, 2, 3, 2)",
         gs.Inception(8, 4, 3, 5, 2, 3, 2), [2, 8, 9, 9]),
        ("inception_aux", "googlenet_seed.InceptionAux(16, 3) (eval: dropout is identity)",
         gs.InceptionAux(16, 3), [2, 16, 14, 14]),
        ("batchnorm", "nn.BatchNorm2d(6, eps=0.001), eval mode (running statistics)",
         nn.BatchNorm2d(6, eps=0.001), [2, 6, 5, 5]),
    ] + grouped_conv_cases()


# Grouped and depthwise convolution and ReLU6 (MobileNetV2's layers). A case may end with an input
# scale: ReLU6's input reaches past 6.
def grouped_conv_cases():
    return [
        ("conv_groups2", "nn.Conv2d(4, 6, 3, 1, 1, groups=2)", nn.Conv2d(4, 6, 3, 1, 1, groups=2), [2, 4, 9, 9]),
        ("conv_groups3_k1", "nn.Conv2d(6, 9, 1, groups=3)", nn.Conv2d(6, 9, 1, groups=3), [2, 6, 5, 5]),
        ("conv_depthwise_k3_s1_p1", "nn.Conv2d(5, 5, 3, 1, 1, groups=5)", nn.Conv2d(5, 5, 3, 1, 1, groups=5),
         [2, 5, 8, 8]),
        ("conv_depthwise_k3_s2_p1_no_bias", "nn.Conv2d(4, 4, 3, 2, 1, groups=4, bias=False)",
         nn.Conv2d(4, 4, 3, 2, 1, groups=4, bias=False), [2, 4, 9, 9]),
        ("conv_depthwise_k5_s3_p2", "nn.Conv2d(3, 3, 5, 3, 2, groups=3)", nn.Conv2d(3, 3, 5, 3, 2, groups=3),
         [2, 3, 11, 13]),
        ("conv_depthwise_multiplier2", "nn.Conv2d(3, 6, 3, groups=3)", nn.Conv2d(3, 6, 3, groups=3), [2, 3, 7, 7]),
        ("relu6", "nn.ReLU6() on 8 * reference input", nn.ReLU6(), [2, 3, 5, 5], 8.0),
    ]


def make_layers(out_dir, command, file_name="layers.safetensors", cases=None):
    """Writes `cases` (layer_cases() by default) to file_name. A case may end in an input scale, a
    power of two (so exact) that the reference input is multiplied by."""
    tensors, metadata, not_stored = {}, common_metadata(command), []
    metadata["seed"] = str(LAYER_SEED)
    for case, description, module, in_shape, *input_scale in cases or layer_cases():
        prefix = case + "."
        ref.init_module(module, LAYER_SEED, prefix=prefix)
        module.eval()
        x = ref.reference_uniform(prefix + "input", in_shape, LAYER_SEED)
        if input_scale:
            x = x * np.float32(input_scale[0])
        with torch.no_grad():
            y = module(torch.from_numpy(x.copy()))
        tensors[prefix + "input"] = x
        for key, value in module.state_dict().items():
            # num_batches_tracked (int64, unused in eval) is left out so the file is all-F32.
            if key.endswith("num_batches_tracked"):
                continue
            arr = value.detach().numpy().astype(np.float32)
            if arr.size > MAX_STORED_ELEMENTS:
                not_stored.append(f"{prefix + key}{list(arr.shape)}")
                continue
            tensors[prefix + key] = arr
        tensors[prefix + "output"] = y.detach().numpy().astype(np.float32)
        metadata["case." + case] = description
        print(f"  {case:30s} {description:60s} {list(in_shape)} -> {list(y.shape)}")
    metadata["not_stored"] = ", ".join(not_stored)
    path = os.path.join(out_dir, file_name)
    ref.write_safetensors(path, tensors, metadata)
    return path, tensors


# --------------------------------------------------------------------------------------------------
# Activations, softmax, upsampling and transposed convolution: activations_upsampling.safetensors
# --------------------------------------------------------------------------------------------------

def activation_and_upsampling_cases():
    """(case name, description, module, input shape, input scale): tests/test_layers_forward.cpp
    mirrors them. The scales spread the inputs over every piece of the piecewise activations
    (Hardswish's -3 and 3) and into the saturating tails of the smooth ones."""
    return [
        ("identity", "nn.Identity()", nn.Identity(), [2, 3, 4, 4], 1),
        ("sigmoid", "nn.Sigmoid()", nn.Sigmoid(), [2, 3, 5, 5], 8),
        ("tanh", "nn.Tanh()", nn.Tanh(), [2, 3, 5, 5], 4),
        ("silu", "nn.SiLU()", nn.SiLU(), [2, 3, 5, 5], 8),
        ("hardswish", "nn.Hardswish()", nn.Hardswish(), [2, 3, 5, 5], 4),
        ("leaky_relu", "nn.LeakyReLU()", nn.LeakyReLU(), [2, 3, 5, 5], 2),
        ("leaky_relu_0_2", "nn.LeakyReLU(0.2)", nn.LeakyReLU(0.2), [2, 3, 5, 5], 2),
        ("leaky_relu_negative", "nn.LeakyReLU(-0.5)", nn.LeakyReLU(-0.5), [2, 3, 5, 5], 2),
        ("softmax_features", "nn.Softmax(dim=1) on [N, C]", nn.Softmax(dim=1), [3, 10], 4),
        ("softmax_pixels", "nn.Softmax(dim=1) on [N, C, H, W]: per pixel over C", nn.Softmax(dim=1),
         [2, 5, 4, 3], 4),
        ("upsample_nearest_2", "nn.Upsample(scale_factor=2)", nn.Upsample(scale_factor=2), [2, 3, 4, 5], 1),
        ("upsample_nearest_3", "nn.Upsample(scale_factor=3)", nn.Upsample(scale_factor=3), [2, 2, 3, 4], 1),
        ("upsample_bilinear_2", "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)",
         nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), [2, 3, 4, 5], 1),
        ("upsample_bilinear_3", "nn.Upsample(scale_factor=3, mode='bilinear', align_corners=False)",
         nn.Upsample(scale_factor=3, mode="bilinear", align_corners=False), [2, 2, 5, 3], 1),
        ("conv_transpose_k3_s2_p1_op1", "nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)",
         nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), [2, 4, 5, 5], 1),
        ("conv_transpose_k4_s2_p1", "nn.ConvTranspose2d(3, 5, 4, stride=2, padding=1)",
         nn.ConvTranspose2d(3, 5, 4, stride=2, padding=1), [2, 3, 6, 7], 1),
        ("conv_transpose_k1", "nn.ConvTranspose2d(6, 4, 1)", nn.ConvTranspose2d(6, 4, 1), [2, 6, 4, 4], 1),
        ("conv_transpose_k3_no_bias", "nn.ConvTranspose2d(3, 4, 3, bias=False)",
         nn.ConvTranspose2d(3, 4, 3, bias=False), [2, 3, 5, 5], 1),
        # The output padding (2) exceeds the padding (0): its last rows and columns hold the bias only.
        ("conv_transpose_k2_s3_op2", "nn.ConvTranspose2d(2, 3, 2, stride=3, output_padding=2)",
         nn.ConvTranspose2d(2, 3, 2, stride=3, output_padding=2), [2, 2, 4, 3], 1),
        # Padding beyond K - 1: the output is cropped inside the scattered windows.
        ("conv_transpose_k3_s2_p2", "nn.ConvTranspose2d(2, 3, 3, stride=2, padding=2)",
         nn.ConvTranspose2d(2, 3, 3, stride=2, padding=2), [2, 2, 5, 5], 1),
    ]


# --------------------------------------------------------------------------------------------------
# Skip connections: ctnn::Sum and ctnn::Residual
# --------------------------------------------------------------------------------------------------

class SumOfBranches(nn.Module):
    """sum(b(x) for b in branches), the branches named "0", "1", ... as ctnn::Sum names them."""

    def __init__(self, *branches):
        super().__init__()
        for i, branch in enumerate(branches):
            self.add_module(str(i), branch)

    def forward(self, x):
        return sum(branch(x) for branch in self.children())


def residual_cases():
    """(case name, description, module, input shape): ctnn's tests/test_residual.cpp mirrors them."""
    from torchvision.models.resnet import BasicBlock
    downsample = nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8))
    return [
        ("sum", "Sum(Conv2d(4, 4, 1), Sequential(Conv2d(4, 4, 3, padding=1), ReLU), MaxPool2d(3, 1, 1), Identity)",
         SumOfBranches(nn.Conv2d(4, 4, 1), nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()),
                       nn.MaxPool2d(3, 1, padding=1), nn.Identity()), [2, 4, 6, 6]),
        ("basic_block", "torchvision BasicBlock(8, 8)", BasicBlock(8, 8), [2, 8, 6, 6]),
        ("basic_block_downsample", "torchvision BasicBlock(4, 8, stride=2, downsample=conv1x1 + bn)",
         BasicBlock(4, 8, stride=2, downsample=downsample), [2, 4, 8, 8]),
    ]


def make_residual(out_dir, command):
    tensors, metadata = {}, common_metadata(command)
    metadata["seed"] = str(LAYER_SEED)
    for case, description, module, in_shape in residual_cases():
        prefix = case + "."
        ref.init_module(module, LAYER_SEED, prefix=prefix)
        x = torch.from_numpy(ref.reference_uniform(prefix + "input", in_shape, LAYER_SEED).copy())
        # Every tensor in float32, num_batches_tracked (0 here) included: the file is all-F32.
        for key, value in module.state_dict().items():
            tensors[prefix + key] = value.detach().numpy().astype(np.float32)
        with torch.no_grad():
            module.eval()
            tensors[prefix + "output"] = module(x).numpy().astype(np.float32)
            module.train()  # BatchNorm: the batch's statistics (the running ones move afterwards)
            tensors[prefix + "train_output"] = module(x).numpy().astype(np.float32)
        tensors[prefix + "input"] = x.numpy()
        metadata["case." + case] = description
        print(f"  {case:30s} {description:60s} {list(in_shape)}")
    path = os.path.join(out_dir, "residual.safetensors")
    ref.write_safetensors(path, tensors, metadata)
    return path


# --------------------------------------------------------------------------------------------------
# Whole network
# --------------------------------------------------------------------------------------------------

def build_googlenet(num_classes, aux_logits, seed):
    model = gs.GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, init_weights=False)
    ref.init_module(model, seed)
    x = ref.reference_uniform("input", [2, 3, 224, 224], seed)
    return model, torch.from_numpy(x.copy())


def rel_err(a, b):
    """||a - b||_2 / ||b||_2 and max|a - b| / max|b|, with b the float64 result."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (float(np.linalg.norm(a - b) / np.linalg.norm(b)),
            float(np.max(np.abs(a - b)) / np.max(np.abs(b))))


def run_with_stage_stats(model, x):
    """Forward pass recording (sum, sum of squares) in float64 of every top-level child's output."""
    stats, hooks = {}, []
    for name, child in model.named_children():
        if isinstance(child, nn.Dropout):
            continue  # identity in eval mode; its output equals avgpool's, flattened
        def hook(_module, _inputs, output, name=name):
            o = output.detach().double()
            stats[name] = (float(o.sum()), float((o * o).sum()))
        hooks.append(child.register_forward_hook(hook))
    try:
        with torch.no_grad():
            y = model(x)
    finally:
        for h in hooks:
            h.remove()
    return y, stats


class DropoutDisabled:
    """Context: every nn.Dropout gets p=0 and torch.nn.functional.dropout (which googlenet_seed's
    aux heads call as F.dropout) becomes the identity; both are restored on exit."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.saved_p = [(m, m.p) for m in self.model.modules() if isinstance(m, nn.Dropout)]
        for m, _ in self.saved_p:
            m.p = 0.0
        self.saved_f = gs.F.dropout
        gs.F.dropout = lambda x, *args, **kwargs: x
        return self

    def __exit__(self, *exc):
        gs.F.dropout = self.saved_f
        for m, p in self.saved_p:
            m.p = p
        return False


def make_googlenet(out_dir, command):
    tensors, metadata = {}, common_metadata(command)
    noise = {}

    # 1000 classes, no aux heads, seed 7, eval mode.
    model, x = build_googlenet(1000, False, 7)
    model.eval()
    y32, stats32 = run_with_stage_stats(model, x)
    # The same model on one non-square image: along H max pools 1 and 3 (3, 2, ceil) add a window,
    # along W pools 1 and 4, so an H/W swap anywhere changes the logits.
    h, w = NON_SQUARE
    x_ns = torch.from_numpy(ref.reference_uniform("input", [1, 3, h, w], 7).copy())
    with torch.no_grad():
        y_ns = model(x_ns)
    model64 = model.double()  # converts in place: the float32 values exactly, as float64
    y64, stats64 = run_with_stage_stats(model64, x.double())
    with torch.no_grad():
        y_ns64 = model64(x_ns.double())
    tensors["logits_1000_noaux"] = y32.numpy().astype(np.float32)
    # The float64 run rounded to float32: the best available estimate of the exact logits.
    tensors["logits_1000_noaux.from_f64"] = y64.numpy().astype(np.float32)
    noise["logits_1000_noaux"] = rel_err(y32.numpy(), y64.numpy())
    stage_noise = {}
    for name, (s, ss) in stats32.items():
        tensors[f"stage.{name}"] = np.array([s, ss], dtype=np.float64)
        s64, ss64 = stats64[name]
        stage_noise[name] = (abs(s - s64) / max(abs(s64), 1e-300), abs(ss - ss64) / ss64)
    metadata["stages"] = ", ".join(stats32.keys())
    metadata["logits_1000_noaux"] = ("GoogLeNet(num_classes=1000, aux_logits=False), init_module "
                                     "seed 7, eval, input = reference_uniform('input', "
                                     "[2,3,224,224], 7)")
    metadata["stage.<name>"] = ("[sum, sum of squares] of that top-level child's float32 output "
                                "(both batch items), accumulated and stored in float64")

    key = f"logits_1000_noaux_{h}x{w}"
    tensors[key] = y_ns.numpy().astype(np.float32)
    tensors[key + ".from_f64"] = y_ns64.numpy().astype(np.float32)
    noise[key] = rel_err(y_ns.numpy(), y_ns64.numpy())
    metadata[key] = (f"the logits_1000_noaux model on input = reference_uniform('input', [1,3,{h},{w}], 7)")
    metadata["<logits>.from_f64"] = ("the same computed by PyTorch in float64 from the same float32 "
                                     "weights and input, rounded to float32")
    del model, model64

    # 2 classes, aux heads, seed 11: eval, then train mode with dropout disabled.
    model, x = build_googlenet(2, True, 11)
    model.eval()
    with torch.no_grad():
        y_eval = model(x)
    tensors["logits_2_aux_eval"] = y_eval.numpy().astype(np.float32)
    model.train()
    with DropoutDisabled(model), torch.no_grad():
        main, aux2, aux1 = model(x)
    tensors["train_logits_2_aux.main"] = main.numpy().astype(np.float32)
    tensors["train_logits_2_aux.aux2"] = aux2.numpy().astype(np.float32)
    tensors["train_logits_2_aux.aux1"] = aux1.numpy().astype(np.float32)
    # Without dropout the main head of train mode is the eval computation.
    assert torch.allclose(main, y_eval, rtol=1e-5, atol=1e-6), (main, y_eval)

    model64 = model.double()
    model64.eval()
    with torch.no_grad():
        y_eval64 = model64(x.double())
    model64.train()
    with DropoutDisabled(model64), torch.no_grad():
        main64, aux2_64, aux1_64 = model64(x.double())
    noise["logits_2_aux_eval"] = rel_err(y_eval.numpy(), y_eval64.numpy())
    noise["train_logits_2_aux.aux2"] = rel_err(aux2.numpy(), aux2_64.numpy())
    noise["train_logits_2_aux.aux1"] = rel_err(aux1.numpy(), aux1_64.numpy())
    noise["train_logits_2_aux.main"] = rel_err(main.numpy(), main64.numpy())
    metadata["logits_2_aux_eval"] = ("GoogLeNet(num_classes=2, aux_logits=True), init_module seed "
                                     "11, eval, input = reference_uniform('input', [2,3,224,224], "
                                     "11)")
    metadata["train_logits_2_aux"] = ("same model and input, train mode with every dropout "
                                      "disabled; outputs (main, aux2, aux1)")
    metadata["noise_floor_f32_vs_f64"] = json.dumps(
        {k: {"rel_l2": v[0], "rel_max": v[1]} for k, v in noise.items()})

    path = os.path.join(out_dir, "googlenet.safetensors")
    ref.write_safetensors(path, tensors, metadata)
    return path, tensors, noise, stage_noise


# --------------------------------------------------------------------------------------------------
# reference_init check values for the C++ test
# --------------------------------------------------------------------------------------------------

def make_init_check(out_dir):
    # (name, shape, seed, bias_fan_in): every rule, a 64-bit seed, a non-ASCII name, a fan-in whose
    # square root is irrational, and real GoogLeNet tensor names.
    cases = [
        ("input", [2, 3, 8, 8], 7, 0),
        ("conv1.conv.weight", [64, 3, 7, 7], 7, 0),
        ("conv1.conv.bias", [64], 7, 147),
        ("inception4e.branch3.1.conv.weight", [128, 32, 5, 5], 7, 0),
        ("aux1.fc2.weight", [2, 1024], 11, 0),
        ("aux1.fc2.bias", [2], 11, 1024),
        ("fc.bias", [1000], 7, 1024),
        ("conv_k3_s1_p1.bias", [6], 1, 36),
        ("odd.weight", [5, 3, 1, 1], 18446744073709551615, 0),
        ("odd.bias", [5], 0, 3),
        ("batchnorm.weight", [6], 1, 0),
        ("batchnorm.bias", [6], 1, 1),
        ("batchnorm.running_mean", [6], 1, 0),
        ("batchnorm.running_var", [6], 1, 0),
        ("batchnorm.num_batches_tracked", [], 1, 0),
        ("flöte.input", [3, 5], 12345678901234567890, 0),
        ("", [4], 0, 0),
    ]
    entries, chunks, offset = [], [], 0
    for name, shape, seed, fan in cases:
        vals = ref.reference_uniform(name, shape, seed, fan if fan > 0 else None).ravel()
        chunks.append(vals.astype("<f4").tobytes())
        entries.append({"name": name, "shape": shape, "seed": seed, "bias_fan_in": fan,
                        "offset": offset, "count": int(vals.size)})
        offset += int(vals.size)
    bin_path = os.path.join(out_dir, "reference_init_check.bin")
    with open(bin_path, "wb") as f:
        f.write(b"".join(chunks))
    json_path = os.path.join(out_dir, "reference_init_check.json")
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump({"format": "reference_init_check.bin holds raw little-endian float32 values; "
                             "case k occupies elements [offset, offset + count)",
                   "cases": entries}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return [bin_path, json_path]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(TOOLS_DIR), "tests", "data",
                                                      "reference"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    command = "python3 tools/make_reference_data.py"
    torch.manual_seed(0)  # nothing random is used; this only guards against surprises

    t0 = time.time()
    print("layers.safetensors:")
    layers_path, _ = make_layers(args.out, command)
    print("activations_upsampling.safetensors:")
    activations_path, _ = make_layers(args.out, command, "activations_upsampling.safetensors",
                                      activation_and_upsampling_cases())
    print("residual.safetensors:")
    residual_path = make_residual(args.out, command)
    t1 = time.time()
    googlenet_path, _, noise, stage_noise = make_googlenet(args.out, command)
    t2 = time.time()
    check_paths = make_init_check(args.out)
    t3 = time.time()

    print("\nfloat32 vs float64 PyTorch, whole network (rel L2 error, rel max error):")
    for k, (l2, mx) in noise.items():
        print(f"  {k:28s} {l2:.3e}  {mx:.3e}")
    print("per-stage relative error of (sum, sum of squares), seed-7 1000-class model:")
    for k, (es, ess) in stage_noise.items():
        print(f"  {k:14s} {es:.3e}  {ess:.3e}")
    print("\nfiles:")
    for p in [layers_path, activations_path, residual_path, googlenet_path] + check_paths:
        print(f"  {os.path.relpath(p)}  {os.path.getsize(p)} bytes")
    print(f"time: layers {t1 - t0:.1f} s, googlenet {t2 - t1:.1f} s, init check {t3 - t2:.1f} s,"
          f" total {t3 - t0:.1f} s")


if __name__ == "__main__":
    main()
