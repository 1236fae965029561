"""The reference agents (`random`, `expert`), user agents (`python:module:object`) and the spec parser.

Specs, as ``hiper-bench --agent`` takes them:

- ``random``: a uniformly random admissible command each step, drawn from the episode's own seed.
- ``expert``: the env's oracle (``info["expert_action"]``, the env made with ``expert=True``); an upper bound, and
  the only agent allowed to see expert information.
- a folder saved by ``hiper-train`` (``policy.json`` inside): see `hiper_agent.bench.policy_agent`.
- ``hf:<model id or path>`` and ``openai:<model>``: language models, see `hiper_agent.bench.llm_agents` and
  `hiper_agent.bench.openai_agent`.
- ``python:module:object``: a user's `~hiper_agent.bench.protocol.Agent` (a class or zero-argument factory
  gives one instance per env slot; an instance is copied per slot).
"""

from __future__ import annotations

import copy
import importlib
import inspect
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hiper_agent.bench.protocol import AgentStep, BenchAgent, EpisodeStart
from hiper_agent.errors import SetupError
from hiper_envs.options import OptionAction

__all__ = ["ExpertAgent", "PythonAgent", "RandomAgent", "make_agent"]


class RandomAgent(BenchAgent):
    """Uniform over ``info["admissible_commands"]``, seeded per episode (a lower bound)."""

    def __init__(self) -> None:
        self._rngs: dict[int, random.Random] = {}

    def begin(self, slot: int, start: EpisodeStart) -> None:
        """See `BenchAgent.begin`."""
        self._rngs[slot] = random.Random(start.seed)

    def act(
        self, slots: Sequence[int], observations: Sequence[str], infos: Sequence[dict[str, Any]]
    ) -> list[AgentStep | BaseException]:
        """See `BenchAgent.act`."""
        out: list[AgentStep | BaseException] = []
        for slot, info in zip(slots, infos, strict=True):
            commands = list(info.get("admissible_commands") or [])
            # no admissible command: send an empty one, which the env records as an invalid step
            out.append(AgentStep(self._rngs[slot].choice(commands) if commands else ""))
        return out


class ExpertAgent(BenchAgent):
    """Plays the env's oracle: its action, subgoal and switch decision (needs ``expert=True``)."""

    needs_expert = True

    def begin(self, slot: int, start: EpisodeStart) -> None:
        """See `BenchAgent.begin`."""

    def act(
        self, slots: Sequence[int], observations: Sequence[str], infos: Sequence[dict[str, Any]]
    ) -> list[AgentStep | BaseException]:
        """See `BenchAgent.act`."""
        out: list[AgentStep | BaseException] = []
        for info in infos:
            if "expert_action" not in info:
                out.append(KeyError("the env gave no info['expert_action']: it has no expert or was not made with it"))
                continue
            subgoal = info.get("expert_subgoal")
            switch = info.get("expert_switch", subgoal is not None and subgoal != info.get("subgoal"))
            out.append(AgentStep(OptionAction(action=info["expert_action"], switch=bool(switch), subgoal=subgoal)))
        return out


def _resolve_object(target: str) -> Any:
    """``module:attr.path`` -> the object; the current directory is importable, as for ``python -m``."""
    module_name, _, attr_path = target.partition(":")
    if not module_name or not attr_path:
        raise SetupError(f"python agent spec must be 'python:module:object', got 'python:{target}'")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise SetupError(f"cannot import {module_name!r} for the agent: {err}") from err
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise SetupError(f"{module_name!r} has no attribute {attr_path!r} (agent spec python:{target})")
        obj = getattr(obj, part)
    return obj


class PythonAgent(BenchAgent):
    """Adapts a user's `~hiper_agent.bench.protocol.Agent`: one instance per slot, called one slot at a time.

    Args:
        target: ``"module:object"``. A class or zero-argument factory is called once per slot (again after an
            episode it failed); an instance with ``reset``/``act`` is deep-copied per slot.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self._obj = _resolve_object(target)
        is_instance = hasattr(self._obj, "act") and hasattr(self._obj, "reset") and not inspect.isclass(self._obj)
        if not is_instance and not callable(self._obj):
            raise SetupError(f"python:{target} is neither an agent (reset, act) nor a class or factory making one")
        self._is_instance = is_instance
        self._agents: dict[int, Any] = {}

    def _make(self) -> Any:
        agent = copy.deepcopy(self._obj) if self._is_instance else self._obj()
        missing = [m for m in ("reset", "act") if not callable(getattr(agent, m, None))]
        if missing:
            raise SetupError(f"python:{self.target} made a {type(agent).__name__} without {' and '.join(missing)}()")
        return agent

    def begin(self, slot: int, start: EpisodeStart) -> None:
        """See `BenchAgent.begin`; passes ``seed=`` to ``reset`` when it accepts one."""
        if slot not in self._agents:
            self._agents[slot] = self._make()
        agent = self._agents[slot]
        try:
            params = inspect.signature(agent.reset).parameters
        except (TypeError, ValueError):  # builtins without a signature
            params = {}
        takes_seed = "seed" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
        task = str(start.info.get("task", ""))
        if takes_seed:
            agent.reset(task, start.info, seed=start.seed)
        else:
            agent.reset(task, start.info)

    def act(
        self, slots: Sequence[int], observations: Sequence[str], infos: Sequence[dict[str, Any]]
    ) -> list[AgentStep | BaseException]:
        """See `BenchAgent.act`."""
        return [
            AgentStep(self._agents[slot].act(obs, info))
            for slot, obs, info in zip(slots, observations, infos, strict=True)
        ]

    def abandon(self, slot: int, error: BaseException) -> None:
        """A fresh instance for the slot's next episode (the old one may be stuck or broken)."""
        self._agents.pop(slot, None)

    def describe(self) -> dict[str, Any]:
        """See `BenchAgent.describe`."""
        return {"object": self.target}


def make_agent(spec: str, **options: Any) -> BenchAgent:
    """The `BenchAgent` of an ``--agent`` spec (see the module docstring); ``options`` go to LLM/policy agents.

    Raises:
        SetupError: an unknown spec, a module that does not import, a folder without a saved policy.
    """
    if spec == "random":
        return RandomAgent()
    if spec == "expert":
        return ExpertAgent()
    if spec.startswith("python:"):
        return PythonAgent(spec.removeprefix("python:"))
    if spec.startswith("hf:"):
        from hiper_agent.bench.llm_agents import HFAgent

        return HFAgent(spec.removeprefix("hf:"), **options)
    if spec.startswith("openai:"):
        from hiper_agent.bench.openai_agent import OpenAIAgent

        return OpenAIAgent(spec.removeprefix("openai:"), **options)
    if Path(spec).is_dir():
        from hiper_agent.bench.policy_agent import PolicyAgent

        return PolicyAgent(spec, **options)
    raise SetupError(
        f"unknown agent {spec!r}: use random, expert, a policy folder saved by hiper-train, hf:<model>, "
        "openai:<model> or python:module:object"
    )
