"""Expert demonstrations for the SFT warm start, with and without DART-style noise."""

from __future__ import annotations

import gymnasium as gym
import pytest

import hiper_envs  # noqa: F401
from hiper_agent.prompts import PromptBuilder
from hiper_agent.sft import build_sft_examples, expert_episodes


@pytest.fixture(scope="module")
def expert_env():
    env = gym.make("HiPER/ALFWorld-v0", max_episode_steps=25, expert=True)
    yield env
    env.close()


def _actions(episodes):
    return [[(s["action"], s["noise"]) for s in steps] for steps in episodes]


def test_noisy_demos_recover_and_never_teach_the_random_action(expert_env):
    clean = list(expert_episodes(expert_env, 6, seed=3))
    noisy = list(expert_episodes(expert_env, 6, seed=3, noise=0.4))
    assert len(clean) == 6 and not any(s["noise"] for steps in clean for s in steps)
    disturbed = [s for steps in noisy for s in steps if s["noise"]]
    assert disturbed and len(noisy) >= 4  # the expert recovers from most disturbances within the step limit
    assert sum(map(len, noisy)) > sum(map(len, clean))
    assert all(not s["switch"] for s in disturbed)  # a disturbance stays inside the current option
    assert _actions(noisy) == _actions(expert_episodes(expert_env, 6, seed=3, noise=0.4))  # seeded

    prompts = PromptBuilder("alfworld", "compact", history_length=1, action_memory=12)
    examples = build_sft_examples(noisy, prompts)
    assert len(examples) == sum(not s["noise"] for steps in noisy for s in steps)
    # the step after a disturbance sees it in its history, and is a target
    steps = next(steps for steps in noisy if any(s["noise"] for s in steps[:-1]))
    k = next(i for i, s in enumerate(steps) if s["noise"])
    offset = sum(len([s for s in st if not s["noise"]]) for st in noisy[: noisy.index(steps)])
    after = examples[offset + sum(not s["noise"] for s in steps[:k])]
    assert steps[k]["action"] in after.prompt
    assert f"<action>{steps[k + 1]['action']}</action>" in after.response
