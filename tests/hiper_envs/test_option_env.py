"""The protocol machinery of OptionEnv, on a tiny scripted env."""

import random

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from keydoor_env import KeyDoorEnv

import hiper_envs
from hiper_envs.checker import check_option_env, check_option_info
from hiper_envs.core import SyncTimeLimit


def check_info(info):
    check_option_info(info)


def test_env_checker(key_door_env):
    check_env(key_door_env, skip_render_check=True)
    check_option_env(KeyDoorEnv(), skip_gymnasium_checks=True)


def test_option_checker_catches_a_broken_env():
    class NoSwitch(KeyDoorEnv):  # forgets to open options on SWITCH
        def step(self, action):
            obs, r, term, trunc, info = super().step(action)
            info["option_id"] = 0
            return obs, r, term, trunc, info

    with pytest.raises(AssertionError, match="option_id"):
        check_option_env(NoSwitch(), skip_gymnasium_checks=True)


def test_option_checker_catches_unverifiable_or_duplicate_candidates():
    class Unverifiable(KeyDoorEnv):  # offers a subgoal it cannot judge
        def _subgoal_candidates(self):
            return ["dance", *super()._subgoal_candidates()]

    class Duplicates(KeyDoorEnv):
        def _subgoal_candidates(self):
            return ["take key", "take key"]

    with pytest.raises(AssertionError, match="'dance'.*unknown"):
        check_option_env(Unverifiable(), skip_gymnasium_checks=True)
    with pytest.raises(AssertionError, match="duplicates"):
        check_option_env(Duplicates(), skip_gymnasium_checks=True)


def test_episode_with_options(key_door_env):
    env = key_door_env
    _, info = env.reset(seed=0)
    check_info(info)
    assert info["option_started"] is False and info["subgoal"] is None
    _, r, term, trunc, info = env.step("<switch>KEEP</switch><subgoal>take key</subgoal><action>take key</action>")
    check_info(info)
    assert (info["option_id"], info["option_started"], info["subgoal_status"]) == (0, True, "achieved")
    _, r, term, trunc, info = env.step({"action": "go to door", "switch": True, "subgoal": "go to door"})
    assert (info["option_id"], info["option_step"], info["subgoal_status"]) == (1, 0, "achieved")
    _, r, term, trunc, info = env.step("open door")  # bare string: KEEP
    assert (r, term, trunc, info["won"], info["score"]) == (1.0, True, False, True, 1.0)
    assert (info["option_id"], info["option_step"]) == (1, 1)
    with pytest.raises(RuntimeError):
        env.step("look")


def test_invalid_actions_are_steps_with_feedback(key_door_env):
    env = key_door_env
    env.reset(seed=1)
    obs, r, term, trunc, info = env.step("open door")
    assert info["invalid_action"] and "not an admissible" in obs and r == 0.0
    obs, *_, info = env.step(None)
    assert info["invalid_action"] and "string" in obs
    obs, *_, info = env.step("<switch>SWITCH</switch><subgoal>x</subgoal>")
    assert info["invalid_action"] and "<action>" in obs and info["option_id"] == 1
    assert "missing_action" in info["format_errors"]
    obs, *_, info = env.step("  TAKE   key. ")  # lenient match to the admissible spelling
    assert not info["invalid_action"] and info["action"] == "take key"


def test_truncation_and_expert():
    env = KeyDoorEnv(max_episode_steps=3, expert=True)
    _, info = env.reset(seed=0)
    assert info["expert_action"] == "take key"
    for _ in range(2):
        _, _, term, trunc, info = env.step("look")
        assert not trunc
    _, _, term, trunc, info = env.step("look")
    assert trunc and not term and "expert_action" not in info


def test_seed_determinism_and_fuzz():
    rng = random.Random(0)
    junk = [
        None,
        1,
        2.5,
        b"x",
        [],
        {},
        {"action": None},
        "",
        "x" * 100_000,
        "é漢字\x00",
        "<switch>",
        "<action>",
    ]
    env = KeyDoorEnv(max_episode_steps=20)
    for episode in range(50):
        env.reset(seed=episode)
        done = False
        while not done:
            action = rng.choice(junk + ["take key", "go to door", "open door", "look"])
            obs, _, term, trunc, info = env.step(action)
            check_info(info)
            assert env.observation_space.contains(obs), obs  # feedback quoting non-ASCII input stays in charset
            done = term or trunc
    a, b = KeyDoorEnv(), KeyDoorEnv()
    assert a.reset(seed=7) == b.reset(seed=7)


def test_max_episode_steps_is_validated():
    env = KeyDoorEnv()
    for bad in (0, -1, 2.5, True, None):
        with pytest.raises(ValueError, match="max_episode_steps"):
            env.max_episode_steps = bad
        with pytest.raises(ValueError, match="max_episode_steps"):
            KeyDoorEnv(max_episode_steps=bad)
    with pytest.raises(TypeError, match="OptionEnv"):
        SyncTimeLimit(gym.make("CartPole-v1"))


def test_make_hands_max_episode_steps_to_any_option_env():
    # Any OptionEnv registered like the HiPER ids (with SyncTimeLimit) gets make's budget, not its own default.
    env_id = "HiPERTest/KeyDoor-v0"
    wrappers = gym.spec(hiper_envs.ENV_IDS[0]).additional_wrappers
    gym.register(env_id, entry_point=KeyDoorEnv, additional_wrappers=wrappers)
    try:
        env = gym.make(env_id, max_episode_steps=2)
        _, info = env.reset(seed=0)
        assert env.unwrapped.max_episode_steps == 2 and info["max_episode_steps"] == 2
        assert [env.step("look")[3] for _ in range(2)] == [False, True]
        assert gym.make(env_id).unwrapped.max_episode_steps == 10  # KeyDoorEnv's own default
    finally:
        del gym.registry[env_id]
