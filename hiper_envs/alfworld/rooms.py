"""The room catalogue: the 120 AI2-THOR floor plans shipped with alfworld, their receptacles and object types.

Every generated game takes place in one real floor plan. Its receptacles are the scene's real ALFRED receptacles
(ids such as ``Cabinet|+00.68|+00.50|-02.20`` and navigation poses from ``gen/layouts/FloorPlan*-openable.json``),
completed with the receptacle types the scene lists in ``FloorPlan*-objects.json`` but the pose file lacks
(stove burners, toaster, coffee machine, ...). Its objects are drawn from the object types the scene lists. What an
object can go into, and whether it can be cleaned, heated, cooled or toggled, comes from ``alfworld.gen.constants``.

This module also fixes the **held-out partitions** that make ``valid_unseen`` unseen (see :data:`HELD_OUT_SCENES`
and :data:`HELD_OUT_OBJECT_TYPES`).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass

import numpy as np

__all__ = [
    "HELD_OUT_OBJECT_TYPES",
    "HELD_OUT_SCENES",
    "MIN_ROOM_RECEPTACLES",
    "ROOM_TYPES",
    "Receptacle",
    "Scene",
    "all_scenes",
    "mangle",
    "object_traits",
    "scenes_for_split",
]

#: Floor-plan number ranges of the four AI2-THOR room types.
ROOM_TYPES: dict[str, range] = {
    "Kitchen": range(1, 31),
    "LivingRoom": range(201, 231),
    "Bedroom": range(301, 331),
    "Bathroom": range(401, 431),
}

#: Floor plans used only by ``valid_unseen`` (3 of the 30 of each room type, 12 of 120). They include ALFRED's
#: own valid-unseen scenes (10, 219, 308, 424); each one supports the task types of its room type.
HELD_OUT_SCENES: frozenset[int] = frozenset({10, 15, 25, 201, 219, 225, 303, 308, 318, 402, 424, 427})

#: Object types that never appear in ``train``/``valid_seen`` games (neither as targets nor as distractors) and
#: that ``valid_unseen`` games use as targets. Chosen so that every task type keeps several training targets and
#: has at least one held-out target: Tomato/Cup (heat, cool, clean; kitchens), Ladle (clean), SoapBar and
#: SprayBottle (bathrooms), CD/Pencil/Watch (look at in light; bedrooms, living rooms).
HELD_OUT_OBJECT_TYPES: frozenset[str] = frozenset(
    {"Tomato", "Cup", "Ladle", "SoapBar", "SprayBottle", "CD", "Pencil", "Watch"}
)

#: Fewest receptacles in a room; the few smaller floor plans get extra drawers/shelves (see ``_STORAGE``).
MIN_ROOM_RECEPTACLES = 8
_STORAGE = ("Drawer", "Shelf", "Cabinet", "SideTable")
#: How many copies of a receptacle type to add when a scene lists the type but its pose file has none.
_EXTRA_RECEPTACLE_COUNTS = {"StoveBurner": 4, "Cabinet": 4, "Drawer": 3, "Shelf": 2}
#: Receptacle types that the PDDL domain names after their basin (``Sink|...|SinkBasin`` -> ``sinkbasin 1``).
_BASINS = {"Sink": "SinkBasin", "Bathtub": "BathtubBasin"}
_LAMPS = ("DeskLamp", "FloorLamp")
#: Receptacles a lamp can stand on (the domain's ToggleObject needs the lamp inside a receptacle).
_LAMP_SURFACES = ("SideTable", "Desk", "Dresser", "Shelf", "CoffeeTable", "DiningTable", "TVStand")


@dataclass(frozen=True)
class Receptacle:
    """One receptacle of a scene.

    Attributes:
        rid: the ALFRED id, e.g. ``"Cabinet|+00.68|+00.50|-02.20"`` or ``"Sink|-01.90|+00.97|-01.50|SinkBasin"``.
        rtype: the receptacle type used by the domain, e.g. ``"Cabinet"``, ``"SinkBasin"``.
        location: the PDDL location the agent stands at to use it, e.g. ``"loc|0|-5|2|30"`` (unmangled).
    """

    rid: str
    rtype: str
    location: str

    @property
    def xyz(self) -> tuple[float, float, float]:
        """The receptacle's coordinates, parsed from its id."""
        parts = self.rid.split("|")
        return float(parts[1]), float(parts[2]), float(parts[3])


