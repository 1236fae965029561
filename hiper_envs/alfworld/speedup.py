"""Memoized text generation for TextWorld's PDDL engine: the same transcripts, without re-parsing grammar strings.

TextWorld 1.7 derives every observation and every admissible command from its context-sensitive grammar, and it
re-parses the grammar's strings with TatSu each time (``textgen._parse_and_convert`` on each template and
``Rule.parse_conjunctive_query`` on each rule condition). Parsing is a pure function of the string, so caching it
changes nothing but the time: a step drops from ~35 ms to a few ms.

Nothing here patches TextWorld. :func:`fast_grammar` returns a *copy* of a game's grammar built from subclasses
(:class:`FastGrammar`, :class:`FastConditionalSymbol`) that read the caches; only engines that ask for it use it,
and every other user of TextWorld in the process keeps the stock code. Cached parse results are never handed out:
callers get deep copies, exactly as if the string had just been parsed (the derivation mutates symbols).

Code: the two overridden methods follow ``textworld.envs.pddl.textgen`` (MIT, Microsoft) line by line.
"""

from __future__ import annotations

import functools
import re
from copy import deepcopy
from typing import Any

from textworld.envs.pddl import textgen
from textworld.envs.pddl.logic import _parse_and_convert as _parse_logic
from textworld.envs.pddl.textgen import (
    ConditionalSymbol,
    ContextSensitiveGrammar,
    ListSymbol,
    NonterminalSymbol,
    ProductionRule,
    Symbol,
    TerminalSymbol,
)
from textworld.logic import Rule
from textworld.utils import check_flag

__all__ = ["FastConditionalSymbol", "FastGrammar", "clear_caches", "fast_grammar", "fresh_copy", "parse_game_logic"]

# Grammar strings are few per domain (templates, conditions, feedback rules), so these caches stay small; the
# bounds only protect a long-running process that loads many different grammars.
_SYMBOLS_CACHE_SIZE = 8192
_QUERY_CACHE_SIZE = 4096
_LOGIC_CACHE_SIZE = 16


@functools.lru_cache(maxsize=_SYMBOLS_CACHE_SIZE)
def _parsed_symbols(text: str) -> tuple[Symbol, ...]:
    return tuple(_to_fast(symbol) for symbol in textgen._parse_and_convert(text, rule_name="symbols"))


def parse_symbols(text: str) -> list[Symbol]:
    """``textgen._parse_and_convert(text, rule_name="symbols")``, memoized; returns fresh symbols each call."""
    return [fresh_copy(symbol) for symbol in _parsed_symbols(text)]


def fresh_copy(symbol: Symbol) -> Symbol:
    """``deepcopy(symbol)`` for a grammar symbol tree, without ``copy.deepcopy``'s generic machinery.

    A symbol's attributes are strings (shared: immutable), nested symbols (``ListSymbol.symbol``,
    ``ConditionalSymbol.expression``: copied the same way) and its ``context``, a new empty dict when empty as
    deepcopy would make it (a template's symbols carry none), else deep-copied. Parsed trees share no node, so
    deepcopy's memo has nothing to preserve. A derivation copies ~900 symbols per env step: this was a third of
    the step once the parses were memoized.
    """
    copy = object.__new__(type(symbol))
    state = {}
    for name, value in symbol.__dict__.items():
        if isinstance(value, str):
            state[name] = value
        elif isinstance(value, Symbol):
            state[name] = fresh_copy(value)
        elif name == "context" and isinstance(value, dict) and not value:
            state[name] = {}
        else:
            state[name] = deepcopy(value)
    copy.__dict__.update(state)
    return copy


@functools.lru_cache(maxsize=_QUERY_CACHE_SIZE)
def conjunctive_query(expr: str) -> Rule:
    """``Rule.parse_conjunctive_query(expr)``, memoized (the state only reads the rule, never changes it)."""
    return Rule.parse_conjunctive_query(expr)


