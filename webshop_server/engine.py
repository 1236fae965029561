"""The session engine: renders any page of the shop and says where each of its clickables leads.

One engine serves both the Flask site and ``hiper_envs``' in-process mode, so both see byte-identical pages.
A page is a pure function of the session's goal and the :class:`~webshop_server.state.State` (the URL); the only
per-session data is the goal, fixed by the session id: ``fixed_<i>`` plays goal ``i`` (upstream's convention),
any other id draws a goal by weight with the id as seed. Sessions therefore never share or leak state.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from webshop_server.cache import BoundedCache
from webshop_server.catalog import Catalog
from webshop_server.reward import RewardBreakdown, get_reward
from webshop_server.state import SUB_PAGES, PageError, State, normalize_keywords, search_path

__all__ = ["PRODUCT_WINDOW", "Page", "PageError", "WebShop"]

#: Products per results page (upstream: 10).
PRODUCT_WINDOW = 10
#: Default bound of the rendered-page cache, in bytes (about 4,000 item pages of a generated catalog).
PAGE_CACHE_BYTES = 64 * 2**20
_FIXED = re.compile(r"fixed_(\d{1,9})")


@dataclass
class Page:
    """A rendered page.

    Attributes:
        html: the page.
        state: the page's state.
        targets: each clickable's text (lower case, as agents write it) -> the state it leads to, in page order.
        has_search_bar: whether the page has the search box.
        reward: the purchase reward (done page only).
    """

    html: str
    state: State
    targets: dict[str, State] = field(default_factory=dict)
    has_search_bar: bool = False
    reward: RewardBreakdown | None = None


class WebShop:
    """The shop over a :class:`~webshop_server.catalog.Catalog`.

    Args:
        catalog: the products and goals.
        show_attrs: show upstream's hidden "Attributes" sub-page button.
        page_cache: how many rendered pages to keep (a page is a pure function of session and URL, and training
            revisits the same pages: every env of a group plays the same goal); 0 renders every time.
        page_cache_bytes: the most bytes of rendered pages kept (HTML plus an estimate of the page's links).
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        show_attrs: bool = False,
        page_cache: int = 4096,
        page_cache_bytes: int = PAGE_CACHE_BYTES,
    ) -> None:
        self.catalog = catalog
        self.sub_pages = SUB_PAGES if show_attrs else SUB_PAGES[:3]
        self._jinja = jinja2.Environment(
            loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,  # templates are package data: no stat() per render
        )
        self._search = functools.lru_cache(maxsize=4096)(self.catalog.search)
        self._cum_weights: list[float] | None = None
        self.page_cache = BoundedCache(
            self._render, max_entries=page_cache, max_bytes=page_cache_bytes, size=_page_bytes
        )

    # ------------------------------------------------------------------ sessions and goals
    def goal_index(self, session: str) -> int:
        """The goal a session plays: ``fixed_<i>`` -> ``i``; any other id -> a draw by weight seeded by the id."""
        goals = self.catalog.goals
        match = _FIXED.fullmatch(session)
        if match:
            index = int(match.group(1))
            if index >= len(goals):
                raise PageError(404, f"no goal {index}: this catalog has {len(goals)} goals")
            return index
        if not session or len(session) > 100:
            raise PageError(400, "a session id has 1 to 100 characters")
        if self._cum_weights is None:
            self._cum_weights = list(itertools.accumulate(g.get("weight", 1.0) for g in goals))
        return random.Random(session).choices(range(len(goals)), cum_weights=self._cum_weights)[0]

    def goal(self, session: str) -> dict[str, Any]:
        """The goal of a session."""
        return self.catalog.goals[self.goal_index(session)]

    def search(self, keywords: str) -> list[str]:
        """The result ASINs for ``keywords`` (cached)."""
        return self._search(keywords)

    # ------------------------------------------------------------------ pages
    def render(self, session: str, state: State) -> Page:
        """Render ``state`` for ``session``; :class:`PageError` when the page does not exist or a parameter is bad.

        The page is shared with later calls for the same page: treat it as read-only.
        """
        return self.page_cache(session, state)

    def _render(self, session: str, state: State) -> Page:
        goal = self.goal(session)
        if state.page == "index":
            html = self._template("search_page.html", goal, search_action=search_path(session))
            return Page(html, state, {}, has_search_bar=True)
        if state.page == "results":
            return self._results(session, state, goal)
        product = self._product(state)
        if state.page == "done":
            price = self.catalog.prices[state.asin]
            reward = get_reward(product, goal, price, state.options)
            html = self._template(
                "done_page.html",
                goal,
                product=product,
                price=price,
                options_text=json.dumps(state.options, sort_keys=True),
                goal_options_text=json.dumps(goal.get("goal_options"), sort_keys=True),
                reward=reward,
                reward_info=reward.info(),
            )
            return Page(html, state, {}, reward=reward)
        back = {"back to search": State(), "< prev": replace(state, page="results", asin="", options={})}
        if state.page == "sub":
            if state.sub_page not in self.sub_pages:
                raise PageError(404, f"no sub-page {state.sub_page!r}; choose one of {list(self.sub_pages)}")
            targets = {**back, "< prev": replace(state, page="item", sub_page="")}
            return Page(
                self._page("sub_page.html", session, goal, targets, product=product, sub_page=state.sub_page),
                state,
                targets,
            )
        targets = dict(back)
        groups: list[tuple[str, list[tuple[str, str, str, bool]]]] = []
        for name, values in product["options"].items():
            radios = []
            for i, value in enumerate(values):
                target = state.with_option(name, value)
                targets.setdefault(value, target)
                radio_id = f"radio_{i}_{name.replace(' ', '_')}"
                radios.append((radio_id, value, target.path(session), state.options.get(name) == value))
            groups.append((name, radios))
        for label in self.sub_pages:
            targets[label.lower()] = replace(state, page="sub", sub_page=label)
        targets["buy now"] = State("done", asin=state.asin, options=dict(state.options))
        buttons = {
            "back to search": targets["back to search"],
            "< prev": targets["< prev"],
            "buy now": targets["buy now"],
        }
        for label in self.sub_pages:
            buttons[label.lower()] = targets[label.lower()]
        html = self._page(
            "item_page.html",
            session,
            goal,
            buttons,
            product=product,
            groups=groups,
            sub_pages=[label.lower() for label in self.sub_pages],
        )
        return Page(html, state, targets)

    def _results(self, session: str, state: State, goal: dict[str, Any]) -> Page:
        keywords = normalize_keywords(state.keywords)
        if not keywords or keywords != state.keywords:
            raise PageError(400, "search keywords must be non-empty, lower case, single-spaced and without '/'")
        asins = self.search(keywords)
        last = max(1, -(-len(asins) // PRODUCT_WINDOW))
        if not 1 <= state.page_num <= last:
            raise PageError(404, f"no results page {state.page_num}: pages 1 to {last}")
        start = (state.page_num - 1) * PRODUCT_WINDOW
        products = [self.catalog.products[a] for a in asins[start : start + PRODUCT_WINDOW]]
        targets: dict[str, State] = {"back to search": State()}
        if state.page_num > 1:
            targets["< prev"] = replace(state, page_num=state.page_num - 1)
        if state.page_num < last:
            targets["next >"] = replace(state, page_num=state.page_num + 1)
        buttons = dict(targets)
        links = []
        for p in products:
            target = State("item", keywords, state.page_num, p["asin"])
            targets[p["asin"].lower()] = target
            links.append((p, target.path(session)))
        html = self._page(
            "results_page.html", session, goal, buttons, products=links, page_num=state.page_num, total=len(asins)
        )
        return Page(html, state, targets)

    def _product(self, state: State) -> dict[str, Any]:
        product = self.catalog.products.get(state.asin)
        if product is None:
            raise PageError(404, f"no product {state.asin[:20]!r}")
        for name, value in state.options.items():
            if value not in product["options"].get(name, ()):
                raise PageError(400, f"product {state.asin} has no option {name[:40]!r} = {value[:40]!r}")
        if state.page != "done" and state.page_num < 1:
            raise PageError(400, "page numbers start at 1")
        return product

    def _page(self, name: str, session: str, goal: dict[str, Any], buttons: dict[str, State], **context: Any) -> str:
        markup = {text: _button(text, target.path(session)) for text, target in buttons.items()}
        return self._template(name, goal, buttons=markup, **context)

    def _template(self, name: str, goal: dict[str, Any], **context: Any) -> str:
        return self._jinja.get_template(name).render(instruction=goal["instruction_text"], goal=goal, **context)


def _page_bytes(page: Page) -> int:
    """A rendered page's approximate footprint: its HTML (up to 4 bytes a character) and its links."""
    per_char = 1 if page.html.isascii() else 4
    return per_char * len(page.html) + 400 * len(page.targets) + 1000


#: Each button's label as shown, its element id and its classes (upstream's texts).
_BUTTONS: dict[str, tuple[str, str, str]] = {
    "back to search": ("Back to Search", "back-to-search", "btn btn-primary"),
    "< prev": ("< Prev", "prev-page", "btn btn-primary"),
    "next >": ("Next >", "next-page", "btn btn-primary"),
    "buy now": ("Buy Now", "buy-now", "btn btn-lg purchase"),
    **{s.lower(): (s, f"sub-{s.lower()}", "btn btn-primary") for s in SUB_PAGES},
}


def _button(key: str, href: str) -> Markup:
    """A button as a one-button GET form (works without JavaScript); built here, not by a macro, for speed."""
    label, element_id, classes = _BUTTONS[key]
    return Markup(
        '<form class="inline" method="get" action="{}"><button type="submit" class="{}" id="{}">{}</button></form>'
    ).format(href, classes, element_id, label)
