import pytest

from hiper_agent.policies.prompts import PromptBuilder, template_for_env
from hiper_agent.types import HistoryEntry
from hiper_envs.options import format_response, parse_response

INFO = {
    "task": "put a clean apple in fridge",
    "elapsed_steps": 3,
    "admissible_commands": ["go to fridge 1", "take apple 1 from countertop 1", "help"],
}


def test_full_prompt_has_every_field():
    history = [HistoryEntry("You arrive at countertop 1.", "go to countertop 1")] * 3
    text = PromptBuilder("alfworld", "full", history_length=2).build(
        "You see an apple 1.", INFO, history, "take apple 1"
    )
    for needle in (
        "put a clean apple in fridge",
        "3 step(s)",
        "You see an apple 1.",
        "Current sub-goal: take apple 1",
        "'go to fridge 1'",
        "<switch>KEEP or SWITCH</switch>",
        "<action>",
    ):
        assert needle in text, needle
    assert "'help'" not in text
    assert text.count("Action: 'go to countertop 1'") == 2  # history window


def test_compact_prompt_is_short_and_says_none_without_subgoal():
    text = PromptBuilder("alfworld", "compact", history_length=0).build("obs " * 500, INFO, [], None)
    assert "subgoal: none" in text and "go to fridge 1 | take apple 1" in text
    assert len(text) < 900  # observation cut to max_observation_chars


def test_action_memory_lists_the_actions_before_the_history_window():
    history = [HistoryEntry(f"You arrive at drawer {i}.", f"go to drawer {i}") for i in range(1, 7)]
    compact = PromptBuilder("alfworld", "compact", history_length=1, action_memory=3).build("o", INFO, history, None)
    assert "before: go to drawer 3 | go to drawer 4 | go to drawer 5\n" in compact
    assert "You arrive at drawer 6.\n> go to drawer 6" in compact and "drawer 2" not in compact
    full = PromptBuilder("alfworld", "full", history_length=2, action_memory=10).build("o", INFO, history, None)
    assert "Earlier actions: 'go to drawer 1', 'go to drawer 2', 'go to drawer 3', 'go to drawer 4'\n" in full
    short = PromptBuilder("alfworld", "compact", history_length=1, action_memory=3).build("o", INFO, history[:1], None)
    assert "before:" not in short  # the one past step is shown in full
    assert "before:" not in PromptBuilder("alfworld", "compact", history_length=1).build("o", INFO, history, None)
    with pytest.raises(ValueError, match="action_memory"):
        PromptBuilder(action_memory=-1)


def test_round_trip_with_parser():
    response = format_response(True, "take apple 1", "take apple 1 from countertop 1")
    parsed = parse_response(response)
    assert parsed.is_valid and parsed.action in INFO["admissible_commands"]


def test_template_family():
    assert template_for_env("HiPER/WebShop-v0") == "webshop"
    assert template_for_env("HiPER/ALFWorld-v0") == "alfworld"


def test_chat_template_wrapping():
    class Tok:
        chat_template = "x"

        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            return f"<user>{messages[0]['content']}<assistant>"

    text = PromptBuilder("alfworld", "compact").bind(Tok()).build("o", INFO, [], None)
    assert text.startswith("<user>task:") and text.endswith("<assistant>")