def _to_fast(symbol: Symbol) -> Symbol:
    """Turn TextWorld's conditional symbols (and those nested in lists) into :class:`FastConditionalSymbol`."""
    if isinstance(symbol, ConditionalSymbol) and not isinstance(symbol, FastConditionalSymbol):
        symbol.__class__ = FastConditionalSymbol
    if isinstance(symbol, ListSymbol):
        _to_fast(symbol.symbol)
    if isinstance(symbol, ConditionalSymbol):
        _to_fast(symbol.expression)
    return symbol


def _copy_context(context: dict[str, Any]) -> dict[str, Any]:
    """``textgen.copy_context`` without the deep copies.

    The derivation replaces or adds entries of the ``variables`` and ``mapping`` dicts but never mutates their
    values (entity infos, placeholders, variables), so copying the two dicts is enough. This is most of the
    speed-up: deep-copying the entity infos was ~80% of a step once the parses were memoized.
    """
    return {
        "state": context["state"],
        "facts": context["facts"],
        "variables": dict(context["variables"]),
        "mapping": dict(context["mapping"]),
        "entity_infos": context["entity_infos"],
    }


def _query(expression: str, context: dict[str, Any]) -> list[dict[str, Any]]:
    # textgen.query with the memoized rule.
    rule = conjunctive_query(expression)
    contexts = []
    for mapping in context["state"].all_assignments(rule, context["mapping"]):
        context_ = _copy_context(context)
        new_variables = {ph.name: context_["entity_infos"][var.name] for ph, var in mapping.items()}
        context_["variables"].update(new_variables)
        context_["mapping"].update(mapping)
        contexts.append(context_)
    return contexts


class FastConditionalSymbol(ConditionalSymbol):
    """A ``{expression | given}`` symbol whose query (``given``) is parsed once."""

    def derive(self) -> list[Symbol]:
        """Same as :meth:`ConditionalSymbol.derive`, with a memoized query."""
        if len(self.context) == 0:
            raise ValueError("Empty context")
        context = _copy_context(self.context)
        contexts = [context]
        if self.given:
            contexts = _query(self.given, context)
        copies = []
        for context_ in contexts:  # Symbol.copy, with the light context copy
            copy = fresh_copy(self.expression)
            copy.context = _copy_context(context_)
            copies.append(copy)
        return copies


class FastGrammar(ContextSensitiveGrammar):
    """A :class:`ContextSensitiveGrammar` that parses each template and each rule condition only once."""

    def replace(self, start: Symbol) -> list[Symbol]:
        """Same as :meth:`ContextSensitiveGrammar.replace`, with memoized conditions."""
        rules = self._rules.get(str(start))
        if not rules:
            raise textgen.CSGUnknownSymbolError(start)

        def _applicable(rule: ProductionRule) -> bool:
            if not rule.condition:
                return True
            query = conjunctive_query(rule.condition)
            return any(True for _ in start.context["state"].all_assignments(query, start.context["mapping"]))

        rules = list(filter(_applicable, rules))
        symbols = [fresh_copy(symbol) for symbol in rules[0].rhs]
        for symbol in symbols:
            symbol.context = _copy_context(start.context)
        return symbols

    def derive(self, start: str, context: dict[str, Any] | None = None) -> str:
        """Same as :meth:`ContextSensitiveGrammar.derive`, with ``start`` parsed once."""
        context = context or {}
        if check_flag("TW_CSG_TRACE") or check_flag("TW_CSG_DEBUG"):
            return super().derive(start, context)
        derivation = parse_symbols(start)[::-1]  # Reversed: a derivation stack.
        for symbol in derivation:
            symbol.context = _copy_context(context)
        derived: list[Symbol] = []
        while derivation:
            symbol = derivation.pop()
            if isinstance(symbol, TerminalSymbol):
                derived.append(symbol)
            elif isinstance(symbol, NonterminalSymbol):
                derivation += self.replace(symbol)[::-1]
            elif isinstance(symbol, (ConditionalSymbol, textgen.EvalSymbol, ListSymbol)):
                derivation += symbol.derive()[::-1]
            else:
                raise NotImplementedError(f"Unknown symbol: {type(symbol)}")
        return "".join(map(str, derived))


