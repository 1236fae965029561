"""Rollout on a tiny scripted env with the tiny model: segments, block masks, and ratio 1 in the trainer's batches."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hiper_envs"))
from keydoor_env import KeyDoorEnv  # noqa: E402

from hiper_agent.envs.pool import SyncEnvPool  # noqa: E402
from hiper_agent.models import build_critic, load_model  # noqa: E402
from hiper_agent.policies.llm import LLMPolicy  # noqa: E402
from hiper_agent.policies.llm.batch import collate, critic_values, response_logprobs  # noqa: E402
from hiper_agent.policies.prompts import PromptBuilder  # noqa: E402
from hiper_agent.rollout.collect import collect_rollouts, group_resets, rollout_metrics  # noqa: E402

CORPUS = ["task: open the door", "take key", "go to door", "open door", "look", "You are in the hall."] * 20


@pytest.fixture(scope="module")
def lm():
    return load_model(
        "tiny",
        seed=0,
        tokenizer_corpus=CORPUS,
        hidden_size=64,
        num_hidden_layers=2,
        intermediate_size=128,
        num_attention_heads=2,
        num_key_value_heads=1,
    )


def rollout(lm, *, num_envs, steps, group_size, seed, sample_seed, constrained, keep_subgoal=False):
    pool = SyncEnvPool([lambda: KeyDoorEnv(max_episode_steps=steps)] * num_envs)
    policy = LLMPolicy(
        lm, PromptBuilder("alfworld", "compact"), max_new_tokens=24, constrained=constrained, keep_subgoal=keep_subgoal
    )
    return collect_rollouts(
        pool,
        policy,
        group_resets(num_envs, group_size, seed),
        group_size=group_size,
        rng=torch.Generator().manual_seed(sample_seed),
    )


@pytest.mark.parametrize("keep_subgoal", [True, False])
def test_keep_subgoal_makes_keep_turns_repeat_the_current_subgoal(lm, keep_subgoal):
    trajs, _ = rollout(
        lm, num_envs=8, steps=6, group_size=1, seed=0, sample_seed=2, constrained=True, keep_subgoal=keep_subgoal
    )
    kept = [
        (prev.subgoal, turn.written_subgoal)
        for traj in trajs
        for prev, turn in zip(traj.turns[:-1], traj.turns[1:], strict=True)
        if not turn.switch
    ]
    assert kept
    assert all(written == current for current, written in kept) == keep_subgoal


@pytest.mark.parametrize("constrained", [True, False])
def test_rollout_records_segments_and_masks(lm, constrained):
    trajs, stats = rollout(lm, num_envs=4, steps=4, group_size=2, seed=3, sample_seed=0, constrained=constrained)
    assert len(trajs) == 4 and [t.group_id for t in trajs] == [0, 0, 1, 1]
    assert trajs[0].task_id == trajs[1].task_id  # a group shares its task
    for traj in trajs:
        assert 1 <= len(traj.turns) <= 4 and traj.turns[0].switch
        for turn in traj.turns:
            n = len(turn.decision.extra["response_ids"])
            assert len(turn.decision.logprobs) == n and len(turn.decision.masks.action) == n
            if constrained:  # constrained output always parses: every block has tokens, and they are disjoint
                assert not turn.format_error and not turn.invalid
                masks = turn.decision.masks
                assert masks.switch.any() and masks.subgoal.any() and masks.action.any()
                assert not (masks.switch & masks.action).any()
    metrics = rollout_metrics(trajs, stats)
    assert 0.0 <= metrics["rollout/success_rate"] <= 1.0 and metrics["rollout/episodes"] == 4.0


def test_trainer_batches_reproduce_sampler_logprobs(lm):
    trajs, _ = rollout(lm, num_envs=3, steps=3, group_size=1, seed=0, sample_seed=1, constrained=True)
    turns = [t for traj in trajs for t in traj.turns]
    extras = [t.decision.extra for t in turns]
    batch = collate(
        [e["prompt_ids"] for e in extras],
        [e["response_ids"] for e in extras],
        lm.tokenizer.pad_token_id,
        [e["allowed"] for e in extras],
    )
    with torch.no_grad():
        logprobs, entropy = response_logprobs(lm.model, batch)
    r = batch.response_length
    for b, turn in enumerate(turns):
        n = len(extras[b]["response_ids"])
        torch.testing.assert_close(logprobs[b, r - n :], torch.tensor(turn.decision.logprobs), atol=2e-4, rtol=0)
    assert torch.all(entropy[batch.response_mask] >= 0)
    critic = build_critic(lm, seed=0)
    with torch.no_grad():
        values = critic_values(critic, batch)
    assert values.shape == (len(turns), r, 3)
    turn = turns[0]
    high, low, switch = turn.decision.extra["value_pos"]
    assert high == switch == 0
    masks = turn.decision.masks
    assert masks.subgoal[low - 1] and not masks.subgoal[low]  # first token after </subgoal>


def test_policy_evaluate_agrees_with_acting_and_reads_the_heads(lm):
    # the Policy interface: evaluate_actions() re-scores the recorded units with the sampler's distribution (ratio 1)
    trajs, _ = rollout(lm, num_envs=2, steps=3, group_size=1, seed=1, sample_seed=3, constrained=True)
    turns = [t for traj in trajs for t in traj.turns]
    policy = LLMPolicy(lm, PromptBuilder("alfworld", "compact"), constrained=True, critic=build_critic(lm, seed=0))
    with torch.no_grad():
        ev = policy.evaluate_actions(turns)
    u = ev.logprobs.shape[1]
    for b, turn in enumerate(turns):
        n = turn.decision.num_units
        assert ev.mask[b].sum() == n
        torch.testing.assert_close(ev.logprobs[b, u - n :], torch.tensor(turn.decision.logprobs), atol=2e-4, rtol=0)
    policy.compute_values(turns)
    torch.testing.assert_close(
        ev.values, torch.tensor([t.values for t in turns], dtype=torch.float32), atol=1e-5, rtol=0
    )


def test_collate_puts_every_tensor_on_the_models_device():
    # every forward (SFT, critic values, reference and PPO log-probs) feeds the model a collated batch, so the
    # device is collate's job (a first GPU run failed on a batch left on the CPU); the meta device stands in for a GPU
    batch = collate([[5, 6, 7], [8]], [[1, 2], [3, 4, 9]], pad_id=0, allowed=[[None, [1]], None], device="meta")
    tensors = [batch.input_ids, batch.attention_mask, batch.position_ids, batch.targets, batch.response_mask]
    assert all(t.device.type == "meta" for t in tensors)
    assert batch.input_ids.shape == (2, 5) and batch.response_length == 3
    assert batch.allowed == [[None, None, [1]], [None, None, None]]


def test_plan_progress_reads_the_oracle_plan_length():
    from hiper_agent.rollout.collect import _plan_progress

    assert _plan_progress({"expert_plan_length": 5}, {"expert_plan_length": 4}) == 1.0
    assert _plan_progress({"expert_plan_length": 3}, {"expert_plan_length": 5}) == -2.0  # undid progress
    assert _plan_progress({"expert_plan_length": 1}, {"won": True}) == 1.0  # a won game has nothing left to do
    assert _plan_progress({}, {"expert_plan_length": 4}) == 0.0  # no oracle: no shaping
