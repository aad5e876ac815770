"""One seed makes a run repeatable on CPU.

:func:`seed_everything` seeds Python's ``random``, NumPy's legacy global state and PyTorch (CPU and
CUDA), asks PyTorch for deterministic kernels, and returns a fresh ``numpy.random.Generator``; all
library code takes explicit generators (never the global state) so results do not depend on call order
elsewhere. :func:`spawn_generators` derives independent child streams (one per task, worker or agent)
from one seed with NumPy's ``SeedSequence``.
"""

from __future__ import annotations

import os
import random

import numpy as np


def _check_seed(seed: object, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
        raise ValueError(f"{name} must be an integer in [0, 2**32); got {seed!r}")
    return int(seed)


def seed_everything(seed: int, *, deterministic_torch: bool = True) -> np.random.Generator:
    """Seed ``random``, NumPy and PyTorch with ``seed`` and return ``np.random.default_rng(seed)``.

    With ``deterministic_torch`` PyTorch uses deterministic algorithms where they exist (warning, not
    failing, where they do not), which makes CPU runs bitwise repeatable. GPU runs are repeatable up to
    the kernels cuBLAS/cuDNN choose; ``CUBLAS_WORKSPACE_CONFIG`` is set for that.
    """
    seed = _check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- third-party code may still use the legacy global state
    import torch

    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if deterministic_torch:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


def spawn_generators(seed: int, n: int) -> list[np.random.Generator]:
    """``n`` statistically independent generators derived from ``seed`` (stable across runs)."""
    seed = _check_seed(seed)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer; got {n!r}")
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(int(n))]


def torch_generator(seed: int, device: object = "cpu"):
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(_check_seed(seed))
    return gen
