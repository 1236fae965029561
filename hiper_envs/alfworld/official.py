"""The official ALFWorld data layout: read it (``json_2.1.1/<split>/<task>/<trial>/``) and write games into it.

Reading follows the stock ``alfworld.agents.environment.AlfredTWEnv.collect_game_files``: every folder holding a
``traj_data.json`` is a game, unless its path names a ``movable`` or ``Sliced`` task, its task type is filtered out,
its ``game.tw-pddl`` is missing, or the game is not marked solvable. The instruction is the one the stock env
shows: the ``Your task is to: ...`` line of the game's grammar.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from hiper_envs.alfworld.spec import TASK_TYPES, GameSpec, Subtask

__all__ = [
    "OFFICIAL_SPLITS",
    "SPLIT_ALIASES",
    "OfficialTaskSource",
    "find_official_root",
    "game_folder_name",
    "write_game",
]

#: The split folders of ``json_2.1.1``.
OFFICIAL_SPLITS: tuple[str, ...] = ("train", "valid_seen", "valid_unseen", "valid_train")
#: The stock ``AlfredTWEnv(train_eval=...)`` names of the evaluation splits.
SPLIT_ALIASES: dict[str, str] = {"eval_in_distribution": "valid_seen", "eval_out_of_distribution": "valid_unseen"}

_TASK_LINE = re.compile(r"Your task is to: (.*?)\.?\"", re.DOTALL)


def find_official_root(data_dir: str | os.PathLike[str]) -> str | None:
    """The ``json_2.1.1`` folder of ``data_dir`` (``data_dir/json_2.1.1`` or ``data_dir`` itself), if any."""
    for root in (os.path.join(data_dir, "json_2.1.1"), os.fspath(data_dir)):
        if any(os.path.isdir(os.path.join(root, split)) for split in OFFICIAL_SPLITS):
            return root
    return None


def _task_from_grammar(grammar: str) -> str | None:
    match = _TASK_LINE.search(grammar)
    if match is None or match.group(1).strip() == "UNKNOWN GOAL":
        return None
    return match.group(1).strip()


def _templated_task(traj_data: dict[str, Any]) -> str:
    from hiper_envs.alfworld.problem import goal_sentence

    return goal_sentence(traj_data["task_type"], traj_data["pddl_params"], 0)


class OfficialTaskSource:
    """Games stored in the official ALFWorld layout (the downloaded dataset, or folders written by :func:`write_game`).

    Args:
        data_dir: a folder holding ``json_2.1.1/`` (like ``$ALFWORLD_DATA``), or the ``json_2.1.1`` folder itself.
        split: ``train``, ``valid_seen``, ``valid_unseen``, ``valid_train``, or an alias of the stock env
            (``eval_in_distribution`` = ``valid_seen``, ``eval_out_of_distribution`` = ``valid_unseen``).
        task_types: keep games of these types (by ``traj_data.json``'s ``task_type``); default all six.
        num_games: keep the first ``num_games`` games (sorted by path), like the stock ``num_train_games``.
        cache_size: how many loaded games to keep in memory.

    Example:
        >>> src = OfficialTaskSource(os.environ["ALFWORLD_DATA"], "valid_unseen")  # doctest: +SKIP
        >>> spec = src[0]  # doctest: +SKIP
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        split: str,
        *,
        task_types: Sequence[str] | None = None,
        num_games: int | None = None,
        cache_size: int = 256,
    ) -> None:
        root = find_official_root(data_dir)
        if root is None:
            raise FileNotFoundError(f"no ALFWorld data under {os.fspath(data_dir)!r}: expected json_2.1.1/<split>/")
        canonical = SPLIT_ALIASES.get(split, split)
        if canonical not in OFFICIAL_SPLITS:
            raise ValueError(f"split must be one of {OFFICIAL_SPLITS + tuple(SPLIT_ALIASES)}, got {split!r}")
        wanted = set(TASK_TYPES if task_types is None else task_types)
        if not wanted or not wanted <= set(TASK_TYPES):
            raise ValueError(f"task_types must be a non-empty subset of {TASK_TYPES}, got {task_types!r}")
        self.split = canonical
        self.root = os.path.join(root, canonical)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"split folder {self.root!r} does not exist")
        self.paths = self._collect(wanted)[: num_games if num_games and num_games > 0 else None]
        self._cache: OrderedDict[int, GameSpec] = OrderedDict()
        self._cache_size = cache_size

    def _collect(self, wanted: set[str]) -> list[str]:
        """The game folders the stock env would play, sorted (the stock env keeps ``os.walk`` order)."""
        folders = []
        for folder, _, files in os.walk(self.root):
            if "traj_data.json" not in files:
                continue
            if "movable" in folder or "Sliced" in folder:  # not supported by the text engine, as in the stock env
                continue
            with open(os.path.join(folder, "traj_data.json")) as f:
                if json.load(f).get("task_type") not in wanted:
                    continue
            game_file = os.path.join(folder, "game.tw-pddl")
            if not os.path.exists(game_file):
                continue
            with open(game_file) as f:
                if not json.load(f).get("solvable"):
                    continue
            folders.append(folder)
        return sorted(folders)

    def __len__(self) -> int:
        """Number of games."""
        return len(self.paths)

    def __getitem__(self, index: int) -> GameSpec:
        """The game at ``index``."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"game index {index} out of range for {len(self)} games")
        index %= len(self)
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        spec = self._load(self.paths[index])
        self._cache[index] = spec
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return spec

    def _load(self, folder: str) -> GameSpec:
        with open(os.path.join(folder, "traj_data.json")) as f:
            traj_data = json.load(f)
        game_file = os.path.join(folder, "game.tw-pddl")
        with open(game_file) as f:
            game = json.load(f)
        task = _task_from_grammar(game["grammar"]) or _templated_task(traj_data)
        extra = traj_data.get("hiper")
        if extra:  # written by our generator: keep the composite structure
            subtasks = tuple(Subtask(s["task_type"], s["goal"], dict(s["pddl_params"])) for s in extra["subtasks"])
            task_type = extra["task_type"]
        else:
            subtasks = (Subtask(traj_data["task_type"], task, dict(traj_data["pddl_params"])),)
            task_type = traj_data["task_type"]
        return GameSpec(
            game_id=os.path.relpath(folder, self.root).replace(os.sep, "/"),
            split=self.split,
            task=task,
            task_type=task_type,
            subtasks=subtasks,
            game=game,
            traj_data=traj_data,
            path=game_file,
        )


def game_folder_name(spec: GameSpec) -> str:
    """The task folder name in the official style, ``<task_type>-<Obj>-<Mrecep>-<Recep>-<scene>``.

    ``Recep`` is the lamp for ``look_at_obj_in_light``, as in ALFWorld; composite games are named
    ``composite<K>-<Obj1>_<Obj2>...-None-<Recep1>_<Recep2>...-<scene>``.
    """
    scene = spec.traj_data.get("scene", {}).get("scene_num", 0)

    def recep(s: Subtask) -> str:
        return s.pddl_params["parent_target"] or s.pddl_params["toggle_target"] or "None"

    if len(spec.subtasks) == 1:
        (s,) = spec.subtasks
        mrecep = s.pddl_params["mrecep_target"] or "None"
        return f"{s.task_type}-{s.pddl_params['object_target']}-{mrecep}-{recep(s)}-{scene}"
    objects = "_".join(s.pddl_params["object_target"] for s in spec.subtasks)
    receps = "_".join(recep(s) for s in spec.subtasks)
    return f"composite{len(spec.subtasks)}-{objects}-None-{receps}-{scene}"


def write_game(spec: GameSpec, out_dir: str | os.PathLike[str]) -> str:
    """Write a game as ``out_dir/<task folder>/trial_<id>/{game.tw-pddl,traj_data.json}``.

    The stock ``AlfredTWEnv`` (``dataset.data_path = out_dir``) and :class:`OfficialTaskSource` both read it.

    Returns:
        The game folder.
    """
    trial = spec.traj_data.get("task_id") or f"trial_{spec.game_id}"
    folder = os.path.join(out_dir, game_folder_name(spec), trial)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "game.tw-pddl"), "w") as f:
        json.dump(spec.game, f)
    with open(os.path.join(folder, "traj_data.json"), "w") as f:
        json.dump(spec.traj_data, f, indent=2)
    return folder
