"""Conformance checks for the option protocol, for any env that claims to speak it (ours or a third party's).

Like Gymnasium's ``env_checker``: call :func:`check_option_env` in your env's test suite. It runs Gymnasium's own
checker, then a short rollout that checks every ``info`` key of PROTOCOL.md with its type, the option bookkeeping
(SWITCH opens the next option, KEEP continues it), that malformed actions become invalid steps, not exceptions,
and that the subgoal candidates an env offers are distinct and verifiable (an option opened on one is judged
``achieved`` or ``pending``, never ``unknown``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

__all__ = ["PROTOCOL_INFO_KEYS", "check_option_env", "check_option_info"]

#: The ``info`` keys every option-aware env reports at reset and at every step, with their types.
PROTOCOL_INFO_KEYS: dict[str, type | tuple[type, ...]] = {
    "task": str,
    "task_type": str,
    "task_id": str,
    "admissible_commands": list,
    "option_id": int,
    "option_step": int,
    "option_started": bool,
    "subgoal": (str, type(None)),
    "subgoal_status": str,
    "subgoal_candidates": list,
    "invalid_action": bool,
    "won": bool,
    "score": float,
}
_STATUSES = ("achieved", "pending", "unknown")


def check_option_info(info: dict[str, Any]) -> None:
    """Assert that ``info`` carries every protocol key with the right type and a valid ``subgoal_status``."""
    for key, kind in PROTOCOL_INFO_KEYS.items():
        assert key in info, f"info lacks the protocol key {key!r}"
        assert isinstance(info[key], kind), f"info[{key!r}] should be {kind}, got {type(info[key]).__name__}"
    assert info["subgoal_status"] in _STATUSES, f"subgoal_status {info['subgoal_status']!r} not in {_STATUSES}"
    assert all(isinstance(c, str) for c in info["admissible_commands"]), "admissible_commands must be strings"
    candidates = info["subgoal_candidates"]
    assert all(isinstance(c, str) and c.strip() for c in candidates), "subgoal_candidates must be non-empty strings"
    assert len(set(candidates)) == len(candidates), f"subgoal_candidates has duplicates: {candidates}"
    assert 0.0 <= info["score"] <= 1.0, f"score {info['score']} outside [0, 1]"


def check_option_env(env: gym.Env, *, seed: int = 0, skip_gymnasium_checks: bool = False) -> None:
    """Check that ``env`` follows the option protocol (``hiper-options/1``).

    Args:
        env: the environment (made fresh; it is reset and stepped).
        seed: reset seed of the rollout.
        skip_gymnasium_checks: skip ``gymnasium.utils.env_checker.check_env`` (e.g. when the caller ran it).

    Raises:
        AssertionError: naming the first violation found.
    """
    if not skip_gymnasium_checks:
        from gymnasium.utils.env_checker import check_env

        check_env(env.unwrapped, skip_render_check=True)
    _, info = env.reset(seed=seed)
    check_option_info(info)
    assert info["option_started"] is False, "no option is open before the first step"
    first = info["admissible_commands"][0] if info["admissible_commands"] else "look"
    steps = [
        {"action": first, "switch": False, "subgoal": "first subgoal"},  # the first step opens option 0
        "<switch>KEEP</switch><subgoal>first subgoal</subgoal><action>no such command, surely</action>",
        None,
        "x" * 100_000,
        "<switch>SWITCH</switch><subgoal>second subgoal</subgoal>",  # no <action>: invalid, but opens option 1
    ]
    expected = [(0, 0, True, False), (0, 1, False, True), (0, 2, False, True), (0, 3, False, True), (1, 0, True, True)]
    for action, (option_id, option_step, started, invalid) in zip(steps, expected, strict=True):
        obs, reward, terminated, truncated, info = env.step(action)
        check_option_info(info)
        got = (info["option_id"], info["option_step"], info["option_started"], info["invalid_action"])
        assert got == (option_id, option_step, started, invalid), (
            f"after {str(action)[:60]!r}: (option_id, option_step, option_started, invalid_action) = {got}, "
            f"expected {(option_id, option_step, started, invalid)}"
        )
        assert env.observation_space.contains(obs), "the observation left the observation space"
        if invalid:
            assert reward == 0.0 and not terminated, "an invalid step must not be rewarded or end the episode"
        if terminated or truncated:
            return  # a very short episode: nothing more to check
    assert info["subgoal"] == "second subgoal", f"SWITCH should set the subgoal, got {info['subgoal']!r}"
    if info["subgoal_candidates"]:  # an offered candidate is one the env can verify
        candidate = info["subgoal_candidates"][0]
        action = info["admissible_commands"][0] if info["admissible_commands"] else "look"
        obs, reward, terminated, truncated, info = env.step({"action": action, "switch": True, "subgoal": candidate})
        check_option_info(info)
        assert info["option_started"] and info["subgoal"] == candidate, "SWITCH to a candidate should open an option"
        assert info["subgoal_status"] in ("achieved", "pending"), (
            f"the env offers {candidate!r} as a subgoal candidate but judges it {info['subgoal_status']!r}"
        )
