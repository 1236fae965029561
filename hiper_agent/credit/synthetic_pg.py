"""Sampled policy-gradient estimates on the synthetic two-level MDP, one per credit estimator.

Each estimator turns sampled episodes into one gradient vector per episode,

    g = sum_t  w_switch[t] grad log pi(q_t) + w_subgoal[t] q_t grad log pi(o_t) + w_action[t] grad log pi(a_t),

which differ only in the weights:

- `hae`: `w_switch = adv_switch`, `w_subgoal = adv_high`, `w_action = adv_low` (the three-term estimator of
  HiPER's Theorem 4.1; the switch at t = 0 is forced and has no score);
- `gae`: every weight is the flat turn-level GAE advantage on a single critic `V(s_t, o_{t-1})`;
- `grpo`, `grpo_std`, `rloo`: every weight is the episode's group advantage (mean baseline, mean/std, or
  leave-one-out), with groups of `group_size` consecutive episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hiper_agent.credit.flat import gae_batch, grpo, rloo
from hiper_agent.credit.hae import hae_batch
from hiper_agent.credit.synthetic import Episodes, HierarchicalPolicy, TwoLevelMDP, Values

__all__ = [
    "ESTIMATORS",
    "EstimatorSettings",
    "critic_tables",
    "gradient_estimates",
    "perturb_values",
    "score_gradients",
]

ESTIMATORS = ("hae", "gae", "grpo", "grpo_std", "rloo")


@dataclass
class EstimatorSettings:
    """Hyperparameters of the sampled estimators."""

    lam_low: float = 1.0
    lam_high: float = 0.95
    gae_lambda: float = 0.95
    group_size: int = 8


def critic_tables(values: Values, ep: Episodes) -> dict[str, np.ndarray]:
    """Looks the critics up along the episodes: `(N, H)` arrays `v_low`, `v_high`, `v_switch`.

    `v_switch[t] = V(s_t, o_{t-1})` is also the flat agent's critic (its state is the observation plus the
    current subgoal); at t = 0 there is no previous option and it is `V_high(s_0)`.
    """
    H = ep.states.shape[1]
    t = np.broadcast_to(np.arange(H), ep.states.shape)
    v_switch = np.where(
        t == 0, values.v_high[t, ep.states], values.v_switch[t, ep.states, np.maximum(ep.prev_options, 0)]
    )
    return {
        "v_low": values.v_low[t, ep.states, ep.options],
        "v_high": values.v_high[t, ep.states],
        "v_switch": v_switch,
    }


def perturb_values(values: Values, sigma: float, rng: np.random.Generator, *, which: tuple[str, ...] = ()) -> Values:
    """Adds fixed `N(0, sigma^2)` errors to every entry of the chosen critics (all three by default).

    The error is a fixed function of `(t, s, o)`, like a function approximator's, not fresh noise per sample.
    """
    which = which or ("v_switch", "v_high", "v_low")
    out = {}
    for name in ("v_switch", "v_high", "v_low"):
        table = getattr(values, name)
        noisy = table + (sigma * rng.normal(size=table.shape) if name in which else 0.0)
        noisy[-1] = 0.0  # after the horizon every value is exactly 0
        out[name] = noisy
    return Values(q_low=values.q_low, **out)


def score_gradients(
    policy: HierarchicalPolicy, ep: Episodes, w_switch: np.ndarray, w_subgoal: np.ndarray, w_action: np.ndarray
) -> np.ndarray:
    """`(N, D)` per-episode sums of weighted score functions, laid out like `policy.params`."""
    S, K = policy.switch_logits.shape
    A = policy.action_logits.shape[-1]
    N, H = ep.states.shape
    D = 2 * S * K + S * K * A
    beta, pi_o, pi_a = policy.beta, policy.pi_subgoal, policy.pi_action
    rows = np.broadcast_to(np.arange(N)[:, None], (N, H))
    s, o, m = ep.states, ep.options, ep.mask
    o_prev = np.maximum(ep.prev_options, 0)
    idx, val = [], []
    # switch: d log pi(q) / d logit = q - beta; t = 0 is forced, so it has no score
    decided = m & (ep.prev_options >= 0)
    idx.append(s * K + o_prev)
    val.append(decided * (ep.switches - beta[s, o_prev]) * w_switch)
    # subgoal: only drawn on SWITCH steps
    for k in range(K):
        idx.append(S * K + s * K + k)
        val.append((m & ep.switches) * ((o == k) - pi_o[s, k]) * w_subgoal)
    for a in range(A):
        idx.append(2 * S * K + (s * K + o) * A + a)
        val.append(m * ((ep.actions == a) - pi_a[s, o, a]) * w_action)
    flat_idx = np.concatenate([(rows * D + i).ravel() for i in idx])
    weights = np.concatenate([v.ravel() for v in val])
    return np.bincount(flat_idx, weights=weights, minlength=N * D).reshape(N, D)


def gradient_estimates(
    name: str,
    mdp: TwoLevelMDP,
    policy: HierarchicalPolicy,
    ep: Episodes,
    values: Values,
    settings: EstimatorSettings | None = None,
) -> np.ndarray:
    """`(N, D)` per-episode policy-gradient estimates of estimator `name` (one of `ESTIMATORS`).

    Args:
        name: Which estimator.
        mdp: The MDP the episodes came from (for gamma).
        policy: The policy that sampled them.
        ep: The episodes; grouped estimators use groups of `settings.group_size` consecutive episodes.
        values: The critics given to hae and gae (exact, or perturbed with `perturb_values`).
        settings: Lambdas and group size.
    """
    cfg = settings or EstimatorSettings()
    if name == "hae":
        v = critic_tables(values, ep)
        res = hae_batch(
            ep.rewards,
            ep.dones,
            ep.switches,
            v["v_low"],
            v["v_high"],
            ep.mask,
            gamma=mdp.gamma,
            lam_low=cfg.lam_low,
            lam_high=cfg.lam_high,
            values_switch=v["v_switch"],
        )
        return score_gradients(policy, ep, res.adv_switch, res.adv_high, res.adv_low)
    if name == "gae":
        v = critic_tables(values, ep)
        adv = gae_batch(
            ep.rewards, ep.dones, v["v_switch"], ep.mask, gamma=mdp.gamma, gae_lambda=cfg.gae_lambda
        ).advantages
        return score_gradients(policy, ep, adv, adv, adv)
    if name in ("grpo", "grpo_std", "rloo"):
        N = len(ep.rewards)
        if N % cfg.group_size:
            raise ValueError(f"{N} episodes do not split into groups of {cfg.group_size}")
        returns = (ep.rewards * mdp.gamma ** np.arange(ep.rewards.shape[1]) * ep.mask).sum(1)
        groups = np.arange(N) // cfg.group_size
        if name == "rloo":
            adv = rloo(returns, groups.tolist())
        else:
            adv = grpo(returns, groups.tolist(), normalize_std=name == "grpo_std")
        w = np.broadcast_to(adv[:, None], ep.rewards.shape)
        return score_gradients(policy, ep, w, w, w)
    raise ValueError(f"unknown estimator {name!r}; choose from {', '.join(ESTIMATORS)}")
