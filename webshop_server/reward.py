"""The purchase reward, with upstream WebShop's semantics (``web_agent_site/engine/goal.py``, master).

``total = (attribute hits + option hits + [price <= price_upper]) / (|attributes| + |options| + 1) * r_type``;
success is ``total == 1.0``. Re-implemented from the specification (upstream's code carries a research-only
licence), with rapidfuzz in place of thefuzz and, without a spaCy model, approximate title nouns:

- fuzzy scores are thefuzz's (:func:`fuzzy_score`): both sides stringified, Latin-1 letters dropped
  (thefuzz's ``force_ascii``: "crème" -> "crme"), rapidfuzz's ``default_process``, ``token_set_ratio``, *rounded
  to an int* before the ``> 85`` test (so 85.4 fails, as upstream);
- an attribute also counts when it is a substring of the title, the bullet points or the description;
- option values are colour-normalised (:func:`~webshop_server.normalize.normalize_color`) on both sides; a goal
  whose options are a dict (upstream's synthetic goals) is matched on its ``(name, value)`` pairs stringified, as
  upstream's code ends up doing;
- the type multiplier uses the *raw* ``name`` nouns: a product's ``type_tokens`` when present (our generator
  stores them), else :func:`webshop_server.nouns.title_nouns` (spaCy when a model is installed, else an
  approximation); ``title_score`` divides by the goal's noun *list* length (repeats count, as upstream); its
  title rules apply last.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from webshop_server.normalize import normalize_color
from webshop_server.nouns import title_nouns

__all__ = ["FUZZY_THRESHOLD", "RewardBreakdown", "fuzzy_score", "get_reward", "title_nouns", "type_reward"]

#: A fuzzy match needs a (rounded) token-set ratio strictly above this.
FUZZY_THRESHOLD = 85

#: thefuzz's ``force_ascii``: the Latin-1 range (128-255) is deleted, other characters stay.
_LATIN1 = dict.fromkeys(range(128, 256))


@dataclass(frozen=True)
class RewardBreakdown:
    """The reward and its parts (upstream's ``verbose`` info keys).

    Attributes:
        total: the reward in [0, 1]; 1.0 is a success.
        r_type: the product-type multiplier (1.0, 0.5, 0.1 or 0.0).
        r_att: fraction of goal attributes matched.
        r_option: fraction of goal options matched, ``None`` when the goal has none.
        r_price: whether the price is within the goal's limit.
        w_att, w_option, w_price: the weights of the three parts in ``total`` before ``r_type``.
        query_match, category_match, title_score: the type reward's evidence.
    """

    total: float
    r_type: float
    r_att: float
    r_option: float | None
    r_price: bool
    w_att: float
    w_option: float
    w_price: float
    query_match: bool
    category_match: bool
    title_score: float

    @property
    def success(self) -> bool:
        """Whether this purchase solves the task (reward 1.0)."""
        return self.total >= 1.0 - 1e-9

    def info(self) -> dict[str, Any]:
        """The breakdown as a plain dict (what the done page and ``info`` show)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # shallow: asdict deep-copies (slow)


def fuzzy_score(a: Any, b: Any) -> int:
    """Thefuzz's ``fuzz.token_set_ratio(a, b)`` (0-100, an int), computed with rapidfuzz.

    As thefuzz does: ``None`` scores 0; both sides are stringified, stripped of Latin-1 characters (128-255),
    passed through rapidfuzz's ``default_process`` (lower case, non-alphanumerics to spaces, trimmed); the
    token-set ratio is rounded to an int.
    """
    if a is None or b is None:
        return 0
    return _token_set(str(a), str(b))


@functools.lru_cache(maxsize=65536)
def _token_set(a: str, b: str) -> int:
    pa, pb = default_process(a.translate(_LATIN1)), default_process(b.translate(_LATIN1))
    return int(round(fuzz.token_set_ratio(pa, pb)))


def _type_tokens(item: Mapping[str, Any]) -> list[str]:
    tokens = item.get("type_tokens")
    return list(tokens) if tokens else list(title_nouns(str(item.get("name", item.get("Title", "")))))


def type_reward(product: Mapping[str, Any], goal: Mapping[str, Any]) -> tuple[float, bool, bool, float]:
    """``(r_type, query_match, category_match, title_score)`` of buying ``product`` for ``goal``."""
    query_match = product.get("query") == goal.get("query")
    levels_p = {c.strip() for c in str(product.get("product_category", "")).split("\u203a")}
    levels_g = {c.strip() for c in str(goal.get("product_category", "")).split("\u203a")}
    category_match = len(levels_p & levels_g) >= 2
    desired = _type_tokens(goal)
    purchased = _type_tokens(product)
    title_score = len(set(purchased) & set(desired)) / len(desired) if desired else 0.2
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return r_type, query_match, category_match, title_score


def _attribute_matches(product: Mapping[str, Any], attributes: Sequence[str]) -> int:
    have = list(product.get("Attributes") or [])
    title = str(product.get("Title", "")).lower()
    bullets = " ".join(product.get("BulletPoints") or []).lower()
    description = str(product.get("Description", "")).lower()
    hits = 0
    for wanted in attributes:
        if any(fuzzy_score(p, wanted) > FUZZY_THRESHOLD for p in have):
            hits += 1
        elif wanted in title or wanted in bullets or wanted in description:
            hits += 1
    return hits


def _option_matches(chosen: Iterable[Any], wanted: Iterable[Any]) -> int:
    chosen_n = [normalize_color(c) for c in chosen]
    hits = 0
    for goal_option in wanted:
        g = normalize_color(goal_option)
        if any(fuzzy_score(p, g) > FUZZY_THRESHOLD for p in chosen_n):
            hits += 1
    return hits


def get_reward(
    product: Mapping[str, Any], goal: Mapping[str, Any], price: float, options: Mapping[str, str]
) -> RewardBreakdown:
    """The reward for buying ``product`` at ``price`` with the chosen ``options`` when the task is ``goal``.

    Args:
        product: the purchased product (upstream loader schema: ``name``, ``Title``, ``BulletPoints``,
            ``Description``, ``Attributes``, ``query``, ``product_category``, optional ``type_tokens``).
        goal: the goal (``attributes``, ``goal_options`` as a list or dict, ``price_upper``, ``query``,
            ``product_category``, ``name``, optional ``type_tokens``).
        price: the price paid.
        options: the chosen options, ``{option name: value}``.
    """
    r_type, query_match, category_match, title_score = type_reward(product, goal)
    attributes = list(goal.get("attributes") or [])
    goal_options = goal.get("goal_options") or []
    wanted = list(goal_options.items()) if isinstance(goal_options, Mapping) else list(goal_options)
    price_upper = float(goal.get("price_upper", 1e6))
    r_price = price <= price_upper
    attr_hits = _attribute_matches(product, attributes)
    option_hits = _option_matches(options.values(), wanted)
    denominator = len(attributes) + len(wanted) + 1
    total = (attr_hits + option_hits + int(r_price)) / denominator * r_type
    return RewardBreakdown(
        total=total,
        r_type=r_type,
        r_att=attr_hits / len(attributes) if attributes else 0.0,
        r_option=option_hits / len(wanted) if wanted else None,
        r_price=bool(r_price),
        w_att=len(attributes) / denominator,
        w_option=len(wanted) / denominator,
        w_price=1 / denominator,
        query_match=bool(query_match),
        category_match=category_match,
        title_score=title_score,
    )
