"""``make_task_source``: the games an ALFWorld env plays, generated offline or read from the official data."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

from hiper_envs.alfworld.composite import validate_request
from hiper_envs.alfworld.official import SPLIT_ALIASES, OfficialTaskSource, find_official_root
from hiper_envs.alfworld.procedural import GENERATED_SPLITS, generate_game
from hiper_envs.alfworld.spec import TASK_TYPES, GameSpec, TaskSource

__all__ = ["DEFAULT_NUM_GAMES", "GeneratedTaskSource", "make_task_source"]

#: Default ``len`` of a generated split (the generator itself is unbounded; raise ``num_games`` at will).
#: Train is large enough that an epoch rarely repeats a game; the valid splits hold 1,000 games so that fixed
#: evaluation panels of >= 500 games fit (game ``i`` does not depend on ``num_games``: a longer split only adds games).
DEFAULT_NUM_GAMES: dict[str, int] = {"train": 10_000, "valid_seen": 1_000, "valid_unseen": 1_000}


class GeneratedTaskSource:
    """Procedurally generated games (:func:`~hiper_envs.alfworld.procedural.generate_game`), made on first access.

    ``src[i]`` is a pure function of ``(split, seed, i, num_subtasks, task_types)``; generation plus the planner's
    solvability check takes ~15-50 ms a game, and the last ``cache_size`` games stay in memory.

    Args:
        split: ``train``, ``valid_seen`` or ``valid_unseen`` (``eval_in_distribution`` /
            ``eval_out_of_distribution`` are accepted as aliases of the last two).
        seed: the generator seed.
        num_subtasks: ``K`` subtasks per game (1..5).
        task_types: the task types to draw from (default all six).
        num_games: ``len(src)`` (default :data:`DEFAULT_NUM_GAMES` of the split).
        cache_size: how many games to keep in memory.

    Example:
        >>> src = GeneratedTaskSource("train", seed=0, num_subtasks=2)
        >>> spec = src[7]
        >>> spec.task_type, len(spec.subtasks), spec.game["solvable"]
        ('composite', 2, True)
    """

    def __init__(
        self,
        split: str = "train",
        *,
        seed: int = 0,
        num_subtasks: int = 1,
        task_types: Sequence[str] | None = None,
        num_games: int | None = None,
        cache_size: int = 1024,
    ) -> None:
        split = SPLIT_ALIASES.get(split, split)
        if split not in GENERATED_SPLITS:
            raise ValueError(f"split must be one of {tuple(GENERATED_SPLITS) + tuple(SPLIT_ALIASES)}, got {split!r}")
        types = list(TASK_TYPES if task_types is None else task_types)
        validate_request(num_subtasks, types)
        if num_games is not None and (not isinstance(num_games, int) or num_games <= 0):
            raise ValueError(f"num_games must be a positive int or None, got {num_games!r}")
        self.split = split
        self.seed = int(seed)
        self.num_subtasks = num_subtasks
        self.task_types = tuple(t for t in TASK_TYPES if t in types)
        self.num_games = DEFAULT_NUM_GAMES[split] if num_games is None else num_games
        self._cache: OrderedDict[int, GameSpec] = OrderedDict()
        self._cache_size = cache_size

    def __len__(self) -> int:
        """Number of games (``num_games``)."""
        return self.num_games

    def __getitem__(self, index: int) -> GameSpec:
        """Game ``index`` (``0 <= index < len``; negative indices count from the end)."""
        if not -self.num_games <= index < self.num_games:
            raise IndexError(f"game index {index} out of range for {self.num_games} games")
        index = int(index) % self.num_games
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        spec = generate_game(
            self.split, index, seed=self.seed, num_subtasks=self.num_subtasks, task_types=self.task_types
        )
        self._cache[index] = spec
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return spec

    def __repr__(self) -> str:
        return (
            f"GeneratedTaskSource(split={self.split!r}, seed={self.seed}, num_subtasks={self.num_subtasks}, "
            f"task_types={list(self.task_types)}, num_games={self.num_games})"
        )


def make_task_source(
    split: str = "train",
    *,
    num_subtasks: int = 1,
    task_types: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    num_games: int | None = None,
    seed: int = 0,
    source: Literal["auto", "generated", "official"] = "auto",
) -> TaskSource:
    """The games of one split.

    Args:
        split: ``train``, ``valid_seen`` or ``valid_unseen`` (official data also has ``valid_train``; the stock
            names ``eval_in_distribution``/``eval_out_of_distribution`` are aliases of the valid splits).
        num_subtasks: ``K`` subtasks done in order per episode (1..5); ``K > 1`` needs generated games.
        task_types: keep these task types (default all six of :data:`~hiper_envs.alfworld.spec.TASK_TYPES`).
        data_dir: a folder holding ``json_2.1.1/`` with official ALFWorld games.
        num_games: number of games (generated: ``len``, default 10 000 train / 200 valid; official: keep the
            first ``num_games``).
        seed: the generator seed (generated games only; official games are fixed).
        source: where the games come from:

            - ``"auto"``: the official data when ``data_dir`` is given, or, for ``num_subtasks=1``, when
              ``$ALFWORLD_DATA`` holds ``json_2.1.1/``; generated games otherwise.
            - ``"generated"``: always the offline generator.
            - ``"official"``: always the official data (``data_dir`` or ``$ALFWORLD_DATA``), error if absent.

    Returns:
        An indexable, deterministic :class:`~hiper_envs.alfworld.spec.TaskSource`.
    """
    if source not in ("auto", "generated", "official"):
        raise ValueError(f"source must be 'auto', 'generated' or 'official', got {source!r}")
    official_dir = data_dir
    if official_dir is None and source != "generated" and (num_subtasks == 1 or source == "official"):
        env_dir = os.environ.get("ALFWORLD_DATA")
        official_dir = env_dir if env_dir and find_official_root(env_dir) else None
    if source == "official" and official_dir is None:
        raise FileNotFoundError("source='official' needs data_dir= or $ALFWORLD_DATA holding json_2.1.1/")
    if source == "generated" or official_dir is None:
        return GeneratedTaskSource(
            split, seed=seed, num_subtasks=num_subtasks, task_types=task_types, num_games=num_games
        )
    if num_subtasks != 1:
        raise ValueError(
            f"num_subtasks={num_subtasks} needs generated games (official ALFWorld games have one task each); "
            "drop data_dir or pass source='generated'"
        )
    return OfficialTaskSource(official_dir, split, task_types=task_types, num_games=num_games)
