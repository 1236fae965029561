"""The benchmark loop: play a fixed panel of episodes with any agent, ``num_envs`` at a time, and record each one.

Episode ``i`` of the panel always plays the same game with the same reset seed (`~hiper_agent.evaluation.panels.EvalPanel`)
and the agent draws its randomness from the episode's own seed, so the recorded episodes do not depend on
``num_envs`` or on which slot played them. Each finished episode is appended to ``episodes.jsonl`` at once, so
an interrupted run resumes where it stopped; an agent that raises or times out fails that episode only.

A failure of what serves the agent (`~hiper_agent.bench.protocol.InfrastructureError`: the server is down, timed
out, answered 5xx or 4xx) is recorded as ``failure: "infrastructure"``: such an episode is left out of every rate
and played again by the next run on the same folder (``--resume``). After ``stop_after_infrastructure_failures``
of them in a row the run stops starting episodes: a dead server would otherwise fail the whole panel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from hiper_agent.bench.protocol import AgentStep, BenchAgent, EpisodeStart, call_with_timeout, episode_seed
from hiper_agent.bench.recorder import EpisodeRecorder
from hiper_agent.bench.results import ResultsDir
from hiper_agent.envs.pool import EnvPool, SyncEnvPool, make_env_fns
from hiper_agent.errors import SetupError
from hiper_agent.evaluation.panels import EvalPanel

__all__ = ["run_benchmark"]


def _slot_steps(
    agent: BenchAgent, slots: list[int], obs: dict[int, str], infos: dict[int, dict[str, Any]], timeout: float | None
) -> tuple[dict[int, AgentStep | BaseException], dict[int, float]]:
    """The agent's decision (or the exception that fails the episode) for each live slot, and the call's seconds.

    The seconds are those of the call that decided the slot's step (shared by the slots of one batched call).
    """
    calls = [slots] if agent.batched else [[s] for s in slots]
    out: dict[int, AgentStep | BaseException] = {}
    seconds: dict[int, float] = {}
    for group in calls:
        t0 = time.perf_counter()
        try:
            steps = call_with_timeout(lambda g=group: agent.act(g, [obs[s] for s in g], [infos[s] for s in g]), timeout)
            if len(steps) != len(group):
                raise RuntimeError(f"the agent returned {len(steps)} decisions for {len(group)} envs")
        except Exception as err:  # noqa: BLE001  (any agent failure fails its episodes, the run goes on)
            steps = [err] * len(group)
        out.update(zip(group, steps, strict=True))
        seconds.update(dict.fromkeys(group, time.perf_counter() - t0))
    return out, seconds


class _Session:
    """One run over the pending episodes: which slot plays which episode, and what each has recorded so far."""

    def __init__(
        self,
        agent: BenchAgent,
        panel: EvalPanel,
        pool: EnvPool,
        results: ResultsDir,
        pending: list[int],
        bar: Any,
        *,
        keep_prompts: bool = False,
        stop_after: int | None = None,
    ) -> None:
        self.agent, self.panel, self.pool, self.results, self.bar = agent, panel, pool, results, bar
        self.keep_prompts, self.stop_after = keep_prompts, stop_after
        self.queue = list(reversed(pending))  # pop() gives the lowest pending index
        self.obs: dict[int, str] = {}
        self.infos: dict[int, dict[str, Any]] = {}
        self.recorders: dict[int, EpisodeRecorder] = {}
        self.wins = sum(r["won"] for r in results.episodes())
        self.infra_in_a_row = 0
        self.stopped = False

    def start(self, slots: list[int]) -> None:
        """Reset free slots to the next pending episodes (panel order) and tell the agent."""
        slots = slots[: len(self.queue)]
        indices = [self.queue.pop() for _ in slots]
        resets = [self.panel.reset_args(i) for i in indices]
        replies = self.pool.reset(slots, [r["seed"] for r in resets], [r["options"] for r in resets])
        for slot, index, (obs, info) in zip(slots, indices, replies, strict=True):
            self.obs[slot], self.infos[slot] = obs, info
            self.recorders[slot] = EpisodeRecorder(index, obs, info, keep_prompts=self.keep_prompts)
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
        self.infra_in_a_row = self.infra_in_a_row + 1 if record["failure"] == "infrastructure" else 0
        if self.stop_after is not None and self.infra_in_a_row >= self.stop_after and not self.stopped:
            self.stopped = True  # a dead server would fail every remaining episode: leave them for --resume
            self.queue.clear()
        self.bar.update(1)
        self.bar.set_postfix(success=f"{self.wins / max(1, self.bar.n):.3f}", refresh=False)

    def step(self, timeout: float | None) -> None:
        """One decision for every live slot, then one env step each."""
        slots = sorted(self.recorders)
        decisions, agent_seconds = _slot_steps(self.agent, slots, self.obs, self.infos, timeout)
        stepping: list[int] = []
        for slot in slots:
            decision = decisions[slot]
            if isinstance(decision, AgentStep):
                stepping.append(slot)
            else:
                self.finish(slot, error=decision)
        t0 = time.perf_counter()
        replies = self.pool.step(stepping, [decisions[s].action for s in stepping])  # type: ignore[union-attr]
        env_seconds = time.perf_counter() - t0  # shared by the envs stepped in this call
        for slot, (obs, reward, terminated, truncated, info) in zip(stepping, replies, strict=True):
            decision = decisions[slot]
            assert isinstance(decision, AgentStep)
            timing = {"agent_s": agent_seconds[slot], "env_s": env_seconds}
            self.recorders[slot].step(obs, float(reward), info, decision, timing)
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
    keep_prompts: bool = False,
    stop_after_infrastructure_failures: int | None = 5,
) -> list[dict[str, Any]]:
    """Play every panel episode ``out`` does not hold yet (or holds as an infrastructure failure); returns all records.

    Args:
        agent: the agent (see `hiper_agent.bench.agents.make_agent`).
        panel: which episodes to play.
        out: the results folder (its header must already be written, see `ResultsDir.start`).
        num_envs: envs stepped in lockstep (the agent sees a batch of up to this many at each call).
        env_kwargs: extra ``gym.make`` keywords (the panel's own are merged over them).
        step_timeout: seconds one agent call may take before its episodes fail (None: no limit).
        pool_factory: builds the env pool from env thunks (`SyncEnvPool` by default).
        progress: show a tqdm progress bar.
        keep_prompts: keep each prompt's text in the transcripts (else its hash only).
        stop_after_infrastructure_failures: stop starting episodes after this many infrastructure failures in a
            row (None: never stop).

    Raises:
        SetupError: the env cannot be made with these arguments (an unknown id, split or keyword).
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    results = out if isinstance(out, ResultsDir) else ResultsDir(out)
    done = {r["index"] for r in results.episodes() if r.get("failure") != "infrastructure"}
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
            try:
                pool = pool_factory(make_env_fns(panel.env_id, num_envs, **kwargs))
            except (gym.error.Error, ValueError, TypeError) as err:
                raise SetupError(f"cannot make {panel.env_id} with {kwargs}: {err}") from err
            with pool:
                session = _Session(
                    agent,
                    panel,
                    pool,
                    results,
                    pending,
                    bar,
                    keep_prompts=keep_prompts,
                    stop_after=stop_after_infrastructure_failures,
                )
                session.play(step_timeout)
        finally:
            agent.close()
    bar.close()
    results.finalize(seconds=time.perf_counter() - t0)
    return results.episodes()


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="episodes", unit="ep", disable=not enabled, dynamic_ncols=True)
