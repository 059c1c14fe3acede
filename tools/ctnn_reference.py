"""Python side of ctnn's PyTorch parity tests.

Provides
  * write_safetensors / load_safetensors: a minimal, dependency-free safetensors writer and reader
    (the `safetensors` package is not installed on the build machines);
  * the "reference initialisation": reference_uniform() and init_module(), a deterministic fill of
    every tensor of a network from (tensor name, shape, seed) that include/ctnn/reference_init.hpp
    reproduces bit-exactly in C++, so whole-network tests need no committed weights.

Run with the interpreter that has torch (Debian's /usr/bin/python3); only numpy is needed for the
functions in this file, torch only for init_module.

Reference initialisation, exact specification (keep identical to include/ctnn/reference_init.hpp)
-------------------------------------------------------------------------------------------------
  fnv1a_64(bytes): h = 0xcbf29ce484222325; for each byte b: h ^= b; h = (h * 0x100000001b3) mod 2^64
  state = seed ^ fnv1a_64(utf8 name)
  for i in 0..n-1:  state = (state + 0x9E3779B97F4A7C15) mod 2^64; z = state
                    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) mod 2^64
                    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) mod 2^64
                    z = z ^ (z >> 31)
                    u_i   = float32(z >> 40) * 2^-24            (exact, in [0, 1))
                    sym_i = float32(2 * u_i - 1)                (exact, in [-1, 1))
  value by name (shape is PyTorch's shape of the tensor, i is the row-major flat index):
    name ends with ".weight" and ndim >= 2 : fan_in = prod(shape[1:]);
                                             bound = float32(sqrt(6.0 / fan_in)) computed in double
                                             then rounded; value = float32(sym_i * bound)
    name ends with ".bias"                  : bound = float32(1.0 / sqrt(bias_fan_in)) in double then
                                             rounded; value = float32(sym_i * bound)
    name ends with ".weight" and ndim < 2   : (BatchNorm gamma) value = 1.0f + 0.25f * sym_i (float32)
    name ends with ".running_mean"          : value = 0.1f * sym_i
    name ends with ".running_var"           : value = 0.5f + u_i
    name ends with ".num_batches_tracked"   : 0
    anything else (inputs such as "input")  : value = sym_i
  bias_fan_in is the fan-in of the sibling ".weight" tensor: prod(weight_shape[1:]) (so 1 for the
  1-D weight of a BatchNorm). The sequence is the SplitMix64 generator; the weight rule is a
  Kaiming-uniform (gain sqrt(2)) fill and the bias rule is PyTorch's default bias bound, so a deep
  ReLU network keeps activations of order one.
  Every float operation is a single float32 operation whose exact result is rounded once (or is
  exact), so C++ and numpy agree bit for bit.
"""

import json
import math
import struct

import numpy as np

# --------------------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------------------

_NP_TO_ST = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64",
             np.dtype(np.int32): "I32", np.dtype(np.float16): "F16", np.dtype(np.uint8): "U8",
             np.dtype(np.int16): "I16", np.dtype(np.int8): "I8", np.dtype(np.bool_): "BOOL"}
_ST_TO_NP = {v: k for k, v in _NP_TO_ST.items()}
_ITEMSIZE = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2, "I8": 1, "U8": 1,
             "BOOL": 1}
# The position of each dtype in the `safetensors` package's Dtype enumeration; its writer orders
# tensors by it (descending), then by name. order="safetensors" reproduces that order.
_REFERENCE_RANK = {"BOOL": 0, "U8": 1, "I8": 2, "I16": 5, "F16": 7, "BF16": 8, "I32": 9, "F32": 11,
                   "F64": 12, "I64": 13}


class RawTensor:
    """A tensor given as its safetensors dtype name, shape and little-endian bytes.

    For dtypes numpy lacks (BF16): write_safetensors accepts it in place of an array, and
    read_safetensors_raw returns every tensor in this form.
    """

    def __init__(self, dtype, shape, data):
        if dtype not in _ITEMSIZE:
            raise TypeError(f"unsupported safetensors dtype {dtype!r}")
        self.dtype = dtype
        self.shape = tuple(int(d) for d in shape)
        self.data = bytes(data)
        if len(self.data) != _prod(self.shape) * _ITEMSIZE[dtype]:
            raise ValueError(f"{len(self.data)} bytes do not hold a {dtype} tensor of shape {self.shape}")


def _encode(name, value):
    """(dtype name, shape, bytes) of a RawTensor or numpy array."""
    if isinstance(value, RawTensor):
        return value.dtype, list(value.shape), value.data
    arr = np.asarray(value)
    if arr.dtype not in _NP_TO_ST:
        raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
    data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
    return _NP_TO_ST[arr.dtype], [int(d) for d in arr.shape], data


