"""Task-level subgoals on real games: offered, read and verified along expert episodes of every task type."""

import pytest

from hiper_envs.alfworld.env import ALFWorldEnv
from hiper_envs.alfworld.spec import TASK_TYPES
from hiper_envs.alfworld.subgoals import base_name
from hiper_envs.options import OptionAction

NAVIGATION = ("go to ", "open ", "close ")


def play_and_check(env: ALFWorldEnv, seed: int = 0) -> list[int]:
    """Play the expert; at every step check the candidates and the new free-text forms. Returns option lengths."""
    _, info = env.reset(seed=seed)
    for subtask in env.game.subtasks:  # the agent starts in the middle of the room: nothing is in sight yet
        target = env.world.kind_names(subtask.pddl_params["object_target"])[0]
        assert env._subgoal_status(f"find a {target}") == "pending"
    lengths: list[int] = []
    while True:
        candidates = info["subgoal_candidates"]
        assert candidates and not any(c.startswith(NAVIGATION) for c in candidates), candidates
        for candidate in candidates:  # every offered subgoal is verifiable and still to do
            assert env._subgoal_status(candidate) == "pending", candidate
        assert len(candidates) == len(set(candidates))
        action, subgoal, switch = info["expert_action"], info["expert_subgoal"], info["expert_switch"]
        if switch:
            assert subgoal in candidates, (subgoal, candidates)  # what the expert does, the env offers
            lengths.append(0)
        lengths[-1] += 1
        verb, words = action.split()[0], action.split()
        if verb == "take":
            thing = base_name(action[5 : action.index(" from ")])
            assert env._subgoal_status(f"find the {thing}") == "achieved"  # it can be taken: it is in sight
            assert env._subgoal_status(f"look for some {thing}") == "achieved"
            assert env._subgoal_status(f"take a {thing}") == "pending"
        _, _, terminated, truncated, info = env.step(OptionAction(action=action, switch=switch, subgoal=subgoal))
        assert not info["invalid_action"]
        if verb == "take":
            assert env._subgoal_status(f"Take a {thing}.") == "achieved"
            assert env._subgoal_status(f"search for {thing}") == "achieved"  # held counts as found
        elif verb in ("clean", "heat", "cool"):
            thing, appliance = base_name(" ".join(words[1:3])), base_name(" ".join(words[4:]))
            assert env._subgoal_status(f"{verb} the {thing} with {appliance}") == "achieved"
            assert env._subgoal_status(f"{verb} the {thing} with the {appliance}s") == "achieved"
        elif verb == "use":
            assert env._subgoal_status(f"turn on the {base_name(' '.join(words[1:]))}") == "achieved"
        elif verb == "move":
            thing, recep = action[5:].split(" to ")
            assert env._subgoal_status(f"put the {thing} in the {base_name(recep)}") == "achieved"
            assert env._subgoal_status(f"bring {thing} to {recep}") == "achieved"
        if terminated or truncated:
            break
    assert info["won"] and terminated
    return lengths


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_task_level_subgoals_on_each_task_type(task_type):
    env = ALFWorldEnv(split="valid_seen", task_types=[task_type], num_games=2, expert=True)
    lengths = play_and_check(env, seed=0) + play_and_check(env, seed=1)
    assert all(n >= 1 for n in lengths) and max(lengths) >= 2
    env.close()


def test_task_level_subgoals_on_composite_games():
    env = ALFWorldEnv(split="valid_seen", num_subtasks=2, num_games=3, expert=True)
    for seed in range(3):
        _, info = env.reset(seed=seed)
        assert info["subtask"] in info["subgoal_candidates"] and info["task"] in info["subgoal_candidates"]
        play_and_check(env, seed=seed)
    env.close()


def test_navigation_is_still_read_and_verified():
    env = ALFWorldEnv(split="valid_seen", num_games=2)
    _, info = env.reset(seed=0)
    command = next(c for c in info["admissible_commands"] if c.startswith("go to "))
    receptacle = command[len("go to ") :]
    for text in (command, f"walk to the {receptacle}", f"find the {base_name(receptacle)}"):
        assert env._subgoal_status(text) == "pending", text
    env.step(command)
    for text in (command, f"walk to the {receptacle}"):
        assert env._subgoal_status(text) == "achieved", text
    env.close()
