"""Exact-overlap features between a candidate and the task, subgoal, observation and history.

These carry what a hashed embedding cannot for names it never saw: "take plate 1 from shelf 2" shares *plate*
with the task "put a clean plate in cabinet" whether or not *plate* occurred in training, so the heads learn
"a candidate naming the task's object" once and it holds for every object type (``valid_unseen`` holds object
types out). "The task" is the goal in force: on a composite task ("A, then B") the subtask in progress
(``info["subtask"]``), so the features of step 1 do not pull toward B's objects. All features are in ``[0, 1]``
or small ``log1p`` counts. With the episode memory on (`ScorerConfig.memory`), the `memory.MEMORY_FEATURE_NAMES`
follow these (`feature_names`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hiper_agent.policies.scorer.memory import MEMORY_FEATURE_NAMES, EpisodeMemory, memory_features
from hiper_agent.policies.scorer.text import ParsedText, TextCache

__all__ = ["FEATURE_NAMES", "NUM_FEATURES", "Context", "candidate_features", "feature_names", "history_action"]

FEATURE_NAMES: tuple[str, ...] = (
    "task_content",  # share of the candidate's content words that occur in the task
    "task_any",  # the candidate names at least one task word
    "subgoal_content",  # share of content words that occur in the subgoal
    "subgoal_entities",  # share of numbered objects that the subgoal names
    "is_subgoal",  # the candidate is the subgoal, verbatim
    "completes_subgoal",  # the candidate names every content word of the subgoal ("take mug": "take mug 1 from ...")
    "rivals_subgoal",  # the subgoal's verb, but not all its words ("put mug 1 in/on fridge": "move mug 1 to shelf 1")
    "obs_entities",  # share of numbered objects the observation names
    "obs_content",  # share of content words the observation names
    "is_task",  # the candidate is the task sentence itself, or the sentence of the subtask in progress
    "times_done",  # log1p(times this exact command was already executed this episode)
    "is_last_action",  # the candidate repeats the previous command
    "sighted",  # share of numbered objects seen in an observation that also named a task word
    "visited",  # log1p(times the candidate's numbered objects were named by executed commands)
)
NUM_FEATURES = len(FEATURE_NAMES)


def feature_names(memory: bool) -> tuple[str, ...]:
    """The columns of `candidate_features`: `FEATURE_NAMES`, then the memory's when it is on."""
    return FEATURE_NAMES + MEMORY_FEATURE_NAMES if memory else FEATURE_NAMES


def history_action(action: object) -> str:
    """The command text of a history entry's action (a plain string or an ``OptionAction``)."""
    return str(getattr(action, "action", action))


@dataclass
class Context:
    """What one env's candidates are compared with at one step (parsed once per step).

    ``task`` is the goal in force (the subtask in progress on a composite task); ``task_texts`` the whole task
    sentence and that goal, the candidates that restate the task instead of taking a step of it.
    """

    task: ParsedText
    observation: ParsedText
    task_texts: frozenset[str]
    done_counts: Counter[str]
    visited: Counter[str]
    sighted: frozenset[str]
    last_action: str | None
    memory: EpisodeMemory | None = None

    @classmethod
    def build(
        cls,
        cache: TextCache,
        task: str,
        observation: str,
        history_obs: Sequence[str],
        history_actions: Sequence[str],
        *,
        memory: bool = False,
        subtask: str = "",
    ) -> Context:
        """Parses the step's texts; ``history_*`` are the episode's earlier observations and commands.

        ``subtask`` is the sentence of the subtask in progress on a composite task (empty: the task is the goal).
        ``memory`` also builds the `EpisodeMemory` (slots of what each command's objects showed).
        """
        parsed_task = cache.parse(subtask or task)
        sighted: set[str] = set()
        for text in (*history_obs, observation):
            parsed = cache.parse(text)
            if parsed.content & parsed_task.content:
                sighted |= parsed.entities
        visited: Counter[str] = Counter()
        for action in history_actions:
            visited.update(cache.parse(action).entities)
        return cls(
            task=parsed_task,
            observation=cache.parse(observation),
            task_texts=frozenset(t for t in (task, subtask) if t),
            done_counts=Counter(history_actions),
            visited=visited,
            sighted=frozenset(sighted),
            last_action=history_actions[-1] if history_actions else None,
            memory=EpisodeMemory.build(cache, [*history_obs, observation], history_actions) if memory else None,
        )


def _share(part: frozenset[str], whole: frozenset[str]) -> float:
    return len(part & whole) / len(part) if part else 0.0


def candidate_features(
    cache: TextCache, context: Context, candidates: Sequence[str], subgoal: str | None
) -> np.ndarray:
    """``(len(candidates), F)`` float32 features of each candidate against ``context`` and ``subgoal``.

    ``F`` is `NUM_FEATURES`, plus the memory's features when ``context`` carries a memory (`feature_names`).
    """
    memory = context.memory
    out = np.zeros((len(candidates), len(feature_names(memory is not None))), dtype=np.float32)
    sub = cache.parse(subgoal) if subgoal else None
    for i, text in enumerate(candidates):
        cand = cache.parse(text)
        ents = cand.entities
        completes = float(bool(sub and sub.content and sub.content <= cand.content))
        task_share = _share(cand.content, context.task.content)
        out[i, :NUM_FEATURES] = (
            task_share,
            float(task_share > 0),
            _share(cand.content, sub.content) if sub else 0.0,
            _share(ents, sub.entities) if sub else 0.0,
            float(text == subgoal),
            completes,
            float(bool(sub and sub.head and cand.head == sub.head and not completes)),
            _share(ents, context.observation.entities),
            _share(cand.content, context.observation.content),
            float(text in context.task_texts),
            math.log1p(context.done_counts.get(text, 0)),
            float(text == context.last_action),
            _share(ents, context.sighted),
            math.log1p(sum(context.visited.get(e, 0) for e in ents)),
        )
        if memory is not None:
            out[i, NUM_FEATURES:] = memory_features(memory, cand, context.task, sub)
    return out
