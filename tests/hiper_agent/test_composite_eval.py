"""Issue 21's trainer side: option-length metrics, training on a mix of K, composite evaluation on fixed panels."""

import numpy as np
import pytest

from hiper_agent.credit.masks import TokenMasks
from hiper_agent.envs import make_pool
from hiper_agent.evaluation.panel_eval import evaluate_panels
from hiper_agent.rollout.collect import RolloutStats, rollout_metrics
from hiper_agent.training.metrics import format_summary, is_known_key
from hiper_agent.training.ppo_config import HiPERConfig
from hiper_agent.types import Decision, Trajectory, Turn


def _traj(switches: list[bool], won: bool = False) -> Trajectory:
    no = np.zeros(1, dtype=bool)
    decision = Decision(action="look", logprobs=np.zeros(1), masks=TokenMasks(no, no, ~no, True, False))
    turns = [Turn(decision=decision, observation="", switch=s, subgoal=None) for s in switches]
    return Trajectory(turns=turns, group_id=0, task_id="t", task_type="x", won=won)


def test_option_lengths_from_hand_made_trajectories():
    # options open at step 0 and at every switch: [3, 1, 2] and [1, 1, 1, 1]
    a = _traj([True, False, False, True, True, False])
    b = _traj([False, True, True, True])
    assert a.option_lengths == [3, 1, 2] and a.num_segments == 3
    assert b.option_lengths == [1, 1, 1, 1]  # the first step opens an option even without a switch flag
    assert [[t.switch for t in seg] for seg in a.segments] == [[True, False, False], [True], [True, False]]
    assert _traj([]).option_lengths == []
    metrics = rollout_metrics([a, b], RolloutStats())
    assert metrics["rollout/mean_option_length"] == pytest.approx(10 / 7)  # 10 steps over 7 options
    assert metrics["rollout/one_step_option_share"] == pytest.approx(5 / 7)
    assert is_known_key("rollout/mean_option_length") and is_known_key("eval/valid_seen/one_step_option_share")


V1_ENV = {"pool_size": 512, "subgoal_vocabulary": "primitive"}  # cpu-v1 keeps the subgoal offer of its time


def test_train_mix_spreads_groups_over_k_with_a_limit_per_subtask():
    config = HiPERConfig.from_preset("cpu", num_envs=12, group_size=2)
    kwargs = config.train_env_kwargs()
    assert [kw["num_subtasks"] for kw in kwargs] == [1, 1, 2, 2, 3, 3] * 2  # by group index, deterministic
    assert [kw["max_episode_steps"] for kw in kwargs[::2]] == [30, 60, 90] * 2  # max_episode_steps per subtask
    assert config.train_env_kwargs() == kwargs
    # without a per-subtask limit each env keeps the env's own default (ALFWorld: 50 per subtask)
    assert all("max_episode_steps" not in kw for kw in config.replace(max_episode_steps=None).train_env_kwargs())
    # no mix: every env plays env_kwargs' K with the plain limit (cpu-v1, the preset before issue 21)
    v1 = HiPERConfig.from_preset("cpu-v1").train_env_kwargs()
    assert len(v1) == 32 and all(kw == {**V1_ENV, "max_episode_steps": 30} for kw in v1)


def test_k_mix_and_composite_panels_are_validated():
    with pytest.raises(ValueError, match="needs at least 3 groups"):
        HiPERConfig.from_preset("cpu", num_envs=2)
    with pytest.raises(ValueError, match="must not also set num_subtasks"):
        HiPERConfig.from_preset("cpu", env_kwargs={"num_subtasks": 2})
    with pytest.raises(ValueError, match="distinct positive ints"):
        HiPERConfig.from_preset("cpu", eval_num_subtasks=(1, 0))
    with pytest.raises(ValueError, match="eval_steps_per_subtask"):
        HiPERConfig.from_preset("cpu", eval_steps_per_subtask=0)


