"""A policy folder saved by ``hiper-train`` as a `hiper-bench` agent, for any family `load_policy` knows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hiper_agent.bench.protocol import AgentStep, BenchAgent, EpisodeStart
from hiper_agent.errors import SetupError
from hiper_agent.types import HistoryEntry
from hiper_envs.options import looks_like_response, parse_response

__all__ = ["PolicyAgent"]


class PolicyAgent(BenchAgent):
    """Plays a saved `~hiper_agent.policies.Policy` (batched ``Policy.act``; greedy by default).

    Args:
        folder: a folder holding ``policy.json`` (see `hiper_agent.policies.load_policy`), or a `Policy` itself.
        greedy: take each decision's most likely choice. With ``False`` every episode samples from its own
            ``torch.Generator`` (one ``act`` call per env, so results do not depend on ``--num-envs``).
        device: where the policy runs (passed to ``load_policy``).
    """

    batched = True

    def __init__(self, folder: str | Path | Any, *, greedy: bool = True, device: str = "cpu") -> None:
        from hiper_agent.policies import Policy, load_policy

        if isinstance(folder, Policy):
            self.policy, self.folder = folder, None
        else:
            try:
                self.policy = load_policy(folder, device=device) if device != "cpu" else load_policy(folder)
            except FileNotFoundError as err:
                raise SetupError(str(err)) from err
            self.folder = str(folder)
        self.policy.eval()
        self.greedy = greedy
        self._histories: dict[int, list[HistoryEntry]] = {}
        self._rngs: dict[int, Any] = {}

    def setup(self, num_slots: int, env_id: str) -> None:
        """An LLM policy words its prompts for the env family it is benchmarked on."""
        from hiper_agent.policies.prompts import template_for_env

        prompts = getattr(self.policy, "prompts", None)
        if prompts is not None and hasattr(prompts, "family"):
            prompts.family = template_for_env(env_id)

    def begin(self, slot: int, start: EpisodeStart) -> None:
        """See `BenchAgent.begin`."""
        self._histories[slot] = []
        if not self.greedy:
            import torch

            self._rngs[slot] = torch.Generator().manual_seed(start.seed)

    def act(
        self, slots: Sequence[int], observations: Sequence[str], infos: Sequence[dict[str, Any]]
    ) -> list[AgentStep | BaseException]:
        """See `BenchAgent.act`."""
        import torch

        histories = [self._histories[s] for s in slots]
        with torch.no_grad():
            if self.greedy:
                decisions = self.policy.act(observations, infos, histories, greedy=True)
            else:
                decisions = []
                for k, slot in enumerate(slots):
                    decisions += self.policy.act(
                        [observations[k]], [infos[k]], [histories[k]], rng=self._rngs[slot], greedy=False
                    )
        # an LLM policy's action is the text it generated: kept as its reply in the transcript
        return [
            AgentStep(d.action, bool(d.format_error), reply=d.action if isinstance(d.action, str) else None)
            for d in decisions
        ]

    def observe(self, slot: int, observation: str, step: AgentStep, info: dict[str, Any]) -> None:
        """Append the executed command to the slot's history (what the trainer's rollout shows the policy)."""
        action = step.action
        if isinstance(action, str):
            written = parse_response(action).action if looks_like_response(action) else action
        else:
            written = getattr(action, "action", None)
        self._histories[slot].append(HistoryEntry(observation, info.get("action") or written or ""))

    def describe(self) -> dict[str, Any]:
        """See `BenchAgent.describe`."""
        return {"family": self.policy.family, "greedy": self.greedy}
