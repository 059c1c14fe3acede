#!/usr/bin/python3
"""Generate the reference data of tests/test_weights.cpp (ctnn::load_weights / save_weights).

Usage (needs torch 1.13 and torchvision 0.14, e.g. Debian's interpreter):
    /usr/bin/python3 tools/make_weights_reference.py [--out DIR]      (default DIR: tests/data/weights)

Every weights file is produced the way a user produces one: the PyTorch module is saved with
torch.save and converted by tools/convert_to_safetensors.py. Writes:

  seed_inception.f32.safetensors    the seed's Inception(8, 4, 3, 5, 2, 3, 2) (googlenet_seed.py),
                                    every tensor from ctnn_reference.init_module(seed 11); converted
                                    from torch.save(module.state_dict())
  seed_inception.f16.safetensors    the same weights converted with --dtype float16, from
                                    torch.save(module) (a whole pickled module)
  seed_inception.bf16.safetensors   the same with --dtype bfloat16, from a checkpoint dict
                                    {"state_dict": <names prefixed "module.">, "epoch": 7}
  seed_inception.io.safetensors     output: the module in eval mode on
                                    input = reference_uniform("input", [2, 8, 9, 9], 11)
  torchvision_inception.f32.safetensors
                                    torchvision's Inception(8, 4, 3, 5, 2, 3, 2) (BasicConv2d with
                                    batch norm), init_module(seed 12), then two training-mode
                                    forwards (on reference_uniform "input.0" / "input.1", [2, 8, 9, 9],
                                    seed 12), so the running statistics moved and
                                    num_batches_tracked is 2 (I64)
  torchvision_inception.io.safetensors
                                    output: that module in eval mode on reference_uniform("input",
                                    [2, 8, 9, 9], 12)
  googlenet_seed_reference3.json    the state_dict of the seed GoogLeNet(num_classes=2,
                                    aux_logits=True) after init_module(seed 3), tensor by tensor:
                                    name, dtype, shape and the SHA-256 of its little-endian bytes.
                                    What ctnn::save_weights must write for a GoogLeNet<2, true> after
                                    ctnn::init::reference_uniform(model, 3); the 40 MB of weights are
                                    not committed.
"""

import argparse
import collections
import hashlib
import json
import os
import sys
import tempfile

import numpy as np
import torch
import torchvision

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS_DIR)

import convert_to_safetensors  # noqa: E402
import ctnn_reference as ref  # noqa: E402
import ctnn_weights as cw  # noqa: E402
from reference_model import googlenet_seed  # noqa: E402

SEED_INCEPTION_SEED = 11
TORCHVISION_INCEPTION_SEED = 12
GOOGLENET_SEED = 3
INCEPTION_ARGS = (8, 4, 3, 5, 2, 3, 2)
INPUT_SHAPE = [2, 8, 9, 9]


def metadata(what):
    return {"generator": "tools/make_weights_reference.py", "what": what, "torch_version": torch.__version__,
            "torchvision_version": torchvision.__version__}


def convert(checkpoint, output, dtype):
    status = convert_to_safetensors.main([checkpoint, "--output", output, "--dtype", dtype])
    if status != 0:
        raise SystemExit(f"converting {checkpoint} failed")
    state, _ = cw.load_state_dict(output)
    return state


def make_seed_inception(out_dir, scratch):
    module = ref.init_module(googlenet_seed.Inception(*INCEPTION_ARGS), SEED_INCEPTION_SEED).eval()
    state_path = os.path.join(scratch, "seed_inception_state_dict.pt")
    module_path = os.path.join(scratch, "seed_inception_module.pt")
    checkpoint_path = os.path.join(scratch, "seed_inception_checkpoint.pth")
    torch.save(module.state_dict(), state_path)
    torch.save(module, module_path)
    torch.save({"epoch": 7, "state_dict": collections.OrderedDict(("module." + k, v) for k, v in
                                                                   module.state_dict().items())}, checkpoint_path)

    f32 = convert(state_path, os.path.join(out_dir, "seed_inception.f32.safetensors"), "float32")
    f16 = convert(module_path, os.path.join(out_dir, "seed_inception.f16.safetensors"), "float16")
    bf16 = convert(checkpoint_path, os.path.join(out_dir, "seed_inception.bf16.safetensors"), "bfloat16")
    for name, tensor in module.state_dict().items():  # the three routes agree with the module
        assert torch.equal(f32[name], tensor), name
        assert torch.equal(f16[name], tensor.half()), name
        assert torch.equal(bf16[name], tensor.bfloat16()), name
    assert list(f32) != [] and set(f32) == set(f16) == set(bf16) == set(module.state_dict())

    x = torch.from_numpy(ref.reference_uniform("input", INPUT_SHAPE, SEED_INCEPTION_SEED).copy())
    with torch.no_grad():
        y = module(x)
    ref.write_safetensors(os.path.join(out_dir, "seed_inception.io.safetensors"), {"output": y.numpy()},
                          metadata(f"googlenet_seed.Inception{INCEPTION_ARGS}, init_module seed "
                                   f"{SEED_INCEPTION_SEED}, eval, input = reference_uniform('input', "
                                   f"{INPUT_SHAPE}, {SEED_INCEPTION_SEED})"))
    print(f"  seed Inception: {len(f32)} tensors, output {list(y.shape)}")


