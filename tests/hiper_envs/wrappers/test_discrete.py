"""`DiscreteCommandWrapper`: Discrete(K) over the admissible commands, the action mask, the features, SB3."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from keydoor_env import KeyDoorEnv

import hiper_envs  # noqa: F401  (registers HiPER/ALFWorld-v0)
from hiper_envs.wrappers import DiscreteCommandWrapper


def test_slots_mask_and_step_follow_the_admissible_commands():
    env = DiscreteCommandWrapper(KeyDoorEnv(), max_actions=6)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and env.action_space == gym.spaces.Discrete(6)
    assert info["admissible_commands"] == ["look", "go to door", "go to key", "take key"]
    assert env.action_masks().tolist() == [True] * 4 + [False] * 2
    assert info["action_mask"].tolist() == env.action_masks().tolist() and info["dropped_commands"] == 0
    obs, _, _, _, info = env.step(3)
    assert info["command"] == "take key" and not info["invalid_action"]
    obs, _, _, _, info = env.step(1)  # go to door: now "open door" is the 4th command
    assert info["admissible_commands"][3] == "open door"
    _, reward, terminated, _, info = env.step(3)
    assert info["command"] == "open door" and reward == 1.0 and terminated


def test_empty_slot_is_an_invalid_step_and_extra_commands_are_dropped():
    env = DiscreteCommandWrapper(KeyDoorEnv(), max_actions=2)
    _, info = env.reset(seed=0)
    assert info["dropped_commands"] == 2 and env.action_masks().tolist() == [True, True]
    wide = DiscreteCommandWrapper(KeyDoorEnv(), max_actions=8)
    wide.reset(seed=0)
    _, _, _, _, info = wide.step(7)
    assert info["command"] == "" and info["invalid_action"]
    with pytest.raises(ValueError, match="not in"):
        wide.step(8)


def test_features_describe_each_slot():
    env = DiscreteCommandWrapper(KeyDoorEnv(), max_actions=4, task_features=8, obs_features=8, verb_features=4)
    obs, _ = env.reset(seed=0)
    base, width = 8 + 8 + 2, env.slot_features
    slots = obs[base:].reshape(4, width)
    assert slots[:, 0].tolist() == [1, 1, 1, 1]
    task_share = slots[:, 1 + 4]  # share of the command's words in the task "open the door"
    assert task_share.tolist() == [0.0, 0.5, 0.0, 0.0]  # only "go to door" shares a word ("door")
    obs2, *_ = env.step(0)  # "look" was played once and is the last command
    slot = obs2[base : base + width]
    assert slot[1 + 4 + 4] == 1.0 and slot[1 + 4 + 6] == 1.0
    again, _ = DiscreteCommandWrapper(
        KeyDoorEnv(), max_actions=4, task_features=8, obs_features=8, verb_features=4
    ).reset(seed=0)
    np.testing.assert_array_equal(obs, again)  # stable hashing: the same text gives the same vector


def test_task_order_puts_commands_naming_the_task_first():
    env = DiscreteCommandWrapper(KeyDoorEnv(), max_actions=6, order="task")
    _, info = env.reset(seed=0)
    assert info["slot_commands"] == ["go to door", "look", "go to key", "take key"]  # "door" is in the task
    _, _, _, _, info = env.step(0)
    assert info["command"] == "go to door"


@pytest.mark.parametrize(
    "bad", [{"max_actions": 0}, {"task_features": -1}, {"verb_features": 1.5}, {"order": "alphabetical"}]
)
def test_bad_arguments(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):  # the message names the argument
        DiscreteCommandWrapper(KeyDoorEnv(), **bad)


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped")
def test_alfworld_passes_the_gymnasium_and_sb3_checkers():
    env = DiscreteCommandWrapper(gym.make("HiPER/ALFWorld-v0", split="valid_seen", max_episode_steps=5), 48)
    gym_check_env(env, skip_render_check=True)
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker", reason="pip install 'hiper[sb3]'")
    sb3_checker.check_env(env, warn=True)


def test_maskable_ppo_trains_on_it_unchanged():
    sb3_contrib = pytest.importorskip("sb3_contrib", reason="pip install 'hiper[sb3]'")
    env = DiscreteCommandWrapper(KeyDoorEnv(), max_actions=6)
    # tiny budget: one rollout of 32 steps and one update
    model = sb3_contrib.MaskablePPO("MlpPolicy", env, n_steps=32, batch_size=16, n_epochs=1, seed=0)
    model.learn(total_timesteps=32)
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=True)
    assert env.action_masks()[int(action)]
