"""Token-level assignment: which tokens of a turn's response carry which advantage.

A HiPER response holds three blocks, `<switch>`, `<subgoal>`, `<action>`. The masks are disjoint, so the
per-token advantage is a plain sum (reference: `hiper_hae/core_hae.py`):

- `adv_low` on the action tokens, every turn;
- `adv_high` on the subgoal tokens, only on turns that start a segment (a KEEP turn's subgoal is a copy);
- `adv_switch` on the switch tokens, every turn (only when a switch critic exists; otherwise 0).

Parsing is lenient (PROTOCOL.md), and so is the assignment:

- no `<action>` block: every token outside the switch and subgoal blocks gets `adv_low` (reference:
  `fallback_action_to_full_response=True`), so an unparsable response is still pushed by its (penalized)
  outcome;
- no `<subgoal>` block: `adv_high` goes nowhere for that turn. No token expressed the subgoal choice, and
  putting it on the action tokens would count the turn's outcome twice next to `adv_low`;
- no `<switch>` block: no switch tokens.

Flat estimators (gae, grpo, rloo, gigpo) have one advantage per turn: with `hierarchical=False` every
response token gets `adv_low`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BLOCKS", "TokenMasks", "build_token_advantages", "char_spans_to_token_masks", "token_spans_to_masks"]

BLOCKS = ("switch", "subgoal", "action")

Span = tuple[int, int] | None


@dataclass
class TokenMasks:
    """Disjoint boolean masks over a response's tokens, each of shape `(response_length,)`.

    Attributes:
        switch: Tokens of the `<switch>` block.
        subgoal: Tokens of the `<subgoal>` block (not the switch tokens).
        action: Tokens of the `<action>` block, or every other token when the block is missing.
        action_found: Whether the `<action>` block was present (False: `action` is the fallback).
        subgoal_found: Whether the `<subgoal>` block was present.
    """

    switch: np.ndarray
    subgoal: np.ndarray
    action: np.ndarray
    action_found: bool
    subgoal_found: bool


def get_span(spans: Any, block: str) -> Span:
    """Reads one block's `(start, end)` span.

    Accepts a mapping (`{"switch": (0, 20), ...}`), an object holding such a mapping in `.spans` (the
    protocol parser's `ParsedResponse`, whose spans cover whole blocks, tags included), or an object with
    `switch_span`-style attributes.
    """
    if spans is None:
        return None
    inner = getattr(spans, "spans", None)
    if isinstance(inner, Mapping):
        spans = inner
    if isinstance(spans, Mapping):
        return spans.get(block)
    return getattr(spans, f"{block}_span", None)


def token_spans_to_masks(
    spans: Any, response_length: int, *, fallback_action_to_full_response: bool = True
) -> TokenMasks:
    """Builds the masks from token spans.

    Args:
        spans: Mapping or object with `switch`, `subgoal`, `action` entries, each a half-open token span
            `(start_tok, end_tok)` or None when the block is missing.
        response_length: Number of response tokens; spans are clipped to it.
        fallback_action_to_full_response: With no `<action>` block, give every token outside the switch and
            subgoal blocks to the action mask.

    Returns:
        TokenMasks. Where spans overlap, switch wins over subgoal, and both win over action.
    """
    masks = {}
    for block in BLOCKS:
        m = np.zeros(response_length, dtype=bool)
        span = get_span(spans, block)
        if span is not None:
            start, end = max(int(span[0]), 0), min(int(span[1]), response_length)
            m[start:end] = True
        masks[block] = m
    return _finish(
        masks,
        get_span(spans, "action") is not None,
        get_span(spans, "subgoal") is not None,
        fallback_action_to_full_response,
    )


def char_spans_to_token_masks(
    offsets: Sequence[tuple[int, int]],
    char_spans: Any,
    *,
    fallback_action_to_full_response: bool = True,
) -> TokenMasks:
    """Builds the masks from character spans and per-token character offsets.

    Args:
        offsets: One `(char_start, char_end)` per response token, e.g. from a Hugging Face fast tokenizer
            called with `return_offsets_mapping=True`.
        char_spans: Mapping or object with `switch`, `subgoal`, `action` half-open character spans (None when
            missing), as the protocol parser returns them. A token belongs to a block if its characters
            overlap the block's span (zero-width special tokens belong to none).
        fallback_action_to_full_response: See `token_spans_to_masks`.

    Returns:
        TokenMasks over `len(offsets)` tokens.
    """
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    masks = {}
    for block in BLOCKS:
        span = get_span(char_spans, block)
        if span is None:
            masks[block] = np.zeros(len(off), dtype=bool)
        else:
            masks[block] = (off[:, 0] < span[1]) & (off[:, 1] > span[0])
    found_action = get_span(char_spans, "action") is not None
    found_subgoal = get_span(char_spans, "subgoal") is not None
    return _finish(masks, found_action, found_subgoal, fallback_action_to_full_response)


def build_token_advantages(
    adv_low: float,
    adv_high: float,
    adv_switch: float | None,
    is_segment_start: bool,
    spans: Any,
    response_length: int,
    *,
    offsets: Sequence[tuple[int, int]] | None = None,
    hierarchical: bool = True,
    fallback_action_to_full_response: bool = True,
) -> np.ndarray:
    """Turns one turn's advantages into a per-token advantage vector for the policy loss.

    Args:
        adv_low: The turn's low-level advantage (or the flat per-turn advantage).
        adv_high: The turn's high-level advantage (used only when `is_segment_start`).
        adv_switch: The turn's switch advantage, or None without a switch critic (switch tokens get 0).
        is_segment_start: Whether this turn opens a segment (step 0 or SWITCH).
        spans: The turn's block spans: token spans, or character spans when `offsets` is given; a
            `TokenMasks` is used as is. None means no block was found.
        response_length: Number of response tokens.
        offsets: Per-token character offsets; when given, `spans` are character spans.
        hierarchical: False for flat estimators: every token gets `adv_low`.
        fallback_action_to_full_response: See `token_spans_to_masks`.

    Returns:
        float32 numpy array of shape `(response_length,)`; tokens outside every block get 0.
    """
    if not hierarchical:
        return np.full(response_length, adv_low, dtype=np.float32)
    if isinstance(spans, TokenMasks):
        masks = spans
    elif offsets is not None:
        if len(offsets) != response_length:
            raise ValueError(f"got {len(offsets)} token offsets for a response of {response_length} tokens")
        masks = char_spans_to_token_masks(
            offsets, spans, fallback_action_to_full_response=fallback_action_to_full_response
        )
    else:
        masks = token_spans_to_masks(
            spans, response_length, fallback_action_to_full_response=fallback_action_to_full_response
        )
    if len(masks.action) != response_length:
        raise ValueError(f"masks cover {len(masks.action)} tokens, response has {response_length}")
    out = masks.action * float(adv_low)
    if is_segment_start:
        out = out + masks.subgoal * float(adv_high)
    if adv_switch is not None:
        out = out + masks.switch * float(adv_switch)
    return out.astype(np.float32)


def _finish(masks: dict[str, np.ndarray], action_found: bool, subgoal_found: bool, fallback: bool) -> TokenMasks:
    switch = masks["switch"]
    subgoal = masks["subgoal"] & ~switch
    action = masks["action"] & ~switch & ~subgoal
    if not action_found and fallback:
        action = ~switch & ~subgoal
    return TokenMasks(switch, subgoal, action, action_found, subgoal_found)
