"""The scorer's memory of the episode: what was seen where (entity slots) and a learned read of the whole history.

Finding an object in ALFWorld means remembering which receptacles were opened and what was in them; the memory-
less scorer sees the current observation, the last few commands and a few counters. Two parts, switched on by
`ScorerConfig.memory`:

- **Slots** (``"slots"`` and ``"episode"``): every numbered object a command named ("cabinet 2", "mug 1") keeps the
  observation that command produced, the latest one winning ("The cabinet 2 is closed." until "You open the cabinet
  2. ... In it, you see a mug 1."). A candidate reads the slots of the objects it names: as overlap features
  (`MEMORY_FEATURE_NAMES`: does the slot name a task word, a subgoal word; were the candidate's words or objects
  seen anywhere), which hold for object types never seen in training, and as the learned embedding of the slot
  texts, which tells "closed" from "open, nothing in it" from "open, a mug in it".
- **Episode attention** (``"episode"`` only): the state encoder also reads an attention-pooled summary of every
  past (command, resulting observation) pair, the query from the task and the current observation
  (`HistoryAttention`): what was done and achieved earlier than the last few commands.

Everything parameter-free (slots, features, the texts to embed) is built once per step from the env's history,
so `ScorerPolicy.evaluate` re-reads exactly what `act` read. Nothing here is ALFWorld-specific: a slot is keyed
by the "word number" objects a command names, whatever the env.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hiper_agent.policies.scorer.text import ParsedText, TextCache

__all__ = ["MEMORY_FEATURE_NAMES", "MEMORY_MODES", "EpisodeMemory", "HistoryAttention", "memory_features"]

#: Values of `ScorerConfig.memory`.
MEMORY_MODES: tuple[str, ...] = ("off", "slots", "episode")

MEMORY_FEATURE_NAMES: tuple[str, ...] = (
    "mem_known",  # share of the candidate's numbered objects that have a slot (a command named them before)
    "mem_task",  # share of its objects whose slot names a task word (go back where the task's object was seen)
    "mem_subgoal",  # share of its objects whose slot names a subgoal word
    "mem_content",  # share of its content words seen in any slot ("take a mug": a mug was seen somewhere)
    "mem_entities",  # share of its objects seen inside any slot ("take mug 1 from shelf 2": mug 1 was seen)
)

#: Longest history the attention reads (the most recent pairs); ALFWorld's episodes are at most 50 steps a subtask.
MAX_HISTORY = 64


@dataclass(frozen=True)
class Slot:
    """What a command naming an object last produced: the observation, less the command's own words."""

    text: str
    content: frozenset[str]
    entities: frozenset[str]


@dataclass
class EpisodeMemory:
    """The slots of one env at one step, and the (command, result) pairs of its episode so far.

    Attributes:
        slots: numbered object -> its latest `Slot`.
        seen_content: content words of every slot (the objects' own words removed).
        seen_entities: numbered objects named inside any slot (besides the slot's own).
        pairs: ``(command, observation it produced)`` of every past step, oldest first.
    """

    slots: dict[str, Slot]
    seen_content: frozenset[str]
    seen_entities: frozenset[str]
    pairs: tuple[tuple[str, str], ...]

    @classmethod
    def build(cls, cache: TextCache, observations: Sequence[str], actions: Sequence[str]) -> EpisodeMemory:
        """From an episode's observations ``o_0 .. o_t`` (the current one last) and commands ``a_0 .. a_{t-1}``.

        Command ``a_j`` produced ``o_{j+1}``; that observation, less the command's own words, becomes the slot
        of every object the command names.
        """
        if len(observations) != len(actions) + 1:
            raise ValueError(f"{len(observations)} observations for {len(actions)} commands: need one more")
        slots: dict[str, Slot] = {}
        for action, result in zip(actions, observations[1:], strict=True):
            act = cache.parse(action)
            if not act.entities:
                continue
            seen = cache.parse(result)
            slot = Slot(result, seen.content - act.content, seen.entities - act.entities)
            for entity in act.entities:
                slots[entity] = slot
        content: set[str] = set()
        entities: set[str] = set()
        for slot in slots.values():
            content |= slot.content
            entities |= slot.entities
        pairs = tuple(zip(actions, observations[1:], strict=True))
        return cls(slots, frozenset(content), frozenset(entities), pairs)

    def slot_texts(self, candidate: ParsedText) -> tuple[str, ...]:
        """The slot texts of the objects ``candidate`` names (empty when none has a slot)."""
        return tuple(sorted({self.slots[e].text for e in candidate.entities if e in self.slots}))


def _share(part: frozenset[str], whole: frozenset[str]) -> float:
    return len(part & whole) / len(part) if part else 0.0


def memory_features(
    memory: EpisodeMemory, candidate: ParsedText, task: ParsedText, subgoal: ParsedText | None
) -> tuple[float, ...]:
    """The `MEMORY_FEATURE_NAMES` of one candidate, each in ``[0, 1]``."""
    ents = candidate.entities
    slots = [memory.slots[e] for e in ents if e in memory.slots]
    n = len(ents) or 1
    return (
        len(slots) / n,
        sum(bool(s.content & task.content) for s in slots) / n,
        sum(bool(s.content & subgoal.content) for s in slots) / n if subgoal else 0.0,
        _share(candidate.content, memory.seen_content),
        _share(ents, memory.seen_entities),
    )


class HistoryAttention(nn.Module):
    """One attention head from a query vector over a padded batch of past (command, observation) embeddings.

    A pair's key and value come from ``[command, observation, age]`` (age: steps ago / `MAX_HISTORY`), so the
    head can prefer recent pairs or ones that match the task; an empty history reads as zeros.
    """

    def __init__(self, query_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.query = nn.Linear(query_dim, embed_dim)
        self.key = nn.Linear(2 * embed_dim + 1, embed_dim, bias=False)  # a bias would add the same to every score
        self.value = nn.Sequential(nn.Linear(2 * embed_dim + 1, embed_dim), nn.Tanh())
        self.scale = embed_dim**-0.5

    def forward(self, query: torch.Tensor, pairs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(N, embed_dim)`` from ``query (N, query_dim)``, ``pairs (N, T, 2 * embed_dim + 1)``, ``mask (N, T)``."""
        if pairs.shape[1] == 0:
            return query.new_zeros(query.shape[0], self.key.out_features)
        scores = torch.einsum("nd,ntd->nt", self.query(query), self.key(pairs)) * self.scale
        # -1e9 rather than -inf: a row with no history gets weights 0 (after the mask), not NaN
        weights = torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1) * mask
        return torch.einsum("nt,ntd->nd", weights, self.value(pairs))
