"""Monte Carlo unbiasedness of the HAE policy gradient against the exact gradient of a tiny two-level MDP.

What is tested (and what is not). The three-term estimator
`sum_t adv_switch grad log pi(q_t) + adv_high grad log pi(o_t) + adv_low grad log pi(a_t)` is unbiased

- for any lambdas when every critic is exact (each TD error then has conditional mean zero, also the
  ones that the segment boundary, a random stopping time, cuts off);
- with `lam_low = 1` and *arbitrary* `V_low` and `V_switch` (they only act as baselines that depend on the
  state and the option), as long as `V_high` is exact: the low level and the switch bootstrap from it at
  every segment boundary, so an error there is a bias, not a baseline.

The negative control shows the test has power: a wrong `V_high` is detected as bias, even with the default
lambdas, because the low level bootstraps from it at every segment boundary.
"""

from __future__ import annotations

import numpy as np
import pytest

from hiper_agent.credit.synthetic import (
    HierarchicalPolicy,
    exact_gradient,
    exact_gradient_enumeration,
    exact_values,
    random_mdp,
    sample_episodes,
)
from hiper_agent.credit.synthetic_pg import EstimatorSettings, gradient_estimates, perturb_values

N_EPISODES = 20_000
Z_MAX = 4.5  # per component; with ~30 components a false alarm has probability ~2e-4 (the seed is fixed anyway)


@pytest.fixture(scope="module")
def setup():
    mdp = random_mdp(n_states=4, n_actions=2, n_subgoals=2, horizon=5, seed=1)
    policy = HierarchicalPolicy.random(mdp, np.random.default_rng(1))
    _, grad = exact_gradient(mdp, policy)
    episodes = sample_episodes(mdp, policy, N_EPISODES, np.random.default_rng(0))
    return mdp, policy, grad, exact_values(mdp, policy), episodes


def _z_scores(samples: np.ndarray, exact: np.ndarray) -> np.ndarray:
    se = samples.std(0, ddof=1) / np.sqrt(len(samples))
    used = se > 0  # parameters of the terminal state never act: gradient and every sample are 0
    np.testing.assert_allclose(exact[~used], 0.0, atol=1e-12)
    return np.abs(samples.mean(0)[used] - exact[used]) / se[used]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_gradient_three_ways(seed):
    mdp = random_mdp(3, 2, 2, horizon=3, seed=seed, p_terminal=0.2)
    policy = HierarchicalPolicy.random(mdp, np.random.default_rng(seed))
    J_dp, g_dp = exact_gradient(mdp, policy)
    J_enum, g_enum = exact_gradient_enumeration(mdp, policy)
    assert J_dp == pytest.approx(J_enum, abs=1e-12)
    np.testing.assert_allclose(g_dp, g_enum, atol=1e-12)
    theta, eps = policy.params, 1e-6
    fd = [
        (
            exact_gradient(mdp, policy.with_params(theta + eps * e))[0]
            - exact_gradient(mdp, policy.with_params(theta - eps * e))[0]
        )
        / (2 * eps)
        for e in np.eye(len(theta))
    ]
    np.testing.assert_allclose(g_dp, fd, atol=1e-7)


def test_sampler_matches_exact_return(setup):
    mdp, policy, _, values, episodes = setup
    returns = episodes.returns
    se = returns.std() / np.sqrt(len(returns))
    assert abs(returns.mean() - values.v_high[0, mdp.start_state]) < Z_MAX * se


@pytest.mark.parametrize(
    ("lam_low", "lam_high"), [(1.0, 0.95), (0.7, 0.95), (0.5, 0.5)], ids=["default", "lam_low0.7", "lam0.5"]
)
def test_hae_is_unbiased_with_exact_critics(setup, lam_low, lam_high):
    mdp, policy, grad, values, episodes = setup
    samples = gradient_estimates("hae", mdp, policy, episodes, values, EstimatorSettings(lam_low, lam_high))
    assert _z_scores(samples, grad).max() < Z_MAX


def test_hae_is_unbiased_with_arbitrary_low_and_switch_baselines_when_lam_low_is_1(setup):
    mdp, policy, grad, values, episodes = setup
    wrong = perturb_values(values, 1.0, np.random.default_rng(5), which=("v_low", "v_switch"))
    samples = gradient_estimates("hae", mdp, policy, episodes, wrong, EstimatorSettings(lam_low=1.0, lam_high=0.95))
    assert _z_scores(samples, grad).max() < Z_MAX


def test_negative_control_a_wrong_high_critic_is_detected_as_bias(setup):
    mdp, policy, grad, values, episodes = setup
    wrong = perturb_values(values, 2.0, np.random.default_rng(5), which=("v_high",))
    samples = gradient_estimates("hae", mdp, policy, episodes, wrong, EstimatorSettings(lam_low=1.0, lam_high=0.95))
    assert _z_scores(samples, grad).max() > 2 * Z_MAX  # about 3 * Z_MAX with this seed


def test_flat_baselines_in_the_same_harness(setup):
    mdp, policy, grad, values, episodes = setup
    assert _z_scores(gradient_estimates("gae", mdp, policy, episodes, values), grad).max() < Z_MAX
    assert _z_scores(gradient_estimates("rloo", mdp, policy, episodes, values), grad).max() < Z_MAX
