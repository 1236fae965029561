"""HiPERConfig: validation messages, derived fields, presets and JSON round trip."""

import dataclasses
import json

import pytest

from hiper_agent.training.config_parts import COMPONENTS
from hiper_agent.training.ppo_config import PRESETS, HiPERConfig, advantage_estimator_names


def test_defaults_are_valid_and_derive_fields():
    config = HiPERConfig()
    assert config.num_groups == config.env.num_envs // config.env.group_size
    assert config.micro_batch_size == config.ppo.minibatch_size // config.ppo.grad_accum_steps
    assert config.run_name == "alfworld-v0-hae-tiny-s1"
    assert config.run_dir == f"runs/{config.run_name}"


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"num_envs": 6, "group_size": 4}, ["num_envs (6)", "divisible by group_size (4)", "set num_envs to 4"]),
        ({"advantage_estimator": "ppo"}, ["advantage_estimator 'ppo' must be one of", "hae, gae, grpo, rloo, gigpo"]),
        ({"advantage_estimator": "grpo", "group_size": 1}, ["group_size (1) must be >= 2", "set group_size"]),
        ({"keep_penalty_mode": "sometimes"}, ["keep_penalty_mode 'sometimes'", "fixed, normalized"]),
        ({"kl_estimator": "k3"}, ["kl_estimator 'k3'", "low_var_kl"]),
        ({"keep_penalty": -0.3}, ["keep_penalty (-0.3) must be >= 0", "pass 0.3"]),
        ({"lr": 0.0}, ["lr (0.0) must be > 0"]),
        ({"gamma": 1.5}, ["gamma (1.5) must be in [0, 1]"]),
        ({"top_p": 0.0}, ["top_p (0.0)"]),
        ({"minibatch_size": 10, "grad_accum_steps": 4}, ["minibatch_size (10)", "grad_accum_steps (4)"]),
        ({"sft_epochs": 2, "sft_episodes": 0}, ["sft_epochs (2)", "set sft_episodes > 0"]),
        ({"shared_critic_backbone": True, "critic_model": "x"}, ["critic_model ('x') must be None"]),
        ({"max_episode_steps": 0}, ["max_episode_steps (0) must be >= 1"]),
        ({"value_clip_range": -1.0}, ["value_clip_range (-1.0)"]),
        ({"exp_name": "a/b"}, ["exp_name ('a/b')"]),
        ({"resume": ""}, ["resume ('')"]),
        ({"eval_every": 1, "eval_episodes": 0}, ["eval_episodes (0)"]),
    ],
)
def test_validation_errors_name_value_rule_and_fix(overrides, fragments):
    with pytest.raises(ValueError) as info:
        HiPERConfig.from_dict(overrides)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_estimator_names_come_from_the_credit_registry():
    from hiper_agent.credit import AdvantageEstimator

    assert advantage_estimator_names() == tuple(e.value for e in AdvantageEstimator)


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_build_and_record_their_name(name):
    config = HiPERConfig.from_preset(name)
    assert config.run.preset == name
    assert config.run_name.startswith(name + "-")
    for key, value in PRESETS[name].items():
        assert config.to_flat_dict()[key] == value


def test_paper_presets_follow_hiper_settings():
    for name, model in (("gpu-1.5b", "Qwen/Qwen2.5-1.5B-Instruct"), ("gpu-7b", "Qwen/Qwen2.5-7B-Instruct")):
        c = HiPERConfig.from_preset(name)
        assert c.agent.model == model and c.agent.critic_model == "Qwen/Qwen2.5-1.5B-Instruct"
        assert (c.credit.gamma, c.credit.lam_low, c.credit.lam_high, c.ppo.lr, c.ppo.critic_lr, c.ppo.kl_coef) == (
            1.0,
            1.0,
            0.95,
            1e-6,
            1e-5,
            0.01,
        )
        assert (c.env.num_envs, c.env.group_size, c.num_groups, c.env.max_episode_steps) == (128, 8, 16, 50)
        assert (c.credit.invalid_action_penalty, c.credit.keep_penalty, c.credit.keep_consistency_penalty) == (
            0.1,
            0.3,
            0.3,
        )
        assert (
            c.ppo.kl_estimator == "low_var_kl"
            and c.credit.bootstrap_truncated
            and c.credit.norm_adv
            and c.agent.temperature == 1.0
        )


def test_from_preset_overrides_and_unknown_names():
    config = HiPERConfig.from_preset("smoke", seed=7, num_envs=8)
    assert (config.run.seed, config.env.num_envs, config.num_groups) == (7, 8, 4)
    with pytest.raises(ValueError, match="unknown preset 'fast'; choose one of smoke, cpu"):
        HiPERConfig.from_preset("fast")
    with pytest.raises(ValueError, match=r"'num_env' \(did you mean 'num_envs'\?\)"):
        HiPERConfig.from_preset("smoke", num_env=3)


def test_json_round_trip(tmp_path):
    config = HiPERConfig.from_preset("cpu-v1", env_kwargs={"num_subtasks": 2}, max_episode_steps=None, resume=True)
    path = config.save(tmp_path)
    assert path == tmp_path / "config.json"
    data = json.loads(path.read_text())
    assert data["derived"]["run_dir"] == config.run_dir and data["ppo"]["lr"] == config.ppo.lr
    assert data["derived"]["micro_batch_size"] == config.micro_batch_size
    assert HiPERConfig.load(tmp_path) == config
    assert HiPERConfig.from_dict(config.to_dict()) == config


def test_replace_recomputes_derived_fields():
    config = HiPERConfig.from_preset("smoke").replace(seed=5, group_size=4)
    assert config.run_name.endswith("-s5") and config.num_groups == 1


def test_every_field_has_help_and_a_unique_flat_name():
    names = [f.name for comp in COMPONENTS.values() for f in dataclasses.fields(comp)]
    assert len(names) == len(set(names))  # flat flags and preset keys need unique names across components
    for comp in COMPONENTS.values():
        for f in dataclasses.fields(comp):
            assert f.metadata.get("help"), f"{f.name} has no help"


def test_fields_are_read_through_their_component():
    config = HiPERConfig.from_preset("smoke", lr=0.25)
    assert config.ppo.lr == config.to_flat_dict()["lr"] == 0.25  # flat names only for presets, flags, replace
    with pytest.raises(AttributeError):
        _ = config.lr  # no hidden forwarding: the component says what the field is


def test_every_credit_setting_reaches_the_estimators():
    from hiper_agent.training.ppo_trainer import advantage_config

    config = HiPERConfig.from_dict(
        dict(
            gamma=0.9,
            lam_low=0.8,
            lam_high=0.7,
            gae_lambda=0.6,
            norm_adv=False,
            bootstrap_truncated=False,
            invalid_action_penalty=0.11,
            keep_penalty=0.12,
            keep_penalty_mode="fixed",
            keep_consistency_penalty=0.13,
            subgoal_bonus=0.14,
        )
    )
    adv = advantage_config(config)
    assert (adv.gamma, adv.lam_low, adv.lam_high, adv.gae_lambda) == (0.9, 0.8, 0.7, 0.6)  # gae reads gae_lambda
    assert (adv.normalize, adv.bootstrap_truncated) == (False, False)
    s = adv.shaping
    assert (s.invalid_action_penalty, s.keep_penalty, s.keep_penalty_mode) == (0.11, 0.12, "fixed")
    assert (s.keep_consistency_penalty, s.subgoal_bonus) == (0.13, 0.14)
