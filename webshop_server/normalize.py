"""Colour normalisation for option matching, with upstream WebShop's semantics (first listed colour contained wins).

Upstream normalises each option value to the first word of its colour list that occurs in it *as a substring*,
and leaves it unchanged when none does. The list here is our own, in alphabetical order, which reproduces the
verified quirks: "charcoal grey" -> "charcoal", "heather grey" -> "grey", "navy blue" -> "blue",
"dark grey" -> "dark", "standard" -> "tan" (the substring rule). A tuple (upstream's synthetic-goal options are
``(name, value)`` pairs) is tested by *membership*, as Python's ``in`` does for tuples upstream.
"""

from __future__ import annotations

from typing import Any

__all__ = ["COLOR_SET", "normalize_color"]

#: Colour words, alphabetical (the order decides which colour a multi-colour value normalises to).
COLOR_SET: tuple[str, ...] = (
    "alabaster", "apricot", "aqua", "ash", "azure", "beige", "bisque", "black", "blue", "blush", "bronze", "brown",
    "burgundy", "camel", "champagne", "charcoal", "cherry", "chestnut", "chocolate", "clear", "coffee", "copper",
    "coral", "cream", "crimson", "cyan", "dark", "denim", "ebony", "emerald", "espresso", "fuchsia", "gold", "gray",
    "green", "grey", "indigo", "ivory", "jade", "khaki", "lavender", "lemon", "light", "lilac", "lime", "magenta",
    "mahogany", "maroon", "mauve", "mint", "mocha", "multi", "mustard", "natural", "navy", "nude", "oak", "olive",
    "orange", "orchid", "peach", "pearl", "pink", "plum", "purple", "red", "rose", "royal", "ruby", "rust", "sage",
    "salmon", "sand", "sapphire", "silver", "sky", "slate", "tan", "taupe", "teal", "turquoise", "violet", "walnut",
    "wheat", "white", "wine", "yellow",
)  # fmt: skip


def normalize_color(value: Any) -> Any:
    """The first colour of :data:`COLOR_SET` contained in ``value``, else ``value`` unchanged.

    Args:
        value: an option value (``str``: substring test) or an upstream ``(name, value)`` pair (membership test).
    """
    for color in COLOR_SET:
        if color in value:
            return color
    return value
