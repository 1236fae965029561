"""The ALFWorld text engine: TextWorld's PDDL game with ALFWorld's naming, without the per-step re-parsing.

:class:`AlfredEngine` plays one ``game.tw-pddl`` game (the JSON dict: ``pddl_domain``, ``grammar``,
``pddl_problem``) on TextWorld's PDDL machinery and Fast Downward, exactly as the stock stack does
(``textworld.gym`` + ``PddlEnv`` + alfworld's ``AlfredDemangler``), and produces byte-identical observations and
admissible commands. It is faster because:

* grammar strings are parsed once (:mod:`hiper_envs.alfworld.speedup`), not at every step;
* a game's PDDL-to-SAS translation is done once per game and process, not at every reset; a reset reloads the
  cached SAS into the planner library;
* only the game's own translation is made; the second, optimized one that ``PddlState`` also makes is for
  planning the whole game, which play never needs: :meth:`AlfredEngine.plan` makes it when first asked (this
  halves the cost of compiling a game; the planner expert plans on reduced problems of its own);
* the grammar is parsed once per grammar template, not once per game.

Code: :class:`_CachedPddlState` and :meth:`AlfredEngine.step` follow ``textworld.envs.pddl`` (MIT, Microsoft).
"""

from __future__ import annotations

import functools
import pickle
import sys
import threading
import zlib
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fast_downward
import textworld.logic
from alfworld.agents.utils.misc import Demangler
from textworld.envs.pddl.logic import GameLogic, PddlState
from textworld.generator.game import EntityInfo
from textworld.logic import Proposition, Variable

from hiper_envs.alfworld.speedup import parse_game_logic

__all__ = ["AlfredEngine", "add_compiled", "compile_game", "translate"]

# ~0.5 MB a game (the translated task and its SAS text); a miss costs one translation (~50-150 ms).
_TRANSLATION_CACHE_SIZE = 128

# Planner libraries released by closed engines, for reuse. libdownward keeps the game state in globals, so each
# engine needs its own copy (``fast_downward.load_lib`` loads a fresh copy of the .so); and a copy must never be
# unloaded: dlclose-ing one makes the next dlopen of a copy crash (its C++ unique symbols still point into the
# unloaded one; seen in forked Gymnasium vector workers). So closed engines hand their copy back here.
_LIB_POOL: list[Any] = []
_LIB_POOL_LOCK = threading.Lock()


def _acquire_lib() -> Any:
    with _LIB_POOL_LOCK:
        if _LIB_POOL:
            return _LIB_POOL.pop()
    return fast_downward.load_lib()


def _release_lib(lib: Any) -> None:
    lib.cleanup()  # frees the game state; the library stays loaded
    with _LIB_POOL_LOCK:
        _LIB_POOL.append(lib)


@dataclass(frozen=True, eq=False)  # hashed by identity: it is a cache key
class Translation:
    """A PDDL problem translated by Fast Downward (what ``PddlState.__init__`` computes), cached per game.

    Attributes:
        task: the normalized PDDL task (actions, objects, types, init).
        sas: the full SAS task (the game state lives in it).
        sas_replan: the optimized SAS task the planner searches (``""`` unless made with ``optimized_only``).
        name2type: PDDL object name -> type name.
    """

    task: Any
    sas: str
    sas_replan: str
    name2type: dict[str, str]


# Translations compiled ahead (by hiper_envs.alfworld.pool.GamePool), pickled and compressed (~30 kB a game, 10x
# less than in memory), by (domain, problem). A hit costs ~7 ms (unpickling) instead of a translation (~140 ms).
_COMPILED: dict[tuple[str, str], bytes] = {}


def compile_game(game: Mapping[str, Any]) -> bytes:
    """Translate a game (the ``game.tw-pddl`` dict) ahead of play: the blob :func:`add_compiled` takes."""
    translation = translate.__wrapped__(game["pddl_domain"], game["pddl_problem"])
    return zlib.compress(pickle.dumps(translation, protocol=pickle.HIGHEST_PROTOCOL), 1)


