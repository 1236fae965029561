"""Why an episode was lost, read from its transcript: a pure function of one ``hiper-bench`` episode record.

Each lost episode gets one **class** (the first that applies, in the order of `CLASSES`) and every **trait**
that applies (the same names; a trait is a class that holds whether or not an earlier one won). The order puts
what the run cannot judge first (the server or the agent's code failed), then an agent that mostly did not
speak the env's language, then acting on the wrong thing, then the behaviours that burn the step budget (loops,
a planner stuck on one subgoal), then running out of time at a stage of the task.

ALFWorld (task sentences of the six ALFWorld task types; on composite games, the subtask in progress at the end):

- ``wrong_object``: never held an object of the target type, but did the task's work with another one (moved it
  into a receptacle of the goal's type, cleaned/heated/cooled it as the task asks, or used the lamp holding it).
- ``wrong_receptacle``: held the target, but its last placement was into a receptacle of another type, or it was
  cleaned/heated/cooled when the task asks for another of these, or the lamp used was not the task's.
- ``skipped_step``: put the target into the goal's receptacle type without the clean/heat/cool it needed.
- ``search_timeout``: ran out of steps without ever holding the target (trait ``never_saw_target`` when no
  observation ever named one).
- ``incomplete``: held the target, did nothing wrong with it, and ran out of steps.

WebShop (``info["reward_info"]`` after a purchase): ``wrong_product_type`` (``r_type < 1``),
``missing_attribute`` (``r_att < 1``), ``wrong_option`` (``r_option < 1``), ``over_budget`` (``r_price`` false),
``no_purchase`` (the episode ended without buying).

Both: ``infrastructure`` and ``agent_error`` (the episode was cut by an error; see ``record["failure"]``),
``invalid_actions`` (at least half of the steps were invalid or broke the reply format), ``loop`` (the agent
repeated a cycle of at most 3 steps 3 times in a row, each step the same command with the same observation),
``planner_stuck`` (the same subgoal, never achieved, over at least `STUCK_MIN_STEPS` consecutive steps and at
least half of the episode), ``other`` (none of the above).

Only public things are read: the task sentence, the commands and observations of the transcript, and the
protocol's info keys the record keeps; nothing from any env's internals.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLASSES",
    "DESCRIPTIONS",
    "LOOP_MAX_PERIOD",
    "LOOP_REPEATS",
    "STUCK_MIN_STEPS",
    "TRAITS",
    "FailureAnalysis",
    "TaskGoal",
    "classify",
    "find_loop",
    "parse_alfworld_task",
]

#: Every class, in the order the first applicable one is chosen.
CLASSES: tuple[str, ...] = (
    "infrastructure",
    "agent_error",
    "invalid_actions",
    "wrong_object",
    "wrong_receptacle",
    "skipped_step",
    "wrong_product_type",
    "missing_attribute",
    "wrong_option",
    "over_budget",
    "loop",
    "planner_stuck",
    "search_timeout",
    "no_purchase",
    "incomplete",
    "other",
)
#: One line per class, for the tables and the viewer.
DESCRIPTIONS: dict[str, str] = {
    "infrastructure": "the server failed (not counted as the agent's failure)",
    "agent_error": "the agent raised or timed out",
    "invalid_actions": ">= half of the steps invalid or badly formatted",
    "wrong_object": "did the task with an object of the wrong type",
    "wrong_receptacle": "right object, wrong receptacle or appliance",
    "skipped_step": "right object and receptacle, missed the clean/heat/cool",
    "wrong_product_type": "bought a product of the wrong type",
    "missing_attribute": "bought a product missing an asked attribute",
    "wrong_option": "bought with a wrong option (size, colour, ...)",
    "over_budget": "bought above the price limit",
    "loop": "repeated a cycle of <= 3 steps 3 times (same command, same result)",
    "planner_stuck": "one subgoal, never achieved, for >= half of the episode",
    "search_timeout": "ran out of steps without ever holding the target",
    "no_purchase": "ran out of steps without buying",
    "incomplete": "held the target, ran out of steps",
    "other": "none of the above",
}
#: Extra traits that are not classes.
TRAITS: dict[str, str] = {"never_saw_target": "no observation named an object of the target type"}

LOOP_MAX_PERIOD = 3
LOOP_REPEATS = 3
STUCK_MIN_STEPS = 10
_INVALID_SHARE = 0.5


@dataclass(frozen=True)
class FailureAnalysis:
    """The class of a lost episode and all the traits that hold (the class among them)."""

    primary: str
    traits: tuple[str, ...]


@dataclass(frozen=True)
class TaskGoal:
    """What an ALFWorld task sentence asks: the object type, the receptacle type, the treatment, the lamp."""

    obj: str
    recep: str | None = None
    treatment: str | None = None  # "clean", "heat" or "cool"
    lamp: str | None = None  # look-at-in-light tasks: "desklamp", "floorlamp"
    count: int = 1


_W = r"([a-z]+)"
_TREAT = {"clean": "clean", "hot": "heat", "heat": "heat", "cool": "cool"}
_TASK_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(rf"^look at {_W} under the {_W}$"), lambda m: TaskGoal(m[1], lamp=m[2])),
    (re.compile(rf"^examine the {_W} with the {_W}$"), lambda m: TaskGoal(m[1], lamp=m[2])),
    (
        re.compile(rf"^put (?:a|some) (clean|hot|cool) {_W} (?:in|on) {_W}$"),
        lambda m: TaskGoal(m[2], m[3], _TREAT[m[1]]),
    ),
    (
        re.compile(rf"^(clean|heat|cool) some {_W} and put it (?:in|on) {_W}$"),
        lambda m: TaskGoal(m[2], m[3], _TREAT[m[1]]),
    ),
    (re.compile(rf"^(?:put|find) two {_W} and put them (?:in|on) {_W}$"), lambda m: TaskGoal(m[1], m[2], count=2)),
    (re.compile(rf"^put two {_W} (?:in|on) {_W}$"), lambda m: TaskGoal(m[1], m[2], count=2)),
    (re.compile(rf"^put (?:a|an|some) {_W} (?:in|on) {_W}$"), lambda m: TaskGoal(m[1], m[2])),
)


def parse_alfworld_task(sentence: str) -> TaskGoal | None:
    """The goal of an ALFWorld task sentence (ALFWorld's templates), ``None`` when it is not one."""
    text = " ".join(sentence.lower().strip().rstrip(".").split())
    for pattern, build in _TASK_PATTERNS:
        match = pattern.match(text)
        if match:
            return build(match)
    return None


def find_loop(keys: Sequence[Any], max_period: int = LOOP_MAX_PERIOD, repeats: int = LOOP_REPEATS) -> int | None:
    """The start of the first stretch where a cycle of ``p <= max_period`` steps repeats ``repeats`` times.

    ``keys`` are the steps (e.g. ``(command, observation)`` pairs); ``A A A`` and ``A B A B A B`` are loops,
    ``A B A C A B`` is not. Returns ``None`` when there is none.
    """
    for start in range(len(keys)):
        for p in range(1, max_period + 1):
            end = start + p * repeats
            if end > len(keys):
                break
            if all(keys[j] == keys[j + p] for j in range(start, end - p)):
                return start
    return None


def _norm(text: Any) -> str:
    return " ".join(str(text or "").lower().split())


def _stuck(transcript: Sequence[dict[str, Any]], steps: int) -> bool:
    """The same subgoal over >= STUCK_MIN_STEPS consecutive steps and half the episode, never achieved there."""
    run, current, achieved = 0, None, False
    for step in transcript:
        subgoal = _norm(step.get("subgoal")) or None
        if subgoal != current:
            run, current, achieved = 0, subgoal, False
        run += 1
        achieved = achieved or step.get("subgoal_status") == "achieved"
        if current is not None and not achieved and run >= max(STUCK_MIN_STEPS, steps / 2):
            return True
    return False


_OBJ = r"([a-z]+) \d+"
_TAKE = re.compile(rf"^(?:take|pick up) {_OBJ} from ")
_PLACE = re.compile(rf"^(?:move|put) {_OBJ} (?:to|in|on|in/on|into|onto) {_OBJ}$")
_TREAT_CMD = re.compile(rf"^(clean|heat|cool) {_OBJ} with {_OBJ}$")
_USE = re.compile(rf"^use {_OBJ}$")


def _alfworld_traits(record: dict[str, Any], goal: TaskGoal) -> list[str]:
    """The ALFWorld stage traits (module docstring) of a lost episode."""
    commands = [_norm(s.get("command")) for s in record.get("transcript", []) if s.get("command")]
    held_target = False
    held: list[str] = []  # the types in hand, in the order taken
    treated: dict[str, set[str]] = {}  # object type -> treatments applied
    last_place: str | None = None  # receptacle type of the target's last placement
    wrong_work = wrong_appliance = False
    for command in commands:
        if m := _TAKE.match(command):
            held.append(m[1])
            held_target = held_target or m[1] == goal.obj
        elif m := _PLACE.match(command):
            if m[1] == goal.obj:
                last_place = m[2]
            elif goal.recep is not None and m[2] == goal.recep:
                wrong_work = True
            if m[1] in held:
                held.remove(m[1])
        elif m := _TREAT_CMD.match(command):
            treated.setdefault(m[2], set()).add(m[1])
            if m[2] == goal.obj and m[1] != goal.treatment:
                wrong_appliance = True
            elif m[2] != goal.obj and m[1] == goal.treatment:
                wrong_work = True
        elif m := _USE.match(command):
            if goal.lamp is not None and held_target and m[1] != goal.lamp:
                wrong_appliance = True
            if goal.lamp is not None and held and goal.obj not in held:
                wrong_work = True
    traits = []
    if not held_target and wrong_work:
        traits.append("wrong_object")
    if held_target and (wrong_appliance or (last_place is not None and goal.recep and last_place != goal.recep)):
        traits.append("wrong_receptacle")
    needs = goal.treatment
    if held_target and last_place == goal.recep and needs and needs not in treated.get(goal.obj, set()):
        traits.append("skipped_step")
    if not held_target:
        traits.append("search_timeout")
        seen = [record.get("observation", "")] + [s.get("observation", "") for s in record.get("transcript", [])]
        if not any(re.search(rf"\b{re.escape(goal.obj)} \d+\b", str(o).lower()) for o in seen):
            traits.append("never_saw_target")
    elif not {"wrong_receptacle", "skipped_step"} & set(traits):
        traits.append("incomplete")
    return traits


def _webshop_traits(record: dict[str, Any]) -> list[str]:
    """The WebShop purchase traits (module docstring) of a lost episode."""
    reward = record.get("reward_info")
    if not isinstance(reward, dict):
        return ["no_purchase"]
    traits = []
    if float(reward.get("r_type", 1.0)) < 1.0:
        traits.append("wrong_product_type")
    if float(reward.get("r_att", 1.0)) < 1.0:
        traits.append("missing_attribute")
    if reward.get("r_option") is not None and float(reward["r_option"]) < 1.0:
        traits.append("wrong_option")
    if reward.get("r_price") is False:
        traits.append("over_budget")
    return traits


def classify(record: dict[str, Any]) -> FailureAnalysis:
    """The class and traits of a lost episode (see the module docstring); a won one is classed ``other``.

    Args:
        record: a ``hiper-bench`` episode record: ``failure``, ``task``, ``task_type``, ``steps``, ``transcript``
            (steps with ``command``, ``valid``, ``format_errors``, ``env_format_errors``, ``subgoal``,
            ``subgoal_status``, ``observation``), and when the env gave them ``subtask`` and ``reward_info``.
    """
    traits: list[str] = []
    if record.get("failure") == "infrastructure":
        traits.append("infrastructure")
    elif record.get("failure") is not None:
        traits.append("agent_error")
    transcript = list(record.get("transcript") or [])
    steps = len(transcript)
    bad = sum(
        (not s.get("valid", True)) or bool(s.get("format_errors")) or bool(s.get("env_format_errors"))
        for s in transcript
    )
    if steps and bad >= _INVALID_SHARE * steps:
        traits.append("invalid_actions")
    if record.get("failure") is None:
        if "webshop" in str(record.get("task_type", "")).lower() or "reward_info" in record:
            traits += _webshop_traits(record)
        else:
            goal = parse_alfworld_task(str(record.get("subtask") or record.get("task") or ""))
            if goal is not None:
                traits += _alfworld_traits(record, goal)
    keys = [
        (_norm(s.get("command") or (s.get("parsed") or {}).get("action")), s.get("observation")) for s in transcript
    ]
    if find_loop(keys) is not None:
        traits.append("loop")
    if _stuck(transcript, steps):
        traits.append("planner_stuck")
    order = {name: k for k, name in enumerate(CLASSES)}
    classes = sorted((t for t in traits if t in order), key=order.__getitem__)
    primary = classes[0] if classes else "other"
    ordered = sorted(set(traits), key=lambda t: (order.get(t, len(order)), t))
    return FailureAnalysis(primary, tuple(ordered))
