"""PyTorch side of ctnn's weights interchange: state dicts <-> safetensors, checkpoints, models.

Used by convert_to_safetensors.py, safetensors_to_pytorch.py, predict_pytorch.py and
make_weights_reference.py. Needs torch (Debian's /usr/bin/python3 has torch 1.13 and torchvision
0.14); the `safetensors` package is not needed: files go through ctnn_reference's reader and writer,
which write the layout safetensors.torch.save_file writes.
"""

import collections
import os
import pickle
import re
import sys
import types

import torch

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
if TOOLS_DIR not in sys.path:
    sys.path.insert(0, TOOLS_DIR)

import ctnn_reference as ref  # noqa: E402

if sys.byteorder != "little":  # safetensors data is little-endian; tensors are copied as they are
    raise ImportError("ctnn_weights assumes a little-endian machine")

TORCH_TO_ST = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
               torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
               torch.uint8: "U8", torch.bool: "BOOL"}
ST_TO_TORCH = {v: k for k, v in TORCH_TO_ST.items()}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
          "float64": torch.float64}


class ConversionError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


# --------------------------------------------------------------------------------------------------
# Tensors <-> safetensors
# --------------------------------------------------------------------------------------------------

def tensor_to_raw(name, tensor):
    """A torch tensor as ctnn_reference.RawTensor (its dtype, shape and little-endian bytes)."""
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype not in TORCH_TO_ST:
        raise ConversionError(f"tensor {name!r}: dtype {tensor.dtype} has no safetensors equivalent ctnn reads")
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16: take the bits
        data = tensor.view(torch.int16).numpy().tobytes()
    else:
        data = tensor.numpy().tobytes()
    return ref.RawTensor(TORCH_TO_ST[tensor.dtype], tuple(tensor.shape), data)


def raw_to_tensor(raw):
    """A ctnn_reference.RawTensor as a torch tensor of the same dtype and shape (a copy)."""
    dtype = ST_TO_TORCH[raw.dtype]
    if len(raw.data) == 0:
        return torch.empty(raw.shape, dtype=dtype)
    return torch.frombuffer(bytearray(raw.data), dtype=dtype).reshape(raw.shape).clone()


def save_state_dict(state_dict, path, dtype=None, metadata=None):
    """Write a state dict as safetensors, like safetensors.torch.save_file.

    dtype (a torch floating dtype or None): floating-point tensors are converted to it (integer
    tensors such as num_batches_tracked are kept). metadata: extra "__metadata__" entries; "format"
    is "pt" as safetensors.torch writes it.
    """
    tensors = {}
    for name, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor):
            raise ConversionError(f"entry {name!r} is a {type(tensor).__name__}, not a tensor")
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        tensors[name] = tensor_to_raw(name, tensor)
    meta = {"format": "pt"}
    meta.update(metadata or {})
    ref.write_safetensors(path, tensors, meta, order="safetensors")


def load_state_dict(path):
    """(OrderedDict name -> torch tensor, metadata) from a safetensors file, dtypes as stored."""
    raw, metadata = ref.read_safetensors_raw(path)
    state = collections.OrderedDict((name, raw_to_tensor(t)) for name, t in raw.items())
    return state, metadata


# --------------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------------

# Classes of the seed model, for pickled modules whose defining script is not importable here.
_SEED_CLASSES = ("GoogLeNet", "Inception", "InceptionAux", "BasicConv2d")


def _seed_module():
    from reference_model import googlenet_seed
    return googlenet_seed


