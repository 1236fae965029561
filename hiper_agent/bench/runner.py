"""The benchmark loop: play a fixed panel of episodes with any agent, ``num_envs`` at a time, and record each one.

Episode ``i`` of the panel always plays the same game with the same reset seed (`~hiper_agent.evaluation.panels.EvalPanel`)
and the agent draws its randomness from the episode's own seed, so the recorded episodes do not depend on
``num_envs`` or on which slot played them. Each finished episode is appended to ``episodes.jsonl`` at once, so
an interrupted run resumes where it stopped; an agent that raises or times out fails that episode only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiper_agent.bench.protocol import AgentStep, BenchAgent, EpisodeStart, call_with_timeout, episode_seed
from hiper_agent.bench.results import ResultsDir
from hiper_agent.envs.pool import EnvPool, SyncEnvPool, make_env_fns
from hiper_agent.evaluation.panels import EvalPanel

__all__ = ["EpisodeRecorder", "run_benchmark"]


@dataclass
class EpisodeRecorder:
    """Accumulates one episode's statistics from the env's ``info`` (protocol keys only, so any env works)."""

    index: int
    info: dict[str, Any]
    steps: int = 0
    episode_return: float = 0.0
    invalid_actions: int = 0
    format_errors: int = 0
    option_lengths: dict[int, int] = field(default_factory=dict)
    proposed: set[int] = field(default_factory=set)
    achieved: set[int] = field(default_factory=set)
    actions: list[str | None] = field(default_factory=list)

    def step(self, reward: float, info: dict[str, Any], agent_step: AgentStep) -> None:
        """Record one env step (``info`` is what the step returned)."""
        self.steps += 1
        self.actions.append(info.get("action"))
        self.episode_return += float(reward)
        self.invalid_actions += bool(info.get("invalid_action", False))
        self.format_errors += bool(agent_step.format_error or info.get("format_errors"))
        option = int(info.get("option_id", 0))
        self.option_lengths[option] = self.option_lengths.get(option, 0) + 1
        if info.get("subgoal") is not None:
            self.proposed.add(option)
        if info.get("subgoal_status") == "achieved":
            self.achieved.add(option)
        self.info = info

    def finish(self, *, truncated: bool = False, error: BaseException | None = None) -> dict[str, Any]:
        """The episode's record (see ``docs/benchmarking.md`` for the fields); an error makes it a failure."""
        info = self.info
        won = bool(info.get("won", False)) and error is None
        return {
            "index": self.index,
            "task_id": str(info.get("task_id", "")),
            "task_type": str(info.get("task_type", "")),
            "task": str(info.get("task", "")),
            "num_subtasks": int(info.get("num_subtasks", 1)),
            "won": won,
            "score": float(info.get("score", 0.0)) if error is None else 0.0,
            "return": round(self.episode_return, 6),
            "steps": self.steps,
            "truncated": bool(truncated),
            "invalid_actions": self.invalid_actions,
            "format_errors": self.format_errors,
            "options": len(self.option_lengths),
            "option_lengths": [self.option_lengths[k] for k in sorted(self.option_lengths)],
            "subgoals_proposed": len(self.proposed),
            "subgoals_achieved": len(self.achieved & self.proposed),
            "subtasks_done": int(info.get("subtasks_done", int(won))),
            "error": None if error is None else f"{type(error).__name__}: {error}",
            # the commands the env executed (None: an invalid step), so two runs can be compared step by step
            "actions": list(self.actions),
        }


def _slot_steps(
    agent: BenchAgent, slots: list[int], obs: dict[int, str], infos: dict[int, dict[str, Any]], timeout: float | None
) -> dict[int, AgentStep | BaseException]:
    """The agent's decision (or the exception that fails the episode) for each live slot."""
    calls = [slots] if agent.batched else [[s] for s in slots]
    out: dict[int, AgentStep | BaseException] = {}
    for group in calls:
        try:
            steps = call_with_timeout(lambda g=group: agent.act(g, [obs[s] for s in g], [infos[s] for s in g]), timeout)
            if len(steps) != len(group):
                raise RuntimeError(f"the agent returned {len(steps)} decisions for {len(group)} envs")
        except Exception as err:  # noqa: BLE001  (any agent failure fails its episodes, the run goes on)
            steps = [err] * len(group)
        out.update(zip(group, steps, strict=True))
    return out


