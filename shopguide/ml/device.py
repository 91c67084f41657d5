"""Device selection, mixed precision and seeding shared by every model in ``shopguide.ml``."""

from __future__ import annotations

import contextlib
import random
from contextlib import AbstractContextManager

import numpy as np
import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a device name into a ``torch.device``.

    Args:
        device: ``"auto"`` (CUDA when available, else CPU) or any name torch accepts
            (``"cpu"``, ``"cuda"``, ``"cuda:1"``).

    Raises:
        RuntimeError: a CUDA device was asked for explicitly but CUDA is not available.
    """
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was requested but CUDA is not available")
    return resolved


def autocast_context(device: torch.device) -> AbstractContextManager[object]:
    """bf16 autocast on CUDA, a no-op context on CPU.

    CPU autocast is left off on purpose: on most CPUs bf16 convolutions are slower than fp32
    and the results would differ from the deterministic fp32 path the tests rely on.
    """
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (all CUDA devices included)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
