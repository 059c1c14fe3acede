#!/usr/bin/python3
"""Turn a safetensors weights file (e.g. written by ctnn::save_weights) into a PyTorch state dict.

Usage (Debian's interpreter has torch):
    /usr/bin/python3 tools/safetensors_to_pytorch.py WEIGHTS.safetensors [-o OUT.pt] [--dtype keep|float32|...]
                                                      [--check-seed | --check-torchvision]
                                                      [--expect-reference-init SEED] [--no-output]

Writes torch.save(state_dict) (an OrderedDict of tensors, dtypes as stored unless --dtype), which
PyTorch loads with
    model.load_state_dict(torch.load("OUT.pt"), strict=True)

--check-seed / --check-torchvision build the seed's GoogLeNet (tools/reference_model/googlenet_seed.py)
or torchvision's googlenet for the weights (num_classes from fc.weight, aux_logits from aux1.*), load
them with load_state_dict(strict=True) and check every value arrived bit for bit; the state dict is
then written in the module's order. --expect-reference-init SEED also checks that the weights equal
ctnn_reference.init_module(module, SEED) bit for bit (what ctnn::init::reference_uniform(model, SEED)
saves), the test of ctnn -> PyTorch exactness described in docs/weights.md.

Exit status: 0 on success, 1 with a one-line error otherwise.
"""

import argparse
import collections
import os
import sys

import torch

import ctnn_weights as cw
import ctnn_reference as ref


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", help="the safetensors file")
    parser.add_argument("-o", "--output", help="the .pt file to write (default: WEIGHTS with the suffix .pt)")
    parser.add_argument("--no-output", action="store_true", help="only check, write nothing")
    parser.add_argument("--dtype", choices=["keep", "float32", "float16", "bfloat16", "float64"], default="keep",
                        help="dtype of the floating-point tensors (default: as stored)")
    check = parser.add_mutually_exclusive_group()
    check.add_argument("--check-seed", action="store_true",
                       help="load into the seed GoogLeNet with strict=True and compare")
    check.add_argument("--check-torchvision", action="store_true",
                       help="load into torchvision's googlenet with strict=True and compare")
    parser.add_argument("--expect-reference-init", type=int, metavar="SEED",
                        help="with a --check option: the weights must equal ctnn_reference.init_module(SEED)")
    return parser.parse_args(argv)


def convert(arguments, log=print):
    if arguments.expect_reference_init is not None and not (arguments.check_seed or arguments.check_torchvision):
        raise cw.ConversionError("--expect-reference-init needs --check-seed or --check-torchvision")
    if not os.path.isfile(arguments.weights):
        raise cw.ConversionError(f"{arguments.weights}: no such file")
    try:
        state, metadata = cw.load_state_dict(arguments.weights)
    except (ValueError, KeyError, TypeError) as error:
        raise cw.ConversionError(f"{arguments.weights}: not a readable safetensors file: {error}")
    if arguments.dtype != "keep":
        dtype = cw.DTYPES[arguments.dtype]
        state = collections.OrderedDict((n, t.to(dtype) if t.is_floating_point() else t) for n, t in state.items())
    if "ctnn.network" in metadata:
        log(f"{arguments.weights}: written by ctnn {metadata.get('ctnn.version', '?')} from a "
            f"{metadata['ctnn.network']} on input {metadata.get('ctnn.input_shape', '?')}")

    if arguments.check_seed or arguments.check_torchvision:
        kind = "googlenet-seed" if arguments.check_seed else "torchvision-googlenet"
        module = cw.build(kind, state)
        count = cw.load_into(module, state)
        log(f"check: {count} tensors load into {kind} with load_state_dict(strict=True), every value exact")
        if arguments.expect_reference_init is not None:
            expected = ref.init_module(cw.build(kind, state), arguments.expect_reference_init).state_dict()
            for name, tensor in module.state_dict().items():
                if not torch.equal(tensor, expected[name]):
                    raise cw.ConversionError(f"tensor {name!r} differs from init_module(seed "
                                             f"{arguments.expect_reference_init})")
            log(f"check: all {len(expected)} tensors equal ctnn_reference.init_module(seed "
                f"{arguments.expect_reference_init}) bit for bit")
        state = collections.OrderedDict((name, state[name]) for name in module.state_dict())

    if arguments.no_output:
        return None
    output = arguments.output or os.path.splitext(arguments.weights)[0] + ".pt"
    if os.path.abspath(output) == os.path.abspath(arguments.weights):
        raise cw.ConversionError(f"{output}: the output would overwrite the input; give another --output")
    torch.save(state, output)
    log(f"wrote {output}: {len(state)} tensors (torch.save of a state dict)")
    return output


def main(argv=None):
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        convert(arguments, log=lambda text: print(text, file=sys.stderr))
    except cw.ConversionError as error:
        print(f"safetensors_to_pytorch.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
