#!/usr/bin/python3
"""Write the inputs shipped for ctnn-classify's demo under examples/data/.

Usage (needs numpy, PIL and torchvision, e.g. Debian's /usr/bin/python3):
    /usr/bin/python3 tools/make_example_data.py [--fashion-mnist DIR] [--out DIR]

Writes
  fashion_mnist_<index>_<label>.png   real Fashion-MNIST test images (28x28 grayscale PNG), taken
                                      unchanged from t10k-images-idx3-ubyte.gz in DIR (default
                                      /usr/share/datasets/fashion-mnist)
  fashion_mnist_labels.txt            the ten Fashion-MNIST class names, in label order
  imagenet_labels.txt                 the 1000 ImageNet class names in torchvision's order (those
                                      of torchvision's pretrained googlenet)
"""

import argparse
import gzip
import os

import numpy as np
from PIL import Image

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))

FASHION_MNIST_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                        "Bag", "Ankle boot"]
# Test-set indices of the shipped images: an ankle boot, a pullover, a trouser, a sneaker.
SHIPPED = (0, 1, 2, 9)


def read_idx(path):
    """An IDX file (big-endian header: magic, dimensions) as a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", default=os.path.join(TOOLS_DIR, "..", "examples", "data"))
    arguments = parser.parse_args()
    os.makedirs(arguments.out, exist_ok=True)

    images = read_idx(os.path.join(arguments.fashion_mnist, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(arguments.fashion_mnist, "t10k-labels-idx1-ubyte.gz"))
    for index in SHIPPED:
        name = FASHION_MNIST_LABELS[labels[index]].lower().replace("/", "_").replace(" ", "_").replace("-", "_")
        path = os.path.join(arguments.out, f"fashion_mnist_{index}_{name}.png")
        Image.fromarray(images[index], mode="L").save(path, optimize=True)
        print(f"wrote {path} (test image {index}, label {labels[index]}: {FASHION_MNIST_LABELS[labels[index]]})")
    with open(os.path.join(arguments.out, "fashion_mnist_labels.txt"), "w") as f:
        f.write("\n".join(FASHION_MNIST_LABELS) + "\n")

    from torchvision.models import GoogLeNet_Weights
    categories = GoogLeNet_Weights.IMAGENET1K_V1.meta["categories"]
    assert len(categories) == 1000
    with open(os.path.join(arguments.out, "imagenet_labels.txt"), "w") as f:
        f.write("\n".join(categories) + "\n")
    print(f"wrote the label files to {arguments.out}")


if __name__ == "__main__":
    main()
