import dataclasses

import pytest

from hiper_envs.options import (
    OptionAction,
    SegmentTracker,
    coerce_action,
    format_response,
    looks_like_response,
    normalize_command,
    parse_response,
)

WELL_FORMED = (
    "<switch>SWITCH</switch>\n<subgoal>take apple 1</subgoal>\n<action>take apple 1 from countertop 1</action>"
)


def test_parse_well_formed_round_trip():
    parsed = parse_response(WELL_FORMED)
    assert parsed.is_valid
    assert (parsed.switch, parsed.subgoal, parsed.action) == (
        True,
        "take apple 1",
        "take apple 1 from countertop 1",
    )
    assert parse_response(format_response(True, "take apple 1", "take apple 1 from countertop 1")) == parsed
    for tag, (start, end) in parsed.spans.items():
        assert parsed.text[start:end].lower().startswith(f"<{tag}>")
        c_start, c_end = parsed.content_spans[tag]
        assert start < c_start <= c_end < end


@pytest.mark.parametrize(
    ("text", "expected", "valid"),
    [
        (
            "<SWITCH> keep </SWITCH><Subgoal> go to desk 1. </Subgoal><ACTION>go to desk 1.</ACTION>",
            (False, "go to desk 1", "go to desk 1"),
            True,
        ),
        (
            "<switch>KEEP]</switch><subgoal>x)</subgoal><action>'look'</action>",
            (False, "x", "look"),
            True,
        ),  # tolerated: case, stray punctuation
        (
            "< switch >SWITCH</ switch ><action>look",
            (True, None, "look"),
            False,
        ),  # unclosed action runs to the end
        ("<action>look</action><switch>maybe</switch>", (None, None, "look"), False),
    ],
)
def test_parse_lenient(text, expected, valid):
    parsed = parse_response(text)
    assert (parsed.switch, parsed.subgoal, parsed.action) == expected
    assert parsed.is_valid is valid


def test_parse_missing_switch_is_keep_except_first_step():
    text = "<subgoal>a</subgoal><action>look</action>"
    assert parse_response(text).switch is None
    assert parse_response(text).to_action() == OptionAction("look", switch=False, subgoal="a")
    assert parse_response(text, first_step=True).to_action(first_step=True).switch is True
    assert "missing_switch" in parse_response(text).format_errors


def test_parse_counts_every_error():
    parsed = parse_response("<switch>SWITCH</switch><switch>KEEP</switch>hello")
    assert set(parsed.format_errors) >= {"duplicate_switch", "missing_subgoal", "missing_action"}
    assert parsed.to_action() is None


@pytest.mark.parametrize("junk", [None, 3, b"bytes", "", "   ", "<<<>>>", "\x00\x01", "ü" * 500, "<action></action>"])
def test_parse_never_raises(junk):
    parsed = parse_response(junk)
    assert parsed.action is None or isinstance(parsed.action, str)


def test_coerce_forms():
    @dataclasses.dataclass
    class Act:
        action: str
        switch: bool = True
        subgoal: str | None = "s"

    assert coerce_action("look", first_step=False)[0] == OptionAction("look")
    assert coerce_action(Act("look"), first_step=False)[0] == OptionAction("look", True, "s")
    assert coerce_action({"action": "look", "switch": "SWITCH"}, first_step=False)[0].switch is True
    opt, parsed, err = coerce_action(WELL_FORMED, first_step=False)
    assert opt.action == "take apple 1 from countertop 1" and parsed is not None and err == ""
    for bad in [None, 5, {"switch": True}, {"action": 3}, "x" * 10_000, "<switch>KEEP</switch>"]:
        opt, _, err = coerce_action(bad, first_step=False)
        assert opt is None and err


class _Raises(dict):
    def get(self, key, default=None):
        raise KeyError(key)


@pytest.mark.parametrize(
    "bad",
    [
        OptionAction(action=None),  # type: ignore[arg-type]
        OptionAction(action=123),  # type: ignore[arg-type]
        OptionAction(action="look", subgoal=5),  # type: ignore[arg-type]
        OptionAction(action="look", switch=[1]),  # type: ignore[arg-type]
        OptionAction(action="x" * 5000),
        OptionAction(action="look", subgoal="s" * 5000),
        {"action": "look", "switch": 2.5},
        _Raises(action="look"),
    ],
)
def test_coerce_action_is_total_over_field_types(bad):
    opt, parsed, err = coerce_action(bad, first_step=False)
    assert opt is None and parsed is None and err.endswith(".")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("click[buy now]", "click[buy now]"),
        ("click[buy now]]", "click[buy now]"),
        ("[go to desk 1]", "go to desk 1"),
        ("search[a (b)]", "search[a (b)]"),
        ('"go to desk 1."', "go to desk 1"),
        ("KEEP]", "KEEP"),
    ],
)
def test_brackets_are_content_only_when_balanced(raw, clean):
    assert parse_response(f"<action>{raw}</action>").action == clean


def test_helpers():
    assert looks_like_response("<action>x</action>") and not looks_like_response("go to desk 1")
    assert normalize_command("  Go To   Desk 1. ") == "go to desk 1"


def test_segment_tracker():
    tracker = SegmentTracker()
    rows = []
    for switch, subgoal in [
        (False, "a"),
        (False, None),
        (False, "b"),
        (True, "c"),
        (True, None),
        (False, None),
    ]:
        tracker.step(switch, subgoal)
        info = tracker.info()
        rows.append((info["option_id"], info["option_step"], info["option_started"], info["subgoal"]))
    assert rows == [
        (0, 0, True, "a"),
        (0, 1, False, "a"),
        (0, 2, False, "a"),
        (1, 0, True, "c"),
        (2, 0, True, "c"),
        (2, 1, False, "c"),
    ]
    tracker.reset()
    tracker.step(False, "x")
    tracker.step(False, "y")
    assert tracker.info()["subgoal_changed_on_keep"] and tracker.subgoal == "x"
    assert tracker.status("achieved") == "achieved" and tracker.status("pending") == "achieved"
    tracker.step(True, "z")
    assert tracker.status("pending") == "pending"
