"""Seeded procedural generator of ALFWorld games: real floor plans, official goals, planner-checked.

A game is a pure function of ``(split, seed, index, num_subtasks, task_types)``:

1. take the first task type from ``task_types`` in turn (``index % len``), then draw a floor plan of the split
   that supports it (a sink for cleaning, a microwave for heating, a fridge for cooling, a lamp for looking in
   the light), then the other ``K - 1`` task types among those the room supports (:mod:`hiper_envs.alfworld.composite`);
2. pick each subtask's target object type (distinct), its destination receptacle type and lamp, from the ALFRED
   rules (``VAL_RECEPTACLE_OBJECTS``, cleanable/heatable/coolable/toggleable);
3. furnish the room: the scene's real receptacles (duplicates kept, trimmed to at most 20), the targets placed
   where they can go but never already in their destination (often inside closed cabinets, drawers, fridges),
   a lamp on a table, and distractor objects of other types the scene lists;
4. write the PDDL problem with the official goal(s) and solve it with fast-downward; store the plan as the
   walkthrough. An unsolvable or already-solved draft is redrawn from the next sub-seed.

Splits: ``valid_unseen`` uses only the held-out floor plans and targets held-out object types
(:data:`~hiper_envs.alfworld.rooms.HELD_OUT_SCENES`, :data:`~hiper_envs.alfworld.rooms.HELD_OUT_OBJECT_TYPES`),
which ``train`` and ``valid_seen`` never contain. ``train`` and ``valid_seen`` share the distribution but never the
same game: a game belongs to ``valid_seen`` iff the hash of its content falls in a reserved bucket (1 in 8), and
each split redraws drafts that fall in the other's buckets.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from hiper_envs.alfworld.composite import compose_task, sample_task_types, validate_request
from hiper_envs.alfworld.problem import (
    PlacedObject,
    Room,
    entity_ids,
    goal_conjuncts,
    goal_sentence,
    pddl_problem,
)
from hiper_envs.alfworld.rooms import (
    HELD_OUT_OBJECT_TYPES,
    Receptacle,
    Scene,
    mangle,
    object_traits,
    scenes_for_split,
)
from hiper_envs.alfworld.solver import alfred_domain, alfred_grammar, solve
from hiper_envs.alfworld.spec import TASK_TYPES, GameSpec, Subtask

__all__ = ["GENERATED_SPLITS", "MAX_RECEPTACLES", "generate_game", "task_type_mask"]

#: The generated splits, with the code mixed into every game's seed.
GENERATED_SPLITS: dict[str, int] = {"train": 0, "valid_seen": 1, "valid_unseen": 2}
#: Largest number of receptacles in a generated room (big kitchens drop some duplicate cabinets/drawers).
MAX_RECEPTACLES = 20
_MIN_RECEPTACLES = 12  # the cap is drawn in [12, 20], so big rooms vary in size too
_VALID_SEEN_BUCKETS = 8  # 1 in 8 content hashes belongs to valid_seen
_MAX_ATTEMPTS = 200
#: The appliance each task needs; it is never the destination (no "put a hot apple in microwave").
_APPLIANCE = {
    "pick_clean_then_place_in_recep": "SinkBasin",
    "pick_heat_then_place_in_recep": "Microwave",
    "pick_cool_then_place_in_recep": "Fridge",
}
_TRAIT = {
    "pick_clean_then_place_in_recep": "cleanable",
    "pick_heat_then_place_in_recep": "heatable",
    "pick_cool_then_place_in_recep": "coolable",
}
_LOOK = "look_at_obj_in_light"
_TWO = "pick_two_obj_and_place"


def task_type_mask(task_types: Sequence[str]) -> int:
    """The bit mask of ``task_types`` in :data:`TASK_TYPES` order (all six: 63), part of every game's seed."""
    return sum(1 << TASK_TYPES.index(t) for t in set(task_types))


