"""PDDL problems in ALFWorld's ``initial_state.pddl`` format, and goals from alfworld's goal library."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hiper_envs.alfworld.rooms import Receptacle, Scene, mangle, object_traits

__all__ = ["PlacedObject", "Room", "entity_ids", "goal_conjuncts", "goal_sentence", "pddl_problem"]

#: Types the domain's actions mention by name (clean in a SinkBasin, heat in a Microwave, ...); they are declared
#: in every problem, as in the official games, so the planner sees them even when the room lacks them.
_DOMAIN_RTYPES = ("SinkBasin", "Microwave", "Fridge")
_DOMAIN_OTYPES = ("Knife", "ButterKnife")


@dataclass(frozen=True)
class PlacedObject:
    """An object instance and the receptacle it starts in.

    Attributes:
        oid: the ALFRED id, e.g. ``"Apple|-01.75|+00.97|-00.55"``.
        otype: the object type, e.g. ``"Apple"``.
        receptacle: where it starts.
    """

    oid: str
    otype: str
    receptacle: Receptacle


@dataclass(frozen=True)
class Room:
    """A furnished floor plan: the receptacles kept, the objects placed and where the agent starts.

    Attributes:
        scene: the floor plan.
        receptacles: the receptacles in the game, sorted by id.
        objects: the object instances (pickupable objects and lamps), sorted by id.
        start: the agent's start location (a location with no receptacle, as in ALFWorld).
    """

    scene: Scene
    receptacles: tuple[Receptacle, ...]
    objects: tuple[PlacedObject, ...]
    start: str


def goal_conjuncts(task_type: str, pddl_params: dict[str, Any]) -> str:
    """The conjuncts of the official goal of one task, from ``alfworld.gen.goal_library``.

    Args:
        task_type: one of the six ALFWorld task types.
        pddl_params: ``object_target``, ``parent_target``, ``toggle_target``, ``mrecep_target`` (type names).

    Returns:
        The PDDL formulas inside the goal's top-level ``(and ...)``, ready to be joined with other subtasks'.
    """
    import alfworld.gen.goal_library as glib

    text = glib.gdict[task_type]["pddl"].replace("#", "-")
    text = text.format(
        obj=pddl_params["object_target"],
        recep=pddl_params["parent_target"],
        toggle=pddl_params["toggle_target"],
        mrecep=pddl_params["mrecep_target"],
    )
    start = text.index("(and", text.index("(:goal"))
    depth = 0
    for end in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        if depth == 0:
            break
    return text[start + len("(and") : end].strip()


def goal_sentence(task_type: str, pddl_params: dict[str, Any], template_index: int) -> str:
    """The official goal sentence (``goal_library`` template, lower-case type names), e.g. ``put a apple in fridge``."""
    import alfworld.gen.goal_library as glib

    templates = glib.gdict[task_type]["templates"]
    return templates[template_index % len(templates)].format(
        obj=pddl_params["object_target"].lower(),
        recep=pddl_params["parent_target"].lower(),
        toggle=pddl_params["toggle_target"].lower(),
        mrecep=pddl_params["mrecep_target"].lower(),
    )


def pddl_problem(room: Room, goals: list[str], name: str, opened: frozenset[str] = frozenset()) -> str:
    """Write the problem in the layout of ALFWorld's ``initial_state.pddl`` files.

    Args:
        room: the furnished room.
        goals: goal conjuncts (from :func:`goal_conjuncts`), all of which must hold at the end.
        name: the problem name.
        opened: ids of receptacles that start open (used when planning a later stage of a composite game).
    """
    traits = object_traits()
    otypes = sorted({o.otype for o in room.objects} | set(_DOMAIN_OTYPES))
    rtypes = sorted({r.rtype for r in room.receptacles} | set(_DOMAIN_RTYPES))
    rids = {r.rid: mangle(r.rid) for r in room.receptacles}
    locations = sorted({r.location for r in room.receptacles} | {room.start})

    objects = ["agent1 - agent"]
    objects += [f"{t}Type - otype" for t in otypes]
    objects += [f"{t}Type - rtype" for t in rtypes]
    objects += [f"{mangle(o.oid)} - object" for o in room.objects]
    objects += [f"{rids[r.rid]} - receptacle" for r in room.receptacles]
    objects += [f"{mangle(loc)} - location" for loc in locations]

    init = [f"(receptacleType {rids[r.rid]} {r.rtype}Type)" for r in room.receptacles]
    init += [f"(objectType {mangle(o.oid)} {o.otype}Type)" for o in room.objects]
    flags = (
        ("isReceptacleObject", traits.receptacle_objects),
        ("pickupable", traits.pickupable),
        ("cleanable", traits.cleanable),
        ("heatable", traits.heatable),
        ("coolable", traits.coolable),
        ("sliceable", traits.sliceable),
        ("toggleable", traits.toggleable),
    )
    for predicate, types in flags:
        init += [f"({predicate} {mangle(o.oid)})" for o in room.objects if o.otype in types]
    init += [f"(openable {rids[r.rid]})" for r in room.receptacles if _openable(r.rtype)]
    init += [f"(opened {rids[r.rid]})" for r in room.receptacles if r.rid in opened]
    init.append(f"(atLocation agent1 {mangle(room.start)})")
    init += [f"(inReceptacle {mangle(o.oid)} {rids[o.receptacle.rid]})" for o in room.objects]
    init += [f"(receptacleAtLocation {rids[r.rid]} {mangle(r.location)})" for r in room.receptacles]
    init += [f"(objectAtLocation {mangle(o.oid)} {mangle(o.receptacle.location)})" for o in room.objects]
    present = {o.otype for o in room.objects}
    for rtype in sorted({r.rtype for r in room.receptacles}):
        init += [f"(canContain {rtype}Type {t}Type)" for t in sorted(traits.can_contain[rtype] & present)]

    indent = "\n        "
    return (
        f"\n(define (problem {name})\n    (:domain alfred)\n    (:objects{indent}"
        + indent.join(objects)
        + f"\n    )\n    (:init{indent}"
        + indent.join(init)
        + "\n    )\n    (:goal\n        (and\n            "
        + "\n            ".join(_dedent(g) for g in goals)
        + "\n        )\n    )\n)\n"
    )


def entity_ids(room: Room) -> list[str]:
    """The PDDL ids of the room's objects, receptacles and locations, lower-case as the planner sees them.

    These are the entities whose display names ("cabinet 3") the stock ``Demangler`` numbers.
    """
    names = [o.oid for o in room.objects] + [r.rid for r in room.receptacles]
    names += sorted({r.location for r in room.receptacles} | {room.start})
    return [mangle(n).lower() for n in names]


def _openable(rtype: str) -> bool:
    import alfworld.gen.constants as c

    return rtype in c.OPENABLE_CLASS_SET


def _dedent(formula: str) -> str:
    return re.sub(r"\n\s+", "\n            ", formula)
