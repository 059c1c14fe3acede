"""PyTorch's side of benchmarks/cuda/run_gpu_benchmarks: the reference GoogLeNet
(tools/reference_model/googlenet_seed.py) on the same GPU and the same work as ctnn-googlenet-gpu,
with cuDNN's benchmark mode on (PyTorch's defaults otherwise: float32, NCHW, TF32 convolutions).

    python3 benchmarks/cuda/pytorch_googlenet_gpu.py --mode forward --batch 1 --batch 32 --batch 256
    python3 benchmarks/cuda/pytorch_googlenet_gpu.py --mode train --batch 128
prints lines in the format of ctnn-googlenet-gpu:
    pytorch-cuda batch=256 images_per_second=4100.2 ms_per_batch=62.436 device="NVIDIA H100 80GB HBM3"
or, without a CUDA build of PyTorch or a device, one line starting with SKIPPED and exit code 77.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from reference_model.googlenet_seed import GoogLeNet  # noqa: E402


def time_steps(seconds, step):
    """Seconds per step, timed to completion on the device; at least 10 steps."""
    runs, start, elapsed = 0, time.perf_counter(), 0.0
    while elapsed < seconds or runs < 10:
        step()
        runs += 1
        if runs % 10 == 0 or runs < 10:
            torch.cuda.synchronize()
            elapsed = time.perf_counter() - start
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / runs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["forward", "train"], default="forward")
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--classes", type=int, default=1000)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"SKIPPED: PyTorch {torch.__version__} sees no CUDA device "
              f"(built with CUDA {torch.version.cuda})", flush=True)
        return 77
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(device)
    training = args.mode == "train"
    torch.manual_seed(1)
    model = GoogLeNet(num_classes=args.classes, aux_logits=training, init_weights=True).to(device)
    model.train(training)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if training else None
    batches = args.batch or ([128] if training else [1, 32, 256])
    for batch in batches:
        images = (torch.rand(batch, 3, 224, 224, device=device) - 0.5)
        labels = torch.randint(0, args.classes, (batch,), device=device)

        def step():
            if not training:
                with torch.inference_mode():
                    model(images)
                return
            optimizer.zero_grad(set_to_none=True)
            main, aux2, aux1 = model(images)
            loss = (torch.nn.functional.cross_entropy(main, labels)
                    + 0.3 * torch.nn.functional.cross_entropy(aux1, labels)
                    + 0.3 * torch.nn.functional.cross_entropy(aux2, labels))
            loss.backward()
            optimizer.step()

        for _ in range(3):  # cuDNN's benchmark search, allocator warm-up
            step()
        torch.cuda.synchronize()
        per_step = time_steps(args.seconds, step)
        label = "pytorch-cuda-train" if training else "pytorch-cuda"
        print(f'{label} batch={batch} images_per_second={batch / per_step:.1f} '
              f'ms_per_batch={1000 * per_step:.3f} device="{name}" torch={torch.__version__}', flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
