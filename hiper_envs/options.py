"""The option protocol (``hiper-options/1``): action types, the lenient three-block parser, the segment tracker.

One implementation shared by every ``hiper_envs`` environment and by any agent (``hiper_agent`` included). See
``docs/protocol.md`` for the contract. Nothing here imports an LLM library: an agent outside this project can use
:func:`parse_response` to read its model's output and :class:`OptionAction` to talk to the envs.

An LLM writes, each step::

    <switch>KEEP|SWITCH</switch>
    <subgoal>short subgoal, achievable in a few actions</subgoal>
    <action>one admissible action, verbatim</action>

Parsing never raises. A missing or unknown ``<switch>`` means KEEP (SWITCH on the first step); a missing
``<subgoal>`` keeps the current one; a missing ``<action>`` yields an invalid step. Every deviation is recorded in
:attr:`ParsedResponse.format_errors` so that agents can count malformed outputs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "KEEP",
    "PROTOCOL_VERSION",
    "SWITCH",
    "TAGS",
    "close_tag",
    "OptionAction",
    "ParsedResponse",
    "SegmentTracker",
    "SubgoalStatus",
    "coerce_action",
    "format_response",
    "looks_like_response",
    "normalize_command",
    "open_tag",
    "parse_response",
]

PROTOCOL_VERSION = "hiper-options/1"
TAGS: tuple[str, str, str] = ("switch", "subgoal", "action")
#: The two words of the ``<switch>`` block.
KEEP, SWITCH = "KEEP", "SWITCH"


def open_tag(tag: str) -> str:
    """``<tag>``: the canonical opening spelling of a block (``tag`` in :data:`TAGS`)."""
    if tag not in TAGS:
        raise ValueError(f"unknown block {tag!r}; the protocol's blocks are {TAGS}")
    return f"<{tag}>"


def close_tag(tag: str) -> str:
    """``</tag>``: the canonical closing spelling of a block."""
    return f"</{open_tag(tag)[1:]}"


SubgoalStatus = Literal["achieved", "pending", "unknown"]

#: Longest action or subgoal text the envs accept; longer input is an invalid action, not a crash.
MAX_TEXT_CHARS = 2_000

_OPEN_RE = re.compile(r"<\s*(switch|subgoal|action)\s*>", re.IGNORECASE)
_CLOSE_RE = {tag: re.compile(rf"<\s*/\s*{tag}\s*>", re.IGNORECASE) for tag in TAGS}
_ANY_TAG_RE = re.compile(r"<\s*/?\s*(switch|subgoal|action)\s*>", re.IGNORECASE)
# Stray punctuation models put right before a closing tag ("go to desk 1.</action>", "...]</subgoal>").
_TRAILING_JUNK = " \t\r\n.,;:!]})'\"`"
_LEADING_JUNK = " \t\r\n[({'\"`"


@dataclass(frozen=True)
class OptionAction:
    """One agent decision: keep or switch the option, its subgoal text, and one primitive action.

    Attributes:
        action: the primitive action text sent to the environment.
        switch: ``True`` opens a new option (SWITCH); ``False`` continues the current one (KEEP).
            The first step of an episode always opens an option, whatever this says.
        subgoal: the subgoal text; ``None`` keeps the current option's subgoal.
    """

    action: str
    switch: bool = False
    subgoal: str | None = None


@dataclass(frozen=True)
class ParsedResponse:
    """What :func:`parse_response` read from one LLM response.

    Attributes:
        text: the raw response.
        switch: ``True`` for SWITCH, ``False`` for KEEP, ``None`` when the block is missing or unreadable.
        subgoal: the ``<subgoal>`` content, or ``None`` when missing or empty.
        action: the ``<action>`` content, or ``None`` when missing or empty.
        spans: for each tag, the ``(start, end)`` character span of the whole block, tags included, in ``text``
            (``None`` when the block is missing). Used to put each level's advantage on its own tokens.
        content_spans: like ``spans`` but for the block's content only.
        format_errors: every deviation from the format, e.g. ``"missing_action"``, ``"unknown_switch"``.
    """

    text: str
    switch: bool | None
    subgoal: str | None
    action: str | None
    spans: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    content_spans: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    format_errors: tuple[str, ...] = ()

    @property
    def is_valid(self) -> bool:
        """Whether the response had all three blocks, well formed."""
        return not self.format_errors

    def to_action(self, *, first_step: bool = False) -> OptionAction | None:
        """The :class:`OptionAction` this response asks for; ``None`` when it has no action."""
        if self.action is None:
            return None
        switch = True if first_step else bool(self.switch)
        return OptionAction(action=self.action, switch=switch, subgoal=self.subgoal)


_OPENERS = {"]": "[", ")": "(", "}": "{"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_PLAIN_TRAILING = "".join(c for c in _TRAILING_JUNK if c not in _OPENERS)
_PLAIN_LEADING = "".join(c for c in _LEADING_JUNK if c not in _CLOSERS)


def _clean(text: str) -> str:
    """Drop stray quotes, punctuation and *unbalanced* brackets around a block's content; collapse spaces.

    Balanced brackets are content (WebShop's ``click[buy now]``); a lone ``]`` before a closing tag is noise.
    """
    text = text.strip(_PLAIN_LEADING + _PLAIN_TRAILING)
    while text:
        last, first = text[-1], text[0]
        if last in _OPENERS and text.count(last) > text.count(_OPENERS[last]):
            text = text[:-1].rstrip(_PLAIN_TRAILING)
        elif first in _CLOSERS and text.count(first) > text.count(_CLOSERS[first]):
            text = text[1:].lstrip(_PLAIN_LEADING)
        elif first in _CLOSERS and last == _CLOSERS[first] and not any(c in text[1:-1] for c in "[](){}"):
            text = text[1:-1].strip(_PLAIN_LEADING + _PLAIN_TRAILING)  # "[go to desk 1]": a wrapper, not content
        else:
            break
    return " ".join(text.split())


def parse_response(text: Any, *, first_step: bool = False) -> ParsedResponse:
    """Parse a three-block response leniently. Never raises.

    Tags are matched case-insensitively with optional inner whitespace (``< Action >``); a block whose closing tag
    is missing runs to the next tag or the end of the text; the first occurrence of each tag wins; brackets, quotes
    and stray punctuation around the content are dropped and inner whitespace is collapsed.

    Args:
        text: the LLM's response. Anything that is not a ``str`` parses as an empty response.
        first_step: whether this is the episode's first step (a missing switch then means SWITCH).

    Returns:
        The parsed blocks, their character spans and the list of format errors.
    """
    errors: list[str] = []
    if not isinstance(text, str):
        errors.append("not_text")
        text = ""
    values: dict[str, str | None] = {}
    spans: dict[str, tuple[int, int] | None] = {}
    content_spans: dict[str, tuple[int, int] | None] = {}
    for tag in TAGS:
        values[tag], spans[tag], content_spans[tag] = None, None, None
    for match in _OPEN_RE.finditer(text):
        tag = match.group(1).lower()
        if spans[tag] is not None:
            errors.append(f"duplicate_{tag}")
            continue
        start = match.end()
        close = _CLOSE_RE[tag].search(text, start)
        next_tag = _ANY_TAG_RE.search(text, start)
        if close is not None and (next_tag is None or next_tag.start() >= close.start()):
            content_end, block_end = close.start(), close.end()
        else:
            errors.append(f"unclosed_{tag}")
            content_end = block_end = next_tag.start() if next_tag is not None else len(text)
        raw = text[start:content_end]
        values[tag] = _clean(raw) or None
        spans[tag] = (match.start(), block_end)
        content_spans[tag] = (start, content_end)

    switch: bool | None = None
    if values["switch"] is None:
        errors.append("missing_switch")
    else:
        word = values["switch"].upper()
        if word in ("SWITCH", "NEW"):
            switch = True
        elif word in ("KEEP", "CONTINUE"):
            switch = False
        else:
            errors.append("unknown_switch")
    if first_step and switch is None:
        switch = True
    if values["subgoal"] is None:
        errors.append("missing_subgoal")
    if values["action"] is None:
        errors.append("missing_action")
    if len(text) > 0 and spans["action"] is not None and text[spans["action"][1] :].strip():
        errors.append("trailing_text")
    return ParsedResponse(
        text=text,
        switch=switch,
        subgoal=values["subgoal"],
        action=values["action"],
        spans=spans,
        content_spans=content_spans,
        format_errors=tuple(errors),
    )


def format_response(switch: bool, subgoal: str | None, action: str) -> str:
    """Write the canonical three-block text (the inverse of :func:`parse_response`)."""
    blocks = zip(TAGS, (SWITCH if switch else KEEP, subgoal or "", action), strict=True)
    return "\n".join(f"{open_tag(tag)}{text}{close_tag(tag)}" for tag, text in blocks)


def looks_like_response(text: str) -> bool:
    """Whether a string uses the three-block form (any of the tags), rather than being a bare action."""
    return _ANY_TAG_RE.search(text) is not None


def normalize_command(text: str) -> str:
    """Canonical form for comparing an action with the admissible commands: lower case, single spaces."""
    return _clean(text).lower()


def coerce_action(action: Any, *, first_step: bool) -> tuple[OptionAction | None, ParsedResponse | None, str]:
    """Turn anything passed to ``env.step`` into an :class:`OptionAction`. Never raises.

    Accepted: a bare action string; the raw three-block text; a mapping or dataclass with ``action`` and
    optionally ``switch`` (bool, 0/1, ``"KEEP"``/``"SWITCH"`` or ``None``) and ``subgoal`` (str or ``None``); an
    :class:`OptionAction`, whose fields are checked the same way (a dataclass does not check its field types, so
    ``OptionAction(action=None)`` or ``OptionAction(action="x", subgoal=5)`` can reach here).

    Returns:
        ``(option_action, parsed, error)``: ``option_action`` is ``None`` when no primitive action could be read,
        and then ``error`` says why in words fit for the agent's observation. ``parsed`` is set when the input was
        three-block text (it carries the format errors); ``error`` is ``""`` when all went well.
    """
    try:
        return _coerce(action, first_step)
    except Exception as e:  # noqa: BLE001 - a user object whose __getattr__, __len__ or mapping methods raise
        return None, None, f"The action could not be read ({type(e).__name__})."


def _coerce(action: Any, first_step: bool) -> tuple[OptionAction | None, ParsedResponse | None, str]:
    if isinstance(action, str):
        if len(action) > 50 * MAX_TEXT_CHARS:
            return None, None, f"The action is too long ({len(action)} characters)."
        if looks_like_response(action):
            parsed = parse_response(action, first_step=first_step)
            opt = parsed.to_action(first_step=first_step)
            if opt is None:
                return None, parsed, "The response has no <action>...</action> block."
            return _check_lengths(opt) or (opt, parsed, "")
        return _check_lengths(OptionAction(action=action)) or (OptionAction(action=action), None, "")
    if isinstance(action, Mapping):
        fields = {name: action.get(name) for name in ("action", "switch", "subgoal")}
    elif dataclasses.is_dataclass(action) and not isinstance(action, type):
        fields = {f.name: getattr(action, f.name) for f in dataclasses.fields(action)}  # shallow: no deep copies
    else:
        return None, None, f"Unsupported action type {type(action).__name__}: send a string or an OptionAction."
    text, switch, subgoal = fields.get("action"), fields.get("switch", False), fields.get("subgoal")
    if not isinstance(text, str):
        return None, None, f"The action must be a string, got {type(text).__name__}."
    if isinstance(switch, str):
        switch = switch.strip().upper() == SWITCH
    elif switch is None:
        switch = False
    elif isinstance(switch, bool) or (isinstance(switch, int) and switch in (0, 1)):
        switch = bool(switch)
    else:
        return None, None, f"The switch must be a bool or 'KEEP'/'SWITCH', got {type(switch).__name__}."
    if subgoal is not None and not isinstance(subgoal, str):
        return None, None, f"The subgoal must be a string or None, got {type(subgoal).__name__}."
    opt = OptionAction(action=str(text), switch=switch, subgoal=None if subgoal is None else str(subgoal))
    return _check_lengths(opt) or (opt, None, "")


def _check_lengths(opt: OptionAction) -> tuple[None, None, str] | None:
    if len(opt.action) > MAX_TEXT_CHARS:
        return None, None, f"The action is too long ({len(opt.action)} characters, at most {MAX_TEXT_CHARS})."
    if opt.subgoal is not None and len(opt.subgoal) > MAX_TEXT_CHARS:
        return (
            None,
            None,
            f"The subgoal is too long ({len(opt.subgoal)} characters, at most {MAX_TEXT_CHARS}).",
        )
    return None


class SegmentTracker:
    """Tracks one episode's options (segments) and fills the option keys of ``info``.

    The first step always opens option 0. A SWITCH opens the next option; a KEEP continues the current one and
    keeps its subgoal (a KEEP whose subgoal text differs is recorded in ``subgoal_changed_on_keep``, for the
    agent's KEEP-consistency penalty). Once the env verifies the option's subgoal as achieved, the status stays
    ``"achieved"`` until the option ends, so "take X" is not undone by then moving X.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start a new episode: no option is open yet."""
        self.option_id = 0
        self.option_step = 0
        self.option_started = False
        self.subgoal: str | None = None
        self.subgoal_changed_on_keep = False
        self._opened = False
        self._achieved = False

    def step(self, switch: bool, subgoal: str | None) -> None:
        """Record one step's decision, before its action is executed."""
        self.subgoal_changed_on_keep = False
        if not self._opened or switch:
            if self._opened:
                self.option_id += 1
            self._opened = True
            self.option_step = 0
            self.option_started = True
            self._achieved = False
            if subgoal is not None:
                self.subgoal = subgoal
        else:
            self.option_step += 1
            self.option_started = False
            if subgoal is not None and self.subgoal is not None:
                self.subgoal_changed_on_keep = normalize_command(subgoal) != normalize_command(self.subgoal)
            elif subgoal is not None:
                self.subgoal = subgoal

    def status(self, verified: SubgoalStatus) -> SubgoalStatus:
        """Latch the env's verdict on the current subgoal for the rest of the option."""
        if verified == "achieved":
            self._achieved = True
        return "achieved" if self._achieved else verified

    def info(self) -> dict[str, Any]:
        """The option keys of ``info`` (without ``subgoal_status``, which needs the env)."""
        return {
            "option_id": self.option_id,
            "option_step": self.option_step,
            "option_started": self.option_started,
            "subgoal": self.subgoal,
            "subgoal_changed_on_keep": self.subgoal_changed_on_keep,
        }