def fast_grammar(grammar: ContextSensitiveGrammar) -> FastGrammar:
    """A :class:`FastGrammar` with a deep copy of ``grammar``'s rules (``grammar`` itself is left untouched)."""
    fast = FastGrammar()
    for name, rules in grammar._rules.items():
        for rule in rules:
            rhs = [_to_fast(symbol) for symbol in deepcopy(rule.rhs)]
            fast.add_rule(ProductionRule(lhs=name, rhs=rhs, weight=rule.weight, condition=rule.condition))
    return fast


# ---------------------------------------------------------------------------------------------- game logic
# A game's grammar is the domain's grammar with the task sentence written in ("Your task is to: <goal>."). Parsing
# the whole grammar takes ~60 ms, so it is parsed once per *template* and the sentence is put back in the one
# terminal symbol that holds it. That is exact when the sentence holds no character the grammar or JSON would
# read specially; otherwise the game's grammar is parsed in full.
_GOAL_RE = re.compile(r'("rhs"\s*:\s*"Your task is to: )([^"\n]*?)(\.")')
_SENTINEL = "UNKNOWN GOAL"
_UNSAFE_GOAL_CHARS = set('\\"#{}[]|;<>\t\n\r')


@functools.lru_cache(maxsize=_LOGIC_CACHE_SIZE)
def _parse_template(grammar_text: str) -> tuple[dict[str, Any], FastGrammar]:
    actions, grammar = _parse_logic(grammar_text, rule_name="pddlStart")
    return actions, fast_grammar(grammar)


def parse_game_logic(grammar_text: str) -> tuple[dict[str, Any], FastGrammar]:
    """Parse a game's ``grammar`` text: its actions and its grammar, memoized per grammar template.

    Equivalent to ``_parse_and_convert(grammar_text, rule_name="pddlStart")`` in ``textworld.envs.pddl.logic``,
    with the grammar as a :class:`FastGrammar`. The result shares its production rules with the cache: TextWorld
    only reads them (a derivation deep-copies a rule's symbols before using them), so do not mutate them.
    """
    match = _GOAL_RE.search(grammar_text)
    goal = match.group(2) if match else None
    if match is None or goal is None or _SENTINEL in grammar_text or any(ch in _UNSAFE_GOAL_CHARS for ch in goal):
        return _shared_copy(*_parse_template(grammar_text), goal=None)[:2]
    template = grammar_text[: match.start(2)] + _SENTINEL + grammar_text[match.end(2) :]
    actions, grammar, replaced = _shared_copy(*_parse_template(template), goal=goal)
    if replaced != 1:  # The sentence did not land in exactly one terminal symbol: parse this game in full.
        return _shared_copy(*_parse_template(grammar_text), goal=None)[:2]
    return actions, grammar


def _shared_copy(
    actions: dict[str, Any], grammar: FastGrammar, goal: str | None
) -> tuple[dict[str, Any], FastGrammar, int]:
    """A new grammar holding the cached rules, except those with the sentinel, rebuilt with ``goal`` in it."""
    copy, replaced = FastGrammar(), 0
    for name, rules in grammar._rules.items():
        for rule in rules:
            if goal is not None and any(_holds_sentinel(symbol) for symbol in rule.rhs):
                rhs = deepcopy(rule.rhs)
                for symbol in rhs:
                    if _holds_sentinel(symbol):
                        symbol.symbol = symbol.symbol.replace(_SENTINEL, goal)
                        replaced += 1
                rule = ProductionRule(lhs=name, rhs=rhs, weight=rule.weight, condition=rule.condition)
            copy.add_rule(rule)
    return dict(actions), copy, replaced


def _holds_sentinel(symbol: Symbol) -> bool:
    return isinstance(symbol, TerminalSymbol) and isinstance(symbol.symbol, str) and _SENTINEL in symbol.symbol


def clear_caches() -> None:
    """Drop every memoized parse (tests; or to free memory after playing many different grammars)."""
    _parsed_symbols.cache_clear()
    conjunctive_query.cache_clear()
    _parse_template.cache_clear()
