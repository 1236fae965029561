"""Reward shaping, applied per trajectory before the advantages; every term is off by default.

The environment's reward stays sparse (PROTOCOL.md); shaping is the agent's choice. Penalties are given as
non-negative magnitudes and subtracted. The reference configs write some of them with a sign (HiPER's
`keep_penalty=-0.3` is `keep_penalty=0.3` here).

- invalid action: `r[t] -= invalid_action_penalty` on each turn whose action was invalid (reference: 0.1);
- KEEP penalty, `"fixed"`: `r[t] -= keep_penalty` on every KEEP turn (ALFWorld: 0.3);
- KEEP penalty, `"normalized"`: the trajectory pays `keep_penalty * keep_ratio` in total, where
  `keep_ratio = n_keep / T` is the share of its T turns that said KEEP, spread evenly over the KEEP turns,
  i.e. `keep_penalty / T` per KEEP turn. The total stays within `[0, keep_penalty]` whatever the length
  (WebShop: 3.5 against a success reward of 10);
- KEEP consistency: `r[t] -= keep_consistency_penalty` on a turn that said KEEP but wrote a subgoal text
  different from the current one (0.3 in both reference configs);
- switch cost (a deliberation cost, Harb et al., "When Waiting Is Not an Option", AAAI 2018; not in HiPER):
  `r[t] -= switch_cost` on a SWITCH turn `t > 0` whose previous option had not achieved its subgoal (after turn
  `t - 1`). Ending an option once its subgoal is done is free; abandoning or restarting one costs. Without it a
  planner can re-decide every step at no price, and its options shrink to one step: a flat policy;
- subgoal bonus (not in HiPER, which has "no subgoal-completion reward"): `+subgoal_bonus` on the turn that first
  achieves its option's subgoal, as the env verifies it (PROTOCOL.md `subgoal_status`), once per subgoal text
  and trajectory (taking the mug, putting it down and taking it again earns one bonus, not a loop of them). It
  is an *executor* reward: HAE gives it to the low level only (`executor_bonus` in `hae`), so the planner earns nothing by
  proposing easy subgoals; a flat estimator has no executor and sees it as part of the one reward. Dense credit
  for "do what the subgoal says" helps small models, whose typical failure is an action that ignores its subgoal.
- plan progress (potential-based, Ng, Harada & Russell 1999): `+progress_coef * (L[t] - L[t+1])`, where `L` is the
  number of commands an optimal plan still needs (a training env's oracle, e.g. ALFWorld's
  `info["expert_plan_length"]`; 0 once won). With the potential `-L` and gamma 1 it changes no optimal policy,
  and it tells every step whether it helped (+1 per step of an optimal plan), did nothing (0: a move to the
  wrong receptacle) or undid progress (taking an object the goal does not need lengthens the plan). Like the
  subgoal bonus it is an executor reward (`executor_bonus`). Held-out evaluation never sees the oracle.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from hiper_agent.credit.types import ArrayLike, like, to_numpy

__all__ = ["ShapingConfig", "keep_consistency_violations", "shape_rewards", "subgoal_bonus_turns"]


@dataclass
class ShapingConfig:
    """Penalty magnitudes (>= 0, subtracted from the reward); all 0 means no shaping."""

    invalid_action_penalty: float = 0.0
    """Subtracted on every turn whose action was invalid (reference: 0.1)."""
    keep_penalty: float = 0.0
    """KEEP penalty: per KEEP turn (`"fixed"`) or per trajectory times its keep ratio (`"normalized"`)."""
    keep_penalty_mode: Literal["fixed", "normalized"] = "fixed"
    """How `keep_penalty` is applied; see the module docstring."""
    keep_consistency_penalty: float = 0.0
    """Subtracted on a turn that said KEEP but changed the subgoal text (reference: 0.3)."""
    switch_cost: float = 0.0
    """Subtracted on a SWITCH that ends an option before its subgoal was achieved (a deliberation cost)."""
    subgoal_bonus: float = 0.0
    """Executor reward on the turn that first achieves its option's subgoal (env-verified; HiPER: none)."""
    progress_coef: float = 0.0
    """Executor reward per command of plan progress, `L[t] - L[t+1]` (potential-based; see the module docstring)."""

    def __post_init__(self) -> None:
        for name in (
            "invalid_action_penalty",
            "keep_penalty",
            "keep_consistency_penalty",
            "switch_cost",
            "subgoal_bonus",
            "progress_coef",
        ):
            value = getattr(self, name)
            if value < 0:
                raise ValueError(f"{name}={value} must be a non-negative magnitude; pass {-value} instead")
        if self.keep_penalty_mode not in ("fixed", "normalized"):
            raise ValueError(f"keep_penalty_mode must be 'fixed' or 'normalized', got {self.keep_penalty_mode!r}")

    @property
    def active(self) -> bool:
        """Whether any term is non-zero."""
        return bool(
            self.invalid_action_penalty
            or self.keep_penalty
            or self.keep_consistency_penalty
            or self.switch_cost
            or self.subgoal_bonus
            or self.progress_coef
        )


