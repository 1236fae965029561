"""Hierarchical Advantage Estimation (HAE), HiPER arXiv 2602.16165 (equations: docs/credit.md).

An episode is cut into segments (options). Segment k covers steps `[s_k, e_k]`, has length `d_k = e_k - s_k + 1`
and is opened by a SWITCH (step 0 and the step after a done always open one). Three advantages come out:

- low level (executor, every step): GAE inside the segment, bootstrapping at its last step from the
  high-level value of the next segment's start (the SMDP boundary); the recursion never crosses a boundary;
- high level (planner, segment starts only): GAE over segments, with the segment return
  `R_k = sum_j gamma^j r[s_k + j]` and the bootstrap `gamma^{d_k} V_high[s_{k+1}]`;
- switch (KEEP/SWITCH decision, every step, when a switch critic is given): the return to the segment's end
  plus the same bootstrap, minus `V_switch[t]`.

An optional `executor_bonus` (a part of the reward meant for the executor alone, such as a subgoal-completion
bonus) enters the low level only; the high level and the switch return see `rewards - executor_bonus`.

`hae` is the reference: an explicit loop over segments that reads like the equations. `hae_batch` computes the
same numbers for padded `(B, T)` batches as a handful of linear backward scans `x_t = b_t + c_t x_{t+1}` that
run over time and are vectorized over the batch; the tests check that the two agree.
"""

from __future__ import annotations

import numpy as np

from hiper_agent.credit.types import ArrayLike, HAEResult, backward_scan, check_shapes, to_numpy

__all__ = ["hae", "hae_batch", "segment_starts"]


def segment_starts(switches: ArrayLike, dones: ArrayLike, mask: ArrayLike | None = None) -> np.ndarray:
    """Marks the first step of every segment.

    A segment starts at step 0, at every SWITCH, and at the step after a done (a new episode always opens a
    new option). Works on `(T,)` or `(B, T)`; padding (where `mask` is false) never starts a segment.

    Returns:
        Boolean numpy array with the shape of `switches`.
    """
    start = to_numpy(switches, bool).copy()
    done = to_numpy(dones, bool)
    if start.shape[-1] > 0:
        start[..., 0] = True
        start[..., 1:] |= done[..., :-1]
    if mask is not None:
        start &= to_numpy(mask, bool)
    return start


