#!/usr/bin/env python3
"""Lists the reference tensors that no test reads (ctest reference_data.all_read).

    python3 tools/audit_reference_data.py [--data tests/data] --reads <dir>

The generators (tools/make_*.py) write PyTorch's results under tests/data; a tensor nobody reads
is a comparison that was meant and never made. The unit tests, run with CTNN_REFERENCE_READS=<dir>
(tests/CMakeLists.txt sets it), write the names they look up in each reference file to
<dir>/*.txt ("<file under tests/data>\\t<tensor name>" lines; tests/support/reference.hpp). This
script compares them with every tensor of the audited files and exits with 1 when any is unread.

Audited: tests/data/reference/*.safetensors and tests/data/weights/*.io.safetensors. The other
files are read whole: weights/*.f32|f16|bf16.safetensors by load_weights with strict names
(tests/test_weights.cpp), safetensors/torch_reference.safetensors tensor by tensor by
tests/test_safetensors.cpp. Standard library only: no numpy needed.
"""

import argparse
import glob
import json
import os
import struct
import sys

AUDITED = ["reference/*.safetensors", "weights/*.io.safetensors"]


def tensor_names(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return [name for name in header if name != "__metadata__"]


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(root, "tests", "data"))
    parser.add_argument("--reads", required=True, help="directory of the tests' read lists")
    args = parser.parse_args()

    read = set()
    lists = sorted(glob.glob(os.path.join(args.reads, "*.txt")))
    for path in lists:
        with open(path, encoding="utf-8") as f:
            for line in f:
                file, _, name = line.rstrip("\n").partition("\t")
                read.add((file, name))
    if not lists:
        print(f"FAILED: no read lists in {args.reads}: run the unit tests first (ctest runs them before this test)")
        return 1

    unread, total = [], 0
    for pattern in AUDITED:
        for path in sorted(glob.glob(os.path.join(args.data, pattern))):
            relative = os.path.relpath(path, args.data).replace(os.sep, "/")
            names = tensor_names(path)
            total += len(names)
            missing = [name for name in names if (relative, name) not in read]
            unread += [(relative, name) for name in missing]
            print(f"{relative}: {len(names) - len(missing)} of {len(names)} tensors read")
    print(f"{len(lists)} read lists, {total} reference tensors")
    if unread:
        print(f"FAILED: {len(unread)} reference tensors are read by no test (assert them, or stop generating them):")
        for file, name in unread:
            print(f"  {file}: {name}")
        return 1
    print("every reference tensor is read by a test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
