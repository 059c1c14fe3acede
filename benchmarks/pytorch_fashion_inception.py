"""The PyTorch twin of ctnn::FashionInception (include/ctnn/models/fashion_inception.hpp), built
from torchvision's GoogLeNet blocks, with the same state_dict names; and its training-step
benchmark in the format of ctnn's:

    /usr/bin/python3 benchmarks/pytorch_fashion_inception.py --batch 128 --threads 2 --seconds 10
    pytorch-train net=fashion batch=128 threads=2 images_per_second=... ms_per_batch=...
"""
import argparse
import time

import torch
from torch import nn
from torchvision.models.googlenet import BasicConv2d, Inception


class FashionInception(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = BasicConv2d(1, 24, kernel_size=3, padding=1)
        self.conv2 = BasicConv2d(24, 64, kernel_size=3, stride=2, padding=1)
        self.maxpool1 = nn.MaxPool2d(2, 2)
        self.inception3a = Inception(64, 64, 64, 96, 16, 32, 32)
        self.inception3b = Inception(224, 96, 96, 144, 24, 48, 32)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(320, 10)

    def forward(self, x):
        for layer in (self.conv1, self.conv2, self.maxpool1, self.inception3a, self.inception3b, self.avgpool):
            x = layer(x)
        return self.fc(self.dropout(torch.flatten(x, 1)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = FashionInception().train()
    assert sum(p.numel() for p in model.parameters()) == 280418, "differs from ctnn::FashionInception"
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    images = torch.rand(args.batch, 1, 28, 28) - 0.5
    labels = torch.arange(args.batch) % 10

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()

    step()
    runs, start = 0, time.perf_counter()
    while True:
        step()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= args.seconds and runs >= 3:
            break
    print(f"pytorch-train net=fashion batch={args.batch} threads={args.threads} "
          f"images_per_second={args.batch * runs / elapsed:.2f} ms_per_batch={1000 * elapsed / runs:.1f}", flush=True)


if __name__ == "__main__":
    main()