class _Session:
    """One run over the pending episodes: which slot plays which episode, and what each has recorded so far."""

    def __init__(
        self, agent: BenchAgent, panel: EvalPanel, pool: EnvPool, results: ResultsDir, pending: list[int], bar: Any
    ) -> None:
        self.agent, self.panel, self.pool, self.results, self.bar = agent, panel, pool, results, bar
        self.queue = list(reversed(pending))  # pop() gives the lowest pending index
        self.obs: dict[int, str] = {}
        self.infos: dict[int, dict[str, Any]] = {}
        self.recorders: dict[int, EpisodeRecorder] = {}
        self.wins = sum(r["won"] for r in results.episodes())

    def start(self, slots: list[int]) -> None:
        """Reset free slots to the next pending episodes (panel order) and tell the agent."""
        slots = slots[: len(self.queue)]
        indices = [self.queue.pop() for _ in slots]
        resets = [self.panel.reset_args(i) for i in indices]
        replies = self.pool.reset(slots, [r["seed"] for r in resets], [r["options"] for r in resets])
        for slot, index, (obs, info) in zip(slots, indices, replies, strict=True):
            self.obs[slot], self.infos[slot] = obs, info
            self.recorders[slot] = EpisodeRecorder(index, info)
            try:
                self.agent.begin(slot, EpisodeStart(index, episode_seed(self.panel.seed, index), obs, info))
            except Exception as err:  # noqa: BLE001  (an agent failing to start an episode fails that episode)
                self.finish(slot, error=err)

    def finish(self, slot: int, *, truncated: bool = False, error: BaseException | None = None) -> None:
        """Record the slot's episode (a failure when ``error``) and free the slot."""
        record = self.recorders.pop(slot).finish(truncated=truncated, error=error)
        if error is not None:
            self.agent.abandon(slot, error)
        self.results.append(record)
        self.wins += record["won"]
        self.bar.update(1)
        self.bar.set_postfix(success=f"{self.wins / max(1, self.bar.n):.3f}", refresh=False)

    def step(self, timeout: float | None) -> None:
        """One decision for every live slot, then one env step each."""
        slots = sorted(self.recorders)
        decisions = _slot_steps(self.agent, slots, self.obs, self.infos, timeout)
        stepping: list[int] = []
        for slot in slots:
            decision = decisions[slot]
            if isinstance(decision, AgentStep):
                stepping.append(slot)
            else:
                self.finish(slot, error=decision)
        replies = self.pool.step(stepping, [decisions[s].action for s in stepping])  # type: ignore[union-attr]
        for slot, (obs, reward, terminated, truncated, info) in zip(stepping, replies, strict=True):
            decision = decisions[slot]
            assert isinstance(decision, AgentStep)
            self.recorders[slot].step(float(reward), info, decision)
            try:
                self.agent.observe(slot, self.obs[slot], decision, info)
            except Exception as err:  # noqa: BLE001  (an agent failure fails its episode only)
                self.finish(slot, error=err)
                continue
            self.obs[slot], self.infos[slot] = obs, info
            if terminated or truncated:
                self.finish(slot, truncated=bool(truncated and not terminated))

    def play(self, timeout: float | None) -> None:
        """Until every pending episode is recorded: refill free slots, step the live ones."""
        while True:
            self.start([s for s in range(self.pool.num_envs) if s not in self.recorders])
            if not self.recorders:
                if self.queue:  # every slot failed at its start: go on with the next episodes
                    continue
                return
            self.step(timeout)


def run_benchmark(
    agent: BenchAgent,
    panel: EvalPanel,
    out: str | Path | ResultsDir,
    *,
    num_envs: int = 1,
    env_kwargs: dict[str, Any] | None = None,
    step_timeout: float | None = None,
    pool_factory: Callable[[Sequence[Callable[[], Any]]], EnvPool] = SyncEnvPool,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Play every panel episode not yet recorded in ``out`` and record it there; returns all records by index.

    Args:
        agent: the agent (see `hiper_agent.bench.agents.make_agent`).
        panel: which episodes to play.
        out: the results folder (its header must already be written, see `ResultsDir.start`).
        num_envs: envs stepped in lockstep (the agent sees a batch of up to this many at each call).
        env_kwargs: extra ``gym.make`` keywords (the panel's own are merged over them).
        step_timeout: seconds one agent call may take before its episodes fail (None: no limit).
        pool_factory: builds the env pool from env thunks (`SyncEnvPool` by default).
        progress: show a tqdm progress bar.
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    results = out if isinstance(out, ResultsDir) else ResultsDir(out)
    done = {r["index"] for r in results.episodes()}
    pending = [i for i in range(panel.episodes) if i not in done]
    num_envs = max(1, min(num_envs, len(pending) or 1))
    kwargs = {**(env_kwargs or {}), **panel.env_kwargs()}
    if agent.needs_expert:  # the oracle's info keys exist only for the expert reference agent
        kwargs["expert"] = True
    bar = _progress_bar(panel.episodes, len(done), progress)
    t0 = time.perf_counter()
    if pending:
        agent.setup(num_envs, panel.env_id)
        try:
            with pool_factory(make_env_fns(panel.env_id, num_envs, **kwargs)) as pool:
                _Session(agent, panel, pool, results, pending, bar).play(step_timeout)
        finally:
            agent.close()
    bar.close()
    results.finalize(seconds=time.perf_counter() - t0)
    return results.episodes()


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="episodes", unit="ep", disable=not enabled, dynamic_ncols=True)
