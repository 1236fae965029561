"""Registry and the trainer-facing `compute_advantages` / `token_advantages` API."""

from __future__ import annotations

import numpy as np
import pytest

from hiper_agent.credit import (
    AdvantageConfig,
    AdvantageEstimator,
    ShapingConfig,
    TrajectoryArrays,
    compute_advantages,
    gae,
    get_advantage_fn,
    gigpo,
    grpo,
    hae,
    list_advantages,
    register_advantage,
    rloo,
    subgoal_bonus_turns,
    token_advantages,
)

T_, F_ = True, False


def _batch(rng: np.random.Generator, n: int = 6) -> list[TrajectoryArrays]:
    trajs = []
    for i in range(n):
        T = int(rng.integers(2, 7))
        dones = np.zeros(T, bool)
        dones[-1] = i % 3 != 0
        trajs.append(
            TrajectoryArrays(
                rewards=rng.normal(size=T),
                dones=dones,
                switches=rng.random(T) < 0.5,
                values_low=rng.normal(size=T),
                values_high=rng.normal(size=T),
                values_switch=rng.normal(size=T),
                group_id=i // 3,
                anchor_obs=[f"obs{j % 2}" for j in range(T)],
                spans=[{"switch": (0, 1), "subgoal": (1, 3), "action": (3, 5)}] * T,
                response_lengths=[5] * T,
            )
        )
    return trajs


def test_registry_names_and_errors():
    assert set(list_advantages()) >= {"hae", "gae", "grpo", "rloo", "gigpo"}
    assert get_advantage_fn("hae") is get_advantage_fn(AdvantageEstimator.HAE)
    with pytest.raises(ValueError, match="registered: .*gae.*hae"):
        get_advantage_fn("HAE")  # names are case-sensitive
    with pytest.raises(ValueError, match="already registered"):
        register_advantage("hae")(lambda trajs, config: [])

    def mine(trajs, config):
        return []

    register_advantage("test_mine")(mine)
    register_advantage("test_mine")(mine)  # the same function again is fine
    assert compute_advantages("test_mine", _batch(np.random.default_rng(0))) == []


def test_hae_through_the_api_matches_the_function():
    rng = np.random.default_rng(1)
    trajs = _batch(rng)
    cfg = AdvantageConfig(gamma=0.9, lam_low=0.8, lam_high=0.7, bootstrap_truncated=True)
    for traj, adv in zip(trajs, compute_advantages("hae", trajs, cfg), strict=True):
        ref = hae(
            traj.rewards,
            traj.dones,
            traj.switches,
            traj.values_low,
            traj.values_high,
            gamma=0.9,
            lam_low=0.8,
            lam_high=0.7,
            values_switch=traj.values_switch,
            bootstrap_truncated=True,
        )
        np.testing.assert_allclose(adv.adv_low, ref.adv_low)
        np.testing.assert_allclose(adv.adv_high, ref.adv_high)
        np.testing.assert_allclose(adv.ret_switch, ref.ret_switch)
        assert adv.hierarchical


def test_flat_estimators_through_the_api():
    rng = np.random.default_rng(2)
    trajs = _batch(rng)
    returns = np.array([t.rewards.sum() for t in trajs])
    groups = [t.group_id for t in trajs]
    out = compute_advantages("gae", trajs, AdvantageConfig(gae_lambda=0.9))
    np.testing.assert_allclose(
        out[0].adv_low, gae(trajs[0].rewards, trajs[0].dones, trajs[0].values_low, gae_lambda=0.9).advantages
    )
    expected = {"grpo": grpo(returns, groups), "rloo": rloo(returns, groups)}
    for name, episode_adv in expected.items():
        for adv, a in zip(compute_advantages(name, trajs), episode_adv, strict=True):
            np.testing.assert_allclose(adv.adv_low, a)
            assert not adv.hierarchical and not adv.adv_high.any() and adv.adv_switch is None
    ref = gigpo(returns, groups, [t.rewards for t in trajs], [t.anchor_obs for t in trajs])
    for adv, r in zip(compute_advantages("gigpo", trajs), ref, strict=True):
        np.testing.assert_allclose(adv.adv_low, r)


def test_shaping_and_normalization_in_the_api():
    rng = np.random.default_rng(3)
    trajs = _batch(rng)
    cfg = AdvantageConfig(shaping=ShapingConfig(keep_penalty=0.3), normalize=True)
    out = compute_advantages("hae", trajs, cfg)
    sw = trajs[0].switches.copy()
    sw[0] = True
    np.testing.assert_allclose(out[0].rewards, trajs[0].rewards - 0.3 * ~sw)
    low = np.concatenate([a.adv_low for a in out])
    high = np.concatenate([a.adv_high[a.segment_start] for a in out])
    assert abs(low.mean()) < 1e-9 and abs(low.std() - 1) < 1e-6
    assert abs(high.mean()) < 1e-9 and abs(high.std() - 1) < 1e-6
    assert not np.concatenate([a.adv_high[~a.segment_start] for a in out]).any()


