"""WebShop's canonical subgoals, verified from the session state, and the search candidates an agent can pick.

Canonical subgoals (what ``subgoal_candidates`` lists and ``subgoal_status`` verifies; case and spaces are
ignored):

- ``search for <query>``: achieved once ``search[<query>]`` was done this episode;
- ``open product <asin>``: achieved once that product's page was opened;
- ``open a matching product``: achieved while on the page of a product that can win the task (right type and
  attributes, within the price limit, the goal's options on offer);
- ``choose <option>: <value>``: achieved while that value is chosen on the product page;
- ``choose the required options``: achieved while the chosen options satisfy every goal option;
- ``buy the product``: achieved once something was bought;
- the task instruction itself: achieved when the purchase won (reward 1.0).

Search candidates (``admissible_commands`` when the search box is shown), derived from the instruction only:
1. the instruction without its option and price clauses and without a leading "find me" / "i need" / ...;
2. the same with the leading words kept;
3. the instruction without its price clause (options kept).
"""

from __future__ import annotations

import re

__all__ = ["parse_subgoal", "search_candidates"]

_PRICE = re.compile(r",? and price lower than [\d.]+ dollars\s*$", re.IGNORECASE)
_OPTIONS = re.compile(r" with [a-z][a-z ]*: .*$", re.IGNORECASE)
_LEAD = re.compile(
    r"^(find me|show me|i am looking for|i'm looking for|i need|i want|get me|looking for|buy me|search for)\s+",
    re.IGNORECASE,
)
_CONNECTIVES = re.compile(r"\b(that are|that is|which are)\b", re.IGNORECASE)
_SUBGOAL = re.compile(
    r"^(search for|open product|open a matching product|choose the required options|choose|buy)\b\s*(.*)$"
)


def _clean(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s'&.-]", " ", text.lower()).replace("/", " ").split())


def search_candidates(instruction: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` search queries made from the instruction (see the module docstring), distinct, in order."""
    no_price = _PRICE.sub("", instruction).strip()
    core = _OPTIONS.sub("", no_price).strip()
    short = _CONNECTIVES.sub(" ", _LEAD.sub("", core))
    out: list[str] = []
    for query in (short, core, no_price):
        q = _clean(query)
        if q and q not in out:
            out.append(q)
    return out[:limit]


def parse_subgoal(text: str) -> tuple[str, str] | None:
    """``(kind, argument)`` of a canonical subgoal, or ``None``; kinds: ``search``, ``open``, ``open_matching``,
    ``choose``, ``choose_required``, ``buy``."""  # noqa: D205, D209
    norm = " ".join(text.lower().strip().rstrip(".").split())
    match = _SUBGOAL.match(norm)
    if not match:
        return None
    head, arg = match.group(1), match.group(2).strip()
    kind = {"search for": "search", "open product": "open", "open a matching product": "open_matching",
            "choose the required options": "choose_required", "choose": "choose", "buy": "buy"}[head]  # fmt: skip
    if kind in ("search", "open", "choose") and not arg:
        return None
    if kind == "search":
        arg = arg.strip("\"'[]").strip()
    return kind, arg
