#!/usr/bin/python3
"""Classify image files with PyTorch: the reference for ctnn-classify's predictions.

Usage (Debian's interpreter has torch, torchvision and PIL):
    /usr/bin/python3 tools/predict_pytorch.py --model MODEL --weights FILE [--labels FILE] [--top K]
                                              [--resize N] [--no-transform-input] [--json OUT] images...

MODEL is one of ctnn-classify's: googlenet-seed (tools/reference_model/googlenet_seed.py),
torchvision-googlenet, resnet18, resnet50, mobilenet-v2 (torchvision.models), shaped for the
weights (num_classes from the classifier's weight, aux_logits from aux1.*) and loaded with
load_state_dict(strict=True) from a .safetensors file or anything tools/convert_to_safetensors.py
reads (.pt state dict, whole module, checkpoint dict). torchvision's googlenet runs with
transform_input=True, as torchvision's pretrained googlenet does (and ctnn-classify); pass
--no-transform-input for a model trained without it.

Each image goes through torchvision's ImageNet evaluation transform:
    Image.open(p).convert("RGB") -> Resize(N) -> CenterCrop(224) -> ToTensor()
    -> Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
with N = 256 (--resize; the IMAGENET1K_V2 weights of resnet50 and mobilenet_v2 use 232)
and all images run as one batch in evaluation mode. The output has ctnn-classify's layout:
    <image path>
       1. <label>   97.12%
       ...
--json OUT also writes {"images": [...], "logits": [[...], ...], "top": [[[index, label, p], ...], ...]}.
"""

import argparse
import json
import sys

import torch

import ctnn_weights as cw


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=list(cw.CLASSIFIER_WEIGHT), required=True)
    parser.add_argument("--weights", required=True, help=".safetensors or a PyTorch checkpoint")
    parser.add_argument("--labels", help="one class name per line")
    parser.add_argument("--top", type=int, default=5, help="how many classes to print per image (default 5)")
    parser.add_argument("--resize", type=int, default=256,
                        help="the shorter side before the 224x224 centre crop (default 256)")
    parser.add_argument("--no-transform-input", action="store_true",
                        help="torchvision-googlenet without transform_input")
    parser.add_argument("--json", help="also write the logits and predictions to this JSON file")
    parser.add_argument("images", nargs="+")
    return parser.parse_args(argv)


def imagenet_transform(resize=256):
    from torchvision import transforms
    return transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(224), transforms.ToTensor(),
                               transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


def read_labels(path, count):
    if path is None:
        return [f"class {i}" for i in range(count)]
    with open(path, encoding="utf-8") as f:
        labels = [line.rstrip("\n") for line in f if line.strip()]
    if len(labels) != count:
        raise cw.ConversionError(f"{path}: {len(labels)} labels for a model with {count} classes")
    return labels


def predict(arguments, log):
    from PIL import Image

    state, _ = cw.read_state_dict(arguments.weights, log=log)
    model = cw.build(arguments.model, state, transform_input=not arguments.no_transform_input)
    cw.load_into(model, {n: t.float() if t.is_floating_point() else t for n, t in state.items()})
    model.eval()
    classes = cw.num_classes(model)
    labels = read_labels(arguments.labels, classes)

    transform = imagenet_transform(arguments.resize)
    images, batch, failed = [], [], 0
    for path in arguments.images:
        try:
            with Image.open(path) as image:
                batch.append(transform(image.convert("RGB")))
            images.append(path)
        except (OSError, ValueError) as error:
            print(f"predict_pytorch.py: error: {path}: {error}", file=sys.stderr)
            failed += 1
    results = {"images": images, "logits": [], "top": []}
    if batch:
        with torch.no_grad():
            logits = model(torch.stack(batch))
        probabilities = torch.softmax(logits.double(), dim=1)
        top = min(arguments.top, classes)
        for n, path in enumerate(images):
            print(path)
            values, indices = torch.topk(probabilities[n], top)
            ranked = []
            for rank, (p, i) in enumerate(zip(values.tolist(), indices.tolist()), start=1):
                print(f"  {rank:2d}. {labels[i]:<24s} {100 * p:6.2f}%")
                ranked.append([i, labels[i], p])
            results["logits"].append(logits[n].tolist())
            results["top"].append(ranked)
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return failed


def main(argv=None):
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        failed = predict(arguments, log=lambda text: print(text, file=sys.stderr))
    except cw.ConversionError as error:
        print(f"predict_pytorch.py: error: {error}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
