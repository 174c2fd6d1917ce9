"""Device and dtype choice, written once for every tool.

CUDA when present (bf16 where the card supports it, else fp16), otherwise CPU in fp32.
Both can be overridden per tool in ``mmagent.yaml``.
"""

from __future__ import annotations

from mmagent.errors import ConfigError

__all__ = ["resolve_device", "resolve_dtype"]

_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
           "bfloat16": "bfloat16", "bf16": "bfloat16"}


def resolve_device(pref: str = "auto") -> str:
    import torch

    if pref == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if pref.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"got device {pref!r}; no CUDA device is available here "
                          "(expected 'auto' or 'cpu')")
    return pref


def resolve_dtype(pref: str, device: str):
    import torch

    if pref == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if pref not in _DTYPES:
        raise ConfigError(f"got dtype {pref!r}; expected 'auto' or one of {sorted(set(_DTYPES))}")
    return getattr(torch, _DTYPES[pref])
