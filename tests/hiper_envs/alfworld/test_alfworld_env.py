"""HiPER/ALFWorld-v0: Gymnasium conformance, protocol info keys, seeding, episode end, stock-engine parity."""

import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import hiper_envs  # noqa: F401  (registers the ids)
from hiper_envs.alfworld.env import ALFWorldEnv
from hiper_envs.checker import check_option_env, check_option_info

ENV_ID = "HiPER/ALFWorld-v0"
# A few valid_seen games keep the suite fast; every test draws from the same ones (the source caches them).
SMALL = {"split": "valid_seen", "num_games": 4}

# ALFWorld's own info keys, on top of the protocol's (hiper_envs.checker.PROTOCOL_INFO_KEYS)
ALFWORLD_KEYS = {"game_id": str, "subtask_index": int, "subtasks_done": int, "num_subtasks": int, "subtask": str}


def check_info(info, expert=False):
    check_option_info(info)
    for key, kind in ALFWORLD_KEYS.items():
        assert isinstance(info[key], kind), (key, info.get(key))
    assert "help" not in info["admissible_commands"]
    assert all(isinstance(c, str) for c in info["admissible_commands"] + info["subgoal_candidates"])
    assert len(info["subgoal_candidates"]) <= 30
    if expert and "expert_action" in info:
        assert info["expert_action"] in info["admissible_commands"]
        assert isinstance(info["expert_subgoal"], str) and isinstance(info["expert_switch"], bool)


def random_rollout(env, seed, steps):
    rng = random.Random(seed)
    obs, info = env.reset(seed=seed)
    transcript = [obs, info["task"]]
    for _ in range(steps):
        command = rng.choice(info["admissible_commands"])
        obs, reward, terminated, truncated, info = env.step(command)
        transcript += [command, obs, reward, terminated, truncated, info["subgoal_candidates"]]
        if terminated or truncated:
            break
    return transcript


def test_option_protocol_conformance():
    check_option_env(gym.make(ENV_ID, **SMALL), skip_gymnasium_checks=True)


def test_check_env_unwrapped():
    env = ALFWorldEnv(**SMALL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert not [w for w in caught if "render" not in str(w.message)], [str(w.message) for w in caught]
    env.close()


def test_check_env_through_make_and_passive_checker():
    env = gym.make(ENV_ID, **SMALL)
    check_env(env.unwrapped, skip_render_check=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the passive checker must have nothing to say on a rollout
        transcript = random_rollout(env, seed=3, steps=10)
    assert transcript
    env.close()


def test_registered_spec():
    spec = gym.spec(ENV_ID)
    assert spec.entry_point == "hiper_envs.alfworld.env:ALFWorldEnv"
    assert spec.max_episode_steps is None  # the env truncates itself at 50 * K
    assert [w.entry_point for w in spec.additional_wrappers] == ["hiper_envs.core:SyncTimeLimit"]


def test_info_keys_at_reset_and_every_step():
    env = gym.make(ENV_ID, **SMALL, expert=True)
    obs, info = env.reset(seed=0)
    check_info(info, expert=True)
    assert obs.startswith("-= Welcome to TextWorld, ALFRED! =-")
    assert f"Your task is to: {info['task']}." in obs
    assert info["task"] in info["subgoal_candidates"]
    rng = random.Random(0)
    for _ in range(15):
        obs, _, terminated, truncated, info = env.step(rng.choice(info["admissible_commands"]))
        check_info(info, expert=True)
        if terminated or truncated:
            break
    env.close()


def test_same_seed_same_task_and_transcript():
    env_a, env_b = gym.make(ENV_ID, **SMALL), gym.make(ENV_ID, **SMALL)
    assert random_rollout(env_a, seed=7, steps=30) == random_rollout(env_b, seed=7, steps=30)
    tasks = {env_a.reset(seed=s)[1]["task_id"] for s in range(8)}
    assert len(tasks) > 1  # different seeds reach different games
    env_a.close()
    env_b.close()


def test_options_pick_a_game():
    env = ALFWorldEnv(**SMALL)
    _, info = env.reset(options={"game_index": 2})
    _, again = env.reset(options={"game_id": info["game_id"]})
    assert again["game_id"] == info["game_id"] == env.task_source[2].game_id
    with pytest.raises(ValueError):
        env.reset(options={"game_index": 99})
    with pytest.raises(ValueError):
        env.reset(options={"game_id": "no-such-game"})
    env.close()


def test_walkthrough_wins_and_terminates():
    env = ALFWorldEnv(**SMALL)
    obs, info = env.reset(options={"game_index": 0})
    walkthrough = env.game.game["walkthrough"]
    for i, command in enumerate(walkthrough):
        assert not info["won"]
        obs, reward, terminated, truncated, info = env.step(command)
        assert not info["invalid_action"], obs
        assert terminated == (i == len(walkthrough) - 1)
    assert reward == 1.0 and info["won"] and info["score"] == 1.0 and not truncated
    assert info["subtasks_done"] == 1 and info["subtask_index"] == 1
    with pytest.raises(RuntimeError):
        env.step("look")
    env.close()


def test_truncation_and_default_step_limit():
    assert ALFWorldEnv(**SMALL).max_episode_steps == 50
    env = ALFWorldEnv(**SMALL, max_episode_steps=3)
    env.reset(seed=0)
    flags = [env.step("look")[3] for _ in range(3)]
    assert flags == [False, False, True]
    env.close()


@pytest.mark.parametrize("steps", [4, 60])  # below and above the env's default of 50
def test_make_max_episode_steps_reaches_the_env(steps):
    # Gymnasium's make keeps the keyword for its TimeLimit; SyncTimeLimit hands it to the env (issue 11).
    env = gym.make(ENV_ID, **SMALL, max_episode_steps=steps)
    assert env.unwrapped.max_episode_steps == steps and env.spec.max_episode_steps == steps
    _, info = env.reset(seed=0)
    assert info["max_episode_steps"] == steps
    flags = []
    for _ in range(steps):
        _, _, terminated, truncated, info = env.step("look")
        flags.append((terminated, truncated))
    assert flags == [(False, False)] * (steps - 1) + [(False, True)]
    assert info["max_episode_steps"] == steps and info["elapsed_steps"] == steps
    again = gym.make(env.spec)  # the spec carries the budget and the wrapper
    assert again.unwrapped.max_episode_steps == steps
    env.close()
    again.close()


def test_make_without_max_episode_steps_keeps_the_default():
    env = gym.make(ENV_ID, **SMALL, num_subtasks=2)
    assert env.unwrapped.max_episode_steps == 100 and env.spec.max_episode_steps is None
    env.close()
    env = gym.make(ENV_ID, **SMALL, max_episode_steps=-1)  # Gymnasium's "no TimeLimit"
    assert env.unwrapped.max_episode_steps == 50
    env.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec_max_episode_steps_reaches_the_envs(mode):
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode=mode, max_episode_steps=3, **SMALL)
    try:
        _, infos = envs.reset(seed=0)
        assert list(infos["max_episode_steps"]) == [3, 3]
        for step in range(1, 4):
            _, _, terminated, truncated, infos = envs.step(["look", "look"])
            assert list(infos["max_episode_steps"]) == [3, 3] and list(infos["elapsed_steps"]) == [step, step]
            assert not terminated.any() and list(truncated) == [step == 3] * 2
    finally:
        envs.close()


def test_invalid_actions_do_not_change_state():
    env = ALFWorldEnv(**SMALL)
    obs0, info0 = env.reset(seed=1)
    for action in ["help", "fly to the moon", "", None, 42]:
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["invalid_action"] and obs.startswith("Nothing happens.") and reward == 0.0
        assert info["admissible_commands"] == info0["admissible_commands"]
    env.close()


def test_render_ansi():
    env = ALFWorldEnv(**SMALL, render_mode="ansi")
    obs, _ = env.reset(seed=0)
    assert env.render() == obs
    env.close()


def test_make_vec_async():
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="async", **SMALL)
    try:
        obs, infos = envs.reset(seed=[0, 0])
        assert obs[0] == obs[1]  # one seed, one task: what group-based RL needs
        for _ in range(3):
            actions = [str(infos["admissible_commands"][i][0]) for i in range(2)]
            obs, rewards, terminated, truncated, infos = envs.step(actions)
            assert len(obs) == 2 and np.asarray(rewards).shape == (2,)
    finally:
        envs.close()


