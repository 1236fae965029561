"""Optimal plans from the current game state, on the part of the room that matters to the goal.

Fast Downward's search in TextWorld's ALFWorld setup is blind (uniform cost): on a big room (20 receptacles, a
dozen of them openable, many objects) it can run for minutes and eat gigabytes, because every open/closed
combination of drawers is a distinct state. Most of the room is irrelevant to a goal, and an exact reduction
keeps plans optimal:

- objects: only those of the goal's object and lamp types, plus whatever the agent holds (other objects never
  block anything: receptacles have no capacity in the domain);
- receptacles: those holding a kept object, those at the agent's location or sharing a location with another
  receptacle, and one representative of every remaining class (type, openable, open). Two receptacles of one
  class are interchangeable for the planner (same moves, same costs, same ``canContain``), so any plan of the full
  problem maps onto the representatives with no more steps, and every plan of the reduced problem is valid in the
  full one.

The reduced problem is written from the engine's current facts (so it starts where the episode is), translated
by Fast Downward (cached by text) and solved by the engine's planner library.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from hiper_envs.alfworld.engine import AlfredEngine, translate

__all__ = ["goal_section", "plan_from_state", "relevant_problem"]

_REDUCED_CACHE_SIZE = 256


def goal_section(problem: str) -> str:
    """The ``(:goal ...)`` s-expression of a PDDL problem."""
    start = problem.index("(:goal")
    depth = 0
    for end in range(start, len(problem)):
        depth += {"(": 1, ")": -1}.get(problem[end], 0)
        if depth == 0:
            return problem[start : end + 1]
    raise ValueError("unbalanced (:goal ...) section")


def relevant_problem(engine: AlfredEngine, goal: str, object_types: Iterable[str] | None) -> str:
    """The current state of ``engine``'s game cut down to what ``goal`` needs, as a PDDL problem.

    Args:
        engine: a loaded and reset engine.
        goal: the ``(:goal ...)`` section to plan for.
        object_types: the object types the goal is about (e.g. ``{"Apple", "DeskLamp"}``, any case); ``None``
            keeps every object.
    """
    facts = [(f.name, tuple(v.name for v in f.arguments)) for f in engine.facts]
    name2type = engine.name2type
    wanted = None if object_types is None else {f"{t.lower()}type" for t in object_types if t}
    location, held, inside, at, kind, flags = None, set(), {}, {}, {}, {}
    for pred, args in facts:
        if pred == "atlocation":
            location = args[1]
        elif pred == "holds":
            held.add(args[1])
        elif pred == "inreceptacle":
            inside[args[0]] = args[1]
        elif pred == "receptacleatlocation":
            at[args[0]] = args[1]
        elif pred in ("objecttype", "receptacletype"):
            kind[args[0]] = args[1]
        elif len(args) == 1:
            flags.setdefault(args[0], set()).add(pred)

    objects = {o for o, t in kind.items() if name2type.get(o) == "object" and (wanted is None or t in wanted)}
    objects |= held
    receptacles = {inside[o] for o in objects if o in inside}
    shared = {loc for loc in at.values() if list(at.values()).count(loc) > 1}
    classes: dict[tuple[str, bool, bool], str] = {}
    for r in sorted(at):
        if at[r] == location or at[r] in shared:
            receptacles.add(r)
        key = (kind.get(r, ""), "openable" in flags.get(r, ()), "opened" in flags.get(r, ()))
        classes.setdefault(key, r)
    receptacles |= set(classes.values())
    keep = objects | receptacles | {at[r] for r in receptacles} | {location}
    keep |= {n for n, t in name2type.items() if t in ("agent", "otype", "rtype")}
    keep.discard(None)

    declared = "\n        ".join(f"{n} - {name2type[n]}" for n in sorted(keep))
    init = "\n        ".join(
        f"({pred} {' '.join(args)})" for pred, args in sorted(facts) if all(a in keep for a in args)
    )
    return f"(define (problem now)\n    (:domain alfred)\n    (:objects\n        {declared}\n    )\n    (:init\n        {init}\n    )\n    {goal}\n)\n"


@functools.lru_cache(maxsize=_REDUCED_CACHE_SIZE)
def _reduced_sas(domain: str, problem: str) -> str:
    return translate.__wrapped__(domain, problem, optimized_only=True).sas_replan


def plan_from_state(engine: AlfredEngine, goal: str, object_types: Sequence[str] | None) -> list[str] | None:
    """An optimal plan (commands) from the engine's current state to ``goal``; ``[]`` if it holds, ``None`` if none."""
    problem = relevant_problem(engine, goal, object_types)
    return engine.solve(_reduced_sas(engine.domain, problem))
