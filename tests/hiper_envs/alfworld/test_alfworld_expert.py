"""The planner expert: wins every task type and composite games, segments agree with the env's subgoal checks."""

import random

import gymnasium as gym
import pytest

import hiper_envs  # noqa: F401
from hiper_envs.alfworld.demonstrations import ExpertEpisode, expert_demonstrations
from hiper_envs.alfworld.env import ALFWorldEnv
from hiper_envs.alfworld.spec import TASK_TYPES
from hiper_envs.alfworld.subgoals import parse_subgoal


def check_segments(episode: ExpertEpisode):
    """Every segment is pending until its last step and achieved right after it; option ids follow the switches."""
    infos_after = [step.info for step in episode.steps[1:]] + [episode.final_info]
    option_id = -1
    for step, after in zip(episode.steps, infos_after, strict=True):
        option_id += step.switch
        assert after["option_id"] == option_id and after["subgoal"] == step.subgoal
        assert step.action in step.info["admissible_commands"]
        if step.switch:  # the expert's subgoals are among the env's candidates (a scorer can pick them)
            assert step.subgoal in step.info["subgoal_candidates"], (step.subgoal, step.info["subgoal_candidates"])
    segments = episode.segments
    assert episode.steps[0].switch and len(segments) == sum(s.switch for s in episode.steps)
    position = 0
    for subgoal, steps in segments:
        statuses = [infos_after[position + i]["subgoal_status"] for i in range(len(steps))]
        assert statuses == ["pending"] * (len(steps) - 1) + ["achieved"], (subgoal, statuses)
        position += len(steps)
    assert any(len(steps) > 1 for _, steps in segments)  # options span several steps


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_expert_wins_each_task_type(task_type):
    env = ALFWorldEnv(split="valid_seen", task_types=[task_type], num_games=1, expert=True)
    (episode,) = expert_demonstrations(env, n=1, seed=0)
    assert episode.won and episode.task_type == task_type
    assert episode.steps[-1].reward == 1.0 and len(episode.steps) <= 50
    check_segments(episode)
    env.close()


def test_expert_wins_composite_games_in_order():
    episodes = list(expert_demonstrations({"split": "valid_seen", "num_subtasks": 3, "num_games": 2}, n=2, seed=0))
    assert len(episodes) == 2
    for episode in episodes:
        assert episode.won and episode.task_type == "composite"
        done = [step.info["subtasks_done"] for step in episode.steps] + [episode.final_info["subtasks_done"]]
        assert done == sorted(done) and done[-1] == 3
        check_segments(episode)


def test_demonstrations_are_reproducible_and_sft_ready():
    kwargs = {"split": "valid_seen", "num_games": 4}
    first = list(expert_demonstrations(kwargs, n=2, seed=5))
    again = list(expert_demonstrations(kwargs, n=2, seed=5))
    assert [[s.response for s in e.steps] for e in first] == [[s.response for s in e.steps] for e in again]
    step = first[0].steps[0]
    assert step.observation.startswith("-= Welcome to TextWorld, ALFRED! =-") and step.switch
    assert (
        step.response == f"<switch>SWITCH</switch>\n<subgoal>{step.subgoal}</subgoal>\n<action>{step.action}</action>"
    )


def test_expert_labels_are_canonical_subgoals():
    (episode,) = expert_demonstrations({"split": "valid_seen", "num_games": 4}, n=1, seed=1)
    env = ALFWorldEnv(split="valid_seen", num_games=4)
    env.reset(seed=1)
    for step in episode.steps:
        assert parse_subgoal(step.subgoal, env.world) is not None, step.subgoal
    env.close()


def test_expert_recovers_after_random_detour():
    env = gym.make("HiPER/ALFWorld-v0", split="valid_seen", num_games=4, expert=True)
    obs, info = env.reset(seed=2)
    rng = random.Random(0)
    for _ in range(6):  # wander off the plan first
        obs, _, terminated, truncated, info = env.step(rng.choice(info["admissible_commands"]))
        assert not (terminated or truncated)
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
    assert info["won"] and terminated
    env.close()


