"""Device selection: ``auto`` picks CUDA when present, else CPU.

Library code never hard-codes ``cpu``: tensors are created on the device of the model or of an explicit
``device`` argument, and leave it with ``.detach().cpu().numpy()`` (never ``.numpy()`` on a device
tensor).
"""

from __future__ import annotations

import re

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")


def get_device(spec: str = "auto"):
    """Return the ``torch.device`` for ``spec``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    Raises ``ValueError`` naming the allowed values for anything else, and ``RuntimeError`` when CUDA
    is asked for explicitly but is not available.
    """
    import torch

    if not isinstance(spec, str):
        raise ValueError(f"device must be a string, one of {', '.join(DEVICE_CHOICES)}; got {spec!r}")
    value = spec.strip().lower()
    if value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if value == "cpu":
        return torch.device("cpu")
    if value == "cuda" or re.fullmatch(r"cuda:\d+", value):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device={spec!r} was requested but CUDA is not available; use 'auto' or 'cpu'")
        return torch.device(value)
    raise ValueError(f"unknown device {spec!r}; allowed values: {', '.join(DEVICE_CHOICES)}")


def set_torch_threads(n: int = 1) -> None:
    """Limit PyTorch's intra-op threads. Small networks are overhead-bound on a 2-core CPU: one thread
    per process (and two processes) beats two threads."""
    import torch

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    torch.set_num_threads(n)
