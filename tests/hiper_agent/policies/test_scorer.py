"""The scorer family: act/evaluate_actions agreement, unit masks, seeding, checkpoints, batching, unseen names.

The tests that re-score, save or batch run with the memory off and on (`ScorerConfig.memory`); the memory's own
tests are in test_scorer_memory.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

gym = pytest.importorskip("gymnasium")
pytest.importorskip("textworld", reason="the ALFWorld env needs textworld")

import hiper_envs  # noqa: E402,F401  (registers the envs)
from hiper_agent.policies import load_policy, make_policy  # noqa: E402
from hiper_agent.policies.scorer import FlatScorerPolicy, ScorerPolicy  # noqa: E402
from hiper_agent.policies.scorer.features import FEATURE_NAMES, Context, candidate_features, history_action  # noqa: E402
from hiper_agent.policies.scorer.text import TextCache  # noqa: E402
from hiper_agent.types import HistoryEntry, Turn  # noqa: E402
from hiper_envs.options import OptionAction  # noqa: E402

FAMILIES = ["scorer", "flat-scorer"]
MEMORIES = ["off", "slots", "episode"]
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def envs():
    return [gym.make("HiPER/ALFWorld-v0", split="train", num_subtasks=1) for _ in SEEDS]


def rollout(policy, envs, steps=6, rng_seed=0, greedy=False):
    """``steps`` batched steps on fixed games; returns the turns and the inputs of every step."""
    obs, infos = map(list, zip(*(e.reset(seed=s) for e, s in zip(envs, SEEDS, strict=True)), strict=True))
    histories = [[] for _ in envs]
    rng = torch.Generator().manual_seed(rng_seed)
    turns, inputs = [], []
    for _ in range(steps):
        inputs.append((list(obs), list(infos), [list(h) for h in histories]))
        decisions = policy.act(obs, infos, histories, rng=rng, greedy=greedy)
        for i, d in enumerate(decisions):
            o, r, *_, info = envs[i].step(d.action)
            turns.append(Turn(decision=d, observation=obs[i], switch=True, subgoal=None, reward=r))
            histories[i].append(HistoryEntry(obs[i], history_action(d.action)))
            obs[i], infos[i] = o, info
    return turns, inputs


@pytest.mark.parametrize("memory", MEMORIES)
@pytest.mark.parametrize("family", FAMILIES)
def test_evaluate_agrees_with_act(envs, family, memory):
    policy = make_policy(family, seed=0, memory=memory)
    turns, _ = rollout(policy, envs, steps=8 if memory != "off" else 6)
    ev = policy.evaluate_actions(turns)
    old = np.stack([t.decision.logprobs for t in turns])
    np.testing.assert_allclose(ev.logprobs.detach().numpy(), old, atol=1e-5)
    np.testing.assert_allclose(ev.values.detach().numpy(), [t.decision.values for t in turns], atol=1e-5)
    assert ev.mask.shape == (len(turns), 3)
    masks = np.stack(
        [np.stack([t.decision.masks.switch, t.decision.masks.subgoal, t.decision.masks.action]).any(0) for t in turns]
    )
    np.testing.assert_array_equal(ev.mask.numpy(), masks)
    # a decided unit has entropy > 0 unless it had one choice (a SWITCH with one other subgoal on offer)
    choices = np.array(
        [[2, len(t.decision.extra["step"].subgoal_candidates), len(t.decision.extra["step"].actions)] for t in turns]
    )
    assert torch.all(ev.entropy[ev.mask & torch.from_numpy(choices > 1)] > 0)
    assert torch.all(ev.entropy[ev.mask] >= 0) and torch.all(ev.entropy[~ev.mask] == 0)
    # gradients reach the actor through the log-probs and the critic through the values, not across
    groups = policy.parameter_groups()
    (ev.logprobs.sum() + ev.values.sum()).backward()
    assert all(p.grad is not None for p in groups["critic"])
    assert sum(p.grad is not None and p.grad.abs().sum() > 0 for p in groups["policy"]) > len(groups["policy"]) // 2
    assert not {id(p) for p in groups["policy"]} & {id(p) for p in groups["critic"]}


def _set_switch_bias(policy, keep: bool):
    with torch.no_grad():
        policy.net.switch_head[-1].bias.copy_(torch.tensor([50.0, -50.0] if keep else [-50.0, 50.0]))


@pytest.mark.parametrize("keep", [True, False])
def test_hierarchical_units(envs, keep):
    policy = ScorerPolicy(seed=0)
    _set_switch_bias(policy, keep)
    turns, _ = rollout(policy, envs, steps=3)
    for k, turn in enumerate(turns):
        d, first = turn.decision, k < len(SEEDS)
        assert isinstance(d.action, OptionAction) and d.action.action in d.extra["step"].actions
        assert d.num_units == 3 and d.masks.action.tolist() == [False, False, True]
        switched = first or not keep
        assert d.masks.switch.tolist() == [not first, False, False]  # the first SWITCH is forced: no unit
        assert d.masks.subgoal.tolist() == [False, switched, False]
        assert d.action.switch == switched
        assert (d.action.subgoal is not None) == switched == (d.written_subgoal is not None)
        assert (first and d.logprobs[0] == 0) or not first  # undecided units carry no log-prob
        assert switched or d.logprobs[1] == 0
        if switched:
            assert d.written_subgoal in d.extra["step"].subgoal_candidates
        assert len(d.values) == 3


def test_flat_units(envs):
    policy = FlatScorerPolicy(seed=0)
    turns, _ = rollout(policy, envs, steps=2)
    for turn in turns:
        d = turn.decision
        assert isinstance(d.action, str) and d.written_subgoal is None
        assert not d.masks.switch.any() and not d.masks.subgoal.any() and d.masks.action.tolist() == [0, 0, 1]
        assert d.values[0] == d.values[1] == d.values[2]


@pytest.mark.parametrize(("family", "memory"), [(f, "off") for f in FAMILIES] + [("scorer", "episode")])
def test_seeded(envs, family, memory):
    a, _ = rollout(make_policy(family, seed=3, memory=memory), envs, rng_seed=7)
    b, _ = rollout(make_policy(family, seed=3, memory=memory), envs, rng_seed=7)
    assert [str(t.decision.action) for t in a] == [str(t.decision.action) for t in b]
    np.testing.assert_array_equal([t.decision.logprobs for t in a], [t.decision.logprobs for t in b])
    c, _ = rollout(make_policy(family, seed=4, memory=memory), envs, rng_seed=7)
    assert not np.array_equal([t.decision.logprobs for t in a], [t.decision.logprobs for t in c])


@pytest.mark.parametrize("memory", ["off", "episode"])
@pytest.mark.parametrize("family", FAMILIES)
def test_save_load_round_trip(envs, family, memory, tmp_path):
    policy = make_policy(family, seed=0, hidden_dim=32, memory=memory)
    with torch.no_grad():  # move away from the initialization so that loading must restore real weights
        for p in policy.net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    policy.save(tmp_path)
    loaded = load_policy(tmp_path)
    assert type(loaded) is type(policy) and loaded.config == policy.config
    a, _ = rollout(policy, envs, rng_seed=1)
    b, _ = rollout(loaded, envs, rng_seed=1)
    assert [str(t.decision.action) for t in a] == [str(t.decision.action) for t in b]
    np.testing.assert_allclose([t.decision.logprobs for t in a], [t.decision.logprobs for t in b], atol=1e-6)
    fresh = make_policy(family, seed=5, hidden_dim=32, memory=memory)
    fresh.load_state_dict(policy.state_dict())
    c, _ = rollout(fresh, envs, rng_seed=1)
    np.testing.assert_allclose([t.decision.logprobs for t in a], [t.decision.logprobs for t in c], atol=1e-6)


@pytest.mark.parametrize("memory", ["off", "episode"])
@pytest.mark.parametrize("family", FAMILIES)
def test_batch_equals_one_at_a_time(envs, family, memory):
    # with memory, rows of different history lengths are padded together: padding must change nothing
    policy = make_policy(family, seed=0, memory=memory)
    turns, inputs = rollout(policy, envs, steps=3, greedy=True)
    for k, (obs, infos, histories) in enumerate(inputs):
        for i in range(len(obs)):
            single = policy.act([obs[i]], [infos[i]], [histories[i]], greedy=True)[0]
            batched = turns[k * len(obs) + i].decision
            assert str(single.action) == str(batched.action)
            np.testing.assert_allclose(single.logprobs, batched.logprobs, atol=1e-5)
            np.testing.assert_allclose(single.values, batched.values, atol=1e-5)
    whole = policy.evaluate_actions(turns).logprobs.detach().numpy()
    parts = np.concatenate(
        [policy.evaluate_actions(turns[j : j + 1]).logprobs.detach().numpy() for j in range(len(turns))]
    )
    np.testing.assert_allclose(whole, parts, atol=1e-5)


def test_last_values(envs):
    policy = ScorerPolicy(seed=0)
    obs, info = envs[0].reset(seed=SEEDS[0])
    d = policy.act([obs], [info], [[]], greedy=True)[0]
    obs, *_, info = envs[0].step(d.action)
    values = policy.last_values([obs, obs], [info, info], [[HistoryEntry(obs, d.action.action)]] * 2)
    assert values.shape == (2, 3) and np.isfinite(values).all()
    np.testing.assert_allclose(values[0], values[1], atol=1e-6)


def test_overlap_features_see_unseen_names():
    """A candidate naming the task's object scores the overlap feature whatever the word (no vocabulary)."""
    cache = TextCache(64)
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    for name in ("apple", "zorblaxite", "quuxfruit"):
        context = Context.build(cache, f"put a clean {name} in fridge", "You see a shelf 1.", [], [])
        feats = candidate_features(cache, context, [f"take {name} 1 from shelf 1", "take mug 1 from shelf 1"], None)
        assert feats[0, col["task_any"]] == 1 and feats[0, col["task_content"]] > 0
        assert feats[1, col["task_any"]] == 0 and feats[1, col["task_content"]] == 0
    # plurals match their singular; sightings and repeats come from the history
    context = Context.build(
        cache, "put two apples in fridge", "ok", ["On the shelf 2, you see an apple 1."], ["go to shelf 2"]
    )
    feats = candidate_features(cache, context, ["take apple 1 from shelf 2", "go to shelf 2"], "go to shelf 2")
    assert feats[0, col["task_any"]] == 1 and feats[0, col["sighted"]] == 1
    assert feats[1, col["is_subgoal"]] == 1 and feats[1, col["times_done"]] > 0 and feats[1, col["is_last_action"]]


