"""The subgoals ALFWorld offers: task-level steps, each verifiable from engine facts and most several steps long.

An option should be one step of the *task* (find the mug, heat it, put it away), not the next primitive command:
a planner that picks ``go to shelf 2`` and an executor that copies it form a flat policy with an extra head. So
``info["subgoal_candidates"]`` lists, for the current subtask (:func:`subgoal_candidates`):

==========================================  ===============================================================
candidate                                   offered when
==========================================  ===============================================================
the task sentence, the subtask sentence     the task is not done (the subtask: composite games only)
``heat mug 1 with microwave``               the held object can be heated and is not hot (likewise
                                            ``clean ... with sinkbasin``, ``cool ... with fridge``)
``put mug 1 in/on cabinet``                 the subtask's destination kind can hold the held object; for
                                            ``pick_two`` also ``put mug 1 in/on cabinet 3`` when cabinet 3
                                            already holds one of that kind (the second goes with the first)
``use desklamp``                            no lamp of the subtask's kind (or of one in sight) is on where
                                            the agent stands (to switch one on, or to come back to it)
``find mug``                                the subtask's object: none is in sight or held
``take mug``                                the subtask's object: none is held; hands free: any object in sight
==========================================  ===============================================================

Only ``use`` and ``take`` of something in sight can be one step; the others need walking, opening and searching.
Navigation primitives (``go to``, ``open``, ``close``) are not offered; an agent that writes them still has them
read and verified (:func:`~hiper_envs.alfworld.subgoals.parse_subgoal`).

:func:`canonical_subgoal` maps an admissible command to the task-level subgoal it completes (the planner
expert's segment labels): ``take mug 1 from shelf 1`` -> ``take mug``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hiper_envs.alfworld.spec import Subtask
from hiper_envs.alfworld.subgoals import World, base_name, kind_of

__all__ = ["OFFERS", "canonical_subgoal", "primitive_candidates", "subgoal_candidates"]

# (verb, the object's trait, the fact once done, the appliance's kind)
_TREATMENTS = (
    ("clean", "cleanable", "isClean", "sinkbasin"),
    ("heat", "heatable", "isHot", "microwave"),
    ("cool", "coolable", "isCool", "fridge"),
)


def canonical_subgoal(command: str) -> str | None:
    """The canonical subgoal an admissible command completes (``None`` for look, inventory, examine, help).

    ``take mug 1 from shelf 1`` -> ``take mug`` (any mug); ``move mug 1 to cabinet 3`` -> ``put mug 1 in/on
    cabinet``; ``heat mug 1 with microwave 1`` -> ``heat mug 1 with microwave``; ``use desklamp 1`` ->
    ``use desklamp``; ``go to``/``open``/``close`` keep their text (navigation: verifiable, not offered).
    """
    words = command.split()
    if not words:
        return None
    verb = words[0]
    if verb == "take" and " from " in command:
        return f"take {base_name(command[len('take ') : command.index(' from ')])}"
    if verb == "move" and " to " in command:
        obj, _, recep = command[len("move ") :].partition(" to ")
        return f"put {obj} in/on {base_name(recep)}"
    if verb in ("clean", "heat", "cool") and " with " in command:
        obj, _, appliance = command.partition(" with ")
        return f"{obj} with {base_name(appliance)}"
    if verb == "use" and len(words) > 1:
        return f"use {base_name(command[len('use ') :])}"
    if verb in ("go", "open", "close"):
        return command
    return None


def subgoal_candidates(
    world: World, pending_goals: Sequence[str], subtask: Subtask | None = None, *, limit: int = 30
) -> list[str]:
    """The task-level subgoals worth pursuing from here (see the module docstring), in order, at most ``limit``.

    Args:
        world: the current engine state.
        pending_goals: the (sub)task sentences not yet achieved, offered first.
        subtask: the subtask in progress (its ``pddl_params`` name the object, destination and lamp kinds);
            ``None`` offers only what the held object and the objects in sight allow.
        limit: the most candidates returned.
    """
    params = subtask.pddl_params if subtask is not None else {}
    target, parent, lamp = (kind_of(params.get(k) or "") for k in ("object_target", "parent_target", "toggle_target"))
    held = sorted(world.held, key=world.name)
    in_sight = world.visible_here()
    out: list[str] = list(pending_goals)
    appliances = set(world.receptacle_type.values())  # kinds: a bathtub basin is a sink basin
    for o in held:
        for verb, trait, done, appliance in _TREATMENTS:
            if world.has(trait, o) and not world.has(done, o) and appliance in appliances:
                out += [f"{verb} {world.name(o)} with {a}" for a in world.kind_names(appliance, receptacle=True)]
        otype = world.object_type.get(o, "")
        if parent and (parent, otype) in world.can_contain and world.of_kind(parent, receptacle=True):
            out += [f"put {world.name(o)} in/on {r}" for r in world.kind_names(parent, receptacle=True)]
            if subtask is not None and subtask.task_type == "pick_two_obj_and_place":  # the second one joins the first
                out += [f"put {world.name(o)} in/on {world.name(r)}" for r in world.of_kind(parent, receptacle=True)
                        if any(world.object_type.get(p) == otype for p, q in world.in_receptacle.items() if q == r)]  # fmt: skip
    lamp_kinds = [lamp] if lamp else []
    lamp_kinds += [world.object_type.get(o, "") for o in in_sight if world.has("toggleable", o)]
    for kind in dict.fromkeys(lamp_kinds):
        lamps = world.of_kind(kind)
        if lamps and not any(world.lit_here(o) for o in lamps):
            out += [f"use {name}" for name in world.kind_names(kind)]
    if target and world.of_kind(target) and not any(world.object_type.get(o) == target for o in held):
        if not any(world.object_type.get(o) == target for o in in_sight):
            out += [f"find {name}" for name in world.kind_names(target)]
        out += [f"take {name}" for name in world.kind_names(target)]
    if not held:
        out += [f"take {base_name(world.name(o))}" for o in in_sight if world.has("pickupable", o)]
    return list(dict.fromkeys(out))[:limit]  # first occurrence of each, in order


def primitive_candidates(
    world: World, pending_goals: Sequence[str], subtask: Subtask | None = None, *, limit: int = 30
) -> list[str]:
    """The offer before issue 21: mostly the next primitive command (``go to`` every other receptacle, ``open``).

    ``subgoal_vocabulary="primitive"`` in `OFFERS`, kept to measure what the task-level offer changes.
    Order: the pending (sub)task sentences; what can be done here (take, use, open, close); what the held object
    can go through (clean/heat/cool with the room's appliances; put in/on the receptacles here and those of the
    subtask's destination kind); then going to every other receptacle. A planner choosing among these picks the
    next command, so its options last about one step (measured: docs/training.md).
    """
    destination = kind_of((subtask.pddl_params.get("parent_target") or "") if subtask is not None else "")
    out: list[str] = list(pending_goals)
    here = world.here()
    for r in here:
        for o in world.visible_in(r):
            if not world.held and world.has("pickupable", o):
                out.append(f"take {world.name(o)}")
            if world.has("toggleable", o):
                out.append(f"use {world.name(o)}")
        if world.has("openable", r):
            out.append(f"{'close' if world.has('opened', r) else 'open'} {world.name(r)}")
    receptacles = sorted(world.receptacle_type, key=world.name)
    for o in sorted(world.held, key=world.name):
        for verb, trait, done, appliance in _TREATMENTS:
            if world.has(trait, o) and not world.has(done, o):
                appliances = world.of_kind(appliance, receptacle=True)
                out += [f"{verb} {world.name(o)} with {world.name(r)}" for r in appliances]
        otype = world.object_type.get(o, "")
        out += [f"put {world.name(o)} in/on {world.name(r)}" for r in receptacles
                if (world.receptacle_type[r], otype) in world.can_contain
                and (r in here or world.receptacle_type[r] == destination)]  # fmt: skip
    out += [f"go to {world.name(r)}" for r in receptacles if r not in here]
    return list(dict.fromkeys(out))[:limit]


#: ``subgoal_vocabulary`` -> the function that makes its offer.
OFFERS: dict[str, Callable[..., list[str]]] = {"task": subgoal_candidates, "primitive": primitive_candidates}
