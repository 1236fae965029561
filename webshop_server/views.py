"""The shop's pages (blueprint ``shop``): upstream's routes, from :data:`webshop_server.state.ROUTES`.

Every page route is registered from the route table and read by its one bounded decoder
(:func:`~webshop_server.state.decode_segments`), so a malformed segment is a 4xx with a message on every route.
Like upstream's, every page answers GET and POST; a POST of ``search_query`` to ``/<session>`` searches
(upstream's search form), as does this site's own form, ``GET /search/<session>?search_query=...``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from flask import Blueprint, abort, current_app, redirect, request
from werkzeug.wrappers import Response

from webshop_server.engine import WebShop
from webshop_server.state import ROUTES, SEARCH_RULE, Route, State, decode_segments, normalize_keywords

__all__ = ["bp"]

bp = Blueprint("shop", __name__)


def _shop() -> WebShop:
    return current_app.extensions["webshop"]


@bp.get("/")
def home() -> Response:
    """A new session with a goal drawn at random."""
    return redirect(f"/session_{secrets.token_hex(6)}", code=302)


@bp.get("/healthz")
def healthz() -> dict[str, object]:
    """Liveness and the catalog served (clients check they use the same one)."""
    catalog = _shop().catalog
    return {"status": "ok", "catalog": catalog.name, "products": len(catalog), "goals": len(catalog.goals)}


def _search(session: str, query: str | None) -> Response:
    """Redirect to the first results page of ``query`` (normalised; cut to 200 characters)."""
    keywords = normalize_keywords(query or "")
    if not keywords:
        abort(400, description="search_query is missing or empty")
    _shop().goal_index(session)  # a bad session is a 4xx here, not after the redirect
    return redirect(State("results", keywords, 1).path(session), code=302)


@bp.route(SEARCH_RULE, methods=["GET", "POST"])
def search(session: str) -> Response:
    """The search form's target (GET query string or POSTed form)."""
    return _search(session, request.values.get("search_query"))


def _page_view(route: Route) -> Callable[..., str | Response]:
    def view(**segments: str) -> str | Response:
        session, state = decode_segments(route, segments)
        if route.page == "index" and request.method == "POST" and "search_query" in request.form:
            return _search(session, request.form["search_query"])  # upstream's search form
        return _shop().render(session, state).html

    view.__name__ = view.__qualname__ = f"page_{route.page}"
    view.__doc__ = f"The {route.page} page ({route.rule})."
    return view


for _route in ROUTES.values():
    bp.add_url_rule(_route.rule, endpoint=_route.page, view_func=_page_view(_route), methods=["GET", "POST"])
