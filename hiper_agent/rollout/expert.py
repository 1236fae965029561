"""Expert demonstrations: play an env's own expert (``expert=True``) through the option protocol.

The warm start of every policy family learns from these episodes (SFT for the LLM, behaviour cloning for the
scorer), and the tiny LLM's tokenizer is trained on their text. The expert comes from the env alone: an env made
with ``expert=True`` reports ``expert_action`` and ``expert_subgoal`` in ``info``, and the expert SWITCHes whenever
its subgoal changes, so the same code serves every env that has an expert.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gymnasium as gym

__all__ = ["expert_episodes"]


def expert_episodes(env: gym.Env, num_episodes: int, seed: int) -> Iterator[list[dict[str, Any]]]:
    """Play the env's expert (``info["expert_action"]``) for ``num_episodes`` episodes.

    Yields, per won episode, the steps as dicts ``{observation, info, switch, subgoal, action}``, where ``info``
    is the ``info`` the agent saw *before* acting. Episodes the expert fails (should not happen) are skipped.
    """
    for episode in range(num_episodes):
        obs, info = env.reset(seed=seed + episode)
        if "expert_action" not in info:
            raise ValueError("expert_episodes needs an env made with expert=True (info has no 'expert_action')")
        steps, previous_subgoal, done = [], None, False
        while not done:
            subgoal, action = info["expert_subgoal"], info["expert_action"]
            switch = previous_subgoal is None or subgoal != previous_subgoal
            steps.append({"observation": obs, "info": info, "switch": switch, "subgoal": subgoal, "action": action})
            obs, _, terminated, truncated, info = env.step({"action": action, "switch": switch, "subgoal": subgoal})
            previous_subgoal, done = subgoal, terminated or truncated
        if info.get("won"):
            yield steps
