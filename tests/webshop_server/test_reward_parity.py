"""Reward parity on upstream-format data: 10,000 random purchases, our reward vs an independent restatement.

The reference below is written from the specification of upstream's ``load_products`` and ``get_reward``
(``docs/webshop.md``), with thefuzz itself for the fuzzy scores; it shares only the title-noun source with the
code under test (spaCy when installed, else the approximation, whose agreement with spaCy is tested in
``test_title_nouns.py``). Every component of every purchase must agree: 0 differences.
"""

import json
import random

import pytest

from tests.webshop_server.upstream_format import write_upstream_catalog
from webshop_server import get_reward, load_official_catalog
from webshop_server.nouns import title_nouns

fuzz = pytest.importorskip("thefuzz.fuzz", reason="thefuzz (the dev extra) is the parity oracle")

PURCHASES = 10_000
# Upstream's colour words in upstream's order (restated here, independently of webshop_server.normalize).
UPSTREAM_COLOURS = """alabaster apricot aqua ash asphalt azure banana beige black blue blush bordeaux bronze brown
burgundy camel camo caramel champagne charcoal cheetah chestnut chocolate christmas coffee cognac copper coral
cranberry cream crystal dark denim eggplant elephant espresso fuchsia gold granite grape graphite grass gray green
grey heather indigo ivory ivy khaki lavender lemon leopard light lilac lime magenta maroon mauve merlot midnight
mint mocha multicolor mushroom mustard natural navy nude olive orange peach pewter pink plum purple rainbow red
rose royal rust sand sapphire seashell silver skull slate steel stone stonewash sunflower tan taupe teal tiger
turquoise violet walnut wheat white wine yellow""".split()


def ref_load(folder):
    """Upstream's loader, restated: raw scraped products -> the fields the reward reads."""
    raw = json.loads((folder / "items_shuffle_1000.json").read_text())
    attrs = json.loads((folder / "items_ins_v2_1000.json").read_text())
    out = {}
    for p in raw:
        asin = p["asin"]
        if asin == "nan" or len(asin) > 10 or asin in out:
            continue
        bullets = p["small_description"]
        options = {}
        for name, contents in (p["customization_options"] or {}).items():
            if contents is not None:
                options[name.lower()] = [c["value"].strip().replace("/", " | ").lower() for c in contents]
        out[asin] = {
            "name": p["name"],
            "Title": p["name"],
            "Description": p["full_description"],
            "BulletPoints": bullets if isinstance(bullets, list) else [bullets],
            "options": options,
            "Attributes": attrs[asin]["attributes"] if "attributes" in attrs.get(asin, {}) else ["DUMMY_ATTR"],
            "query": p["query"].lower().strip(),
            "product_category": p["product_category"],
        }
    return out


def ref_colour(value):
    for colour in UPSTREAM_COLOURS:
        if colour in value:
            return colour
    return value


def ref_reward(product, goal, price, options):
    """Upstream's get_reward (master), restated; returns its verbose components."""
    query_match = product["query"] == goal["query"]
    cats_p = {c.strip() for c in product["product_category"].split("›")}
    cats_g = {c.strip() for c in goal["product_category"].split("›")}
    category_match = len(cats_p & cats_g) >= 2
    bought, wanted = list(title_nouns(product["name"])), list(title_nouns(goal["name"]))
    title_score = len(set(bought) & set(wanted)) / len(wanted) if wanted else 0.2
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    attr_hits = 0
    for g in goal["attributes"]:
        if any(fuzz.token_set_ratio(p, g) > 85 for p in product["Attributes"]):
            attr_hits += 1
        elif (
            g in product["Title"].lower()
            or g in " ".join(product["BulletPoints"]).lower()
            or g in product["Description"].lower()
        ):
            attr_hits += 1
    goal_options = goal["goal_options"]
    goal_values = [ref_colour(o) for o in (goal_options.items() if isinstance(goal_options, dict) else goal_options)]
    chosen = [ref_colour(o) for o in options.values()]
    option_hits = sum(any(fuzz.token_set_ratio(p, g) > 85 for p in chosen) for g in goal_values)
    r_price = price <= goal["price_upper"]
    n = len(goal["attributes"]) + len(goal_options) + 1
    total = (attr_hits + option_hits + r_price) / n * r_type
    return {
        "total": total,
        "r_type": r_type,
        "r_att": attr_hits / len(goal["attributes"]),
        "r_option": option_hits / len(goal_options) if goal_options else None,
        "r_price": r_price,
        "w_att": len(goal["attributes"]) / n,
        "w_option": len(goal_options) / n,
        "w_price": 1 / n,
        "query_match": query_match,
        "category_match": category_match,
        "title_score": title_score,
    }


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    folder = write_upstream_catalog(tmp_path_factory.mktemp("upstream") / "data", n=400, seed=7)
    return folder, load_official_catalog(folder, seed=0)


