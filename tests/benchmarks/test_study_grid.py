"""The hierarchy-vs-flat harness: arms, the tuning protocol's split discipline, resume, a tiny grid end to end."""

from __future__ import annotations

import dataclasses
import json

import pytest

from benchmarks.study.arms import ARMS, Cell, RunPlan, cell_config, shaping_of
from benchmarks.study.grid import TUNE_SEED, Grid, Protocol, Study, select_best
from benchmarks.study.report import MARKERS, markdown, plot, summarize, update_markers
from benchmarks.study.runner import check_split, config_fingerprint, run_cell

# The tiny protocol (each shrink is only for speed): 8 envs, one PPO epoch, 8-step episodes, 200 env steps, panels
# of 4 games from pools of 8 compiled games (cached in ~/.cache/hiper after the first run), 2 tuning points.
TINY = Protocol(budget_per_subtask=200, steps_per_subtask=8, tune_episodes=4, report_episodes=4, eval_every=1,
                pool_size=8, lr_factors=(1.0,), temperatures=(0.5, 1.0),
                overrides={"num_envs": 8, "ppo_epochs": 1, "minibatch_size": 64})  # fmt: skip


def _plan(stage: str = "report", **changes) -> RunPlan:
    return dataclasses.replace(TINY.plan(stage, "/tmp/unused"), **changes)


def test_arms_differ_only_in_hierarchy_estimator_and_groups():
    plan = _plan()
    configs = {arm: cell_config(Cell("report", arm, 2, 0, 3e-3, 0.5), plan) for arm in ARMS}
    assert {a: c.policy for a, c in configs.items()} == {
        "hiper": "scorer", "hier-gae": "scorer", "flat-gae": "flat-scorer", "flat-grpo": "flat-scorer",
        "flat-gigpo": "flat-scorer", "hiper-bonus": "scorer"}  # fmt: skip
    assert [configs[a].advantage_estimator for a in ("hiper", "hier-gae", "flat-grpo")] == ["hae", "gae", "grpo"]
    compared = [a for a in ARMS if a != "hiper-bonus"]
    assert len({json.dumps(shaping_of(configs[a])) for a in compared}) == 1  # the same reward for every arm
    assert shaping_of(configs["hiper"])["subgoal_bonus"] == 0 and configs["hiper-bonus"].subgoal_bonus == 1.0
    ignore = {"policy", "advantage_estimator", "group_size", "subgoal_bonus", "exp_name"}
    flat = [{k: v for k, v in configs[a].to_flat_dict().items() if k not in ignore} for a in ARMS]
    assert all(f == flat[0] for f in flat)  # everything else is the preset's, the same for all
    c = configs["hiper"]
    assert (c.env_kwargs["num_subtasks"], c.max_episode_steps, c.total_env_steps) == (2, 16, 400)
    assert (c.eval_split, c.num_envs, c.num_threads, c.eval_temperature) == ("valid_unseen", 8, 1, 0.0)
    with pytest.raises(ValueError, match="cannot be overridden"):
        cell_config(Cell("report", "hiper", 1, 0, 1e-3, 0.5), _plan(overrides={"advantage_estimator": "gae"}))


def test_stage_split_discipline():
    check_split("tune", "valid_seen")
    check_split("report", "valid_unseen")
    for stage, split in (("tune", "valid_unseen"), ("tune", "train"), ("report", "valid_seen")):
        with pytest.raises(ValueError, match="evaluates on"):
            check_split(stage, split)
    # a tuning cell handed a held-out plan refuses before it builds anything
    with pytest.raises(ValueError, match="'tune' stage evaluates on 'valid_seen' only"):
        run_cell(Cell("tune", "hiper", 1, TUNE_SEED, 3e-3, 0.5), _plan("tune", split="valid_unseen"))


def test_select_best_ties_and_missing():
    def rec(lr, t, k, final, curve):
        return {"stage": "tune", "arm": "a", "lr": lr, "temperature": t, "K": k, "final_success": final,
                "curve": [[0, c] for c in curve]}  # fmt: skip

    records = [rec(1, 0.5, 1, 0.4, [0.1]), rec(1, 0.5, 3, 0.0, [0.0]), rec(2, 0.5, 1, 0.2, [0.3]),
               rec(2, 0.5, 3, 0.2, [0.1]), rec(3, 0.5, 1, 0.3, [0.1]), rec(3, 0.5, 3, 0.1, [0.0])]  # fmt: skip
    # mean finals 0.2, 0.2, 0.2: the tie goes to the higher mean curve (lr 2: 0.2), then to the earlier point
    assert select_best(records, "a", [(1, 0.5), (2, 0.5), (3, 0.5)], [1, 3])["lr"] == 2
    assert select_best(records, "a", [(1, 0.5), (3, 0.5)], [1, 3])["lr"] == 1
    with pytest.raises(ValueError, match="missing"):
        select_best(records, "a", [(4, 0.5)], [1, 3])


