"""Option-aware Gymnasium environments for hierarchical LLM agents."""

from __future__ import annotations

from hiper_envs.checker import check_option_env
from hiper_envs.core import OptionEnv
from hiper_envs.options import (
    KEEP,
    PROTOCOL_VERSION,
    SWITCH,
    TAGS,
    OptionAction,
    ParsedResponse,
    close_tag,
    format_response,
    open_tag,
    parse_response,
)

__all__ = [
    "ENV_IDS",
    "KEEP",
    "PROTOCOL_VERSION",
    "SWITCH",
    "TAGS",
    "OptionAction",
    "OptionEnv",
    "ParsedResponse",
    "check_option_env",
    "close_tag",
    "format_response",
    "open_tag",
    "parse_response",
    "register_envs",
]

#: The registered environment ids and their entry points (strings: importing ``hiper_envs`` stays light, the
#: engines load on ``gym.make``). The step limit is the env's own, with one default per env (ALFWorld:
#: ``50 * num_subtasks``; WebShop: 15), hence no ``max_episode_steps`` here and no ``TimeLimit`` by default;
#: ``gym.make(id, max_episode_steps=N)`` reaches the env through ``SyncTimeLimit``.
_ENTRY_POINTS: dict[str, str] = {
    "HiPER/ALFWorld-v0": "hiper_envs.alfworld.env:ALFWorldEnv",
    "HiPER/WebShop-v0": "hiper_envs.webshop.env:WebShopEnv",
}
ENV_IDS: tuple[str, ...] = tuple(_ENTRY_POINTS)


def register_envs() -> None:
    """Register the HiPER environments with Gymnasium (idempotent: ids already registered are left as they are).

    Called on ``import hiper_envs``, so ``gym.make("HiPER/ALFWorld-v0")`` works after that import, and
    ``gym.make("hiper_envs:HiPER/ALFWorld-v0")`` works from a fresh interpreter (Gymnasium imports the module
    named before the colon). Gymnasium >= 1.0 no longer loads ``gymnasium.envs`` entry-point plugins, so a plain
    ``gym.make("HiPER/ALFWorld-v0")`` without the import is not possible.
    """
    from gymnasium.envs.registration import WrapperSpec, register, registry

    # Applied by `make` after its TimeLimit: hands `make(max_episode_steps=N)` to the env (see SyncTimeLimit).
    sync = WrapperSpec(name="SyncTimeLimit", entry_point="hiper_envs.core:SyncTimeLimit", kwargs={})
    for env_id, entry_point in _ENTRY_POINTS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, max_episode_steps=None, additional_wrappers=(sync,))


register_envs()
