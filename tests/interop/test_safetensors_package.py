#!/usr/bin/env python3
"""ctest safetensors.python_package: ctnn's safetensors files and the `safetensors` package's.

    python3 test_safetensors_package.py <safetensors_bridge> <work directory>

safetensors_bridge (safetensors_bridge.cpp) is ctnn's side. Checked:
  1. Files the package writes (safetensors.numpy.save_file, every dtype numpy has, an empty
     tensor, a scalar, NaN and infinities) read in ctnn with the values numpy holds, and ctnn
     writes the same tensors and metadata back byte for byte as the package wrote them.
  2. Files ctnn's save_weights writes (F32, F64, F16 and BF16) load with the package (load_file,
     or deserialize for BF16, which numpy lacks) with the values ctnn holds, rounded to the
     dtype as numpy rounds; the package writes the same tensors into the same bytes (its writer
     orders the metadata keys at random, so the headers are compared as JSON).
  3. A state dict the package writes loads into a ctnn model (load_weights, strict).

Without the package (or numpy) the test exits with 77, which ctest reports as skipped; with
CTNN_REQUIRE_SAFETENSORS=1 (tools/run-tests sets it) that is a failure instead.
"""

import json
import os
import struct
import subprocess
import sys

SKIPPED = 77

try:
    import numpy as np
    import safetensors
    from safetensors import deserialize
    from safetensors.numpy import load_file, save, save_file
except ImportError as error:
    reason = f"the Python package safetensors (with numpy) is not importable: {error}"
    if os.environ.get("CTNN_REQUIRE_SAFETENSORS") == "1":
        print(f"FAILED: {reason}; CTNN_REQUIRE_SAFETENSORS=1 makes that a failure")
        sys.exit(1)
    print(f"SKIPPED: {reason}")
    sys.exit(SKIPPED)

failures = []


def check(condition, what):
    print(("ok      " if condition else "FAILED  ") + what)
    if not condition:
        failures.append(what)


def run_bridge(*args):
    result = subprocess.run([BRIDGE, *args], capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout + result.stderr)
        raise SystemExit(f"FAILED: safetensors_bridge {' '.join(args)} exited with {result.returncode}")


def read_values(path):
    """The bridge's listing: name -> float64 array (nan and inf parse as such)."""
    values = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            name, *numbers = line.split()
            values[name] = np.array([float(v) for v in numbers], dtype=np.float64)
    return values


def same_values(a, b):
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def split(data):
    """(header as JSON, data section) of a safetensors file's bytes."""
    (n,) = struct.unpack_from("<Q", data, 0)
    return json.loads(data[8:8 + n]), data[8 + n:]


