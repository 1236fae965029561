"""The memoized grammar's symbol copy: the same tree as ``copy.deepcopy`` makes, sharing no node with the original."""

from __future__ import annotations

from copy import deepcopy

from textworld.envs.pddl.textgen import Symbol

from hiper_envs.alfworld.env import ALFWorldEnv
from hiper_envs.alfworld.speedup import fresh_copy, parse_game_logic


def _same_tree(a: Symbol, b: Symbol) -> None:
    """``a`` and ``b`` are equal trees of distinct nodes (strings aside: immutable, so shared either way)."""
    assert type(a) is type(b) and a is not b and vars(a).keys() == vars(b).keys()
    for name, value in vars(a).items():
        other = vars(b)[name]
        if isinstance(value, Symbol):
            _same_tree(value, other)
        else:
            assert value == other
            if isinstance(value, dict):
                assert value is not other  # a context of its own, as deepcopy gives


def _nodes(symbol: Symbol) -> list[Symbol]:
    return [symbol] + [n for v in vars(symbol).values() if isinstance(v, Symbol) for n in _nodes(v)]


def test_fresh_copy_is_deepcopy_on_every_rule_of_a_real_grammar():
    env = ALFWorldEnv(split="valid_seen", num_games=4)
    env.reset(options={"game_index": 0})
    _, grammar = parse_game_logic(env.game.game["grammar"])
    symbols = [s for rules in grammar._rules.values() for rule in rules for s in rule.rhs]
    kinds = {type(node).__name__ for symbol in symbols for node in _nodes(symbol)}
    assert len(symbols) > 100 and kinds >= {
        "TerminalSymbol",
        "NonterminalSymbol",
        "FastConditionalSymbol",
        "EvalSymbol",
        "ListSymbol",
    }
    for symbol in symbols:
        copy = fresh_copy(symbol)
        _same_tree(copy, deepcopy(symbol))
        _same_tree(copy, symbol)
    # a context that is not empty is deep-copied, as deepcopy would
    symbol = symbols[0]
    symbol.context = {"variables": {"o": [1]}}
    copy = fresh_copy(symbol)
    assert copy.context == symbol.context and copy.context["variables"]["o"] is not symbol.context["variables"]["o"]
    symbol.context = {}
    env.close()