def test_composite_panels_use_the_standard_budget_per_subtask():
    config = HiPERConfig.from_preset("cpu")
    panels = config.eval_panels()
    assert [(p.split, p.num_subtasks, p.episodes) for p in panels] == [
        (split, k, n) for split in ("valid_seen", "valid_unseen") for k, n in ((1, 500), (2, 200), (3, 200))
    ]
    limits = [config.eval_env_kwargs(p)["max_episode_steps"] for p in panels]
    assert limits == [50, 100, 150] * 2  # not the training limit (30 per subtask)
    assert [config.eval_prefixes(p) for p in panels[:3]] == [
        ["eval/valid_seen", "eval/valid_seen/k1"],
        ["eval/valid_seen/k2"],
        ["eval/valid_seen/k3"],
    ]
    # the K = 1 panel plays the compiled pool of the split; a composite one a pool of its own panel's size
    assert [config.eval_env_kwargs(p)["pool_size"] for p in panels[:3]] == [512, 200, 200]
    # the other presets evaluate as before: one panel per split, at the training limit
    v1 = HiPERConfig.from_preset("cpu-v1")
    assert [(p.num_subtasks, v1.eval_prefixes(p)[0]) for p in v1.eval_panels()][0] == (None, "eval/valid_seen")
    assert v1.eval_env_kwargs(v1.eval_panels()[0])["max_episode_steps"] == 30


def test_composite_evaluation_logs_keys_per_k():
    pytest.importorskip("textworld", reason="the ALFWorld env needs textworld")
    from hiper_agent.policies import make_policy

    config = HiPERConfig.from_preset(
        "cpu",
        eval_split="valid_unseen",
        eval_num_subtasks=(1, 2),
        eval_episodes=3,
        eval_episodes_composite=2,
        eval_steps_per_subtask=4,
        env_kwargs={},
        progress=False,
    )
    policy = make_policy("scorer", config=config)
    panels = config.eval_panels()
    pools = {p.name: make_pool(config.env.env_id, 2, **config.eval_env_kwargs(p)) for p in panels}
    for panel, pool in zip(panels, pools.values(), strict=True):
        assert [env.unwrapped.num_subtasks for env in pool.envs] == [panel.num_subtasks] * 2
    metrics = evaluate_panels(pools, policy, panels, prefixes=config.eval_prefixes)
    for pool in pools.values():
        pool.close()
    for k, n in ((1, 3), (2, 2)):
        prefix = f"eval/valid_unseen/k{k}"
        assert metrics[f"{prefix}/episodes"] == n
        assert 0.0 <= metrics[f"{prefix}/success_ci_low"] <= metrics[f"{prefix}/success_rate"]
        assert metrics[f"{prefix}/success_rate"] <= metrics[f"{prefix}/success_ci_high"] <= 1.0
        assert 1.0 <= metrics[f"{prefix}/mean_option_length"] <= 4 * k
        assert metrics[f"{prefix}/episode_length"] <= 4 * k  # the panel's limit: 4 steps per subtask
    assert all(is_known_key(key) for key in metrics), [key for key in metrics if not is_known_key(key)]
    # the plain keys are the K = 1 panel
    assert metrics["eval/valid_unseen/success_rate"] == metrics["eval/valid_unseen/k1/success_rate"]
    assert metrics["eval/valid_unseen/episodes"] == 3 and "eval/valid_unseen/k2/success_rate" in metrics


def test_summary_line_quotes_the_composite_panels():
    history = [
        {"step": 0, "eval/valid_unseen/success_rate": 0.1, "eval/valid_unseen/k2/success_rate": 0.02},
        {
            "step": 5,
            "rollout/total_episodes": 160,
            "eval/valid_unseen/success_rate": 0.5,
            "eval/valid_unseen/k1/success_rate": 0.5,
            "eval/valid_unseen/k2/success_rate": 0.3,
            "eval/valid_unseen/k2/success_ci_low": 0.25,
            "eval/valid_unseen/k2/success_ci_high": 0.35,
            "eval/valid_unseen/k3/success_rate": 0.1,
        },
    ]
    line = format_summary(history)
    assert "valid_unseen success 10.0% -> 50.0%" in line
    assert "K=2 2.0% -> 30.0% [25.0, 35.0]" in line and "K=3 10.0%" in line and "K=1" not in line
