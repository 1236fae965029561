"""Where a shopper is: one page of the site, as a value (``State``) and as the URL path that shows it.

The site is stateless apart from the session's goal: every page is fully described by its URL, as upstream's
routes are. The URL scheme is written once, in :data:`ROUTES`: :meth:`State.path` writes it, :func:`parse_path`
and the Flask views (``webshop_server.views``) read it through the same bounded decoder (:func:`decode_segments`).

The decoder is total: any segment (any length, any nesting, any type) gives a :class:`State` or a
:class:`PageError` with a 4xx status and a message, never another exception. Its bounds: a session id has at most
100 characters, keywords at most 200 (and must be in the site's normal form), an options segment at most 2,048
characters, one level deep, at most 32 ``name: value`` pairs of strings. Options are read as JSON (what this site
writes) or as upstream's Python dict literal (``{'color': 'black'}``), parsed with :mod:`ast`, never evaluated;
keywords also in upstream's list form (``['blue', 'shoes']``), which this site writes for keywords made only of
dots (a ``.`` or ``..`` segment would be resolved away by clients).
"""

from __future__ import annotations

import ast
import functools
import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import quote, unquote

__all__ = [
    "MAX_KEYWORDS_CHARS",
    "MAX_OPTIONS",
    "MAX_OPTIONS_CHARS",
    "PAGES",
    "ROUTES",
    "SEARCH_RULE",
    "SUB_PAGES",
    "PageError",
    "Route",
    "State",
    "decode_options",
    "decode_segments",
    "encode_options",
    "normalize_keywords",
    "parse_path",
    "search_path",
    "search_session",
]

PageKind = Literal["index", "results", "item", "sub", "done"]
PAGES: tuple[str, ...] = ("index", "results", "item", "sub", "done")
#: The item's sub-pages, as their buttons read (upstream also has a hidden "Attributes" tab).
SUB_PAGES: tuple[str, ...] = ("Description", "Features", "Reviews", "Attributes")
#: Search keywords are cut to this many characters (a documented cut, as a search box's ``maxlength``).
MAX_KEYWORDS_CHARS = 200
MAX_SESSION_CHARS = 100
#: Longest options segment (decoded) and most ``name: value`` pairs; longer is a 400, not a parse.
MAX_OPTIONS_CHARS = 2048
MAX_OPTIONS = 32
_MAX_SHORT_SEGMENT = 40  # asin, sub-page, page number: longer cannot name anything
_SEARCH_PREFIX = "search"
#: The Flask rule of the search form's target (not a page: it redirects to the first results page).
SEARCH_RULE = f"/{_SEARCH_PREFIX}/<session>"


