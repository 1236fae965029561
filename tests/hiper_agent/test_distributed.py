"""Several training processes (``hiper_agent.training.distributed``): 2 CPU ranks over gloo give the single-process update.

The default tests check the single-process no-op, the sharding rules and the collectives over 2 gloo ranks. The slow
ones check that one PPO iteration split over 2 ranks (each playing half of the groups and evaluating half of every
minibatch, gradients summed) leaves the same parameters as one process updating on the same full batch (all but two
biases no loss depends on, see `LOSS_INVARIANT`, and the same log-probs), and run the example under
``accelerate launch --multi_gpu --num_processes 2`` on the CPU.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hiper_agent.training.distributed import Dist

ROOT = Path(__file__).resolve().parents[2]
# the scorer on a shrunk smoke preset: no warm start; micro-batches of one turn, so that splitting a minibatch's
# rows over ranks changes nothing but the order of the gradient sums
TINY = dict(
    policy="scorer",
    sft_epochs=0,
    sft_episodes=0,
    num_envs=4,
    group_size=2,
    max_episode_steps=3,
    minibatch_size=4,
    grad_accum_steps=4,
    ppo_epochs=2,
    num_iterations=1,
    eval_episodes=2,
    progress=False,
    log_tensorboard=False,
)


def test_one_process_is_a_no_op():
    dist = Dist.from_env() if int(os.environ.get("WORLD_SIZE", "1")) <= 1 else Dist()
    assert (dist.rank, dist.world_size, dist.is_main, dist.enabled) == (0, 1, True, False)
    assert dist.gather_objects(["a", "b"]) == ["a", "b"]
    assert dist.broadcast_object({"x": 1}) == {"x": 1}
    assert dist.shard(8, 2) == slice(0, 8) and dist.rows(3) == [0, 1, 2]
    p = torch.nn.Parameter(torch.ones(2))
    dist.all_reduce_grads([p])  # nothing to sum with: grads stay as they are
    assert p.grad is None


def test_sharding_gives_whole_groups_and_interleaved_rows():
    ranks = [Dist(rank, 2) for rank in range(2)]
    assert [d.shard(8, 2) for d in ranks] == [slice(0, 4), slice(4, 8)]
    assert [d.rows(5) for d in ranks] == [[0, 2, 4], [1, 3]]
    with pytest.raises(ValueError, match="must be divisible by the number of processes"):
        ranks[0].shard(6, 2)  # 3 groups cannot go to 2 ranks whole


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _collectives_main(rank: int, port: int, out: str) -> None:
    """One rank of the collectives check: gather, broadcast and grad sums, results written per rank."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    dist = Dist.from_env()
    summed, lonely, unused, frozen = (torch.nn.Parameter(torch.zeros(3)) for _ in range(4))
    frozen.requires_grad_(False)
    summed.grad = torch.full((3,), float(rank + 1))
    if rank == 1:
        lonely.grad = torch.ones(3)  # rank 0 has no grad for it: joins with zeros
    dist.all_reduce_grads([summed, lonely, unused, frozen])
    result = {
        "gathered": dist.gather_objects([f"r{rank}a", f"r{rank}b"]),
        "broadcast": dist.broadcast_object({"from": rank}),
        "grads": [None if p.grad is None else p.grad.tolist() for p in (summed, lonely, unused, frozen)],
        "world": (dist.rank, dist.world_size, dist.is_main),
    }
    torch.save(result, Path(out) / f"rank{rank}.pt")
    dist.close()


def test_collectives_over_two_gloo_ranks(tmp_path):
    torch.multiprocessing.start_processes(
        _collectives_main, args=(_free_port(), str(tmp_path)), nprocs=2, start_method="spawn"
    )
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        assert result["world"] == (rank, 2, rank == 0)
        assert result["gathered"] == ["r0a", "r0b", "r1a", "r1b"]  # rank order, on every rank
        assert result["broadcast"] == {"from": 0}
        # summed over ranks; a grad on one rank only is still summed; none anywhere stays None; frozen skipped
        assert result["grads"] == [[3.0] * 3, [1.0] * 3, None, None]


# The last bias of each candidate scorer is added to every candidate's score before the log-softmax over the
# candidates, so no loss depends on it: its gradient is exactly 0, computed in float32 as rounding noise (~1e-8, the
# size of AdamW's eps) whose value depends on the order of the sums, and AdamW's normalized step turns that noise into
# moves of up to lr. Two ranks sum in another order than one process, so these two biases end elsewhere; the test
# checks instead that both parameter sets give the same log-probs, i.e. that the difference is invisible.
LOSS_INVARIANT = {"subgoal_scorer.mlp.2.bias", "action_scorer.mlp.2.bias"}


def _params(trainer) -> dict[str, torch.Tensor]:
    """The optimized parameters by name (the scorer's network), copied."""
    names = {id(p): name for name, p in trainer.policy.net.named_parameters()}
    groups = [g for opt in trainer.optimizers.values() for g in opt.param_groups]
    return {names[id(p)]: p.detach().clone() for g in groups for p in g["params"]}


