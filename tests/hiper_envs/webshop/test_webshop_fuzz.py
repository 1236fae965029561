"""Bad input never raises out of step(), and both backends (in process, over HTTP) answer every action alike.

Random actions of every shape (valid commands mixed in, OptionActions with wrong field types, junk text with
surrogates, dots, brackets and URL escapes) drive the env. The default run takes a few thousand actions; the
``slow`` run replays 50,000 fuzzed actions through both backends in lock step (100,000 env actions) against a
``python -m webshop_server`` child process, comparing every transcript entry and watching the server's memory.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading

import pytest

from hiper_envs.options import OptionAction
from hiper_envs.webshop import WebShopEnv


@dataclasses.dataclass
class WrongFields:
    act: str = "click[buy now]"


class RaisingMapping(dict):
    def get(self, key, default=None):
        raise RuntimeError("boom")


_ALPHABET = "abc .<>/|{}[]#;\"'\\\n\t\r\x00\x1b\u00e9\u4e2d\U0001f600\u202e\u0301\ud800%?&=\u203a"


def _junk(rng: random.Random, n: int = 40) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, n)))


def fuzz_action(rng: random.Random, admissible: list[str]):
    """One fuzzed action: often an admissible one (so episodes progress), else anything."""
    valid = rng.choice(admissible) if admissible else "search[x]"
    if rng.random() < 0.4:
        return valid
    choices = [
        lambda: valid.upper() + "  ",
        lambda: f"<switch>SWITCH</switch><subgoal>{_junk(rng)}</subgoal><action>{valid}</action>",
        lambda: OptionAction(action=valid, switch=rng.random() < 0.5, subgoal=_junk(rng) or None),
        lambda: {"action": valid, "switch": rng.choice(["KEEP", "SWITCH", "maybe", 1, None, 2.5]), "subgoal": "buy"},
        lambda: OptionAction(action=rng.choice([None, 123, b"x", ["click[buy now]"], 1.5])),  # type: ignore[arg-type]
        lambda: OptionAction(action=valid, subgoal=rng.choice([5, b"s", ["a"], {"x": 1}])),  # type: ignore[arg-type]
        lambda: OptionAction(action=valid, switch=rng.choice([[1], "yes", 3, object()])),  # type: ignore[arg-type]
        lambda: f"search[{rng.choice(['.', '..', '...', './..', '%2E%2E', '. .', 'a.b'])}]",
        lambda: f"search[{_junk(rng)}]",
        lambda: f"click[{_junk(rng)}]",
        lambda: "search[]",
        lambda: "search[" + "y" * rng.choice([199, 200, 201, 1900]) + "]",
        lambda: "search[" + "[" * 300 + "]",
        lambda: "search[{'color': 'black'}]",
        lambda: "click[search]",
        lambda: "search[../../etc/passwd%2F%00]",
        lambda: "search[<script>alert(1)</script>]",
        lambda: None,
        lambda: 3.14,
        lambda: b"click[buy now]",
        lambda: {"action": 5},
        lambda: WrongFields(),
        lambda: RaisingMapping(action=valid),
        lambda: "",
        lambda: "x" * 100_001,
        lambda: _junk(rng),
        lambda: "<action>click[",
        lambda: object(),
    ]
    return rng.choice(choices)()


def _entry(step_result) -> tuple:
    obs, reward, terminated, truncated, info = step_result
    return obs, reward, terminated, truncated, info


@pytest.mark.parametrize(
    "expert, mode, actions", [(False, "text", 1000), (True, "text_rich", 300), (False, "html", 200)]
)
def test_step_never_raises(expert, mode, actions):
    env = WebShopEnv(expert=expert, observation_mode=mode)
    rng = random.Random(1)
    obs, info = env.reset(seed=0)
    invalid = valid = episodes = 0
    for _ in range(actions):
        obs, reward, terminated, truncated, info = env.step(fuzz_action(rng, info["admissible_commands"]))
        assert isinstance(obs, str) and env.observation_space.contains(obs)
        assert info["subgoal_status"] in ("achieved", "pending", "unknown")
        if info["invalid_action"]:
            invalid += 1
            assert obs.startswith("Nothing happens. ") and reward == 0.0
        else:
            valid += 1
        if expert and not (terminated or truncated):
            assert info["expert_action"] in info["admissible_commands"] or info["expert_action"].startswith("search[")
        if terminated or truncated:
            episodes += 1
            obs, info = env.reset()
    assert invalid > actions / 5 and valid > actions / 5 and episodes >= actions // 100


def replay_both(local: WebShopEnv, remote: WebShopEnv, steps: int, seed: int) -> dict[str, int]:
    """Drive both envs with the same fuzzed actions; every step's full result must be equal. Returns counts."""
    rng = random.Random(seed)
    counts = {"steps": 0, "invalid": 0, "episodes": 0, "dot_searches": 0}
    a = local.reset(seed=seed)
    b = remote.reset(seed=seed)
    assert a == b
    info = a[1]
    for _ in range(steps):
        action = fuzz_action(rng, info["admissible_commands"])
        ra, rb = _entry(local.step(action)), _entry(remote.step(action))
        assert ra == rb, (action, ra[0][:200], rb[0][:200])
        info = ra[4]
        counts["steps"] += 1
        counts["invalid"] += info["invalid_action"]
        counts["dot_searches"] += (
            isinstance(action, str) and action.startswith("search[.") and not info["invalid_action"]
        )
        if ra[2] or ra[3]:
            counts["episodes"] += 1
            episode_seed = rng.randrange(10**6)
            a, b = local.reset(seed=episode_seed), remote.reset(seed=episode_seed)
            assert a == b
            info = a[1]
    return counts


@pytest.fixture(scope="module")
def threaded_server():
    waitress = pytest.importorskip("waitress")
    pytest.importorskip("requests")
    from webshop_server.app import create_app

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = waitress.create_server(create_app({"TESTING": True}), host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.mark.parametrize("mode, compat", [("text", False), ("html", False), ("text_rich", True)])
def test_backends_give_the_same_transcript_for_fuzzed_actions(threaded_server, mode, compat):
    local = WebShopEnv(observation_mode=mode, expert=True, upstream_compat=compat)
    remote = WebShopEnv(observation_mode=mode, expert=True, upstream_compat=compat, server_url=threaded_server)
    counts = replay_both(local, remote, steps=400 if mode == "text" else 150, seed=3)
    remote.close()
    assert counts["invalid"] > 20 and counts["episodes"] > 3 and counts["dot_searches"] > 0, counts


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_100000_env_actions_over_both_backends():
    from tests.webshop_server.serve import running_server

    with running_server("--page-cache-mb", "16") as server:
        local = WebShopEnv()
        remote = WebShopEnv(server_url=server.url)
        rss = [server.rss_mb()]
        total: dict[str, int] = {}
        for chunk in range(10):  # 10 x 5,000 lock steps = 100,000 env actions
            counts = replay_both(local, remote, steps=5000, seed=100 + chunk)
            total = {k: total.get(k, 0) + v for k, v in counts.items()}
            rss.append(server.rss_mb())
        remote.close()
    print(f"\nenv fuzz: {2 * total['steps']} env actions ({total}), server RSS MiB {[round(r) for r in rss]}")
    assert total["steps"] == 50_000
    assert max(rss[1:]) - rss[1] < 16 + 64, rss
