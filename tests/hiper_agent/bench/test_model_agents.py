"""Model-backed agents: a saved policy folder (any `Policy` family) and a local Hugging Face model (``hf:``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from bench_helpers import bench  # noqa: E402

from hiper_agent.bench.agents import make_agent  # noqa: E402
from hiper_agent.bench.policy_agent import PolicyAgent  # noqa: E402
from hiper_agent.credit.masks import TokenMasks  # noqa: E402
from hiper_agent.policies import Decision, Policy, load_policy, policy_names, register_policy  # noqa: E402
from hiper_envs.options import OptionAction  # noqa: E402

FAMILY = "bench-test-first-command"


class CycleCommands(Policy):
    """A tiny policy: plays admissible command ``len(history)`` (greedy) or a sampled one, under a subgoal."""

    family = FAMILY

    def __init__(self) -> None:
        self.calls: list[tuple[int, bool, list[int]]] = []

    def act(self, observations, infos, histories, *, rng=None, greedy=False):
        self.calls.append((len(observations), greedy, [len(h) for h in histories]))
        decisions = []
        for info, history in zip(infos, histories, strict=True):
            commands = info["admissible_commands"]
            k = len(history) % len(commands) if greedy else int(torch.randint(len(commands), (1,), generator=rng))
            none = np.zeros(1, dtype=bool)
            action = OptionAction(commands[k], switch=len(history) % 2 == 0, subgoal=f"step {len(history)}")
            decisions.append(Decision(action, np.zeros(1), TokenMasks(none, none, ~none, True, True)))
        return decisions

    def evaluate_actions(self, turns, *, with_values=True):
        raise NotImplementedError

    def parameter_groups(self):
        return {"policy": [], "critic": []}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass

    def save(self, folder):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "policy.json").write_text(json.dumps({"family": FAMILY}))


def load_cycle(folder, **kwargs):
    return CycleCommands()


if FAMILY not in policy_names():
    register_policy(FAMILY, f"{__name__}:CycleCommands", f"{__name__}:load_cycle")


def test_policy_agent_batches_greedy_calls_and_keeps_histories(tmp_path):
    policy = CycleCommands()
    episodes = bench(PolicyAgent(policy), tmp_path / "a", episodes=3, num_envs=3, max_steps=4)
    assert policy.calls[0] == (3, True, [0, 0, 0])  # one batched, greedy call for the three envs
    assert policy.calls[-1] == (3, True, [3, 3, 3])  # each env's history holds its earlier steps
    assert [e["options"] for e in episodes] == [2, 2, 2]  # SWITCH every other step
    assert all(e["option_lengths"] == [2, 2] for e in episodes)


def test_policy_folder_spec_loads_through_load_policy(tmp_path):
    CycleCommands().save(tmp_path / "saved")
    agent = make_agent(str(tmp_path / "saved"))
    assert isinstance(agent, PolicyAgent) and agent.describe() == {"family": FAMILY, "greedy": True}
    one = bench(str(tmp_path / "saved"), tmp_path / "m1", episodes=3, num_envs=1, max_steps=3)
    three = bench(str(tmp_path / "saved"), tmp_path / "m3", episodes=3, num_envs=3, max_steps=3)
    assert one == three


def test_sampling_policy_agent_is_independent_of_num_envs(tmp_path):
    runs = [
        bench(PolicyAgent(CycleCommands(), greedy=False), tmp_path / f"m{m}", episodes=4, num_envs=m, max_steps=5)
        for m in (1, 4)
    ]
    assert runs[0] == runs[1]


@pytest.mark.skipif("scorer" not in policy_names(), reason="the scorer policy family is not registered")
def test_saved_scorer_policy_end_to_end(tmp_path):
    from hiper_agent.policies import make_policy

    make_policy("scorer").save(tmp_path / "scorer")
    assert load_policy(tmp_path / "scorer").family == "scorer"
    one = bench(str(tmp_path / "scorer"), tmp_path / "m1", episodes=3, num_envs=1, max_steps=3)
    three = bench(str(tmp_path / "scorer"), tmp_path / "m3", episodes=3, num_envs=3, max_steps=3)
    assert all(e["error"] is None and e["steps"] == 3 for e in one)
    assert one == three


CORPUS = [
    "You are in the middle of a room. You see a fridge 1, a countertop 1, a cabinet 2 and a microwave 1.",
    "Your task is to: put a cool apple in the cabinet.",
    "go to fridge 1",
    "take apple 1 from countertop 1",
] * 10


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A randomly initialised tiny model saved as a local Hugging Face folder (never a hub download)."""
    from hiper_agent.models import load_model

    root = tmp_path_factory.mktemp("tiny")
    # each shrink keeps the test fast: 1 layer of width 32, short responses
    lm = load_model(
        "tiny",
        tokenizer_corpus=CORPUS,
        cache_dir=root / "cache",
        seed=0,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    return str(lm.save_pretrained(root / "model"))


@pytest.mark.parametrize("style, constrained", [("hiper", False), ("hiper", True), ("react", False)])
def test_hf_agent_with_a_tiny_local_model(tmp_path, tiny_folder, style, constrained):
    agent = make_agent(f"hf:{tiny_folder}", style=style, constrained=constrained, max_new_tokens=12)
    assert agent.describe()["style"] == style
    episodes = bench(agent, tmp_path, episodes=2, num_envs=2, max_steps=2)
    assert all(e["error"] is None and e["steps"] == 2 for e in episodes)
    if constrained:  # decoding is held to the format and the admissible commands
        assert all(e["format_errors"] == 0 and e["invalid_actions"] == 0 for e in episodes)
    else:  # an untrained model writes noise: counted as format errors, not raised
        assert sum(e["format_errors"] for e in episodes) > 0


def test_saved_llm_policy_end_to_end(tmp_path, tiny_folder):
    from hiper_agent.models import load_model
    from hiper_agent.policies.llm import LLMPolicy
    from hiper_agent.policies.prompts import PromptBuilder

    policy = LLMPolicy(
        load_model(tiny_folder), PromptBuilder("alfworld", "compact"), max_new_tokens=12, constrained=True
    )
    policy.save(tmp_path / "policy")
    agent = make_agent(str(tmp_path / "policy"))
    assert agent.describe()["family"] == "llm"
    one = bench(agent, tmp_path / "m1", episodes=2, num_envs=1, max_steps=2)
    two = bench(str(tmp_path / "policy"), tmp_path / "m2", episodes=2, num_envs=2, max_steps=2)
    assert all(e["error"] is None and e["steps"] == 2 and e["format_errors"] == 0 for e in one)  # constrained
    assert [e["actions"] for e in one] == [e["actions"] for e in two]
