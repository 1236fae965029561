"""ALFWorld subgoals: the vocabulary, lenient reading of free text, and verification from engine facts.

What each kind of subgoal means (objects named as the game shows them; a name without its number means *any*
object of that kind):

=========================================  ==================================================================
subgoal                                    achieved when (engine facts)
=========================================  ==================================================================
``find mug`` / ``find mug 1``              one is visible at the agent's location (in/on an open or open-less
                                           receptacle there) or held
``take mug`` / ``take mug 1``              the agent holds one
``clean mug 1 with sinkbasin``             ``isClean`` (likewise ``heat`` -> ``isHot``, ``cool`` -> ``isCool``;
                                           the appliance named is not checked)
``put mug 1 in/on cabinet``                the object is in/on a receptacle of that kind (or that receptacle,
                                           ``cabinet 3``)
``use desklamp``                           a lamp of that kind has been switched on (``isToggled``) and the
                                           agent is where it stands (what the look-in-light task needs)
``go to countertop 1``                     the agent is at the receptacle's location
``open fridge 1`` / ``close fridge 1``     the receptacle is open / closed
a task or subtask sentence                 that (sub)task's goal holds
=========================================  ==================================================================

The env *offers* the task-level forms (find, take, clean/heat/cool, put, use, the task sentences; see
:mod:`hiper_envs.alfworld.candidates`); navigation (go to, open, close) is still read and verified when an agent
writes it.

Free text is read leniently (:func:`parse_subgoal`): case, articles and punctuation are ignored; verbs have
synonyms (look for/search for/locate = find, navigate/walk to, pick up/grab, place/move X to/bring, wash/rinse,
warm/microwave, chill/refrigerate, turn on/toggle, ...); names are matched with or without spaces, in the plural,
by substring ("sink", "counter") or by a close spelling (difflib); "find the fridge" means going there;
"put a clean apple in fridge", "heat some egg and put it in countertop" and "put two apples in fridge" are read as
the task-like goals they are. Text that cannot be read or names nothing in the room is ``None`` ("unknown").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hiper_envs.alfworld.spec import Subtask

__all__ = [
    "Subgoal",
    "World",
    "base_name",
    "kind_of",
    "normalize_text",
    "parse_subgoal",
    "subtask_holds",
]

_ARTICLES = {"a", "an", "the", "some", "any", "one", "of"}


def _inverted(groups: dict[str, str], sep: str = " ") -> dict[str, str]:
    """Each word of a group to the group's name: ``{"hot": "heated warm"}`` -> ``{"heated": "hot", "warm": "hot"}``."""
    return {word: name for name, words in groups.items() for word in words.split(sep)}


_MODIFIERS = _inverted(
    {"clean": "clean cleaned washed rinsed", "hot": "hot heated warm warmed", "cool": "cool cooled cold chilled"}
)
_VERBS = _inverted(
    {
        "go": "go to|go|goto|navigate to|navigate|walk to|walk|move to|head to|head|travel to|return to|come to|"
        "run to|proceed to|go over to|go back to|visit|approach",
        "find": "find|look for|search for|search|locate|seek|spot|look around for|search around for",
        "take": "take|pick up|pick|grab|get|collect|fetch|obtain|hold|retrieve|acquire",
        "open": "open",
        "close": "close|shut",
        "clean": "clean|wash|rinse|clean up|wash up",
        "heat": "heat|heat up|warm|warm up|microwave|cook",
        "cool": "cool|cool down|chill|refrigerate|freeze",
        "use": "use|turn on|switch on|toggle|toggle on|light|activate|turn",
        "put": "put|put down|place|move|drop|drop off|set|set down|insert|store|leave|deposit|return|bring|carry",
        "look": "look at|examine|inspect|check|view|study|read",
    },
    sep="|",
)
_VERB_RE = "|".join(sorted((re.escape(w) for w in _VERBS), key=len, reverse=True))
_PUT_PREP = r"in/on|in to|on to|on top of|inside of|into|onto|inside|in|on|to|at"
# "clean some apple and put it in fridge", "find two apples and put them in fridge"
_PUT_RE = re.compile(
    rf"^(?:(?P<mod>clean|wash|rinse|heat|warm|cool|chill|find|take|pick up|get|grab) )?"
    rf"(?P<x>.+?) and (?:put|place|move) (?:it|them) (?:{_PUT_PREP}) (?P<y>.+)$"
)
# "<verb> x", "<verb> x <preposition> y"
_VERB_PHRASE_RE = re.compile(
    rf"^(?P<verb>{_VERB_RE}) (?P<x>.+?)(?: (?P<prep>{_PUT_PREP}|from|off|out of|with|using|"
    rf"under|by|beside|near) (?P<y>.+))?$"
)
_PATTERNS = [("put", _PUT_RE), ("verb", _VERB_PHRASE_RE)]
_COMPOUND_MODIFIER = _inverted({"clean": "clean wash rinse", "hot": "heat warm", "cool": "cool chill"})
# A sequence ("go to fridge then take apple") is not one subgoal: it is read only if it is a task sentence.
_SEQUENCE_RE = re.compile(r"\b(?:then|after that|afterwards|before|finally)\b")


