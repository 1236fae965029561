"""The hidden verdicts: which options of a product best meet the goal's (the expert's and the subgoal checks')."""

from __future__ import annotations

from hiper_envs.webshop.oracle import best_options

PRODUCT = {"options": {"color": ["red", "navy blue"], "size": ["small", "medium", "large"]}}


def test_best_options_exact_then_fuzzy_then_none():
    # the official goals list the wanted values; each product option takes the value matching one of them
    assert best_options(PRODUCT, {"goal_options": ["navy blue", "large"]}) == {"color": "navy blue", "size": "large"}
    # an option none of whose values is wanted is left unchosen, never guessed
    assert best_options(PRODUCT, {"goal_options": ["medium"]}) == {"size": "medium"}
    assert best_options(PRODUCT, {"goal_options": []}) == {}
    assert best_options(PRODUCT, {}) == {}
    # generated goals name the option: the exact value wins where the product offers it
    assert best_options(PRODUCT, {"goal_options": {"color": "red"}}) == {"color": "red"}
    assert best_options({"options": {}}, {"goal_options": ["red"]}) == {}
    # an option with no values (a malformed catalog row) offers nothing and is skipped, not an error
    assert best_options({"options": {"color": [], "size": ["large"]}}, {"goal_options": ["large"]}) == {"size": "large"}