def test_subgoal_bonus_goes_to_the_executor_under_hae_and_into_the_return_of_flat_estimators():
    rng = np.random.default_rng(5)
    trajs = _batch(rng)
    for t in trajs:
        t.subgoal_achieved = rng.random(len(t)) < 0.5
    bonus = AdvantageConfig(shaping=ShapingConfig(subgoal_bonus=2.0))
    plain, shaped = compute_advantages("hae", trajs), compute_advantages("hae", trajs, bonus)
    assert any((s.adv_low != p.adv_low).any() for s, p in zip(shaped, plain, strict=True))
    for s, p in zip(shaped, plain, strict=True):
        np.testing.assert_allclose(s.adv_high, p.adv_high)
        np.testing.assert_allclose(s.adv_switch, p.adv_switch)
    returns = [a.rewards.sum() for a in compute_advantages("grpo", trajs, bonus)]
    paid = [
        2.0 * subgoal_bonus_turns(a.segment_start, t.subgoal_achieved).sum() for a, t in zip(plain, trajs, strict=True)
    ]
    np.testing.assert_allclose(returns, [t.rewards.sum() + b for t, b in zip(trajs, paid, strict=True)])
    with pytest.raises(ValueError, match="subgoal_achieved"):
        compute_advantages("hae", _batch(rng), bonus)


def test_plan_progress_is_an_executor_reward_that_telescopes():
    rng = np.random.default_rng(6)
    trajs = _batch(rng)
    for t in trajs:  # plan lengths L[0..T]: progress L[t] - L[t+1] sums to L[0] - L[T]
        lengths = rng.integers(0, 8, len(t) + 1)
        t.plan_progress = (lengths[:-1] - lengths[1:]).astype(float)
    shaping = AdvantageConfig(shaping=ShapingConfig(progress_coef=0.5))
    plain, shaped = compute_advantages("hae", trajs), compute_advantages("hae", trajs, shaping)
    assert any((s.adv_low != p.adv_low).any() for s, p in zip(shaped, plain, strict=True))
    for s, p in zip(shaped, plain, strict=True):  # the planner's advantages do not see it
        np.testing.assert_allclose(s.adv_high, p.adv_high)
    returns = [a.rewards.sum() for a in compute_advantages("grpo", trajs, shaping)]
    np.testing.assert_allclose(returns, [t.rewards.sum() + 0.5 * t.plan_progress.sum() for t in trajs])
    with pytest.raises(ValueError, match="plan_progress"):
        compute_advantages("hae", _batch(rng), shaping)
    with pytest.raises(ValueError, match="non-negative"):
        ShapingConfig(progress_coef=-1.0)


def test_token_advantages_for_whole_trajectories():
    trajs = _batch(np.random.default_rng(4), n=3)
    advs = compute_advantages("hae", trajs)
    tokens = token_advantages(trajs, advs)
    a, t0 = advs[0], tokens[0][0]  # turn 0 starts a segment
    np.testing.assert_allclose(
        t0, np.float32([a.adv_switch[0], a.adv_high[0], a.adv_high[0], a.adv_low[0], a.adv_low[0]])
    )
    flat = token_advantages(trajs, compute_advantages("grpo", trajs))
    np.testing.assert_allclose(flat[1][0], np.full(5, compute_advantages("grpo", trajs)[1].adv_low[0], np.float32))


def test_missing_inputs_name_the_field():
    trajs = [TrajectoryArrays(rewards=np.ones(2), dones=[F_, T_])]
    with pytest.raises(ValueError, match="values_low"):
        compute_advantages("hae", trajs)
    with pytest.raises(ValueError, match="group_id"):
        compute_advantages("grpo", trajs)
    with pytest.raises(ValueError, match="anchor_obs"):
        compute_advantages("gigpo", trajs)
    with pytest.raises(ValueError, match="lam_high"):
        AdvantageConfig(lam_high=1.5)
    rng = np.random.default_rng(5)
    trajs = _batch(rng, 2)
    trajs[0].dones[-1] = trajs[1].dones[-1] = False
    trajs[0].last_value = 1.0
    with pytest.raises(ValueError, match="last_value"):
        compute_advantages("hae", trajs, AdvantageConfig(bootstrap_truncated=True))


def test_flat_agent_without_switches_is_one_segment():
    traj = TrajectoryArrays(rewards=np.ones(3), dones=[F_, F_, T_], values_low=np.zeros(3), values_high=np.zeros(3))
    (adv,) = compute_advantages("hae", [traj], AdvantageConfig(lam_high=1.0))
    np.testing.assert_array_equal(adv.segment_start, [T_, F_, F_])
    np.testing.assert_allclose(adv.adv_low, [3, 2, 1])
    np.testing.assert_allclose(adv.adv_high, [3, 0, 0])