def test_resume_skips_finished_cells(tmp_path):
    calls: list[str] = []

    def fake(cell: Cell, plan: RunPlan) -> dict:
        if len(calls) == 3 and not resumed:
            raise KeyboardInterrupt  # the grid is killed during its fourth run
        calls.append(cell.key)
        return {"key": cell.key, "final_success": 0.0, "fingerprint": config_fingerprint(cell_config(cell, plan))}

    grid = Grid(("hiper", "flat-gae"), (1, 2), (0, 1))
    resumed = False
    with pytest.raises(KeyboardInterrupt):
        Study(tmp_path, TINY, grid, workers=0, run=fake).run_all()
    done = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert sorted(done) == sorted(calls) and len(done) == 3
    with pytest.raises(FileExistsError, match="--resume"):
        Study(tmp_path, TINY, grid, workers=0, run=fake)
    with pytest.raises(ValueError, match="other settings"):
        Study(tmp_path, dataclasses.replace(TINY, budget_per_subtask=300), grid, workers=0, resume=True)
    resumed, first = True, list(calls)
    results = Study(tmp_path, TINY, grid, workers=0, run=fake, command="again", resume=True).run_all()
    assert len(results["runs"]) == 8 and len(calls) == 8 and not set(calls[3:]) & set(first)
    assert results["meta"]["commands"] == ["", "again"]


def test_report_seeds_must_be_fresh(tmp_path):
    with pytest.raises(ValueError, match="fresh seeds"):
        Study(tmp_path, TINY, Grid(("hiper",), (1,), (0, TUNE_SEED)), workers=0)


@pytest.fixture()
def watched_splits(monkeypatch):
    """Every split a panel, a game pool or an ALFWorld env is built for, in order."""
    from hiper_agent.panels import EvalPanel
    from hiper_envs.alfworld.env import ALFWorldEnv
    from hiper_envs.alfworld.pool import GamePool

    seen: list[tuple[str, str]] = []
    panel_init, pool_init, env_init = EvalPanel.__post_init__, GamePool.__init__, ALFWorldEnv.__init__

    def panel(self):
        seen.append(("panel", self.split))
        panel_init(self)

    def pool(self, split="train", **kwargs):
        seen.append(("pool", split))
        pool_init(self, split, **kwargs)

    def env(self, split="train", **kwargs):
        seen.append(("env", split))
        env_init(self, split, **kwargs)

    monkeypatch.setattr(EvalPanel, "__post_init__", panel)
    monkeypatch.setattr(GamePool, "__init__", pool)
    monkeypatch.setattr(ALFWorldEnv, "__init__", env)
    return seen


def test_tuning_never_builds_a_valid_unseen_panel(tmp_path, watched_splits):
    """The tuning stage (2 arms, one point, K = 1) builds panels, pools and envs on train and valid_seen only."""
    protocol = dataclasses.replace(TINY, temperatures=(0.5,))
    study = Study(tmp_path, protocol, Grid(("hiper", "flat-gae"), (1,), (0,)), tune=True, workers=0)
    best = study._tuning()
    assert set(best) == {"hiper", "flat-gae"} and study.results["tuning"]["source"] == "sweep"
    assert len(study.results["cells"]) == 2 and all("valid_seen" in c["panel"] for c in study.results["cells"].values())
    assert {("panel", "valid_seen"), ("pool", "valid_seen"), ("env", "train"), ("env", "valid_seen")} <= set(
        watched_splits
    )
    assert all(split != "valid_unseen" for _, split in watched_splits)
    # the watch does see a held-out panel when one is built (the report stage's)
    cell_config(Cell("report", "hiper", 1, 0, 3e-3, 0.5), TINY.plan("report", tmp_path)).eval_panels()
    assert watched_splits[-1] == ("panel", "valid_unseen")


def test_tiny_grid_end_to_end(tmp_path):
    """2 arms × K = 1 × 2 seeds × 200 env steps, in this process, with the preset's settings; the statistics,
    table and plot come out of results.json."""
    results = Study(tmp_path, TINY, Grid(("hiper", "flat-grpo"), (1,), (0, 1)), workers=0, command="tiny").run_all()
    assert results["tuning"]["source"] == "preset cpu (untuned)" and not results["cells"]
    runs = results["runs"]
    assert sorted(runs) == ["flat-grpo/K1/s0", "flat-grpo/K1/s1", "hiper/K1/s0", "hiper/K1/s1"]
    for r in runs.values():
        assert "valid_unseen" in r["panel"] and len(r["outcomes"]) == 4 and r["curve"][0][0] == 0
        assert r["train"]["env_steps"] >= 200 and len(r["curve"]) >= 2
        assert r["trainer_final_success"] == r["final_success"]  # the greedy replay reproduces the trainer
    assert runs["hiper/K1/s0"]["options"]["proposed"] > 0 and runs["flat-grpo/K1/s0"]["options"]["proposed"] == 0

    results["stats"] = stats = summarize(results, replicates=500)
    k1 = stats["per_k"]["1"]
    assert set(k1["arms"]) == {"hiper", "flat-grpo"} and k1["hiper_minus_best_flat"]["flat_arm"] == "flat-grpo"
    assert k1["arms"]["flat-grpo"]["options"]["achieved_rate"] is None
    table = markdown(results, stats)
    assert "| 1 | " in table and "hiper" in table and "flat-grpo" in table and "`tiny`" in table
    assert plot(results, tmp_path / "plot.png", stats).stat().st_size > 5_000
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{MARKERS[0]}\nold table\n{MARKERS[1]}\noutro\n")
    assert update_markers(readme, table)
    assert readme.read_text() == f"intro\n{MARKERS[0]}\n{table}\n{MARKERS[1]}\noutro\n"
    other = tmp_path / "other.md"
    other.write_text("no markers here\n")
    assert not update_markers(other, table) and other.read_text() == "no markers here\n"
