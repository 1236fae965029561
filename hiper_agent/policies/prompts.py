"""Prompt templates: what the policy sees each step (task, step count, recent history, current subgoal, actions).

One model plays planner and executor in one response per step (HiPER §3): the prompt shows the current subgoal and
asks for the three blocks of the option protocol. Three styles share one builder:

- ``"full"``: instructions in plain English, for pretrained instruct models (SmolLM2, Qwen2.5);
- ``"compact"``: the same fields as terse labelled lines, for small models trained from scratch, whose speed
  depends on short prompts;
- ``"react"``: a flat baseline (one action per step, no subgoal): the model may reason in ``<think>`` and
  answers with an ``<action>`` block only (``hiper-bench --agent-style react``).

Templates are per environment family (ALFWorld, WebShop) only in their wording; the fields are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hiper_agent.protocol import KEEP, SWITCH, close_tag, format_response, open_tag
from hiper_agent.types import HistoryEntry

__all__ = ["PromptBuilder", "PromptStyle", "template_for_env"]

PromptStyle = Literal["full", "compact", "react"]

_FULL_INTRO = {
    "alfworld": "You are an expert agent in a household simulator (ALFWorld).",
    "webshop": "You are an expert online shopper in a web store (WebShop).",
}

_FULL_TEMPLATE = """{intro} Your task is: {task}
You work with a short-term sub-goal: something achievable in a few actions, not the whole task and not a single
action. At every step, KEEP the current sub-goal while it is still useful, or SWITCH to a new one.
You have taken {step} step(s) so far.{memory}{history}
Current observation: {observation}
Current sub-goal: {subgoal}
Admissible actions: [{actions}]
Answer with exactly three blocks and nothing else:
{answer_format}"""
# what the full prompt shows of the answer's format, spelt by the protocol
_ANSWER_FORMAT = format_response(
    True, "the sub-goal you follow next (copy it exactly if KEEP)", "exactly one admissible action"
).replace(SWITCH, f"{KEEP} or {SWITCH}", 1)

_REACT_TEMPLATE = """{intro} Your task is: {task}
You have taken {step} step(s) so far.{memory}{history}
Current observation: {observation}
Admissible actions: [{actions}]
Think briefly about what to do next inside <think> </think>, then give exactly one admissible action inside
{action_block}."""

_COMPACT_TEMPLATE = """task: {task}
step: {step}{memory}{history}
obs: {observation}
subgoal: {subgoal}
actions: {actions}
"""


def template_for_env(env_id: str) -> str:
    """The template family of an env id (``"alfworld"`` or ``"webshop"``)."""
    lowered = env_id.lower()
    if "webshop" in lowered:
        return "webshop"
    return "alfworld"


@dataclass
class PromptBuilder:
    """Builds the per-step prompt from the env's observation and ``info``.

    Args:
        family: ``"alfworld"`` or ``"webshop"`` (see :func:`template_for_env`).
        style: ``"full"``, ``"compact"`` or ``"react"`` (see the module docstring).
        history_length: how many past (observation, action) pairs to show (HiPER uses 2).
        action_memory: how many earlier actions, before those pairs, to list on one line (0: none). Cheap memory
            of what was already tried: without it an agent that sees one past step walks back and forth.
        max_observation_chars: observations are cut to this length (WebShop pages are long).
        show_admissible: list the admissible actions (needed unless decoding is constrained to them).
        chat_template: wrap the prompt with the tokenizer's chat template when it has one.
    """

    family: str = "alfworld"
    style: PromptStyle = "full"
    history_length: int = 2
    action_memory: int = 0
    max_observation_chars: int = 600
    show_admissible: bool = True
    chat_template: bool = True
    _tokenizer: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.style not in ("full", "compact", "react"):
            raise ValueError(f"style must be 'full', 'compact' or 'react', got {self.style!r}")
        if self.history_length < 0:
            raise ValueError(f"history_length must be >= 0, got {self.history_length}")
        if self.action_memory < 0:
            raise ValueError(f"action_memory must be >= 0, got {self.action_memory}")

    def bind(self, tokenizer: Any) -> PromptBuilder:
        """Use ``tokenizer``'s chat template (if any and if ``chat_template``) to wrap prompts."""
        self._tokenizer = tokenizer
        return self

    def build(
        self, observation: str, info: dict[str, Any], history: Sequence[HistoryEntry], subgoal: str | None
    ) -> str:
        """The prompt text for one step."""
        actions = [a for a in info.get("admissible_commands", []) if a != "help"]
        if self.style in ("full", "react"):
            template = _FULL_TEMPLATE if self.style == "full" else _REACT_TEMPLATE
            text = template.format(
                intro=_FULL_INTRO.get(self.family, _FULL_INTRO["alfworld"]),
                task=info.get("task", ""),
                step=int(info.get("elapsed_steps", len(history))),
                memory=self._memory(history, "\nEarlier actions: ", ", ", "'{a}'"),
                history=self._history(history, "\nRecent steps:\n", "[Observation: '{o}', Action: '{a}']"),
                observation=self._cut(observation),
                subgoal=subgoal or "None",
                actions=", ".join(f"'{a}'" for a in actions) if self.show_admissible else "(any valid command)",
                answer_format=_ANSWER_FORMAT,
                action_block=f"{open_tag('action')} {close_tag('action')}",
            )
        else:
            text = _COMPACT_TEMPLATE.format(
                task=info.get("task", ""),
                step=int(info.get("elapsed_steps", len(history))),
                memory=self._memory(history, "\nbefore: ", " | ", "{a}"),
                history=self._history(history, "\n", "{o}\n> {a}"),
                observation=self._cut(observation),
                subgoal=subgoal or "none",
                actions=" | ".join(actions) if self.show_admissible else "-",
            )
        return self._wrap(text)

    def _cut(self, text: str) -> str:
        text = " ".join(text.split())
        if len(text) <= self.max_observation_chars:
            return text
        return text[: self.max_observation_chars - 3] + "..."

    def _history(self, history: Sequence[HistoryEntry], header: str, line: str) -> str:
        if self.history_length == 0 or not history:
            return ""
        recent = history[-self.history_length :]
        return header + "\n".join(line.format(o=self._cut(h.observation), a=h.action) for h in recent)

    def _memory(self, history: Sequence[HistoryEntry], header: str, sep: str, item: str) -> str:
        """The ``action_memory`` actions taken before the ``history_length`` steps shown in full."""
        end = len(history) - self.history_length
        earlier = history[max(0, end - self.action_memory) : max(0, end)] if self.action_memory else []
        return header + sep.join(item.format(a=h.action) for h in earlier) if earlier else ""

    def _wrap(self, text: str) -> str:
        tokenizer = self._tokenizer
        if not self.chat_template or tokenizer is None or not getattr(tokenizer, "chat_template", None):
            return text
        messages = [{"role": "user", "content": text}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
