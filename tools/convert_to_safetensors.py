#!/usr/bin/python3
"""Convert a PyTorch checkpoint into a safetensors file that ctnn::load_weights reads.

Usage (Debian's interpreter has torch; the `safetensors` package is not needed):
    /usr/bin/python3 tools/convert_to_safetensors.py CHECKPOINT [-o OUT] [--dtype float32|float16|bfloat16]
                                                      [--keep-prefix] [--weights-only]
                                                      [--check MODEL | --check-seed | --check-torchvision]

CHECKPOINT may hold
  * a state dict:         torch.save(model.state_dict(), path)   (torchvision's downloaded
                          googlenet-1378be20.pth, resnet18-f37072fd.pth, resnet50-0676ba61.pth,
                          mobilenet_v2-b0353104.pth are)
  * a whole module:       torch.save(model, path); the module's class must be importable (run from
                          the training script's directory) or be one of the seed's GoogLeNet classes
  * a checkpoint dict:    {"state_dict": ..., "epoch": ..., ...}; also under "model_state_dict",
                          "model", "net" or "module"
Tensor names keep PyTorch's state_dict names, which are ctnn's; a "module." prefix on every name
(nn.DataParallel) is stripped unless --keep-prefix. Floating-point tensors become --dtype (float32
by default); integer tensors (BatchNorm's num_batches_tracked) stay I64. The file is written like
safetensors.torch.save_file, metadata {"format": "pt", ...}.

--check MODEL loads the converted tensors into the PyTorch module of ctnn-classify's --model MODEL
(googlenet-seed: tools/reference_model/googlenet_seed.py; torchvision-googlenet, resnet18,
resnet50, mobilenet-v2: torchvision.models) with load_state_dict(strict=True), num_classes (and
aux_logits) taken from the weights, and checks every value arrived. --check-seed and
--check-torchvision are --check googlenet-seed and --check torchvision-googlenet.

Exit status: 0 on success, 1 with a one-line error otherwise.
"""

import argparse
import os
import sys

import ctnn_weights as cw


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="the PyTorch file (.pt, .pth, .ckpt)")
    parser.add_argument("-o", "--output", help="the safetensors file to write (default: CHECKPOINT with the "
                                               "suffix .safetensors)")
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32",
                        help="dtype of the floating-point tensors (default: float32)")
    parser.add_argument("--keep-prefix", action="store_true", help="keep a 'module.' prefix on every name")
    parser.add_argument("--weights-only", action="store_true",
                        help="refuse files that need full unpickling (a whole saved module), which runs code "
                             "from the file")
    check = parser.add_mutually_exclusive_group()
    check.add_argument("--check-seed", action="store_true",
                       help="check the result loads into the seed GoogLeNet with strict=True")
    check.add_argument("--check-torchvision", action="store_true",
                       help="check the result loads into torchvision's googlenet with strict=True")
    check.add_argument("--check", choices=sorted(cw.CLASSIFIER_WEIGHT), metavar="MODEL",
                       help="check the result loads into ctnn-classify's --model MODEL with strict=True: "
                            + ", ".join(cw.CLASSIFIER_WEIGHT))
    return parser.parse_args(argv)


def convert(arguments, log=print):
    output = arguments.output or os.path.splitext(arguments.checkpoint)[0] + ".safetensors"
    if os.path.abspath(output) == os.path.abspath(arguments.checkpoint):
        raise cw.ConversionError(f"{output}: the output would overwrite the checkpoint; give another --output")

    state, where = cw.read_state_dict(arguments.checkpoint, weights_only=arguments.weights_only,
                                      keep_prefix=arguments.keep_prefix, log=log)
    dtype = cw.DTYPES[arguments.dtype]
    converted = {name: (t.to(dtype) if t.is_floating_point() else t) for name, t in state.items()}

    kind = arguments.check or ("googlenet-seed" if arguments.check_seed else
                               "torchvision-googlenet" if arguments.check_torchvision else None)
    if kind:
        module = cw.build(kind, converted)
        count = cw.load_into(module, converted)
        aux = f", aux_logits={getattr(module, 'aux1', None) is not None}" if "googlenet" in kind else ""
        log(f"check: {count} tensors load into {kind} ({type(module).__module__}.{type(module).__name__}, "
            f"num_classes={cw.num_classes(module)}{aux}) with strict=True")

    metadata = {"converted_from": os.path.basename(arguments.checkpoint), "converted_by": "tools/convert_to_safetensors.py"}
    cw.save_state_dict(converted, output, metadata=metadata)
    values = sum(t.numel() for t in converted.values())
    log(f"wrote {output}: {len(converted)} tensors, {values:,} values, floating point as {arguments.dtype} "
        f"(from {where})")
    return output


def main(argv=None):
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        convert(arguments, log=lambda text: print(text, file=sys.stderr))
    except cw.ConversionError as error:
        print(f"convert_to_safetensors.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
