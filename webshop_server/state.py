"""Where a shopper is: one page of the site, as a value (``State``) and as the URL path that shows it.

The site is stateless apart from the session's goal: every page is fully described by its URL, as upstream's
routes are (``/search_results/<session>/<keywords>/<page>``, ``/item_page/<session>/<asin>/<keywords>/<page>/
<options>``...). Options travel as URL-quoted JSON (upstream: a Python dict literal).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import quote, unquote

__all__ = [
    "PAGES",
    "SUB_PAGES",
    "State",
    "decode_options",
    "encode_options",
    "normalize_keywords",
    "parse_path",
    "search_path",
]

PageKind = Literal["index", "results", "item", "sub", "done"]
PAGES: tuple[str, ...] = ("index", "results", "item", "sub", "done")
#: The item's sub-pages, as their buttons read (upstream also has a hidden "Attributes" tab).
SUB_PAGES: tuple[str, ...] = ("Description", "Features", "Reviews", "Attributes")
MAX_KEYWORDS_CHARS = 200


def normalize_keywords(query: str) -> str:
    """Search keywords as the site keeps them: lower case, single spaces, no ``/``, at most 200 characters."""
    return " ".join(query.lower().replace("/", " ").split())[:MAX_KEYWORDS_CHARS].strip()


@functools.lru_cache(maxsize=65536)
def _quote(text: str) -> str:
    return quote(text, safe="")


@functools.lru_cache(maxsize=65536)
def _encode_items(items: tuple[tuple[str, str], ...]) -> str:
    return _quote(json.dumps(dict(items), separators=(",", ":"), sort_keys=True))


def encode_options(options: dict[str, str]) -> str:
    """Options as a URL path segment (URL-quoted compact JSON, keys sorted)."""
    return _encode_items(tuple(sorted(options.items())))


def decode_options(segment: str) -> dict[str, str]:
    """The options of a path segment (already URL-decoded); ``ValueError`` with a reason when malformed."""
    try:
        options = json.loads(segment)
    except json.JSONDecodeError as e:
        raise ValueError(f"options must be a JSON object, got {segment[:60]!r}") from e
    if not isinstance(options, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
        raise ValueError("options must map option names to values (strings)")
    return options


@dataclass(frozen=True)
class State:
    """A page of the site.

    Attributes:
        page: ``"index"`` (search page), ``"results"``, ``"item"``, ``"sub"`` (an item's sub-page) or ``"done"``.
        keywords: the search keywords (results, item and sub pages remember them for "< Prev").
        page_num: the results page, from 1.
        asin: the product shown (item, sub and done pages).
        options: the options chosen so far, ``{name: value}``.
        sub_page: one of :data:`SUB_PAGES` on a sub-page.
    """

    page: PageKind = "index"
    keywords: str = ""
    page_num: int = 1
    asin: str = ""
    options: dict[str, str] = field(default_factory=dict, hash=False)
    sub_page: str = ""

    def with_option(self, name: str, value: str) -> State:
        """This item page with one more option chosen."""
        return replace(self, options={**self.options, name: value})

    def path(self, session: str) -> str:
        """The URL path of this page for ``session``."""
        sid = _quote(session)
        kw = _quote(self.keywords)
        if self.page == "index":
            return f"/{sid}"
        if self.page == "results":
            return f"/search_results/{sid}/{kw}/{self.page_num}"
        opts = encode_options(self.options)
        if self.page == "item":
            return f"/item_page/{sid}/{self.asin}/{kw}/{self.page_num}/{opts}"
        if self.page == "sub":
            return f"/item_sub_page/{sid}/{self.asin}/{kw}/{self.page_num}/{self.sub_page}/{opts}"
        return f"/done/{sid}/{self.asin}/{opts}"


def search_path(session: str) -> str:
    """The URL path the search form of ``session`` submits to (it redirects to the first results page)."""
    return f"/search/{_quote(session)}"


def parse_path(path: str) -> tuple[str, State]:
    """``(session, state)`` of a URL path made by :meth:`State.path`; ``ValueError`` when it is not one."""
    parts = [unquote(p) for p in path.split("?", 1)[0].strip("/").split("/")]
    head = parts[0]
    try:
        if len(parts) == 1 and head:
            return head, State()
        if head == "search_results" and len(parts) == 4:
            return parts[1], State("results", parts[2], int(parts[3]))
        if head == "item_page" and len(parts) == 6:
            return parts[1], State("item", parts[3], int(parts[4]), parts[2], decode_options(parts[5]))
        if head == "item_sub_page" and len(parts) == 7:
            return parts[1], State("sub", parts[3], int(parts[4]), parts[2], decode_options(parts[6]), parts[5])
        if head == "done" and len(parts) == 4:
            return parts[1], State("done", asin=parts[2], options=decode_options(parts[3]))
    except ValueError as e:
        raise ValueError(f"bad page path {path[:80]!r}: {e}") from e
    raise ValueError(f"not a page path: {path[:80]!r}")
