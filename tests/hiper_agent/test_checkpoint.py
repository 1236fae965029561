"""Checkpoints: round trip, atomic writes, keep-last-N, resume decisions, and an exact resume of a tiny run."""

import json
import random

import numpy as np
import pytest
import torch

from hiper_agent.seeding import iteration_seed, seed_iteration, torch_generator
from hiper_agent.training.checkpoint import (
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    resolve_resume,
    save_checkpoint,
)
from hiper_agent.training.ppo_config import HiPERConfig


def _model_and_opt(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.2), torch.nn.Linear(8, 1))
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2)


def test_round_trip(tmp_path):
    model, opt = _model_and_opt()
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    config = HiPERConfig.from_preset("smoke")
    history = [{"step": 1, "rollout/success_rate": 0.5}]
    path = save_checkpoint(
        tmp_path,
        1,
        {"policy": model.state_dict(), "policy_opt": opt.state_dict(), "history": history},
        config=config,
        trainer_state={"metrics_history": history},
    )
    assert path == checkpoint_path(tmp_path, 1) == tmp_path / "checkpoints" / "iter_000001"
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json",
        "history.pt",
        "policy.pt",
        "policy_opt.pt",
        "rng_state.pt",
        "trainer_state.json",
    ]

    state = load_checkpoint(path)
    assert state["iteration"] == 1 and state["history"] == history
    assert state["trainer_state"]["metrics_history"] == history
    assert HiPERConfig.from_dict(state["config"]) == config
    fresh, fresh_opt = _model_and_opt(seed=1)
    fresh.load_state_dict(state["policy"])
    fresh_opt.load_state_dict(state["policy_opt"])
    for a, b in zip(model.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(a, b)
    assert fresh_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_rng_states_are_saved_and_restored(tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    path = save_checkpoint(tmp_path, 0, {})
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    load_checkpoint(path, restore_rng=True)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_leftover_tmp_dir_is_ignored_and_cleaned(tmp_path):
    save_checkpoint(tmp_path, 2, {"w": torch.ones(1)})
    # What a SIGKILL halfway through saving iteration 4 leaves behind: a partial temporary directory.
    partial = tmp_path / "checkpoints" / ".tmp-iter_000004-deadbeef"
    partial.mkdir()
    (partial / "w.pt").write_bytes(b"trunc")
    assert latest_checkpoint(tmp_path) == checkpoint_path(tmp_path, 2)
    assert load_checkpoint(latest_checkpoint(tmp_path))["iteration"] == 2
    save_checkpoint(tmp_path, 3, {"w": torch.ones(1)})
    assert not partial.exists()


def test_keep_last_n_and_resave_same_iteration(tmp_path):
    for it in range(1, 6):
        save_checkpoint(tmp_path, it, {"w": torch.full((1,), float(it))}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["iter_000004", "iter_000005"]
    save_checkpoint(tmp_path, 5, {"w": torch.full((1,), 50.0)}, keep=2)  # overwrite in place
    assert load_checkpoint(latest_checkpoint(tmp_path))["w"].item() == 50.0
    for it in range(6, 9):
        save_checkpoint(tmp_path, it, {"w": torch.zeros(1)}, keep=0)
    assert len(list_checkpoints(tmp_path)) == 5  # keep=0 deletes nothing
    assert list_checkpoints(tmp_path / "missing") == [] and latest_checkpoint(tmp_path / "missing") is None


def test_bad_state_names_and_values(tmp_path):
    with pytest.raises(ValueError, match="reserved or not a plain file name"):
        save_checkpoint(tmp_path, 1, {"config": {}})
    with pytest.raises(ValueError, match="reserved or not a plain file name"):
        save_checkpoint(tmp_path, 1, {"../x": {}})
    with pytest.raises(ValueError, match="disagrees with iteration"):
        save_checkpoint(tmp_path, 1, {"iteration": 2})
    with pytest.raises(FileNotFoundError, match="is not a checkpoint"):
        load_checkpoint(tmp_path)


def test_resolve_resume(tmp_path):
    config = HiPERConfig.from_preset("smoke", output_dir=str(tmp_path))
    assert resolve_resume(config) is None  # fresh run, empty dir
    resumable = HiPERConfig.from_preset("smoke", output_dir=str(tmp_path), resume=True)
    assert resolve_resume(resumable) is None  # nothing to resume yet: start fresh
    save_checkpoint(config.run_dir, 3, {})
    assert resolve_resume(resumable) == checkpoint_path(config.run_dir, 3)
    by_path = HiPERConfig.from_preset("smoke", output_dir=str(tmp_path), resume=config.run_dir)
    assert resolve_resume(by_path) == checkpoint_path(config.run_dir, 3)
    with pytest.raises(FileExistsError, match="pass --resume to continue"):
        resolve_resume(config)
    with pytest.raises(FileNotFoundError, match="neither a checkpoint"):
        resolve_resume(HiPERConfig.from_preset("smoke", resume=str(tmp_path / "nope")))
    overwrite = HiPERConfig.from_preset("smoke", output_dir=str(tmp_path), overwrite=True)
    assert resolve_resume(overwrite) is None and list_checkpoints(config.run_dir) == []


def test_trainer_refuses_a_used_run_dir_before_any_setup(tmp_path, monkeypatch):
    from hiper_agent.training import ppo_trainer

    config = HiPERConfig.from_preset("smoke", output_dir=str(tmp_path))
    save_checkpoint(config.run_dir, 1, {})

    def no_setup(*args, **kwargs):
        raise AssertionError("the trainer built an env before checking the run dir")

    monkeypatch.setattr(ppo_trainer.gym, "make", no_setup)
    with pytest.raises(FileExistsError, match="pass --resume to continue"):
        ppo_trainer.HiPERTrainer(config)


def _tiny_run(run_dir, seed, iterations, stop_after=None):
    """A miniature trainer following the seeding convention; returns (final weights, per-iteration losses)."""
    model, opt = _model_and_opt(seed)
    start, losses = 0, []
    if (path := latest_checkpoint(run_dir)) is not None:
        state = load_checkpoint(path)
        model.load_state_dict(state["policy"])
        opt.load_state_dict(state["policy_opt"])
        start, losses = state["iteration"], state["trainer_state"]["losses"]
    for it in range(start + 1, iterations + 1):
        seed_iteration(seed, it)  # dropout below draws from the global torch RNG
        data = torch.randn(16, 4, generator=torch_generator(iteration_seed(seed, it, "env")))
        order = torch.randperm(16, generator=torch_generator(iteration_seed(seed, it, "minibatch")))
        for mb in order.split(4):
            loss = model(data[mb]).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses.append(loss.item())
        save_checkpoint(
            run_dir,
            it,
            {"policy": model.state_dict(), "policy_opt": opt.state_dict()},
            trainer_state={"losses": losses},
        )
        if it == stop_after:
            break
    return [p.detach().clone() for p in model.parameters()], losses


def test_resumed_run_reproduces_uninterrupted_run_exactly(tmp_path):
    weights, losses = _tiny_run(tmp_path / "straight", seed=5, iterations=6)
    _tiny_run(tmp_path / "resumed", seed=5, iterations=6, stop_after=3)
    torch.manual_seed(123), random.seed(123)  # the "new process" has unrelated global RNG states
    resumed_weights, resumed_losses = _tiny_run(tmp_path / "resumed", seed=5, iterations=6)
    assert resumed_losses == losses
    for a, b in zip(weights, resumed_weights, strict=True):
        assert torch.equal(a, b)
    assert json.loads((latest_checkpoint(tmp_path / "resumed") / "trainer_state.json").read_text())["iteration"] == 6
