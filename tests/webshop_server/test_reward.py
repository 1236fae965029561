"""The reward restates upstream's semantics: reference values of upstream's tests (our own cases) and its quirks."""

import pytest

from webshop_server.normalize import normalize_color
from webshop_server.nouns import approx_nouns
from webshop_server.reward import fuzzy_score, get_reward, type_reward

PRODUCT = {
    "asin": "B0TEST0001",
    "name": "Brightfield Sulfate Free Shampoo",
    "Title": "Brightfield Sulfate Free Shampoo",
    "BulletPoints": ["Gentle on color treated hair", "Travel size bottle"],
    "Description": "A shampoo with tea tree oil for oily scalp.",
    "Attributes": ["sulfate free", "paraben free"],
    "query": "shampoos",
    "product_category": "Beauty & Personal Care \u203a Hair Care \u203a Shampoos",
    "type_tokens": ["shampoo"],
}


def goal(**changes):
    g = {
        "asin": "B0TEST0001",
        "name": PRODUCT["name"],
        "query": "shampoos",
        "product_category": PRODUCT["product_category"],
        "type_tokens": ["shampoo"],
        "attributes": ["sulfate free", "paraben free"],
        "goal_options": ["16 fl oz", "lavender"],
        "price_upper": 30.0,
    }
    g.update(changes)
    return g


def test_exact_purchase_is_a_success():
    r = get_reward(PRODUCT, goal(), price=12.0, options={"size": "16 fl oz", "scent": "lavender"})
    assert r.total == 1.0 and r.success
    assert (r.r_type, r.r_att, r.r_option, r.r_price) == (1.0, 1.0, 1.0, True)
    assert r.w_att == pytest.approx(2 / 5) and r.w_option == pytest.approx(2 / 5) and r.w_price == pytest.approx(1 / 5)


def test_partial_match_four_sevenths_and_type_mismatch_halves_it():
    # 3 attributes (1 found), 3 options (2 chosen right), price fine: (1 + 2 + 1) / 7.
    g = goal(attributes=["sulfate free", "vegan formula", "argan blend"], goal_options=["16 fl oz", "lavender", "red"])
    options = {"size": "16 fl oz", "scent": "lavender"}
    assert get_reward(PRODUCT, g, 12.0, options).total == pytest.approx(4 / 7)  # 0.5714
    other_type = dict(
        g, query="conditioners", product_category="Beauty \u203a Other", type_tokens=["hair", "shampoo", "x", "y", "z"]
    )
    r = get_reward(PRODUCT, other_type, 12.0, options)
    assert r.title_score == 0.2 and r.r_type == 0.5 and r.total == pytest.approx(2 / 7)  # 0.2857


def test_attribute_falls_back_to_title_bullets_and_description():
    for attribute in ("brightfield sulfate", "travel size", "tea tree"):
        assert get_reward(PRODUCT, goal(attributes=[attribute], goal_options=[]), 1.0, {}).r_att == 1.0
    assert get_reward(PRODUCT, goal(attributes=["wild honey"], goal_options=[]), 1.0, {}).r_att == 0.0


def test_price_over_the_limit_and_no_options():
    r = get_reward(PRODUCT, goal(goal_options=[]), price=31.0, options={})
    assert r.r_price is False and r.r_option is None and r.total == pytest.approx(2 / 3)


def test_fuzzy_score_is_rounded_before_the_threshold():
    # 85.29 upstream (thefuzz) rounds to 85, which is not > 85: no match.
    a, b = "q" * 29, "q" * 39
    assert fuzzy_score(a, b) == 85
    assert get_reward(dict(PRODUCT, Attributes=[b]), goal(attributes=[a], goal_options=[]), 1.0, {}).r_att == 0.0
    assert fuzzy_score("machine wash", "machine washable") == 86  # 85.7 rounds up: a match


def test_token_subset_matches_fully():
    assert fuzzy_score("x-large", "large") == 100 and fuzzy_score("16 fl oz (pack of 2)", "16 fl oz") == 100
    r = get_reward(PRODUCT, goal(goal_options=["large"]), 1.0, {"size": "x-large"})
    assert r.r_option == 1.0


def test_dict_goal_options_compare_stringified_pairs():
    # Upstream passes (name, value) pairs for dict goals: "x-large" vs "size large" is 83, no match.
    r = get_reward(PRODUCT, goal(goal_options={"size": "large"}), 1.0, {"size": "x-large"})
    assert r.r_option == 0.0
    assert get_reward(PRODUCT, goal(goal_options={"size": "large"}), 1.0, {"size": "large"}).r_option == 1.0
    # A pair holding a colour word collapses to the colour (tuple membership).
    assert normalize_color(("color", "black")) == "black"
    assert get_reward(PRODUCT, goal(goal_options={"color": "black"}), 1.0, {"color": "black"}).r_option == 1.0


def test_colour_normalisation_quirks():
    assert normalize_color("charcoal grey") == "charcoal"
    assert normalize_color("heather grey") == "grey"
    assert normalize_color("navy blue") == normalize_color("royal blue") == "blue"
    assert normalize_color("dark grey") == "dark"
    assert normalize_color("standard") == "tan"
    assert normalize_color("medium") == "medium"
    # So "navy blue" satisfies a "royal blue" goal, as upstream.
    assert get_reward(PRODUCT, goal(goal_options=["royal blue"]), 1.0, {"color": "navy blue"}).r_option == 1.0


def test_type_reward_rules_apply_in_order():
    same_query_no_nouns = dict(PRODUCT, type_tokens=["conditioner"])
    r_type, query_match, category_match, score = type_reward(same_query_no_nouns, goal())
    assert query_match and category_match and score == 0.0 and r_type == 0.0  # title score 0 overrides the query
    low = goal(type_tokens=["shampoo"] + [f"n{i}" for i in range(11)], query="x", product_category="y")
    assert type_reward(PRODUCT, low)[0] == 0.1  # score 1/12 < 0.1
    mid = goal(type_tokens=["shampoo", "a", "b", "c", "d"], query="x", product_category="y")
    assert type_reward(PRODUCT, mid)[0] == 0.5  # 0.2 is not > 0.2, no query or category match
    assert type_reward(PRODUCT, dict(mid, query="shampoos"))[0] == 1.0
    assert type_reward(PRODUCT, goal(type_tokens=[], name="For the 2 of Us"))[3] == 0.2  # no desired nouns


def test_category_match_needs_two_shared_levels():
    g = goal(query="x", type_tokens=["shampoo", "a", "b", "c", "d"])
    assert type_reward(PRODUCT, dict(g, product_category="Beauty & Personal Care \u203a Hair Care"))[2]
    assert not type_reward(PRODUCT, dict(g, product_category="Beauty & Personal Care \u203a Skin Care"))[2]


def test_title_nouns_without_type_tokens():
    # Title-cased names are (nearly) all nouns to spaCy: only numbers and closed-class words go.
    nouns = approx_nouns("Quietfield Men's Sulfate Free Shampoo for Dry Hair, 16.9 Fl Oz (Pack of 2)")
    assert nouns == tuple("quietfield men sulfate free shampoo dry hair fl oz pack".split())
    p = {k: v for k, v in PRODUCT.items() if k != "type_tokens"}
    g = {k: v for k, v in goal().items() if k != "type_tokens"}
    assert get_reward(p, g, 1.0, {"a": "16 fl oz", "b": "lavender"}).total == 1.0
