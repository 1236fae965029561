"""The PPO objective on token masks: clipped policy loss, KL to the reference policy, per-head value losses.

Paper: Schulman et al. 2017, https://arxiv.org/abs/1707.06347. KL estimator "low_var_kl" (k3) as in verl / GRPO:
http://joschu.net/blog/kl-approx.html. The advantages arrive per token, already placed by
``hiper_agent.credit`` (HAE puts the high-level advantage on subgoal tokens of segment starts, the low-level one on
action tokens and the switch advantage on switch tokens; flat estimators put one advantage on every token).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["PPOLossOutput", "kl_penalty", "masked_mean", "policy_loss", "right_aligned", "value_loss"]


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the entries where ``mask`` is true (0 when the mask is empty)."""
    mask = mask.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str = "low_var_kl") -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from the sampled tokens' log-probs.

    - ``k1``: ``log pi - log pi_ref`` (unbiased, high variance, can be negative);
    - ``k2``: ``0.5 (log pi - log pi_ref)^2``;
    - ``low_var_kl`` (k3): ``exp(ref - logp) - (ref - logp) - 1``, non-negative, low variance; clamped to [-10, 10]
      as verl does, so one rare token cannot blow up the loss.
    """
    log_ratio = logprobs - ref_logprobs
    if estimator == "k1":
        return log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio.square()
    if estimator == "low_var_kl":
        kl = torch.exp(-log_ratio) + log_ratio - 1.0
        return kl.clamp(-10.0, 10.0)
    raise ValueError(f"Unknown kl_estimator {estimator!r}: use 'k1', 'k2' or 'low_var_kl'.")


@dataclass
class PPOLossOutput:
    """The loss to minimize and what to log."""

    loss: torch.Tensor
    clip_fraction: torch.Tensor
    approx_kl: torch.Tensor


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float,
) -> PPOLossOutput:
    """Clipped surrogate ``-min(r A, clip(r, 1-eps, 1+eps) A)``, averaged over response tokens.

    Args:
        logprobs: ``(B, T)`` log-probs of the sampled tokens under the current policy.
        old_logprobs: ``(B, T)`` the same under the policy that sampled them.
        advantages: ``(B, T)`` per-token advantages.
        mask: ``(B, T)`` true on response tokens.
        clip_range: epsilon.
    """
    # ratio between new and old policy: exactly one at the first minibatch of an iteration
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean(((ratio - 1.0).abs() > clip_range).float(), mask)
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask)
    return PPOLossOutput(loss, clip_fraction, approx_kl)


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float | None,
) -> torch.Tensor:
    """``0.5 * max((V - R)^2, (V_clip - R)^2)`` over the entries in ``mask`` (PPO's clipped value loss).

    ``clip_range=None`` disables the clipping.
    """
    loss = (values - returns).square()
    if clip_range is not None:
        clipped = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
        loss = torch.maximum(loss, (clipped - returns).square())
    return 0.5 * masked_mean(loss, mask)


def right_aligned(rows: list[np.ndarray], width: int) -> torch.Tensor:
    """``(B, width)`` float32 with row ``b``'s values in its last ``len(rows[b])`` columns (units are right-aligned)."""
    out = torch.zeros((len(rows), width), dtype=torch.float32)
    for b, row in enumerate(rows):
        n = len(row)
        if n:
            out[b, width - n :] = torch.as_tensor(np.asarray(row, dtype=np.float32))
    return out