def test_completes_subgoal_reads_task_level_subgoals():
    """A task-level subgoal ("take mug") is done by the command naming all its words; ALFWorld's "move" is "put"."""
    cache = TextCache(64)
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    context = Context.build(cache, "put a hot mug in cabinet", "You arrive at shelf 1.", [], [])
    cases = {
        "take mug": {"take mug 1 from shelf 1": 1, "take cup 1 from shelf 1": 0, "go to shelf 1": 0},
        "put mug 1 in/on cabinet": {"move mug 1 to cabinet 3": 1, "move mug 1 to shelf 1": 0, "go to cabinet 3": 0},
        "heat mug 1 with microwave": {"heat mug 1 with microwave 1": 1, "go to microwave 1": 0},
        "find mug": {"take mug 1 from shelf 1": 0, "go to shelf 1": 0},  # done by what is seen, not by a command
    }
    for subgoal, expected in cases.items():
        feats = candidate_features(cache, context, list(expected), subgoal)
        assert feats[:, col["completes_subgoal"]].tolist() == list(expected.values()), subgoal
    assert candidate_features(cache, context, ["take mug 1 from shelf 1"], None)[0, col["completes_subgoal"]] == 0


def test_rivals_subgoal_is_the_subgoals_verb_done_elsewhere():
    """The subgoal's verb on the wrong object or receptacle rivals it; completing it or another verb does not."""
    cache = TextCache(64)
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    context = Context.build(cache, "put a hot mug in fridge", "You arrive at shelf 1.", [], [])
    cases = {
        "put mug 1 in/on fridge": {"move mug 1 to shelf 1": 1, "move mug 1 to fridge 1": 0, "go to fridge 1": 0},
        "take mug": {"take apple 1 from shelf 1": 1, "take mug 2 from shelf 1": 0, "examine mug 2": 0},
        "find mug": {"go to shelf 1": 0, "take mug 1 from shelf 1": 0},  # no command is a "find"
    }
    for subgoal, expected in cases.items():
        feats = candidate_features(cache, context, list(expected), subgoal)
        assert feats[:, col["rivals_subgoal"]].tolist() == list(expected.values()), subgoal


