"""The failure analysis on hand-made transcripts: one per class, and the order that picks the class."""

from __future__ import annotations

import pytest

from hiper_agent.bench.failures import CLASSES, DESCRIPTIONS, classify, find_loop, parse_alfworld_task


def step(command, observation="ok", *, valid=True, subgoal=None, status="unknown", fmt=(), action=None):
    return {
        "command": command if valid else None,
        "valid": valid,
        "observation": observation,
        "format_errors": list(fmt),
        "env_format_errors": [],
        "subgoal": subgoal,
        "subgoal_status": status,
        "parsed": {"action": action or command},
    }


def alfworld(task, commands, *, observations=None, **extra):
    observations = observations or [f"obs {k}" for k in range(len(commands))]
    transcript = [step(c, o) for c, o in zip(commands, observations, strict=True)]
    return {
        "task": task,
        "task_type": "pick_clean_then_place_in_recep",
        "failure": None,
        "won": False,
        "truncated": True,
        "observation": "You are in the middle of a room.",
        "transcript": transcript,
        **extra,
    }


@pytest.mark.parametrize(
    ("sentence", "goal"),
    [
        ("put a clean soapbar in garbagecan", ("soapbar", "garbagecan", "clean", None, 1)),
        ("clean some soapbar and put it in garbagecan", ("soapbar", "garbagecan", "clean", None, 1)),
        ("put a hot cup in diningtable", ("cup", "diningtable", "heat", None, 1)),
        ("heat some cup and put it in diningtable", ("cup", "diningtable", "heat", None, 1)),
        ("cool some tomato and put it in microwave", ("tomato", "microwave", "cool", None, 1)),
        ("put a cool tomato in microwave", ("tomato", "microwave", "cool", None, 1)),
        ("find two watch and put them in drawer", ("watch", "drawer", None, None, 2)),
        ("put two watch in drawer", ("watch", "drawer", None, None, 2)),
        ("put a watch in dresser", ("watch", "dresser", None, None, 1)),
        ("put some spraybottle on drawer.", ("spraybottle", "drawer", None, None, 1)),
        ("look at watch under the floorlamp", ("watch", None, None, "floorlamp", 1)),
        ("examine the book with the desklamp", ("book", None, None, "desklamp", 1)),
    ],
)
def test_task_sentences_of_every_alfworld_type(sentence, goal):
    parsed = parse_alfworld_task(sentence)
    assert (parsed.obj, parsed.recep, parsed.treatment, parsed.lamp, parsed.count) == goal


def test_unknown_sentences_parse_to_none():
    assert parse_alfworld_task("i need a blue shirt under 40 dollars") is None


def test_find_loop():
    assert find_loop(list("AAA")) == 0
    assert find_loop(list("xABABAB")) == 1
    assert find_loop(list("ABCABCABC")) == 0
    assert find_loop(list("ABACAB")) is None
    assert find_loop(list("AABBAACC")) is None
    assert find_loop(list("ABCDABCDABCD")) is None  # a period of 4 is past the limit


CLEAN = "put a clean soapbar in garbagecan"


def test_search_timeout_never_saw_the_target():
    record = alfworld(CLEAN, ["go to drawer 1", "open drawer 1", "go to shelf 1"])
    analysis = classify(record)
    assert analysis.primary == "search_timeout"
    assert "never_saw_target" in analysis.traits


def test_search_timeout_that_saw_the_target():
    record = alfworld(
        CLEAN, ["go to drawer 1", "go to shelf 1"], observations=["On the drawer 1, you see a soapbar 2.", "nothing"]
    )
    analysis = classify(record)
    assert analysis.primary == "search_timeout" and "never_saw_target" not in analysis.traits


def test_wrong_object():
    record = alfworld(
        CLEAN, ["go to drawer 1", "take candle 1 from drawer 1", "go to sinkbasin 1", "clean candle 1 with sinkbasin 1"]
    )
    assert classify(record).primary == "wrong_object"


def test_taking_another_object_alone_is_not_wrong_object():
    record = alfworld(CLEAN, ["take candle 1 from drawer 1", "move candle 1 to drawer 1", "go to shelf 1"])
    assert classify(record).primary == "search_timeout"


