"""Seeded generation of a WebShop catalog and its goals, in upstream's product and goal schema.

Products follow upstream's *loaded* schema (``Title``, ``Description``, ``BulletPoints``, ``pricing``, ``Price``,
``options``, ``Attributes``, ...) plus ``type_tokens`` for the spaCy-free type reward. Goals are built the way
upstream builds its synthetic goals: a target product, a few of its attributes, one value per option axis
(" with color: black, and size: large"), a price limit drawn from the multiples of ten just above the price
(", and price lower than 40.00 dollars"), a rarity weight; then shuffled with seed 233.

Distractors make the tasks non-trivial: products of the same type differ in attributes, options and price; the
attribute pools are shared across the types of a category (same attributes, other type); and products get
near-miss siblings: an over-budget *twin* (same text, two to three times the price), an *option sibling* (same
text, about half of the option values) and an *attribute sibling* (same type, all attributes but one). Siblings
are placed before or after their product at random, so score ties do not favour the original.
"""

from __future__ import annotations

import random
import string
from collections import Counter
from typing import Any

from webshop_server.vocab import BRANDS, TYPES, ProductType

__all__ = ["PRICE_RANGE", "generate_goals", "generate_products", "option_text", "price_limit", "product_price"]

#: Upstream's price grid: the multiples of ten from 10 to 990.
PRICE_RANGE: tuple[float, ...] = tuple(10.0 * i for i in range(1, 100))
TWIN_RATE = 0.10
SIBLING_RATE = 0.15
GOALS_PER_PRODUCT = 3
_ASIN_CHARS = string.digits + string.ascii_uppercase
_TEMPLATES = (
    "Find me {attrs} {plural}",
    "i am looking for {plural} that are {attrs}",
    "i need {attrs} {plural}",
    "Show me {plural}, {attrs}",
)


def option_text(options: dict[str, list[str]]) -> str:
    """Options as upstream's search documents write them: ``"color: black, white, and size: m, l"``."""
    return ", and ".join(f"{name}: {', '.join(values)}" for name, values in options.items())


def price_limit(price: float, rng: random.Random) -> tuple[float, str]:
    """Upstream's goal price limit: the larger of two of the first four multiples of ten above ``price``.

    Returns:
        ``(price_upper, text)``; ``(1e6, "")`` when fewer than two multiples remain (prices near 1,000).
    """
    grid = [p for p in PRICE_RANGE if p > price][:4]
    if len(grid) < 2:
        return 1_000_000.0, ""
    _, upper = sorted(rng.sample(grid, 2))
    return upper, f", and price lower than {upper:.2f} dollars"


def _asin(rng: random.Random, taken: set[str]) -> str:
    while True:
        asin = "B0" + "".join(rng.choice(_ASIN_CHARS) for _ in range(8))
        if asin not in taken:
            taken.add(asin)
            return asin


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _product(kind: ProductType, asin: str, rng: random.Random, attributes: list[str] | None = None) -> dict[str, Any]:
    attributes = attributes or rng.sample(kind.attributes, rng.randint(3, 5))
    brand = rng.choice(BRANDS)
    options: dict[str, list[str]] = {}
    for name, values in kind.options.items():
        if rng.random() < 0.9:
            picked = set(rng.sample(values, rng.randint(min(2, len(values)), min(5, len(values)))))
            options[name] = [v for v in values if v in picked]
    extra = rng.choice(kind.extras) if kind.extras else ""
    shown = " ".join(a.title() for a in attributes[: rng.randint(1, 2)])
    title = " ".join(part for part in (brand, shown, extra, kind.noun) if part)
    if rng.random() < 0.5:
        title += f", {rng.choice(('Value Size', 'Gift Set', 'Classic', 'New Model', '2024 Edition'))}"
    low, high = kind.price
    price = round(rng.uniform(low, high), 2)
    pricing = [price] if rng.random() < 0.8 else [price, round(price * rng.uniform(1.1, 1.4), 2)]
    noun = kind.noun.lower()
    description = (
        f"The {brand} {noun} is {_join(attributes)}. "
        f"Made for everyday use, this {noun} comes from {brand}, a brand known for {rng.choice(attributes)} products."
    )
    bullets = [f"{a.upper()}: our {noun} is {a}, tested for quality." for a in attributes[:3]]
    bullets.append(f"WHAT YOU GET: one {brand} {noun}{', ' + extra.lower() if extra else ''}.")
    reviews = [
        {
            "score": rng.randint(2, 5),
            "title": rng.choice(("Great value", "Works well", "As described", "Okay")),
            "body": f"The {noun} is {rng.choice(attributes)} as promised.",
        }
        for _ in range(rng.randint(0, 3))
    ]
    rating = round(sum(r["score"] for r in reviews) / len(reviews), 1) if reviews else "N.A."
    return {
        "asin": asin,
        "name": title,
        "Title": title,
        "Description": description,
        "BulletPoints": bullets,
        "pricing": pricing,
        "Price": f"${pricing[0]}" if len(pricing) == 1 else f"${pricing[0]} to ${pricing[1]}",
        "options": options,
        "Attributes": attributes,
        "category": kind.category,
        "query": kind.query,
        "product_category": " \u203a ".join(kind.breadcrumb),
        "type_tokens": list(kind.type_tokens),
        "Reviews": reviews,
        "Rating": rating,
        "MainImage": "",
    }


