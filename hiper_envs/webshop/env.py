"""``HiPER/WebShop-v0``: online shopping on the bundled WebShop, with the option protocol."""

from __future__ import annotations

import functools
import html
import numbers
import re
import unicodedata
from typing import TYPE_CHECKING, Any, SupportsFloat

from hiper_envs.core import OptionEnv, TaskInfo
from hiper_envs.options import SubgoalStatus, normalize_command
from hiper_envs.webshop import oracle
from hiper_envs.webshop.backends import Backend, HttpBackend, InProcessBackend
from hiper_envs.webshop.expert import ShopExpert
from hiper_envs.webshop.pageparse import ParsedPage, parse_page
from hiper_envs.webshop.subgoals import parse_subgoal, product_subgoal, search_candidates, subgoal_candidates

if TYPE_CHECKING:  # webshop_server is imported lazily: importing hiper_envs must stay light
    from webshop_server.state import State

__all__ = ["OBSERVATION_MODES", "WebShopEnv"]

OBSERVATION_MODES = ("text", "text_rich", "html")
#: The usual budget in the literature (verl-agent, GiGPO); HiPER's paper used 50.
DEFAULT_MAX_STEPS = 15
_CHARSET = frozenset(chr(c) for c in range(32, 127)) | {"\n", "\t"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@functools.lru_cache(maxsize=4096)
def _parse_path(path: str) -> tuple[str, State]:
    from webshop_server.state import parse_path

    return parse_path(path)


_PARSED: Any = None


def _parsed(page_html: str) -> ParsedPage:
    """The page read (cached per process, bounded in pages and bytes: every env of a group sees the same pages)."""
    global _PARSED
    if _PARSED is None:
        from webshop_server.cache import BoundedCache

        _PARSED = BoundedCache(parse_page, max_entries=4096, max_bytes=64 * 2**20, size=lambda p: 2 * p.nbytes)
    return _PARSED(page_html)


def _ascii(text: str) -> str:
    """Text within the observation charset: accents dropped, other characters as ``?`` ("\u203a" as ">")."""
    if text.isascii() and not _CONTROL.search(text):
        return text
    text = unicodedata.normalize("NFKD", text.replace("\u203a", ">"))
    return "".join(c if c in _CHARSET else "?" for c in text if not unicodedata.combining(c))


class WebShopEnv(OptionEnv):
    """WebShop (Yao et al., 2022): find and buy the product an instruction describes, with options verified.

    Paper (HiPER): https://arxiv.org/abs/2602.16165. WebShop: https://arxiv.org/abs/2207.01206.
    Full manual: ``docs/webshop.md``.

    ## Description
    A shop of generated products (or upstream's, with ``catalog_dir``). The instruction asks for a product with
    attributes, option values and a price limit; the agent searches, opens products, chooses options and buys.

    ## Action Space
    ``spaces.Text``: ``search[<keywords>]`` (any keywords, when the page has the search box) or ``click[<x>]``
    for a clickable of the page (buttons such as ``back to search``, ``next >``, ``< prev``, ``description``,
    ``buy now``; product ASINs; option values), lower case as upstream. ``info["admissible_commands"]`` lists
    every clickable and, on the search page, a few search candidates made from the instruction
    (:func:`~hiper_envs.webshop.subgoals.search_candidates`). Also the option protocol's three-block text or an
    ``OptionAction``. Anything else is an invalid step (the page stays), never an exception.

    ## Observation Space
    ``spaces.Text`` in upstream's modes: ``"text"`` (visible text joined by ``" [SEP] "``, the default),
    ``"text_rich"`` (``[button] x [button_]`` markup) or ``"html"``. Observations are printable ASCII: accents
    are dropped (``crème`` -> ``creme``), ``›`` becomes ``>``, any other character ``?``.

    ## Rewards
    The purchase reward (upstream's formula, :func:`webshop_server.reward.get_reward`) on the step that buys;
    0 otherwise.

    ## Starting State
    ``reset(seed=s)`` draws a goal of the split with ``self.np_random``; ``options={"game_index": i}`` plays goal
    ``i`` of the split, ``{"goal_index": g}`` goal ``g`` of the catalog. Splits: ``test`` = goals 0-499,
    ``eval`` = 500-1499, ``train`` = 1500 on.

    ## Episode End
    - Termination: a purchase ("Buy Now").
    - Truncation: ``max_episode_steps`` steps (default 15; ``gym.make(..., max_episode_steps=N)`` sets it).

    ## Arguments
    ``gym.make("HiPER/WebShop-v0", split="test", observation_mode="text", num_products=1000, catalog_seed=0,
    catalog_dir=None, server_url=None, search_backend="bm25s", num_search_candidates=3, page_cache=4096,
    page_cache_bytes=64 MiB, upstream_compat=False, expert=False, expert_detour=0.0, render_mode=None)``.
    ``page_cache`` and ``page_cache_bytes``: rendered pages kept in process (0: none) and their most bytes.
    ``server_url`` drives a running ``python -m webshop_server`` over HTTP; its catalog must be the one these
    arguments describe (checked at reset); both backends give the same transcript for every action.
    ``upstream_compat=True``: an invalid action leaves the observation unchanged (upstream's text env) instead of
    ``Nothing happens. ...``, ``search[...]`` works from any page but the done page (as upstream's text env), and
    ``info["available_actions"]`` is upstream's ``{"has_search_bar", "clickables"}`` (:meth:`get_available_actions`);
    ``docs/webshop.md`` lists what else differs from upstream.
    ``expert_detour``: the share of episodes in which the expert first opens a near miss and leaves it
    (:class:`~hiper_envs.webshop.expert.ShopExpert`; demonstrations of recovering, for behaviour cloning).

    ## Info keys
    The protocol's keys plus ``goal_index``, ``split``, ``session``, ``url`` (the page's path), ``reward_info``
    (the reward breakdown, after a purchase), with ``expert=True`` ``expert_plan_length`` and, with
    ``upstream_compat=True``, ``available_actions``.

    ## Version History
    - v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "human"]}

    def __init__(
        self,
        split: str = "test",
        *,
        observation_mode: str = "text",
        num_products: int = 1000,
        catalog_seed: int = 0,
        catalog_dir: str | None = None,
        server_url: str | None = None,
        search_backend: str = "bm25s",
        num_search_candidates: int = 3,
        page_cache: int = 4096,
        page_cache_bytes: int = 64 * 2**20,
        upstream_compat: bool = False,
        expert: bool = False,
        expert_detour: float = 0.0,
        max_episode_steps: int = DEFAULT_MAX_STEPS,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(max_episode_steps=max_episode_steps, expert=bool(expert), render_mode=render_mode)
        if observation_mode not in OBSERVATION_MODES:
            raise ValueError(f"observation_mode must be one of {OBSERVATION_MODES}, got {observation_mode!r}")
        from webshop_server import generate_catalog, load_official_catalog
        from webshop_server.engine import WebShop

        if catalog_dir is not None:
            catalog = load_official_catalog(catalog_dir, seed=catalog_seed, search_backend=search_backend)
        else:
            catalog = generate_catalog(num_products, catalog_seed, search_backend)
        self.catalog = catalog
        self.split = split
        self.goal_indices = catalog.split(split)
        if len(self.goal_indices) == 0:
            raise ValueError(f"split {split!r} has no goals in a catalog of {len(catalog.goals)} goals")
        self.observation_mode = observation_mode
        self.num_search_candidates = num_search_candidates
        self.server_url = server_url
        self.upstream_compat = bool(upstream_compat)
        self._shop = WebShop(catalog, page_cache=page_cache, page_cache_bytes=page_cache_bytes)
        self._backend: Backend = HttpBackend(server_url) if server_url else InProcessBackend(self._shop)
        self._page = ParsedPage()
        self._html = ""
        self._page_obs = ""
        self._goal: dict[str, Any] = {}
        self._goal_index = 0
        self._session = ""
        self._searched: set[str] = set()
        self._visited: set[str] = set()
        self._reward = 0.0
        self._reward_info: dict[str, Any] | None = None
        self._expert_policy = ShopExpert(self, detour=expert_detour) if self.expert else None

    # ------------------------------------------------------------------ pages
    def _show(self, page_html: str) -> str:
        self._html = page_html
        self._page = _parsed(page_html)
        if self.observation_mode == "html":
            obs = _ascii(page_html)
        elif self.observation_mode == "text_rich":
            obs = _ascii(self._page.text_rich(self._visited))
        else:
            obs = _ascii(self._page.text())
        self._page_obs = obs
        return obs

    def get_available_actions(self) -> dict[str, Any]:
        """Upstream's ``get_available_actions()``: ``{"has_search_bar": bool, "clickables": [str, ...]}``.

        As upstream lists them: every button's text (the search page's ``search`` too, although ``click[search]``
        is refused, as upstream does), then the product links (lower-case ASINs), then the option values.
        """
        kinds: dict[str, list[str]] = {"button": [], "product": [], "option": []}
        for kind, text in self._page.parts:
            if kind in kinds:
                kinds[kind].append(text if kind == "option" else text.lower())
        clickables = list(dict.fromkeys(kinds["button"] + kinds["product"] + kinds["option"]))
        return {"has_search_bar": self._page.has_search_bar, "clickables": [_ascii(c) for c in clickables]}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode (see the class docstring's Starting State)."""
        obs, info = super().reset(seed=seed, options=options)
        if self.upstream_compat:
            info["available_actions"] = self.get_available_actions()
        return obs, info

    def step(self, action: Any) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        """Take one step (see :meth:`hiper_envs.core.OptionEnv.step`); ``upstream_compat`` as the class says."""
        obs, reward, terminated, truncated, info = super().step(action)
        if self.upstream_compat:
            if info["invalid_action"]:  # upstream: nothing happens, the page stays as it was
                obs = self._last_obs = self._page_obs
            info["available_actions"] = self.get_available_actions()
        return obs, reward, terminated, truncated, info

    @property
    def state(self) -> State:
        """The current page as a :class:`webshop_server.state.State`."""
        return _parse_path(self._backend.path)[1]

    @property
    def goal(self) -> dict[str, Any]:
        """The goal being played (upstream's goal dict)."""
        return self._goal

    # ------------------------------------------------------------------ OptionEnv hooks
    def _load_task(self, options: dict[str, Any] | None) -> tuple[str, TaskInfo]:
        self._goal_index = self._pick_goal(options or {})
        self._goal = self.catalog.goals[self._goal_index]
        self._session = f"fixed_{self._goal_index}"
        self._searched, self._visited = set(), set()
        self._reward, self._reward_info = 0.0, None
        obs = self._show(self._backend.get(f"/{self._session}"))
        if self.server_url and self._goal["instruction_text"] not in html.unescape(self._html):
            raise RuntimeError(
                f"the server at {self.server_url} shows another instruction for goal {self._goal_index}: start it "
                "with the same catalog (--num-products / --catalog-dir / --seed) as this env"
            )
        if self._expert_policy is not None:
            self._expert_policy.reset()
        task = TaskInfo(
            task=_ascii(self._goal["instruction_text"]),
            task_type="webshop",
            task_id=f"webshop-{self.catalog.name}-{self._goal_index}",
            goal_index=self._goal_index,
            split=self.split,
            session=self._session,
        )
        return obs, task

    def _pick_goal(self, options: dict[str, Any]) -> int:
        for key, bound in (("game_index", len(self.goal_indices)), ("goal_index", len(self.catalog.goals))):
            if key in options:
                index = options[key]
                if not isinstance(index, numbers.Integral) or isinstance(index, bool) or not 0 <= index < bound:
                    raise ValueError(f"options[{key!r}] must be an int in [0, {bound}), got {index!r}")
                return self.goal_indices[int(index)] if key == "game_index" else int(index)
        return self.goal_indices[int(self.np_random.integers(len(self.goal_indices)))]

    def _admissible_commands(self) -> list[str]:
        commands = []
        if self._page.has_search_bar:
            limit = self.num_search_candidates
            commands += [f"search[{q}]" for q in search_candidates(self._goal["instruction_text"], limit)]
        commands += [f"click[{c}]" for c in self._page.clickables]
        return commands

    def _match_command(self, action: str, admissible: list[str]) -> str | None:
        from webshop_server.state import normalize_keywords

        text = action.strip()
        searchable = self._page.has_search_bar or (self.upstream_compat and self.state.page != "done")
        if text[:7].lower() == "search[" and text.endswith("]") and searchable:  # upstream: from any page
            keywords = normalize_keywords(text[7:-1])
            return f"search[{keywords}]" if keywords else None
        return super()._match_command(action, admissible)

    def _execute(self, command: str) -> tuple[str, float, bool, bool]:
        kind, arg = command[:-1].split("[", 1)
        if kind == "search":
            self._searched.add(arg)
            from webshop_server.state import search_path

            obs = self._show(self._backend.search(self._page.search_action or search_path(self._session), arg))
        else:
            obs = self._show(self._backend.get(self._page.clickables[arg]))
        state = self.state
        if state.page in ("item", "sub"):
            self._visited.add(state.asin.lower())
        if state.page != "done":
            return obs, 0.0, False, False
        self._reward = float(self._page.reward or 0.0)
        from webshop_server.reward import get_reward

        product = self.catalog.products[state.asin]
        self._reward_info = get_reward(product, self._goal, self.catalog.prices[state.asin], state.options).info()
        won = self._reward >= 1.0 - 1e-9
        return obs, self._reward, won, True

    def _score_now(self) -> float:
        return self._reward

    # ------------------------------------------------------------------ subgoals
    def _subgoal_status(self, subgoal: str) -> SubgoalStatus:
        if normalize_command(_ascii(subgoal)) == normalize_command(_ascii(self._goal["instruction_text"])):
            return "achieved" if self._won else "pending"
        parsed = parse_subgoal(subgoal)
        if parsed is None:
            return "unknown"
        kind, arg = parsed
        state = self.state
        on_item = state.page in ("item", "sub")
        if kind == "search":
            from webshop_server.state import normalize_keywords

            done = normalize_keywords(arg) in self._searched
        elif kind == "open":
            done = arg.lower() in self._visited
        elif kind == "open_matching":
            done = on_item and self.winnable(state.asin)
        elif kind == "choose":
            name, _, value = arg.partition(":")
            done = on_item and state.options.get(name.strip()) == value.strip()
        elif kind == "choose_required":
            done = on_item and self.options_satisfied(state.asin, state.options)
        else:
            done = state.page == "done"
        return "achieved" if done else "pending"

    def _subgoal_candidates(self) -> list[str]:
        state = self.state
        product = self.catalog.products.get(state.asin) if state.page in ("item", "sub") else None
        out = subgoal_candidates(
            self._goal["instruction_text"],
            state.page,
            searched=self._searched,
            has_options=bool(product and product["options"]),
            products=list(self.product_subgoals().values()) if state.page == "results" else (),
        )
        return list(dict.fromkeys(_ascii(c) for c in out))

    def product_subgoals(self) -> dict[str, str]:
        """Lower-case ASIN -> its offered subgoal, for each product of a results page: its rank in the results, its
        title and price, as the page shows them."""  # noqa: D205, D209
        from webshop_server.engine import PRODUCT_WINDOW

        parts = self._page.parts
        state = self.state
        first = (state.page_num - 1) * PRODUCT_WINDOW + 1 if state.page == "results" else 1
        out: dict[str, str] = {}
        for i, (kind, text) in enumerate(parts):
            if kind != "product" or text.lower() not in self._page.clickables or text.lower() in out:
                continue
            after = [t for k, t in parts[i + 1 : i + 3] if k == "text"]
            title = after[0] if after else ""
            price = after[1] if len(after) > 1 and after[1].startswith("$") else ""
            out[text.lower()] = _ascii(product_subgoal(text, title, price, rank=first + len(out)))
        return out

    # ------------------------------------------------------------------ the hidden verdicts (also the expert's)
    def best_options(self, asin: str) -> dict[str, str]:
        """The options of product ``asin`` that best meet the goal's (:func:`oracle.best_options`)."""
        return oracle.best_options(self.catalog.products[asin], self._goal)

    def options_satisfied(self, asin: str, options: dict[str, str]) -> bool:
        """Whether ``options`` meet every goal option for product ``asin``."""
        return oracle.options_satisfied(self.catalog.products[asin], self._goal, self.catalog.prices[asin], options)

    def winnable(self, asin: str) -> bool:
        """Whether buying product ``asin`` with its best options wins the task (reward 1.0)."""
        if asin not in self.catalog.products:
            return False
        return oracle.winnable(self.catalog.products[asin], self._goal, self.catalog.prices[asin])

    def _expert(self) -> tuple[str, str]:
        assert self._expert_policy is not None
        return self._expert_policy.advise()

    def _info(self, *, invalid: bool, admissible: list[str]) -> dict[str, Any]:
        info = super()._info(invalid=invalid, admissible=admissible)
        info["goal_index"] = self._goal_index
        info["url"] = self._backend.path
        if self._reward_info is not None:
            info["reward_info"] = self._reward_info
        if "expert_action" in info:
            assert self._expert_policy is not None
            info["expert_plan_length"] = self._expert_policy.plan_length()
        return info

    def close(self) -> None:
        """Close the HTTP session (if any)."""
        self._backend.close()
        super().close()