def test_wrong_receptacle_and_wrong_appliance():
    placed = alfworld(
        CLEAN,
        [
            "take soapbar 1 from drawer 1",
            "clean soapbar 1 with sinkbasin 1",
            "go to shelf 1",
            "move soapbar 1 to shelf 1",
        ],
    )
    assert classify(placed).primary == "wrong_receptacle" and "incomplete" not in classify(placed).traits
    heated = alfworld(
        "heat some cup and put it in diningtable", ["take cup 1 from countertop 1", "cool cup 1 with fridge 1"]
    )
    assert classify(heated).primary == "wrong_receptacle"
    lamp = alfworld("look at watch under the floorlamp", ["take watch 1 from drawer 1", "use desklamp 1"])
    assert classify(lamp).primary == "wrong_receptacle"


def test_skipped_step_and_incomplete():
    skipped = alfworld(CLEAN, ["take soapbar 1 from drawer 1", "go to garbagecan 1", "move soapbar 1 to garbagecan 1"])
    assert classify(skipped).primary == "skipped_step"
    held = alfworld(CLEAN, ["take soapbar 1 from drawer 1", "go to sinkbasin 1", "go to shelf 1"])
    assert classify(held).primary == "incomplete"


def test_loop_comes_before_the_stage():
    record = alfworld(CLEAN, ["go to shelf 1", "go to shelf 2"] * 3, observations=["s1", "s2"] * 3)
    analysis = classify(record)
    assert analysis.primary == "loop" and "search_timeout" in analysis.traits
    # the same commands with new observations each time (a page that changes) are not a loop
    assert classify(alfworld(CLEAN, ["go to shelf 1"] * 3, observations=["a", "b", "c"])).primary == "search_timeout"


def test_planner_stuck():
    record = alfworld(CLEAN, [f"go to shelf {k}" for k in range(12)])
    for s in record["transcript"]:
        s["subgoal"], s["subgoal_status"] = "find a soapbar", "pending"
    assert classify(record).primary == "planner_stuck"
    for s in record["transcript"][5:6]:
        s["subgoal_status"] = "achieved"
    assert classify(record).primary == "search_timeout"  # achieved on the way: not stuck


def test_invalid_actions_dominate():
    record = alfworld(CLEAN, ["go to shelf 1", "x", "y", "z"])
    for s in record["transcript"][1:]:
        s["valid"], s["command"] = False, None
    assert classify(record).primary == "invalid_actions"
    record = alfworld(CLEAN, ["go to shelf 1", "go to shelf 2"])
    record["transcript"][1]["format_errors"] = ["missing_switch"]  # a tagless but valid reply still counts
    assert classify(record).primary == "invalid_actions"


def test_errors_come_first():
    record = alfworld(CLEAN, ["go to shelf 1"], failure="infrastructure")
    assert classify(record).primary == "infrastructure"
    record = alfworld(CLEAN, [], failure="agent")
    assert classify(record).primary == "agent_error"


def test_composite_games_read_the_subtask_in_progress():
    record = alfworld(
        "put some spraybottle on drawer, then put a watch in dresser",
        ["take watch 1 from drawer 1", "move watch 1 to shelf 1"],
        subtask="put a watch in dresser",
    )
    assert classify(record).primary == "wrong_receptacle"


def webshop(reward_info=None, commands=("search[shirt]", "click[b0001]", "click[buy now]")):
    record = {
        "task": "i need a blue shirt",
        "task_type": "webshop",
        "failure": None,
        "won": False,
        "transcript": [step(c, f"page {k}") for k, c in enumerate(commands)],
    }
    if reward_info is not None:
        record["reward_info"] = reward_info
    return record


@pytest.mark.parametrize(
    ("reward", "primary", "traits"),
    [
        ({"r_type": 0.5, "r_att": 1.0, "r_option": 1.0, "r_price": True}, "wrong_product_type", 1),
        ({"r_type": 1.0, "r_att": 0.5, "r_option": 0.0, "r_price": False}, "missing_attribute", 3),
        ({"r_type": 1.0, "r_att": 1.0, "r_option": 0.5, "r_price": True}, "wrong_option", 1),
        ({"r_type": 1.0, "r_att": 1.0, "r_option": None, "r_price": False}, "over_budget", 1),
    ],
)
def test_webshop_purchases(reward, primary, traits):
    analysis = classify(webshop(reward))
    assert analysis.primary == primary and len(analysis.traits) == traits


def test_webshop_no_purchase():
    assert classify(webshop(None, ("search[shirt]", "click[next >]"))).primary == "no_purchase"


def test_every_class_is_described():
    assert set(CLASSES) == set(DESCRIPTIONS)
