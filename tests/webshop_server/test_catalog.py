"""The generated catalog and goals: upstream schema, seeded, splits, distractors, search."""

import pytest

from webshop_server import generate_catalog, get_reward
from webshop_server.generator import generate_products, price_limit
from webshop_server.search import make_index, query_terms
from webshop_server.vocab import CATEGORIES

KEYS = set(
    "asin name Title Description BulletPoints pricing Price options Attributes category query product_category "
    "type_tokens Reviews Rating MainImage".split()
)
GOAL_KEYS = set(
    "asin category query name product_category instruction_text attributes price_upper goal_options weight "
    "type_tokens".split()
)


@pytest.fixture(scope="module")
def catalog():
    return generate_catalog()


def test_products_have_upstream_schema(catalog):
    assert len(catalog) == 1000
    assert {p["category"] for p in catalog.products.values()} == set(CATEGORIES)
    for p in catalog.products.values():
        assert set(p) == KEYS and len(p["asin"]) == 10 and p["asin"].startswith("B0")
        assert all(v == v.lower() and "/" not in v for vs in p["options"].values() for v in vs)
        assert p["Price"].startswith("$") and 1 <= len(p["pricing"]) <= 2
        assert all(ord(c) < 128 for c in p["Title"] + p["Description"])


def test_same_seed_same_catalog_other_seed_other():
    assert generate_products(50, seed=3) == generate_products(50, seed=3)
    assert generate_products(50, seed=3) != generate_products(50, seed=4)


def test_goals_and_splits(catalog):
    goals = catalog.goals
    assert len(goals) > 2000
    assert catalog.split("test") == range(0, 500) and catalog.split("eval") == range(500, 1500)
    assert catalog.split("train") == range(1500, len(goals))
    for g in goals[:200]:
        assert set(g) == GOAL_KEYS
        product = catalog.products[g["asin"]]
        assert set(g["attributes"]) <= set(product["Attributes"])
        assert all(v in product["options"][k] for k, v in g["goal_options"].items())
        assert "price lower than" in g["instruction_text"] or g["price_upper"] == 1e6
        assert get_reward(product, g, catalog.prices[g["asin"]], g["goal_options"]).total == 1.0
    with pytest.raises(ValueError, match="unknown split"):
        catalog.split("dev")


def test_price_limit_follows_the_grid():
    import random

    rng = random.Random(0)
    for price in (0.5, 12.3, 975.0):
        upper, text = price_limit(price, rng)
        assert upper in [p for p in (10.0 * i for i in range(1, 100)) if p > price][1:4]
        assert text == f", and price lower than {upper:.2f} dollars"
    assert price_limit(985.0, rng) == (1_000_000.0, "")


def test_distractors_exist(catalog):
    products = list(catalog.products.values())
    by_text = {}
    for p in products:
        by_text.setdefault(p["Title"] + p["Description"], []).append(p)
    groups = [ps for ps in by_text.values() if len(ps) > 1]
    prices = [[p["pricing"][0] for p in ps] for ps in groups]
    twins = [ps for ps, pr in zip(groups, prices, strict=True) if max(pr) > 1.9 * min(pr)]
    assert len(twins) > 50
    assert any(ps[0]["pricing"][0] > ps[-1]["pricing"][0] for ps in twins)  # the expensive one may come first
    option_siblings = [ps for ps in groups if len({str(p["options"]) for p in ps}) > 1]
    assert len(option_siblings) > 50
    by_type = {}
    for p in products:
        by_type.setdefault(p["query"], []).append(frozenset(p["Attributes"]))
    near = sum(
        1
        for sets in by_type.values()
        for i, a in enumerate(sets)
        for b in sets[i + 1 :]
        if len(a) == len(b) == len(a & b) + 1
    )
    assert near > 50  # attribute siblings: same type, all attributes but one
    shared = {a for p in products if p["query"] == "shampoos" for a in p["Attributes"]}
    assert shared & {a for p in products if p["query"] == "lipsticks" for a in p["Attributes"]}


@pytest.mark.parametrize("backend", ["bm25s", "fts5"])
def test_search_finds_the_target(catalog, backend):
    index = make_index(list(catalog.products.values()), backend)
    found = 0
    for g in catalog.goals[:50]:
        results = index.search(g["instruction_text"].split(" with ")[0])
        assert len(results) == 50 and len(set(results)) == 50
        found += g["asin"] in results
    assert found >= 45
    assert index.search("the and of") == [] and index.search("") == []
    assert index.search('"; DROP TABLE docs; -- *') == [] or True  # no exception is the point
    assert index.search("shampoos") == index.search("SHAMPOO!")  # case, punctuation and stemming


def test_query_terms():
    assert query_terms("Find me the shampoos, and shampoos!") == ["find", "me", "shampoos"]


def test_every_option_value_is_winnable_as_a_dict_goal():
    # Upstream colour-normalises the chosen value but matches dict goals on (name, value) pairs: a value such
    # as "peppered" (-> "red") could never match. The vocabulary avoids such values.
    from webshop_server.normalize import normalize_color
    from webshop_server.reward import fuzzy_score
    from webshop_server.vocab import TYPES

    for kind in TYPES:
        for name, values in kind.options.items():
            for v in values:
                assert fuzzy_score(normalize_color(v), normalize_color((name, v))) > 85, (name, v)
