"""``python -m hiper_envs.alfworld.generate``: official layout on disk, summary, and the stock AlfredTWEnv plays it."""

import json
import os
import subprocess
import sys

import pytest
from alfworld.agents.environment import get_environment

from hiper_envs.alfworld.generate import main


def stock_config(data_path: str, task_types: list[int]) -> dict:
    """The keys the stock AlfredTWEnv reads (alfworld/agents/environment/alfred_tw_env.py)."""
    return {
        "dataset": {
            "data_path": data_path,
            "eval_id_data_path": data_path,
            "eval_ood_data_path": data_path,
            "num_train_games": -1,
            "num_eval_games": -1,
        },
        "env": {
            "type": "AlfredTWEnv",
            "task_types": task_types,
            "domain_randomization": False,
            "goal_desc_human_anns_prob": 0.0,
            "expert_type": "planner",
        },
        "general": {"training_method": "dagger"},
        "logic": {},
        "dagger": {"training": {"max_nb_steps_per_episode": 60}},
    }


def game_folders(root) -> list[str]:
    return sorted(folder for folder, _, files in os.walk(root) if "traj_data.json" in files)


def test_cli_writes_the_official_layout_and_a_summary(tmp_path, capsys):
    argv_before = list(sys.argv)
    assert main(["--out", str(tmp_path), "--split", "valid_seen", "--n", "4", "--seed", "2", "--quiet"]) == 0
    assert sys.argv == argv_before  # fast_downward's translator overwrites sys.argv; we restore it
    out = capsys.readouterr().out
    assert "Wrote 4 games" in out and "pick_two_obj_and_place" in out and "total" in out
    folders = game_folders(tmp_path)
    assert len(folders) == 4
    for folder in folders:
        task_folder, trial = folder.split(os.sep)[-2:]
        assert trial.startswith("trial_gen-valid_seen-s2-")
        task_type, obj, mrecep, recep, scene = task_folder.split("-")
        with open(os.path.join(folder, "traj_data.json")) as f:
            traj = json.load(f)
        assert traj["task_type"] == task_type and traj["pddl_params"]["object_target"] == obj
        assert mrecep == "None" and scene == str(traj["scene"]["scene_num"]) and recep
        with open(os.path.join(folder, "game.tw-pddl")) as f:
            game = json.load(f)
        assert game["solvable"] is True and game["walkthrough"]
        assert set(game) == {"pddl_domain", "grammar", "pddl_problem", "solvable", "walkthrough"}


def test_cli_rejects_bad_arguments(tmp_path):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--task-types", "7"])
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--num-subtasks", "6"])
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--split", "test"])


def test_stock_alfredtwenv_plays_generated_games_to_won(tmp_path):
    # Task types by number, like the stock config; K=2 composite games are ordinary solvable games to it.
    out = tmp_path / "games"
    command = [sys.executable, "-m", "hiper_envs.alfworld.generate", "--out", str(out), "--n", "2", "--seed", "5"]
    command += ["--task-types", "3", "pick_two_obj_and_place", "--num-subtasks", "2", "--quiet"]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    assert len(game_folders(out)) == 2

    env = get_environment("AlfredTWEnv")(stock_config(str(out), [1, 2, 3, 4, 5, 6]), train_eval="train")
    assert env.num_games == 2
    batch_env = env.init_env(batch_size=1)
    try:
        obs, infos = batch_env.reset()
        gamefile = infos["extra.gamefile"][0]
        with open(gamefile) as f:
            walkthrough = json.load(f)["walkthrough"]
        with open(os.path.join(os.path.dirname(gamefile), "traj_data.json")) as f:
            task = json.load(f)["hiper"]["task"]
        assert f"Your task is to: {task}." in obs[0]
        for command in walkthrough:
            assert not infos["won"][0]
            assert command in infos["admissible_commands"][0]
            obs, _, dones, infos = batch_env.step([command])
        assert infos["won"][0] and dones[0]
    finally:
        batch_env.close()