@dataclass(frozen=True)
class Scene:
    """One floor plan.

    Attributes:
        num: the floor-plan number (``FloorPlan<num>``).
        room_type: ``Kitchen``, ``LivingRoom``, ``Bedroom`` or ``Bathroom``.
        receptacles: every receptacle, sorted by id.
        object_types: the pickupable object types the scene lists.
        lamps: the lamp types (``DeskLamp``/``FloorLamp``) the scene lists, if a lamp surface exists.
    """

    num: int
    room_type: str
    receptacles: tuple[Receptacle, ...]
    object_types: frozenset[str]
    lamps: tuple[str, ...]

    @property
    def name(self) -> str:
        """``FloorPlan<num>``."""
        return f"FloorPlan{self.num}"

    @functools.cached_property
    def rtypes(self) -> frozenset[str]:
        """The receptacle types present."""
        return frozenset(r.rtype for r in self.receptacles)

    def lamp_surfaces(self) -> tuple[Receptacle, ...]:
        """The receptacles a lamp can stand on."""
        return tuple(r for r in self.receptacles if r.rtype in _LAMP_SURFACES)


@dataclass(frozen=True)
class ObjectTraits:
    """What the ALFRED constants say about every object type (computed once)."""

    pickupable: frozenset[str]
    cleanable: frozenset[str]
    heatable: frozenset[str]
    coolable: frozenset[str]
    sliceable: frozenset[str]
    toggleable: frozenset[str]
    receptacle_objects: frozenset[str]
    can_contain: dict[str, frozenset[str]]  # receptacle type -> object types it can hold


def mangle(name: str) -> str:
    """Turn an ALFRED id into the PDDL identifier ALFWorld uses (``Apple|+01.00`` -> ``Apple_bar__plus_01_dot_00``).

    :class:`alfworld.agents.utils.misc.Demangler` inverts this to name entities ("apple 1").
    """
    return name.replace("|", "_bar_").replace("+", "_plus_").replace("-", "_minus_").replace(".", "_dot_")


def _layouts_dir() -> str:
    import alfworld.gen

    return os.path.join(alfworld.gen.__path__[0], "layouts")


@functools.cache
def object_traits() -> ObjectTraits:
    """The object traits from ``alfworld.gen.constants`` (sliced variants and movable receptacles excluded)."""
    import alfworld.gen.constants as c

    can_contain = {
        rtype: frozenset(o for o in objs if "Sliced" not in o)
        for rtype, objs in c.VAL_RECEPTACLE_OBJECTS.items()
        if rtype not in c.MOVABLE_RECEPTACLES_SET
    }
    pickupable = frozenset().union(*can_contain.values())
    actions = c.VAL_ACTION_OBJECTS
    return ObjectTraits(
        pickupable=pickupable,
        cleanable=frozenset(actions["Cleanable"]) & pickupable,
        heatable=frozenset(actions["Heatable"]) & pickupable,
        coolable=frozenset(actions["Coolable"]) & pickupable,
        sliceable=frozenset(actions["Sliceable"]) & pickupable,
        toggleable=frozenset(actions["Toggleable"]),
        receptacle_objects=frozenset(c.MOVABLE_RECEPTACLES_SET),
        can_contain=can_contain,
    )


def _room_type(num: int) -> str:
    for room_type, nums in ROOM_TYPES.items():
        if num in nums:
            return room_type
    raise ValueError(f"floor plan {num} is not in any room type range {ROOM_TYPES}")


