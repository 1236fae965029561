"""Flat baselines: turn-level GAE, GRPO, RLOO and GiGPO against hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from hiper_agent.credit import gae, gae_batch, gigpo, grpo, rloo

T_, F_ = True, False


@pytest.mark.parametrize(
    ("dones", "bootstrap", "expected"),
    [
        ([F_, F_, T_], False, [1.4 + 0.72 * 0.71, 0.35 + 0.72 * 0.5, 0.5]),  # 1.9112, 0.71, 0.5
        ([F_, F_, F_], True, [1.4 + 0.72 * 2.006, 0.35 + 0.72 * 2.3, 2.0 + 0.9 * 2.0 - 1.5]),  # last_value 2
        ([F_, T_, F_], False, [1.4 - 0.72, -1.0, 0.5]),  # a done in the middle cuts the recursion
    ],
)
def test_gae_by_hand(dones, bootstrap, expected):
    out = gae(
        [1.0, 0.0, 2.0],
        dones,
        [0.5, 1.0, 1.5],
        gamma=0.9,
        gae_lambda=0.8,
        bootstrap_truncated=bootstrap,
        last_value=2.0,
    )
    np.testing.assert_allclose(out.advantages, expected)
    np.testing.assert_allclose(out.returns, np.array(expected) + [0.5, 1.0, 1.5])


def test_gae_lambda_one_is_monte_carlo_minus_value():
    r, v = np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3])
    out = gae(r, [F_, F_, T_], v, gamma=1.0, gae_lambda=1.0)
    np.testing.assert_allclose(out.returns, [6.0, 5.0, 3.0])


def test_gae_truncation_fallback_uses_the_last_value():
    out = gae([0.0, 1.0], [F_, F_], [0.0, 4.0], gamma=1.0, gae_lambda=1.0, bootstrap_truncated=True)
    np.testing.assert_allclose(out.advantages, [5.0, 1.0])  # 1 + V[1] bootstraps the cut


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("bootstrap", [False, True])
def test_gae_batch_equals_loop(seed, bootstrap):
    rng = np.random.default_rng(seed)
    B, T = 12, 9
    r, v = rng.normal(size=(2, B, T))
    dones = rng.random((B, T)) < 0.15
    lengths = rng.integers(1, T + 1, size=B)
    mask = np.arange(T)[None] < lengths[:, None]
    last = rng.normal(size=B) if seed % 2 else None
    out = gae_batch(r, dones, v, mask, gamma=0.97, gae_lambda=0.9, bootstrap_truncated=bootstrap, last_values=last)
    for b, n in enumerate(lengths):
        ref = gae(
            r[b, :n],
            dones[b, :n],
            v[b, :n],
            gamma=0.97,
            gae_lambda=0.9,
            bootstrap_truncated=bootstrap,
            last_value=None if last is None else last[b],
        )
        np.testing.assert_allclose(out.advantages[b, :n], ref.advantages)
        np.testing.assert_allclose(out.returns[b, :n], ref.returns)
        assert not out.advantages[b, n:].any()


def test_grpo_by_hand():
    returns, groups = [1.0, 3.0, 0.0, 0.0, 5.0], ["a", "a", "b", "b", "c"]
    s = np.sqrt(2.0)  # sample std of {1, 3}
    np.testing.assert_allclose(grpo(returns, groups, eps=0.0 + 1e-12), [-1 / s, 1 / s, 0, 0, 0], atol=1e-9)
    # std 0 gives 0 (not NaN); an episode alone in its group gets 0
    np.testing.assert_allclose(grpo(returns, groups, normalize_std=False), [-1, 1, 0, 0, 0])


def test_rloo_by_hand():
    np.testing.assert_allclose(rloo([1.0, 3.0, 1.0, 2.0, 6.0, 7.0], [0, 0, 1, 1, 1, 2]), [-2, 2, -3, -1.5, 4.5, 0])


def test_rloo_is_a_rescaled_mean_baseline():
    rng = np.random.default_rng(0)
    returns = rng.normal(size=8)
    np.testing.assert_allclose(rloo(returns, [0] * 8), 8 / 7 * grpo(returns, [0] * 8, normalize_std=False))


def test_gigpo_by_hand():
    rewards = [np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0])]
    anchors = [["a", "b", "c"], ["a", "c"]]
    out = gigpo([1.0, 0.0], [0, 0], rewards, anchors, gamma=0.95)
    # episode level (mean_norm): +-0.5. Step returns: [0.9025, 0.95, 1] and [0, 0].
    # anchor "a": {0.9025, 0} -> +-0.45125; "c": {1, 0} -> +-0.5; "b" alone -> 0.
    np.testing.assert_allclose(out[0], [0.5 + 0.45125, 0.5, 0.5 + 0.5])
    np.testing.assert_allclose(out[1], [-0.5 - 0.45125, -0.5 - 0.5])
    # anchors of different groups never meet
    out = gigpo([1.0, 0.0], [0, 1], rewards, anchors, gamma=0.95)
    np.testing.assert_allclose(out[0], 0.0)
    # mean_std_norm divides both levels by their std, and the weight scales the step term
    out = gigpo([1.0, 0.0], [0, 0], rewards, anchors, gamma=0.95, mode="mean_std_norm", step_advantage_w=0.5, eps=0)
    s_ep, s_a, s_c = np.std([1, 0], ddof=1), np.std([0.9025, 0], ddof=1), np.std([1, 0], ddof=1)
    np.testing.assert_allclose(out[0], [0.5 / s_ep + 0.5 * 0.45125 / s_a, 0.5 / s_ep, 0.5 / s_ep + 0.5 * 0.5 / s_c])


def test_gigpo_rejects_bad_input():
    with pytest.raises(ValueError, match="mode"):
        gigpo([1.0], [0], [np.zeros(1)], [["a"]], mode="std")
    with pytest.raises(ValueError, match="anchor_obs"):
        gigpo([1.0], [0], [np.zeros(2)], [["a"]])


def test_torch_returns_torch():
    torch = pytest.importorskip("torch")
    adv = grpo(torch.tensor([1.0, 2.0]), [0, 0])
    assert isinstance(adv, torch.Tensor) and adv.dtype == torch.float32
    out = gae(torch.tensor([1.0, 2.0]), torch.tensor([False, True]), torch.tensor([0.0, 0.0]))
    assert isinstance(out.advantages, torch.Tensor)