def test_searching_expert_looks_elsewhere_first_and_still_wins():
    kwargs = {"split": "valid_seen", "num_games": 12}
    plain = list(expert_demonstrations(kwargs, n=12, seed=0))
    searching = list(expert_demonstrations({**kwargs, "expert_search": 0.6}, n=12, seed=0))
    again = list(expert_demonstrations({**kwargs, "expert_search": 0.6}, n=12, seed=0))
    assert [[s.action for s in e.steps] for e in searching] == [[s.action for s in e.steps] for e in again]
    assert all(e.won for e in searching)
    assert sum(len(e.steps) for e in searching) > sum(len(e.steps) for e in plain)
    detours = 0
    for episode in searching:
        check_segments(episode)
        for subgoal, steps in episode.segments:
            if not subgoal.startswith("take "):
                continue
            visits = [s.action for s in steps if s.action.startswith("go to ")]
            detours += len(visits) - 1
            assert len(set(visits)) == len(visits)  # never the same receptacle twice
            # one option however long the search: it ends when an object of the kind is taken (any of them)
            assert steps[-1].action.startswith(f"take {subgoal.split()[1]} "), (subgoal, steps[-1].action)
    assert detours >= 6
    with pytest.raises(ValueError, match="search"):
        ALFWorldEnv(split="valid_seen", num_games=1, expert=True, expert_search=1.0)


def test_expert_needs_expert_env():
    env = ALFWorldEnv(split="valid_seen", num_games=4)
    with pytest.raises(ValueError, match="expert=True"):
        next(expert_demonstrations(env, n=1))
    env.close()


def _random_agent_wins(env, seed, index):
    rng = random.Random(seed)
    obs, info = env.reset(seed=seed, options={"game_index": index})
    terminated = truncated = False
    while not (terminated or truncated):
        obs, _, terminated, truncated, info = env.step(rng.choice(info["admissible_commands"]))
    return info["won"]


@pytest.mark.slow
def test_done_when_sweep():
    """The issue's bar: the expert wins 60 valid_seen games (10 of each type) and 20 composite K=3 games; a random
    admissible-action agent wins clearly fewer of the same games."""
    sources = [{"split": "valid_seen", "task_types": [t], "num_games": 10} for t in TASK_TYPES]
    sources.append({"split": "valid_seen", "num_subtasks": 3, "num_games": 20})
    expert_wins = random_wins = total = 0
    for kwargs in sources:
        env = ALFWorldEnv(**kwargs, expert=True)
        indices = list(range(kwargs["num_games"]))
        for episode in expert_demonstrations(env, seed=0, game_indices=indices):
            expert_wins += episode.won
            total += 1
        env.close()
        env = ALFWorldEnv(**kwargs)  # no expert: it would replan after every random step
        random_wins += sum(_random_agent_wins(env, seed, index) for seed, index in enumerate(indices))
        env.close()
    print(f"expert won {expert_wins}/{total}, random agent won {random_wins}/{total}")
    assert total == 80 and expert_wins == total
    assert random_wins < total / 2, random_wins


def test_expert_plan_length_counts_down_and_rises_after_a_harmful_step():
    env = gym.make("HiPER/ALFWorld-v0", split="valid_seen", num_games=4, expert=True)
    obs, info = env.reset(seed=1)
    lengths = [info["expert_plan_length"]]
    terminated = False
    while not terminated:
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        lengths.append(info.get("expert_plan_length", 0))  # no expert keys once the game is won
    assert lengths == list(range(lengths[0], -1, -1)) and lengths[0] >= 2  # one less per optimal step
    # taking an object the goal does not need makes the plan longer (it must be put down again)
    obs, info = env.reset(seed=1)
    before = info["expert_plan_length"]
    for command in info["admissible_commands"]:
        if command.startswith("go to "):
            obs, _, _, _, info = env.step(command)
            takes = [c for c in info["admissible_commands"] if c.startswith("take ")]
            if takes and info["expert_action"] not in takes:
                obs, _, _, _, info = env.step(takes[0])
                assert info["expert_plan_length"] > before
                break
    else:
        pytest.fail("no receptacle with an object the goal does not need")
    env.close()
