"""``Catalog``: the products, their prices, the goals and the search index that one WebShop serves."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from webshop_server.generator import generate_goals, generate_products, product_price
from webshop_server.search import SearchIndex, make_index

__all__ = ["SPLITS", "Catalog", "generate_catalog"]

#: Goal index ranges of the benchmark splits (the literature's convention): test 0-499, eval 500-1499, train 1500+.
SPLITS: dict[str, tuple[int, int | None]] = {"test": (0, 500), "eval": (500, 1500), "train": (1500, None)}


class Catalog:
    """Products (``asin -> product`` in upstream's loaded schema), prices paid, goals and a BM25 index.

    Goals and the index are built on first use, once (thread-safe): a server that only serves pages of a
    100k-product catalog does not pay for 240k goals.

    Args:
        products: the products, in catalog order (the search breaks score ties by it).
        goals: the goal list, or a function of the products and prices that builds it.
        prices: ``asin -> price paid``; by default each product's :func:`~webshop_server.generator.product_price`.
        search_backend: ``"bm25s"`` or ``"fts5"`` (see :mod:`webshop_server.search`).
        name: a label for logs and pages.
    """

    def __init__(
        self,
        products: list[dict[str, Any]],
        goals: list[dict[str, Any]] | Callable[[list[dict[str, Any]], dict[str, float]], list[dict[str, Any]]],
        *,
        prices: dict[str, float] | None = None,
        search_backend: str = "bm25s",
        name: str = "generated",
    ) -> None:
        if not products:
            raise ValueError("a catalog needs at least one product")
        self.products: dict[str, dict[str, Any]] = {p["asin"]: p for p in products}
        self._order = products
        self.prices: dict[str, float] = (
            prices if prices is not None else {p["asin"]: product_price(p) for p in products}
        )
        self._goals = goals
        self.search_backend = search_backend
        self.name = name
        self._index: SearchIndex | None = None
        self._lock = threading.Lock()

    @property
    def goals(self) -> list[dict[str, Any]]:
        """All goals; goal ``i`` is task ``i`` (session ``fixed_<i>``)."""
        if callable(self._goals):
            with self._lock:
                if callable(self._goals):
                    self._goals = self._goals(self._order, self.prices)
        return self._goals  # type: ignore[return-value]

    @property
    def index(self) -> SearchIndex:
        """The search index (built on first use)."""
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = make_index(self._order, self.search_backend)
        return self._index

    def search(self, query: str) -> list[str]:
        """The ASINs of the top results for ``query`` (at most 50), best first."""
        return self.index.search(query)

    def split(self, name: str) -> range:
        """The goal indices of a split (``"test"``, ``"eval"`` or ``"train"``), clipped to the goals there are."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of {tuple(SPLITS)}")
        start, stop = SPLITS[name]
        total = len(self.goals)
        return range(min(start, total), total if stop is None else min(stop, total))

    def __len__(self) -> int:
        return len(self.products)

    def __repr__(self) -> str:
        return f"Catalog({self.name!r}, products={len(self.products)})"


@functools.lru_cache(maxsize=8)
def generate_catalog(num_products: int = 1000, seed: int = 0, search_backend: str = "bm25s") -> Catalog:
    """The generated catalog of ``num_products`` products for ``seed`` (cached: every env of a process shares it).

    Treat it as read-only: sessions never modify products or goals.
    """
    products = generate_products(num_products, seed)
    return Catalog(
        products,
        functools.partial(generate_goals, seed=seed),
        search_backend=search_backend,
        name=f"generated-{num_products}-seed{seed}",
    )
