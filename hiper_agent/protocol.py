"""The option protocol as the agent uses it: the one place ``hiper_agent`` takes it from ``hiper_envs``' public face.

Prompts, decoding constraints, the tiny model's vocabulary, the critic's value positions and the LLM policy's
parser all read the tags and words from here, so the protocol is spelt once (``hiper_envs.options``).
"""

from __future__ import annotations

from hiper_envs import (
    KEEP,
    PROTOCOL_VERSION,
    SWITCH,
    TAGS,
    OptionAction,
    ParsedResponse,
    close_tag,
    format_response,
    open_tag,
    parse_response,
)

__all__ = [
    "KEEP",
    "PROTOCOL_VERSION",
    "SWITCH",
    "TAG_TOKENS",
    "TAGS",
    "OptionAction",
    "ParsedResponse",
    "close_tag",
    "format_response",
    "open_tag",
    "parse_response",
]

#: Every tag spelling, opening and closing, in block order (``<switch>``, ``</switch>``, ``<subgoal>``, ...).
TAG_TOKENS: tuple[str, ...] = tuple(spelling for tag in TAGS for spelling in (open_tag(tag), close_tag(tag)))
