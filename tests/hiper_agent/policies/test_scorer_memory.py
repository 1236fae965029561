"""The scorer's episode memory: slots of what was seen where, features for unseen names, the switch, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hiper_agent.policies import make_policy
from hiper_agent.policies.scorer import ScorerConfig
from hiper_agent.policies.scorer.features import Context, candidate_features, feature_names
from hiper_agent.policies.scorer.memory import MEMORY_FEATURE_NAMES, EpisodeMemory, HistoryAttention
from hiper_agent.policies.scorer.text import TextCache

ROOM = "You are in the middle of a room. Looking around you, you see a cabinet 1, a cabinet 2, a shelf 1, a fridge 1."


def _columns(memory: bool = True) -> dict[str, int]:
    return {name: i for i, name in enumerate(feature_names(memory))}


def test_slots_keep_the_latest_result_of_each_object():
    cache = TextCache(64)
    observations = [
        ROOM,
        "You arrive at cabinet 1. The cabinet 1 is closed.",
        "You open the cabinet 1. The cabinet 1 is open. In it, you see a mug 1, and a plate 2.",
        "You arrive at shelf 1. On the shelf 1, you see nothing.",
        "You are carrying nothing.",
    ]
    actions = ["go to cabinet 1", "open cabinet 1", "go to shelf 1", "inventory"]
    memory = EpisodeMemory.build(cache, observations, actions)
    assert set(memory.slots) == {"cabinet 1", "shelf 1"}  # "inventory" names no object: no slot
    assert memory.slots["cabinet 1"].text == observations[2]  # the open cabinet replaced the closed one
    assert memory.slots["cabinet 1"].content >= {"mug", "plate"} and "cabinet" not in memory.slots["cabinet 1"].content
    assert memory.seen_entities == {"mug 1", "plate 2"}
    assert memory.pairs == tuple(zip(actions, observations[1:], strict=True))
    assert memory.slot_texts(cache.parse("take mug 1 from cabinet 1")) == (observations[2],)
    assert memory.slot_texts(cache.parse("go to cabinet 2")) == ()
    # taking the mug rewrites the cabinet's slot: the mug is no longer there
    later = EpisodeMemory.build(
        cache, [*observations, "You pick up the mug 1 from the cabinet 1."], [*actions, "take mug 1 from cabinet 1"]
    )
    assert later.slots["cabinet 1"].text == later.slots["mug 1"].text == "You pick up the mug 1 from the cabinet 1."
    with pytest.raises(ValueError, match="one more"):
        EpisodeMemory.build(cache, observations, actions[:2])


@pytest.mark.parametrize("name", ["mug", "zorblaxite", "quuxfruit"])
def test_memory_features_see_unseen_names(name):
    """Where the task's object was seen reads the same for any object word (no vocabulary involved)."""
    cache, col = TextCache(64), _columns()
    observations = [
        ROOM,
        f"You arrive at shelf 1. On the shelf 1, you see a {name} 1.",
        "You arrive at cabinet 2. On the cabinet 2, you see a plate 1.",
        "You arrive at fridge 1.",
    ]
    actions = ["go to shelf 1", "go to cabinet 2", "go to fridge 1"]
    context = Context.build(
        cache, f"put a cool {name} in cabinet", observations[-1], observations[:-1], actions, memory=True
    )
    cands = ["go to shelf 1", "go to cabinet 2", "go to cabinet 1", f"find a {name}", "find a spoon"]
    feats = candidate_features(cache, context, cands, f"take {name} 1 from shelf 1")
    assert feats.shape == (len(cands), len(feature_names(True)))
    # shelf 1 showed the object (task and subgoal word); cabinet 2 was searched (its own word "cabinet" is no hit)
    np.testing.assert_array_equal(feats[:3, col["mem_known"]], [1, 1, 0])
    np.testing.assert_array_equal(feats[:3, col["mem_task"]], [1, 0, 0])
    np.testing.assert_array_equal(feats[:3, col["mem_subgoal"]], [1, 0, 0])
    # task-level subgoals name no object: "a <name> was seen somewhere" comes from the content words
    assert feats[3, col["mem_content"]] > 0 and feats[4, col["mem_content"]] == 0
    # without memory the same context gives today's features only
    plain = Context.build(cache, f"put a cool {name} in cabinet", observations[-1], observations[:-1], actions)
    base = candidate_features(cache, plain, cands, f"take {name} 1 from shelf 1")
    np.testing.assert_array_equal(base, feats[:, : base.shape[1]])
    assert base.shape[1] + len(MEMORY_FEATURE_NAMES) == feats.shape[1]


def test_history_attention_ignores_padding():
    torch.manual_seed(0)
    head = HistoryAttention(8, 4)
    query, pairs = torch.randn(2, 8), torch.randn(2, 5, 9)
    mask = torch.tensor([[True, True, True, False, False], [False] * 5])
    out = head(query, pairs, mask)
    garbage = pairs.clone()
    garbage[0, 3:] = 100.0
    torch.testing.assert_close(head(query, garbage, mask), out)
    torch.testing.assert_close(out[1], torch.zeros(4))  # no history: zeros, not NaN
    torch.testing.assert_close(head(query[:1], pairs[:1, :3], mask[:1, :3]), out[:1])
    (head(query, pairs, mask).sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())