def test_composite_tasks_compare_with_the_subtask_in_progress():
    """On "A, then B" the overlap features read A (the subtask in progress); restating A or the task is is_task."""
    cache = TextCache(64)
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    task = "put some mug on shelf, then clean some apple and put it in fridge"
    candidates = ["take mug", "take apple", "put some mug on shelf", task]
    whole = candidate_features(cache, Context.build(cache, task, "ok", [], []), candidates, None)
    assert whole[0, col["task_any"]] == whole[1, col["task_any"]] == 1  # without the subtask both objects match
    context = Context.build(cache, task, "ok", [], [], subtask="put some mug on shelf")
    feats = candidate_features(cache, context, candidates, None)
    assert feats[:, col["task_any"]].tolist() == [1, 0, 1, 1]
    assert feats[:, col["is_task"]].tolist() == [0, 0, 1, 1]


def test_bad_input():
    policy = ScorerPolicy(seed=0)
    with pytest.raises(ValueError, match="admissible_commands"):
        policy.act(["obs"], [{"task": "x"}], [[]])
    with pytest.raises(ValueError, match="observations"):
        policy.act(["obs"], [], [[]])
    with pytest.raises(ValueError, match="unknown ScorerConfig"):
        from hiper_agent.policies.scorer import ScorerConfig

        ScorerConfig.from_dict({"nope": 1})


