"""WebShop's subgoals: the task-level candidates, what free text they read as, and the search queries offered.

Canonical subgoals (case and spaces are ignored), verified from the session by the env:

- ``search for <query>``: achieved once ``search[<query>]`` was done this episode;
- ``open product <asin>`` (optionally followed by ``, result <rank>: <title> (<price>)``, as offered): achieved
  once that product's page was opened;
- ``open a matching product``: achieved while on the page of a product that can win the task (right type and
  attributes, within the price limit, the goal's options on offer);
- ``choose <option>: <value>``: achieved while that value is chosen on the product page;
- ``choose the required options``: achieved while the chosen options satisfy every goal option;
- ``buy the product``: achieved once something was bought;
- the task instruction itself: achieved when the purchase won (reward 1.0).

Offered (:func:`subgoal_candidates`) are the steps of the task, each possibly several clicks: the searches not
done yet, open a matching product (paging through results, going back), on a results page each product shown as
``open product <asin>, result <rank>: <title> (<price>)`` (:func:`product_subgoal`: the choice of a product, named
by what the page shows of it, its rank in the search results included, so that a policy scoring candidate texts
can compare the products with the instruction and with each other; the bare ASIN says nothing), choose the
required options (every option of the product), buy. ``choose <option>: <value>`` is a single click: still
read and verified, not offered. What is offered depends only on what the agent sees (the page, its own
searches), never on the hidden verdicts (whether this product matches).

Search candidates (``admissible_commands`` when the search box is shown), derived from the instruction only:
1. the instruction without its option and price clauses and without a leading "find me" / "i need" / ...;
2. the same with the leading words kept;
3. the instruction without its price clause (options kept).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

__all__ = ["parse_subgoal", "product_subgoal", "search_candidates", "subgoal_candidates"]

_PRICE = re.compile(r",? and price lower than [\d.]+ dollars\s*$", re.IGNORECASE)
_OPTIONS = re.compile(r" with [a-z][a-z ]*: .*$", re.IGNORECASE)
_LEAD = re.compile(
    r"^(find me|show me|i am looking for|i'm looking for|i need|i want|get me|looking for|buy me|search for)\s+",
    re.IGNORECASE,
)
_CONNECTIVES = re.compile(r"\b(that are|that is|which are)\b", re.IGNORECASE)
# The head of each canonical subgoal and its kind; a head comes before the heads it starts ("choose the required
# options" before "choose") so that the regex tries it first.
_KINDS = {
    "search for": "search",
    "open product": "open",
    "open a matching product": "open_matching",
    "choose the required options": "choose_required",
    "choose": "choose",
    "buy": "buy",
}
_SUBGOAL = re.compile(rf"^({'|'.join(_KINDS)})\b\s*(.*)$")


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
    kind = _KINDS[head]
    if kind in ("search", "open", "choose") and not arg:
        return None
    if kind == "search":
        arg = arg.strip("\"'[]").strip()
    elif kind == "open":  # "open product b0abc, result 2: its title ($9.99)": the ASIN names it
        arg = re.split(r"[\s,:]", arg, maxsplit=1)[0]
    return kind, arg


def product_subgoal(asin: str, title: str = "", price: str = "", rank: int | None = None) -> str:
    """The offered subgoal that opens product ``asin``: ``open product <asin>, result <rank>: <title> (<price>)``.

    Lower case; ``rank`` is the product's place in the search results (1 = first), omitted when ``None``, and so
    are the title and price when empty.
    """
    text = f"open product {asin.lower()}"
    if rank is not None:
        text += f", result {rank}"
    if title:
        text += f": {' '.join(title.lower().split())}"
        if price:
            text += f" ({price})"
    return text


def subgoal_candidates(
    instruction: str,
    page: str,
    *,
    searched: Collection[str] = (),
    has_options: bool = False,
    products: Sequence[str] = (),
    num_queries: int = 3,
) -> list[str]:
    """The task-level subgoals offered on a page (see the module docstring), the instruction first.

    Args:
        instruction: the goal's instruction.
        page: the page kind: ``index`` (search), ``results``, ``item``, ``sub`` (a product's description,
            features or reviews) or ``done``.
        searched: the queries already searched this episode (as :func:`search_candidates` writes them, or
            normalized alike); those are not offered again.
        has_options: whether the product shown (``item``/``sub``) has options to choose.
        products: on a results page, the products shown as :func:`product_subgoal` writes them (offered after
            "open a matching product").
        num_queries: how many search candidates to consider.
    """
    if page == "done":
        return []
    out = [instruction]
    done = {_clean(q) for q in searched}
    out += [f"search for {q}" for q in search_candidates(instruction, num_queries) if q not in done]
    out.append("open a matching product")
    if page == "results":
        out += products
    if page in ("item", "sub"):
        if has_options:
            out.append("choose the required options")
        out.append("buy the product")
    return list(dict.fromkeys(out))
