"""The env over HTTP against a real server on loopback: identical transcripts, concurrent sessions, the CLI."""

import html
import logging
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("waitress", reason="the webshop extra is not installed")
requests = pytest.importorskip("requests", reason="the webshop extra is not installed")

from hiper_envs.webshop import WebShopEnv  # noqa: E402


@pytest.fixture(scope="module")
def server_url():
    import waitress

    from webshop_server.app import create_app

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # 64 clients on 8 threads queue up: expected
    server = waitress.create_server(create_app({"TESTING": True}), host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


def transcript(env, goal, seed):
    """An episode mixing expert steps, random clicks and junk; every observation, reward and key info."""
    rng = random.Random(seed)
    obs, info = env.reset(seed=seed, options={"game_index": goal})
    out = [(obs, info["admissible_commands"], info["subgoal_candidates"], info["url"])]
    for _ in range(env.max_episode_steps):
        roll = rng.random()
        if roll < 0.6:
            action = info["expert_action"]
        elif roll < 0.9:
            action = rng.choice(info["admissible_commands"])
        else:
            action = rng.choice(["click[nowhere]", "search[<b>x</b>]", "search[ Shampoo / Conditioner ]"])
        obs, reward, terminated, truncated, info = env.step(action)
        out.append((obs, reward, terminated, truncated, info["admissible_commands"], info["url"], info["won"]))
        if terminated or truncated:
            break
    return out


@pytest.mark.parametrize("mode", ["text", "text_rich", "html"])
def test_in_process_and_http_transcripts_are_identical(server_url, mode):
    local = WebShopEnv(observation_mode=mode, expert=True)
    remote = WebShopEnv(observation_mode=mode, expert=True, server_url=server_url)
    goals = range(10) if mode == "text" else range(3)
    for goal in goals:
        assert transcript(local, goal, seed=goal) == transcript(remote, goal, seed=goal)
    remote.close()


@pytest.mark.parametrize("query", [".", "..", "...", ". ..", "%2e%2e"])
def test_dot_searches_are_the_same_over_http(server_url, query):
    local, remote = WebShopEnv(), WebShopEnv(server_url=server_url)
    assert local.reset(seed=1) == remote.reset(seed=1)
    a, b = local.step(f"search[{query}]"), remote.step(f"search[{query}]")
    assert a == b and not a[4]["invalid_action"] and "Total results" in a[0]
    assert local.step("click[back to search]") == remote.step("click[back to search]")
    remote.close()


def test_64_concurrent_sessions_get_their_own_reward(server_url):
    def shop(i):
        env = WebShopEnv(server_url=server_url, expert=True)
        obs, info = env.reset(options={"game_index": i})
        while True:
            clicks = [c for c in info["admissible_commands"] if c.startswith("click[b0")]
            if i % 2 == 0 or info["url"] == f"/fixed_{i}":  # the expert (reward 1.0) or its search
                action = info["expert_action"]
            else:  # then the last product shown, bought without options: this session's partial reward
                action = clicks[-1] if clicks else "click[buy now]"
            obs, reward, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                env.close()
                return i, reward, info.get("reward_info"), env.goal_indices[i]

    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(shop, range(64)))
    local = WebShopEnv()
    for i, reward, reward_info, goal_index in results:
        assert reward_info is not None and reward_info["total"] == reward
        assert goal_index == i
        if i % 2 == 0:
            assert reward == 1.0
        local.reset(options={"game_index": i})
        assert local.goal["instruction_text"] in html.unescape(requests.get(f"{server_url}/fixed_{i}", timeout=10).text)
    assert sum(r == 1.0 for _, r, _, _ in results) < 64  # the odd sessions really bought something else


def test_server_with_another_catalog_is_refused(server_url):
    env = WebShopEnv(server_url=server_url, num_products=200)
    with pytest.raises(RuntimeError, match="same catalog"):
        env.reset(seed=0)


def test_cli_serves_on_loopback(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "webshop_server", "--port", str(port), "--num-products", "100"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(200):
            try:
                r = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert r.json()["products"] == 100
        assert requests.get(f"http://127.0.0.1:{port}/fixed_0", timeout=5).status_code == 200
        assert r.headers["Server"] == "webshop"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
