"""``HiPER/WebShop-v0``: Gymnasium and protocol conformance, modes, budget, splits, subgoals, expert vs random."""

import random

import gymnasium as gym
import numpy as np
import pytest

import hiper_envs
from hiper_envs.webshop import WebShopEnv
from hiper_envs.webshop.subgoals import parse_subgoal, search_candidates


def play_expert(env, index):
    obs, info = env.reset(options={"game_index": index})
    while True:
        obs, reward, terminated, truncated, info = env.step(
            {"action": info["expert_action"], "switch": True, "subgoal": info["expert_subgoal"]}
        )
        assert not info["invalid_action"], info["action"]
        if terminated or truncated:
            return reward, info


def test_env_checkers():
    from gymnasium.utils.env_checker import check_env

    env = WebShopEnv()
    check_env(env, skip_render_check=True)
    hiper_envs.check_option_env(WebShopEnv(), skip_gymnasium_checks=True)


def test_first_observation_is_upstreams_search_page():
    env = WebShopEnv()
    obs, info = env.reset(seed=0, options={"game_index": 3})
    assert obs == f"WebShop [SEP] Instruction: [SEP] {info['task']} [SEP] Search"
    assert info["task_type"] == "webshop" and info["goal_index"] == 3 and info["url"] == "/fixed_3"
    assert [c for c in info["admissible_commands"] if c.startswith("search[")] == [
        f"search[{q}]" for q in search_candidates(info["task"])
    ]
    assert not any(c.startswith("click[") for c in info["admissible_commands"])


def test_any_search_is_accepted_and_pages_work():
    env = WebShopEnv(observation_mode="text_rich")
    env.reset(seed=0, options={"game_index": 0})
    obs, reward, terminated, truncated, info = env.step("SEARCH[  Blue   Running SHOES ]")
    assert info["action"] == "search[blue running shoes]" and not info["invalid_action"]
    assert "Page 1 (Total results: 50)" in obs and "[button] Next > [button_]" in obs
    asin = next(c for c in info["admissible_commands"] if c.startswith("click[b0"))
    obs, *_, info = env.step(asin)
    assert "[button] Buy Now [button_]" in obs and info["url"].startswith("/item_page/")
    obs, *_, info = env.step("search[shampoo]")  # no search box on an item page
    assert info["invalid_action"] and obs.startswith("Nothing happens.")
    obs, *_, info = env.step("click[< prev]")
    assert f"[clicked button] {asin[6:-1].upper()} [clicked button_]" in obs  # visited product
    obs, *_, info = env.step("click[next >]")
    assert "Page 2 (Total results: 50)" in obs and "click[< prev]" in info["admissible_commands"]


def test_html_mode_and_modes_validated():
    env = WebShopEnv(observation_mode="html")
    obs, _ = env.reset(seed=0)
    assert obs.startswith("<!DOCTYPE html>") and 'id="search_input"' in obs
    with pytest.raises(ValueError, match="observation_mode"):
        WebShopEnv(observation_mode="pixels")
    with pytest.raises(ValueError, match="game_index"):
        env.reset(options={"game_index": 500})


def test_same_seed_same_goal():
    a, b = WebShopEnv(split="train"), WebShopEnv(split="train")
    assert a.reset(seed=7)[1]["goal_index"] == b.reset(seed=7)[1]["goal_index"]
    assert 1500 <= a.reset(seed=8)[1]["goal_index"]


@pytest.mark.parametrize("steps", [None, 4, 30])
def test_make_honours_max_episode_steps(steps):
    kwargs = {} if steps is None else {"max_episode_steps": steps}
    env = gym.make("HiPER/WebShop-v0", **kwargs)
    env.reset(seed=0)
    n = 0
    while True:
        n += 1
        *_, terminated, truncated, info = env.step("click[nothing here]")
        if truncated or n > 100:
            break
    assert n == (steps or 15) == info["max_episode_steps"]
    env.close()


def test_async_vector_env():
    # Gymnasium 1.4's shared memory cannot carry Text observations (it reads them once, as a tuple, at start-up:
    # every later observation comes back as spaces), so text envs run without it.
    envs = gym.make_vec(
        "HiPER/WebShop-v0", num_envs=2, vectorization_mode="async", vector_kwargs={"shared_memory": False}
    )
    obs, info = envs.reset(seed=0)
    assert all(o.startswith("WebShop [SEP] Instruction:") for o in obs)
    obs, reward, terminated, truncated, info = envs.step(["search[shampoo]", "click[nothing]"])
    assert list(info["invalid_action"]) == [False, True] and "Total results" in obs[0]
    envs.close()


def test_subgoals_are_verified_from_the_session():
    env = WebShopEnv(expert=True)
    obs, info = env.reset(seed=0, options={"game_index": 1})
    query = info["expert_action"][7:-1]
    _, _, _, _, info = env.step({"action": info["expert_action"], "switch": True, "subgoal": f"search for {query}"})
    assert info["subgoal_status"] == "achieved"
    assert "open a matching product" in info["subgoal_candidates"]
    _, _, _, _, info = env.step({"action": info["expert_action"], "switch": True, "subgoal": "open a matching product"})
    assert info["subgoal_status"] == "achieved"
    assert env._subgoal_status("buy the product") == "pending"
    assert env._subgoal_status("dance a little") == "unknown"
    assert parse_subgoal("Choose color: Navy Blue.") == ("choose", "color: navy blue")
    assert parse_subgoal("search for") is None


def test_expert_wins_the_first_test_goals():
    env = WebShopEnv(expert=True)
    rewards = [play_expert(env, i)[0] for i in range(100)]
    assert rewards == [1.0] * 100


def test_random_agent_scores_far_lower():
    env = WebShopEnv()
    rng = random.Random(0)
    rewards = []
    for i in range(40):
        obs, info = env.reset(seed=i, options={"game_index": i})
        while True:
            obs, reward, terminated, truncated, info = env.step(rng.choice(info["admissible_commands"]))
            if terminated or truncated:
                rewards.append(reward)
                break
    assert np.mean(rewards) < 0.5 and sum(r == 1.0 for r in rewards) <= 4


def test_won_and_score_follow_the_reward():
    env = WebShopEnv()
    env.reset(seed=0, options={"game_index": 2})
    goal = env.goal
    env.step(f"search[{goal['query']}]")
    # Buy a product of another type: reward < 1, not won, score = reward.
    other = next(a for a in env.catalog.products if env.catalog.products[a]["query"] != goal["query"])
    from webshop_server.state import State

    env._show(env._backend.get(State("item", "x", 1, other).path(env._session)))
    obs, reward, terminated, truncated, info = env.step("click[buy now]")
    assert terminated and not info["won"] and info["score"] == reward < 1.0
    assert info["reward_info"]["total"] == reward and "Thank you for shopping with us!" in obs


def test_expert_plan_length_counts_down_along_the_expert():
    env = WebShopEnv(expert=True)
    for i in range(20):
        obs, info = env.reset(options={"game_index": i})
        lengths = [info["expert_plan_length"]]
        while True:
            obs, reward, terminated, truncated, info = env.step(info["expert_action"])
            if terminated or truncated:
                break
            lengths.append(info["expert_plan_length"])
        assert lengths == list(range(len(lengths), 0, -1))  # one step fewer each step, 1 before buying
    # Off the plan, the plan grows: back on the search page after a search, it must search again.
    obs, info = env.reset(options={"game_index": 0})
    start = info["expert_plan_length"]
    env.step(info["expert_action"])
    *_, info = env.step("click[back to search]")
    assert info["expert_plan_length"] == start
