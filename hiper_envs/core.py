"""``OptionEnv``: the option protocol on top of any text environment, written once for every ``hiper_envs`` env.

A concrete env (ALFWorld, WebShop) implements a handful of hooks on the *primitive* game: load a task, execute one
admissible command, list the admissible commands, judge a subgoal. This base class does everything the protocol
asks around them: it accepts every action form, turns bad input into an invalid step with an explanation (never an
exception), tracks the options, fills the ``info`` keys, truncates at the step limit and adds the expert's labels.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium import spaces

from hiper_envs.options import (
    MAX_TEXT_CHARS,
    SegmentTracker,
    SubgoalStatus,
    coerce_action,
    normalize_command,
)

__all__ = ["OptionEnv", "SyncTimeLimit", "TaskInfo"]

#: Characters allowed in observations and actions (``spaces.Text`` needs a charset; ours is printable ASCII).
_CHARSET = "".join(chr(c) for c in range(32, 127)) + "\n\t"


#: The project's cache (compiled games here; tokenizers and converted models in ``hiper_agent``): ``$HIPER_CACHE``.
DEFAULT_CACHE_DIR = "~/.cache/hiper"


def default_cache_dir() -> Path:
    """The hiper cache: ``$HIPER_CACHE`` if set, else ``~/.cache/hiper``."""
    return Path(os.environ.get("HIPER_CACHE", DEFAULT_CACHE_DIR)).expanduser()


def _quote(text: str, limit: int = 80) -> str:
    """An action as the feedback quotes it: cut to ``limit`` and kept to the observation charset."""
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return "".join(ch if ch in _CHARSET else "?" for ch in text)


class TaskInfo(dict):
    """The task keys of ``info``: ``task``, ``task_type``, ``task_id`` (a plain dict, named for readability)."""


class OptionEnv(gym.Env[str, Any]):
    """Base class of the option-aware text environments.

    Subclasses implement :meth:`_load_task`, :meth:`_execute`, :meth:`_admissible_commands`,
    :meth:`_subgoal_status`, :meth:`_subgoal_candidates` and, for ``expert=True``, :meth:`_expert`.
    The base class owns :meth:`reset` and :meth:`step`.

    The env owns its time limit: the step budget depends on the task (composite tasks get ``K`` times the budget),
    which ``register(max_episode_steps=...)`` cannot know, so the ids are registered without one and each env class
    has one default. The env reports ``truncated=True`` as ``TimeLimit`` would (but never together with
    ``terminated``).

    ``gym.make(id, max_episode_steps=N)`` (and ``gym.make_vec``, which calls ``make``) keeps ``N`` for its own
    ``TimeLimit`` and never passes it to the constructor; the registered :class:`SyncTimeLimit` wrapper hands it
    to the env, so the env's budget (and ``info["max_episode_steps"]``) is ``N`` as well.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "human"]}

    def __init__(self, *, max_episode_steps: int, expert: bool = False, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.max_episode_steps = max_episode_steps
        self.expert = expert
        self.render_mode = render_mode
        self.observation_space = spaces.Text(max_length=100_000, min_length=0, charset=_CHARSET)
        self.action_space = spaces.Text(max_length=MAX_TEXT_CHARS, min_length=1, charset=_CHARSET)
        self._tracker = SegmentTracker()
        self._task: TaskInfo | None = None
        self._elapsed_steps = 0
        self._done = False
        self._won = False
        self._score = 0.0
        self._last_obs = ""

    @property
    def max_episode_steps(self) -> int:
        """The step budget: ``step`` truncates when ``elapsed_steps`` reaches it (also ``info["max_episode_steps"]``)."""
        return self._max_episode_steps

    @max_episode_steps.setter
    def max_episode_steps(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"max_episode_steps must be a positive int, got {value!r}")
        self._max_episode_steps = value

    # ------------------------------------------------------------------ hooks for subclasses
    @abstractmethod
    def _load_task(self, options: dict[str, Any] | None) -> tuple[str, TaskInfo]:
        """Start a task drawn with ``self.np_random``; return the first observation and the task keys."""

    @abstractmethod
    def _execute(self, command: str) -> tuple[str, float, bool, bool]:
        """Execute one admissible command; return ``(observation, reward, won, terminated)``."""

    @abstractmethod
    def _admissible_commands(self) -> list[str]:
        """The commands valid in the current state."""

    @abstractmethod
    def _subgoal_status(self, subgoal: str) -> SubgoalStatus:
        """Judge a free-text subgoal against the current engine state."""

    @abstractmethod
    def _subgoal_candidates(self) -> list[str]:
        """Canonical subgoals the env can verify from the current state."""

    def _expert(self) -> tuple[str, str]:
        """The optimal next ``(action, subgoal)``; only called when the env was made with ``expert=True``."""
        raise NotImplementedError(f"{type(self).__name__} has no expert")

    def _score_now(self) -> float:
        """Task score in [0, 1]; by default 1.0 when won."""
        return 1.0 if self._won else 0.0

    def _match_command(self, action: str, admissible: list[str]) -> str | None:
        """The admissible command an action means (exact, then case/space-insensitive), or ``None``."""
        if action in admissible:
            return action
        wanted = normalize_command(action)
        for command in admissible:
            if normalize_command(command) == wanted:
                return command
        return None

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode; the same ``seed`` gives the same task and, for the same actions, the same transcript."""
        super().reset(seed=seed)
        obs, self._task = self._load_task(options)
        self._tracker.reset()
        self._elapsed_steps = 0
        self._done = False
        self._won = False
        self._score = 0.0
        self._last_obs = obs
        return obs, self._info(invalid=False, admissible=self._admissible_commands())

    def step(self, action: Any) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        """Take one step. Any ``action`` is accepted; bad input is an invalid step whose observation says why."""
        if self._task is None:
            raise RuntimeError("Call reset() before step().")
        if self._done:
            raise RuntimeError("The episode has ended: call reset() before step().")
        first_step = self._elapsed_steps == 0
        option_action, parsed, error = coerce_action(action, first_step=first_step)
        self._elapsed_steps += 1
        if parsed is not None:
            self._tracker.step(bool(parsed.switch) or first_step, parsed.subgoal)
        elif option_action is not None:
            self._tracker.step(option_action.switch, option_action.subgoal)
        else:
            self._tracker.step(False, None)

        reward, terminated, command = 0.0, False, None
        admissible = self._admissible_commands()
        if option_action is not None:
            command = self._match_command(option_action.action, admissible)
            if command is None:
                error = f'"{_quote(option_action.action)}" is not an admissible action here.'
        if command is None:
            obs = f"Nothing happens. Invalid action: {error}"
        else:
            obs, reward, self._won, terminated = self._execute(command)
            admissible = self._admissible_commands()
        truncated = not terminated and self._elapsed_steps >= self.max_episode_steps
        self._done = terminated or truncated
        self._score = self._score_now()
        self._last_obs = obs
        info = self._info(invalid=command is None, admissible=admissible)
        info["action"] = command
        info["format_errors"] = list(parsed.format_errors) if parsed is not None else []
        if self.render_mode == "human":
            print(self.render())
        return obs, float(reward), terminated, truncated, info

    def render(self) -> str | None:
        """Return (``"ansi"``) or print (``"human"``) the last observation."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' to gym.make.")
            return None
        return self._last_obs

    # ------------------------------------------------------------------ info
    def _info(self, *, invalid: bool, admissible: list[str]) -> dict[str, Any]:
        assert self._task is not None
        info: dict[str, Any] = dict(self._task)
        info["admissible_commands"] = list(admissible)
        info.update(self._tracker.info())
        subgoal = self._tracker.subgoal
        verified: SubgoalStatus = "unknown" if subgoal is None else self._subgoal_status(subgoal)
        info["subgoal_status"] = self._tracker.status(verified) if subgoal is not None else "unknown"
        info["subgoal_candidates"] = self._subgoal_candidates()
        info["invalid_action"] = invalid
        info["won"] = self._won
        info["score"] = self._score
        info["elapsed_steps"] = self._elapsed_steps
        info["max_episode_steps"] = self.max_episode_steps
        if self.expert and not self._done:
            info["expert_action"], info["expert_subgoal"] = self._expert()
        return info


