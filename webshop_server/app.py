"""The Flask application factory (``create_app``) of the bundled WebShop."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from webshop_server.state import PageError

__all__ = ["create_app", "load_shop"]

#: Defaults; override with ``create_app({...})`` or ``WEBSHOP_*`` environment variables (e.g. WEBSHOP_NUM_PRODUCTS).
DEFAULTS: dict[str, Any] = {
    "NUM_PRODUCTS": 1000,  # size of the generated catalog
    "CATALOG_SEED": 0,  # seed of the generated catalog (and of official range prices / price limits)
    "CATALOG_DIR": None,  # a folder with upstream's data files: serve them instead of a generated catalog
    "SEARCH_BACKEND": "bm25s",  # "bm25s" (Lucene BM25) or "fts5" (SQLite)
    "SHOW_ATTRS": False,  # show upstream's hidden "Attributes" sub-page
    "PAGE_CACHE": 4096,  # rendered pages kept (0: none)
    "PAGE_CACHE_BYTES": 64 * 2**20,  # and their most bytes: the server's memory stays bounded whatever is asked
    "MAX_CONTENT_LENGTH": 64 * 2**10,  # a POSTed form (a search query) has at most 64 KiB: 413 beyond
}


def load_shop(config: dict[str, Any]) -> Any:
    """The :class:`~webshop_server.engine.WebShop` a configuration describes (goals and index built now)."""
    from webshop_server import generate_catalog, load_official_catalog
    from webshop_server.engine import WebShop

    if config.get("CATALOG_DIR"):
        catalog = load_official_catalog(
            config["CATALOG_DIR"], seed=int(config["CATALOG_SEED"]), search_backend=config["SEARCH_BACKEND"]
        )
    else:
        catalog = generate_catalog(int(config["NUM_PRODUCTS"]), int(config["CATALOG_SEED"]), config["SEARCH_BACKEND"])
    catalog.goals, catalog.index  # noqa: B018 - build both before the first request, not during it
    return WebShop(
        catalog,
        show_attrs=bool(config["SHOW_ATTRS"]),
        page_cache=int(config["PAGE_CACHE"]),
        page_cache_bytes=int(config["PAGE_CACHE_BYTES"]),
    )


def _plain(status: int, message: str) -> Response:
    # text/plain: a message that echoes user input can never become markup.
    return Response(f"{status} {message}\n", status=status, mimetype="text/plain")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the WebShop Flask app.

    Args:
        test_config: settings that replace the defaults and the ``WEBSHOP_*`` environment variables (tests).
    """
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_prefixed_env("WEBSHOP")
    else:
        app.config.update(test_config)
    app.extensions["webshop"] = load_shop(app.config)
    # An empty segment ("//") is a 404, not a 308 redirect that echoes the whole (perhaps 60 kB) path in a header.
    app.url_map.merge_slashes = False

    from webshop_server import views

    app.register_blueprint(views.bp)

    @app.errorhandler(PageError)
    def page_error(error: PageError) -> Response:
        return _plain(error.status, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return _plain(error.code or 400, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:  # a bug must not answer with a traceback
        app.logger.exception("unexpected error")
        return _plain(500, "internal error")

    return app
