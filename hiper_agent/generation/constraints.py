"""Constrained decoding for the option protocol: a per-row state machine that says which tokens may come next.

A :class:`FormatConstraint` forces the skeleton::

    <switch>KEEP|SWITCH</switch>
    <subgoal>free text without tags or newlines (or one of the given subgoals)</subgoal>
    <action>exactly one admissible command</action><EOS>

With ``keep_subgoal`` (the current option's subgoal), a ``KEEP`` forces the subgoal block to that text: KEEP
continues the current subgoal (PROTOCOL.md), and the action is then written after the subgoal it serves, not after
a rewritten one. Only ``SWITCH`` writes a new subgoal.

It is compiled against a tokenizer into segments: *forced* token runs (the tags, tokenized on their own), *choices*
(a token trie over the tokenized options, each followed by its closing tag) and *free text* (any token whose text has
no ``<``, ``>`` or newline, closed by the first token of the closing tag or when the budget runs out). Any
tokenizer works: tags do not need to be single tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hiper_agent.protocol import KEEP, SWITCH, close_tag, open_tag

__all__ = ["CompiledConstraint", "ConstraintState", "FormatConstraint", "VocabIndex"]


@dataclass(frozen=True)
class FormatConstraint:
    """What a constrained response may contain.

    Attributes:
        admissible: the commands the ``<action>`` block may hold (verbatim; duplicates and blanks are dropped).
        allow_free_subgoal: let the subgoal be free text; otherwise it is one of ``subgoals``.
        max_subgoal_tokens: longest free subgoal, in tokens (it is closed there).
        subgoals: the subgoal choices when ``allow_free_subgoal`` is false (e.g. the env's subgoal candidates).
        end_with_eos: end with the EOS token after ``</action>`` (forced, so it costs no probability).
        keep_subgoal: the current subgoal; after ``KEEP`` the subgoal block is forced to it (``None``: KEEP writes
            its subgoal like SWITCH, e.g. at the first step, when there is no current subgoal).
    """

    admissible: Sequence[str]
    allow_free_subgoal: bool = True
    max_subgoal_tokens: int = 24
    subgoals: Sequence[str] = ()
    end_with_eos: bool = True
    keep_subgoal: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.admissible, str):
            raise TypeError("admissible must be a list of commands, not one string")
        commands = tuple(dict.fromkeys(str(c).strip() for c in self.admissible if str(c).strip()))
        if not commands:
            raise ValueError(
                f"a FormatConstraint needs at least one non-empty admissible command, got {self.admissible!r}"
            )
        object.__setattr__(self, "admissible", commands)
        object.__setattr__(self, "subgoals", tuple(dict.fromkeys(s.strip() for s in self.subgoals if s.strip())))
        if self.max_subgoal_tokens < 1:
            raise ValueError(f"max_subgoal_tokens must be >= 1, got {self.max_subgoal_tokens}")
        if not self.allow_free_subgoal and not self.subgoals:
            raise ValueError("allow_free_subgoal=False needs a non-empty `subgoals` list to choose from")
        keep = (self.keep_subgoal or "").strip()
        object.__setattr__(self, "keep_subgoal", keep if keep and all(c not in keep for c in "<>\n") else None)


class VocabIndex:
    """Per-tokenizer lookups the constraints need, computed once: token texts, free-text ids, encodings."""

    def __init__(self, tokenizer: Any, vocab_size: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = max(len(tokenizer), vocab_size or 0)
        self.eos_id: int = tokenizer.eos_token_id
        ids = list(range(len(tokenizer)))
        self.pieces: list[str] = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False)
        added = set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
        special = set(tokenizer.all_special_ids) | added
        # printable text with no tag characters; this also drops newlines, control bytes and split UTF-8 (U+FFFD)
        plain = [
            i
            for i in ids
            if i not in special
            and self.pieces[i].isprintable()
            and not any(c in self.pieces[i] for c in "<>\ufffd")
            and self.pieces[i]
        ]
        #: tokens a free-text block may contain, and the subset that may open it (not whitespace only)
        self.free_ids: list[int] = plain
        self.free_start_ids: list[int] = [i for i in plain if self.pieces[i].strip()]
        self._encoded: dict[str, tuple[int, ...]] = {}
        self._free_or_close: dict[int, list[int]] = {}

    def encode(self, text: str) -> tuple[int, ...]:
        """Token ids of ``text`` on its own (no special tokens added), cached."""
        ids = self._encoded.get(text)
        if ids is None:
            ids = tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            self._encoded[text] = ids
        return ids

    def free_or_close(self, close_id: int) -> list[int]:
        """``free_ids`` plus the first token of a closing tag (one shared list per closing token)."""
        ids = self._free_or_close.get(close_id)
        if ids is None:
            ids = self._free_or_close[close_id] = [*self.free_ids, close_id]
        return ids


@dataclass
class _Trie:
    children: dict[int, _Trie] = field(default_factory=dict)
    terminal: bool = False
    _allowed: list[int] | None = None

    def allowed(self) -> list[int]:
        if self._allowed is None:
            self._allowed = list(self.children)
        return self._allowed

    def depth(self) -> int:
        return 1 + max((c.depth() for c in self.children.values()), default=-1)


@dataclass
class _Forced:
    ids: tuple[int, ...]
    allowed: list[list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.allowed = [[i] for i in self.ids]

    @property
    def max_len(self) -> int:
        return len(self.ids)


@dataclass
class _Choice:
    root: _Trie
    max_len: int


@dataclass
class _FreeText:
    close: tuple[int, ...]
    max_tokens: int

    @property
    def max_len(self) -> int:
        return 1 + len(self.close)  # budget-wise: one content token, then the close


def _walk(node: _Trie, ids: Sequence[int]) -> _Trie | None:
    """The trie node reached by ``ids`` from ``node`` (``None`` if they leave the trie)."""
    for token in ids:
        if token not in node.children:
            return None
        node = node.children[token]
    return node


def _choice(options: Sequence[str], suffix: str, vocab: VocabIndex) -> _Choice:
    root = _Trie()
    for option in options:
        node = root
        for token in (*vocab.encode(option), *vocab.encode(suffix)):
            # NOTE: a sequence that is a strict prefix of another ends the choice when reached, so the longer
            # option becomes unreachable; with a closing tag appended to every option this cannot happen.
            if node.terminal:
                break
            node = node.children.setdefault(token, _Trie())
        else:
            node.terminal = True
            node.children.clear()
    return _Choice(root, root.depth())


class CompiledConstraint:
    """A :class:`FormatConstraint` turned into token segments for one tokenizer."""

    SWITCH, SUBGOAL = 1, 3  # indices of the switch and subgoal blocks in ``segments``

    def __init__(self, constraint: FormatConstraint, vocab: VocabIndex) -> None:
        self.constraint = constraint
        switch = _choice((KEEP, SWITCH), close_tag("switch"), vocab)
        segments: list[Any] = [
            _Forced(vocab.encode(open_tag("switch"))),
            switch,
            _Forced(vocab.encode("\n" + open_tag("subgoal"))),
        ]
        if constraint.allow_free_subgoal:
            segments.append(_FreeText(vocab.encode(close_tag("subgoal")), constraint.max_subgoal_tokens))
        else:
            segments.append(_choice(constraint.subgoals, close_tag("subgoal"), vocab))
        segments += [
            _Forced(vocab.encode("\n" + open_tag("action"))),
            _choice(constraint.admissible, close_tag("action"), vocab),
        ]
        if constraint.end_with_eos:
            segments.append(_Forced((vocab.eos_id,)))
        self.segments = segments
        self.vocab = vocab
        # tokens that must stay available after segment k, whatever is chosen: lets free text close in time
        self.reserve_after = [sum(s.max_len for s in segments[k + 1 :]) for k in range(len(segments))]
        #: the fewest new tokens that always suffice to complete the format (with a one-token subgoal)
        self.required_tokens = sum(s.max_len for s in segments)
        # KEEP with a current subgoal: the subgoal block (index SUBGOAL) becomes that text, forced. KEEP is offered
        # only while the budget holds the forced path, so the format always completes.
        keep_path = (*vocab.encode(KEEP), *vocab.encode(close_tag("switch")))
        self.keep_node: _Trie | None = None  # where the switch block's trie ends on KEEP
        self.keep_segment: _Forced | None = None
        self.keep_cost = 0  # tokens from the switch block's start to the end of the response, via KEEP
        self.without_keep: list[int] = []  # the switch block's first tokens, KEEP's excluded
        first = keep_path[0]
        if constraint.keep_subgoal is not None and first != vocab.encode(SWITCH)[0]:  # else KEEP can't be refused
            self.keep_node = _walk(switch.root, keep_path)
            self.keep_segment = _Forced((*vocab.encode(constraint.keep_subgoal), *vocab.encode(close_tag("subgoal"))))
            self.keep_cost = len(keep_path) + segments[self.SUBGOAL - 1].max_len + self.keep_segment.max_len
            self.keep_cost += self.reserve_after[self.SUBGOAL]
            self.without_keep = [t for t in switch.root.allowed() if t != first]

    def start(self) -> ConstraintState:
        """A fresh state at the beginning of a response."""
        return ConstraintState(self)


class ConstraintState:
    """Where one row is in its constrained response."""

    def __init__(self, compiled: CompiledConstraint) -> None:
        self.compiled = compiled
        self.segment = 0
        self.pos = 0  # tokens emitted inside the current segment
        self.node: _Trie | None = None  # position in the current choice's trie
        self.closing = 0  # free text: tokens of the closing tag emitted so far
        self.kept = False  # the switch block said KEEP (tracked only when KEEP forces the subgoal)
        self._enter()

    @property
    def done(self) -> bool:
        """Whether the format is complete."""
        return self.segment >= len(self.compiled.segments)

    def _current(self) -> Any:
        compiled = self.compiled
        if self.segment == compiled.SUBGOAL and self.kept and compiled.keep_segment is not None:
            return compiled.keep_segment
        return compiled.segments[self.segment]

    def _enter(self) -> None:
        self.pos, self.closing = 0, 0
        if not self.done:
            seg = self._current()
            self.node = seg.root if isinstance(seg, _Choice) else None

    def _next_segment(self) -> None:
        self.segment += 1
        self._enter()

    def allowed(self, budget_left: int) -> list[int]:
        """Token ids allowed next, given how many new tokens the row may still generate."""
        seg = self._current()
        if isinstance(seg, _Forced):
            return seg.allowed[self.pos]
        if isinstance(seg, _Choice):
            compiled = self.compiled
            if self.segment == compiled.SWITCH and self.node is seg.root and compiled.keep_segment is not None:
                return compiled.without_keep if budget_left < compiled.keep_cost else self.node.allowed()
            return self.node.allowed()
        if self.closing:
            return [seg.close[self.closing]]
        must_close = (
            self.pos >= seg.max_tokens or budget_left <= len(seg.close) + self.compiled.reserve_after[self.segment]
        )
        if must_close:
            return [seg.close[0]]
        vocab = self.compiled.vocab
        return vocab.free_start_ids if self.pos == 0 else vocab.free_or_close(seg.close[0])

    def advance(self, token: int) -> None:
        """Consumes the emitted ``token`` (one of :meth:`allowed`)."""
        seg = self._current()
        if isinstance(seg, _Forced):
            self.pos += 1
            if self.pos == len(seg.ids):
                self._next_segment()
        elif isinstance(seg, _Choice):
            self.node = self.node.children[token]
            if self.node.terminal:
                if self.segment == self.compiled.SWITCH:
                    self.kept = self.node is self.compiled.keep_node
                self._next_segment()
        elif self.closing or token == seg.close[0]:
            self.closing += 1
            if self.closing == len(seg.close):
                self._next_segment()
        else:
            self.pos += 1