def _location(x: float, z: float, rotation: float, horizon: float) -> str:
    """ALFWorld's location naming: grid cell (0.25 m), rotation in quarter turns, camera horizon."""
    return f"loc|{round(x / 0.25)}|{round(z / 0.25)}|{round(rotation / 90) % 4}|{round(horizon)}"


def _fmt(value: float) -> str:
    return f"{value:+06.2f}"


def _load_scene(num: int) -> Scene:
    layouts = _layouts_dir()
    with open(os.path.join(layouts, f"FloorPlan{num}-objects.json")) as f:
        listed = set(json.load(f))
    with open(os.path.join(layouts, f"FloorPlan{num}-openable.json")) as f:
        poses = json.load(f)
    traits = object_traits()
    used_locations: set[str] = set()

    def unique_location(x: float, z: float, rotation: float, horizon: float) -> str:
        # Two receptacles can share a pose in THOR; give each its own spot so "go to X" is unambiguous.
        loc = _location(x, z, rotation, horizon)
        while loc in used_locations:
            horizon += 15
            loc = _location(x, z, rotation, horizon)
        used_locations.add(loc)
        return loc

    receptacles = []
    for rid, (x, z, rotation, horizon) in sorted(poses.items()):
        kind = rid.split("|")[0]
        rtype = rid.split("|")[-1] if kind in _BASINS else kind
        if rtype not in traits.can_contain:
            continue
        receptacles.append(Receptacle(rid, rtype, unique_location(x, z, rotation, horizon)))

    # Receptacle types the scene lists but the pose file lacks: add them with reproducible synthetic poses
    # inside the scene's bounding box.
    present = {r.rtype for r in receptacles}
    xs = [r.xyz[0] for r in receptacles] or [0.0]
    zs = [r.xyz[2] for r in receptacles] or [0.0]
    rng = np.random.default_rng([num, 7919])
    missing = sorted(listed & set(traits.can_contain) - present - set(_BASINS.values()))
    extra = [t for t in missing for _ in range(_EXTRA_RECEPTACLE_COUNTS.get(t, 1))]
    # Tiny rooms get a few more pieces of the storage furniture they already have, up to MIN_ROOM_RECEPTACLES.
    storage = [t for t in _STORAGE if t in present | set(missing)] or ["Drawer"]
    while len(receptacles) + len(extra) < MIN_ROOM_RECEPTACLES:
        extra.append(storage[len(extra) % len(storage)])
    for rtype in extra:
        x = float(rng.uniform(min(xs), max(xs)))
        z = float(rng.uniform(min(zs), max(zs)))
        y = float(rng.uniform(0.0, 1.0))
        rid = f"{rtype}|{_fmt(x)}|{_fmt(y)}|{_fmt(z)}"
        rotation = float(rng.integers(4) * 90)
        receptacles.append(Receptacle(rid, rtype, unique_location(x, z - 0.75, rotation, 30)))
    receptacles.sort(key=lambda r: r.rid)

    scene = Scene(
        num=num,
        room_type=_room_type(num),
        receptacles=tuple(receptacles),
        object_types=frozenset(listed & traits.pickupable),
        lamps=(),
    )
    lamps = tuple(t for t in _LAMPS if t in listed) if scene.lamp_surfaces() else ()
    return Scene(scene.num, scene.room_type, scene.receptacles, scene.object_types, lamps)


@functools.cache
def all_scenes() -> tuple[Scene, ...]:
    """Every floor plan shipped with alfworld (120), sorted by number."""
    names = os.listdir(_layouts_dir())
    nums = sorted(int(n[len("FloorPlan") : -len("-objects.json")]) for n in names if n.endswith("-objects.json"))
    return tuple(_load_scene(num) for num in nums)


def scenes_for_split(split: str) -> tuple[Scene, ...]:
    """The floor plans a generated split draws from: :data:`HELD_OUT_SCENES` for ``valid_unseen``, the rest else."""
    held_out = split == "valid_unseen"
    return tuple(s for s in all_scenes() if (s.num in HELD_OUT_SCENES) == held_out)
