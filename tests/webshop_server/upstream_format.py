"""A seeded catalog in upstream WebShop's *file* format, for the parity tests (our own invented products).

``write_upstream_catalog(folder, n, seed)`` writes ``items_shuffle_1000.json`` (scraped products: ``name``,
``pricing`` strings, ``customization_options`` with ``value``/``image`` dicts...), ``items_ins_v2_1000.json``
(attributes) and ``items_human_ins.json`` (human instructions), shaped as upstream's files, with the cases the
reward is sensitive to: colours of upstream's list in compounds ("white oak", "camo green"), accents
("crème"), '/' in option values, sizes that token-set match ("x-large" / "large"), range and missing prices,
string bullet points, duplicate and malformed ASINs, instructions without attributes and goal options that no
product offers.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# (category, query, breadcrumb, type phrase, attribute pool, option axes)
_TYPES = [
    (
        "beauty",
        "shampoo",
        "Beauty & Personal Care › Hair Care › Shampoo & Conditioner › Shampoos",
        "Shampoo",
        ["sulfate free", "paraben free", "dry hair", "argan oil", "tea tree", "natural ingredients"],
        {
            "size": ["8 Fl Oz", "16 Fl Oz/2 Pack", "33.8 fl oz (pack of 1)"],
            "scent": ["Lavender", "Crème Brûlée", "Unscented"],
        },
    ),
    (
        "beauty",
        "lipstick",
        "Beauty & Personal Care › Makeup › Lips › Lipstick",
        "Matte Lipstick",
        ["long lasting", "cruelty free", "highly pigmented", "easy apply"],
        {"color": ["Ruby Red", "Nude Beige", "Rose Gold", "Coral Crush", "crème rosé"]},
    ),
    (
        "beauty",
        "face moisturizer",
        "Beauty & Personal Care › Skin Care › Face › Creams & Moisturizers",
        "Face Moisturizer Cream",
        ["fragrance free", "sensitive skin", "hyaluronic acid", "non greasy"],
        {"size": ["1.7 Ounce", "3.4 Ounce"]},
    ),
    (
        "electronics",
        "bluetooth headphones",
        "Electronics › Headphones, Earbuds & Accessories › Headphones › Over-Ear",
        "Wireless Bluetooth Headphones",
        ["noise cancelling", "long battery", "hands free", "high fidelity"],
        {"color": ["Black", "White", "Midnight Blue", "Steel Grey", "Camo Green"]},
    ),
    (
        "electronics",
        "usb c cable",
        "Electronics › Computers & Accessories › Cables › USB Cables",
        "USB C Charging Cable",
        ["fast charging", "nylon braided", "high speed", "usb c"],
        {"size": ["3 ft", "6 ft", "10 ft"], "color": ["Black", "Space Gray", "Silver"]},
    ),
    (
        "electronics",
        "tv mount",
        "Electronics › Television & Video › Accessories › TV Mounts",
        "Full Motion TV Wall Mount",
        ["heavy duty", "easy install", "wall mount"],
        None,
    ),
    (
        "fashion",
        "running shoes",
        "Clothing, Shoes & Jewelry › Men › Shoes › Athletic › Running",
        "Men's Running Shoes",
        ["rubber sole", "memory foam", "non slip", "breathable mesh"],
        {
            "size": ["7", "8.5", "10", "10 Wide", "11 X-Wide"],
            "color": ["Black/White", "Navy Blue", "Grey", "Heather Grey"],
        },
    ),
    (
        "fashion",
        "women jumpsuit",
        "Clothing, Shoes & Jewelry › Women › Clothing › Jumpsuits, Rompers & Overalls",
        "Women's Casual Jumpsuit Romper",
        ["slim fit", "machine wash", "short sleeve", "high waist", "polyester spandex"],
        {
            "color": ["Green Stripe", "Black", "Wine Red", "Leopard"],
            "size": ["Small", "Medium", "Large", "X-Large", "XX-Large"],
        },
    ),
    (
        "fashion",
        "hoodie",
        "Clothing, Shoes & Jewelry › Men › Clothing › Fashion Hoodies & Sweatshirts",
        "Pullover Hoodie",
        ["long sleeve", "machine wash", "cotton blend", "drawstring closure"],
        {"color": ["Charcoal Grey", "Heather Navy", "Olive", "Standard Black"], "size": ["Medium", "Large", "X-Large"]},
    ),
    (
        "food",
        "coffee beans",
        "Grocery & Gourmet Food › Beverages › Coffee, Tea & Cocoa › Coffee › Whole Coffee Beans",
        "Whole Bean Coffee",
        ["dark roast", "fair trade", "single origin", "gluten free"],
        {
            "flavor name": ["Dark Roast", "Medium Roast", "Crème Brûlée", "Hazelnut"],
            "size": ["12 Ounce", "2 Pound (Pack of 1)"],
        },
    ),
    (
        "food",
        "beef jerky",
        "Grocery & Gourmet Food › Meat & Seafood › Jerky & Dried Meats › Jerky",
        "Beef Jerky",
        ["high protein", "gluten free", "low sugar", "grass fed"],
        {"flavor name": ["Original", "Teriyaki", "Peppered"], "size": ["2.85 Ounce (Pack of 4)", "10 Ounce"]},
    ),
    (
        "food",
        "herbal tea",
        "Grocery & Gourmet Food › Beverages › Coffee, Tea & Cocoa › Tea › Herbal",
        "Herbal Tea Bags",
        ["caffeine free", "usda organic", "non gmo"],
        {"flavor name": ["Chamomile", "Peppermint", "Ginger Lemon"]},
    ),
    (
        "furniture",
        "office chair",
        "Home & Kitchen › Furniture › Home Office Furniture › Home Office Chairs",
        "Ergonomic Office Chair",
        ["lumbar support", "easy assemble", "height adjustable", "mesh back"],
        {"color": ["Black", "White Oak", "Grey", "Brown Leather"]},
    ),
    (
        "furniture",
        "bookshelf",
        "Home & Kitchen › Furniture › Living Room Furniture › Bookcases",
        "Wooden Bookshelf",
        ["easy assemble", "solid wood", "storage space", "living room"],
        {"color": ["White Oak", "Walnut", "Espresso", "Rustic Brown"], "size": ["3 Tier", "4 Tier", "5-Tier"]},
    ),
    (
        "furniture",
        "bed frame",
        "Home & Kitchen › Furniture › Bedroom Furniture › Beds, Frames & Bases › Beds",
        "Metal Platform Bed Frame",
        ["heavy duty", "easy assemble", "box spring", "noise free"],
        {"size": ["Twin", "Full", "Queen", "King"], "color": ["Black", "Silver"]},
    ),
]
_BRANDS = ["Quietfield", "Brightfield", "Zenora", "Maison Crème", "Nordvik", "Kaiō", "Lumière", "Acme", "Pinecrest"]
_EXTRAS = ["Premium", "Deluxe", "for Women", "for Men", "Gift Set", "Value Pack", "2023 Edition", "by Nature's Way"]


def _title(rng: random.Random, brand: str, phrase: str, attributes: list[str]) -> str:
    words = [brand]
    if rng.random() < 0.5:
        words.append(rng.choice(attributes).title())
    words.append(phrase)
    if rng.random() < 0.4:
        words.append(rng.choice(_EXTRAS))
    if rng.random() < 0.4:
        words.append(f"- {rng.randint(1, 24)} Count")
    if rng.random() < 0.2:  # a long Amazon-style tail: a wrong type sharing one noun then scores title_score < 0.1
        words.append("for Home Kitchen Bathroom Office Garage Dorm Travel Camping Birthday Christmas Gift")
    return " ".join(words)


def _pricing(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.15:
        return ""
    low = round(rng.uniform(3, 400), 2)
    if roll < 0.35:
        return f"${low:.2f}${low + rng.uniform(1, 50):.2f}"
    return f"${low:.2f}"


def write_upstream_catalog(folder: Path, n: int = 300, seed: int = 0) -> Path:
    """Write ``n`` products (plus a few malformed ones the loader must skip) in upstream's file format."""
    rng = random.Random(seed)
    products, attributes, human = [], {}, {}
    for i in range(n):
        category, query, breadcrumb, phrase, pool, axes = rng.choice(_TYPES)
        asin = f"B0{i:08d}"
        brand = rng.choice(_BRANDS)
        attrs = rng.sample(pool, rng.randint(1, min(4, len(pool))))
        options = None
        if axes:
            options = {
                name: [{"value": v, "image": None} for v in rng.sample(values, rng.randint(1, len(values)))]
                for name, values in axes.items()
            }
            if rng.random() < 0.1:
                options["Pattern"] = None  # upstream skips a null option list
        bullets = [f"{a.upper()}: {rng.choice(['great', 'made to last', 'loved by all'])}" for a in attrs[:2]]
        products.append(
            {
                "asin": asin,
                "name": _title(rng, brand, phrase, pool),
                "full_description": f"{brand} {phrase.lower()} with {rng.choice(pool)}. Crème de la crème.",
                "small_description": bullets if rng.random() < 0.8 else " ".join(bullets),
                "pricing": _pricing(rng),
                "customization_options": options,
                "images": [f"https://example.invalid/{asin}.jpg"],
                "category": category,
                "query": query + (" " if rng.random() < 0.2 else ""),
                "product_category": breadcrumb,
                "brand": brand,
            }
        )
        attributes[asin] = {"attributes": attrs}
        instructions = []
        for _ in range(rng.randint(0, 3)):
            wanted = rng.sample(attrs, rng.randint(0, len(attrs)))
            if rng.random() < 0.3:
                wanted.append(rng.choice(pool))  # perhaps one this product lacks
            chosen = [
                rng.choice(values)["value"].strip().replace("/", " | ").lower()
                for values in (options or {}).values()
                if values and rng.random() < 0.8
            ]
            if rng.random() < 0.2:
                chosen.append(rng.choice(["x-large", "large", "white", "camo", "creme brulee", "navy"]))
            instructions.append(
                {
                    "instruction": f"i need {' and '.join(wanted)} {phrase.lower()}.",
                    "instruction_attributes": wanted,
                    "instruction_options": chosen,
                }
            )
        if instructions:
            human[asin] = instructions
    products.append(dict(products[0]))  # a duplicate ASIN
    products.append(dict(products[1], asin="nan"))
    products.append(dict(products[2], asin="B0TOOLONG123"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items_shuffle_1000.json").write_text(json.dumps(products))
    (folder / "items_ins_v2_1000.json").write_text(json.dumps(attributes))
    (folder / "items_human_ins.json").write_text(json.dumps(human))
    return folder
