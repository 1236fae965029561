"""The option-protocol format as a regular expression, for engines with regex-guided decoding (vLLM), and back.

Engines such as vLLM constrain decoding with a regex over *characters* (xgrammar, guidance), whereas
:mod:`~hiper_agent.generation.constraints` constrains *tokens* (the canonical tokenization of each tag and
command). Both accept the same texts; they differ in which token sequences may spell them. Two functions bridge
the gap:

- :func:`format_regex` writes a :class:`FormatConstraint` as a regex, plus the longest text it admits (each token
  spells at least one character, so that length also bounds the tokens a response needs).
- :func:`replay_allowed` walks our token program over the tokens an engine sampled and returns, per position, the
  allowed ids the trainer should restrict its log-probs to (:attr:`Sample.allowed`). Where the engine left the
  canonical tokenization (rare for a model that learned the format), the rest of the row is marked free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from hiper_agent.generation.constraints import CompiledConstraint, FormatConstraint, VocabIndex
from hiper_agent.protocol import KEEP, SWITCH, close_tag, open_tag

__all__ = ["compile_for_replay", "escape_regex", "format_regex", "replay_allowed"]

_SPECIAL = set("\\.^$|?*+()[]{}")
#: one character of free text: no tag characters and no line breaks (as ``VocabIndex.free_ids``)
_FREE_CHAR = r"[^<>\n\r\t]"
#: free text starts with up to 3 spaces and a character that is not blank (``VocabIndex.free_start_ids``)
_FREE_START = r" {0,3}[^<>\n\r\t ]"
_FREE_START_LEN = 4


def escape_regex(text: str) -> str:
    r"""``text`` as a literal in the regex dialect that vLLM's backends share (backslash before metacharacters).

    Python's :func:`re.escape` also escapes spaces, ``-``, ``#``, ``&`` and ``~``, which some grammar engines
    reject; this escapes only what is special everywhere, and writes line breaks and tabs as ``\n``, ``\t``.
    """
    out = []
    for char in text:
        if char in _SPECIAL:
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        else:
            out.append(char)
    return "".join(out)


def _alternatives(options: Sequence[str]) -> tuple[str, int]:
    return "(" + "|".join(escape_regex(o) for o in options) + ")", max(len(o) for o in options)


def format_regex(constraint: FormatConstraint, *, chars_per_token: int = 4) -> tuple[str, int]:
    """The regex of the texts ``constraint`` admits, and the length of the longest one.

    Args:
        constraint: the format (see :class:`FormatConstraint`).
        chars_per_token: a free subgoal may hold ``max_subgoal_tokens * chars_per_token`` characters (a regex
            cannot count tokens; 4 is about an English BPE token).

    Returns:
        ``(regex, max_chars)``: the final EOS is not part of the regex (the engine adds it when the grammar
        completes); ``max_chars + 1`` tokens always suffice to complete the format.
    """
    if constraint.allow_free_subgoal:
        limit = constraint.max_subgoal_tokens * chars_per_token
        free, free_len = f"{_FREE_START}{_FREE_CHAR}{{0,{limit - 1}}}", limit - 1 + _FREE_START_LEN
    else:
        free, free_len = _alternatives(constraint.subgoals)
    subgoal_open, subgoal_close = "\n" + open_tag("subgoal"), close_tag("subgoal")
    switch_open, switch_close = open_tag("switch"), close_tag("switch")
    lit = escape_regex
    if constraint.keep_subgoal is not None:
        switch = (
            f"{lit(switch_open)}({lit(KEEP)}{lit(switch_close)}{lit(subgoal_open)}{lit(constraint.keep_subgoal)}|"
            f"{lit(SWITCH)}{lit(switch_close)}{lit(subgoal_open)}{free}){lit(subgoal_close)}"
        )
        subgoal_len = max(free_len, len(constraint.keep_subgoal))
    else:
        switch = f"{lit(switch_open)}({lit(KEEP)}|{lit(SWITCH)}){lit(switch_close)}{lit(subgoal_open)}{free}"
        switch += lit(subgoal_close)
        subgoal_len = free_len
    actions, action_len = _alternatives(constraint.admissible)
    action_open, action_close = "\n" + open_tag("action"), close_tag("action")
    regex = f"{switch}{lit(action_open)}{actions}{lit(action_close)}"
    head = len(switch_open) + max(len(KEEP), len(SWITCH)) + len(switch_close) + len(subgoal_open)
    return regex, head + subgoal_len + len(subgoal_close) + len(action_open) + action_len + len(action_close)


def replay_allowed(
    compiled: CompiledConstraint, response_ids: Sequence[int], budget: int
) -> tuple[list[list[int] | None], bool]:
    """The allowed ids at each position of a response sampled elsewhere, by walking ``compiled``'s token program.

    Args:
        compiled: the constraint compiled for the engine's tokenizer.
        response_ids: the sampled tokens (a final EOS included, as in :attr:`Sample.response_ids`).
        budget: the response's token budget (the engine's ``max_tokens``): free text must close within it.

    Returns:
        ``(allowed, canonical)``: ``allowed[t]`` is the token program's allowed list at position ``t`` while the
        tokens follow it, and ``None`` from the first token that leaves it (or after the format completed);
        ``canonical`` says whether every token followed it.
    """
    state = compiled.start()
    allowed: list[list[int] | None] = []
    canonical = True
    for t, token in enumerate(response_ids):
        if not canonical or state.done:
            allowed.append(None)
            canonical = canonical and token == compiled.vocab.eos_id  # only an EOS may follow a completed format
            continue
        ids = state.allowed(budget - t)
        if token not in ids:
            canonical = False
            allowed.append(None)
            continue
        allowed.append(ids)
        state.advance(token)
    return allowed, canonical and state.done


def compile_for_replay(
    constraint: FormatConstraint, vocab: VocabIndex, *, chars_per_token: int = 4
) -> CompiledConstraint:
    """``constraint`` compiled with room for every free subgoal :func:`format_regex` admits (one token per char)."""
    if constraint.allow_free_subgoal:
        limit = constraint.max_subgoal_tokens * chars_per_token - 1 + _FREE_START_LEN
        constraint = dataclasses.replace(constraint, max_subgoal_tokens=limit)
    return CompiledConstraint(constraint, vocab)
