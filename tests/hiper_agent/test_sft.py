"""Expert demonstrations through the option protocol, turned into SFT examples with the policy's own prompts."""

from __future__ import annotations

import gymnasium as gym
import pytest

import hiper_envs  # noqa: F401
from hiper_agent.policies.llm.sft import build_sft_examples
from hiper_agent.policies.prompts import PromptBuilder
from hiper_agent.rollout.expert import expert_episodes
from hiper_envs.options import parse_response


@pytest.fixture(scope="module")
def expert_env():
    env = gym.make("HiPER/ALFWorld-v0", max_episode_steps=25, expert=True)
    yield env
    env.close()


def test_demonstrations_become_three_block_examples_with_the_policys_prompts(expert_env):
    episodes = list(expert_episodes(expert_env, 4, seed=3))
    assert len(episodes) == 4
    assert [[s["action"] for s in e] for e in episodes] == [
        [s["action"] for s in e] for e in expert_episodes(expert_env, 4, seed=3)
    ]  # seeded
    prompts = PromptBuilder("alfworld", "compact", history_length=1, action_memory=12)
    examples = build_sft_examples(episodes, prompts)
    assert len(examples) == sum(map(len, episodes))
    steps = [s for e in episodes for s in e]
    for example, step in zip(examples, steps, strict=True):
        parsed = parse_response(example.response)
        assert (parsed.switch, parsed.subgoal, parsed.action) == (step["switch"], step["subgoal"], step["action"])
        assert step["action"] in step["info"]["admissible_commands"]
    first = episodes[0]
    assert first[0]["switch"] and len(first) >= 3
    # a later prompt shows the earlier actions (the last step in full, those before it in the action memory)
    later = examples[len(first) - 1].prompt
    assert all(s["action"] in later for s in first[:-1])


def test_expert_episodes_needs_an_expert_env():
    env = gym.make("HiPER/ALFWorld-v0", max_episode_steps=25)
    with pytest.raises(ValueError, match="expert=True"):
        next(expert_episodes(env, 1, seed=0))
    env.close()