def normalize_text(text: str) -> str:
    """Lower case, ``in/on`` kept, other punctuation dropped, single spaces."""
    text = text.lower().replace("in/on", " in_on ")
    text = re.sub(r"[^a-z0-9_ ]+", " ", text)
    return " ".join(text.split()).replace("in_on", "in/on")


# ---------------------------------------------------------------------------------------------- world snapshot
@dataclass
class World:
    """What the subgoal checks need from one engine state (built from the facts by :meth:`from_facts`).

    Ids are PDDL names; :attr:`names` maps them to display names ("apple 1"), :attr:`base` to kinds ("apple").
    """

    names: dict[str, str]
    location: str | None = None
    held: set[str] = field(default_factory=set)
    in_receptacle: dict[str, str] = field(default_factory=dict)
    object_location: dict[str, str] = field(default_factory=dict)
    receptacle_location: dict[str, str] = field(default_factory=dict)
    object_type: dict[str, str] = field(default_factory=dict)
    receptacle_type: dict[str, str] = field(default_factory=dict)
    flags: dict[str, set[str]] = field(default_factory=dict)
    can_contain: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def from_facts(cls, facts: Iterable[Any], names: dict[str, str]) -> World:
        """Index the engine's facts (``textworld.logic.Proposition``) by predicate."""
        world = cls(names=names)
        for fact in facts:
            args = [v.name for v in fact.arguments]
            pred = fact.name.lower()  # Fast Downward lower-cases predicate names
            if pred == "atlocation":
                world.location = args[1]
            elif pred == "holds":
                world.held.add(args[1])
            elif pred == "inreceptacle":
                world.in_receptacle[args[0]] = args[1]
            elif pred == "objectatlocation":
                world.object_location[args[0]] = args[1]
            elif pred == "receptacleatlocation":
                world.receptacle_location[args[0]] = args[1]
            elif pred == "objecttype":
                world.object_type[args[0]] = kind_of(args[1])
            elif pred == "receptacletype":
                world.receptacle_type[args[0]] = kind_of(args[1])
            elif pred == "cancontain":
                world.can_contain.add((kind_of(args[0]), kind_of(args[1])))
            elif len(args) == 1:
                world.flags.setdefault(pred, set()).add(args[0])
        return world

    def has(self, flag: str, entity: str) -> bool:
        """Whether a one-argument fact (``isClean``, ``opened``, ``openable``, ...) holds for ``entity``."""
        return entity in self.flags.get(flag.lower(), ())

    def name(self, entity: str) -> str:
        """Display name of an id."""
        return self.names.get(entity, entity)

    def here(self) -> list[str]:
        """Receptacles at the agent's location, sorted by display name."""
        return sorted((r for r, loc in self.receptacle_location.items() if loc == self.location), key=self.name)

    def visible_in(self, receptacle: str) -> list[str]:
        """Objects the agent can see in a receptacle (closed receptacles hide theirs), sorted by display name."""
        if self.has("openable", receptacle) and not self.has("opened", receptacle):
            return []
        return sorted((o for o, r in self.in_receptacle.items() if r == receptacle), key=self.name)

    def lit_here(self, lamp: str) -> bool:
        """Whether ``lamp`` has been switched on and stands (in/on a receptacle) at the agent's location."""
        where = self.receptacle_location.get(self.in_receptacle.get(lamp, ""))
        return self.has("isToggled", lamp) and where is not None and where == self.location

    def visible_here(self) -> list[str]:
        """Objects the agent can see at its location (in/on the open or open-less receptacles there)."""
        return [o for r in self.here() for o in self.visible_in(r)]

    def kind_names(self, kind: str, receptacle: bool = False) -> list[str]:
        """How the game names a kind: its entities' display names, without numbers, in order.

        ``["desklamp"]`` for ``DeskLamp``; ``["bathtubbasin", "sinkbasin"]`` for ``SinkBasin`` (a bathtub's basin
        is a sink basin to the engine). ``[kind]`` when the room has none.
        """
        names = [base_name(self.name(e)) for e in self.of_kind(kind, receptacle)]
        return list(dict.fromkeys(names)) or [kind_of(kind)]

    def of_kind(self, kind: str, receptacle: bool = False) -> list[str]:
        """The ids of a kind (``"Mug"``, ``"mug"``, ``"MugType"``), sorted by display name."""
        kind = kind_of(kind)
        types = self.receptacle_type if receptacle else self.object_type
        return sorted((e for e, t in types.items() if t == kind), key=self.name)