class PageError(ValueError):
    """A request for a page that does not exist (``status`` 404) or with bad parameters (400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def normalize_keywords(query: str) -> str:
    """Search keywords as the site keeps them: lower case, single spaces, no ``/``, at most 200 characters.

    Characters that cannot travel in a URL (lone surrogates) become ``?``.
    """
    if not query.isascii():
        query = query.encode("utf-8", "replace").decode("utf-8")
    return " ".join(query.lower().replace("/", " ").split())[:MAX_KEYWORDS_CHARS].strip()


@functools.lru_cache(maxsize=16384)
def _segment(text: str) -> str:
    """One URL path segment, everything quoted."""
    return quote(text, safe="")


def _keywords_segment(keywords: str) -> str:
    """The keywords' segment (upstream's list form ``['..']`` for keywords made only of dots).

    Keywords of dots only would make a dot segment (``.``, ``..``) that clients resolve away (RFC 3986; ``%2E``
    does not help: ``requests`` unquotes it); the decoder reads the list form back.
    """
    return _segment(str([keywords]) if keywords.strip(".") == "" else keywords)


@functools.lru_cache(maxsize=16384)
def _encode_items(items: tuple[tuple[str, str], ...]) -> str:
    return _segment(json.dumps(dict(items), separators=(",", ":"), sort_keys=True))


def encode_options(options: dict[str, str]) -> str:
    """Options as a URL path segment (URL-quoted compact JSON, keys sorted)."""
    return _encode_items(tuple(sorted(options.items())))


def _nesting_depth(text: str) -> int:
    """How deeply brackets nest in ``text``, ignoring quoted strings (JSON's and Python's); one linear pass."""
    if text.count("[") + text.count("{") + text.count("(") <= 1:  # the usual case, counted in C
        return 1 if any(c in text for c in "[{(") else 0
    depth = deepest = 0
    quote_char = ""
    escaped = False
    for ch in text:
        if quote_char:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote_char:
                quote_char = ""
        elif ch in "\"'":
            quote_char = ch
        elif ch in "[{(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]})":
            depth -= 1
    return deepest


def _literal_dict(text: str) -> Any:
    """A Python dict literal of string constants (upstream's options form); ``None`` when ``text`` is not one."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if not isinstance(tree, ast.Dict):
        return None
    out: dict[Any, Any] = {}
    for key, value in zip(tree.keys, tree.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(value, ast.Constant)):
            return None
        out[key.value] = value.value
    return out


def decode_options(segment: str) -> dict[str, str]:
    """The options of a path segment (already URL-decoded); :class:`PageError` (400) with a reason when malformed.

    Accepts compact JSON (``{"color":"black"}``) and upstream's Python literal (``{'color': 'black'}``).
    """
    if len(segment) > MAX_OPTIONS_CHARS:
        raise PageError(400, f"options have at most {MAX_OPTIONS_CHARS} characters, got {len(segment)}")
    if _nesting_depth(segment) > 1:
        raise PageError(400, "options must be one flat object {name: value}, without nested brackets")
    try:
        options = json.loads(segment)
    except ValueError:  # not JSON (JSONDecodeError is a ValueError): perhaps upstream's Python literal
        options = _literal_dict(segment)
    if options is None:
        raise PageError(400, f"options must be a JSON object or a Python dict literal, got {segment[:60]!r}")
    if not isinstance(options, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
        raise PageError(400, "options must map option names to values (strings)")
    if len(options) > MAX_OPTIONS:
        raise PageError(400, f"at most {MAX_OPTIONS} options, got {len(options)}")
    return options


def _decode_keywords(segment: str) -> str:
    """Keywords in the site's normal form; upstream's list literal (``['blue', 'shoes']``) is joined first."""
    if len(segment) > 4 * MAX_KEYWORDS_CHARS:
        raise PageError(400, f"search keywords have at most {MAX_KEYWORDS_CHARS} characters, got {len(segment)}")
    if segment.startswith("[") and segment.endswith("]") and _nesting_depth(segment) == 1:
        try:
            words = ast.literal_eval(segment)  # a flat list of at most 800 characters: bounded
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            words = None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            segment = normalize_keywords(" ".join(words))
    if not segment or segment != normalize_keywords(segment):
        raise PageError(
            400,
            f"search keywords must be non-empty, lower case, single-spaced, without '/' and at most "
            f"{MAX_KEYWORDS_CHARS} characters, got {segment[:60]!r}",
        )
    return segment


def _decode_page_num(segment: str) -> int:
    if not (segment.isascii() and segment.isdigit() and len(segment) <= 6):
        raise PageError(404, f"no page {segment[:20]!r}: page numbers are 1, 2, ...")
    return int(segment)


def _decode_short(name: str) -> Any:
    def decode(segment: str) -> str:
        if len(segment) > _MAX_SHORT_SEGMENT:
            raise PageError(404, f"no {name} {segment[:20]!r}...")
        return segment

    return decode


def _decode_session(segment: str) -> str:
    if not segment or len(segment) > MAX_SESSION_CHARS:
        raise PageError(400, f"a session id has 1 to {MAX_SESSION_CHARS} characters, got {len(segment)}")
    if segment.strip(".") == "":
        raise PageError(400, "a session id cannot be only dots (clients drop '.' and '..' from URLs)")
    return segment


#: How each path field is read (bounded, typed) from its URL-decoded segment.
_DECODERS: dict[str, Any] = {
    "session": _decode_session,
    "keywords": _decode_keywords,
    "page_num": _decode_page_num,
    "asin": _decode_short("product"),
    "sub_page": _decode_short("sub-page"),
    "options": decode_options,
}


@dataclass(frozen=True)
class Route:
    """One page kind's URL: ``/<prefix>/<field>/<field>...`` (no prefix for the search page).

    Attributes:
        page: the :class:`State` page kind.
        prefix: the first path segment (upstream's route name), ``""`` for the search page ``/<session>``.
        fields: the path's fields, in order: ``session`` and :class:`State` attribute names.
    """

    page: PageKind
    prefix: str
    fields: tuple[str, ...]

    @property
    def rule(self) -> str:
        """The Flask URL rule (every field a plain string segment; :func:`decode_segments` types them)."""
        return "/" + "/".join(([self.prefix] if self.prefix else []) + [f"<{f}>" for f in self.fields])


#: The site's URL scheme (upstream's routes), the single place it is written.
ROUTES: dict[str, Route] = {
    r.page: r
    for r in (
        Route("index", "", ("session",)),
        Route("results", "search_results", ("session", "keywords", "page_num")),
        Route("item", "item_page", ("session", "asin", "keywords", "page_num", "options")),
        Route("sub", "item_sub_page", ("session", "asin", "keywords", "page_num", "sub_page", "options")),
        Route("done", "done", ("session", "asin", "options")),
    )
}
_BY_SHAPE = {(r.prefix, len(r.fields)): r for r in ROUTES.values() if r.prefix}


def decode_segments(route: Route, segments: dict[str, str]) -> tuple[str, State]:
    """``(session, state)`` of a route's URL-decoded segments; :class:`PageError` (4xx) when any is malformed."""
    values = {name: _DECODERS[name](segments[name]) for name in route.fields}
    session = values.pop("session")
    return session, State(route.page, **values)


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
        route = ROUTES[self.page]
        parts = [route.prefix] if route.prefix else []
        for name in route.fields:
            if name == "session":
                parts.append(_segment(session))
            elif name == "keywords":
                parts.append(_keywords_segment(self.keywords))
            elif name == "options":
                parts.append(encode_options(self.options))
            else:
                parts.append(_segment(str(getattr(self, name))))
        return "/" + "/".join(parts)


def search_path(session: str) -> str:
    """The URL path the search form of ``session`` submits to (it redirects to the first results page)."""
    return f"/{_SEARCH_PREFIX}/{_segment(session)}"


def search_session(path: str) -> str:
    """The session of a search form's URL path (:func:`search_path`); :class:`PageError` when it is not one."""
    parts = [unquote(p) for p in path.split("?", 1)[0].strip("/").split("/")]
    if len(parts) != 2 or parts[0] != _SEARCH_PREFIX:
        raise PageError(404, f"not a search path: {path[:80]!r}")
    return _decode_session(parts[1])


def parse_path(path: str) -> tuple[str, State]:
    """``(session, state)`` of a page's URL path; :class:`PageError` (a ``ValueError``) when it is not one."""
    parts = [unquote(p) for p in path.split("?", 1)[0].strip("/").split("/")]
    if len(parts) == 1 and parts[0]:
        return decode_segments(ROUTES["index"], {"session": parts[0]})
    route = _BY_SHAPE.get((parts[0], len(parts) - 1))
    if route is None:
        raise PageError(404, f"not a page path: {path[:80]!r}")
    return decode_segments(route, dict(zip(route.fields, parts[1:], strict=True)))