def generate_game(
    split: str,
    index: int,
    *,
    seed: int = 0,
    num_subtasks: int = 1,
    task_types: Sequence[str] | None = None,
) -> GameSpec:
    """Generate game ``index`` of a split (deterministic; the same arguments always give the same game).

    Args:
        split: ``train``, ``valid_seen`` or ``valid_unseen``.
        index: the game's index, any non-negative int.
        seed: the generator seed.
        num_subtasks: ``K`` subtasks done in order in one episode (1..5).
        task_types: the task types to draw from (default: all six).

    Returns:
        A solvable game whose ``game["walkthrough"]`` is an optimal plan.
    """
    if split not in GENERATED_SPLITS:
        raise ValueError(f"split must be one of {tuple(GENERATED_SPLITS)}, got {split!r}")
    if not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"index must be a non-negative int, got {index!r}")
    allowed = tuple(t for t in TASK_TYPES if t in set(task_types or TASK_TYPES))
    validate_request(num_subtasks, list(task_types or TASK_TYPES))
    mask = task_type_mask(allowed)
    game_id = f"gen-{split}-s{seed}-k{num_subtasks}-t{mask}-{int(index):06d}"

    # Task types cycle with the index, so any run of indices is balanced across types (valid splits too).
    first = allowed[int(index) % len(allowed)]
    for attempt in range(_MAX_ATTEMPTS):
        rng = np.random.default_rng([seed, GENERATED_SPLITS[split], num_subtasks, mask, int(index), attempt])
        draft = _draft(rng, split, num_subtasks, first, allowed)
        if draft is None:
            continue
        room, subtasks = draft
        task = compose_task([s.goal for s in subtasks])
        goals = [goal_conjuncts(s.task_type, s.pddl_params) for s in subtasks]
        problem = pddl_problem(room, goals, name="plan")
        digest = hashlib.sha256((problem + task).encode()).hexdigest()
        if split != "valid_unseen" and (int(digest[:8], 16) % _VALID_SEEN_BUCKETS == 0) != (split == "valid_seen"):
            continue  # this content belongs to the other seen split
        problem = problem.replace("(problem plan)", f"(problem plan_{digest[:16]})", 1)
        walkthrough = _staged_plan(room, subtasks, goals)
        if not walkthrough:  # None: unsolvable; []: the goal already holds
            continue
        return _spec(game_id, split, seed, int(index), room, tuple(subtasks), task, problem, walkthrough)
    raise RuntimeError(
        f"no solvable game for split={split!r} index={index} seed={seed} num_subtasks={num_subtasks} "
        f"task_types={list(allowed)} after {_MAX_ATTEMPTS} draws; narrow the request or report a bug"
    )


# ---------------------------------------------------------------------------------------------- drafting a game
def _object_pool(split: str, scene: Scene) -> frozenset[str]:
    """Object types allowed in a game of ``split`` (targets and distractors)."""
    if split == "valid_unseen":
        return scene.object_types
    return scene.object_types - HELD_OUT_OBJECT_TYPES