def test_loader_matches_upstreams(upstream):
    folder, catalog = upstream
    reference = ref_load(folder)
    assert list(catalog.products) == list(reference)
    for asin, ref in reference.items():
        ours = catalog.products[asin]
        assert {k: ours[k] for k in ref} == ref, asin


def _purchase(rng, catalog, goals, by_query):
    goal = dict(rng.choice(goals))
    if rng.random() < 0.2:  # upstream's synthetic goals carry their options as a dict
        target = catalog.products[goal["asin"]]
        goal["goal_options"] = {n: rng.choice(v) for n, v in target["options"].items() if rng.random() < 0.8}
    roll = rng.random()
    if roll < 0.3:
        asin = goal["asin"]
    elif roll < 0.6:
        asin = rng.choice(by_query[goal["query"]])
    else:
        asin = rng.choice(list(catalog.products))
    product = catalog.products[asin]
    options = {name: rng.choice(values) for name, values in product["options"].items() if rng.random() < 0.8}
    return goal, asin, options


def test_reward_parity_on_random_purchases(upstream):
    folder, catalog = upstream
    reference = ref_load(folder)
    goals = catalog.goals
    by_query = {}
    for asin, p in catalog.products.items():
        by_query.setdefault(p["query"], []).append(asin)
    rng = random.Random(0)
    differences, seen = [], {"success": 0, "partial": 0, "zero": 0, "dict_goals": 0}
    r_types: dict[float, int] = {}
    for _ in range(PURCHASES):
        goal, asin, options = _purchase(rng, catalog, goals, by_query)
        price = catalog.prices[asin]
        ours = get_reward(catalog.products[asin], goal, price, options).info()
        ref = ref_reward(reference[asin], goal, price, options)
        if ours != ref:
            differences.append((goal["instruction_text"], asin, options, ours, ref))
        seen["success" if ref["total"] == 1.0 else "zero" if ref["total"] == 0 else "partial"] += 1
        seen["dict_goals"] += isinstance(goal["goal_options"], dict)
        r_types[ref["r_type"]] = r_types.get(ref["r_type"], 0) + 1
    assert differences == []
    # The purchases cover the reward's cases, not only easy ones.
    assert min(seen.values()) > PURCHASES // 50, seen
    assert set(r_types) == {0.0, 0.1, 0.5, 1.0} and min(r_types.values()) > 100, r_types  # every type rule


def test_fuzzy_score_is_thefuzz():
    from webshop_server.reward import fuzzy_score

    rng = random.Random(3)
    alphabet = "abcde fgh-_/é èçüßÆ中😀.,()'\"0123456789"
    for _ in range(5000):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        assert fuzzy_score(a, b) == fuzz.token_set_ratio(a, b), (a, b)
    assert fuzzy_score("crème", "creme") == fuzz.token_set_ratio("crème", "creme") == 89  # across the 85 line
    assert fuzzy_score(("color", "black"), "color black") == fuzz.token_set_ratio(("color", "black"), "color black")
    assert fuzzy_score(None, "x") == 0


def test_colour_list_is_upstreams():
    from webshop_server.normalize import COLOR_SET, normalize_color

    assert list(COLOR_SET) == UPSTREAM_COLOURS
    assert normalize_color("white oak") == "white" and normalize_color("camo green") == "camo"


def test_fixture_has_the_sensitive_cases(upstream):
    _, catalog = upstream
    values = {v for p in catalog.products.values() for vs in p["options"].values() for v in vs}
    assert {"white oak", "camo green", "crème brûlée", "16 fl oz | 2 pack", "x-large"} <= values
    assert any(p["Price"].count("$") == 2 for p in catalog.products.values())