def hae(
    rewards: ArrayLike,
    dones: ArrayLike,
    switches: ArrayLike,
    values_low: ArrayLike,
    values_high: ArrayLike,
    *,
    gamma: float = 1.0,
    lam_low: float = 1.0,
    lam_high: float = 0.95,
    values_switch: ArrayLike | None = None,
    bootstrap_truncated: bool = False,
    last_value: float | None = None,
    executor_bonus: ArrayLike | None = None,
) -> HAEResult:
    """HAE for one trajectory: the reference loop.

    Every array argument has shape `(T,)`, one entry per environment step (turn); numpy arrays or torch
    tensors, and the result is of the same kind.

    Args:
        rewards: `r[t]`, the (possibly shaped) reward of step t.
        dones: MDP termination after step t (success, purchase, death). Nothing is bootstrapped past a done;
            if steps follow, they belong to a new episode and open a new segment.
        switches: True where the agent chose SWITCH at step t. `switches[0]` is treated as True.
        values_low: `V_low[t] = V(s_t, o_t)`, the executor critic after the subgoal of step t is known.
        values_high: `V_high[t] = V(s_t)` at a segment start; read only where a segment starts.
        gamma: Discount per environment step (the reference uses 1.0).
        lam_low: GAE lambda inside a segment (1.0 = Monte-Carlo to the segment's end, the reference default).
        lam_high: GAE lambda across segments (0.95 in the reference).
        values_switch: `V_switch[t] = V(s_t, o_{t-1})`, the critic before the KEEP/SWITCH decision. When given,
            `adv_switch` and `ret_switch` are computed.
        bootstrap_truncated: What to do when the trajectory ends without a done, i.e. it was cut by the step
            limit (time-limit truncation, which is not part of the MDP). False: treat the cut as terminal
            (value 0). True: bootstrap the last segment from `last_value`; without it, each level falls
            back to its own latest estimate, `V_low[T-1]` for the low level and `V_high` at the last
            segment's start for the high level (an approximation that assumes the value barely changes).
        last_value: `V(s_T, o_{K})`, the value of the state reached after the final step while the current
            option is still active (the critic read before the next KEEP/SWITCH decision). Used only when
            `bootstrap_truncated` and the trajectory is truncated.
        executor_bonus: `(T,)` the part of `rewards` that belongs to the executor alone. The low level learns
            from `rewards`; the high level and the switch return from `rewards - executor_bonus`, so a planner
            cannot raise its return by proposing subgoals that are easy to complete. None: all zeros.

    Returns:
        HAEResult with `(T,)` arrays: adv_low, adv_high (non-zero only at segment starts), ret_low, ret_high,
        segment_start, segment_ids, and adv_switch / ret_switch when `values_switch` was given.

    Special cases (tested):
        - every step a SWITCH: each segment is one step, so `adv_high` is flat GAE with `lam = lam_high`
          on `values_high`, and `adv_low` is the one-step TD error towards `V_high[t+1]`;
        - `lam_low = lam_high = 1`: both levels are Monte-Carlo returns minus their critic, the low level
          bootstrapping from `V_high` at the next segment start;
        - one segment, `lam_low = 1`, `gamma = 1`: `ret_low[t]` is the Monte-Carlo return from t plus the
          truncation bootstrap.
    """
    r_low = to_numpy(rewards)
    r = r_low if executor_bonus is None else r_low - to_numpy(executor_bonus)  # what the planner sees
    done = to_numpy(dones, bool)
    v_low = to_numpy(values_low)
    v_high = to_numpy(values_high)
    v_switch = None if values_switch is None else to_numpy(values_switch)
    check_shapes(1, rewards=r, dones=done, switches=to_numpy(switches, bool), values_low=v_low, values_high=v_high)
    if v_switch is not None and v_switch.shape != r.shape:
        raise ValueError(f"values_switch has shape {v_switch.shape}, expected {r.shape} like rewards")
    T = len(r)
    start = segment_starts(switches, done)
    bounds = np.flatnonzero(start).tolist() + [T]
    segments = [(s, e - 1) for s, e in zip(bounds[:-1], bounds[1:], strict=True)]  # inclusive [s_k, e_k]

    adv_low = np.zeros(T)
    adv_high = np.zeros(T)
    ret_switch = np.zeros(T)
    last_gae_lam_high = 0.0  # A_high of the segment that follows the current one
    for k in reversed(range(len(segments))):
        s, e = segments[k]
        d = e - s + 1
        # What follows the segment's last step: a done (nothing), a new segment (the SMDP bootstrap into
        # the planner's value), or the end of a truncated trajectory (bootstrap only if asked to).
        if done[e]:
            next_non_terminal, boot_low, boot_high = 0.0, 0.0, 0.0
        elif e + 1 < T:
            next_non_terminal, boot_low, boot_high = 1.0, v_high[e + 1], v_high[e + 1]
        elif bootstrap_truncated:
            next_non_terminal = 1.0
            boot_low = v_low[e] if last_value is None else float(last_value)
            boot_high = v_high[s] if last_value is None else float(last_value)
        else:
            next_non_terminal, boot_low, boot_high = 0.0, 0.0, 0.0

        # (1) Low level: GAE inside the segment. The recursion restarts at every segment's last step.
        last_gae_lam = 0.0
        for t in reversed(range(s, e + 1)):
            if t == e:
                next_values, next_nt = boot_low, next_non_terminal
            else:
                next_values, next_nt = v_low[t + 1], 1.0
            delta = r_low[t] + gamma * next_nt * next_values - v_low[t]
            last_gae_lam = delta + gamma * lam_low * next_nt * last_gae_lam
            adv_low[t] = last_gae_lam

        # (2) High level: one SMDP transition per segment, discounted by gamma^{d_k}.
        seg_return = sum(gamma**j * r[s + j] for j in range(d))
        delta_high = seg_return + gamma**d * next_non_terminal * boot_high - v_high[s]
        last_gae_lam_high = delta_high + gamma**d * lam_high * next_non_terminal * last_gae_lam_high
        adv_high[s] = last_gae_lam_high

        # (3) Switch: the return up to the segment's end plus the same bootstrap as the low level.
        ret = next_non_terminal * boot_low
        for t in reversed(range(s, e + 1)):
            ret = r[t] + gamma * ret
            ret_switch[t] = ret

    result = HAEResult(
        adv_low=adv_low,
        adv_high=adv_high,
        ret_low=adv_low + v_low,
        ret_high=np.where(start, adv_high + v_high, 0.0),
        segment_start=start,
        segment_ids=np.cumsum(start) - 1,
        adv_switch=None if v_switch is None else ret_switch - v_switch,
        ret_switch=None if v_switch is None else ret_switch,
    )
    return result.as_kind(rewards)


