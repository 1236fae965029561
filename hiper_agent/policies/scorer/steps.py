"""`ScorerStep`: one env step as the scorer reads it, and `StepBatch`: a batch of steps as tensors.

A `ScorerStep` holds only parameter-free inputs (texts, overlap features, scalars) and the choices made, so that
`ScorerPolicy.evaluate_actions` re-scores exactly what `act` scored. It is what a `Decision` keeps in ``extra["step"]``;
its texts are the env's own strings (shared, not copied).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hiper_agent.policies.scorer.features import Context, candidate_features, history_action
from hiper_agent.policies.scorer.memory import MAX_HISTORY
from hiper_agent.policies.scorer.model import NUM_SCALARS
from hiper_agent.policies.scorer.text import TextCache, TextEncoder

__all__ = ["ScorerStep", "StepBatch", "observe"]

_STATUS = {"achieved": 0, "pending": 1}


@dataclass
class ScorerStep:
    """One env's inputs at one step, and the choices made (``-1`` until chosen)."""

    task: str
    observation: str
    prev_observation: str
    recent_actions: tuple[str, ...]
    scalars: np.ndarray
    prev_subgoal: str | None
    subgoal_candidates: tuple[str, ...]
    subgoal_features: np.ndarray | None
    actions: tuple[str, ...]
    action_features: np.ndarray | None = None
    subgoal_slots: tuple[tuple[str, ...], ...] = ()
    """Per subgoal candidate, the memory slot texts of the objects it names (memory on; else empty)."""
    action_slots: tuple[tuple[str, ...], ...] = ()
    """The same per action candidate."""
    history_pairs: tuple[tuple[str, str], ...] = ()
    """The episode's (command, observation it produced), oldest first (memory ``episode``; else empty)."""
    switch: bool = True
    subgoal_index: int = -1
    action_index: int = -1

    @property
    def switch_decided(self) -> bool:
        """Whether KEEP/SWITCH was a decision (the first step of an episode always opens an option)."""
        return self.prev_subgoal is not None

    @property
    def new_subgoal(self) -> str | None:
        """The subgoal the action serves: the candidate chosen on SWITCH, else the current one (None if flat)."""
        return self.subgoal_candidates[self.subgoal_index] if self.subgoal_index >= 0 else self.prev_subgoal


def observe(
    cache: TextCache,
    observation: str,
    info: dict[str, Any],
    history: Sequence[Any],
    *,
    history_length: int,
    hierarchical: bool,
    memory: str = "off",
) -> tuple[ScorerStep, Context]:
    """Reads one env's step: the parameter-free part of the scorer's input (subgoal features included).

    ``memory`` is `ScorerConfig.memory`: ``slots`` and ``episode`` also read the episode's memory slots,
    ``episode`` keeps the episode's (command, observation) pairs for the attention head.
    """
    actions = tuple(str(a) for a in info.get("admissible_commands") or ())
    if not actions:
        raise ValueError("the scorer needs info['admissible_commands'] (the env gave none)")
    task = str(info.get("task") or "")
    done = [history_action(h.action) for h in history]
    context = Context.build(
        cache,
        task,
        observation,
        [h.observation for h in history],
        done,
        memory=memory != "off",
        subtask=str(info.get("subtask") or ""),
    )
    status = info.get("subgoal_status")
    prev_subgoal = info.get("subgoal") if hierarchical else None
    scalars = np.zeros(NUM_SCALARS, dtype=np.float32)
    scalars[0] = min(len(history), 50) / 50
    if prev_subgoal is not None:
        scalars[1] = min(int(info.get("option_step") or 0), 10) / 10
        if status in _STATUS:
            scalars[2 + _STATUS[status]] = 1.0
        scalars[4] = 1.0
    candidates: tuple[str, ...] = ()
    if hierarchical:
        # A SWITCH must name something: with no candidates the task sentence is the one subgoal on offer.
        candidates = tuple(str(c) for c in info.get("subgoal_candidates") or ()) or (task,)
        if status == "pending" and prev_subgoal in candidates and len(candidates) > 1:
            # A SWITCH replaces the subgoal: re-picking the one in force while it is still pending would restart
            # the same option, a switch in name only (options of one step, each re-issuing one subgoal).
            candidates = tuple(c for c in candidates if c != prev_subgoal)
    step = ScorerStep(
        task=task,
        observation=observation,
        prev_observation=history[-1].observation if history else "",
        recent_actions=tuple(done[-history_length:]) if history_length else (),
        scalars=scalars,
        prev_subgoal=prev_subgoal,
        subgoal_candidates=candidates,
        subgoal_features=candidate_features(cache, context, candidates, prev_subgoal) if hierarchical else None,
        actions=actions,
    )
    if context.memory is not None:
        mem = context.memory
        step.subgoal_slots = tuple(mem.slot_texts(cache.parse(c)) for c in candidates)
        step.action_slots = tuple(mem.slot_texts(cache.parse(a)) for a in actions)
        if memory == "episode":
            step.history_pairs = mem.pairs[-MAX_HISTORY:]
    return step, context


