#!/usr/bin/python3
"""Writes the safetensors fixtures used by tests/test_safetensors.cpp and the fuzzer's seed corpus.

    /usr/bin/python3 tools/make_safetensors_fixtures.py

Outputs (committed; rerun only to regenerate them):
  tests/data/safetensors/torch_reference.safetensors
      A PyTorch state dict (a Conv2d + BatchNorm2d pair, including the I64 scalar
      num_batches_tracked) plus "probe.*" tensors holding awkward float32 values and PyTorch's own
      conversions of them to F16, BF16 and F64, so the C++ test can check its float16/bfloat16
      conversion against PyTorch's. Needs torch (1.13 is installed for /usr/bin/python3).
  fuzz/corpus/*.safetensors
      Small valid and invalid files to seed the fuzzer. Plain Python, no torch needed.

The python `safetensors` package is not installed, so the format is written by hand, exactly as the
reference writer does it: 8-byte little-endian header length, compact JSON header with
"__metadata__" first, tensors ordered by dtype rank (descending) and then by name, the header padded
with spaces to a multiple of 8 bytes, then the tensor bytes back to back.
"""

import json
import pathlib
import struct

REPO = pathlib.Path(__file__).resolve().parent.parent

# Position of each dtype in the reference implementation's Dtype enumeration; its writer orders
# tensors by this rank, descending, then by name.
DTYPE_RANK = {"BOOL": 0, "U8": 1, "I8": 2, "I16": 5, "F16": 7, "BF16": 8, "I32": 9, "F32": 11,
              "F64": 12, "I64": 13}


def safetensors_bytes(tensors, metadata=None):
    """tensors: {name: (dtype string, shape list, raw little-endian bytes)}."""
    order = sorted(tensors.items(), key=lambda item: (-DTYPE_RANK[item[1][0]], item[0]))
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, (dtype, shape, raw) in order:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(raw for _, (_, _, raw) in order)


def raw_file(header_text, data=b""):
    """A file with an arbitrary (possibly invalid) header, for the fuzz seeds."""
    header = header_text.encode()
    return struct.pack("<Q", len(header)) + header + data


