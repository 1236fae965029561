"""hiper-train argument parsing: a flag per config field, presets, errors, --help, --print-config."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hiper_agent import cli
from hiper_agent.ppo_config import PRESETS, HiPERConfig


def test_default_preset_is_cpu():
    assert cli.parse_args([]) == HiPERConfig.from_preset("cpu")


def test_overrides_of_every_kind():
    config = cli.parse_args(
        [
            "--preset", "smoke",
            "--num-envs", "6", "--group-size", "3",  # int
            "--lr", "3e-6",  # float
            "--no-norm-adv", "--bootstrap-truncated",  # bool pair
            "--env", "HiPER/WebShop-v0",  # alias of --env-id
            "--model", "Qwen/Qwen2.5-1.5B-Instruct",  # str
            "--max-episode-steps", "none",  # optional -> None
            "--value-clip-range", "0.3",  # optional float with a value
            "--critic-model", "tiny",  # optional str
            "--env-kwargs", "num_subtasks=3", "task_types=[1,2]",  # dict, key=value pairs with JSON values
            "--env-kwargs", "split=train",  # repeated: merged
            "--advantage-estimator", "grpo",  # choice
            "--resume",  # bool-or-path without a value
        ]
    )  # fmt: skip
    assert config.preset == "smoke"
    assert (config.num_envs, config.group_size, config.num_groups) == (6, 3, 2)
    assert config.lr == 3e-6 and config.norm_adv is False and config.bootstrap_truncated is True
    assert config.env_id == "HiPER/WebShop-v0" and config.model == "Qwen/Qwen2.5-1.5B-Instruct"
    assert config.max_episode_steps is None and config.value_clip_range == 0.3 and config.critic_model == "tiny"
    assert config.env_kwargs == {"num_subtasks": 3, "task_types": [1, 2], "split": "train"}
    assert config.advantage_estimator == "grpo" and config.resume is True
    assert config.max_new_tokens == PRESETS["smoke"]["max_new_tokens"]  # untouched fields keep the preset's


def test_resume_path_and_no_resume():
    assert cli.parse_args(["--resume", "runs/x/checkpoints/iter_000004"]).resume == "runs/x/checkpoints/iter_000004"
    assert cli.parse_args(["--resume", "--no-resume"]).resume is False


def test_dict_json_object_replaces_then_pairs_update():
    config = cli.parse_args(["--env-kwargs", '{"split": "valid_unseen", "num_subtasks": 2}', "num_subtasks=4"])
    assert config.env_kwargs == {"split": "valid_unseen", "num_subtasks": 4}


def test_every_settable_field_has_a_flag():
    parser = cli.build_parser()
    dests = {action.dest for action in parser._actions}
    settable = {f.name for f in dataclasses.fields(HiPERConfig) if f.init}
    assert settable <= dests


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lrr", "1e-5"], "unrecognized arguments: --lrr (did you mean --lr?)"),
        (["--num-envs", "abc"], "argument --num-envs: invalid int value: 'abc'"),
        (["--preset", "fast"], "unknown preset 'fast'"),
        (["--num-envs", "6"], "num_envs (6) must be divisible by group_size (8)"),
        (["--advantage-estimator", "ppo"], "invalid choice: 'ppo'"),
        (["--env-kwargs", "oops"], "expected key=value or a JSON object"),
        (["--num"], "unrecognized arguments: --num"),  # abbreviations are not accepted
    ],
)
def test_bad_arguments_exit_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.parse_args(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_help_lists_fields_with_help_and_preset_defaults(capsys):
    with pytest.raises(SystemExit) as info:
        cli.parse_args(["--preset", "gpu-7b", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--lam-high FLOAT" in out and "GAE λ across segments" in out
    assert "(default: Qwen/Qwen2.5-7B-Instruct)" in out  # defaults shown are the chosen preset's
    assert "- grpo: critic-free" in out  # bullet lists of string options survive wrapping
    assert "Advantage estimation and reward shaping:" in out


def test_main_print_config_and_calls_trainer(monkeypatch, capsys):
    assert cli.main(["--preset", "smoke", "--seed", "3", "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == 3

    seen = {}
    fake = type(sys)("hiper_agent.ppo_trainer")
    fake.train = lambda config: seen.setdefault("config", config) and {"summary": "HiPER(hae): done"}
    monkeypatch.setitem(sys.modules, "hiper_agent.ppo_trainer", fake)
    monkeypatch.setattr(sys, "argv", ["hiper-train", "--preset", "smoke", "--seed", "4"])
    assert cli.main() == 0
    assert seen["config"].seed == 4
    assert capsys.readouterr().out.strip() == "HiPER(hae): done"


def test_config_reference_in_docs_is_current():
    docs = Path(__file__).resolve().parents[2] / "docs" / "training.md"
    assert cli.config_reference() in docs.read_text(), (
        "docs/training.md is out of date: paste the output of "
        "`python -c 'from hiper_agent.cli import config_reference; print(config_reference())'`"
    )


def test_console_script_help_runs_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "hiper_agent.cli", "--preset", "smoke", "--print-config"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout)["preset"] == "smoke"


def test_a_used_run_dir_is_refused_with_a_message_not_a_traceback(tmp_path, capsys):
    from hiper_agent.checkpoint import save_checkpoint

    config = cli.parse_args(["--preset", "smoke", "--output-dir", str(tmp_path)])
    save_checkpoint(config.run_dir, 1, {})
    assert cli.main(["--preset", "smoke", "--output-dir", str(tmp_path)]) == 2
    assert "pass --resume to continue it" in capsys.readouterr().err
    assert cli.main(["--preset", "smoke", "--resume", str(tmp_path / "nothing")]) == 2
    assert "neither a checkpoint" in capsys.readouterr().err
    # a model that is not there is the user's to fix too (the run dir check comes first, so use a fresh one)
    fresh = ["--preset", "smoke", "--output-dir", str(tmp_path / "fresh"), "--num-envs", "2", "--group-size", "2",
             "--sft-episodes", "2"]  # fmt: skip
    assert cli.main([*fresh, "--model", str(tmp_path / "no-such-model")]) == 2
    assert "model path not found" in capsys.readouterr().err


def test_only_setup_errors_lose_their_traceback(monkeypatch):
    # anything else is a bug and must propagate
    import hiper_agent.ppo_trainer as trainer

    def broken(config):
        raise FileNotFoundError("deep inside")

    monkeypatch.setattr(trainer, "train", broken)
    with pytest.raises(FileNotFoundError, match="deep inside"):
        cli.main(["--preset", "smoke"])