def write_safetensors(path, tensors, metadata=None, order="name"):
    """Write `tensors` (name -> np.ndarray or RawTensor) to `path` in the safetensors format.

    Layout: u64 little-endian header length N, N bytes of JSON header (padded with spaces to a
    multiple of 8 so the data block is aligned), then the raw little-endian tensor data, contiguous,
    in sorted-name order (order="name") or in the order of the `safetensors` package's writer
    (order="safetensors": by dtype, widest first, then by name). `metadata` (str -> str) goes into
    "__metadata__".
    """
    encoded = {name: _encode(name, tensors[name]) for name in tensors}
    if order == "name":
        names = sorted(encoded)
    elif order == "safetensors":
        names = sorted(encoded, key=lambda n: (-_REFERENCE_RANK[encoded[n][0]], n))
    else:
        raise ValueError(f"unknown order {order!r}")
    header = {}
    if metadata and order == "safetensors":  # first, keys sorted: what ctnn's writer does
        header["__metadata__"] = {str(k): str(v) for k, v in sorted(metadata.items())}
    blobs = []
    offset = 0
    for name in names:
        dtype, shape, data = encoded[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata and order == "name":
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors_raw(path):
    """Read a safetensors file into (name -> RawTensor in file order, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for a safetensors file")
    (n,) = struct.unpack_from("<Q", raw, 0)
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(raw) - base:
            raise ValueError(f"{path}: tensor {name!r}: data_offsets {info['data_offsets']} out of range")
        out[name] = RawTensor(info["dtype"], info["shape"], raw[base + begin:base + end])
    return out, metadata


def load_safetensors(path, with_metadata=False):
    """Read a safetensors file into name -> np.ndarray (and the metadata dict if asked).

    BF16 tensors, which numpy cannot hold, come back as float32 (exactly: bfloat16 is the upper half
    of a float32).
    """
    raw, metadata = read_safetensors_raw(path)
    out = {}
    for name, tensor in raw.items():
        if tensor.dtype == "BF16":
            bits = np.frombuffer(tensor.data, dtype="<u2").astype(np.uint32) << np.uint32(16)
            out[name] = bits.view(np.float32).reshape(tensor.shape)
            continue
        dtype = _ST_TO_NP[tensor.dtype].newbyteorder("<")
        arr = np.frombuffer(tensor.data, dtype=dtype)
        out[name] = arr.reshape(tensor.shape).astype(dtype.newbyteorder("="))
    return (out, metadata) if with_metadata else out


# --------------------------------------------------------------------------------------------------
# Reference initialisation
# --------------------------------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S40 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(40)


def fnv1a_64(data: bytes) -> int:
    h = _FNV_OFFSET
    for b in data:
        h ^= b
        h = (h * _FNV_PRIME) & _MASK64
    return h


def _uniform01(name, seed, n):
    """u_i (float32, exact multiples of 2^-24 in [0, 1)) for i in 0..n-1."""
    if not 0 <= seed <= _MASK64:
        raise ValueError(f"seed {seed} is not a 64-bit unsigned integer")
    state0 = np.uint64(seed ^ fnv1a_64(name.encode("utf-8")))
    # state_i = state0 + (i + 1) * golden (mod 2^64): numpy uint64 array arithmetic wraps silently.
    z = np.arange(1, n + 1, dtype=np.uint64)
    z *= _GOLDEN
    z += state0
    z ^= z >> _S30
    z *= _MIX1
    z ^= z >> _S27
    z *= _MIX2
    z ^= z >> _S31
    z >>= _S40
    # 24-bit integers convert to float32 exactly; scaling by a power of two is exact.
    u = z.astype(np.float32)
    u *= np.float32(2.0 ** -24)
    return u


def _prod(dims):
    p = 1
    for d in dims:
        p *= int(d)
    return p


def reference_uniform(name, shape, seed, bias_fan_in=None):
    """Values of the tensor `name` of PyTorch shape `shape` under the reference initialisation.

    Returns a float32 array of that shape (see the module docstring for the exact rule).
    `bias_fan_in` (fan-in of the sibling weight) is required for names ending in ".bias".
    """
    shape = tuple(int(d) for d in shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"{name}: negative dimension in shape {shape}")
    n = _prod(shape)
    if name.endswith(".num_batches_tracked"):
        return np.zeros(shape, dtype=np.float32)
    if name.endswith(".bias") and (bias_fan_in is None or int(bias_fan_in) <= 0):
        raise ValueError(f"{name}: a bias needs the fan-in of its weight (got {bias_fan_in})")
    u = _uniform01(name, seed, n)
    if name.endswith(".running_var"):
        return (np.float32(0.5) + u).reshape(shape)
    # 2u - 1 is exact in float32 (u has 24 significant bits at most and |2u - 1| <= 1).
    sym = np.float32(2.0) * u - np.float32(1.0)
    if name.endswith(".weight") and len(shape) >= 2:
        bound = np.float32(math.sqrt(6.0 / _prod(shape[1:])))
        vals = sym * bound
    elif name.endswith(".bias"):
        bound = np.float32(1.0 / math.sqrt(int(bias_fan_in)))
        vals = sym * bound
    elif name.endswith(".weight"):
        # 0.25 * sym is exact, so a fused multiply-add on the C++ side cannot change the result.
        vals = np.float32(1.0) + np.float32(0.25) * sym
    elif name.endswith(".running_mean"):
        vals = np.float32(0.1) * sym
    else:
        vals = sym
    assert vals.dtype == np.float32
    return vals.reshape(shape)


def init_module(module, seed, prefix=""):
    """Fill every parameter and buffer of the torch `module` by its state_dict name.

    The name used for tensor `k` is `prefix + k` (prefix lets a stand-alone layer use the names it
    has inside a larger file, e.g. "conv_k1." + "weight"). Values are computed in float32 and then
    copied into the tensor's own dtype (so a float64 model gets the float32 values exactly).
    """
    import torch

    state = module.state_dict(keep_vars=True)
    with torch.no_grad():
        for key, tensor in state.items():
            fan_in = None
            if key.endswith(".bias") or key == "bias":
                weight_key = key[: -len("bias")] + "weight"
                if weight_key not in state:
                    raise KeyError(f"{prefix + key}: no sibling weight {prefix + weight_key}")
                fan_in = _prod(state[weight_key].shape[1:])
            values = reference_uniform(prefix + key, tuple(tensor.shape), seed, fan_in)
            tensor.copy_(torch.from_numpy(values))
    return module
