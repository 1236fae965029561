"""Fixed evaluation panels and the 95 % intervals reported with them.

A panel is the list of episodes an evaluation plays, set by ``(env_id, split, num_subtasks, episodes, seed)``
and nothing else: episode ``i`` plays game ``i`` of the split (``reset(options={"game_index": i})``) with the
reset seed ``seed + i``. The number of parallel envs, worker order or file discovery never changes which tasks
are played or in what order, so two runs, two methods and two people evaluate on the same games (users of other
agent-RL stacks found that reported gains vanished once their validation sets were fixed this way).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["EvalPanel", "wilson_interval"]


@dataclass(frozen=True)
class EvalPanel:
    """A fixed set of evaluation episodes.

    Example:
        >>> panel = EvalPanel("HiPER/ALFWorld-v0", "valid_unseen", episodes=3, seed=7, num_subtasks=2)
        >>> panel.env_kwargs(), panel.reset_args(1)
        ({'split': 'valid_unseen', 'num_subtasks': 2}, {'seed': 8, 'options': {'game_index': 1}})
    """

    env_id: str
    """Gymnasium id of the env."""
    split: str
    """Held-out split the games come from (passed as ``split=``)."""
    episodes: int
    """Number of episodes: games ``0 .. episodes - 1`` of the split."""
    seed: int = 0
    """Reset seed of episode 0 (episode ``i`` resets with ``seed + i``)."""
    num_subtasks: int | None = None
    """Subtasks per game for envs with composite tasks (ALFWorld's ``K``); None keeps the env's default."""

    def __post_init__(self) -> None:
        if not isinstance(self.episodes, int) or self.episodes <= 0:
            raise ValueError(f"EvalPanel.episodes must be a positive int, got {self.episodes!r}")

    @property
    def name(self) -> str:
        """A stable, readable id, e.g. ``HiPER/ALFWorld-v0:valid_seen:K1:n500:s0``."""
        k = "" if self.num_subtasks is None else f":K{self.num_subtasks}"
        return f"{self.env_id}:{self.split}{k}:n{self.episodes}:s{self.seed}"

    def env_kwargs(self) -> dict[str, Any]:
        """The ``gym.make`` keywords that select the panel's games (merge over the run's own env kwargs)."""
        kwargs: dict[str, Any] = {"split": self.split}
        if self.num_subtasks is not None:
            kwargs["num_subtasks"] = self.num_subtasks
        return kwargs

    def reset_args(self, index: int) -> dict[str, Any]:
        """``env.reset(**panel.reset_args(i))`` starts episode ``i``."""
        if not 0 <= index < self.episodes:
            raise IndexError(f"episode {index} is outside the panel's {self.episodes} episodes")
        return {"seed": self.seed + index, "options": {"game_index": index}}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (written into results and metrics headers)."""
        return {**asdict(self), "name": self.name}


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % for the default ``z``).

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 or ``n`` successes, which is
    where small RL evaluations often sit.

    Example:
        >>> tuple(round(x, 3) for x in wilson_interval(30, 100))
        (0.219, 0.396)
    """
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))