def hae_batch(
    rewards: ArrayLike,
    dones: ArrayLike,
    switches: ArrayLike,
    values_low: ArrayLike,
    values_high: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    gamma: float = 1.0,
    lam_low: float = 1.0,
    lam_high: float = 0.95,
    values_switch: ArrayLike | None = None,
    bootstrap_truncated: bool = False,
    last_values: ArrayLike | None = None,
    executor_bonus: ArrayLike | None = None,
) -> HAEResult:
    """HAE for a padded batch, vectorized over the batch; same numbers as `hae` on each row.

    Args:
        rewards: `(B, T)`; the other per-step arrays have the same shape and meaning as in `hae`.
        dones: `(B, T)` MDP terminations.
        switches: `(B, T)` SWITCH flags (column 0 is treated as True).
        values_low: `(B, T)` executor values `V(s_t, o_t)`.
        values_high: `(B, T)` planner values, read only at segment starts.
        mask: `(B, T)` True on real steps. Each row's steps come first, then padding (a prefix mask). A row
            that ends without a done is truncated. `None` means no padding.
        gamma: See `hae`.
        lam_low: See `hae`.
        lam_high: See `hae`.
        values_switch: Optional `(B, T)` switch-critic values.
        bootstrap_truncated: See `hae`.
        last_values: Optional `(B,)` values `V(s_T, o_K)` after each row's last step (see `hae`).
        executor_bonus: Optional `(B, T)` part of `rewards` for the executor alone (see `hae`).

    Returns:
        HAEResult of `(B, T)` arrays, zero on padding (`segment_ids` is -1 there).
    """
    r = to_numpy(rewards)
    if r.ndim != 2:
        raise ValueError(f"hae_batch expects (B, T) rewards, got shape {r.shape}; use hae for one trajectory")
    valid = np.ones(r.shape, dtype=bool) if mask is None else to_numpy(mask, bool)
    done = to_numpy(dones, bool) & valid
    check_shapes(
        2,
        rewards=r,
        dones=done,
        switches=to_numpy(switches, bool),
        mask=valid,
        values_low=to_numpy(values_low),
        values_high=to_numpy(values_high),
    )
    if (valid[:, 1:] & ~valid[:, :-1]).any():
        raise ValueError("mask must be a prefix in every row: real steps first, then padding")
    B, T = r.shape
    if T == 0:  # nothing to credit; keeps the indexing below simple
        empty = np.zeros((B, 0))
        sw = None if values_switch is None else empty
        return HAEResult(empty, empty, empty, empty, empty.astype(bool), empty.astype(int), sw, sw).as_kind(rewards)
    start = segment_starts(switches, done, valid)
    r_low = np.where(valid, r, 0.0)
    r = r_low if executor_bonus is None else np.where(valid, r - to_numpy(executor_bonus), 0.0)
    v_low = np.where(valid, to_numpy(values_low), 0.0)
    v_high = np.where(start, to_numpy(values_high), 0.0)  # read only at segment starts

    # Structure of each row: its last real step, and the steps that end a segment.
    next_valid = np.zeros_like(valid)
    next_valid[:, :-1] = valid[:, 1:]
    last = valid & ~next_valid
    next_start = np.zeros_like(start)
    next_start[:, :-1] = start[:, 1:]
    seg_end = valid & (last | next_start)
    inside = valid & ~seg_end  # the recursion may continue to t + 1

    # Bootstrap at a segment's end: V_high of the next start, or (last step of a truncated row) the
    # truncation value; next_non_terminal is 0 after a done or an unbootstrapped truncation.
    rows = np.arange(B)
    last_idx = np.maximum(valid.sum(1) - 1, 0)
    last_start = np.maximum.accumulate(np.where(start, np.arange(T), 0), axis=1)[rows, last_idx]
    if last_values is not None:
        fallback_low = fallback_high = to_numpy(last_values).reshape(B)
    else:
        fallback_low, fallback_high = v_low[rows, last_idx], v_high[rows, last_start]
    v_high_next = np.zeros_like(v_high)
    v_high_next[:, :-1] = v_high[:, 1:]
    boot_low = np.where(last, fallback_low[:, None], v_high_next)
    boot_high = np.where(last, fallback_high[:, None], v_high_next)
    nnt_end = np.where(done, 0.0, np.where(last, float(bootstrap_truncated), 1.0)) * seg_end
    next_non_terminal = np.where(seg_end, nnt_end, 1.0)

    # (1) low level and (3) switch return, and the pieces of (2): segment return, gamma^{e_k - t + 1},
    # and the segment's bootstrap carried back from its end to its start.
    v_low_next = np.zeros_like(v_low)
    v_low_next[:, :-1] = v_low[:, 1:]
    next_values = np.where(seg_end, boot_low, v_low_next)
    delta = np.where(valid, r_low + gamma * next_non_terminal * next_values - v_low, 0.0)
    adv_low, ret_switch, seg_return, seg_disc, seg_boot, seg_nnt = backward_scan(
        b=[delta, r + gamma * nnt_end * boot_low, r, gamma * seg_end, nnt_end * boot_high, nnt_end],
        c=[gamma * lam_low * inside, gamma * inside, gamma * inside, gamma * inside, inside, inside],
    )
    # (2) high level: delta over the segment, then GAE from segment start to segment start.
    delta_high = np.where(start, seg_return + seg_disc * seg_boot - v_high, 0.0)
    (adv_high,) = backward_scan(b=[delta_high], c=[np.where(start, seg_disc * lam_high * seg_nnt, 1.0)])
    adv_high = np.where(start, adv_high, 0.0)

    v_switch = None if values_switch is None else np.where(valid, to_numpy(values_switch), 0.0)
    result = HAEResult(
        adv_low=adv_low,
        adv_high=adv_high,
        ret_low=np.where(valid, adv_low + v_low, 0.0),
        ret_high=np.where(start, adv_high + v_high, 0.0),
        segment_start=start,
        segment_ids=np.where(valid, np.cumsum(start, axis=1) - 1, -1),
        adv_switch=None if v_switch is None else np.where(valid, ret_switch - v_switch, 0.0),
        ret_switch=None if v_switch is None else np.where(valid, ret_switch, 0.0),
    )
    return result.as_kind(rewards)
