"""A bundled WebShop: generated catalog, upstream reward semantics, BM25 search, session engine and Flask site.

The package knows nothing of RL: ``hiper_envs.webshop`` drives it, in process or over HTTP. Flask is only
imported by :func:`create_app` (the env's in-process mode needs Jinja2, rapidfuzz and bm25s, not Flask).
"""

from __future__ import annotations

from typing import Any

from webshop_server.catalog import SPLITS, Catalog, generate_catalog
from webshop_server.official import OfficialCatalog, load_official_catalog
from webshop_server.reward import RewardBreakdown, get_reward

__all__ = [
    "SPLITS",
    "Catalog",
    "OfficialCatalog",
    "RewardBreakdown",
    "create_app",
    "generate_catalog",
    "get_reward",
    "load_official_catalog",
]


def create_app(test_config: dict[str, Any] | None = None) -> Any:
    """Create the Flask app (see :func:`webshop_server.app.create_app`)."""
    from webshop_server.app import create_app as _create_app

    return _create_app(test_config)
