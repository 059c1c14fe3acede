"""PyTorch's side of benchmarks/run_cpu_benchmarks: the reference GoogLeNet on the same work.

    /usr/bin/python3 benchmarks/pytorch_googlenet.py --mode forward --batch 1 --batch 16 --threads 2
prints lines in the format of ctnn's benchmark programs:
    pytorch batch=16 threads=2 images_per_second=14.9 ms_per_batch=1073.0
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from reference_model.googlenet_seed import GoogLeNet  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["forward", "train"], default="forward")
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--classes", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    training = args.mode == "train"
    model = GoogLeNet(num_classes=args.classes, aux_logits=training, init_weights=True)
    model.train(training)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if training else None
    for batch in args.batch or [1, 16]:
        images = torch.rand(batch, 3, 224, 224) - 0.5
        labels = torch.randint(0, args.classes, (batch,))

        def step():
            if not training:
                with torch.no_grad():
                    model(images)
                return
            optimizer.zero_grad()
            main, aux2, aux1 = model(images)
            loss = (torch.nn.functional.cross_entropy(main, labels)
                    + 0.3 * torch.nn.functional.cross_entropy(aux1, labels)
                    + 0.3 * torch.nn.functional.cross_entropy(aux2, labels))
            loss.backward()
            optimizer.step()

        step()  # warm-up
        runs, start = 0, time.perf_counter()
        while True:
            step()
            runs += 1
            elapsed = time.perf_counter() - start
            if elapsed >= args.seconds and runs >= 3:
                break
        print(f"pytorch{'-train net=googlenet' if training else ''} batch={batch} threads={args.threads} "
              f"images_per_second={batch * runs / elapsed:.2f} ms_per_batch={1000 * elapsed / runs:.1f}",
              flush=True)


if __name__ == "__main__":
    main()
