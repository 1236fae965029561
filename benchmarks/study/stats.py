"""Statistics of the hierarchy-vs-flat study: pure functions of per-game outcomes, curves and option counts.

Docs: docs/training.md#hierarchy-vs-flat. Nothing here trains, plays or reads a file.

**Why a two-level bootstrap.** A reported success rate has two sources of noise: the training seed (a run is
one draw of a noisy learner) and the games of the panel (a finite sample of tasks). With 3-5 seeds a t-interval
over seed means ignores the games, and a Wilson interval on the pooled games ignores the seeds, which is the
larger term for RL (the old study's K = 1 arms ranged 5-20 % over 3 seeds). The bootstrap here resamples both:
each replicate draws the seeds with replacement, then the games with replacement, and takes the mean success.
Every run of every arm plays the *same* panel (games ``0 .. n-1``), so a difference between two arms resamples
the games once and applies the same draw to both arms (a paired bootstrap over games, independent over seeds):
a hard game counts against both arms instead of adding its variance twice. Intervals are percentile intervals
(Efron & Tibshirani 1993, ch. 13). With few seeds they are on the narrow side (the seed draw of 3 seeds has
only 10 distinct outcomes); the per-seed values are reported beside them so a reader can see the spread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "BudgetCheck",
    "Interval",
    "OptionStats",
    "bootstrap_difference",
    "bootstrap_replicates",
    "bootstrap_success",
    "budget_check",
    "mean_curve",
    "option_counts",
    "option_stats",
    "steps_to_reach",
]

DEFAULT_REPLICATES = 10_000
#: "Well inside the budget": the best arm reaches half of its final success within this share of the budget.
WELL_INSIDE = 0.5


@dataclass(frozen=True)
class Interval:
    """A point estimate and its 95 % (``confidence``) interval."""

    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return asdict(self)


def _outcomes(x: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """``(seeds, games)`` float array; each row is one training seed's outcomes on the panel's games."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"outcomes must be a non-empty (seeds, games) matrix, got shape {arr.shape}")
    return arr


def _counts(rng: np.random.Generator, n: int, replicates: int) -> np.ndarray:
    """``(replicates, n)``: how often each of ``n`` items is drawn when ``n`` are drawn with replacement."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(float)


def _replicate_means(x: np.ndarray, seed_counts: np.ndarray, game_counts: np.ndarray) -> np.ndarray:
    """Mean success of each replicate: ``sum_ij c_seed[b,i] x[i,j] c_game[b,j] / (S G)``."""
    per_seed = game_counts @ x.T  # (B, S): each seed's resampled games, summed
    return (seed_counts * per_seed).sum(axis=1) / (x.shape[0] * x.shape[1])


def bootstrap_replicates(
    outcomes: Sequence[Sequence[float]] | np.ndarray, *, replicates: int = DEFAULT_REPLICATES, seed: int = 0
) -> np.ndarray:
    """``(replicates,)`` bootstrap means of a ``(seeds, games)`` outcome matrix, seeds and games resampled.

    Example:
        >>> reps = bootstrap_replicates([[1.0, 0.0]], replicates=4000, seed=0)  # 1 seed, 2 games
        >>> sorted(set(reps.tolist())), round(float((reps == 0.5).mean()), 1)  # 0, 1/2, 1 w.p. 1/4, 1/2, 1/4
        ([0.0, 0.5, 1.0], 0.5)
    """
    x = _outcomes(outcomes)
    rng = np.random.default_rng(seed)
    seed_counts = _counts(rng, x.shape[0], replicates)
    game_counts = _counts(rng, x.shape[1], replicates)
    return _replicate_means(x, seed_counts, game_counts)


def _percentile(estimate: float, reps: np.ndarray, confidence: float) -> Interval:
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(reps, [alpha, 1.0 - alpha])
    return Interval(float(estimate), float(low), float(high))


def bootstrap_success(
    outcomes: Sequence[Sequence[float]] | np.ndarray,
    *,
    replicates: int = DEFAULT_REPLICATES,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Mean success over seeds and games with its percentile interval (seeds and games resampled).

    Args:
        outcomes: ``(seeds, games)``: 1 where training seed ``i``'s policy won panel game ``j``, else 0 (a score in
            [0, 1] works too).
        replicates: Bootstrap replicates.
        confidence: Coverage of the interval.
        seed: Seed of the resampling (the same inputs give the same interval).
    """
    x = _outcomes(outcomes)
    return _percentile(float(x.mean()), bootstrap_replicates(x, replicates=replicates, seed=seed), confidence)