def _rank_main(rank: int, port: int, out: str) -> None:
    """One rank of the 2-process run: an iteration of rollout + update; rank 0 records the batch and the weights."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    from hiper_agent.training.ppo_config import (
        HiPERConfig,  # imported here: the collectives check spawns light processes
    )
    from hiper_agent.training.ppo_trainer import HiPERTrainer

    trainer = HiPERTrainer(HiPERConfig.from_preset("smoke", output_dir=out, exp_name="ddp", **TINY))
    batches = []
    update = trainer._update

    def recording_update(buffer, it):
        batches.append(pickle.dumps(buffer.trajectories))  # the gathered full batch, before the update
        return update(buffer, it)

    trainer._update = recording_update
    metrics = trainer._iteration(1)
    if rank == 0:
        torch.save({"batch": batches[0], "params": _params(trainer), "metrics": metrics}, Path(out) / "rank0.pt")
    trainer.close()


@pytest.mark.slow  # ~25-50 s on 2 loaded cores: three trainers with ALFWorld envs
def test_two_ranks_update_equals_one_process_update(tmp_path):
    from hiper_agent.rollout.collect import RolloutStats
    from hiper_agent.training import ppo_trainer
    from hiper_agent.training.ppo_config import HiPERConfig
    from hiper_agent.training.ppo_trainer import HiPERTrainer

    torch.multiprocessing.start_processes(
        _rank_main, args=(_free_port(), str(tmp_path)), nprocs=2, start_method="spawn"
    )
    record = torch.load(tmp_path / "rank0.pt", weights_only=False)
    trajs = pickle.loads(record["batch"])
    assert len(trajs) == 4 and [t.group_id for t in trajs] == [0, 0, 1, 1]  # both ranks' groups, renumbered
    assert record["metrics"]["rollout/episodes"] == 4.0
    # one process, same initial weights (same seed), updating on the batch the 2 ranks gathered
    trainer = HiPERTrainer(HiPERConfig.from_preset("smoke", output_dir=str(tmp_path), exp_name="one", **TINY))
    initial = _params(trainer)
    stats = RolloutStats(env_steps=sum(len(t.turns) for t in trajs))
    original = ppo_trainer.collect_rollouts
    ppo_trainer.collect_rollouts = lambda *args, **kwargs: (trajs, stats)  # replay the gathered batch ...
    trainer.policy.compute_values = lambda turns: None  # ... whose turns carry the values the ranks computed
    try:
        metrics = trainer._iteration(1)
    finally:
        ppo_trainer.collect_rollouts = original
        trainer.close()
    after = _params(trainer)
    assert after.keys() == record["params"].keys() == initial.keys() and LOSS_INVARIANT < after.keys()
    for name, one in after.items():
        if name not in LOSS_INVARIANT:
            two = record["params"][name]
            torch.testing.assert_close(two, one, rtol=1e-5, atol=1e-6, msg=f"parameter {name} differs")
    assert any(not torch.equal(after[name], initial[name]) for name in after)  # the update moved them
    # the policy the 2 ranks trained scores the batch as the one-process policy does, loss-invariant biases included
    turns = [turn for traj in trajs for turn in traj.turns]
    with torch.no_grad():
        one = trainer.policy.evaluate_actions(turns)
        for name, p in trainer.policy.net.named_parameters():
            p.copy_(record["params"][name])
        two = trainer.policy.evaluate_actions(turns)
    for field in ("logprobs", "entropy", "values"):
        torch.testing.assert_close(getattr(two, field), getattr(one, field), rtol=1e-5, atol=1e-5, msg=field)
    for key in ("train/grad_norm", "train/advantage_mean"):  # the summed gradient's norm is the full one
        assert record["metrics"][key] == pytest.approx(metrics[key], rel=1e-5, abs=1e-7)


@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes(tmp_path):
    accelerate = shutil.which("accelerate") or str(Path(sys.executable).with_name("accelerate"))
    if not Path(accelerate).exists():
        pytest.skip("the accelerate command is not installed (pip install 'hiper[agent]')")
    flags = [f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}") for k, v in TINY.items() if v is not False]
    # `--cpu` would start one process (accelerate's multi-CPU launcher needs MPI); `--multi_gpu` starts torchrun's
    # N processes, and Dist forms a gloo group when CUDA is hidden or ACCELERATE_USE_CPU is set
    cmd = [
        accelerate,
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        str(ROOT / "examples/train_hiper.py"),
        "--preset",
        "smoke",
        "--output-dir",
        str(tmp_path),
        "--exp-name",
        "launch",
        "--no-progress",
        "--no-log-tensorboard",
        *" ".join(flags).split(),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "ACCELERATE_USE_CPU": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "launch" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 1]  # written once, by rank 0
    assert records[1]["rollout/episodes"] == 4.0  # both ranks' episodes
    assert records[1]["rollout/total_env_steps"] == 4 * records[1]["rollout/episode_length"]
    assert (tmp_path / "launch" / "policy").is_dir()
