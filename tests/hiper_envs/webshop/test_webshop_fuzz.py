"""Bad input never raises out of step(): thousands of random actions of every shape, valid commands mixed in."""

import dataclasses
import random

import pytest

from hiper_envs.options import OptionAction
from hiper_envs.webshop import WebShopEnv


@dataclasses.dataclass
class WrongFields:
    act: str = "click[buy now]"


def _junk_text(rng: random.Random) -> str:
    alphabet = "abc <>/|{}[]#;\"'\\\n\t\r\x00\x1b\u00e9\u4e2d\U0001f600\u202e\u0301%?&="
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))


def _action(rng: random.Random, admissible: list[str]):
    valid = rng.choice(admissible) if admissible else "search[x]"
    choices = [
        lambda: valid,
        lambda: valid,
        lambda: valid.upper() + "  ",
        lambda: f"<switch>SWITCH</switch><subgoal>{_junk_text(rng)}</subgoal><action>{valid}</action>",
        lambda: OptionAction(action=valid, switch=rng.random() < 0.5, subgoal=_junk_text(rng) or None),
        lambda: {"action": valid, "switch": rng.choice(["KEEP", "SWITCH", "maybe", 1, None]), "subgoal": "buy"},
        lambda: f"search[{_junk_text(rng)}]",
        lambda: f"click[{_junk_text(rng)}]",
        lambda: "search[]",
        lambda: "search[" + "y" * 1900 + "]",
        lambda: "click[search]",
        lambda: "search[../../etc/passwd%2F%00]",
        lambda: "search[<script>alert(1)</script>]",
        lambda: None,
        lambda: 3.14,
        lambda: b"click[buy now]",
        lambda: {"action": 5},
        lambda: WrongFields(),
        lambda: "",
        lambda: "x" * 100_000,
        lambda: _junk_text(rng),
        lambda: "<action>click[",
        lambda: object(),
    ]
    return rng.choice(choices)()


@pytest.mark.parametrize(
    "expert, mode, actions", [(False, "text", 2000), (True, "text_rich", 400), (False, "html", 300)]
)
def test_step_never_raises(expert, mode, actions):
    env = WebShopEnv(expert=expert, observation_mode=mode)
    rng = random.Random(1)
    obs, info = env.reset(seed=0)
    invalid = valid = episodes = 0
    for _ in range(actions):
        obs, reward, terminated, truncated, info = env.step(_action(rng, info["admissible_commands"]))
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
    assert invalid > actions / 4 and valid > actions / 10 and episodes >= actions // 100
