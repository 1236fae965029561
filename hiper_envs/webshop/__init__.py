"""``HiPER/WebShop-v0``: the bundled WebShop (``webshop_server``) as an option-aware Gymnasium env."""

from __future__ import annotations

from hiper_envs.webshop.env import OBSERVATION_MODES, WebShopEnv

__all__ = ["OBSERVATION_MODES", "WebShopEnv"]