def _padded(owner: torch.Tensor, scores: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """``(rows, cols)`` scores with ``-inf`` where a row has fewer candidates."""
    out = torch.full((rows, cols), float("-inf"), dtype=scores.dtype, device=scores.device)
    counts = torch.bincount(owner, minlength=rows)
    starts = torch.cumsum(counts, 0) - counts
    col = torch.arange(len(owner), device=owner.device) - starts[owner]
    out[owner, col] = scores
    return out


class StepBatch:
    """Texts of a batch of steps embedded once (one ``EmbeddingBag`` call per encoder), plus index helpers."""

    def __init__(self, cache: TextCache, steps: Sequence[ScorerStep], device: torch.device) -> None:
        self.cache, self.steps, self.device = cache, steps, device
        self._index: dict[str, int] = {"": 0}
        self.n = len(steps)
        self.task = self.ids(s.task for s in steps)
        self.obs = self.ids(s.observation for s in steps)
        self.prev_obs = self.ids(s.prev_observation for s in steps)
        self.prev_subgoal = self.ids(s.prev_subgoal or "" for s in steps)
        owner = [i for i, s in enumerate(steps) for _ in s.recent_actions]
        self.recent_owner = torch.tensor(owner, dtype=torch.long, device=device)
        self.recent = self.ids(a for s in steps for a in s.recent_actions)
        counts = torch.bincount(self.recent_owner, minlength=self.n).clamp(min=1)
        self.recent_counts = counts.to(torch.float32).unsqueeze(-1)
        self.scalars = torch.from_numpy(np.stack([s.scalars for s in steps])).to(device)
        self._index_history()

    def ids(self, texts) -> torch.Tensor:
        """Indices of ``texts`` in this batch's table of distinct texts (adding new ones)."""
        out = [self._index.setdefault(t, len(self._index)) for t in texts]
        return torch.tensor(out, dtype=torch.long, device=self.device)

    def candidates(self, lists: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor, int]:
        """``(owner, text ids, widest row)`` of per-row candidate lists, flattened."""
        owner = torch.tensor([i for i, c in enumerate(lists) for _ in c], dtype=torch.long, device=self.device)
        return owner, self.ids(t for c in lists for t in c), max((len(c) for c in lists), default=0)

    def embed(self, encoder: TextEncoder) -> torch.Tensor:
        """``(T, dim)`` embeddings of every text indexed so far (row 0 is the empty text: zeros)."""
        return encoder([self.cache.parse(t) for t in self._index])

    def state(self, table: torch.Tensor, state_encoder: torch.nn.Module) -> torch.Tensor:
        """State vectors ``(N, hidden)`` from an embedding table."""
        recent = torch.zeros(self.n, table.shape[1], dtype=table.dtype, device=table.device)
        recent = recent.index_add(0, self.recent_owner, table[self.recent]) / self.recent_counts
        pairs, mask = self.history(table) if getattr(state_encoder, "history", None) is not None else (None, None)
        return state_encoder(table[self.task], table[self.obs], table[self.prev_obs], recent, self.scalars, pairs, mask)

    def history(self, table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, T, 2 * dim + 1)`` embedded (command, observation, age) pairs of each step, and their ``(N, T)`` mask.

        ``T`` is the longest history in the batch; age is steps ago / `MAX_HISTORY`.
        """
        return (torch.cat([table[self._pair_cmd], table[self._pair_obs], self._pair_age], dim=-1), self._pair_mask)

    def _index_history(self) -> None:
        """Adds the steps' history pairs (memory ``episode``) to the text table, padded to the longest."""
        width = max((len(s.history_pairs) for s in self.steps), default=0)
        cmd = np.zeros((self.n, width), dtype=np.int64)
        obs = np.zeros((self.n, width), dtype=np.int64)
        age = np.zeros((self.n, width, 1), dtype=np.float32)
        mask = np.zeros((self.n, width), dtype=bool)
        for i, s in enumerate(self.steps):
            t = len(s.history_pairs)
            if t:
                cmd[i, :t] = [self._index.setdefault(a, len(self._index)) for a, _ in s.history_pairs]
                obs[i, :t] = [self._index.setdefault(o, len(self._index)) for _, o in s.history_pairs]
                age[i, :t, 0] = np.arange(t, 0, -1) / MAX_HISTORY
                mask[i, :t] = True
        dev = self.device
        self._pair_cmd, self._pair_obs = torch.from_numpy(cmd).to(dev), torch.from_numpy(obs).to(dev)
        self._pair_age, self._pair_mask = torch.from_numpy(age).to(dev), torch.from_numpy(mask).to(dev)

    def slot_index(self, lists: Sequence[Sequence[Sequence[str]]]) -> tuple[torch.Tensor, torch.Tensor, int]:
        """``(candidate of each slot text, text ids, number of candidates)`` of per-row, per-candidate slot texts."""
        owner, texts, m = [], [], 0
        for row in lists:
            for slot_texts in row:
                owner.extend([m] * len(slot_texts))
                texts.extend(slot_texts)
                m += 1
        return torch.tensor(owner, dtype=torch.long, device=self.device), self.ids(texts), m

    @staticmethod
    def slot_mean(table: torch.Tensor, index: tuple[torch.Tensor, torch.Tensor, int]) -> torch.Tensor:
        """``(M, dim)`` mean slot embedding of each of ``M`` candidates (zeros for a candidate without slots)."""
        owner, ids, m = index
        out = torch.zeros(m, table.shape[1], dtype=table.dtype, device=table.device)
        counts = torch.bincount(owner, minlength=m).clamp(min=1).to(table.dtype).unsqueeze(-1)
        return out.index_add(0, owner, table[ids]) / counts

    def features(self, arrays: Sequence[np.ndarray]) -> torch.Tensor:
        """Concatenated per-candidate features as one tensor."""
        return torch.from_numpy(np.concatenate(arrays)).to(self.device)

    padded = staticmethod(_padded)
