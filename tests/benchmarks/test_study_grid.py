"""The hierarchy-vs-flat harness: arms, the tuning protocol's split discipline, resume, a tiny grid end to end."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.study.arms import ARMS, Cell, RunPlan, cell_config, shaping_of
from benchmarks.study.grid import Study
from benchmarks.study.protocol import TUNE_SEED, Grid, Protocol, estimate_env_steps, select_best
from benchmarks.study.report import MARKERS, TUNING_MARKERS, markdown, plot, summarize, tuning_markdown, update_markers
from benchmarks.study.runner import check_split, config_fingerprint, run_cell

# The tiny protocol (each shrink is only for speed): 8 envs, one PPO epoch, 8 steps per subtask, 200 env steps,
# panels of 6 games (curves on the first 3) from pools of 8 compiled games (cached in ~/.cache/hiper after the
# first run), 2 tuning points.
TINY = Protocol(
    budget=200,
    num_envs=8,
    steps_per_subtask=8,
    tune_episodes=6,
    report_episodes=6,
    curve_episodes=3,
    eval_every=1,
    pool_size=8,
    lr_factors=(1.0,),
    temperatures=(0.5, 1.0),
    overrides={"ppo_epochs": 1, "minibatch_size": 64},
)


def _plan(stage: str = "report", ks=(1,), **changes) -> RunPlan:
    return dataclasses.replace(TINY.plan(stage, "/tmp/unused", ks), **changes)


def test_arms_differ_only_in_hierarchy_estimator_and_groups():
    plan = _plan(ks=(1, 2), num_envs=16)
    configs = {arm: cell_config(Cell("report", arm, 0, 3e-3, 0.5), plan) for arm in ARMS}
    assert {a: c.agent.policy for a, c in configs.items()} == {
        "hiper": "scorer",
        "hier-gae": "scorer",
        "flat-gae": "flat-scorer",
        "flat-grpo": "flat-scorer",
        "flat-gigpo": "flat-scorer",
        "hiper-sparse": "scorer",
        "hier-gae-sparse": "scorer",
    }
    assert [configs[a].credit.advantage_estimator for a in ("hiper", "hier-gae", "flat-grpo")] == ["hae", "gae", "grpo"]
    hierarchical, flats = ("hiper", "hier-gae"), ("flat-gae", "flat-grpo", "flat-gigpo")
    shaping = {a: shaping_of(configs[a]) for a in ARMS}
    assert all(shaping[a] == shaping["hiper"] for a in hierarchical) and shaping["hiper"]["subgoal_bonus"] == 1.0
    assert all(shaping[a] == shaping["flat-gae"] for a in flats) and shaping["flat-gae"]["subgoal_bonus"] == 0.0
    assert shaping["hiper-sparse"] == shaping["hier-gae-sparse"] == {**shaping["hiper"], "subgoal_bonus": 0.0}
    assert configs["hier-gae-sparse"].credit.advantage_estimator == "gae"
    # the flat arms differ from the hierarchical ones only in the terms a flat policy cannot earn or pay
    differ = {k for k in shaping["hiper"] if shaping["hiper"][k] != shaping["flat-gae"][k]}
    assert differ <= {"subgoal_bonus", "switch_cost"} and shaping["hiper"]["keep_penalty"] == 0.0
    ignore = {"policy", "advantage_estimator", "group_size", "subgoal_bonus", "exp_name"}
    flat = [{k: v for k, v in configs[a].to_flat_dict().items() if k not in ignore} for a in ARMS]
    assert all(f == flat[0] for f in flat)  # everything else is the preset's, the same for all
    c, grpo = configs["hiper"], configs["flat-grpo"]
    # the K mix, spread evenly in every arm: 8 envs at K = 1 and 8 at K = 2 (GRPO: one group of 8 each)
    for config in (c, grpo):
        ks = [kw["num_subtasks"] for kw in config.train_env_kwargs()]
        assert ks.count(1) == ks.count(2) == 8
    assert [kw["max_episode_steps"] for kw in c.train_env_kwargs()][:2] == [8, 16]  # 8 steps per subtask
    assert [(p.split, p.num_subtasks, p.episodes) for p in c.eval_panels()] == [
        ("valid_unseen", 1, 3),
        ("valid_unseen", 2, 3),
    ]
    assert (c.ppo.total_env_steps, c.run.num_threads, c.evaluation.eval_temperature) == (200, 1, 0.0)
    with pytest.raises(ValueError, match="cannot be overridden"):
        cell_config(Cell("report", "hiper", 0, 1e-3, 0.5), _plan(overrides={"advantage_estimator": "gae"}))
    with pytest.raises(ValueError, match="spread evenly over K = \\[1, 2, 3\\]: use a multiple of 24"):
        cell_config(Cell("report", "flat-grpo", 0, 1e-3, 0.5), _plan(ks=(1, 2, 3), num_envs=16))


def test_cell_keys():
    report, tune = Cell("report", "hiper", 2, 3e-3, 0.5), Cell("tune", "flat-gae", TUNE_SEED, 1e-3, 1.0)
    assert (report.key, report.record_key(3), report.slug) == ("hiper/s2", "hiper/K3/s2", "hiper-s2")
    assert (tune.key, tune.record_key(1)) == ("tune/flat-gae/lr0.001/T1", "tune/flat-gae/K1/lr0.001/T1")


def test_estimate_env_steps_hand_worked():
    # K = 1, limit 10 -> episodes of 9 steps, 8 envs: 72 steps an iteration, 1000 / 72 -> 14 iterations;
    # curve points: the start, iterations 2, 4, ..., 14 -> 8 points of 4 games, then the 6-game panel:
    # 1000 + 72 / 2 + (8 * 4 + 6) * 9 = 1378 a run
    plan = _plan(budget=1000, steps_per_subtask=10, curve_episodes=4, episodes=6, eval_every=2, num_envs=8)
    assert estimate_env_steps(1, plan) == 1378 and estimate_env_steps(3, plan) == 3 * 1378
    # the mix K = 1, 2: episodes of 9 and 18 steps, 8 envs -> 108 steps an iteration, 1000 / 108 -> 9 iterations;
    # points: the start, 2, 4, 6, 8, 9 -> 6 points of 4 games, and the final 6 games, at each K (9 + 18 steps):
    # 1000 + 108 / 2 + (6 * 4 + 6) * 27 = 1864
    assert estimate_env_steps(1, dataclasses.replace(plan, ks=(1, 2))) == 1864


def test_stage_split_discipline():
    check_split("tune", "valid_seen")
    check_split("report", "valid_unseen")
    for stage, split in (("tune", "valid_unseen"), ("tune", "train"), ("report", "valid_seen")):
        with pytest.raises(ValueError, match="evaluates on"):
            check_split(stage, split)
    # a tuning cell handed a held-out plan refuses before it builds anything
    with pytest.raises(ValueError, match="'tune' stage evaluates on 'valid_seen' only"):
        run_cell(Cell("tune", "hiper", TUNE_SEED, 3e-3, 0.5), _plan("tune", split="valid_unseen"))


def test_select_best_ties_and_missing():
    def rec(lr, t, k, final, curve):
        return {
            "stage": "tune",
            "arm": "a",
            "lr": lr,
            "temperature": t,
            "K": k,
            "final_success": final,
            "curve": [[0, c] for c in curve],
        }

    records = [
        rec(1, 0.5, 1, 0.4, [0.1]),
        rec(1, 0.5, 3, 0.0, [0.0]),
        rec(2, 0.5, 1, 0.2, [0.3]),
        rec(2, 0.5, 3, 0.2, [0.1]),
        rec(3, 0.5, 1, 0.3, [0.1]),
        rec(3, 0.5, 3, 0.1, [0.0]),
    ]
    # mean finals 0.2, 0.2, 0.2: the tie goes to the higher mean curve (lr 2: 0.2), then to the earlier point
    assert select_best(records, "a", [(1, 0.5), (2, 0.5), (3, 0.5)], [1, 3])["lr"] == 2
    assert select_best(records, "a", [(1, 0.5), (3, 0.5)], [1, 3])["lr"] == 1
    with pytest.raises(ValueError, match="missing"):
        select_best(records, "a", [(4, 0.5)], [1, 3])


def test_tuning_table_marks_the_frozen_point(tmp_path):
    def cell(arm, lr, k, final):
        return {"arm": arm, "lr": lr, "temperature": 0.5, "K": k, "final_success": final}

    cells = [
        cell("hiper", 1e-3, 1, 0.2),
        cell("hiper", 1e-3, 3, 0.0),
        cell("hiper", 3e-3, 1, 0.3),
        cell("hiper", 3e-3, 3, 0.1),
    ]
    tuning = {"source": "sweep", "seed": TUNE_SEED, "ks": [1, 3], "split": "valid_seen",
              "points": [[1e-3, 0.5], [3e-3, 0.5]], "best": {"hiper": {"lr": 3e-3, "temperature": 0.5}}}  # fmt: skip
    results = {"meta": {"protocol": {"tune_episodes": 100}}, "tuning": tuning, "cells": dict(enumerate(cells))}
    table = tuning_markdown(results).splitlines()
    assert table[2] == "| hiper | 0.001 | 0.5 | 20.0% | 0.0% | 10.0% |"
    assert table[3] == "| **hiper** | 0.003 | 0.5 | 30.0% | 10.0% | **20.0%** |"
    assert tuning_markdown({**results, "tuning": {"source": "preset cpu (untuned)"}}) == ""
    doc = tmp_path / "doc.md"
    doc.write_text(f"{TUNING_MARKERS[0]}\nold\n{TUNING_MARKERS[1]}\n")
    assert update_markers(doc, "new", TUNING_MARKERS) and "\nnew\n" in doc.read_text()


def test_resume_skips_finished_cells(tmp_path):
    calls: list[str] = []

    def fake(cell: Cell, plan: RunPlan) -> list[dict]:
        if len(calls) == 3 and not resumed:
            raise KeyboardInterrupt  # the grid is killed during its fourth run
        calls.append(cell.key)
        fingerprint = config_fingerprint(cell_config(cell, plan))
        return [{"key": cell.record_key(k), "K": k, "final_success": 0.0, "fingerprint": fingerprint} for k in plan.ks]

    grid = Grid(("hiper", "flat-gae"), (1, 2), (0, 1, 2))
    resumed = False
    with pytest.raises(KeyboardInterrupt):
        Study(tmp_path, TINY, grid, workers=0, run=fake).run_all()
    done = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert len(calls) == 3 and sorted(done) == sorted(f"{c.replace('/s', f'/K{k}/s')}" for c in calls for k in (1, 2))
    with pytest.raises(FileExistsError, match="--resume"):
        Study(tmp_path, TINY, grid, workers=0, run=fake)
    with pytest.raises(ValueError, match="other settings"):
        Study(tmp_path, dataclasses.replace(TINY, budget=300), grid, workers=0, resume=True)
    resumed, first = True, list(calls)
    results = Study(tmp_path, TINY, grid, workers=0, run=fake, command="again", resume=True).run_all()
    assert len(results["runs"]) == 12 and len(calls) == 6 and not set(calls[3:]) & set(first)
    assert results["meta"]["commands"] == ["", "again"]


def test_frozen_points_from_an_earlier_study(tmp_path):
    earlier = tmp_path / "earlier.json"
    best = {"hiper": {"lr": 1e-3, "temperature": 1.0}, "flat-gae": {"lr": 9e-3, "temperature": 0.5}}
    earlier.write_text(json.dumps({"meta": {"protocol": {"preset": "cpu"}}, "tuning": {"best": best}}))
    seen: list[tuple[str, float, float]] = []

    def fake(cell: Cell, plan: RunPlan) -> list[dict]:
        seen.append((cell.arm, cell.lr, cell.temperature))
        return [{"key": cell.record_key(1), "K": 1, "final_success": 0.0, "fingerprint": ""}]

    results = Study(
        tmp_path / "a", TINY, Grid(("hiper", "flat-gae"), (1,), (0,)), tuned_file=str(earlier), workers=0, run=fake
    ).run_all()
    assert sorted(seen) == [("flat-gae", 9e-3, 0.5), ("hiper", 1e-3, 1.0)]
    assert results["tuning"]["source"] == f"file:{earlier}"
    with pytest.raises(ValueError, match="no point tuned on preset 'cpu' for \\['flat-grpo'\\]"):
        Study(tmp_path / "b", TINY, Grid(("flat-grpo",), (1,), (0,)), tuned_file=str(earlier), workers=0)
    earlier.write_text("[]")
    with pytest.raises(ValueError, match="not a hierarchy-vs-flat results file"):
        Study(tmp_path / "c", TINY, Grid(("hiper",), (1,), (0,)), tuned_file=str(earlier), workers=0)


def test_report_seeds_must_be_fresh(tmp_path):
    with pytest.raises(ValueError, match="fresh seeds"):
        Study(tmp_path, TINY, Grid(("hiper",), (1,), (0, TUNE_SEED)), workers=0)


@pytest.fixture()
def watched_splits(monkeypatch):
    """Every split a panel, a game pool or an ALFWorld env is built for, in order."""
    from hiper_agent.evaluation.panels import EvalPanel
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
    cell_config(Cell("report", "hiper", 0, 3e-3, 0.5), TINY.plan("report", tmp_path, (1,))).eval_panels()
    assert watched_splits[-1] == ("panel", "valid_unseen")


def test_tiny_grid_end_to_end(tmp_path):
    """2 arms × K = 1 × 2 seeds × 200 env steps, in this process, with the preset's settings; the statistics,
    table and plot come out of results.json."""
    results = Study(tmp_path, TINY, Grid(("hiper", "flat-grpo"), (1,), (0, 1)), workers=0, command="tiny").run_all()
    assert results["tuning"]["source"] == "preset cpu (untuned)" and not results["cells"]
    runs = results["runs"]
    assert sorted(runs) == ["flat-grpo/K1/s0", "flat-grpo/K1/s1", "hiper/K1/s0", "hiper/K1/s1"]
    for r in runs.values():
        assert "valid_unseen" in r["panel"] and len(r["outcomes"]) == 6 and r["curve"][0][0] == 0
        assert r["train"]["env_steps"] >= 200 and len(r["curve"]) >= 2
        assert r["trainer_final_success"] == r["replay_curve_games_success"]  # the replay reproduces the trainer
    assert runs["hiper/K1/s0"]["options"]["proposed"] > 0 and runs["flat-grpo/K1/s0"]["options"]["proposed"] == 0
    for r in runs.values():  # the won and the lost games' options partition the panel's
        split = r["options_by_outcome"]
        for count in ("options", "steps", "one_step", "proposed", "achieved"):
            assert split["won"][count] + split["lost"][count] == r["options"][count]

    results["stats"] = stats = summarize(results, replicates=500)
    k1 = stats["per_k"]["1"]
    assert set(k1["arms"]) == {"hiper", "flat-grpo"} and k1["hiper_minus_best_flat"]["flat_arm"] == "flat-grpo"
    assert k1["arms"]["flat-grpo"]["options"]["achieved_rate"] is None
    pooled = k1["arms"]["hiper"]["options_by_outcome"]
    assert pooled["won"]["options"] + pooled["lost"]["options"] == k1["arms"]["hiper"]["options"]["options"]
    table = markdown(results, stats)
    hiper_row = next(line for line in table.splitlines() if line.startswith("| 1 | hiper") or "**hiper**" in line)
    assert re.search(r"\| [\d.]+ \((?:[\d.]+|–) / (?:[\d.]+|–)\) \|", hiper_row)  # all (won / lost)
    flat_row = next(line for line in table.splitlines() if "flat-grpo" in line and line.startswith("| 1 |"))
    assert flat_row.endswith("| – | – | – |")  # a flat policy has no options: its episode is not one
    assert k1["hae_minus_flat_gae"] == []  # no hier-gae arm in this grid
    # HAE against flat GAE on the same policy: a hier-gae arm that played exactly hiper's games differs by 0
    twin = {f"hier-gae/K1/s{r['seed']}": {**r, "arm": "hier-gae"} for r in runs.values() if r["arm"] == "hiper"}
    paired = summarize({**results, "runs": {**runs, **twin}}, replicates=200)["per_k"]["1"]["hae_minus_flat_gae"]
    assert [(d["hae_arm"], d["gae_arm"], d["estimate"], d["low"], d["high"]) for d in paired] == [
        ("hiper", "hier-gae", 0.0, 0.0, 0.0)
    ]
    assert "| 1 | hiper − hier-gae: +0.0 points [+0.0, +0.0] |" in markdown(
        {**results, "runs": {**runs, **twin}}, summarize({**results, "runs": {**runs, **twin}}, replicates=50)
    )
    older = {**results, "runs": {k: {**r} for k, r in runs.items()}}
    del older["runs"]["hiper/K1/s0"]["options_by_outcome"]  # a record from before the split: no split shown
    assert summarize(older, replicates=50)["per_k"]["1"]["arms"]["hiper"]["options_by_outcome"] is None
    assert "| 1 | " in table and "hiper" in table and "flat-grpo" in table and "`tiny`" in table
    assert plot(results, tmp_path / "plot.png", stats).stat().st_size > 5_000
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{MARKERS[0]}\nold table\n{MARKERS[1]}\noutro\n")
    assert update_markers(readme, table)
    assert readme.read_text() == f"intro\n{MARKERS[0]}\n{table}\n{MARKERS[1]}\noutro\n"
    readme.write_text(f"intro\n{MARKERS[0]}\n{MARKERS[1]}\noutro\n")  # a fresh pair, nothing between them yet
    assert update_markers(readme, table)
    assert readme.read_text() == f"intro\n{MARKERS[0]}\n{table}\n{MARKERS[1]}\noutro\n"
    other = tmp_path / "other.md"
    other.write_text("no markers here\n")
    assert not update_markers(other, table) and other.read_text() == "no markers here\n"


def test_cli_refuses_bad_input_and_loses_nothing(tmp_path, capsys):
    from benchmarks.hierarchy_vs_flat import main

    (tmp_path / "results.json").write_text('{"keep": "me"}')
    assert main(["--out", str(tmp_path), "--ks", "1"]) == 2
    assert "--resume" in capsys.readouterr().err and (tmp_path / "results.json").read_text() == '{"keep": "me"}'
    assert main(["--out", str(tmp_path / "new"), "--eval-episodes", "300", "--pool-size", "256"]) == 2
    assert "report_episodes (300)" in capsys.readouterr().err and not (tmp_path / "new").exists()
    assert main(["--out", str(tmp_path / "new"), "--full", "--pool-size", "60", "--eval-episodes", "60"]) == 2
    assert "tune_episodes (100) must be in [1, pool_size (60)]" in capsys.readouterr().err
    assert main(["--out", str(tmp_path / "new"), "--dry-run"]) == 0
    assert "report: 12 runs" in capsys.readouterr().out and not (tmp_path / "new").exists()
    assert main(["--out", str(tmp_path / "new"), "--full", "--dry-run", "--budget", "100"]) == 0
    printed = capsys.readouterr().out
    assert "tune: 42 runs" in printed and "report: 35 runs" in printed
    assert main(["--out", str(tmp_path / "new"), "--num-envs", "18"]) == 2  # 18 envs: no groups of 8 for GRPO
    assert "use a multiple of 24" in capsys.readouterr().err and not (tmp_path / "new").exists()
    assert main(["--out", str(tmp_path), "--resume"]) == 2
    assert "not a hierarchy-vs-flat results file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--set", "num_envs"])
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--full", "--tuned", "x.json"])


@pytest.mark.slow
def test_cli_killed_grid_resumes_without_redoing_runs(tmp_path):
    """The real CLI with 2 worker processes, SIGKILLed after its first finished run, then --resume; then the report
    script regenerates the table from results.json."""
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "hvf"
    flags = (
        "--arms hiper flat-gae --ks 1 --seeds 0 1 --budget 200 --steps-per-subtask 8 --eval-episodes 4 "
        "--curve-episodes 2 --eval-every 1 --pool-size 8 --num-envs 8 --set ppo_epochs=1 minibatch_size=64 --workers 2"
    ).split()
    cmd = [sys.executable, str(root / "benchmarks" / "hierarchy_vs_flat.py"), "--out", str(out), *flags]
    proc = subprocess.Popen(cmd, cwd=root, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results_file, deadline = out / "results.json", time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if results_file.is_file() and json.loads(results_file.read_text())["runs"]:
            break
        time.sleep(0.5)
    assert proc.poll() is None, f"the grid ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = json.loads(results_file.read_text())["runs"]
    assert 1 <= len(first) < 4
    subprocess.run([*cmd, "--resume"], cwd=root, check=True, capture_output=True, timeout=900)
    results = json.loads(results_file.read_text())
    assert len(results["runs"]) == 4 and all(results["runs"][k] == v for k, v in first.items())  # kept, not redone
    assert len(results["meta"]["commands"]) == 2
    assert set(results["stats"]["per_k"]["1"]["arms"]) == {"hiper", "flat-gae"}
    assert (out / "hierarchy_vs_flat.png").is_file() and "| 1 | " in (out / "table.md").read_text()
    readme = tmp_path / "README.md"
    readme.write_text(f"{MARKERS[0]}\nold\n{MARKERS[1]}\n")
    script, plot = root / "benchmarks" / "hierarchy_vs_flat_report.py", tmp_path / "p.png"
    report_cmd = [sys.executable, str(script), str(results_file), "--plot", str(plot), "--update", str(readme)]
    report = subprocess.run(report_cmd, cwd=root, check=True, capture_output=True, text=True, timeout=300)
    assert plot.is_file() and report.stdout.split("plot:")[0].strip() in readme.read_text()
