#!/usr/bin/env python3
"""Generate the expected output of ctnn-classify on random-weight models: tests/data/classify/zoo.json.

Usage (from anywhere; needs torch 1.13 and torchvision 0.14, e.g. Debian's interpreter):
    /usr/bin/python3 tools/make_classify_reference.py [--out FILE]

For each case -- resnet18 with 10 classes, resnet50 with 1000, mobilenet-v2 with 100, the seed's
GoogLeNet with 1000 and torchvision's googlenet with 2 -- the PyTorch model gets every tensor from the
reference initialisation (seed 7), is saved with torch.save(state_dict), converted with
tools/convert_to_safetensors.py (--check MODEL) and run by tools/predict_pytorch.py on the images
shipped in examples/data/ (--top 5; ImageNet labels for 1000 classes). The file holds, per case:
  model, classes, seed, arguments   ctnn-classify's and predict_pytorch.py's options
  state_dict                        [[name, shape], ...] of the model's state_dict
  predictions                       predict_pytorch.py's --json output: images (paths relative to the
                                    repository), logits (6 significant digits) and top ([index, label,
                                    probability] per rank)
tests/programs/test_classify_zoo.cpp writes the same weights from the listing (the reference
initialisation is bit-exact in C++), runs ctnn-classify and compares. No weights are stored.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS_DIR)
sys.path.insert(0, TOOLS_DIR)

import ctnn_reference as ref  # noqa: E402
import ctnn_weights as cw  # noqa: E402

SEED = 7
CASES = (("resnet18", 10), ("resnet50", 1000), ("mobilenet-v2", 100), ("googlenet-seed", 1000),
         ("torchvision-googlenet", 2))
IMAGES = [os.path.join("examples", "data", name) for name in
          ("fashion_mnist_0_ankle_boot.png", "fashion_mnist_1_pullover.png", "fashion_mnist_2_trouser.png",
           "fashion_mnist_9_sneaker.png")]


def build(model, classes):
    """The untrained module of ctnn-classify's --model `model` with `classes` classes (no aux heads)."""
    head = cw.CLASSIFIER_WEIGHT[model]
    return cw.build(model, {head: torch.empty(classes, 1)}, transform_input=model == "torchvision-googlenet")


def run(arguments):
    subprocess.run([sys.executable] + arguments, cwd=ROOT, check=True)


def make_case(model, classes, work):
    module = ref.init_module(build(model, classes), SEED)
    checkpoint = os.path.join(work, f"{model}.pth")
    converted = os.path.join(work, f"{model}.safetensors")
    predictions = os.path.join(work, f"{model}.json")
    torch.save(module.state_dict(), checkpoint)
    run([os.path.join(TOOLS_DIR, "convert_to_safetensors.py"), checkpoint, "-o", converted, "--check", model])
    arguments = ["--model", model, "--top", "5"]
    if classes == 1000:
        arguments += ["--labels", os.path.join("examples", "data", "imagenet_labels.txt")]
    run([os.path.join(TOOLS_DIR, "predict_pytorch.py")] + arguments + ["--weights", converted, "--json", predictions]
        + IMAGES)
    with open(predictions, encoding="utf-8") as f:
        result = json.load(f)
    result["logits"] = [[float(f"{v:.6g}") for v in row] for row in result["logits"]]
    return {"model": model, "classes": classes, "seed": SEED, "arguments": arguments,
            "state_dict": [[name, list(t.shape)] for name, t in module.state_dict().items()],
            "predictions": result}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "classify", "zoo.json"))
    args = parser.parse_args()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        cases = [make_case(model, classes, work) for model, classes in CASES]
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/make_classify_reference.py", "torch_version": torch.__version__,
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"{os.path.relpath(args.out)}: {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
