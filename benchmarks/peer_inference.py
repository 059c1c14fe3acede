"""The peers' side of benchmarks/run_cpu_benchmarks: ONNX Runtime and OpenVINO on the same work.

Two steps, run by two interpreters:

    /usr/bin/python3 benchmarks/peer_inference.py export --model googlenet --out build-bench/onnx
        exports the model with Debian's PyTorch 1.13 to <out>/<model>.onnx (random weights from a
        fixed seed; dynamic batch)
    build-bench/peers-venv/bin/python benchmarks/peer_inference.py run --model googlenet \
        --onnx build-bench/onnx --runtime onnxruntime-f32 --batch 16 --threads 2 --seconds 5
        prints one line in the format of ctnn's benchmark programs:
        onnxruntime-f32 model=googlenet batch=16 threads=2 images_per_second=78.9 ms_per_batch=202.8

Runtimes: pytorch-f32 (the PyTorch module itself under torch.no_grad(), no ONNX), onnxruntime-f32,
openvino-f32, openvino-bf16 (OpenVINO's inference precision hint; on a CPU without bf16
instructions OpenVINO falls back to f32, which the line then says).
Models: googlenet (tools/reference_model/googlenet_seed.py, 1000 classes, no aux heads),
resnet18, resnet50, mobilenet_v2 (torchvision), all at 3x224x224.
"""
import argparse
import os
import sys
import time

MODELS = ("googlenet", "resnet18", "resnet50", "mobilenet_v2")
RUNTIMES = ("pytorch-f32", "onnxruntime-f32", "openvino-f32", "openvino-bf16")


def build_model(name):
    import torch
    torch.manual_seed(1)
    if name == "googlenet":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
        from reference_model.googlenet_seed import GoogLeNet
        return GoogLeNet(num_classes=1000, aux_logits=False, init_weights=True)
    import torchvision
    return getattr(torchvision.models, name)(num_classes=1000)


def export(args):
    import torch
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{args.model}.onnx")
    model = build_model(args.model).eval()
    images = torch.rand(1, 3, 224, 224)
    torch.onnx.export(model, images, path, input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "n"}, "logits": {0: "n"}}, opset_version=13)
    print(path)


def make_session(runtime, path, threads):
    """Returns (a function running one batch, the precision actually used)."""
    if runtime == "pytorch-f32":
        import torch
        torch.set_num_threads(threads)
        model = build_model(os.path.splitext(os.path.basename(path))[0]).eval()

        def step(images):
            with torch.no_grad():
                return model(torch.from_numpy(images))
        return step, "f32"
    if runtime == "onnxruntime-f32":
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        return (lambda images: session.run(None, {"images": images})), "f32"
    import openvino as ov
    core = ov.Core()
    precision = "bf16" if runtime == "openvino-bf16" else "f32"
    config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": precision,
              "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    compiled = core.compile_model(core.read_model(path), "CPU", config)
    used = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()  # "f32" or "bf16"
    request = compiled.create_infer_request()
    return (lambda images: request.infer({"images": images})), used


def run(args):
    import numpy as np
    path = os.path.join(args.onnx, f"{args.model}.onnx")
    if args.runtime != "pytorch-f32" and not os.path.isfile(path):
        sys.exit(f"peer_inference: {path} is missing: run the export step first")
    step, precision = make_session(args.runtime, path, args.threads)
    images = (np.random.default_rng(1).random((args.batch, 3, 224, 224), dtype=np.float32) - 0.5)
    step(images)  # warm-up: compiles kernels, allocates
    runs, start = 0, time.perf_counter()
    while True:
        step(images)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= args.seconds and runs >= 3:
            break
    note = "" if args.runtime.endswith(precision) else f" precision_used={precision}"
    print(f"{args.runtime} model={args.model} batch={args.batch} threads={args.threads} "
          f"images_per_second={args.batch * runs / elapsed:.2f} ms_per_batch={1000 * elapsed / runs:.1f}{note}",
          flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export")
    e.add_argument("--model", choices=MODELS, required=True)
    e.add_argument("--out", required=True)
    r = sub.add_parser("run")
    r.add_argument("--model", choices=MODELS, required=True)
    r.add_argument("--onnx", required=True)
    r.add_argument("--runtime", choices=RUNTIMES, required=True)
    r.add_argument("--batch", type=int, default=1)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    export(args) if args.command == "export" else run(args)


if __name__ == "__main__":
    main()
