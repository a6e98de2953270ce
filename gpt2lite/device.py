"""Where to run (CUDA, Apple's MPS or the CPU), in which precision, and with which random seed."""

from __future__ import annotations

import contextlib
import os
import random
from typing import ContextManager

import numpy as np
import torch

from .validate import choice as _choice
from .validate import in_range, integer

DEVICE_ENV = "GPT2LITE_DEVICE"  # e.g. GPT2LITE_DEVICE=cpu forces the CPU without touching the code
AMP_CHOICES = ("auto", "fp32", "bf16", "fp16")


def get_device(override: str | torch.device | None = None) -> torch.device:
    """The device to use: override, else $GPT2LITE_DEVICE, else the best available (CUDA, MPS, CPU)."""
    if override is not None and not isinstance(override, (str, torch.device)):
        raise TypeError(f"a device is a str such as 'cpu', 'cuda' or 'cuda:1', or a torch.device, "
                        f"got {type(override).__name__} {override!r}")
    choice = override if override is not None else os.environ.get(DEVICE_ENV)
    if choice:
        return _checked_device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _checked_device(choice: str | torch.device) -> torch.device:
    """torch.device(choice), with a clear error if it is not a device this machine has."""
    try:
        device = torch.device(choice)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"unknown device {choice!r} (from the argument or ${DEVICE_ENV}); use 'cpu', 'cuda', 'cuda:1' or 'mps'"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {choice!r} asked for, but PyTorch sees no CUDA GPU here; use 'cpu'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {choice!r} asked for, but there are only {torch.cuda.device_count()} GPUs")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {choice!r} asked for, but MPS is not available here; use 'cpu'")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device type {device.type!r} is not supported; use 'cpu', 'cuda' or 'mps'")
    return device


def autocast_dtype(device: torch.device, choice: str = "auto") -> torch.dtype | None:
    """The low-precision dtype for mixed-precision training on device, or None for plain fp32.

    "auto" picks bf16 on GPUs that have it (Ampere and newer), fp16 on older GPUs such as Colab's T4
    (fp16 needs a GradScaler, because its small range lets gradients underflow), and fp32 elsewhere.
    """
    choice = _choice("dtype", choice, AMP_CHOICES)
    device = _as_device(device)
    if choice == "fp32":
        return None
    if choice == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if _cuda_has_bf16(device) else torch.float16
    if choice == "fp16" and device.type != "cuda":
        raise ValueError(f"fp16 mixed precision needs a CUDA GPU; on {device.type} use 'bf16' or 'fp32'")
    if choice == "bf16" and device.type == "cuda" and not _cuda_has_bf16(device):
        raise ValueError(f"{torch.cuda.get_device_name(device)} has no native bf16; use 'fp16' or 'auto'")
    return torch.bfloat16 if choice == "bf16" else torch.float16


def _as_device(device: object) -> torch.device:
    """device as a torch.device ("cuda" works too), or a TypeError: the functions below read its type."""
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a torch.device or a str such as 'cpu', got {type(device).__name__}")
    try:
        return torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda', 'cuda:1' or 'mps'") from None


def _cuda_has_bf16(device: torch.device) -> bool:
    # Compute capability 8.0 (Ampere) and newer compute in bf16 natively; older GPUs only emulate it, slowly.
    return torch.cuda.get_device_capability(device)[0] >= 8


def inference_dtype(device: torch.device | str) -> torch.dtype:
    """The dtype for fast inference on device: a 2-byte float where the hardware has one, else float32.

    Generating one token reads every weight once, so at batch 1 speed is set by memory bandwidth: 2-byte
    weights (``model.to(inference_dtype(device))``) halve the bytes and nearly double the tokens per second.
    On a CUDA GPU: bfloat16 on Ampere and newer, float16 on older GPUs (a T4, say), which lack bf16. On a CPU:
    bfloat16 where it has AVX512-BF16 or AMX, for oneDNN's matrix products; elsewhere bf16 would be emulated,
    slower than fp32, so float32.
    """
    device = _as_device(device)
    if device.type == "cuda":
        return torch.bfloat16 if _cuda_has_bf16(device) else torch.float16
    if device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return torch.float32


def autocast(device: torch.device, dtype: torch.dtype | None) -> ContextManager:
    """A context in which matmuls run in dtype (see ``autocast_dtype``); does nothing for None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's (CPU and all GPUs) random number generators.

    The seed is an integer in [0, 2**32), the range that all three take (NumPy's is the smallest).
    """
    seed = integer("seed", seed)
    in_range("seed", seed, 0 <= seed < 2**32, "an integer in [0, 2**32)")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