def _unpickle_with_seed_classes(path, log):
    """torch.load with full unpickling. Where the pickle names one of the seed's classes (GoogLeNet,
    Inception, ...) in a module that cannot be imported here (the user's training script, often
    __main__), the seed's definition from tools/reference_model/googlenet_seed.py stands in.
    (torch 1.13's torch.load ignores a custom pickle_module, so the stand-ins go into sys.modules
    for the duration of the load.)"""
    added_modules, added_attributes, substituted = [], [], []
    try:
        for _ in range(16):
            try:
                return torch.load(path, map_location="cpu")
            except ModuleNotFoundError as error:
                if not error.name or error.name in sys.modules:
                    raise
                stand_in = types.ModuleType(error.name)
                for name in _SEED_CLASSES:
                    setattr(stand_in, name, getattr(_seed_module(), name))
                sys.modules[error.name] = stand_in
                added_modules.append(error.name)
                substituted.append(error.name)
            except AttributeError as error:
                match = re.match(r"Can't get attribute '(\w+)' on <module '([\w.]+)'", str(error))
                if not match or match.group(1) not in _SEED_CLASSES or match.group(2) not in sys.modules:
                    raise
                module = sys.modules[match.group(2)]
                setattr(module, match.group(1), getattr(_seed_module(), match.group(1)))
                added_attributes.append((module, match.group(1)))
                substituted.append(f"{match.group(2)}.{match.group(1)}")
        raise ConversionError(f"{path}: too many classes missing to unpickle")
    finally:
        for name in added_modules:
            sys.modules.pop(name, None)
        for module, name in added_attributes:
            delattr(module, name)
        if substituted:
            log("note: " + ", ".join(substituted) + " not importable here: used the seed's GoogLeNet classes "
                "(tools/reference_model/googlenet_seed.py) in their place")


def load_checkpoint(path, weights_only=False, log=print):
    """torch.load the file at `path` onto the CPU.

    Tries torch.load(weights_only=True) first: it reads tensors and containers without running code
    from the file. A whole pickled module needs full unpickling, which runs code from the file:
    done only when weights_only is False, with a note.
    """
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        restricted_error = str(error).replace("Weights only load failed. ", "").splitlines()[0]
        restricted_error = restricted_error.split("WeightsUnpickler error: ")[-1]
    except Exception as error:  # a damaged file: zip or pickle structure
        raise ConversionError(f"{path}: cannot read as a PyTorch checkpoint (not written by torch.save, or "
                              f"damaged): {type(error).__name__}: {error}")
    if weights_only:
        raise ConversionError(f"{path}: holds more than tensors and containers (a pickled module?), which "
                              f"--weights-only refuses ({restricted_error})")
    log(f"note: {path} cannot be read as plain tensors ({restricted_error}); unpickling it as torch.load "
        f"does, which runs code from the file: convert only files you trust (--weights-only refuses)")
    for directory in (os.path.dirname(os.path.abspath(path)), os.getcwd()):
        if directory not in sys.path:
            sys.path.append(directory)
    try:
        obj = _unpickle_with_seed_classes(path, log)
    except ConversionError:
        raise
    except (ModuleNotFoundError, AttributeError) as error:
        raise ConversionError(f"{path}: cannot unpickle: {error}; run from the directory of the script that "
                              f"defined the model, or save model.state_dict() instead of the model")
    except Exception as error:  # anything torch.load raises on a damaged file
        raise ConversionError(f"{path}: cannot read as a PyTorch checkpoint: {type(error).__name__}: {error}")
    return obj


# Keys under which training scripts commonly store the model's state dict in a checkpoint dict.
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "module")


def extract_state_dict(obj, source):
    """The state dict in a checkpoint: a state dict itself, a module, or a dict holding either
    under one of CHECKPOINT_KEYS. Returns (OrderedDict, where it was found)."""
    if isinstance(obj, torch.nn.Module):
        return collections.OrderedDict(obj.state_dict()), "a whole module (" + type(obj).__name__ + ")"
    if isinstance(obj, dict):
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return collections.OrderedDict(obj), "a state dict"
        for key in CHECKPOINT_KEYS:
            if key in obj and isinstance(obj[key], (dict, torch.nn.Module)):
                state, where = extract_state_dict(obj[key], source)
                return state, f"checkpoint['{key}']: {where}"
        if not obj:
            raise ConversionError(f"{source}: the checkpoint is an empty dict")
        kinds = ", ".join(f"{k!r} ({type(v).__name__})" for k, v in list(obj.items())[:8])
        raise ConversionError(f"{source}: a dict that is neither a state dict nor holds one under "
                              f"{', '.join(repr(k) for k in CHECKPOINT_KEYS)}; its entries: {kinds}")
    raise ConversionError(f"{source}: holds a {type(obj).__name__}, not a state dict or a module")


def strip_prefix(state, prefix="module."):
    """Removes `prefix` (nn.DataParallel's "module.") when every name has it. Returns (state, stripped)."""
    if state and all(name.startswith(prefix) for name in state):
        return collections.OrderedDict((name[len(prefix):], t) for name, t in state.items()), True
    return state, False


