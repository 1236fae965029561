"""`DiscreteCommandWrapper`: a text env as ``Discrete(K)`` over its admissible commands, with an action mask.

Numeric RL libraries (stable-baselines3, sb3-contrib's ``MaskablePPO``, CleanRL-style loops) need a fixed-size
numeric observation and a discrete action space. This wrapper gives both to any env that follows the option
protocol's ``info["admissible_commands"]``: action ``k`` plays the ``k``-th admissible command, `action_masks`
marks the slots that hold one, and the observation is a fixed vector of hashed text features.
"""

from __future__ import annotations

import re
import zlib
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["DiscreteCommandWrapper"]

_WORD_RE = re.compile(r"[a-z]+")
#: Words that say nothing about what a command is about.
_STOP = frozenset({"a", "an", "the", "to", "from", "in", "on", "with", "of", "and", "then", "some", "your", "is", "it"})
#: Features per candidate slot besides the hashed verb (see `DiscreteCommandWrapper` for the list).
_SLOT_EXTRA = 8


def _words(text: str) -> list[str]:
    return [w for w in _WORD_RE.findall(text.lower()) if w not in _STOP]


def _bucket(word: str, size: int) -> int:
    """A stable hash (Python's ``hash`` is salted per process)."""
    return zlib.crc32(word.encode()) % size


class DiscreteCommandWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Exposes a text env as ``Discrete(max_actions)`` over ``info["admissible_commands"]`` with an action mask.

    ## Action Space
    ``Discrete(max_actions)``: action ``k`` plays the command in slot ``k`` (``info["slot_commands"][k]``): the
    ``k``-th admissible command in the env's order, or with ``order="task"`` in order of how many of its words
    the task names (ties keep the env's order). Commands past
    ``max_actions`` are not reachable (``info["dropped_commands"]`` counts them). A masked-out action (an empty
    slot) is sent as an empty command, which the env records as an invalid step; ``MaskablePPO`` never takes one.

    ## Observation Space
    ``Box(0, 1, (task_features + obs_features + 2 + max_actions * slot_features,), float32)``, all from text:

    - the task's words and the current observation's words, each hashed into a bag of words (0/1);
    - the episode's progress (steps / step limit) and whether the last action was invalid;
    - per slot: whether it holds a command, its first word (the verb) hashed into ``verb_features`` buckets, the
      share of its words found in the task and in the observation, whether any/at least two of them are in the
      task, how often it was played this episode (0, 1, 2+) and whether it was the last command.

    The per-slot relevance features (words shared with the task) are what lets a small MLP learn a useful
    policy in minutes. A plain MLP learns each slot's weights separately, so ``order="task"`` helps it further:
    comparable commands (those naming the task's objects) then sit in the same first slots from state to state.

    ## Info keys added
    ``action_mask`` (bool array, as `action_masks`), ``slot_commands`` (the command of each filled slot),
    ``command`` (the command played, "" for an empty slot), ``dropped_commands`` (int).

    Example:
        >>> import gymnasium as gym, hiper_envs
        >>> from hiper_envs.wrappers import DiscreteCommandWrapper
        >>> env = DiscreteCommandWrapper(gym.make("HiPER/ALFWorld-v0", split="train"), max_actions=48)  # doctest: +SKIP
        >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
        >>> obs, reward, terminated, truncated, info = env.step(int(env.action_masks().argmax()))  # doctest: +SKIP

    Args:
        env: an env whose ``info`` has ``admissible_commands`` (a list of strings) and whose actions are strings.
        max_actions: ``K``, the number of command slots.
        task_features: hashed bag-of-words size of the task (``info["task"]``).
        obs_features: hashed bag-of-words size of the observation.
        verb_features: hash buckets of a command's first word.
        order: ``"env"`` (the env's order) or ``"task"`` (most task words first) for the slots.
    """

    def __init__(
        self,
        env: gym.Env,
        max_actions: int = 64,
        *,
        task_features: int = 32,
        obs_features: int = 32,
        verb_features: int = 16,
        order: str = "env",
    ) -> None:
        for name, value in (("max_actions", max_actions), ("verb_features", verb_features)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if order not in ("env", "task"):
            raise ValueError(f"order must be 'env' or 'task', got {order!r}")
        for name, value in (("task_features", task_features), ("obs_features", obs_features)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        # recorded so that gym.make can rebuild the wrapped env from its spec (the env checkers do)
        gym.utils.RecordConstructorArgs.__init__(
            self,
            max_actions=max_actions,
            task_features=task_features,
            obs_features=obs_features,
            verb_features=verb_features,
            order=order,
        )
        gym.Wrapper.__init__(self, env)
        self.max_actions = max_actions
        self.task_features, self.obs_features, self.verb_features = task_features, obs_features, verb_features
        self.order = order
        self.slot_features = 1 + verb_features + _SLOT_EXTRA
        size = task_features + obs_features + 2 + max_actions * self.slot_features
        self.action_space = spaces.Discrete(max_actions)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)
        self._commands: list[str] = []
        self._counts: dict[str, int] = {}
        self._last = ""
        self._info: dict[str, Any] = {}

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Reset the env; the observation is the feature vector of its first observation."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._counts, self._last = {}, ""
        return self._observe(str(obs), info, invalid=False), info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Play the command in slot ``action`` (an empty command for an empty slot)."""
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        k = int(action)
        command = self._commands[k] if k < len(self._commands) else ""
        obs, reward, terminated, truncated, info = self.env.step(command)
        self._counts[command] = self._counts.get(command, 0) + 1
        self._last = command
        info = dict(info)
        info["command"] = command
        features = self._observe(str(obs), info, invalid=bool(info.get("invalid_action", False)))
        return features, reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """``(max_actions,)`` bool: True where a slot holds an admissible command (what MaskablePPO reads)."""
        mask = np.zeros(self.max_actions, dtype=bool)
        mask[: len(self._commands)] = True
        if not mask.any():  # no command at all: leave one slot playable (an invalid step) so the policy can act
            mask[0] = True
        return mask

    # ------------------------------------------------------------------ features
    def _observe(self, observation: str, info: dict[str, Any], *, invalid: bool) -> np.ndarray:
        commands = [str(c) for c in info.get("admissible_commands") or []]
        task_words = set(_words(str(info.get("task", ""))))
        if self.order == "task":  # most task words first (stable: ties keep the env's order)
            commands.sort(key=lambda c: -sum(w in task_words for w in _words(c)))
        self._commands = commands[: self.max_actions]
        info["dropped_commands"] = max(0, len(commands) - self.max_actions)
        info["action_mask"] = self.action_masks()
        info["slot_commands"] = list(self._commands)
        self._info = info
        obs_words = set(_words(observation))
        vec = np.zeros(self.observation_space.shape, dtype=np.float32)
        for w in task_words if self.task_features else ():
            vec[_bucket(w, self.task_features)] = 1.0
        offset = self.task_features
        for w in obs_words if self.obs_features else ():
            vec[offset + _bucket(w, self.obs_features)] = 1.0
        offset += self.obs_features
        limit = info.get("max_episode_steps") or 0
        vec[offset] = min(1.0, float(info.get("elapsed_steps", 0)) / limit) if limit else 0.0
        vec[offset + 1] = float(invalid)
        offset += 2
        for k, command in enumerate(self._commands):
            slot = vec[offset + k * self.slot_features : offset + (k + 1) * self.slot_features]
            words = _words(command)
            in_task = sum(w in task_words for w in words)
            slot[0] = 1.0
            slot[1 + _bucket(words[0] if words else "", self.verb_features)] = 1.0
            extra = slot[1 + self.verb_features :]
            extra[0] = in_task / len(words) if words else 0.0
            extra[1] = sum(w in obs_words for w in words) / len(words) if words else 0.0
            extra[2] = float(in_task >= 1)
            extra[3] = float(in_task >= 2)
            times = self._counts.get(command, 0)
            extra[4] = float(times == 1)
            extra[5] = float(times >= 2)
            extra[6] = float(command == self._last)
            extra[7] = float(bool(words) and words[0] in task_words)
        return vec
