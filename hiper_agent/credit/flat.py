"""Flat (one-level) advantage baselines: turn-level GAE (PPO), GRPO, RLOO and GiGPO.

These treat a whole turn (switch + subgoal + action) as one action. Equations: docs/credit.md.

- `gae`: Schulman et al. 2016, https://arxiv.org/abs/1506.02438, at the granularity of turns.
- `grpo`: DeepSeekMath, https://arxiv.org/abs/2402.03300: episode return minus the group mean (over std).
- `rloo`: Ahmadian et al. 2024, https://arxiv.org/abs/2402.14740: leave-one-out group baseline.
- `gigpo`: Feng et al. 2025, https://arxiv.org/abs/2505.10978: GRPO at the episode level plus a step-level
  group advantage over identical anchor observations; follows verl-agent's `gigpo/core_gigpo.py`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np

from hiper_agent.credit.types import ArrayLike, GAEResult, backward_scan, check_shapes, like, to_numpy

__all__ = ["gae", "gae_batch", "gigpo", "grpo", "rloo"]


def gae(
    rewards: ArrayLike,
    dones: ArrayLike,
    values: ArrayLike,
    *,
    gamma: float = 1.0,
    gae_lambda: float = 0.95,
    bootstrap_truncated: bool = False,
    last_value: float | None = None,
) -> GAEResult:
    """Turn-level GAE for one trajectory (reference loop).

    Args:
        rewards: `(T,)` per-turn rewards.
        dones: `(T,)` MDP termination after step t; steps after a done belong to a new episode.
        values: `(T,)` critic `V(s_t)`.
        gamma: Discount per turn.
        gae_lambda: GAE lambda; `gae_lambda = 1` gives Monte-Carlo returns minus `V`, `gae_lambda = 0` the one-step TD error.
        bootstrap_truncated: If the trajectory ends without a done (cut by the step limit), bootstrap from
            `last_value`, or from `values[T-1]` when it is not given; otherwise treat the cut as terminal.
        last_value: `V(s_T)` of the state after the final step.

    Returns:
        GAEResult with `(T,)` advantages and returns (`advantages + values`), the kind of `rewards`.
    """
    r, done, v = to_numpy(rewards), to_numpy(dones, bool), to_numpy(values)
    check_shapes(1, rewards=r, dones=done, values=v)
    T = len(r)
    advantages = np.zeros(T)
    last_gae_lam = 0.0
    for t in reversed(range(T)):
        if t == T - 1:  # bootstrap value if truncated (not done) and asked to
            next_non_terminal = 0.0 if done[t] else float(bootstrap_truncated)
            next_values = v[t] if last_value is None else float(last_value)
        else:
            next_non_terminal = 1.0 - done[t]
            next_values = v[t + 1]
        delta = r[t] + gamma * next_non_terminal * next_values - v[t]
        last_gae_lam = delta + gamma * gae_lambda * next_non_terminal * last_gae_lam
        advantages[t] = last_gae_lam
    return GAEResult(like(advantages, rewards), like(advantages + v, rewards))


def gae_batch(
    rewards: ArrayLike,
    dones: ArrayLike,
    values: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    gamma: float = 1.0,
    gae_lambda: float = 0.95,
    bootstrap_truncated: bool = False,
    last_values: ArrayLike | None = None,
) -> GAEResult:
    """Turn-level GAE over a padded `(B, T)` batch (prefix `mask`); same numbers as `gae` on each row.

    Args:
        rewards: `(B, T)`.
        dones: `(B, T)`.
        values: `(B, T)`.
        mask: `(B, T)` True on real steps (first), padding after; `None` means no padding.
        gamma: See `gae`.
        gae_lambda: See `gae`.
        bootstrap_truncated: See `gae`.
        last_values: Optional `(B,)` values after each row's last step.

    Returns:
        GAEResult of `(B, T)` arrays, zero on padding.
    """
    r = to_numpy(rewards)
    valid = np.ones(r.shape, dtype=bool) if mask is None else to_numpy(mask, bool)
    done = to_numpy(dones, bool) & valid
    v = np.where(valid, to_numpy(values), 0.0)
    check_shapes(2, rewards=r, dones=done, values=v, mask=valid)
    if (valid[:, 1:] & ~valid[:, :-1]).any():
        raise ValueError("mask must be a prefix in every row: real steps first, then padding")
    B, T = r.shape
    if T == 0:
        return GAEResult(like(np.zeros((B, 0)), rewards), like(np.zeros((B, 0)), rewards))
    r = np.where(valid, r, 0.0)
    next_valid = np.zeros_like(valid)
    next_valid[:, :-1] = valid[:, 1:]
    last = valid & ~next_valid
    rows, last_idx = np.arange(B), np.maximum(valid.sum(1) - 1, 0)
    fallback = v[rows, last_idx] if last_values is None else to_numpy(last_values).reshape(B)
    next_values = np.zeros_like(v)
    next_values[:, :-1] = v[:, 1:]
    next_values = np.where(last, fallback[:, None], next_values)
    next_non_terminal = np.where(done, 0.0, np.where(last, float(bootstrap_truncated), 1.0)) * valid
    delta = np.where(valid, r + gamma * next_non_terminal * next_values - v, 0.0)
    (advantages,) = backward_scan([delta], [gamma * gae_lambda * next_non_terminal])
    return GAEResult(like(advantages, rewards), like(np.where(valid, advantages + v, 0.0), rewards))


def grpo(
    episode_returns: ArrayLike, group_ids: Sequence[Hashable], *, normalize_std: bool = True, eps: float = 1e-6
) -> ArrayLike:
    """GRPO advantage of each episode: `(R_i - mean_g R) / (std_g R + eps)` within its group.

    Args:
        episode_returns: `(N,)` return of each episode.
        group_ids: `N` hashable ids; episodes of one group started from the same task.
        normalize_std: Divide by the group's sample std (GRPO); False keeps only the mean baseline
            (Dr. GRPO), which leaves the gradient's scale unchanged.
        eps: Added to the std.

    Returns:
        `(N,)` advantages, the kind of `episode_returns`. An episode alone in its group gets 0 (no baseline
        to compare with; verl instead passes the raw return through).
    """
    returns = to_numpy(episode_returns)
    return like(_group_normalize(returns, list(group_ids), normalize_std, eps), episode_returns)


def rloo(episode_returns: ArrayLike, group_ids: Sequence[Hashable]) -> ArrayLike:
    """RLOO advantage: `R_i - mean_{j != i} R_j` over the other episodes of the group (unbiased baseline).

    Args:
        episode_returns: `(N,)` return of each episode.
        group_ids: `N` hashable group ids.

    Returns:
        `(N,)` advantages, the kind of `episode_returns`; 0 for an episode alone in its group.
    """
    returns = to_numpy(episode_returns)
    ids = list(group_ids)
    out = np.zeros_like(returns)
    for idx in _groups(ids).values():
        n = len(idx)
        if n > 1:
            g = returns[idx]
            out[idx] = g - (g.sum() - g) / (n - 1)
    return like(out, episode_returns)


def gigpo(
    episode_returns: ArrayLike,
    group_ids: Sequence[Hashable],
    step_rewards: Sequence[ArrayLike],
    anchor_obs: Sequence[Sequence[Hashable]],
    *,
    step_advantage_w: float = 1.0,
    mode: Literal["mean_norm", "mean_std_norm"] = "mean_norm",
    gamma: float = 0.95,
    eps: float = 1e-6,
) -> list[ArrayLike]:
    """GiGPO: episode-level group advantage plus a step-level advantage over identical anchor states.

    Steps of the same group whose anchor observation (the raw environment observation, without history)
    is identical form a step group; each step's discounted return-to-go is compared with the mean of its step
    group. A step whose anchor occurs once gets step advantage 0.

    Args:
        episode_returns: `(N,)` return of each episode.
        group_ids: `N` group ids.
        step_rewards: N arrays `(T_i,)` of per-step rewards.
        anchor_obs: N sequences of `T_i` hashable anchor observations.
        step_advantage_w: Weight of the step-level term (verl-agent: 1.0).
        mode: `"mean_norm"` subtracts the group mean (verl-agent default); `"mean_std_norm"` also divides
            by the group std. Applies to both levels.
        gamma: Discount of the step returns (verl-agent's GiGPO scripts use 0.95).
        eps: Added to the std.

    Returns:
        N arrays `(T_i,)` of per-step advantages, each the kind of its `step_rewards` entry.
    """
    if mode not in ("mean_norm", "mean_std_norm"):
        raise ValueError(f"gigpo mode must be 'mean_norm' or 'mean_std_norm', got {mode!r}")
    ids = list(group_ids)
    if not len(ids) == len(step_rewards) == len(anchor_obs):
        raise ValueError(
            f"gigpo needs one group id, reward array and anchor list per episode; got {len(ids)}, "
            f"{len(step_rewards)}, {len(anchor_obs)}"
        )
    std = mode == "mean_std_norm"
    episode_adv = _group_normalize(to_numpy(episode_returns), ids, std, eps)
    step_returns = []
    for rew, anchors in zip(step_rewards, anchor_obs, strict=True):
        rew_np = to_numpy(rew)
        if len(anchors) != len(rew_np):
            raise ValueError(f"anchor_obs has {len(anchors)} entries for {len(rew_np)} step rewards")
        (ret,) = backward_scan([rew_np[None]], [np.full((1, len(rew_np)), gamma)])
        step_returns.append(ret[0])
    flat_returns = np.concatenate(step_returns) if step_returns else np.zeros(0)
    keys = [(gid, anchor) for gid, anchors in zip(ids, anchor_obs, strict=True) for anchor in anchors]
    step_adv = _group_normalize(flat_returns, keys, std, eps)
    out, offset = [], 0
    for i, rew in enumerate(step_rewards):
        n = len(step_returns[i])
        out.append(like(episode_adv[i] + step_advantage_w * step_adv[offset : offset + n], rew))
        offset += n
    return out


def _groups(keys: list[Hashable]) -> dict[Hashable, list[int]]:
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key].append(i)
    return groups


def _group_normalize(x: np.ndarray, keys: list[Hashable], normalize_std: bool, eps: float) -> np.ndarray:
    """`x - mean` (over std, sample std with ddof=1) within each key; singletons get 0."""
    if len(keys) != len(x):
        raise ValueError(f"got {len(keys)} group ids for {len(x)} values")
    out = np.zeros_like(x)
    for idx in _groups(keys).values():
        if len(idx) > 1:
            g = x[idx]
            out[idx] = (g - g.mean()) / (g.std(ddof=1) + eps) if normalize_std else g - g.mean()
    return out
