"""Result containers and the numpy/torch plumbing shared by the credit estimators.

The estimators compute in float64 numpy. Torch tensors are accepted on the way in and given back as tensors
of the same dtype and device, so the core package works with numpy alone (`import torch` happens only when a
tensor was passed in).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

# Anything `np.asarray` understands, or a torch tensor.
ArrayLike = Any

__all__ = ["ArrayLike", "GAEResult", "HAEResult", "whiten"]


def is_torch(x: object) -> bool:
    """Whether `x` is a torch tensor, without importing torch."""
    return type(x).__module__.split(".")[0] == "torch"


def to_numpy(x: ArrayLike, dtype: Any = np.float64) -> np.ndarray:
    """Converts a numpy array, torch tensor or sequence to a numpy array of `dtype`."""
    if is_torch(x):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def like(x: np.ndarray, ref: ArrayLike) -> ArrayLike:
    """Returns `x` as the same kind as `ref`: a tensor (dtype and device of `ref`) or a numpy array."""
    if not is_torch(ref):
        return x
    import torch

    dtype = ref.dtype if ref.is_floating_point() else torch.float32
    if x.dtype.kind in "biu":  # masks and ids keep their integer / bool type
        return torch.from_numpy(x).to(ref.device)
    return torch.from_numpy(x).to(device=ref.device, dtype=dtype)


def whiten(x: ArrayLike, mask: ArrayLike | None = None, eps: float = 1e-8) -> ArrayLike:
    """Normalizes `x` to zero mean and unit std over the entries where `mask` is true (others become 0).

    Args:
        x: Advantages of any shape.
        mask: Boolean array of the same shape; `None` means every entry counts.
        eps: Added to the std so that a constant input gives zeros instead of NaN.

    Returns:
        The whitened advantages, same kind as `x`.
    """
    a = to_numpy(x)
    m = np.ones(a.shape, dtype=bool) if mask is None else to_numpy(mask, bool)
    out = np.zeros_like(a)
    if m.any():
        sel = a[m]
        out[m] = (sel - sel.mean()) / (sel.std() + eps)
    return like(out, x)


@dataclass
class GAEResult:
    """Flat turn-level advantages and critic targets.

    Attributes:
        advantages: Per-step advantage, shape `(T,)` or `(B, T)`; 0 on padding.
        returns: Critic targets `advantages + values`; 0 on padding.
    """

    advantages: ArrayLike
    returns: ArrayLike


@dataclass
class HAEResult:
    """Hierarchical advantages and critic targets, one entry per step (shape `(T,)` or `(B, T)`).

    Attributes:
        adv_low: Executor advantage for the action of every step.
        adv_high: Planner advantage for the subgoal choice; non-zero only where `segment_start`.
        ret_low: Target for the low-level critic (`adv_low + values_low`).
        ret_high: Target for the high-level critic, only where `segment_start` (0 elsewhere).
        segment_start: True at the first step of each segment (step 0, SWITCH steps, the step after a done).
        segment_ids: Index of the segment each step belongs to, from 0; -1 on padding.
        adv_switch: Advantage of the KEEP/SWITCH decision, when `values_switch` was given, else None.
        ret_switch: Target for the switch critic, when `values_switch` was given, else None.
    """

    adv_low: ArrayLike
    adv_high: ArrayLike
    ret_low: ArrayLike
    ret_high: ArrayLike
    segment_start: ArrayLike
    segment_ids: ArrayLike
    adv_switch: ArrayLike | None = None
    ret_switch: ArrayLike | None = None

    def as_kind(self, ref: ArrayLike) -> HAEResult:
        """Returns a copy whose arrays are the same kind as `ref` (numpy or torch)."""
        return HAEResult(**{f.name: _maybe_like(getattr(self, f.name), ref) for f in fields(self)})


def _maybe_like(x: np.ndarray | None, ref: ArrayLike) -> ArrayLike | None:
    return None if x is None else like(x, ref)


def backward_scan(b: list[np.ndarray], c: list[np.ndarray]) -> list[np.ndarray]:
    """Solves `x_t = b_t + c_t * x_{t+1}` with `x_T = 0` for several `(B, T)` recurrences at once.

    Every GAE-like recursion is of this form; the loop runs over time and is vectorized over the batch and
    over the recurrences.
    """
    bb, cc = np.stack(b), np.stack(c)
    x = np.zeros_like(bb)
    carry = np.zeros(bb.shape[:-1])
    for t in reversed(range(bb.shape[-1])):
        carry = bb[..., t] + cc[..., t] * carry
        x[..., t] = carry
    return list(x)


def check_shapes(ndim: int, **arrays: np.ndarray) -> None:
    """Raises ValueError unless `rewards` has `ndim` dimensions and every array has its shape."""
    shape = arrays["rewards"].shape
    if len(shape) != ndim:
        raise ValueError(f"rewards must have {ndim} dimension(s), got shape {shape}")
    for name, a in arrays.items():
        if a.shape != shape:
            raise ValueError(f"{name} has shape {a.shape}, expected {shape} like rewards")