def torch_fixture():
    import torch  # only this fixture needs PyTorch

    torch_dtype_name = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
                        torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
                        torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}

    def entry(tensor):
        tensor = tensor.contiguous()
        # numpy has no bfloat16: take the bits as int16.
        array = tensor.view(torch.int16) if tensor.dtype == torch.bfloat16 else tensor
        return (torch_dtype_name[tensor.dtype], list(tensor.shape), array.numpy().tobytes())

    conv = torch.nn.Conv2d(1, 2, kernel_size=2, bias=False)
    bn = torch.nn.BatchNorm2d(2)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(8, dtype=torch.float32).reshape(2, 1, 2, 2) / 4 - 1)
        bn.weight.copy_(torch.tensor([1.5, -0.5]))
        bn.bias.copy_(torch.tensor([0.25, 0.0]))
        bn.running_mean.copy_(torch.tensor([0.125, -3.0]))
        bn.running_var.copy_(torch.tensor([2.0, 0.5]))
        bn.num_batches_tracked.fill_(7)

    tensors = {}
    for prefix, module in (("conv", conv), ("bn", bn)):
        for name, tensor in module.state_dict().items():
            tensors[f"{prefix}.{name}"] = entry(tensor)

    # Values that exercise rounding, overflow, subnormals and specials in both 16-bit formats.
    probe_values = [
        0.0, -0.0, 1.0, -2.0, 0.1, 1 / 3, 3.141592653589793, 65504.0, 65519.0, 65520.0, 1e5, -1e5,
        float.fromhex("0x1p-14"),          # smallest normal float16
        float.fromhex("0x1.ff8p-15"),      # largest subnormal float16
        float.fromhex("0x1p-24"),          # smallest subnormal float16
        float.fromhex("0x1p-25"),          # tie between 0 and the smallest subnormal: rounds to 0
        float.fromhex("0x1.000002p-25"),   # just above that tie: rounds up
        float.fromhex("0x1.8p-24"),        # tie between subnormals 1 and 2: rounds to even (2)
        float.fromhex("0x1.4p-24"),        # 1.25 units: rounds down
        float.fromhex("0x1.ffcp-15"),      # rounds up into the smallest normal
        float.fromhex("0x1.002p0"),        # float16 tie: rounds to even (1.0)
        float.fromhex("0x1.006p0"),        # float16 tie: rounds to even (up)
        float.fromhex("0x1.01p0"),         # bfloat16 tie: rounds to even (1.0)
        float.fromhex("0x1.03p0"),         # bfloat16 tie: rounds to even (up)
        1e-10, -1e-30,
        float.fromhex("0x1p-126"),         # smallest normal float32
        float.fromhex("0x1p-149"),         # smallest subnormal float32
        float.fromhex("0x1.fffffep127"),   # largest float32: bfloat16 rounds it to infinity
        float("inf"), float("-inf"), float("nan"),
    ]
    generator = torch.Generator().manual_seed(1234)
    probe = torch.cat([
        torch.tensor(probe_values, dtype=torch.float32),
        torch.randn(48, generator=generator) * torch.logspace(-8, 6, 48, dtype=torch.float32),
    ])
    tensors["probe.f32"] = entry(probe)
    tensors["probe.f16"] = entry(probe.half())
    tensors["probe.bf16"] = entry(probe.bfloat16())
    tensors["probe.f64"] = entry(probe.double())

    # The remaining dtypes, an empty tensor and a scalar.
    tensors["ints.i32"] = entry(torch.tensor([-1, 2**31 - 1, -2**31], dtype=torch.int32))
    tensors["ints.i16"] = entry(torch.tensor([-32768, 32767], dtype=torch.int16))
    tensors["ints.i8"] = entry(torch.tensor([-128, 127, 0], dtype=torch.int8))
    tensors["ints.u8"] = entry(torch.tensor([0, 255, 7], dtype=torch.uint8))
    tensors["mask"] = entry(torch.tensor([True, False, True]))
    tensors["empty"] = entry(torch.zeros(0, 3))
    tensors["scalar"] = entry(torch.tensor(2.5, dtype=torch.float64))

    out = REPO / "tests/data/safetensors/torch_reference.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(safetensors_bytes(tensors, {"format": "pt"}))
    print(f"wrote {out.relative_to(REPO)} ({out.stat().st_size} bytes)")


def fuzz_seeds():
    f32 = lambda *values: struct.pack(f"<{len(values)}f", *values)
    seeds = {
        "empty.safetensors": safetensors_bytes({}),
        "metadata_only.safetensors": safetensors_bytes({}, {"format": "pt", "note": "x"}),
        "f32.safetensors": safetensors_bytes({"w": ("F32", [2, 2], f32(1, -2, 0.5, 3))}),
        "mixed.safetensors": safetensors_bytes({
            "a.f16": ("F16", [3], struct.pack("<3H", 0x3C00, 0x7C00, 0x0001)),
            "a.bf16": ("BF16", [1, 2], struct.pack("<2H", 0x3F80, 0xFFC0)),
            "b.f64": ("F64", [], struct.pack("<d", 2.5)),
            "c.i64": ("I64", [], struct.pack("<q", 7)),
            "d.i32": ("I32", [2], struct.pack("<2i", -1, 5)),
            "e.u8": ("U8", [2, 1], b"\x00\xff"),
            "f.bool": ("BOOL", [2], b"\x01\x00"),
            "g.i16": ("I16", [1], struct.pack("<h", -3)),
            "h.i8": ("I8", [1], b"\x80"),
            "z.empty": ("F32", [0, 4], b""),
        }, {"format": "pt"}),
        # Invalid files near the valid ones, so the fuzzer starts next to every check.
        "overlap.safetensors": raw_file(
            '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
            '"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', b"abc"),
        "duplicate.safetensors": raw_file(
            '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
            '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"ab"),
        "overflow.safetensors": raw_file(
            '{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}'),
    }
    corpus = REPO / "fuzz/corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (corpus / name).write_bytes(data)
    print(f"wrote {len(seeds)} seeds to {corpus.relative_to(REPO)}")


if __name__ == "__main__":
    fuzz_seeds()
    torch_fixture()