def base_name(name: str) -> str:
    """A display name without its number: ``"mug 1"`` -> ``"mug"``."""
    head, _, tail = name.rpartition(" ")
    return head if head and tail.isdigit() else name


def kind_of(type_name: str) -> str:
    """``"AppleType"`` / ``"appletype"`` -> ``"apple"`` (the engine lower-cases every PDDL name)."""
    return type_name.lower().removesuffix("type")


# ---------------------------------------------------------------------------------------------- subtask goals
def subtask_holds(world: World, subtask: Subtask) -> bool:
    """Whether a subtask's official goal (``alfworld.gen.goal_library``) holds in ``world``."""
    params = subtask.pddl_params
    obj, recep, toggle = (kind_of(params.get(k) or "") for k in ("object_target", "parent_target", "toggle_target"))
    sliced = bool(params.get("object_sliced"))

    def targets() -> list[str]:
        return [o for o, t in world.object_type.items() if t == obj and (not sliced or world.has("isSliced", o))]

    if subtask.task_type == "look_at_obj_in_light":
        lamp_here = any(world.lit_here(o) for o in world.of_kind(toggle))
        return lamp_here and any(o in world.held for o in targets())
    flag = {
        "pick_clean_then_place_in_recep": "isClean",
        "pick_heat_then_place_in_recep": "isHot",
        "pick_cool_then_place_in_recep": "isCool",
    }.get(subtask.task_type)
    placed: dict[str, int] = {}
    for o in targets():
        r = world.in_receptacle.get(o)
        if r is not None and world.receptacle_type.get(r) == recep and (flag is None or world.has(flag, o)):
            placed[r] = placed.get(r, 0) + 1
    need = 2 if subtask.task_type == "pick_two_obj_and_place" else 1
    return any(count >= need for count in placed.values())


# ---------------------------------------------------------------------------------------------- parsing text
@dataclass(frozen=True)
class Subgoal:
    """A free-text subgoal read into a checkable form: ``kind`` over any of ``objects``, into any of ``targets``.

    Attributes:
        kind: ``find``, ``go``, ``take``, ``open``, ``close``, ``clean``, ``heat``, ``cool``, ``use``, ``put`` or
            ``look``.
        objects: the ids the first phrase may name (receptacles for ``go``/``open``/``close``).
        targets: the ids the second phrase may name (``put``'s destination, ``look``'s lamp), else empty.
        modifier: ``clean``, ``hot`` or ``cool`` for "put a clean apple in fridge", else ``None``.
        count: how many distinct objects must be placed (2 for "put two apples in fridge").
    """

    kind: str
    objects: frozenset[str]
    targets: frozenset[str] = frozenset()
    modifier: str | None = None
    count: int = 1

    def holds(self, world: World) -> bool:
        """Whether the subgoal is achieved in ``world``."""
        if self.kind == "go":
            locations = {world.receptacle_location.get(e) or world.object_location.get(e) for e in self.objects}
            return world.location in locations
        if self.kind == "take":
            return bool(self.objects & world.held)
        if self.kind == "find":
            return bool(self.objects & world.held) or any(o in self.objects for o in world.visible_here())
        if self.kind == "open":
            return any(world.has("opened", r) for r in self.objects)
        if self.kind == "close":
            return any(world.has("openable", r) and not world.has("opened", r) for r in self.objects)
        if self.kind in ("clean", "heat", "cool"):
            flag = {"clean": "isClean", "heat": "isHot", "cool": "isCool"}[self.kind]
            return any(world.has(flag, o) for o in self.objects)
        if self.kind == "use":
            return any(world.lit_here(o) for o in self.objects)
        if self.kind == "look":
            return any(world.lit_here(lamp) for lamp in self.targets) and bool(self.objects & world.held)
        # put
        flag = {"clean": "isClean", "hot": "isHot", "cool": "isCool"}.get(self.modifier or "")
        placed: dict[str, int] = {}
        for o in self.objects:
            r = world.in_receptacle.get(o)
            if r in self.targets and (flag is None or world.has(flag, o)):
                placed[r] = placed.get(r, 0) + 1
        return any(count >= self.count for count in placed.values())


