"""HAE: hand-computed cases, reductions to GAE / Monte-Carlo, and the batched form against the loop."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hiper_agent.credit import gae, hae, hae_batch

T_, F_ = True, False
GARBAGE = 99.0  # values_high away from segment starts must be ignored


def test_six_steps_three_segments_by_hand():
    # segments [0, 1], [2, 4], [5]; the episode terminates after step 5
    r = np.array([1.0, 0.0, 2.0, 0.0, 0.0, 3.0])
    dones = np.array([F_, F_, F_, F_, F_, T_])
    switches = np.array([T_, F_, T_, F_, F_, T_])
    v_low = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    v_high = np.array([2.0, GARBAGE, 4.0, GARBAGE, GARBAGE, 1.0])
    v_switch = np.array([0.0, 0.5, 1.0, 1.0, 1.0, 1.0])
    gamma, lam_low, lam_high = 0.9, 0.5, 0.8
    out = hae(
        r, dones, switches, v_low, v_high, gamma=gamma, lam_low=lam_low, lam_high=lam_high, values_switch=v_switch
    )

    # segment 2 = [5]: done, nothing bootstrapped
    a5 = 3.0 - 3.0  # delta_5 = r5 - V_low[5]
    h5 = 3.0 - 1.0  # R = 3, minus V_high[5]
    # segment 1 = [2, 4]: bootstraps from V_high[5] = 1.0 at its last step, lambda_low recursion inside only
    a4 = 0.0 + 0.9 * 1.0 - 2.5  # -1.6
    a3 = (0.0 + 0.9 * 2.5 - 2.0) + 0.9 * 0.5 * a4  # 0.25 - 0.72 = -0.47
    a2 = (2.0 + 0.9 * 2.0 - 1.5) + 0.9 * 0.5 * a3  # 2.3 - 0.2115 = 2.0885
    h2 = (2.0 + 0.9 * 0.0 + 0.81 * 0.0) + 0.729 * 1.0 - 4.0 + 0.729 * 0.8 * h5  # -1.271 + 1.1664 = -0.1046
    # segment 0 = [0, 1]: bootstraps from V_high[2] = 4.0
    a1 = 0.0 + 0.9 * 4.0 - 1.0  # 2.6
    a0 = (1.0 + 0.9 * 1.0 - 0.5) + 0.9 * 0.5 * a1  # 1.4 + 1.17 = 2.57
    h0 = (1.0 + 0.9 * 0.0) + 0.81 * 4.0 - 2.0 + 0.81 * 0.8 * h2  # 2.24 - 0.0677808 = 2.1722192
    # switch returns: to the segment's end, plus the same bootstrap as the low level
    ret_sw = [1.0 + 0.9 * (0.9 * 4.0), 0.9 * 4.0, 2.0 + 0.9 * 0.81, 0.81, 0.9, 3.0]

    np.testing.assert_allclose(out.adv_low, [a0, a1, a2, a3, a4, a5])
    np.testing.assert_allclose(out.adv_low, [2.57, 2.6, 2.0885, -0.47, -1.6, 0.0])
    np.testing.assert_allclose(out.adv_high, [h0, 0, h2, 0, 0, h5])
    np.testing.assert_allclose(out.adv_high, [2.1722192, 0, -0.1046, 0, 0, 2.0])
    np.testing.assert_allclose(out.ret_low, out.adv_low + v_low)
    np.testing.assert_allclose(out.ret_high, [h0 + 2.0, 0, h2 + 4.0, 0, 0, h5 + 1.0])
    np.testing.assert_allclose(out.ret_switch, ret_sw)
    np.testing.assert_allclose(out.adv_switch, np.array(ret_sw) - v_switch)
    np.testing.assert_array_equal(out.segment_start, switches)
    np.testing.assert_array_equal(out.segment_ids, [0, 0, 1, 1, 1, 2])


def test_done_in_the_middle_of_a_segment_cuts_both_levels_and_opens_a_new_segment():
    r = np.ones(4)
    dones = np.array([F_, T_, F_, F_])
    switches = np.array([T_, F_, F_, F_])  # no SWITCH after the done: the new episode still opens a segment
    v_low = np.full(4, 0.5)
    v_high = np.array([1.0, GARBAGE, 1.0, GARBAGE])
    out = hae(r, dones, switches, v_low, v_high, gamma=1.0, lam_low=1.0, lam_high=1.0)
    # episode 1: G_0 = 2, G_1 = 1, no bootstrap past the done; episode 2 is truncated without bootstrap
    np.testing.assert_allclose(out.adv_low, [2 - 0.5, 1 - 0.5, 2 - 0.5, 1 - 0.5])
    np.testing.assert_allclose(out.adv_high, [2 - 1.0, 0, 2 - 1.0, 0])
    np.testing.assert_array_equal(out.segment_start, [T_, F_, T_, F_])
    # and it is exactly two independent trajectories side by side
    first = hae(r[:2], dones[:2], switches[:2], v_low[:2], v_high[:2], lam_high=0.7, gamma=0.9)
    second = hae(r[2:], dones[2:], [T_, F_], v_low[2:], v_high[2:], lam_high=0.7, gamma=0.9)
    both = hae(r, dones, switches, v_low, v_high, lam_high=0.7, gamma=0.9)
    np.testing.assert_allclose(both.adv_low, np.r_[first.adv_low, second.adv_low])
    np.testing.assert_allclose(both.adv_high, np.r_[first.adv_high, second.adv_high])


@pytest.mark.parametrize(
    ("bootstrap", "last_value", "adv_low", "adv_high"),
    [
        (False, None, [6, 5, -2, -3], [-3, 0, -5, 0]),  # the cut counts as terminal
        (True, None, [6, 5, 2, 1], [3, 0, 1, 0]),  # fallbacks: V_low[T-1] = 4 (low), V_high[s_K] = 6 (high)
        (True, 10.0, [6, 5, 8, 7], [7, 0, 5, 0]),  # V(s_T, o_K) = 10 for both levels
    ],
)
def test_truncated_last_segment(bootstrap, last_value, adv_low, adv_high):
    r = np.array([0.0, 1.0, 0.0, 1.0])
    switches = np.array([T_, F_, T_, F_])
    v_low = np.array([1.0, 2.0, 3.0, 4.0])
    v_high = np.array([5.0, GARBAGE, 6.0, GARBAGE])
    out = hae(
        r,
        np.zeros(4, bool),
        switches,
        v_low,
        v_high,
        gamma=1.0,
        lam_low=1.0,
        lam_high=1.0,
        values_switch=np.zeros(4),
        bootstrap_truncated=bootstrap,
        last_value=last_value,
    )
    # segment 0 is unaffected: 0 + 1 + V_high[2] - V_low
    np.testing.assert_allclose(out.adv_low, adv_low)
    np.testing.assert_allclose(out.adv_high, adv_high)
    if last_value is not None:
        np.testing.assert_allclose(out.ret_switch[2:], [11.0, 11.0])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("gamma", [1.0, 0.9])
@pytest.mark.parametrize("lam_high", [1.0, 0.95, 0.0])
def test_every_step_switch_reduces_to_flat_gae_on_values_high(seed, gamma, lam_high):
    rng = np.random.default_rng(seed)
    T = 7
    r, v_low, v_high = rng.normal(size=(3, T))
    dones = np.zeros(T, bool)
    dones[-1] = seed % 2 == 0
    bootstrap, last_value = seed % 3 > 0, (2.5 if seed % 3 == 2 else None)
    kwargs = {"gamma": gamma, "bootstrap_truncated": bootstrap, "last_value": last_value}
    out = hae(r, dones, np.ones(T, bool), v_low, v_high, lam_low=0.3, lam_high=lam_high, **kwargs)
    flat = gae(r, dones, v_high, gae_lambda=lam_high, **kwargs)
    np.testing.assert_allclose(out.adv_high, flat.advantages)
    np.testing.assert_allclose(out.ret_high, flat.returns)
    # and the low level is the one-step TD error towards the next step's planner value
    np.testing.assert_allclose(out.adv_low[:-1], r[:-1] + gamma * v_high[1:] - v_low[:-1])


@pytest.mark.parametrize("done", [True, False])
def test_single_segment_lam1_gamma1_is_monte_carlo_plus_bootstrap(done):
    rng = np.random.default_rng(3)
    T = 6
    r, v_low, v_high = rng.normal(size=(3, T))
    dones = np.zeros(T, bool)
    dones[-1] = done
    switches = np.zeros(T, bool)
    out = hae(r, dones, switches, v_low, v_high, gamma=1.0, lam_low=1.0, bootstrap_truncated=True, last_value=1.5)
    mc = np.cumsum(r[::-1])[::-1] + (0.0 if done else 1.5)
    np.testing.assert_allclose(out.ret_low, mc)
    np.testing.assert_allclose(out.adv_high, [mc[0] - v_high[0]] + [0.0] * (T - 1))


def test_lambda_one_telescopes_to_monte_carlo_at_both_levels():
    rng = np.random.default_rng(4)
    T, gamma = 9, 0.9
    r, v_low, v_high, v_switch = rng.normal(size=(4, T))
    switches = rng.random(T) < 0.4
    dones = np.zeros(T, bool)
    dones[-1] = True
    out = hae(r, dones, switches, v_low, v_high, gamma=gamma, lam_low=1.0, lam_high=1.0, values_switch=v_switch)
    discounted_to_go = [sum(gamma**j * r[t + j] for j in range(T - t)) for t in range(T)]
    starts = out.segment_start
    np.testing.assert_allclose(out.adv_high[starts], np.array(discounted_to_go)[starts] - v_high[starts])
    np.testing.assert_allclose(out.ret_switch, out.ret_low)  # the switch target is the lam_low = 1 return


def _random_batch(rng, B, T):
    r = rng.normal(size=(B, T))
    dones = rng.random((B, T)) < 0.1
    switches = rng.random((B, T)) < 0.4
    v_low, v_high, v_switch = rng.normal(size=(3, B, T))
    lengths = rng.integers(1, T + 1, size=B)
    mask = np.arange(T)[None] < lengths[:, None]
    return r, dones, switches, v_low, v_high, v_switch, lengths, mask


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("bootstrap", "with_last"), [(False, False), (True, False), (True, True)])
def test_batch_equals_loop(seed, bootstrap, with_last):
    rng = np.random.default_rng(seed)
    B, T = 16, 11
    r, dones, switches, v_low, v_high, v_switch, lengths, mask = _random_batch(rng, B, T)
    last = rng.normal(size=B) if with_last else None
    kw = {"gamma": 0.95, "lam_low": 0.8, "lam_high": 0.7, "bootstrap_truncated": bootstrap}
    out = hae_batch(r, dones, switches, v_low, v_high, mask, values_switch=v_switch, last_values=last, **kw)
    for b, n in enumerate(lengths):
        ref = hae(
            r[b, :n],
            dones[b, :n],
            switches[b, :n],
            v_low[b, :n],
            v_high[b, :n],
            values_switch=v_switch[b, :n],
            last_value=None if last is None else last[b],
            **kw,
        )
        for name in ("adv_low", "adv_high", "ret_low", "ret_high", "adv_switch", "ret_switch", "segment_ids"):
            np.testing.assert_allclose(getattr(out, name)[b, :n], getattr(ref, name), err_msg=name)
        assert not out.adv_low[b, n:].any() and (out.segment_ids[b, n:] == -1).all()


def test_executor_bonus_reaches_the_low_level_only():
    # 5 steps, segments [0, 1] and [2, 4]; a bonus of 1 when each segment's subgoal is achieved (steps 1 and 3)
    r = np.array([0.0, 0.0, 0.0, 0.0, 10.0])
    bonus = np.array([0.0, 1.0, 0.0, 1.0, 0.0])
    dones = np.array([F_, F_, F_, F_, T_])
    switches = np.array([T_, F_, T_, F_, F_])
    v_low, v_high, v_switch = np.full(5, 2.0), np.full(5, 3.0), np.full(5, 1.0)
    kw = {"values_switch": v_switch, "lam_high": 0.5}
    plain = hae(r, dones, switches, v_low, v_high, **kw)
    shaped = hae(r + bonus, dones, switches, v_low, v_high, executor_bonus=bonus, **kw)
    # the planner and the switch see the environment's rewards only ...
    for name in ("adv_high", "ret_high", "adv_switch", "ret_switch"):
        np.testing.assert_allclose(getattr(shaped, name), getattr(plain, name), err_msg=name)
    # ... the executor (lam_low = gamma = 1) gets the bonus still ahead of it inside its segment
    np.testing.assert_allclose(shaped.adv_low - plain.adv_low, [1.0, 1.0, 1.0, 1.0, 0.0])
    out = hae_batch(
        (r + bonus)[None],
        dones[None],
        switches[None],
        v_low[None],
        v_high[None],
        values_switch=v_switch[None],
        lam_high=0.5,
        executor_bonus=bonus[None],
    )
    for name in ("adv_low", "adv_high", "ret_low", "ret_high", "adv_switch", "ret_switch"):
        np.testing.assert_allclose(getattr(out, name)[0], getattr(shaped, name), err_msg=name)


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    r, dones, switches, v_low, v_high, v_switch, _, mask = _random_batch(rng, 4, 6)
    t = {k: torch.tensor(v) for k, v in dict(r=r, d=dones, s=switches, vl=v_low, vh=v_high, vs=v_switch).items()}
    out = hae_batch(t["r"].float(), t["d"], t["s"], t["vl"], t["vh"], torch.tensor(mask), values_switch=t["vs"])
    ref = hae_batch(r, dones, switches, v_low, v_high, mask, values_switch=v_switch)
    assert isinstance(out.adv_low, torch.Tensor) and out.adv_low.dtype == torch.float32
    assert out.segment_start.dtype == torch.bool
    np.testing.assert_allclose(out.adv_high.numpy(), ref.adv_high, rtol=1e-5, atol=1e-5)
    one = hae(t["r"][0], t["d"][0], t["s"][0], t["vl"][0], t["vh"][0])
    assert isinstance(one.adv_low, torch.Tensor) and one.adv_low.dtype == torch.float64


def test_credit_math_imports_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from hiper_agent.credit import hae, gae, grpo, rloo, gigpo, compute_advantages\n"
        "print(hae(np.ones(3), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3)).adv_low)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_input_validation():
    with pytest.raises(ValueError, match="values_low"):
        hae(np.ones(3), np.zeros(3), np.zeros(3), np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="prefix"):
        hae_batch(np.ones((1, 3)), np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 3)), [[1, 0, 1]])
    with pytest.raises(ValueError, match="hae_batch expects"):
        hae_batch(np.ones(3), np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3))


def test_empty_trajectory():
    out = hae(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    assert out.adv_low.shape == (0,)
