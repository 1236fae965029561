"""Reward shaping (penalties off by default) and token-level assignment of the three advantages."""

from __future__ import annotations

import numpy as np
import pytest

from hiper_agent.credit import (
    ShapingConfig,
    build_token_advantages,
    char_spans_to_token_masks,
    keep_consistency_violations,
    shape_rewards,
    subgoal_bonus_turns,
    token_spans_to_masks,
)
from hiper_envs.options import parse_response

T_, F_ = True, False


# --- shaping -------------------------------------------------------------------------------------------


def test_shaping_is_off_by_default():
    r = np.array([0.0, 0.0, 10.0])
    assert not ShapingConfig().active
    np.testing.assert_array_equal(shape_rewards(r, ShapingConfig()), r)


def test_invalid_and_fixed_keep_penalties():
    r = np.zeros(4)
    cfg = ShapingConfig(invalid_action_penalty=0.1, keep_penalty=0.3)
    out = shape_rewards(r, cfg, switches=[F_, F_, T_, F_], invalid=[F_, T_, F_, F_])
    # step 0 always opens an option, so its KEEP is not penalized
    np.testing.assert_allclose(out, [0.0, -0.4, 0.0, -0.3])


def test_subgoal_bonus_is_paid_once_per_segment():
    starts = [T_, F_, F_, T_, F_, T_, F_]
    achieved = [F_, T_, T_, T_, T_, F_, T_]  # latched by the env; step 3 opens a new segment already achieved
    np.testing.assert_array_equal(subgoal_bonus_turns(starts, achieved), [F_, T_, F_, T_, F_, F_, T_])
    # an env that does not latch: the segment still pays once
    np.testing.assert_array_equal(subgoal_bonus_turns([T_, F_, F_], [T_, F_, T_]), [T_, F_, F_])
    with pytest.raises(ValueError, match="shape"):
        subgoal_bonus_turns([T_, F_], [T_])
    # with the texts, a subgoal pays once per trajectory: a take/put loop earns one bonus each, not one a lap
    starts = [T_, T_, T_, T_, T_, F_]
    achieved = [T_, T_, T_, T_, F_, T_]
    texts = ["take mug", "put mug 1 in/on cabinet", "Take  mug", "put mug 1 in/on cabinet", "heat mug 1", None]
    np.testing.assert_array_equal(subgoal_bonus_turns(starts, achieved, texts), [T_, T_, F_, F_, F_, T_])
    # a turn that named no subgoal yet pays per segment, as without texts
    np.testing.assert_array_equal(subgoal_bonus_turns([T_, T_], [T_, T_], [None, None]), [T_, T_])
    with pytest.raises(ValueError, match="non-negative"):
        ShapingConfig(subgoal_bonus=-1.0)


def test_normalized_keep_penalty_totals_penalty_times_keep_ratio():
    r = np.zeros(5)
    switches = [T_, F_, F_, T_, F_]  # 3 KEEP turns out of 5
    out = shape_rewards(r, ShapingConfig(keep_penalty=3.5, keep_penalty_mode="normalized"), switches=switches)
    np.testing.assert_allclose(out.sum(), -3.5 * 3 / 5)
    np.testing.assert_allclose(out, [0, -0.7, -0.7, 0, -0.7])


def test_keep_consistency():
    subgoals = ["Find the apple", "find  the apple", "open fridge", None, "cool apple", "heat it"]
    switches = [T_, F_, F_, F_, T_, F_]
    flags = keep_consistency_violations(switches, subgoals)
    # 1: same text after normalization; 2: KEEP but changed; 3: missing text is not a violation; 4: SWITCH
    np.testing.assert_array_equal(flags, [F_, F_, T_, F_, F_, T_])
    out = shape_rewards(np.zeros(6), ShapingConfig(keep_consistency_penalty=0.3), keep_inconsistent=flags)
    np.testing.assert_allclose(out, -0.3 * flags)


def test_switch_cost_charges_options_ended_before_their_subgoal():
    switches = [T_, T_, F_, T_, F_, T_, T_]
    achieved = [F_, F_, T_, F_, F_, T_, F_]  # after each turn; the env latches it until the option ends
    out = shape_rewards(np.zeros(7), ShapingConfig(switch_cost=0.2), switches=switches, achieved=achieved)
    # 0 opens the first option (free); 1 abandons it (cost); 3 ends an achieved option (free); 5 abandons the
    # option of 3 (cost); 6 ends the option of 5, achieved at once (free)
    np.testing.assert_allclose(out, [0, -0.2, 0, 0, 0, -0.2, 0])
    with pytest.raises(ValueError, match="needs the per-turn `achieved`"):
        shape_rewards(np.zeros(2), ShapingConfig(switch_cost=0.1), switches=[T_, T_])


