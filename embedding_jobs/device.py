"""Automatic choice of the torch device (the same code runs on CPU and CUDA)."""

from __future__ import annotations

import torch

from gfm.errors import StageError

__all__ = ["describe_device", "resolve_device"]


def resolve_device(spec: str = "auto") -> torch.device:
    """Turn a config device string into a torch device.

    Args:
        spec: ``"auto"`` (CUDA when available, else CPU), or any torch device string such as
            ``"cpu"``, ``"cuda"`` or ``"cuda:1"``.

    Returns:
        The device to use.

    Raises:
        StageError: If the string is not a device, or names CUDA on a machine without it.

    """
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise StageError(f"not a torch device: {spec!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise StageError(f"device {spec!r} was asked for but CUDA is not available here; use 'auto'")
    return device


def describe_device(device: torch.device) -> str:
    """Describe a device briefly, e.g. ``cuda:0 (NVIDIA H200)`` or ``cpu (2 threads)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"{device.type} ({torch.get_num_threads()} threads)"