def shape_rewards(
    rewards: ArrayLike,
    config: ShapingConfig,
    *,
    switches: ArrayLike | None = None,
    invalid: ArrayLike | None = None,
    keep_inconsistent: ArrayLike | None = None,
    achieved: ArrayLike | None = None,
) -> ArrayLike:
    """Subtracts the configured penalties from one trajectory's rewards.

    Args:
        rewards: `(T,)` environment rewards.
        config: The penalty magnitudes.
        switches: `(T,)` SWITCH flags (step 0 counts as SWITCH); needed when `keep_penalty > 0`.
        invalid: `(T,)` invalid-action flags (`info["invalid_action"]`); needed when
            `invalid_action_penalty > 0`.
        keep_inconsistent: `(T,)` flags from `keep_consistency_violations`; needed when
            `keep_consistency_penalty > 0`.
        achieved: `(T,)` the env's verdict after each turn, `info["subgoal_status"] == "achieved"`; needed (with
            `switches`) when `switch_cost > 0`.

    Returns:
        `(T,)` shaped rewards, the kind of `rewards`.

    Raises:
        ValueError: A penalty is on but the flags it needs are missing or have the wrong length.
    """
    r = to_numpy(rewards).copy()
    T = len(r)
    if config.invalid_action_penalty:
        r -= config.invalid_action_penalty * _flags(invalid, T, "invalid", "invalid_action_penalty")
    if config.keep_penalty:
        keep = ~_flags(switches, T, "switches", "keep_penalty")
        if T:
            keep[0] = False  # the first step always opens an option
        if config.keep_penalty_mode == "fixed":
            r -= config.keep_penalty * keep
        elif keep.any():  # normalized: total keep_penalty * n_keep / T, spread over the KEEP turns
            r -= config.keep_penalty / T * keep
    if config.keep_consistency_penalty:
        flags = _flags(keep_inconsistent, T, "keep_inconsistent", "keep_consistency_penalty")
        r -= config.keep_consistency_penalty * flags
    if config.switch_cost and T > 1:
        switch = _flags(switches, T, "switches", "switch_cost")
        done = _flags(achieved, T, "achieved", "switch_cost")
        r[1:] -= config.switch_cost * (switch[1:] & ~done[:-1])
    return like(r, rewards)


def keep_consistency_violations(switches: ArrayLike, subgoals: Sequence[str | None]) -> np.ndarray:
    """Flags KEEP turns whose written subgoal differs from the current one.

    The current subgoal is the last one written (PROTOCOL.md: a missing `<subgoal>` keeps the current one).
    Texts are compared after lower-casing and collapsing whitespace. A turn counts only when both texts
    exist (the reference's `keep_consistency_requires_both=True`): writing no subgoal is not a violation.

    Args:
        switches: `(T,)` SWITCH flags.
        subgoals: T subgoal texts as written in each turn's `<subgoal>` block, `None` when missing.

    Returns:
        `(T,)` boolean numpy array.
    """
    sw = to_numpy(switches, bool)
    if len(subgoals) != len(sw):
        raise ValueError(f"got {len(subgoals)} subgoals for {len(sw)} switch flags")
    out = np.zeros(len(sw), dtype=bool)
    current: str | None = None
    for t, text in enumerate(subgoals):
        norm = None if text is None else _normalized(text)
        if t > 0 and not sw[t] and norm is not None and current is not None and norm != current:
            out[t] = True
        if norm is not None:
            current = norm
    return out


def subgoal_bonus_turns(
    starts: ArrayLike, achieved: ArrayLike, subgoals: Sequence[str | None] | None = None
) -> np.ndarray:
    """Flags the turn of each segment at which its subgoal first counts as achieved.

    Args:
        starts: `(T,)` segment-start flags (see `hae.segment_starts`).
        achieved: `(T,)` the env's verdict after each turn, `info["subgoal_status"] == "achieved"` (the env
            latches it until the option ends; a later turn of the same segment never counts again either way).
        subgoals: `(T,)` subgoal texts as written each turn (`None` keeps the current one). When given, a
            subgoal pays once per trajectory: re-achieving it (take the mug, put it down, take it again) is no
            progress, and paying for it teaches the executor a loop.

    Returns:
        `(T,)` boolean numpy array.
    """
    start = to_numpy(starts, bool)
    done = to_numpy(achieved, bool)
    if done.shape != start.shape:
        raise ValueError(f"`achieved` has shape {done.shape}, expected {start.shape} like the segment starts")
    if subgoals is not None and len(subgoals) != len(done):
        raise ValueError(f"got {len(subgoals)} subgoals for {len(done)} turns")
    out = np.zeros_like(done)
    paid, paid_texts, current = False, set(), None
    for t in range(len(done)):
        if subgoals is not None and subgoals[t] is not None:
            current = _normalized(subgoals[t])
        if start[t]:
            paid = current is not None and current in paid_texts  # an unnamed subgoal pays per segment
        if done[t] and not paid:
            out[t] = paid = True
            paid_texts.add(current)
    return out


def _normalized(text: str) -> str | None:
    return re.sub(r"\s+", " ", text).strip().lower() or None


def _flags(x: ArrayLike | None, T: int, name: str, penalty: str) -> np.ndarray:
    if x is None:
        raise ValueError(f"{penalty} > 0 needs the per-turn `{name}` flags")
    flags = to_numpy(x, bool).copy()
    if flags.shape != (T,):
        raise ValueError(f"`{name}` has shape {flags.shape}, expected ({T},) like rewards")
    return flags