def to_bfloat16_as_float32(values):
    """float32 -> bfloat16 (round to nearest even, NaN kept) -> float32, as torch.bfloat16 does."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    rounded = np.where(np.isnan(np.asarray(values, dtype=np.float32)), (bits >> 16) | 0x40, rounded)
    return (rounded.astype(np.uint32) << 16).view(np.float32)


def package_to_ctnn():
    tensors = {
        "f64": np.array([1.5, -1e300, 5e-324, np.nan], dtype=np.float64),
        "f32": np.array([[0.1, -2.0, np.inf], [-np.inf, 3.4e38, 1e-45]], dtype=np.float32),
        "f16": np.array([1.0, 65504.0, 6e-8, -0.0, np.nan], dtype=np.float16),
        "i64": np.array([-(2**63), 2**63 - 1, 7], dtype=np.int64),
        "i32": np.array([-(2**31), 2**31 - 1], dtype=np.int32),
        "i16": np.array([-32768, 32767], dtype=np.int16),
        "i8": np.array([-128, 127], dtype=np.int8),
        "u8": np.array([0, 255, 9], dtype=np.uint8),
        "mask": np.array([True, False, True]),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "scalar": np.array(2.5, dtype=np.float64),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
    }
    original = os.path.join(WORK, "from_package.safetensors")
    copied = os.path.join(WORK, "from_package.ctnn.safetensors")
    listing = os.path.join(WORK, "from_package.values.txt")
    # One metadata entry: the package orders several at random, ctnn sorts them.
    save_file(tensors, original, metadata={"format": "np"})
    run_bridge("copy", original, copied, listing)
    values = read_values(listing)
    for name, array in tensors.items():
        check(name in values and same_values(values[name], array),
              f"package -> ctnn: {name} ({array.dtype}) reads with numpy's values")
    with open(original, "rb") as a, open(copied, "rb") as b:
        check(a.read() == b.read(), "package -> ctnn -> file: ctnn writes the package's bytes exactly")


def ctnn_to_package(dtype):
    path = os.path.join(WORK, f"from_ctnn.{dtype}.safetensors")
    listing = os.path.join(WORK, f"from_ctnn.{dtype}.values.txt")
    run_bridge("save", path, dtype, listing)
    model = read_values(listing)
    with open(path, "rb") as f:
        data = f.read()
    header, body = split(data)
    metadata = header.get("__metadata__", {})
    check(metadata.get("written_by") == "ctnn", f"ctnn {dtype} -> package: metadata read back")

    if dtype == "BF16":  # numpy has no bfloat16: the package's raw reader
        loaded = {}
        for name, info in deserialize(data):
            raw = bytes(info["data"])
            if info["dtype"] == "BF16":
                bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
                loaded[name] = bits.view(np.float32)
            else:
                loaded[name] = np.frombuffer(raw, dtype="<i8")
    else:
        loaded = load_file(path)
    check(sorted(loaded) == sorted(model), f"ctnn {dtype} -> package: the package lists the network's tensors")
    numpy_dtype = {"F32": np.float32, "F64": np.float64, "F16": np.float16}.get(dtype)
    for name, expected in model.items():
        if name not in loaded:
            continue
        if name.endswith("num_batches_tracked"):
            check(loaded[name].dtype == np.int64 and same_values(loaded[name], expected),
                  f"ctnn {dtype} -> package: {name} is I64 with ctnn's value")
        elif dtype == "BF16":
            rounded = to_bfloat16_as_float32(expected.astype(np.float32))
            check(same_values(loaded[name], rounded), f"ctnn BF16 -> package: {name} is ctnn's values, rounded as torch rounds")
        else:
            rounded = expected.astype(np.float32).astype(numpy_dtype)
            check(loaded[name].dtype == numpy_dtype and same_values(loaded[name], rounded),
                  f"ctnn {dtype} -> package: {name} is ctnn's values, rounded as numpy rounds")

    if dtype != "BF16":
        again = save(loaded, metadata=metadata)
        header_again, body_again = split(again)
        check(len(again) == len(data) and header_again == header and body_again == body,
              f"ctnn {dtype} -> package -> bytes: the package writes ctnn's file (header as JSON, data exactly)")


def package_state_dict_to_ctnn():
    rng = np.random.default_rng(5)
    shapes = {"conv.weight": (4, 3, 3, 3), "conv.bias": (4,), "bn.weight": (4,), "bn.bias": (4,),
              "bn.running_mean": (4,), "bn.running_var": (4,), "fc.weight": (2, 36), "fc.bias": (2,)}
    state = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
    # A trained BatchNorm's variance is positive; load_weights rejects a negative one as corrupt.
    state["bn.running_var"] = np.abs(state["bn.running_var"]) + np.float32(0.1)
    state["bn.num_batches_tracked"] = np.array(12, dtype=np.int64)
    path = os.path.join(WORK, "state_dict.safetensors")
    listing = os.path.join(WORK, "state_dict.values.txt")
    save_file(state, path, metadata={"format": "pt"})
    run_bridge("load", path, listing)
    values = read_values(listing)
    for name, array in state.items():
        check(name in values and same_values(values[name], array),
              f"package state dict -> ctnn load_weights: {name}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    BRIDGE, WORK = sys.argv[1], sys.argv[2]
    os.makedirs(WORK, exist_ok=True)
    print(f"safetensors {safetensors.__version__}, numpy {np.__version__}")
    package_to_ctnn()
    for dtype in ("F32", "F64", "F16", "BF16"):
        ctnn_to_package(dtype)
    package_state_dict_to_ctnn()
    if failures:
        print(f"FAILED: {len(failures)} checks")
        sys.exit(1)
    print("all checks passed")
