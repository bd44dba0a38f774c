"""Automatic choice of the torch device (the same code runs on CPU and CUDA), and its precision."""

from __future__ import annotations

import contextlib
import os

import torch

from gfm.errors import StageError

__all__ = ["cpu_has_native_bf16", "describe_device", "machine_facts", "precision_context", "resolve_device"]


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


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AVX512-BF16 or AMX).

    Where it does, a bf16 matrix product is several times as fast as a float32 one (a Yelp2018 HGNN
    step, 1.85 times: docs/results.md, round 33); elsewhere bf16 is emulated and slower than float32.
    """
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def machine_facts() -> dict[str, object]:
    """What decides a training run's float rounding, for a benchmark's JSON to record.

    The same code, data and seed give bit-identical vectors on one machine (docs/results.md, round
    39), but the sums of a CPU run are added in another order with another thread count or another
    vector instruction set (``cpu_capability``: ATen's kernels, e.g. ``AVX2`` or ``AVX512``), and a
    40-epoch HGNN carries that into different vectors. Runs are compared where these agree.
    """
    return {
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_native_bf16": cpu_has_native_bf16(),
        "cpu_count": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def precision_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager[object]:
    """The autocast a training step's forward pass runs under.

    Args:
        device: Where the step runs.
        precision: ``"fp32"`` (no autocast) or ``"bf16"`` (matrix products in bfloat16 with float32
            accumulation; weights, optimiser state and the loss stay float32).

    Raises:
        StageError: If the precision is not one of the two.

    """
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    raise StageError(f"unknown training precision {precision!r}: use 'fp32' or 'bf16'")
