#!/usr/bin/env python3
"""Data-parallel scaling on paper: how much of N GPUs' compute a training step keeps when the
gradients are all-reduced in buckets that overlap backward (ctnn's GradientAllReduce and
NcclGradientAllReduce, PyTorch DDP, Horovod's Tensor Fusion).

    python3 benchmarks/distributed/scaling_model.py [--gpus 8 64 512] [--link-gbit 25] ...

The model, per step and per GPU:
    t_compute = t_forward + t_backward            t_backward = 2/3 t_compute
    ring all-reduce of G bytes over N GPUs:       t_ring = 2 (N-1)/N * G / B + 2 (N-1) * alpha * k
        B: the slowest link a ring crosses (a server's network card, shared by its GPUs' ring
        segments only once per ring); alpha: one message's latency; k = ceil(G / bucket) buckets
    buckets fill evenly during backward and go one after another on one ring, so backward and
    communication form a two-stage pipeline:
        t_step = t_forward + max(t_backward + t_ring / k,  t_backward / k + t_ring)
    efficiency = t_compute / t_step                (1.0: communication hidden entirely)

It leaves out what real runs add: stragglers and the wait for the slowest GPU at each step,
contention with the input pipeline, the allocator and framework overheads, and congestion in
the network beyond the one link. Its efficiencies are therefore upper bounds.
"""

import argparse
import math

NETWORKS = {
    # name: (parameters, forward multiply-adds per image, source)
    "inception_v3": (23_834_568, 5.7e9, "torchvision inception_v3 without its aux head, 299x299 (MACs as usually quoted)"),
    "googlenet": (6_998_552, 1.58e9, "ctnn::GoogLeNet<1000, false> at 224x224: parameter_count_v, macs_v"),
}


def step(parameters, gpus, t_compute, link_bytes_per_s, latency_s, bucket_bytes, gradient_bytes=4):
    g = parameters * gradient_bytes
    k = max(1, math.ceil(g / bucket_bytes))
    t_backward = t_compute * 2 / 3
    t_forward = t_compute - t_backward
    if gpus == 1:
        return t_compute, 0.0, k
    t_ring = 2 * (gpus - 1) / gpus * g / link_bytes_per_s + 2 * (gpus - 1) * latency_s * k
    t_step = t_forward + max(t_backward + t_ring / k, t_backward / k + t_ring)
    return t_step, t_ring, k


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpus", type=int, nargs="+", default=[8, 64, 512])
    parser.add_argument("--link-gbit", type=float, default=25.0,
                        help="bandwidth of the slowest link in the ring, Gbit/s (Horovod's servers: 25 GbE RoCE)")
    parser.add_argument("--latency-us", type=float, default=20.0, help="latency of one ring message, microseconds")
    parser.add_argument("--bucket-mb", type=float, default=25.0, help="bucket size, MiB (DDP and ctnn: 25)")
    parser.add_argument("--batch", type=int, default=64, help="images per GPU and step")
    parser.add_argument("--inception-images-per-s", type=float, default=142.0,
                        help="one GPU's Inception V3 training throughput (TensorFlow's published P100 figure, batch 64)")
    args = parser.parse_args()

    link = args.link_gbit * 1e9 / 8
    latency = args.latency_us * 1e-6
    bucket = args.bucket_mb * (1 << 20)
    t_inception = args.batch / args.inception_images_per_s
    # GoogLeNet's step from Inception V3's by the ratio of their multiply-adds (same GPU, same batch).
    t_googlenet = t_inception * NETWORKS["googlenet"][1] / NETWORKS["inception_v3"][1]

    print(f"link {args.link_gbit:g} Gbit/s, latency {args.latency_us:g} us per message, buckets of "
          f"{args.bucket_mb:g} MiB, batch {args.batch} per GPU, float32 gradients\n")
    print("| network | gradient MB | buckets | compute per step | GPUs | ring all-reduce | step | efficiency |")
    print("|---|---|---|---|---|---|---|---|")
    for name, t_compute in (("inception_v3", t_inception), ("googlenet", t_googlenet)):
        parameters = NETWORKS[name][0]
        for gpus in args.gpus:
            for label, lat in (("", 0.0), (" + latency", latency)):
                t_step, t_ring, k = step(parameters, gpus, t_compute, link, lat, bucket)
                print(f"| {name}{label} | {parameters * 4 / 1e6:.1f} | {k} | {t_compute * 1e3:.0f} ms | {gpus} | "
                      f"{t_ring * 1e3:.1f} ms | {t_step * 1e3:.0f} ms | {t_compute / t_step:.1%} |")
    print("\nHorovod (Sergeev and Del Balso, 2018): 90% for Inception V3 and ResNet-101 on 128 servers of "
          "4 Pascal GPUs over 25 Gbit/s RoCE.")


if __name__ == "__main__":
    main()
