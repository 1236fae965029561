"""Read a WebShop page: its text in upstream's observation modes, its clickables and where they lead.

The same reader serves the in-process and the HTTP modes (both get the page's HTML), so both produce the same
observations. A small reader of the site's own markup (see :class:`_Reader`). Modes, as upstream's text env defines them:

- ``text``: the visible text nodes joined by ``" [SEP] "``;
- ``text_rich``: one node a line, buttons as ``[button] X [button_]``, option values and product links as
  ``[button] x [button_]`` or, when chosen / already visited, ``[clicked button] x [clicked button_]``;
- ``html``: the page itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape

__all__ = ["ParsedPage", "parse_page"]

_HIDDEN = frozenset({"head", "title", "style", "script", "noscript"})  # containers (void tags have no end)
_INTERESTING = frozenset({"form", "input", "button", "a", "label", "h3"})


@dataclass
class ParsedPage:
    """What an agent can see and do on a page.

    Attributes:
        parts: visible text nodes, in order, as ``(kind, text)``: kind ``"text"``, ``"button"``, ``"option"``
            (an option's label) or ``"product"`` (a product link).
        clickables: lower-cased clickable text -> the URL path it leads to, in page order (the search button
            is not a clickable: upstream rejects ``click[search]``).
        checked: the option values chosen on this page.
        has_search_bar: whether the page has the search box.
        search_action: the search form's URL path.
        reward: the purchase reward (done page), else ``None``.
        nbytes: the size of the page read (for caches bounded in bytes).
    """

    parts: list[tuple[str, str]] = field(default_factory=list)
    clickables: dict[str, str] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)
    has_search_bar: bool = False
    search_action: str = ""
    reward: float | None = None
    nbytes: int = 0

    def text(self) -> str:
        """The ``text`` observation."""
        return " [SEP] ".join(text for _, text in self.parts)

    def text_rich(self, visited: set[str] = frozenset()) -> str:  # type: ignore[assignment]
        """The ``text_rich`` observation; ``visited`` holds the (lower-case) ASINs already opened."""
        lines = []
        for kind, text in self.parts:
            if kind == "button":
                lines.append(f"[button] {text} [button_]")
            elif kind in ("option", "product"):
                clicked = text in self.checked if kind == "option" else text.lower() in visited
                tag = "clicked button" if clicked else "button"
                lines.append(f"[{tag}] {text} [{tag}_]")
            else:
                lines.append(text)
        return "\n".join(lines)


_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>|<!--.*?-->|<![^>]*>|([^<]+)", re.S)
_ATTR = re.compile(r"([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")


def _attrs(raw: str) -> dict[str, str]:
    out = {}
    for m in _ATTR.finditer(raw):
        value = m.group(2) or m.group(3) or m.group(4) or ""
        out[m.group(1).lower()] = unescape(value) if "&" in value else value
    return out


class _Reader:
    """A one-pass reader of the shop's own markup (well-formed, escaped by Jinja); 4x faster than ``html.parser``.

    It tokenises tags and text with one regular expression and decodes entities with :func:`html.unescape`;
    it is not a general HTML parser (no implied end tags, no CDATA), and needs none for these pages.
    """

    def __init__(self) -> None:
        self.page = ParsedPage()
        self._hidden = 0
        self._form_action = ""
        self._in: str | None = None  # "button", "product" or "option" while inside one
        self._href = ""
        self._buffer: list[str] = []
        self._radios: dict[str, tuple[str, str, bool]] = {}  # id -> (value, href, checked)

    def feed(self, html: str) -> None:
        for match in _TOKEN.finditer(html):
            text = match.group(4)
            if text is not None:
                self.handle_data(unescape(text) if "&" in text else text)
            elif match.group(2) is not None:
                tag = match.group(2).lower()
                if match.group(1):
                    self.handle_endtag(tag)
                else:
                    self.handle_starttag(tag, match.group(3))

    def handle_starttag(self, tag: str, raw: str) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
            return
        if tag not in _INTERESTING:
            return
        a = _attrs(raw)
        classes = a.get("class", "").split()
        if tag == "form":
            self._form_action = a.get("action", "")
            if a.get("id") == "search-form":
                self.page.search_action = self._form_action
        elif tag == "input" and a.get("id") == "search_input":
            self.page.has_search_bar = True
        elif tag == "input" and a.get("type") == "radio":
            value = a.get("value", "")
            self._radios[a.get("id", "")] = (value, a.get("data-href", ""), "checked" in a)
            if "checked" in a:
                self.page.checked.add(value)
        elif tag == "button" and "btn" in classes:
            self._start("button", self._form_action)
        elif tag == "a" and "product-link" in classes:
            self._start("product", a.get("href", ""))
        elif tag == "label":
            label_for = a.get("for", "")
            if label_for in self._radios:
                self._start("option", self._radios[label_for][1])
        elif tag == "h3" and a.get("id") == "reward":
            self.page.reward = float(a.get("data-reward", "0"))

    def _start(self, kind: str, href: str) -> None:
        self._buffer = []
        self._in, self._href = kind, href

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif (
            (tag == "button" and self._in == "button")
            or (tag == "a" and self._in == "product")
            or (tag == "label" and self._in == "option")
        ):
            text = " ".join("".join(self._buffer).split())
            self._buffer = []
            if text:
                self.page.parts.append((self._in, text))
                key = text.lower()
                if not (self._in == "button" and self._href == self.page.search_action and key == "search"):
                    self.page.clickables.setdefault(key, self._href)
            self._in = None
        elif tag == "form":
            self._form_action = ""

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._in is not None:
            self._buffer.append(data)
            return
        text = " ".join(data.split())
        if text:
            self.page.parts.append(("text", text))


def parse_page(html: str) -> ParsedPage:
    """Parse one page of the shop (``nbytes``: the page's size, for caches that bound memory)."""
    reader = _Reader()
    reader.feed(html)
    reader.page.nbytes = len(html) if html.isascii() else 4 * len(html)
    return reader.page
