"""Load upstream WebShop's own data files (for users who have them), transformed the way upstream's loader does.

The files are not shipped (research-only licence); with them, ``gym.make("HiPER/WebShop-v0", catalog_dir=DIR)``
plays upstream's human-instruction goals on upstream's products. Two deliberate differences from upstream's
loader, both for reproducibility: a price range's price is drawn with a seeded generator per ASIN (upstream draws
anew on each load), and goal price limits use ``random.Random(seed)`` rather than the global generator.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from webshop_server.catalog import Catalog
from webshop_server.generator import price_limit, product_price

__all__ = ["OfficialCatalog", "load_official_catalog", "transform_product"]


def _pricing(raw: Any) -> tuple[list[float], str]:
    if not raw:
        return [100.0], "$100.0"
    values = [float(re.sub(r"[^\d.]", "", part) or 0) for part in str(raw).split("$")[1:]][:2] or [100.0]
    return values, f"${values[0]}" if len(values) == 1 else f"${values[0]} to ${values[1]}"


def transform_product(raw: dict[str, Any], attributes: dict[str, Any], human: dict[str, Any]) -> dict[str, Any]:
    """One scraped product in upstream's loaded schema (``Title``, ``BulletPoints``, ``pricing``, ``options``...)."""
    product = dict(raw)
    asin = product["asin"]
    product["Title"] = product.get("name", "")
    product["Description"] = product.get("full_description", "")
    bullets = product.get("small_description") or []
    product["BulletPoints"] = [bullets] if isinstance(bullets, str) else list(bullets)
    product["pricing"], product["Price"] = _pricing(product.get("pricing"))
    options: dict[str, list[str]] = {}
    option_to_image: dict[str, Any] = {}
    for name, contents in (product.get("customization_options") or {}).items():
        if contents is None:
            continue
        values = []
        for content in contents:
            value = str(content["value"]).strip().replace("/", " | ").lower()
            values.append(value)
            option_to_image[value] = content.get("image")
        options[name.lower()] = values
    product["options"], product["option_to_image"] = options, option_to_image
    extra = attributes.get(asin, {})
    product["Attributes"] = list(extra["attributes"]) if "attributes" in extra else ["DUMMY_ATTR"]  # [] stays []
    if "instruction" in extra:
        product["instruction_text"] = extra["instruction"]
        product["instruction_attributes"] = extra.get("instruction_attributes", [])
    if asin in human:
        product["instructions"] = human[asin]
    product["Reviews"], product["Rating"] = [], "N.A."
    images = product.get("images") or []
    product["MainImage"] = images[0] if images else None
    product["query"] = str(product.get("query", "")).lower().strip()
    return product


class OfficialCatalog(Catalog):
    """A :class:`Catalog` of upstream's products whose goals are upstream's human instructions."""

    def human_goals(self, seed: int = 0) -> list[dict[str, Any]]:
        """Upstream's human goals (weight 1), price limits drawn with ``seed``, shuffled with seed 233."""
        rng = random.Random(seed)
        goals: list[dict[str, Any]] = []
        for product in self._order:
            for ins in product.get("instructions") or []:
                attributes = ins.get("instruction_attributes") or []
                if not attributes:
                    continue
                upper, price_text = price_limit(self.prices[product["asin"]], rng)
                goals.append(
                    {
                        "asin": product["asin"],
                        "category": product.get("category", ""),
                        "query": product["query"],
                        "name": product.get("name", ""),
                        "product_category": product.get("product_category", ""),
                        "instruction_text": ins["instruction"].strip(".") + price_text,
                        "attributes": list(attributes),
                        "price_upper": upper,
                        "goal_options": list(ins.get("instruction_options") or []),
                        "weight": 1,
                    }
                )
        random.Random(233).shuffle(goals)
        return goals


def load_official_catalog(
    data_dir: str | Path,
    products: str = "items_shuffle_1000.json",
    attributes: str = "items_ins_v2_1000.json",
    human_instructions: str = "items_human_ins.json",
    *,
    seed: int = 0,
    search_backend: str = "bm25s",
) -> OfficialCatalog:
    """Load upstream's product, attribute and human-instruction files from ``data_dir``.

    Args:
        data_dir: the folder holding the files.
        products: the scraped products (a JSON list).
        attributes: ``{asin: {"attributes": [...], "instruction": ..., "instruction_attributes": [...]}}``.
        human_instructions: ``{asin: [{"instruction", "instruction_attributes", "instruction_options"}, ...]}``;
            optional (no human goals without it).
        seed: fixes the prices of ranged products and the goals' price limits.
        search_backend: see :mod:`webshop_server.search`.

    Returns:
        The catalog; its goals are :meth:`OfficialCatalog.human_goals` with ``seed``.
    """
    root = Path(data_dir)
    if not (root / products).is_file():
        raise FileNotFoundError(f"no product file {products!r} in {root}")
    raw_products = json.loads((root / products).read_text())
    extra = json.loads((root / attributes).read_text()) if (root / attributes).is_file() else {}
    human_path = root / human_instructions
    human = json.loads(human_path.read_text()) if human_path.is_file() else {}
    loaded: list[dict[str, Any]] = []
    seen: set[str] = set()
    for raw in raw_products:
        asin = raw.get("asin")
        if not isinstance(asin, str) or asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        loaded.append(transform_product(raw, extra, human))
    prices = {p["asin"]: product_price(p, seed) for p in loaded}
    catalog = OfficialCatalog(loaded, [], prices=prices, search_backend=search_backend, name=f"official:{root}")
    catalog._goals = catalog.human_goals(seed)
    return catalog