def test_constructor_rejects_bad_arguments():
    with pytest.raises(ValueError):
        ALFWorldEnv(**SMALL, num_subtasks=0)
    with pytest.raises(ValueError):
        ALFWorldEnv(**SMALL, max_episode_steps=0)


def test_composite_stages_in_order():
    env = ALFWorldEnv(split="valid_seen", num_games=2, num_subtasks=3, expert=True)
    obs, info = env.reset(options={"game_index": 0})
    assert env.max_episode_steps == 150 and info["num_subtasks"] == 3 and info["task_type"] == "composite"
    assert info["subtask"] == env.game.subtasks[0].goal and info["subtask"] in info["subgoal_candidates"]
    done_counts = [0]
    terminated = truncated = False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        done_counts.append(info["subtasks_done"])
        if info["subtasks_done"] < 3:
            assert reward == 0.0 and info["subtask"] == env.game.subtasks[info["subtask_index"]].goal
    assert info["won"] and terminated and reward == 1.0
    assert done_counts == sorted(done_counts) and set(done_counts) == {0, 1, 2, 3}
    env.close()


def _children(pid):
    """Live child processes of ``pid`` (read from /proc: spawning ``ps`` would count itself)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry))
    return out


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_close_leaves_no_processes_or_temp_files():
    before_files, before_children = set(os.listdir(tempfile.gettempdir())), set(_children(os.getpid()))
    env = gym.make(ENV_ID, **SMALL, expert=True)
    random_rollout(env, seed=0, steps=5)
    env.close()
    env.close()  # idempotent
    assert set(os.listdir(tempfile.gettempdir())) - before_files == set()
    assert set(_children(os.getpid())) - before_children == set()


def test_transcript_matches_the_stock_stack(tmp_path):
    import textworld
    import textworld.gym
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

    env = ALFWorldEnv(**SMALL)
    obs, info = env.reset(options={"game_index": 1})
    path = tmp_path / "game.tw-pddl"
    path.write_text(json.dumps(env.game.game))
    request = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
    env_id = textworld.gym.register_game(str(path), request, wrappers=[AlfredDemangler(), AlfredInfos])
    stock = textworld.gym.make(env_id)
    stock_obs, stock_infos = stock.reset()
    assert obs == stock_obs
    rng = random.Random(0)
    for _ in range(20):
        assert info["admissible_commands"] == [c for c in stock_infos["admissible_commands"] if c != "help"]
        command = rng.choice(info["admissible_commands"])
        obs, _, terminated, _, info = env.step(command)
        stock_obs, _, stock_done, stock_infos = stock.step(command)
        assert obs == stock_obs and terminated == stock_done == info["won"] == stock_infos["won"]
        if terminated:
            break
    stock.close()
    env.close()


def test_benchmark_smoke():
    script = pathlib.Path(__file__).parents[3] / "benchmarks" / "bench_alfworld.py"
    out = subprocess.run(
        [sys.executable, str(script), "--games", "1", "--steps", "5"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "transcripts identical: yes" in out.stdout and "steps/s ratio env/stock" in out.stdout