def parse_subgoal(text: str, world: World) -> Subgoal | None:
    """Read a free-text subgoal against the entities of ``world``; ``None`` when it cannot be grounded."""
    norm = normalize_text(text)
    if not norm or len(norm) > 300 or _SEQUENCE_RE.search(norm):
        return None
    for name, pattern in _PATTERNS:
        match = pattern.match(norm)
        if match is None:
            continue
        if name == "put":
            return _put(world, match.group("x"), match.group("y"), _COMPOUND_MODIFIER.get(match.group("mod") or ""))
        kind = _VERBS[match.group("verb")]
        x, prep, y = match.group("x"), match.group("prep"), match.group("y")
        if kind == "put" or (kind == "go" and prep is not None and prep not in ("to", "at")):
            if kind == "go":  # "move apple 1 to fridge" is caught by the verb "move"; "go X in Y" is not a goal
                return None
            return _put(world, x, y, None) if y is not None else None
        if prep is not None and kind in ("go", "open", "close", "use"):
            x = f"{x} {prep} {y}"  # no second phrase for these: the preposition was part of a name
        if kind == "look":
            if y is None:
                return None
            objects, targets = _resolve(world, x, "object"), _resolve(world, y, "object")
            return Subgoal("look", objects, targets) if objects and targets else None
        wanted = "receptacle" if kind in ("go", "open", "close") else "object"
        objects = _resolve(world, x, wanted)
        if not objects and kind == "go":
            objects = _resolve(world, x, "object")  # "go to the apple": where the apple is
        if not objects and kind == "find":
            kind, objects = "go", _resolve(world, x, "receptacle")  # "find the fridge": going there
        return Subgoal(kind, objects) if objects else None
    return None


def _put(world: World, x: str, y: str, modifier: str | None) -> Subgoal | None:
    tokens = x.split()
    count = 1
    if tokens and tokens[0] in ("two", "2", "both"):
        count, tokens = 2, tokens[1:]
    words = [t for t in tokens if t not in _ARTICLES]
    if words and words[0] in _MODIFIERS:
        modifier = _MODIFIERS[words[0]]
        words = words[1:]
    objects, targets = _resolve(world, " ".join(words), "object"), _resolve(world, y, "receptacle")
    if not objects or not targets:
        return None
    return Subgoal("put", objects, targets, modifier, count)


def _resolve(world: World, phrase: str, kind: str) -> frozenset[str]:
    """The ids a noun phrase may name: "apple 1" -> that apple; "apples" / "an apple" -> every apple."""
    words = [w for w in phrase.split() if w not in _ARTICLES]
    number = None
    if words and words[-1].isdigit():
        number, words = words[-1], words[:-1]
    key = "".join(words)
    if not key:
        return frozenset()
    pool = world.object_type if kind == "object" else world.receptacle_type
    by_base: dict[str, list[str]] = {}
    for entity in pool:
        base, _, num = world.name(entity).rpartition(" ")
        if number is None or num == number:
            by_base.setdefault(base or num, []).append(entity)
    bases = _match_base(key, list(by_base))
    return frozenset(e for b in bases for e in by_base[b])


def _match_base(key: str, bases: Sequence[str]) -> list[str]:
    for candidate in (key, key.removesuffix("s"), key.removesuffix("es")):
        if candidate in bases:
            return [candidate]
    if len(key) >= 3:
        # "sink" -> sinkbasin, "counter" -> countertop; "desklampon" -> desklamp (a stray word glued on)
        partial = [b for b in bases if key in b or (len(b) >= 4 and b in key and len(key) - len(b) <= 4)]
        if partial:
            return partial
    return difflib.get_close_matches(key, bases, n=3, cutoff=0.75)