def read_state_dict(path, weights_only=False, keep_prefix=False, log=print):
    """The state dict in any file the tools accept: a .safetensors file, or a PyTorch checkpoint
    (see load_checkpoint and extract_state_dict), with a "module." prefix stripped unless
    keep_prefix. Returns (OrderedDict, a description of where it was found)."""
    if path.endswith(".safetensors"):
        try:
            return load_state_dict(path)[0], "a safetensors file"
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConversionError(f"{path}: not a readable safetensors file: {error}")
    state, where = extract_state_dict(load_checkpoint(path, weights_only=weights_only, log=log), path)
    if not keep_prefix:
        state, stripped = strip_prefix(state)
        if stripped:
            where += "; stripped the prefix module."
    return state, where


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------

# The models ctnn-classify knows, by its --model name: the head whose rows are the classes.
CLASSIFIER_WEIGHT = {"googlenet-seed": "fc.weight", "torchvision-googlenet": "fc.weight", "resnet18": "fc.weight",
                     "resnet50": "fc.weight", "mobilenet-v2": "classifier.1.weight"}


def _num_classes(state, kind):
    key = CLASSIFIER_WEIGHT[kind]
    if key not in state:
        raise ConversionError(f"the weights have no {key!r}: not a {kind} state dict")
    return int(state[key].shape[0])


def build_seed(state):
    """The seed GoogLeNet (tools/reference_model/googlenet_seed.py) shaped for `state`: num_classes
    from fc.weight, aux_logits from the presence of aux1.*."""
    aux = any(name.startswith("aux1.") for name in state)
    return _seed_module().GoogLeNet(num_classes=_num_classes(state, "googlenet-seed"), aux_logits=aux,
                                    init_weights=False)


def build_torchvision(state, transform_input=False):
    """torchvision.models.googlenet shaped for `state` (num_classes, aux_logits), untrained."""
    from torchvision.models import googlenet
    aux = any(name.startswith("aux1.") for name in state)
    return googlenet(weights=None, num_classes=_num_classes(state, "torchvision-googlenet"), aux_logits=aux,
                     init_weights=False, transform_input=transform_input)


def build(kind, state, transform_input=False):
    """The untrained PyTorch module of ctnn-classify's --model `kind`, shaped for `state` (num_classes
    from its classifier, and for the GoogLeNets aux_logits from aux1.*)."""
    if kind == "googlenet-seed":
        return build_seed(state)
    if kind == "torchvision-googlenet":
        return build_torchvision(state, transform_input)
    if kind in ("resnet18", "resnet50", "mobilenet-v2"):
        import torchvision
        return getattr(torchvision.models, kind.replace("-", "_"))(weights=None, num_classes=_num_classes(state, kind))
    raise ConversionError(f"unknown model {kind!r} ({', '.join(CLASSIFIER_WEIGHT)})")


def num_classes(module):
    """The class count of a module that build() made."""
    return module.classifier[-1].out_features if hasattr(module, "classifier") else module.fc.out_features


def load_into(module, state):
    """module.load_state_dict(state, strict=True), then checks every value arrived bit for bit
    (after the conversion to the module's dtype that load_state_dict does). Returns the count."""
    expected = module.state_dict()
    missing = [n for n in expected if n not in state]
    unexpected = [n for n in state if n not in expected]
    mismatched = [f"{n} {list(state[n].shape)} (module: {list(t.shape)})" for n, t in expected.items()
                  if n in state and state[n].shape != t.shape]
    if missing or unexpected or mismatched:
        def listing(what, names):
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            return f"{len(names)} {what} ({', '.join(names[:3])}{more})"
        parts = [listing(what, names) for what, names in (("missing", missing), ("unexpected", unexpected),
                                                          ("with another shape", mismatched)) if names]
        raise ConversionError(f"load_state_dict(strict=True) into {type(module).__module__}."
                              f"{type(module).__name__} would fail: tensors " + "; ".join(parts))
    module.load_state_dict(state, strict=True)
    loaded = module.state_dict()
    for name, tensor in loaded.items():
        if not torch.equal(tensor, state[name].to(tensor.dtype)):
            raise ConversionError(f"tensor {name!r} differs after load_state_dict")
    return len(loaded)
