"""Seeding for reproducible, exactly resumable runs: all randomness derives from (seed, iteration, stream).

The design: an iteration never consumes randomness left over from the previous one. At its start the trainer
calls `seed_iteration(seed, it)` (global python/numpy/torch RNGs, so dropout and any library code that uses
them are fixed), and every other consumer draws from its own stream:

    env_seed = iteration_seed(config.run.seed, it, "env_reset")      # one reset seed per group of envs
    gen = torch_generator(iteration_seed(config.run.seed, it, "sampling"))   # token sampling
    perm = torch.randperm(n, generator=torch_generator(iteration_seed(config.run.seed, it, "minibatch")))

Evaluation uses `iteration_seed(config.run.seed, 0, "eval")` at every evaluation, so each one plays the same
held-out episodes. The state of iteration `it` is then a function of (seed, it, weights, optimizer states),
and a checkpoint only needs the weights, optimizer states, iteration and metric history: a resumed run
reproduces an uninterrupted one exactly (bitwise on CPU; on GPU only with deterministic kernels, see
`seed_everything(deterministic=True)`). The global RNG states are still saved with each checkpoint
(`get_rng_state`), so code that ignores this convention resumes correctly too.
"""

from __future__ import annotations

import hashlib
import os
import random
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = [
    "get_rng_state",
    "iteration_seed",
    "seed_everything",
    "seed_iteration",
    "set_rng_state",
    "torch_generator",
]

# Seeds are kept below 2**63 so that every consumer accepts them (torch.manual_seed, gymnasium, numpy).
_SEED_MASK = (1 << 63) - 1


def _stream_key(stream: str) -> int:
    """A stable 64-bit integer for a stream name (Python's `hash` of a str changes between processes)."""
    return int.from_bytes(hashlib.sha256(stream.encode("utf-8")).digest()[:8], "little")


def iteration_seed(base_seed: int, iteration: int, stream: str) -> int:
    """Derives the seed of one randomness stream of one iteration.

    Streams used by the trainer: `env_reset`, `sampling`, `minibatch`, `global` (see `seed_iteration`),
    `eval`, `sft`. Distinct (base_seed, iteration, stream) triples give statistically independent seeds,
    via numpy's `SeedSequence` (the same mechanism as `Generator.spawn`).

    Args:
        base_seed: The run's seed (`HiPERConfig.seed`), >= 0.
        iteration: Iteration index, >= 0.
        stream: Name of the consumer.

    Returns:
        A seed in `[0, 2**63)`, the same on every platform and Python version.

    Raises:
        ValueError: a negative `base_seed` or `iteration`.
    """
    if base_seed < 0 or iteration < 0:
        raise ValueError(f"base_seed ({base_seed}) and iteration ({iteration}) must be >= 0.")
    seq = np.random.SeedSequence(entropy=base_seed, spawn_key=(iteration, _stream_key(stream)))
    state = seq.generate_state(2, dtype=np.uint32)
    return (int(state[0]) | (int(state[1]) << 32)) & _SEED_MASK


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seeds python's `random`, numpy's global RNG and torch (CPU and all GPUs).

    Args:
        seed: Any int; reduced modulo 2**32 for numpy, whose legacy global RNG needs it.
        deterministic: Also ask torch for deterministic kernels (slower; needed for bitwise GPU replays).
    """
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    try:
        import torch
    except ImportError:  # the env-only install has no torch; nothing more to seed
        return
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        # cuBLAS needs this workspace setting for deterministic matmuls (PyTorch reproducibility notes).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def seed_iteration(base_seed: int, iteration: int) -> None:
    """Re-seeds the global RNGs at the start of `iteration` from its `global` stream (dropout etc.)."""
    seed_everything(iteration_seed(base_seed, iteration, "global"))


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh `torch.Generator` on `device` seeded with `seed`, for sampling and shuffles."""
    import torch

    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def get_rng_state() -> dict[str, Any]:
    """The global python/numpy/torch RNG states, as values `torch.load(weights_only=True)` accepts."""
    py_version, py_state, py_gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": [py_version, list(py_state), py_gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }
    try:
        import torch
    except ImportError:
        return state
    state["torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restores the states returned by `get_rng_state` (missing entries are left alone)."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "torch" in state or "torch_cuda" in state:
        import torch

        if "torch" in state:
            torch.set_rng_state(state["torch"])
        if "torch_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["torch_cuda"])