def make_torchvision_inception(out_dir, scratch):
    from torchvision.models.googlenet import Inception
    module = ref.init_module(Inception(*INCEPTION_ARGS), TORCHVISION_INCEPTION_SEED)
    module.train()
    with torch.no_grad():
        for step in range(2):
            module(torch.from_numpy(ref.reference_uniform(f"input.{step}", INPUT_SHAPE, TORCHVISION_INCEPTION_SEED).copy()))
    module.eval()
    state_path = os.path.join(scratch, "torchvision_inception.pt")
    torch.save(module.state_dict(), state_path)
    state = convert(state_path, os.path.join(out_dir, "torchvision_inception.f32.safetensors"), "float32")
    for name, tensor in module.state_dict().items():
        assert torch.equal(state[name], tensor) and state[name].dtype == tensor.dtype, name
    assert int(state["branch1.bn.num_batches_tracked"]) == 2

    x = torch.from_numpy(ref.reference_uniform("input", INPUT_SHAPE, TORCHVISION_INCEPTION_SEED).copy())
    with torch.no_grad():
        y = module(x)
    ref.write_safetensors(os.path.join(out_dir, "torchvision_inception.io.safetensors"), {"output": y.numpy()},
                          metadata(f"torchvision.models.googlenet.Inception{INCEPTION_ARGS}, init_module seed "
                                   f"{TORCHVISION_INCEPTION_SEED}, two training-mode forwards, eval, input = "
                                   f"reference_uniform('input', {INPUT_SHAPE}, {TORCHVISION_INCEPTION_SEED})"))
    print(f"  torchvision Inception: {len(state)} tensors, output {list(y.shape)}")


def make_googlenet_listing(out_dir):
    module = ref.init_module(googlenet_seed.GoogLeNet(num_classes=2, aux_logits=True), GOOGLENET_SEED)
    tensors = []
    for name, tensor in module.state_dict().items():
        raw = cw.tensor_to_raw(name, tensor)
        tensors.append([name, raw.dtype, list(raw.shape), hashlib.sha256(raw.data).hexdigest()])
    listing = {"generator": "tools/make_weights_reference.py",
               "what": f"state_dict of googlenet_seed.GoogLeNet(num_classes=2, aux_logits=True) after "
                       f"ctnn_reference.init_module(seed {GOOGLENET_SEED}): [name, dtype, shape, sha256 of the "
                       f"little-endian bytes]",
               "seed": GOOGLENET_SEED, "tensors": tensors}
    # One tensor per line, so a diff of the file shows which tensors changed.
    head = json.dumps({k: v for k, v in listing.items() if k != "tensors"}, indent=1)[:-2]
    rows = ",\n".join("  " + json.dumps(row) for row in tensors)
    with open(os.path.join(out_dir, f"googlenet_seed_reference{GOOGLENET_SEED}.json"), "w") as f:
        f.write(head + ',\n "tensors": [\n' + rows + "\n ]\n}\n")
    json.load(open(os.path.join(out_dir, f"googlenet_seed_reference{GOOGLENET_SEED}.json")))
    print(f"  seed GoogLeNet listing: {len(tensors)} tensors")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(TOOLS_DIR, "..", "tests", "data", "weights"))
    arguments = parser.parse_args()
    os.makedirs(arguments.out, exist_ok=True)
    torch.manual_seed(0)
    np.random.seed(0)
    with tempfile.TemporaryDirectory() as scratch:
        make_seed_inception(arguments.out, scratch)
        make_torchvision_inception(arguments.out, scratch)
    make_googlenet_listing(arguments.out)


if __name__ == "__main__":
    main()
