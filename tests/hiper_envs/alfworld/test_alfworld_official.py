"""Official ALFWorld data (json_2.1.1 layout): splits, aliases, task-type filter, skipped games, task text."""

import os
import shutil

import pytest
import textworld
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
from textworld.envs import PddlEnv

from hiper_envs.alfworld.official import OfficialTaskSource, find_official_root, write_game
from hiper_envs.alfworld.procedural import generate_game
from hiper_envs.alfworld.sources import GeneratedTaskSource, make_task_source

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures")
HUMAN_TASK = "Warm up the food and leave it where it belongs"  # see fixtures/make_official_fixture.py


@pytest.fixture
def no_alfworld_data(monkeypatch):
    monkeypatch.delenv("ALFWORLD_DATA", raising=False)


def test_finds_the_data_root_from_either_level():
    root = os.path.join(FIXTURE, "json_2.1.1")
    assert find_official_root(FIXTURE) == root
    assert find_official_root(root) == root
    assert find_official_root(os.path.join(root, "train")) is None


def test_train_skips_what_the_stock_env_skips():
    src = OfficialTaskSource(FIXTURE, "train")
    # 6 trials on disk: Sliced, movable, unsolvable and missing game.tw-pddl are skipped.
    assert len(src) == 2
    assert [spec.task_type for spec in (src[0], src[1])] == ["look_at_obj_in_light", "pick_and_place_simple"]
    for spec in (src[0], src[1]):
        assert "Sliced" not in spec.game_id and "movable" not in spec.game_id
        assert spec.split == "train" and os.path.isfile(spec.path)
        assert spec.game["solvable"] and spec.traj_data["task_type"] == spec.task_type


@pytest.mark.parametrize(
    ("split", "canonical"),
    [
        ("valid_seen", "valid_seen"),
        ("eval_in_distribution", "valid_seen"),
        ("eval_out_of_distribution", "valid_unseen"),
    ],
)
def test_split_names_and_aliases(split, canonical):
    src = OfficialTaskSource(FIXTURE, split)
    assert src.split == canonical and len(src) == 1
    assert src[0].split == canonical


def test_task_text_is_what_the_stock_env_shows():
    human = OfficialTaskSource(FIXTURE, "valid_seen")[0]
    assert human.task == HUMAN_TASK  # the grammar's "Your task is to: ..." line (a human annotation here)
    assert human.subtasks[0].goal == HUMAN_TASK and human.subtasks[0].pddl_params["object_target"]
    templated = OfficialTaskSource(FIXTURE, "valid_unseen")[0]  # grammar still says UNKNOWN GOAL
    params = templated.subtasks[0].pddl_params
    obj, recep = params["object_target"].lower(), params["parent_target"].lower()
    assert templated.task == f"put a clean {obj} in {recep}"


def test_task_type_filter_and_num_games():
    assert len(OfficialTaskSource(FIXTURE, "train", task_types=["pick_and_place_simple"])) == 1
    assert len(OfficialTaskSource(FIXTURE, "train", task_types=["pick_cool_then_place_in_recep"])) == 0
    assert len(OfficialTaskSource(FIXTURE, "train", num_games=1)) == 1
    with pytest.raises(ValueError, match="task_types"):
        OfficialTaskSource(FIXTURE, "train", task_types=["pick"])


def test_bad_paths_and_splits():
    with pytest.raises(FileNotFoundError, match="json_2.1.1"):
        OfficialTaskSource(os.path.dirname(FIXTURE), "train")
    with pytest.raises(ValueError, match="split"):
        OfficialTaskSource(FIXTURE, "test")
    with pytest.raises(FileNotFoundError, match="valid_train"):
        OfficialTaskSource(FIXTURE, "valid_train")
    with pytest.raises(IndexError):
        OfficialTaskSource(FIXTURE, "valid_seen")[1]


def test_make_task_source_picks_the_official_data(monkeypatch, no_alfworld_data):
    assert isinstance(make_task_source("train", data_dir=FIXTURE), OfficialTaskSource)
    assert isinstance(make_task_source("train"), GeneratedTaskSource)
    monkeypatch.setenv("ALFWORLD_DATA", FIXTURE)
    assert isinstance(make_task_source("train"), OfficialTaskSource)
    assert isinstance(make_task_source("train", source="generated"), GeneratedTaskSource)
    assert isinstance(make_task_source("train", num_subtasks=2), GeneratedTaskSource)  # composite: generated
    with pytest.raises(ValueError, match="num_subtasks"):
        make_task_source("train", num_subtasks=2, data_dir=FIXTURE)


def test_official_source_needs_data(no_alfworld_data):
    with pytest.raises(FileNotFoundError, match="ALFWORLD_DATA"):
        make_task_source("train", source="official")


def test_fixture_games_play_in_the_stock_engine():
    env = AlfredDemangler(PddlEnv(textworld.EnvInfos(won=True, admissible_commands=True)), shuffle=False)
    spec = OfficialTaskSource(FIXTURE, "valid_seen")[0]
    env.load(spec.path)
    state = env.reset()
    assert f"Your task is to: {HUMAN_TASK}." in state.feedback
    for command in spec.game["walkthrough"]:
        state, _, _ = env.step(command)
    assert state["won"]
    env.close()


def test_written_composite_games_load_back_with_their_subtasks(tmp_path):
    spec = generate_game("valid_seen", 4, num_subtasks=3)
    folder = write_game(spec, tmp_path / "json_2.1.1" / "valid_seen")
    assert os.path.basename(os.path.dirname(folder)).startswith("composite3-")
    loaded = OfficialTaskSource(tmp_path, "valid_seen")[0]
    assert loaded.task == spec.task and loaded.subtasks == spec.subtasks
    assert loaded.task_type == "composite" and loaded.game == spec.game
    # A copy under a "Sliced" name is skipped, as the stock env does.
    shutil.copytree(os.path.dirname(folder), tmp_path / "json_2.1.1" / "valid_seen" / "x-AppleSliced-None-Fridge-1")
    assert len(OfficialTaskSource(tmp_path, "valid_seen")) == 1