def add_compiled(game: Mapping[str, Any], blob: bytes) -> None:
    """Make :func:`translate` use a translation made by :func:`compile_game` (in this or another process)."""
    _COMPILED[(game["pddl_domain"], game["pddl_problem"])] = blob


@functools.lru_cache(maxsize=_TRANSLATION_CACHE_SIZE)
def translate(domain: str, problem: str, optimized_only: bool = False) -> Translation:
    """Translate a PDDL problem with Fast Downward, once per ``(domain, problem)`` and process.

    A translation compiled ahead (:func:`add_compiled`) is unpickled instead: the same translation, since Fast
    Downward's translator is deterministic.

    Args:
        domain: the PDDL domain text.
        problem: the PDDL problem text.
        optimized_only: make the planner's (optimized) translation instead of the game's: ``sas`` is then ``""``
            and ``sas_replan`` is set (else the reverse).
    """
    blob = None if optimized_only else _COMPILED.get((domain, problem))
    if blob is not None:
        return pickle.loads(zlib.decompress(blob))  # noqa: S301 - made by compile_game, never read from disk
    # fast_downward overwrites sys.argv at each translation (its options module parses it); keep the caller's.
    argv = list(sys.argv)
    try:
        sas = sas_replan = ""
        if optimized_only:
            task, sas_replan = fast_downward.pddl2sas(domain, problem, optimize=True)
        else:
            task, sas = fast_downward.pddl2sas(domain, problem)
    finally:
        sys.argv[:] = argv
    return Translation(task, sas, sas_replan, {o.name: o.type_name for o in task.objects})


class _CachedPddlState(PddlState):
    """``PddlState`` built from a cached :class:`Translation` (same facts, same planner state)."""

    def __init__(self, downward_lib: Any, translation: Translation, logic: GameLogic) -> None:  # noqa: D417
        # NOTE: no super().__init__(): it would translate the problem again; this is its body without that.
        self._facts: defaultdict[Any, set[Proposition]] = defaultdict(set)
        self._vars_by_name: dict[str, Variable] = {}
        self._vars_by_type: defaultdict[str, set[Variable]] = defaultdict(set)
        self._var_counts: Counter[Variable] = Counter()
        self._logic = logic
        self.downward_lib = downward_lib
        self.task, self.sas, self.sas_replan = translation.task, translation.sas, translation.sas_replan
        self._actions = {a.name: a for a in self.task.actions}
        for type_ in self.task.types:
            try:
                self._logic.types.add(textworld.logic.Type(type_.name, type_.supertype_names))
            except ValueError:
                pass
        self.downward_lib.load_sas(self.sas.encode("utf-8"))  # the planner's task is loaded by plan(), if ever
        self.name2type = translation.name2type
        self.add_facts(_initial_facts(translation))
        state_size = self.downward_lib.get_state_size()
        atoms = (fast_downward.Atom * state_size)()
        self.downward_lib.get_state(atoms)
        facts = [_as_fact(atom.name, self.name2type) for atom in atoms]
        self.add_facts(fact for fact in facts if not fact.is_negation)


def _as_fact(atom_name: str, name2type: Mapping[str, str]) -> Proposition:
    # textworld.envs.pddl.logic.Atom.get_fact, on the atom's name.
    atom_type, rest = atom_name.split(" ", 1)
    name, args = rest.split("(", 1)
    arguments = [Variable(_var_name(arg), name2type[arg]) for arg in args[:-1].split(", ") if arg]
    if atom_type == "NegatedAtom":
        name = "not_" + name
    return Proposition(name, arguments)


def _var_name(value: str) -> str:
    return value.upper() if value.lower() in ("i", "p") else value


