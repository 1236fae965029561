"""How the env reaches the shop: in process (the engine renders pages directly) or over HTTP (a running server).

Both turn a URL path into the page's HTML, so the env above them sees identical pages in both modes, and both
refuse a bad page the same way: :class:`webshop_server.state.PageError` with the shop's 4xx status and message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # webshop_server is imported lazily: importing hiper_envs must stay light
    from webshop_server.engine import WebShop

__all__ = ["Backend", "HttpBackend", "InProcessBackend"]


class Backend(ABC):
    """Fetches pages; ``path`` is the current page's URL path."""

    path: str = ""

    @abstractmethod
    def get(self, path: str) -> str:
        """Open the page at ``path`` and return its HTML."""

    @abstractmethod
    def search(self, action: str, query: str) -> str:
        """Submit the search form (``action`` is its URL path) with ``query``; return the results page's HTML."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


class InProcessBackend(Backend):
    """Renders pages with a :class:`webshop_server.engine.WebShop` in this process (no HTTP, no threads)."""

    def __init__(self, shop: WebShop) -> None:
        self.shop = shop

    def get(self, path: str) -> str:
        """Render the page at ``path``."""
        from webshop_server.state import parse_path

        session, state = parse_path(path)
        self.path = state.path(session)
        return self.shop.render(session, state).html

    def search(self, action: str, query: str) -> str:
        """Render the first results page of ``query``, as the server's redirect would."""
        from webshop_server.state import State, normalize_keywords, search_session

        return self.get(State("results", normalize_keywords(query), 1).path(search_session(action)))


class HttpBackend(Backend):
    """Drives a running ``python -m webshop_server`` over HTTP with ``requests`` (one keep-alive session)."""

    def __init__(self, server_url: str, timeout: float = 30.0) -> None:
        import requests

        self.base = server_url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()

    def _fetch(self, url: str, params: dict[str, str] | None = None) -> str:
        from webshop_server.state import PageError

        response = self._http.get(url, params=params, timeout=self.timeout)
        if 400 <= response.status_code < 500:  # the shop refused the page: as the in-process engine does
            message = response.text.strip().removeprefix(str(response.status_code)).strip()
            raise PageError(response.status_code, message)
        if response.status_code != 200:
            raise RuntimeError(f"WebShop server answered {response.status_code} for {url}: {response.text[:200]}")
        self.path = urlsplit(response.url).path
        return response.text

    def get(self, path: str) -> str:
        """GET the page at ``path``."""
        return self._fetch(self.base + path)

    def search(self, action: str, query: str) -> str:
        """Submit the search form and follow its redirect."""
        return self._fetch(self.base + action, params={"search_query": query})

    def close(self) -> None:
        """Close the keep-alive session."""
        self._http.close()
