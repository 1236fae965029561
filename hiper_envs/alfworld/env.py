"""``HiPER/ALFWorld-v0``: ALFWorld text games with the option protocol, on the real TextWorld PDDL engine."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from hiper_envs.alfworld.candidates import OFFERS
from hiper_envs.alfworld.composite import step_limit
from hiper_envs.alfworld.engine import AlfredEngine
from hiper_envs.alfworld.expert import PlannerExpert
from hiper_envs.alfworld.spec import GameSpec, TaskSource
from hiper_envs.alfworld.subgoals import World, normalize_text, parse_subgoal, subtask_holds
from hiper_envs.core import OptionEnv, TaskInfo
from hiper_envs.options import SubgoalStatus

__all__ = ["ALFWorldEnv"]


class ALFWorldEnv(OptionEnv):
    """ALFWorld household tasks as text games, with options (subgoals) verified from the game state.

    Paper (HiPER): https://arxiv.org/abs/2602.16165. ALFWorld: https://arxiv.org/abs/2010.03768.
    Code: plays games on ``textworld``'s PDDL engine with ``alfworld``'s domain, grammar and naming (MIT).
    Full manual: ``docs/alfworld.md``.

    ## Description
    The agent is in a room with receptacles ("countertop 1", "fridge 1") holding objects ("apple 1") and must
    do a household task: "put a clean apple in fridge", "examine the book with the desklamp", ... With
    ``num_subtasks=K > 1`` it must do ``K`` such tasks in the given order.

    ## Action Space
    ``spaces.Text``: one admissible command ("go to fridge 1", "take apple 1 from countertop 1",
    "move apple 1 to fridge 1", "heat apple 1 with microwave 1", "use desklamp 1", "look", ...), or the
    three-block option text / an ``OptionAction``. ``info["admissible_commands"]`` lists the valid commands
    (the engine's list without ``help``). Anything else is an invalid step, never an exception.

    ## Observation Space
    ``spaces.Text``: ALFWorld's text ("-= Welcome to TextWorld, ALFRED! =- ... Your task is to: ...", then the
    game's feedback to each command; "Nothing happens. Invalid action: ..." for an invalid one).

    ## Rewards
    1.0 on the step that wins the task (sparse), else 0.

    ## Starting State
    ``reset(seed=s)`` draws a game of the task source with ``self.np_random``: the same seed gives the same game
    and, for the same actions, the same transcript. ``options={"game_index": i}`` or ``{"game_id": ...}`` picks one.

    ## Episode End
    - Termination: the task (every subtask, in order) is done.
    - Truncation: ``max_episode_steps`` steps (default ``50 * num_subtasks``).

    ## Arguments
    ``gym.make("HiPER/ALFWorld-v0", split="train", num_subtasks=1, task_types=None, data_dir=None,
    num_games=None, game_seed=0, expert=False, expert_search=0.0, max_episode_steps=None, render_mode=None,
    source="auto", task_source=None, pool_size=0, subgoal_vocabulary="task")``; ``source`` is ``"auto"``, ``"generated"`` or ``"official"`` (see
    ``make_task_source``); ``expert_search`` makes the expert search before fetching objects (see
    :class:`~hiper_envs.alfworld.expert.PlannerExpert`); ``task_source=GamePool(...)`` plays games compiled ahead
    (resets ~10 ms instead of ~300 ms; :class:`~hiper_envs.alfworld.pool.GamePool`); ``pool_size=N`` does that for
    the split's first ``N`` games with a pool shared by the process's envs and kept in ``$HIPER_CACHE``. ``gym.make(...,
    max_episode_steps=N)`` sets the env's budget to ``N`` (:class:`~hiper_envs.core.SyncTimeLimit`).
    ``subgoal_vocabulary`` is what ``info["subgoal_candidates"]`` offers: ``"task"`` (task-level subgoals: find,
    take, clean/heat/cool, put, use; :mod:`~hiper_envs.alfworld.candidates`) or ``"primitive"`` (mostly the next
    command, ``go to`` / ``open`` ...: the offer before issue 21, for ablations); both are read and verified alike.

    ## Info keys
    The protocol's keys (``docs/protocol.md``) plus ``game_id``, ``gamefile``, ``split``, ``num_subtasks``,
    ``subtask_index`` (the subtask in progress, ``K`` when all are done), ``subtasks_done`` (int), ``subtask``
    (its sentence, ``""`` when done) and, with ``expert=True``, ``expert_switch`` and ``expert_plan_length`` (the
    commands the expert's optimal plan for the current subtask still needs; for training-time reward shaping).

    ## Version History
    - v0: initial version (alfworld 0.4.2 domain and grammar, textworld 1.7 engine).

    Example:
        >>> import gymnasium as gym, hiper_envs
        >>> env = gym.make("HiPER/ALFWorld-v0", split="valid_seen")  # doctest: +SKIP
        >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
        >>> obs, reward, terminated, truncated, info = env.step(info["admissible_commands"][0])  # doctest: +SKIP
    """

    def __init__(
        self,
        split: str = "train",
        *,
        num_subtasks: int = 1,
        task_types: Sequence[str] | None = None,
        data_dir: str | None = None,
        num_games: int | None = None,
        game_seed: int = 0,
        expert: bool = False,
        expert_search: float = 0.0,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        source: str = "auto",
        task_source: TaskSource | None = None,
        pool_size: int = 0,
        subgoal_vocabulary: str = "task",
    ) -> None:
        if not isinstance(num_subtasks, int) or isinstance(num_subtasks, bool) or num_subtasks < 1:
            raise ValueError(f"num_subtasks must be a positive int, got {num_subtasks!r}")
        if subgoal_vocabulary not in OFFERS:
            raise ValueError(f"subgoal_vocabulary={subgoal_vocabulary!r} must be one of {tuple(OFFERS)}")
        super().__init__(
            max_episode_steps=step_limit(num_subtasks) if max_episode_steps is None else max_episode_steps,
            expert=bool(expert),
            render_mode=render_mode,
        )
        if pool_size and task_source is None:
            from hiper_envs.alfworld.pool import shared_pool

            # the split's first `pool_size` games, compiled ahead once per process (and kept on disk)
            task_source = shared_pool(
                split, pool_size, seed=game_seed, num_subtasks=num_subtasks, task_types=task_types
            )
        if task_source is None:
            from hiper_envs.alfworld.sources import make_task_source

            task_source = make_task_source(
                split,
                num_subtasks=num_subtasks,
                task_types=task_types,
                data_dir=data_dir,
                num_games=num_games,
                seed=game_seed,
                source=source,  # type: ignore[arg-type]
            )
        if len(task_source) == 0:
            raise ValueError(f"the task source for split={split!r} has no games")
        self.split = split
        self.num_subtasks = num_subtasks
        self.subgoal_vocabulary = subgoal_vocabulary
        self.task_source = task_source
        self._engine = AlfredEngine()
        self._expert_policy = PlannerExpert(self._engine, search=expert_search) if self.expert else None
        self._spec: GameSpec | None = None
        self._ids: dict[str, int] | None = None
        self._done_flags: list[bool] = []
        self._world: World | None = None
        self._expert_switch = False

    # ------------------------------------------------------------------ OptionEnv hooks
    def _load_task(self, options: dict[str, Any] | None) -> tuple[str, TaskInfo]:
        index = self._game_index(options or {})
        spec = self.task_source[index]
        self._spec = spec
        self._engine.load(spec.game)
        obs = self._engine.reset()
        self._done_flags = [False] * max(1, len(spec.subtasks))
        self._world = None
        self._update_stages()
        if self._expert_policy is not None:
            self._expert_policy.reset(spec, rng=self.np_random)
        task = TaskInfo(
            task=spec.task,
            task_type=spec.task_type,
            task_id=spec.game_id,
            game_id=spec.game_id,
            gamefile=spec.path or "",
            split=spec.split,
            num_subtasks=len(self._done_flags),
        )
        return obs, task

    def _game_index(self, options: dict[str, Any]) -> int:
        if "game_index" in options:
            index = options["game_index"]
            if (
                not isinstance(index, numbers.Integral)
                or isinstance(index, bool)
                or not 0 <= index < len(self.task_source)
            ):
                raise ValueError(f"options['game_index'] must be an int in [0, {len(self.task_source)}), got {index!r}")
            return int(index)
        if "game_id" in options:
            if self._ids is None:  # one pass over the source, then a lookup
                self._ids = {self.task_source[i].game_id: i for i in range(len(self.task_source))}
            if options["game_id"] not in self._ids:
                raise ValueError(f"unknown game_id {options['game_id']!r} for split {self.split!r}")
            return self._ids[options["game_id"]]
        return int(self.np_random.integers(len(self.task_source)))

    def _execute(self, command: str) -> tuple[str, float, bool, bool]:
        obs = self._engine.step(command)
        self._world = None
        if self._expert_policy is not None:
            self._expert_policy.observe(command)
        won = self._update_stages()
        return obs, 1.0 if won else 0.0, won, won

    def _update_stages(self) -> bool:
        """Latch the subtasks done, in order; return whether the whole task is won."""
        assert self._spec is not None
        if len(self._spec.subtasks) <= 1:
            self._done_flags[0] = self._engine.won
            return self._engine.won
        world = self._world_now()
        for k, subtask in enumerate(self._spec.subtasks):
            if self._done_flags[k]:
                continue
            # The engine's own goal is the conjunction: when it holds, every stage holds at once.
            if not (self._engine.won or subtask_holds(world, subtask)):
                break
            self._done_flags[k] = True
        return all(self._done_flags)

    def _admissible_commands(self) -> list[str]:
        return [c for c in self._engine.admissible_commands if c != "help"]

    def _world_now(self) -> World:
        if self._world is None:
            self._world = World.from_facts(self._engine.facts, self._engine.names)
        return self._world

    def _subgoal_status(self, subgoal: str) -> SubgoalStatus:
        assert self._spec is not None
        norm = normalize_text(subgoal)
        if norm and norm == normalize_text(self._spec.task):
            return "achieved" if self._won or all(self._done_flags) else "pending"
        world = self._world_now()
        for k, subtask in enumerate(self._spec.subtasks):
            if norm and norm == normalize_text(subtask.goal):
                return "achieved" if self._done_flags[k] or subtask_holds(world, subtask) else "pending"
        parsed = parse_subgoal(subgoal, world)
        if parsed is None:
            return "unknown"
        return "achieved" if parsed.holds(world) else "pending"

    def _subgoal_candidates(self) -> list[str]:
        assert self._spec is not None
        stage = self._stage()
        subtasks = self._spec.subtasks
        pending = [subtasks[stage].goal] if len(subtasks) > 1 and stage < len(subtasks) else []
        if not all(self._done_flags):
            pending.insert(0, self._spec.task)
        offer = OFFERS[self.subgoal_vocabulary]
        return offer(self._world_now(), pending, subtasks[stage] if stage < len(subtasks) else None)

    def _expert(self) -> tuple[str, str]:
        assert self._expert_policy is not None
        action, subgoal, self._expert_switch = self._expert_policy.advise(self._stage())
        return action, subgoal

    # ------------------------------------------------------------------ info and steps
    def _stage(self) -> int:
        return next((k for k, done in enumerate(self._done_flags) if not done), len(self._done_flags))

    def _info(self, *, invalid: bool, admissible: list[str]) -> dict[str, Any]:
        info = super()._info(invalid=invalid, admissible=admissible)
        stage = self._stage()
        assert self._spec is not None
        info["subtask_index"] = stage
        info["subtasks_done"] = sum(self._done_flags)
        subtasks = self._spec.subtasks
        info["subtask"] = subtasks[stage].goal if stage < len(subtasks) else ""
        if "expert_action" in info:
            assert self._expert_policy is not None
            info["expert_switch"] = self._expert_switch
            info["expert_plan_length"] = self._expert_policy.steps_left
        return info

    def close(self) -> None:
        """Release the engine's planner library."""
        self._engine.close()
        super().close()

    @property
    def game(self) -> GameSpec | None:
        """The game being played (``None`` before the first reset)."""
        return self._spec

    @property
    def world(self) -> World:
        """The current game state as :class:`~hiper_envs.alfworld.subgoals.World` (what subgoals are checked on)."""
        if self._spec is None:
            raise RuntimeError("Call reset() first.")
        return self._world_now()
