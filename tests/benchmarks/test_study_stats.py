"""The study's statistics against cases worked by hand (benchmarks/study/stats.py)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.study.stats import (
    OptionStats,
    bootstrap_difference,
    bootstrap_replicates,
    bootstrap_success,
    budget_check,
    mean_curve,
    option_counts,
    option_stats,
    steps_to_reach,
)

REPS = 20_000


def test_bootstrap_constant_outcomes_have_a_point_interval():
    for value in (0.0, 1.0):
        interval = bootstrap_success(np.full((3, 50), value), replicates=2000)
        assert (interval.estimate, interval.low, interval.high) == (value, value, value)


@pytest.mark.parametrize("outcomes", [[[1, 0]], [[1], [0]]], ids=["1 seed x 2 games", "2 seeds x 1 game"])
def test_bootstrap_two_draws_enumerated(outcomes):
    # resampling 2 draws of {1, 0}: mean 0, 1/2, 1 with probabilities 1/4, 1/2, 1/4 (seeds or games alike)
    reps = bootstrap_replicates(outcomes, replicates=REPS, seed=1)
    assert set(np.unique(reps).tolist()) == {0.0, 0.5, 1.0}
    for value, p in ((0.0, 0.25), (0.5, 0.5), (1.0, 0.25)):
        assert abs((reps == value).mean() - p) < 0.02
    interval = bootstrap_success(outcomes, replicates=REPS)
    assert (interval.estimate, interval.low, interval.high) == (0.5, 0.0, 1.0)


def test_bootstrap_nine_of_ten_games_percentiles():
    # 1 seed, 9 wins in 10 games: the bootstrap mean is Binomial(10, 0.9) / 10.
    # P(mean <= 0.6) = P(>= 4 losses) = 1 - 0.3487 - 0.3874 - 0.1937 - 0.0574 = 0.0128 < 2.5 %,
    # P(mean <= 0.7) = 0.0702 > 2.5 %  -> the 2.5 % quantile is 0.7;  P(mean = 1) = 0.9^10 = 0.349 -> 97.5 % is 1.
    interval = bootstrap_success([[1] * 9 + [0]], replicates=REPS)
    assert interval.estimate == pytest.approx(0.9)
    assert (interval.low, interval.high) == (pytest.approx(0.7), 1.0)


def test_bootstrap_seeds_and_games_both_add_variance():
    rng = np.random.default_rng(0)
    games_only = (rng.random((1, 200)) < 0.3).astype(float)
    spread = np.vstack([(rng.random(200) < p) for p in (0.05, 0.3, 0.55)]).astype(float)
    se_games = bootstrap_replicates(games_only, replicates=5000).std()
    assert se_games == pytest.approx(np.sqrt(0.3 * 0.7 / 200), rel=0.15)  # the binomial standard error
    assert bootstrap_replicates(spread, replicates=5000).std() > 2 * se_games  # the seed spread dominates


def test_difference_pairs_the_games():
    x = (np.random.default_rng(1).random((1, 100)) < 0.4).astype(float)
    same = bootstrap_difference(x, x, replicates=2000)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)  # same games, same draw: no spurious gap
    gap = bootstrap_difference(np.ones((2, 10)), np.zeros((3, 10)), replicates=2000)
    assert (gap.estimate, gap.low, gap.high) == (1.0, 1.0, 1.0)
    # 2 seeds of A: 1 and 0 on one game; B always 0: the difference is A's seed mean, enumerated like above
    half = bootstrap_difference([[1], [0]], [[0], [0]], replicates=REPS)
    assert (half.estimate, half.low, half.high) == (0.5, 0.0, 1.0)
    with pytest.raises(ValueError, match="not the same panel"):
        bootstrap_difference(np.ones((1, 10)), np.ones((1, 11)))


def test_bootstrap_is_reproducible_and_checks_its_input():
    x = np.random.default_rng(2).random((3, 20)) < 0.5
    assert bootstrap_success(x, seed=5) == bootstrap_success(x, seed=5)
    with pytest.raises(ValueError, match="seeds, games"):
        bootstrap_success([1, 0, 1])


def test_mean_curve_and_steps_to_reach():
    curves = [[[0, 0.0], [1000, 0.1], [2000, 0.3]], [[0, 0.2], [1100, 0.3], [2100, 0.5], [3000, 0.6]]]
    assert mean_curve(curves) == [(0.0, 0.1), (1050.0, 0.2), (2050.0, 0.4)]
    curve = [(0, 0.0), (1000, 0.2), (2000, 0.4)]
    assert steps_to_reach(curve, 0.3) == 1500.0  # halfway between 0.2 and 0.4
    assert steps_to_reach(curve, 0.2) == 1000.0
    assert steps_to_reach(curve, 0.0) == 0.0  # already there at the start
    assert steps_to_reach(curve, 0.5) is None
    assert steps_to_reach([(0, 0.3), (100, 0.1), (200, 0.5)], 0.4) == 175.0  # first crossing after a dip


def test_budget_check():
    # final 0.4, start 0.1: 50 % of final (0.2) at 1000 + 0.1/0.2 * 1000 = 1500; half the gain (0.25) at 1750
    curve = [(0, 0.1), (1000, 0.1), (2000, 0.3), (4000, 0.4)]
    ok = budget_check("hiper", curve, 0.4, 4000)
    assert (ok.ok, ok.steps_to_half, ok.steps_to_half_gain) == (True, 1500.0, 1750.0)
    late = budget_check("hiper", curve, 0.4, 2000)  # 1500 > 50 % of 2000
    assert not late.ok and "raise the budget" in late.note
    nothing = budget_check("flat-gae", [(0, 0.0), (100, 0.0)], 0.0, 1000)
    assert not nothing.ok and nothing.steps_to_half is None


def test_option_counts_hand_worked():
    # episode 1: a 2-step option whose subgoal was achieved, then a 1-step one that was not;
    # episode 2 (flat): one 3-step option without a subgoal
    hier = [[(True, False), (True, True)], [(True, False)]]
    flat = [[(False, False), (False, False), (False, False)]]
    stats = option_counts([hier, flat])
    assert stats == OptionStats(options=3, steps=6, one_step=1, proposed=2, achieved=1)
    assert (stats.mean_length, stats.one_step_share, stats.achieved_rate) == (2.0, 1 / 3, 0.5)
    assert option_counts([flat]).achieved_rate is None  # a flat policy proposes nothing
    assert option_counts([]) == OptionStats(0, 0, 0, 0, 0) and option_counts([]).mean_length is None
    pooled = option_stats([stats.to_dict(), option_counts([flat]).to_dict()])
    assert pooled == OptionStats(options=4, steps=9, one_step=1, proposed=2, achieved=1)