def test_memory_is_a_switch_that_reaches_the_policy():
    from hiper_agent.training.ppo_config import HiPERConfig

    with pytest.raises(ValueError, match="memory='forever' must be one of off, slots, episode"):
        ScorerConfig(memory="forever")
    with pytest.raises(ValueError, match="scorer_memory 'forever'"):
        HiPERConfig.from_preset("cpu", scorer_memory="forever")
    assert HiPERConfig.from_preset("cpu-v1").agent.scorer_memory == "off"  # the scorer before issue 21
    assert HiPERConfig.from_preset("cpu").agent.scorer_memory == "slots"  # the default since
    for family in ("scorer", "flat-scorer"):
        policy = make_policy(family, config=HiPERConfig.from_preset("cpu", scorer_memory="episode", seed=3))
        assert policy.config.memory == "episode" and policy.config.seed == 3
        assert policy.net.state.history is not None and policy.net.critic_state.history is not None
        assert policy.net.action_scorer.slot is not None
        off = make_policy(family, config=HiPERConfig.from_preset("cpu-v1"))
        assert off.net.state.history is None and off.net.action_scorer.slot is None
        assert sum(p.numel() for p in off.net.parameters()) < sum(p.numel() for p in policy.net.parameters())


def _fake_inputs():
    """Two envs' steps without a game: histories of different lengths, commands that name remembered objects."""
    from hiper_agent.types import HistoryEntry

    task = "put a cool mug in cabinet"
    cmds = ["go to shelf 1", "go to cabinet 1", "open cabinet 1", "take mug 1 from shelf 1", "look"]
    info = {
        "task": task,
        "admissible_commands": cmds,
        "subgoal_candidates": [task, "go to shelf 1", "find a mug"],
        "subgoal": None,
        "subgoal_status": "unknown",
    }
    long = [HistoryEntry(ROOM, "go to shelf 1"), HistoryEntry("On the shelf 1, you see a mug 1.", "go to cabinet 1")]
    return ["The cabinet 1 is closed.", ROOM], [info, {**info, "subgoal": "go to shelf 1"}], [long, []]


@pytest.mark.parametrize("family", ["scorer", "flat-scorer"])
def test_memory_parameters_learn_from_the_loss(family):
    from hiper_agent.types import Turn

    policy = make_policy(family, seed=0, memory="episode")
    observations, infos, histories = _fake_inputs()
    decisions = policy.act(observations, infos, histories, rng=torch.Generator().manual_seed(0))
    turns = [
        Turn(decision=d, observation=o, switch=True, subgoal=None) for d, o in zip(decisions, observations, strict=True)
    ]
    step = decisions[0].extra["step"]
    assert len(step.history_pairs) == 2 and decisions[1].extra["step"].history_pairs == ()
    assert step.action_slots[0] == ("On the shelf 1, you see a mug 1.",)  # "go to shelf 1" reads what shelf 1 showed
    ev = policy.evaluate_actions(turns)
    np.testing.assert_allclose(ev.logprobs.detach().numpy(), [d.logprobs for d in decisions], atol=1e-5)
    (ev.logprobs.sum() + ev.values.sum()).backward()
    memory_modules = [policy.net.state.history, policy.net.critic_state.history, policy.net.action_scorer.slot]
    for module in memory_modules:
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters()), module


def test_trainer_resume_with_memory(tmp_path):
    """A memory run resumed from its checkpoint ends as the uninterrupted run; its saved policy reloads."""
    import shutil
    from pathlib import Path

    from hiper_agent.policies import load_policy
    from hiper_agent.training.checkpoint import list_checkpoints
    from hiper_agent.training.ppo_config import HiPERConfig
    from hiper_agent.training.ppo_trainer import train

    pytest.importorskip("textworld", reason="the ALFWorld env needs textworld")
    # the cpu preset shrunk: 2 envs, K = 1 only (composite games uncompiled cost seconds per reset), 5 steps,
    # 2 iterations, 2 held-out games, no games compiled ahead
    small = dict(
        scorer_memory="episode",
        num_envs=2,
        max_episode_steps=5,
        train_num_subtasks=(1,),
        eval_num_subtasks=(1,),
        eval_steps_per_subtask=5,
        num_iterations=2,
        eval_every=2,
        eval_episodes=2,
        eval_split="valid_unseen",
        checkpoint_every=1,
        minibatch_size=8,
        env_kwargs={},
        progress=False,
        output_dir=str(tmp_path),
    )
    full = train(HiPERConfig.from_preset("cpu", exp_name="full", **small))
    run_dir = Path(full["run_dir"])
    assert [p.name for p in list_checkpoints(run_dir)] == ["iter_000001", "iter_000002"]
    shutil.copytree(run_dir, tmp_path / "cut")
    shutil.rmtree(tmp_path / "cut" / "checkpoints" / "iter_000002")
    resumed = train(HiPERConfig.from_preset("cpu", exp_name="cut", resume=True, **small))
    keys = ("rollout/success_rate", "rollout/episode_length", "train/policy_loss", "eval/valid_unseen/success_rate")
    trail = [[r["step"], *(r.get(k) for k in keys)] for r in full["history"]]
    assert [[r["step"], *(r.get(k) for k in keys)] for r in resumed["history"]] == trail
    saved = load_policy(run_dir / "policy")
    assert saved.config.memory == "episode"
    for name, tensor in saved.state_dict()["net"].items():
        assert torch.equal(tensor, load_policy(tmp_path / "cut" / "policy").state_dict()["net"][name]), name
