"""Bad input never raises out of step(): thousands of random actions of every shape, valid commands mixed in."""

import dataclasses
import random

import pytest

from hiper_envs.alfworld.engine import AlfredEngine
from hiper_envs.alfworld.env import ALFWorldEnv
from hiper_envs.options import OptionAction


@dataclasses.dataclass
class WrongFields:
    act: str = "look"


def _junk_text(rng: random.Random) -> str:
    alphabet = "abc <>/|{}[]#;\"'\\\n\t\r\x00\x1b\u00e9\u4e2d\U0001f600\u202e\u0301"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))


def _action(rng: random.Random, admissible: list[str]):
    valid = rng.choice(admissible)
    choices = [
        lambda: valid,
        lambda: valid.upper() + "  ",
        lambda: f"<switch>SWITCH</switch><subgoal>{_junk_text(rng)}</subgoal><action>{valid}</action>",
        lambda: OptionAction(action=valid, switch=rng.random() < 0.5, subgoal=_junk_text(rng) or None),
        lambda: {"action": valid, "switch": rng.choice(["KEEP", "SWITCH", "maybe", 1, None]), "subgoal": "take x"},
        lambda: None,
        lambda: rng.randint(-5, 5),
        lambda: 3.14,
        lambda: b"go to fridge 1",
        lambda: ["look"],
        lambda: {"act": "look"},
        lambda: {"action": 5},
        lambda: {"action": "look", "subgoal": 7},
        lambda: WrongFields(),
        lambda: "",
        lambda: " \n\t ",
        lambda: "x" * 100_000,
        lambda: "go to " + "y" * 3000,
        lambda: _junk_text(rng),
        lambda: "\u00e9\u4e2d\U0001f600 go to fridge 1",
        lambda: "go to fridge 1\x00",
        lambda: "<action>go to",
        lambda: "<switch>SWITCH<subgoal>x</action>",
        lambda: "<switch></switch><subgoal></subgoal><action></action>",
        lambda: "<action><action>look</action></action>",
        lambda: f"<subgoal>{'z' * 5000}</subgoal><action>{valid}</action>",
        lambda: "</action>look<action>",
        lambda: "<switch>KEEP</switch>\n<subgoal>go</subgoal>\n<action>look</action>trailing",
        lambda: object(),
    ]
    return rng.choice(choices)()


# The expert replans (~30 ms) after every off-plan action, so its run is shorter.
@pytest.mark.parametrize("num_subtasks, expert, actions", [(1, False, 3000), (2, False, 2000), (1, True, 300)])
def test_step_never_raises(num_subtasks, expert, actions):
    env = ALFWorldEnv(split="valid_seen", num_games=2, num_subtasks=num_subtasks, expert=expert)
    rng = random.Random(num_subtasks)
    obs, info = env.reset(seed=0)
    invalid = valid = episodes = 0
    for _ in range(actions):
        action = _action(rng, info["admissible_commands"])
        obs, reward, terminated, truncated, info = env.step(action)
        assert isinstance(obs, str) and env.observation_space.contains(obs)
        assert isinstance(info["invalid_action"], bool) and isinstance(info["subgoal_candidates"], list)
        assert info["subgoal_status"] in ("achieved", "pending", "unknown")
        if info["invalid_action"]:
            invalid += 1
            assert obs.startswith("Nothing happens. ") and len(obs) > len("Nothing happens. ") and reward == 0.0
        else:
            valid += 1
        if terminated or truncated:
            episodes += 1
            obs, info = env.reset()
        if expert and not (terminated or truncated):
            assert info["expert_action"] in info["admissible_commands"]
    assert invalid > actions / 3 and valid > actions / 10 and episodes >= actions // 500
    env.close()


def test_engine_step_tolerates_any_text():
    env = ALFWorldEnv(split="valid_seen", num_games=2)
    env.reset(seed=0)
    engine = AlfredEngine()
    engine.load(env.game.game)
    engine.reset()
    before = list(engine.admissible_commands)
    rng = random.Random(0)
    for text in ["", "\x00", "x" * 100_000, "\u4e2d\U0001f600", None, 12, *(_junk_text(rng) for _ in range(200))]:
        assert engine.step(text) == "Nothing happens."
    assert engine.admissible_commands == before and engine.moves == 0
    engine.close()
    env.close()
