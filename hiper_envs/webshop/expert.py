"""The WebShop oracle: searches the query whose results show a winning product soonest, pages to it, buys it.

It reads the goal and the catalog (it is an oracle: never use it in benchmarks). From any page it returns the
next ``(action, subgoal)`` of a shortest plan: on the search page, ``search[q]`` for the first search candidate
(or, failing all, the target's title) whose results hold a product that wins the task; on a results page, the
winning product if shown, else ``next >`` towards it, else ``back to search``; on a product page, each goal
option then ``buy now`` when the product wins, else ``< prev``. Its subgoals are the task-level candidates the
env offers: ``search for q``, ``open a matching product`` (paging), ``open product <asin>: ...`` (the winning
product shown), ``choose the required options``, ``buy the product``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from hiper_envs.webshop.subgoals import search_candidates

if TYPE_CHECKING:
    from hiper_envs.webshop.env import WebShopEnv

__all__ = ["ShopExpert"]

WINDOW = 10


class ShopExpert:
    """Oracle advice for a :class:`~hiper_envs.webshop.env.WebShopEnv` (which owns the session).

    With ``detour`` > 0, in that share of episodes (drawn from the env's ``np_random`` at reset) it first opens a
    near miss, the best-ranked product above the winning one that cannot win, chooses what options of it it can,
    then goes back (``< prev`` under ``open a matching product``) and shops as usual: demonstrations of leaving a
    product whose options or attributes do not fit, which the direct plan never shows.
    """

    def __init__(self, env: WebShopEnv, detour: float = 0.0) -> None:
        if not 0.0 <= detour <= 1.0:
            raise ValueError(f"expert_detour={detour!r} must be a probability in [0, 1]")
        self.env = env
        self.detour = float(detour)
        self.query = ""
        self.page_num = 1
        self.near_miss: str | None = None  # the product of this episode's detour, until it was left

    def reset(self) -> None:
        """Plan the search for the new goal."""
        from webshop_server.state import normalize_keywords

        env = self.env
        target = env.catalog.products[env.goal["asin"]]
        title = normalize_keywords(re.sub(r"[^\w\s'&.-]", " ", target["Title"]))
        queries = [*search_candidates(env.goal["instruction_text"]), title]
        self.query, self.page_num, self.near_miss = queries[-1], 1, None
        detour = self.detour > 0 and env.np_random.random() < self.detour
        for query in queries:
            results = env._shop.search(query)
            for rank, asin in enumerate(results):
                if env.winnable(asin):
                    self.query, self.page_num = query, rank // WINDOW + 1
                    if detour:  # a loser shown on the same page, above the winner
                        page = results[(self.page_num - 1) * WINDOW : rank]
                        self.near_miss = next((a for a in page if not env.winnable(a)), None)
                    return

    def _asins(self) -> list[str]:
        products = self.env.catalog.products
        return [c.upper() for c in self.env._page.clickables if c.upper() in products]

    def advise(self) -> tuple[str, str]:
        """The next ``(action, subgoal)``."""
        env = self.env
        state = env.state
        if state.page == "index":
            return f"search[{self.query}]", f"search for {self.query}"
        if state.page == "results":
            shown = env.product_subgoals()
            if self.near_miss is not None and self.near_miss in self._asins():
                return f"click[{self.near_miss.lower()}]", shown.get(self.near_miss.lower(), "open a matching product")
            for asin in self._asins():
                if env.winnable(asin):
                    return f"click[{asin.lower()}]", shown.get(asin.lower(), "open a matching product")
            if state.keywords == self.query and state.page_num < self.page_num:
                return "click[next >]", "open a matching product"
            if state.keywords == self.query and state.page_num > self.page_num:
                return "click[< prev]", "open a matching product"
            return "click[back to search]", f"search for {self.query}"
        if state.page == "sub":
            return "click[< prev]", "open a matching product"
        if not env.winnable(state.asin):
            if state.asin == self.near_miss:  # the detour: what options fit, then leave
                choose = self._next_option()
                if choose is not None:
                    return choose
                self.near_miss = None
            return "click[< prev]", "open a matching product"
        return self._next_option() or ("click[buy now]", "buy the product")

    def _next_option(self) -> tuple[str, str] | None:
        """The click that sets the open product's next option to the goal's best value (None: all are set)."""
        state = self.env.state
        for name, value in self.env.best_options(state.asin).items():
            if state.options.get(name) != value:
                return f"click[{value}]", "choose the required options"
        return None

    def plan_length(self) -> int:
        """How many steps the expert's plan still needs from the current page (for reward shaping)."""
        env = self.env
        state = env.state
        target = env.goal["asin"]
        finish = len(env.best_options(target)) + 2  # open the product, choose its options, buy
        if state.page == "index":
            return 1 + (self.page_num - 1) + finish
        if state.page == "results":
            if any(env.winnable(a) for a in self._asins()):
                return finish
            if state.keywords == self.query:
                return abs(self.page_num - state.page_num) + finish
            return 2 + (self.page_num - 1) + finish
        if state.page in ("item", "sub") and env.winnable(state.asin):
            missing = sum(state.options.get(n) != v for n, v in env.best_options(state.asin).items())
            return missing + 1 + (state.page == "sub")
        return 1 + finish