def _target_options(scene: Scene, task_type: str, candidates: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """For each possible target type, its possible destination receptacle types (``("",)`` for the lamp task)."""
    traits = object_traits()
    appliance = _APPLIANCE.get(task_type)
    if appliance is not None and appliance not in scene.rtypes:
        return {}
    if task_type == _LOOK and not scene.lamps:
        return {}
    if task_type in _TRAIT:
        candidates = candidates & getattr(traits, _TRAIT[task_type])
    options = {}
    for otype in sorted(candidates):
        holders = sorted(r for r in scene.rtypes if otype in traits.can_contain[r])
        if task_type == _LOOK:
            parents = ("",) if holders else ()
        else:
            # a destination other than the appliance, and somewhere else to start from
            parents = tuple(p for p in holders if p != appliance and any(h != p for h in holders))
        if parents:
            options[otype] = parents
    return options


@functools.cache
def _supporting_scenes(split: str, task_type: str) -> tuple[Scene, ...]:
    """Scenes of ``split`` where ``task_type`` has a target (a held-out one for ``valid_unseen``)."""
    scenes = []
    for scene in scenes_for_split(split):
        pool = _object_pool(split, scene)
        if split == "valid_unseen":
            pool = pool & HELD_OUT_OBJECT_TYPES
        if _target_options(scene, task_type, pool):
            scenes.append(scene)
    return tuple(scenes)


def _pick(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def _draft(
    rng: np.random.Generator, split: str, num_subtasks: int, first: str, allowed: tuple[str, ...]
) -> tuple[Room, list[Subtask]] | None:
    scenes = _supporting_scenes(split, first)
    if not scenes:
        raise ValueError(f"no floor plan of split {split!r} supports task type {first!r}")
    scene = _pick(rng, scenes)
    pool = _object_pool(split, scene)
    supported = [t for t in allowed if _target_options(scene, t, pool)]
    types = sample_task_types(rng, first, supported, num_subtasks)
    if types is None:
        return None

    subtasks: list[Subtask] = []
    used: set[str] = set()
    for task_type in types:
        candidates = pool - used
        options = _target_options(scene, task_type, candidates)
        if split == "valid_unseen":  # target held-out types while the room has them
            options = _target_options(scene, task_type, candidates & HELD_OUT_OBJECT_TYPES) or options
        if not options:
            return None
        otype = _pick(rng, sorted(options))
        params = {
            "object_target": otype,
            "parent_target": _pick(rng, options[otype]),
            "toggle_target": _pick(rng, scene.lamps) if task_type == _LOOK else "",
            "mrecep_target": "",
            "object_sliced": False,
        }
        goal = goal_sentence(task_type, params, int(rng.integers(2)))
        subtasks.append(Subtask(task_type=task_type, goal=goal, pddl_params=params))
        used.add(otype)
    if split == "valid_unseen" and not used & HELD_OUT_OBJECT_TYPES:
        return None
    return _furnish(rng, scene, subtasks, pool - used), subtasks


# ------------------------------------------------------------------------------------------ furnishing the room
def _trim(rng: np.random.Generator, receptacles: tuple[Receptacle, ...]) -> tuple[Receptacle, ...]:
    """Drop duplicates of the most repeated types until the room fits the cap; every type keeps one."""
    cap = int(rng.integers(_MIN_RECEPTACLES, MAX_RECEPTACLES + 1))
    kept = list(receptacles)
    while len(kept) > cap:
        counts = Counter(r.rtype for r in kept)
        top = max(counts.values())
        if top == 1:
            break
        kept.pop(_pick(rng, [i for i, r in enumerate(kept) if counts[r.rtype] == top]))
    return tuple(kept)


def _place(rng: np.random.Generator, otype: str, receptacle: Receptacle, taken: set[str]) -> PlacedObject:
    """An instance with an ALFRED-style id: the receptacle's coordinates, jittered (ids stay unique)."""
    x, y, z = receptacle.xyz
    while True:
        dx, dy, dz = rng.uniform(-0.35, 0.35, size=3)
        oid = f"{otype}|{x + dx:+06.2f}|{y + abs(dy) / 2:+06.2f}|{z + dz:+06.2f}"
        if oid not in taken:
            taken.add(oid)
            return PlacedObject(oid, otype, receptacle)


def _start_location(rng: np.random.Generator, receptacles: tuple[Receptacle, ...]) -> str:
    """A standing spot inside the room's grid that no receptacle uses (ALFWorld starts away from receptacles)."""
    cells = [tuple(int(v) for v in r.location.split("|")[1:3]) for r in receptacles]
    used = {r.location for r in receptacles}
    # One cell of margin: at least 9 cells x 4 headings are free-able, more than a room has receptacles.
    (x_lo, z_lo), (x_hi, z_hi) = np.min(cells, axis=0) - 1, np.max(cells, axis=0) + 1
    while True:
        loc = f"loc|{rng.integers(x_lo, x_hi + 1)}|{rng.integers(z_lo, z_hi + 1)}|{rng.integers(4)}|30"
        if loc not in used:
            return loc


def _furnish(rng: np.random.Generator, scene: Scene, subtasks: list[Subtask], distractor_types: frozenset[str]) -> Room:
    traits = object_traits()
    receptacles = _trim(rng, scene.receptacles)
    taken: set[str] = set()
    objects: list[PlacedObject] = []
    for sub in subtasks:
        otype, parent = sub.pddl_params["object_target"], sub.pddl_params["parent_target"]
        starts = [r for r in receptacles if otype in traits.can_contain[r.rtype] and r.rtype != parent]
        count = 2 + int(rng.random() < 0.3) if sub.task_type == _TWO else 1 + int(rng.random() < 0.35)
        objects += [_place(rng, otype, _pick(rng, starts), taken) for _ in range(count)]
    surfaces = [r for r in receptacles if r in scene.lamp_surfaces()]
    objects += [_place(rng, lamp, _pick(rng, surfaces), taken) for lamp in scene.lamps]

    others = sorted(distractor_types)
    rng.shuffle(others)
    for otype in others[: int(rng.integers(6, 12))]:
        holders = [r for r in receptacles if otype in traits.can_contain[r.rtype]]
        if holders:
            objects += [_place(rng, otype, _pick(rng, holders), taken) for _ in range(_pick(rng, (1, 1, 1, 2, 2, 3)))]
    objects.sort(key=lambda o: o.oid)
    return Room(scene, receptacles, tuple(objects), _start_location(rng, receptacles))


def _planning_room(room: Room, subtask: Subtask, start: str) -> Room:
    """The room cut down to one subtask, for planning.

    It keeps the subtask's target objects and lamp, the receptacles holding them, and one receptacle of each
    destination/appliance type it needs (instances of a type are alike to the planner, so plans stay optimal).
    """
    params = subtask.pddl_params
    objects = tuple(o for o in room.objects if o.otype in (params["object_target"], params["toggle_target"]))
    receptacles = {o.receptacle for o in objects}
    for rtype in sorted({params["parent_target"], _APPLIANCE.get(subtask.task_type, "")} - {""}):
        receptacles.add(next(r for r in room.receptacles if r.rtype == rtype))
    return Room(room.scene, tuple(sorted(receptacles, key=lambda r: r.rid)), objects, start)


def _staged_plan(room: Room, subtasks: Sequence[Subtask], goals: Sequence[str]) -> list[str] | None:
    """Solve the subtasks in order, each with fast-downward on the room cut down to that subtask.

    Why staged: an optimal search for the conjunction of ``K`` goals blows up (K=3 takes seconds to minutes),
    while each stage takes milliseconds. The concatenation is a valid plan of the full game: a stage only moves
    its own target objects (distinct types, no receptacle capacity), so it neither needs nor disturbs the other
    subtasks' objects, and every goal still holds at the end. The next stage starts where the agent stands with
    the receptacles opened so far still open. Its walkthrough follows the subtasks' order, as the env requires.

    Returns:
        The walkthrough, ``[]`` when the goals already hold, or ``None`` when a stage has no plan.
    """
    ids = entity_ids(room)
    by_id = {mangle(r.rid).lower(): r.rid for r in room.receptacles}
    by_id |= {mangle(r.location).lower(): r.location for r in room.receptacles} | {
        mangle(room.start).lower(): room.start
    }
    start, opened, commands = room.start, set(), []
    for subtask, goal in zip(subtasks, goals, strict=True):
        problem = pddl_problem(_planning_room(room, subtask, start), [goal], "stage", frozenset(opened))
        plan = solve(problem, ids)
        if plan is None:
            return None
        for operator in plan.operators:
            name, *args = operator.split()
            if name == "gotolocation":  # (agent, from, to, receptacle)
                start = by_id[args[2]]
            elif name in ("openobject", "closeobject"):  # (agent, location, receptacle)
                (opened.add if name == "openobject" else opened.discard)(by_id[args[2]])
        commands += plan.commands
    return commands


# ----------------------------------------------------------------------------------------------- the game spec
def _spec(
    game_id: str,
    split: str,
    seed: int,
    index: int,
    room: Room,
    subtasks: tuple[Subtask, ...],
    task: str,
    problem: str,
    walkthrough: list[str],
) -> GameSpec:
    task_type = subtasks[0].task_type if len(subtasks) == 1 else "composite"
    game = {
        "pddl_domain": alfred_domain(),
        "grammar": alfred_grammar().replace("UNKNOWN GOAL", task),
        "pddl_problem": problem,
        "solvable": True,
        "walkthrough": walkthrough,
    }
    # The stock alfworld tools read task_type/pddl_params (the first subtask's for composite games: the PDDL goal
    # still covers every subtask); the "hiper" block lets official.py rebuild the full spec from disk.
    traj_data = {
        "task_id": f"trial_{game_id}",
        "task_type": subtasks[0].task_type,
        "pddl_params": dict(subtasks[0].pddl_params),
        "scene": {"floor_plan": room.scene.name, "scene_num": room.scene.num, "room_type": room.scene.room_type},
        "turk_annotations": {"anns": [{"assignment_id": "hiper-generator", "task_desc": task, "high_descs": []}]},
        "hiper": {
            "game_id": game_id,
            "split": split,
            "seed": seed,
            "index": index,
            "task": task,
            "task_type": task_type,
            "subtasks": [
                {"task_type": s.task_type, "goal": s.goal, "pddl_params": dict(s.pddl_params)} for s in subtasks
            ],
        },
    }
    return GameSpec(
        game_id=game_id,
        split=split,
        task=task,
        task_type=task_type,
        subtasks=subtasks,
        game=game,
        traj_data=traj_data,
    )
