"""The shop's pages (blueprint ``shop``): upstream's routes, each rendered by the session engine."""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, current_app, redirect, request
from werkzeug.wrappers import Response

from webshop_server.engine import PageError, WebShop
from webshop_server.state import State, decode_options, normalize_keywords

__all__ = ["bp"]

bp = Blueprint("shop", __name__)


def _shop() -> WebShop:
    return current_app.extensions["webshop"]


def _options(segment: str) -> dict[str, str]:
    try:
        return decode_options(segment)
    except ValueError as e:
        raise PageError(400, str(e)) from e


def _render(session: str, state: State) -> str:
    return _shop().render(session, state).html


@bp.get("/")
def home() -> Response:
    """A new session with a goal drawn at random."""
    return redirect(f"/session_{secrets.token_hex(6)}", code=302)


@bp.get("/healthz")
def healthz() -> dict[str, object]:
    """Liveness and the catalog served (clients check they use the same one)."""
    catalog = _shop().catalog
    return {"status": "ok", "catalog": catalog.name, "products": len(catalog), "goals": len(catalog.goals)}


@bp.get("/<session>")
def index(session: str) -> str:
    """The search page."""
    return _render(session, State())


@bp.get("/search/<session>")
def search(session: str) -> Response:
    """The search form's target: redirect to the first results page of the keywords."""
    keywords = normalize_keywords(request.args.get("search_query", ""))
    if not keywords:
        abort(400, description="search_query is missing or empty")
    _shop().goal_index(session)  # a bad session is a 4xx here, not after the redirect
    return redirect(State("results", keywords, 1).path(session), code=302)


@bp.get("/search_results/<session>/<keywords>/<int:page>")
def search_results(session: str, keywords: str, page: int) -> str:
    """A page of search results."""
    return _render(session, State("results", keywords, page))


@bp.get("/item_page/<session>/<asin>/<keywords>/<int:page>/<options>")
def item_page(session: str, asin: str, keywords: str, page: int, options: str) -> str:
    """A product with its options."""
    return _render(session, State("item", keywords, page, asin, _options(options)))


@bp.get("/item_sub_page/<session>/<asin>/<keywords>/<int:page>/<sub_page>/<options>")
def item_sub_page(session: str, asin: str, keywords: str, page: int, sub_page: str, options: str) -> str:
    """A product's Description, Features, Reviews (or Attributes) page."""
    return _render(session, State("sub", keywords, page, asin, _options(options), sub_page))


@bp.get("/done/<session>/<asin>/<options>")
def done(session: str, asin: str, options: str) -> str:
    """The purchase: the reward and its breakdown."""
    return _render(session, State("done", asin=asin, options=_options(options)))