def test_shaping_errors_are_actionable():
    with pytest.raises(ValueError, match="pass 0.3 instead"):
        ShapingConfig(keep_penalty=-0.3)
    with pytest.raises(ValueError, match="needs the per-turn `invalid`"):
        shape_rewards(np.zeros(2), ShapingConfig(invalid_action_penalty=0.1))


# --- token masks ---------------------------------------------------------------------------------------


def _char_offsets(text: str, width: int = 3) -> list[tuple[int, int]]:
    """A fake tokenizer: one token per `width` characters."""
    return [(i, min(i + width, len(text))) for i in range(0, len(text), width)]


def test_masks_from_the_protocol_parser_spans():
    text = "<switch>SWITCH</switch>\n<subgoal>find apple</subgoal>\n<action>go to desk 1</action>"
    parsed = parse_response(text)
    offsets = _char_offsets(text, 1)  # one token per character: masks equal the character spans
    masks = char_spans_to_token_masks(offsets, parsed)
    for block, mask in (("switch", masks.switch), ("subgoal", masks.subgoal), ("action", masks.action)):
        start, end = parsed.spans[block]
        assert text[start:end].startswith(f"<{block}>")
        np.testing.assert_array_equal(np.flatnonzero(mask), np.arange(start, end))
    assert not (masks.switch & masks.subgoal).any() and not (masks.subgoal & masks.action).any()


def test_token_advantages_put_each_level_on_its_block():
    spans = {"switch": (0, 2), "subgoal": (3, 6), "action": (7, 9)}
    tok = build_token_advantages(1.0, 10.0, 100.0, True, spans, 10)
    np.testing.assert_allclose(tok, [100, 100, 0, 10, 10, 10, 0, 1, 1, 0])
    assert tok.dtype == np.float32
    # a KEEP turn: the copied subgoal gets nothing
    np.testing.assert_allclose(
        build_token_advantages(1.0, 10.0, 100.0, False, spans, 10), [100, 100, 0, 0, 0, 0, 0, 1, 1, 0]
    )
    # no switch critic: switch tokens get nothing
    np.testing.assert_allclose(build_token_advantages(1.0, 10.0, None, False, spans, 10)[:2], [0, 0])


def test_missing_blocks_are_handled_leniently():
    # no <action>: every token outside switch and subgoal gets adv_low
    tok = build_token_advantages(1.0, 10.0, 100.0, True, {"switch": (0, 2), "subgoal": (2, 4)}, 6)
    np.testing.assert_allclose(tok, [100, 100, 10, 10, 1, 1])
    # ... unless the fallback is off
    masks = token_spans_to_masks({"switch": (0, 2)}, 6, fallback_action_to_full_response=False)
    assert not masks.action.any() and not masks.action_found
    # no <subgoal> on a segment start: adv_high goes nowhere (documented choice)
    tok = build_token_advantages(1.0, 10.0, 100.0, True, {"switch": (0, 2), "action": (2, 6)}, 6)
    np.testing.assert_allclose(tok, [100, 100, 1, 1, 1, 1])
    # nothing parsed at all: the whole response is the action
    np.testing.assert_allclose(build_token_advantages(2.0, 10.0, 100.0, True, None, 3), [2, 2, 2])
    # and a real unparsable response through the parser
    text = "I think I should open the fridge"
    masks = char_spans_to_token_masks(_char_offsets(text), parse_response(text))
    assert masks.action.all() and not masks.action_found


def test_flat_estimators_use_every_token():
    spans = {"switch": (0, 2), "subgoal": (3, 6), "action": (7, 9)}
    np.testing.assert_allclose(build_token_advantages(0.5, 0.0, None, True, spans, 4, hierarchical=False), [0.5] * 4)


def test_char_spans_with_offsets_and_overlap_rule():
    text = "<switch>KEEP</switch><subgoal>x</subgoal><action>look</action>"
    parsed = parse_response(text)
    offsets = _char_offsets(text, 4)
    tok = build_token_advantages(1.0, 10.0, 100.0, True, parsed.spans, len(offsets), offsets=offsets)
    sw_end = parsed.spans["switch"][1]  # 21: the token covering chars 20..24 straddles switch and subgoal
    assert tok[0] == 100 and tok[sw_end // 4] == 100 and tok[sw_end // 4 + 1] == 10 and tok[-1] == 1
    with pytest.raises(ValueError, match="offsets"):
        build_token_advantages(1.0, 1.0, None, True, parsed.spans, 3, offsets=offsets)
