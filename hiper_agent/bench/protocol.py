"""The agent protocols of `hiper-bench`: the small one users implement, and the batched one the runner drives.

A user's agent needs two methods (`Agent`): ``reset(task, info)`` at the start of each episode and
``act(observation, info) -> action`` at each step, where the action is anything ``env.step`` accepts under the
option protocol (a command string, an `~hiper_envs.OptionAction`, a mapping, or the three-block text).
`reset` may also take a ``seed`` keyword: the episode's own seed, the same whatever ``--num-envs`` is, so an
agent that draws its randomness from it gives the same results however many episodes run in parallel.

The runner talks to every agent through `BenchAgent`, which plays several env *slots* at once (batched calls for
agents that batch, such as LLMs) and is told when a slot starts a new episode.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

__all__ = [
    "Agent",
    "AgentStep",
    "BenchAgent",
    "EpisodeStart",
    "InfrastructureError",
    "StepTimeoutError",
    "call_with_timeout",
    "episode_seed",
    "failure_kind",
]

T = TypeVar("T")


@runtime_checkable
class Agent(Protocol):
    """What a user's agent implements (``hiper-bench --agent python:module:object``)."""

    def reset(self, task: str, info: dict[str, Any]) -> None:
        """Start an episode: ``task`` is the instruction, ``info`` the env's reset info (protocol keys)."""

    def act(self, observation: str, info: dict[str, Any]) -> Any:
        """The next action for ``observation`` (``info["admissible_commands"]`` lists the valid commands)."""


@dataclass(frozen=True)
class EpisodeStart:
    """A slot starts panel episode ``index``: its agent seed and what the env's reset returned."""

    index: int
    seed: int
    observation: str
    info: dict[str, Any]


@dataclass(frozen=True)
class AgentStep:
    """One slot's decision: what ``env.step`` receives, and what the runner keeps of how it was made.

    Attributes:
        action: what ``env.step`` receives.
        format_error: the agent's own verdict that its output broke its format (an LLM reply that does not parse
            as its style's blocks). The env's verdict on three-block text (``info["format_errors"]``) is counted
            separately: a tagless reply is a bare command to the env, so only the agent can see it was malformed.
        format_errors: the deviations found (the parser's names, e.g. ``"missing_action"``), for the transcript.
        reply: the raw text the model wrote (LLM agents), kept in the transcript so the parsing can be checked.
        prompt: the prompt the reply answers (the transcript keeps its hash, or the text with ``--keep-prompts``).
        meta: JSON-ready facts about the decision (``request_s``: server latency, ``attempts``,
            ``finish_reason``, ``completion_tokens``, ...).
    """

    action: Any
    format_error: bool = False
    format_errors: tuple[str, ...] = ()
    reply: str | None = None
    prompt: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class InfrastructureError(RuntimeError):
    """A failure of what serves the agent, not of the agent: no connection, a timeout, a 5xx or 4xx from the server.

    The runner records such episodes apart (``failure: "infrastructure"``), leaves them out of every rate and
    replays them on ``--resume``. The message keeps what the server said (status and body).
    """


def failure_kind(error: BaseException) -> str:
    """``"infrastructure"`` for an `InfrastructureError` (also when it is the cause), else ``"agent"``."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, InfrastructureError):
            return "infrastructure"
        seen = seen.__cause__
    return "agent"


class StepTimeoutError(TimeoutError):
    """An agent call ran past ``--step-timeout``."""


def episode_seed(panel_seed: int, index: int) -> int:
    """The agent seed of panel episode ``index``: its own stream, independent of the slot and of ``--num-envs``."""
    return int(np.random.SeedSequence([panel_seed, index]).generate_state(1, dtype=np.uint32)[0])


def call_with_timeout(fn: Callable[[], T], timeout: float | None) -> T:
    """``fn()``, raising `StepTimeoutError` after ``timeout`` seconds (``None``: wait for ever).

    Python cannot stop a thread, so a timed-out call is abandoned in a daemon thread; the runner then fails the
    episodes it was deciding for and drops their per-episode agent state.
    """
    if timeout is None:
        return fn()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001  (handed back to the caller's thread below)
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True, name="hiper-bench-agent")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise StepTimeoutError(f"the agent took more than {timeout:g} s to act")
    if "error" in box:
        raise box["error"]
    return box["value"]


class BenchAgent(abc.ABC):
    """An agent as the runner drives it: ``num_slots`` env slots, each playing one episode at a time.

    Results must not depend on how episodes are spread over slots: keep per-episode state per slot, reset it in
    `begin`, and draw any randomness from ``EpisodeStart.seed``.
    """

    #: The envs must be made with ``expert=True`` (only the `expert` reference agent may ask).
    needs_expert: bool = False
    #: `act` takes several slots per call; otherwise the runner calls it once per slot (one timeout each).
    batched: bool = False

    def preflight(self) -> None:  # noqa: B027  (optional hook)
        """Check, before the run starts, that what serves the agent answers (a server agent sends one request).

        Raises:
            SetupError: it does not answer; the message says what it said.
        """

    def setup(self, num_slots: int, env_id: str) -> None:  # noqa: B027  (optional hook)
        """Called once before the first episode with the number of slots and the env id."""

    @abc.abstractmethod
    def begin(self, slot: int, start: EpisodeStart) -> None:
        """Slot ``slot`` starts a new episode."""

    @abc.abstractmethod
    def act(
        self, slots: Sequence[int], observations: Sequence[str], infos: Sequence[dict[str, Any]]
    ) -> list[AgentStep | BaseException]:
        """One decision per slot; an exception in the list fails that slot's episode only."""

    def observe(self, slot: int, observation: str, step: AgentStep, info: dict[str, Any]) -> None:  # noqa: B027
        """After a step: ``observation`` is the one the agent acted on, ``info`` the env's reply (for histories)."""

    def abandon(self, slot: int, error: BaseException) -> None:  # noqa: B027  (optional hook)
        """The slot's episode failed with ``error`` (raised or timed out); drop any state it may have broken."""

    def describe(self) -> dict[str, Any]:
        """JSON-ready settings recorded in the results header (a resumed run must match them)."""
        return {}

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release models, clients, threads."""