@functools.lru_cache(maxsize=_TRANSLATION_CACHE_SIZE)
def _initial_facts(translation: Translation) -> tuple[Proposition, ...]:
    # The facts PddlState reads from the task's init (distances and total-cost are not facts).
    facts = []
    for atom in translation.task.init:
        if isinstance(atom, fast_downward.translate.pddl.conditions.Atom):
            if atom.predicate != "=":
                args = [Variable(arg, translation.name2type[arg]) for arg in atom.args]
                facts.append(Proposition(atom.predicate, args))
        elif isinstance(atom, fast_downward.translate.pddl.f_expression.Assign):
            name = f"{atom.expression.value}"
            if atom.fluent.symbol != "total-cost" and not str.isdigit(name):
                facts.append(Proposition(name, [Variable(arg, translation.name2type[arg]) for arg in atom.fluent.args]))
    return tuple(facts)


class AlfredEngine:
    """One ALFWorld text game on TextWorld's PDDL engine, with ALFWorld's object names ("apple 1").

    The observations and the admissible commands are byte-identical to those of ``textworld.gym`` with
    alfworld's ``AlfredDemangler`` and ``AlfredInfos`` wrappers (what ``AlfredTWEnv`` plays).

    Example:
        >>> engine = AlfredEngine()
        >>> engine.load(game)                  # doctest: +SKIP
        >>> obs = engine.reset()               # doctest: +SKIP
        >>> obs = engine.step(engine.admissible_commands[0])  # doctest: +SKIP
        >>> engine.close()
    """

    def __init__(self) -> None:
        self._lib: Any = None
        self._game: Mapping[str, Any] | None = None
        self._state: _CachedPddlState | None = None
        self._actions_by_command: dict[str, Any] = {}
        self.admissible_commands: list[str] = []
        self.won = False
        self.moves = 0

    # ------------------------------------------------------------------ loading
    def load(self, game: Mapping[str, Any]) -> None:
        """Load a game (the ``game.tw-pddl`` dict); call :meth:`reset` next."""
        if self._lib is None:
            self._lib = _acquire_lib()
        self._game = game
        self._translation = translate(game["pddl_domain"], game["pddl_problem"])
        actions, grammar = parse_game_logic(game["grammar"])
        logic = GameLogic.__new__(GameLogic)  # GameLogic.__init__ would parse the grammar again.
        logic.domain, logic.grammar, logic.actions = game["pddl_domain"], grammar, actions
        logic.types = textworld.logic.TypeHierarchy()
        self._logic = logic
        self._state = _CachedPddlState(self._lib, self._translation, logic)
        self._entity_infos = self._make_entity_infos(self._state)
        self._names = {key: info.name for key, info in self._entity_infos.items()}

    @staticmethod
    def _make_entity_infos(state: PddlState) -> dict[str, EntityInfo]:
        # PddlEnv._get_entity_infos, then AlfredDemangler (shuffle=False): "Apple_bar__plus_01..." -> "apple 1".
        infos = {v.name: EntityInfo(v.name, v.type) for fact in state.facts for v in fact.arguments}
        for info in infos.values():
            info.name, info.definite, info.indefinite = info.id, "the", "a"
        demangler = Demangler(game_infos=infos, shuffle=False)
        for info in infos.values():
            info.name = demangler.demangle_alfred_name(info.id)
        return infos

    # ------------------------------------------------------------------ playing
    def reset(self) -> str:
        """Restart the loaded game; return the intro observation."""
        if self._game is None:
            raise RuntimeError("AlfredEngine.reset() called before load().")
        if self.moves or self._state is None:  # load() already built a fresh state
            self._state = _CachedPddlState(self._lib, self._translation, self._logic)
        self.moves = 0
        feedback = self._logic.grammar.derive("#intro#", self._context({}, {}))
        self._gather()
        return feedback

    def step(self, command: str) -> str:
        """Execute a command; one that is not admissible changes nothing and returns ``"Nothing happens."``."""
        assert self._state is not None, "call load() and reset() first"
        if not isinstance(command, str):
            return "Nothing happens."
        action = self._actions_by_command.get(command.strip())
        if action is None:
            return "Nothing happens."
        self._state.apply(action)
        variables = {ph.name: self._entity_infos[var.name] for ph, var in action.mapping.items()}
        feedback = self._logic.grammar.derive(action.feedback_rule, self._context(variables, action.mapping))
        self.moves += 1
        self._gather()
        return feedback

    def _context(self, variables: dict[str, Any], mapping: Mapping[Any, Any]) -> dict[str, Any]:
        assert self._state is not None
        return {
            "state": self._state,
            "facts": list(self._state.facts),
            "variables": variables,
            "mapping": mapping,
            "entity_infos": self._entity_infos,
        }

    def _gather(self) -> None:
        # PddlEnv._gather_infos: the won flag and the admissible commands, in the same order.
        assert self._state is not None
        self.won = bool(self._state.check_goal())
        facts = list(self._state.facts)
        by_command: dict[str, Any] = {}
        for action in self._state.all_applicable_actions():
            context = {
                "state": self._state,
                "facts": facts,
                "variables": {ph.name: self._entity_infos[var.name] for ph, var in action.mapping.items()},
                "mapping": action.mapping,
                "entity_infos": self._entity_infos,
            }
            action.command_template = self._logic.grammar.derive(action.command_template, context)
            # The first action wins a duplicate command, as PddlEnv's list.index() does.
            by_command.setdefault(action.format_command(self._names), action)
        self._actions_by_command = by_command
        self.admissible_commands = sorted(by_command)

    # ------------------------------------------------------------------ state and planning
    @property
    def facts(self) -> list[Proposition]:
        """The current facts, with PDDL ids as variable names (see :attr:`names` for display names)."""
        assert self._state is not None
        return list(self._state.facts)

    @property
    def names(self) -> dict[str, str]:
        """PDDL id -> display name (``"Apple_bar__plus_01_dot_10..."`` -> ``"apple 1"``)."""
        return self._names

    @property
    def name2type(self) -> dict[str, str]:
        """PDDL name -> PDDL type (``object``, ``receptacle``, ``location``, ``agent``, ``otype``, ``rtype``)."""
        return self._translation.name2type

    @property
    def domain(self) -> str:
        """The loaded game's PDDL domain text."""
        assert self._game is not None
        return self._game["pddl_domain"]

    def solve(self, sas: str) -> list[str] | None:
        """Solve a SAS task from its own initial state (the game state is left alone); ``None`` if unsolvable.

        The plan is returned as commands of this game ("go to fridge 1", ...): the task must use this game's ids.
        """
        assert self._state is not None
        if not self._lib.solve_sas(sas.encode("utf-8"), False):
            return None
        operators = (fast_downward.Operator * self._lib.get_last_plan_length())()
        self._lib.get_last_plan(operators)
        return self._state.plan_to_templated_actions([op.name for op in operators], self._entity_infos)

    def plan(self, sas_replan: str | None = None) -> list[str] | None:
        """An optimal plan (commands) from the current state, by Fast Downward on the full game; ``None`` if none.

        This is what alfworld's planner expert does; on big rooms the blind search can take minutes (see
        :mod:`hiper_envs.alfworld.relevance` for the reduced problems the expert plans on).

        Args:
            sas_replan: an optimized SAS task (see :func:`translate`) whose goal to plan for, e.g. one stage of a
                composite game; ``None`` plans for the game's own goal (translated on first use, then cached).
        """
        assert self._state is not None and self._game is not None
        if sas_replan is None:
            sas_replan = translate(self.domain, self._game["pddl_problem"], optimized_only=True).sas_replan
        self._lib.load_sas_replan(sas_replan.encode("utf-8"))
        if not self._lib.replan(False):
            return None
        operators = (fast_downward.Operator * self._lib.get_last_plan_length())()
        self._lib.get_last_plan(operators)
        return self._state.plan_to_templated_actions([op.name for op in operators], self._entity_infos)

    def close(self) -> None:
        """Release the planner library (for reuse by the next engine); :meth:`load` may be called again."""
        if self._lib is not None:
            lib, self._lib = self._lib, None
            _release_lib(lib)
        self._state = None
        self._game = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: the library may already be gone.
            pass