def generate_products(num_products: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """``num_products`` products, the same for the same seed (siblings included in the count)."""
    if not isinstance(num_products, int) or num_products < 1:
        raise ValueError(f"num_products must be a positive int, got {num_products!r}")
    rng = random.Random(seed)
    taken: set[str] = set()
    products: list[dict[str, Any]] = []
    while len(products) < num_products:
        kind = TYPES[len(products) % len(TYPES)] if rng.random() < 0.5 else rng.choice(TYPES)
        product = _product(kind, _asin(rng, taken), rng)
        family = [product]
        if rng.random() < TWIN_RATE:
            family.append(_twin(product, _asin(rng, taken), rng))
        if rng.random() < SIBLING_RATE and any(len(v) > 1 for v in product["options"].values()):
            family.append(_option_sibling(product, _asin(rng, taken), rng))
        if rng.random() < SIBLING_RATE:
            family.append(_attribute_sibling(kind, product, _asin(rng, taken), rng))
        rng.shuffle(family)  # a distractor may come first: score ties break by catalog order
        products.extend(family[: num_products - len(products)])
    return products


def _with_pricing(product: dict[str, Any], pricing: list[float]) -> dict[str, Any]:
    price = f"${pricing[0]}" if len(pricing) == 1 else f"${pricing[0]} to ${pricing[1]}"
    return dict(product, pricing=pricing, Price=price)


def _twin(product: dict[str, Any], asin: str, rng: random.Random) -> dict[str, Any]:
    """The same product under another ASIN at two to three times the price (fails any goal's price limit)."""
    factor = rng.uniform(2.0, 3.0)
    return _with_pricing(dict(product, asin=asin), [round(p * factor, 2) for p in product["pricing"]])


def _option_sibling(product: dict[str, Any], asin: str, rng: random.Random) -> dict[str, Any]:
    """The same text and price but other option values (about half of each axis's): the goal's may be missing."""
    options = {}
    for name, values in product["options"].items():
        keep = set(rng.sample(values, max(1, len(values) // 2)))
        options[name] = [v for v in values if v in keep]
    price = round(product["pricing"][0] * rng.uniform(0.9, 1.1), 2)
    return _with_pricing(dict(product, asin=asin, options=options), [price])


def _attribute_sibling(kind: ProductType, product: dict[str, Any], asin: str, rng: random.Random) -> dict[str, Any]:
    """A product of the same type sharing all but one of the attributes (another brand, title, price)."""
    attributes = list(product["Attributes"])
    others = [a for a in kind.attributes if a not in attributes]
    attributes[rng.randrange(len(attributes))] = rng.choice(others)
    sibling = _product(kind, asin, rng, attributes)
    # A keyword-stuffed title, as marketplaces have: it can outrank the product it imitates.
    title = f"{sibling['Title'].split(' ')[0]} {kind.noun} " + " ".join(a.title() for a in attributes) + f" {kind.noun}"
    return dict(sibling, name=title, Title=title)


def product_price(product: dict[str, Any], seed: int = 0) -> float:
    """The price paid for a product: its single price, or a point of its range fixed by ``seed`` and its ASIN.

    Upstream draws a range's price anew on every load; a seeded draw keeps rewards reproducible.
    """
    pricing = product.get("pricing") or [100.0]
    if len(pricing) == 1:
        return float(pricing[0])
    return round(random.Random(f"{seed}:{product['asin']}").uniform(pricing[0], pricing[1]), 2)


def generate_goals(
    products: list[dict[str, Any]], prices: dict[str, float], seed: int = 0, per_product: int = GOALS_PER_PRODUCT
) -> list[dict[str, Any]]:
    """Synthetic goals for ``products`` (up to ``per_product`` option combinations each), shuffled with seed 233."""
    rng = random.Random(seed + 1)
    counts = Counter(a for p in products for a in p["Attributes"])
    goals: list[dict[str, Any]] = []
    for product in products:
        names = sorted(product["options"])
        combos = {tuple(rng.choice(product["options"][n]) for n in names) for _ in range(per_product)}
        for combo in sorted(combos):
            attributes = rng.sample(product["Attributes"], rng.randint(2, min(3, len(product["Attributes"]))))
            upper, price_text = price_limit(prices[product["asin"]], rng)
            text = rng.choice(_TEMPLATES).format(attrs=_join(attributes), plural=product["query"])
            goal_options = dict(zip(names, combo, strict=True))
            if goal_options:
                text += " with " + ", and ".join(f"{k}: {v}" for k, v in goal_options.items())
            goals.append(
                {
                    "asin": product["asin"],
                    "category": product["category"],
                    "query": product["query"],
                    "name": product["name"],
                    "product_category": product["product_category"],
                    "instruction_text": text + price_text,
                    "attributes": attributes,
                    "price_upper": upper,
                    "goal_options": goal_options,
                    "weight": sum(1.0 / counts[a] for a in attributes) / len(attributes),
                    "type_tokens": list(product["type_tokens"]),
                }
            )
    random.Random(233).shuffle(goals)
    return goals
