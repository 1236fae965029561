"""Solvability check and walkthrough: the fast-downward planner that textworld's PDDL engine ships, called directly.

``textworld.envs.PddlEnv`` computes the same plan when asked for ``extras=["walkthrough"]``, but only after parsing
the text grammar and translating the problem twice (~0.3 s). Here the problem is translated once and solved by a
private copy of ``libdownward``; the plan is turned into commands with textworld's own
``PddlState.plan_to_templated_actions`` and entity names from alfworld's ``Demangler``, so the walkthrough is
exactly what the stock env would show ("go to countertop 1", "take apple 1 from countertop 1", ...).
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from types import SimpleNamespace

__all__ = ["Plan", "alfred_domain", "alfred_grammar", "solve"]

_LOCK = threading.Lock()  # libdownward keeps its search state in globals


@functools.cache
def alfred_domain() -> str:
    """The packaged ``alfred.pddl`` domain text."""
    from alfworld.info import ALFRED_PDDL_PATH

    with open(ALFRED_PDDL_PATH) as f:
        return f.read()


@functools.cache
def alfred_grammar() -> str:
    """The packaged ``alfred.twl2`` grammar text (its task line reads ``Your task is to: UNKNOWN GOAL.``)."""
    from alfworld.info import ALFRED_TWL2_PATH

    with open(ALFRED_TWL2_PATH) as f:
        return f.read()


@functools.cache
def _downward_lib():  # noqa: ANN202 - a ctypes handle
    import fast_downward

    return fast_downward.load_lib()


@functools.cache
def _game_logic():  # noqa: ANN202 - textworld's GameLogic; parsed once, only its command templates are used
    from textworld.envs.pddl.logic import GameLogic

    return GameLogic(domain=alfred_domain(), grammar=alfred_grammar())


def _translate(problem: str):  # noqa: ANN202
    import fast_downward

    # fast_downward's translator overwrites sys.argv on every call; keep the caller's.
    argv = list(sys.argv)
    try:
        return fast_downward.pddl2sas(alfred_domain(), problem, optimize=True)
    finally:
        sys.argv = argv


@dataclass(frozen=True)
class Plan:
    """A plan found by fast-downward.

    Attributes:
        operators: the grounded operators, e.g. ``"gotolocation agent1 loc_bar_1 loc_bar_2 fridge_bar_..."``
            (lower-case PDDL ids).
        commands: the same steps as ALFWorld commands, e.g. ``"go to fridge 1"``.
    """

    operators: tuple[str, ...]
    commands: tuple[str, ...]


def solve(problem: str, entity_ids: Iterable[str] | None = None) -> Plan | None:
    """Plan a game with fast-downward (optimal plan) and spell the plan as ALFWorld commands.

    Args:
        problem: a PDDL problem for the packaged ``alfred`` domain.
        entity_ids: the (lower-case, mangled) ids of every object, receptacle and location of the game the plan
            will be played in, when ``problem`` is a reduced version of it; entity names ("cabinet 3") are numbered
            over these ids, as the stock env numbers them. Default: the entities of ``problem``.

    Returns:
        The plan (empty when the goal already holds), or ``None`` when the planner proves there is none.
    """
    import fast_downward
    from alfworld.agents.utils.misc import Demangler
    from textworld.envs.pddl.logic import PddlState
    from textworld.generator.game import EntityInfo

    with _LOCK:
        task, sas = _translate(problem)  # the translator keeps its options in module globals too
        lib = _downward_lib()
        if not lib.solve_sas(sas.encode("utf-8"), False):
            return None
        operators = (fast_downward.Operator * lib.get_last_plan_length())()
        lib.get_last_plan(operators)
    plan = [op.name for op in operators]

    ids = {obj.name for obj in task.objects} | set(entity_ids or ())
    infos = {i: EntityInfo(i, "") for i in sorted(ids)}
    demangler = Demangler(game_infos=infos)
    for info in infos.values():
        info.name = demangler.demangle_alfred_name(info.id)
    state = SimpleNamespace(_actions={a.name: a for a in task.actions}, _logic=_game_logic())
    return Plan(tuple(plan), tuple(PddlState.plan_to_templated_actions(state, plan, infos)))