def test_behaviour_cloning_raises_the_experts_likelihood():
    # the optional expert warm start: the expert's own decisions become likelier (both variants)
    import gymnasium as gym

    from hiper_agent.policies import make_policy
    from hiper_agent.policies.scorer.imitation import behaviour_cloning, expert_turns
    from hiper_agent.rollout.expert import expert_episodes

    env = gym.make("HiPER/ALFWorld-v0", split="train", expert=True, max_episode_steps=30)
    demos = list(expert_episodes(env, 2, seed=0))
    env.close()
    for family in ("scorer", "flat-scorer"):
        policy = make_policy(family, seed=0)
        turns = expert_turns(policy, demos)
        assert len(turns) >= len(demos)

        before = _likelihood(policy, turns)
        losses = behaviour_cloning(policy, demos, epochs=20, lr=1e-2, batch_size=16, seed=0)
        assert _likelihood(policy, turns) > before + 0.3 and losses[-1] < losses[0], family


def _likelihood(policy, turns) -> float:
    with torch.no_grad():
        ev = policy.evaluate_actions(turns, with_values=False)
    return float((ev.logprobs * ev.mask).sum() / ev.mask.sum())


def test_switch_offers_another_subgoal_while_the_current_one_is_pending():
    """A SWITCH replaces a pending subgoal (re-picking it would restart the option: a switch in name only)."""
    from hiper_agent.policies.scorer.steps import observe

    cache = TextCache(64)
    info = {
        "admissible_commands": ["look", "go to shelf 1"],
        "task": "put a mug in cabinet",
        "subgoal_candidates": ["put a mug in cabinet", "find mug", "take cup"],
        "subgoal": "find mug",
    }
    offered = {}
    for status in ("pending", "achieved"):
        step, _ = observe(cache, "obs", {**info, "subgoal_status": status}, [], history_length=2, hierarchical=True)
        offered[status] = step.subgoal_candidates
        assert step.subgoal_features.shape[0] == len(step.subgoal_candidates)
    assert offered["pending"] == ("put a mug in cabinet", "take cup")
    assert offered["achieved"] == ("put a mug in cabinet", "find mug", "take cup")  # done: it may be set again
    # the only subgoal on offer stays on offer
    step, _ = observe(
        cache,
        "obs",
        {**info, "subgoal_candidates": ["find mug"], "subgoal_status": "pending"},
        [],
        history_length=2,
        hierarchical=True,
    )
    assert step.subgoal_candidates == ("find mug",)


def test_feature_priors_can_be_switched_off():
    """``scorer_priors=False`` (an ablation) starts the overlap-feature and switch terms at 0; the rest is the same."""
    from hiper_agent.training.ppo_config import HiPERConfig

    on, off = (make_policy("scorer", config=HiPERConfig.from_preset("cpu", scorer_priors=p)) for p in (True, False))
    for name in ("action_scorer.prior.weight", "subgoal_scorer.prior.weight", "switch_prior.weight"):
        assert on.net.get_parameter(name).abs().sum() > 0 and off.net.get_parameter(name).abs().sum() == 0
    assert on.config.feature_priors and not off.config.feature_priors
    same = on.net.action_scorer.mlp[0].weight, off.net.action_scorer.mlp[0].weight
    assert torch.equal(*same)  # the same initialization otherwise (same seed)