def bootstrap_difference(
    a: Sequence[Sequence[float]] | np.ndarray,
    b: Sequence[Sequence[float]] | np.ndarray,
    *,
    replicates: int = DEFAULT_REPLICATES,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Mean success of arm ``a`` minus arm ``b`` on the same panel, with its percentile interval.

    The games are resampled once per replicate for both arms (they played the same games: paired); the seeds
    are resampled independently per arm (separate training runs). The arms may have different seed counts.

    Raises:
        ValueError: The arms were scored on different numbers of games (not the same panel).
    """
    xa, xb = _outcomes(a), _outcomes(b)
    if xa.shape[1] != xb.shape[1]:
        raise ValueError(f"the arms played {xa.shape[1]} and {xb.shape[1]} games: not the same panel")
    rng = np.random.default_rng(seed)
    games = _counts(rng, xa.shape[1], replicates)
    reps = _replicate_means(xa, _counts(rng, xa.shape[0], replicates), games) - _replicate_means(
        xb, _counts(rng, xb.shape[0], replicates), games
    )
    return _percentile(float(xa.mean() - xb.mean()), reps, confidence)


# ---------------------------------------------------------------------------------------------- learning curves
def mean_curve(curves: Sequence[Sequence[Sequence[float]]]) -> list[tuple[float, float]]:
    """The seeds' mean curve: at each evaluation index, mean env steps and mean success.

    Each curve is ``[[env_steps, success], ...]`` at the run's evaluation points (every run of a grid cell
    evaluates at the same iterations; env steps differ a little between seeds because episodes do). Curves are
    cut to the shortest one.
    """
    if not curves or any(len(c) == 0 for c in curves):
        raise ValueError("mean_curve needs at least one non-empty curve")
    n = min(len(c) for c in curves)
    return [(float(np.mean([c[i][0] for c in curves])), float(np.mean([c[i][1] for c in curves]))) for i in range(n)]


def steps_to_reach(curve: Sequence[Sequence[float]], target: float) -> float | None:
    """Env steps at which a (mean) curve first reaches ``target``, linearly interpolated; None if it never does.

    Between the last point below the target and the first at or above it the curve is read as a straight
    line; a curve that starts at or above the target reaches it at its first point.

    Example:
        >>> steps_to_reach([(0, 0.0), (1000, 0.2), (2000, 0.4)], 0.3)
        1500.0
    """
    for i, (x, y) in enumerate(curve):
        if y >= target:
            if i == 0:
                return float(x)
            x0, y0 = curve[i - 1]
            return float(x0 + (target - y0) / (y - y0) * (x - x0))
    return None


@dataclass(frozen=True)
class BudgetCheck:
    """Whether the best arm of one K learned well inside its budget (read from its mean curve).

    ``steps_to_half``: env steps to 50 % of its final success (the issue's criterion); ``steps_to_half_gain``:
    to its start plus 50 % of its gain (stricter when the untrained policy already wins some games).
    """

    arm: str
    final: float
    start: float
    budget: int
    steps_to_half: float | None
    steps_to_half_gain: float | None
    ok: bool
    note: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def budget_check(
    arm: str, curve: Sequence[Sequence[float]], final: float, budget: int, *, well_inside: float = WELL_INSIDE
) -> BudgetCheck:
    """Check that ``arm`` (the best of its K) reaches 50 % of its ``final`` success within ``well_inside * budget``.

    ``curve`` is the arm's mean curve over seeds. A final success of 0 fails the check: the budget taught
    nothing, so it cannot be judged long enough.
    """
    start = float(curve[0][1]) if curve else 0.0
    if final <= 0:
        return BudgetCheck(arm, final, start, budget, None, None, False, "the best arm ends at 0 %: nothing learned")
    half = steps_to_reach(curve, 0.5 * final)
    half_gain = steps_to_reach(curve, start + 0.5 * (final - start)) if final > start else None
    ok = half is not None and half <= well_inside * budget
    if ok and half_gain is not None and half_gain > well_inside * budget:
        note = f"50 % of final by {half:,.0f} steps, but half the gain only at {half_gain:,.0f}"
    elif ok:
        note = f"50 % of final by {half:,.0f} of {budget:,} steps"
    elif final <= start:
        note = "no gain over the untrained policy"
    else:
        note = "50 % of final not reached in the first half of the budget: raise the budget"
    return BudgetCheck(arm, final, start, budget, half, half_gain, ok, note)


# ---------------------------------------------------------------------------------------------- options
@dataclass(frozen=True)
class OptionStats:
    """Options of an arm's evaluation episodes, pooled over seeds."""

    options: int
    steps: int
    one_step: int
    proposed: int
    achieved: int

    @property
    def mean_length(self) -> float | None:
        """Mean option length in env steps."""
        return self.steps / self.options if self.options else None

    @property
    def one_step_share(self) -> float | None:
        """Share of options that lasted one step."""
        return self.one_step / self.options if self.options else None

    @property
    def achieved_rate(self) -> float | None:
        """Subgoals achieved / subgoals proposed (None when no option had a subgoal: a flat policy)."""
        return self.achieved / self.proposed if self.proposed else None

    def to_dict(self) -> dict[str, float | int | None]:
        """Counts and the three ratios."""
        return {
            **asdict(self),
            "mean_length": self.mean_length,
            "one_step_share": self.one_step_share,
            "achieved_rate": self.achieved_rate,
        }


def option_counts(episodes: Sequence[Sequence[Sequence[tuple[bool, bool]]]]) -> OptionStats:
    """Count the options of some episodes, each given as its options (``Trajectory.segments``), each option as
    per-turn flags ``(has_subgoal, subgoal_achieved)``.

    An option counts as proposed when it has a subgoal and as achieved when the env verified that subgoal on any
    of its turns.

    Example:
        >>> option_counts([[[(True, False), (True, True)], [(True, False)]]])
        OptionStats(options=2, steps=3, one_step=1, proposed=2, achieved=1)
    """  # noqa: D205
    options = steps = one_step = proposed = achieved = 0
    for segments in episodes:
        for seg in segments:
            options += 1
            steps += len(seg)
            one_step += len(seg) == 1
            has_subgoal = any(t[0] for t in seg)
            proposed += has_subgoal
            achieved += has_subgoal and any(t[1] for t in seg)
    return OptionStats(options, steps, one_step, proposed, achieved)


def option_stats(records: Sequence[Mapping[str, int]]) -> OptionStats:
    """Pool the option counts of several runs (``OptionStats.to_dict()`` records, e.g. one per seed)."""
    keys = ("options", "steps", "one_step", "proposed", "achieved")
    return OptionStats(*(int(sum(r[k] for r in records)) for k in keys))
