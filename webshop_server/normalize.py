"""Colour normalisation for option matching, with upstream WebShop's semantics (first listed colour contained wins).

Upstream normalises each option value to the first word of its colour list that occurs in it *as a substring*,
and leaves it unchanged when none does. :data:`COLOR_SET` is upstream's list of colour words, in upstream's
order (a list of words is a fact about the reward, not code): so "white oak" -> "white" and "camo green" ->
"camo", as upstream, and the verified quirks hold: "charcoal grey" -> "charcoal", "heather grey" -> "grey",
"navy blue" -> "blue", "dark grey" -> "dark", "standard" -> "tan" (the substring rule). A tuple (upstream's
synthetic-goal options are ``(name, value)`` pairs) is tested by *membership*, as Python's ``in`` does for tuples
upstream.
"""

from __future__ import annotations

from typing import Any

__all__ = ["COLOR_SET", "normalize_color"]

_COLOR_WORDS = (
    "alabaster apricot aqua ash asphalt azure banana beige black blue blush bordeaux bronze brown burgundy camel camo "
    "caramel champagne charcoal cheetah chestnut chocolate christmas coffee cognac copper coral cranberry cream "
    "crystal dark denim eggplant elephant espresso fuchsia gold granite grape graphite grass gray green grey heather "
    "indigo ivory ivy khaki lavender lemon leopard light lilac lime magenta maroon mauve merlot midnight mint mocha "
    "multicolor mushroom mustard natural navy nude olive orange peach pewter pink plum purple rainbow red rose royal "
    "rust sand sapphire seashell silver skull slate steel stone stonewash sunflower tan taupe teal tiger turquoise "
    "violet walnut wheat white wine yellow"
)
#: Upstream's colour words, in upstream's order (the order decides which colour a multi-colour value becomes).
COLOR_SET: tuple[str, ...] = tuple(_COLOR_WORDS.split())


def normalize_color(value: Any) -> Any:
    """The first colour of :data:`COLOR_SET` contained in ``value``, else ``value`` unchanged.

    Args:
        value: an option value (``str``: substring test) or an upstream ``(name, value)`` pair (membership test).
    """
    for color in COLOR_SET:
        if color in value:
            return color
    return value