class SyncTimeLimit(gym.Wrapper[str, Any, str, Any], gym.utils.RecordConstructorArgs):
    """Gives an :class:`OptionEnv` the budget of the ``TimeLimit`` that ``gym.make(max_episode_steps=N)`` put below.

    Why: Gymnasium's ``make`` takes ``max_episode_steps`` for its own ``TimeLimit`` and never passes it to the
    env, so without this the env would keep truncating at its default (``50 * K`` for ALFWorld) and report that in
    ``info["max_episode_steps"]`` while the wrapper cut at ``N``. It reads ``N`` from the spec the ``TimeLimit``
    reports (``env.spec.max_episode_steps``); the env then truncates at the same step as the ``TimeLimit``. Registered as an ``additional_wrappers`` entry
    of every HiPER id (``hiper_envs.register_envs``), it is applied by ``make`` right after the ``TimeLimit``, and
    so also by ``make_vec`` (sync and async: each sub-env is built with ``make``) and by ``gym.make(env.spec)``.
    Without a ``TimeLimit`` below (no ``max_episode_steps`` given, or ``-1``) it changes nothing. It adds no info
    key and passes every call through.

    Example:
        >>> import gymnasium as gym, hiper_envs
        >>> env = gym.make("HiPER/ALFWorld-v0", max_episode_steps=10)  # doctest: +SKIP
        >>> env.unwrapped.max_episode_steps  # doctest: +SKIP
        10
    """

    def __init__(self, env: gym.Env[str, Any]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        if not isinstance(env.unwrapped, OptionEnv):
            raise TypeError(f"SyncTimeLimit wraps an OptionEnv, got {type(env.unwrapped).__name__}")
        # a TimeLimit below writes its budget into the spec it reports (Gymnasium's public view of it)
        budget = env.spec.max_episode_steps if env.spec is not None else None
        if budget is not None:
            env.unwrapped.max_episode_steps = budget
