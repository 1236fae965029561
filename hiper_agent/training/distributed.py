"""Several training processes (``accelerate launch``): rollouts split by env, the full batch on every rank, summed grads.

Docs: docs/training.md ("Several processes / GPUs"). Under ``accelerate launch --num_processes N`` (``WORLD_SIZE > 1``)
each rank owns ``num_envs / N`` envs (whole groups), plays and values its own episodes, and gathers everyone's
trajectories, so every rank holds the same full batch in the same order and computes the same advantages. The
update splits each minibatch's rows over the ranks and sums the gradients (`Dist.all_reduce_grads`) before clipping
and stepping, so the step equals the single-process one and the parameters stay identical on every rank. This is
plain data parallelism done by hand, not ``torch.nn.parallel.DistributedDataParallel``: a `Policy` hides its modules
behind ``evaluate_actions``, and summing ``.grad`` after the backward passes is all DDP would add here.

Without ``WORLD_SIZE > 1`` every method is a no-op and accelerate is never imported.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import torch

from hiper_agent.errors import SetupError

if TYPE_CHECKING:
    from hiper_agent.rollout.collect import RolloutStats
    from hiper_agent.types import Trajectory

__all__ = ["Dist", "NullLogger", "WorldSizeError", "gather_rollouts"]

#: How long a rank waits in a collective; rank 0 evaluates and saves alone while the others wait.
TIMEOUT = timedelta(hours=2)
_BUCKET_BYTES = 64 * 2**20  # gradients are summed in flat buckets of this size (few collectives, bounded memory)


class WorldSizeError(SetupError, ValueError):
    """The batch does not split into whole env groups over the processes (the CLI prints the fix and exits)."""


class Dist:
    """The process group of a run, or a single process (``world_size == 1``: every method is a no-op).

    Example:
        >>> dist = Dist.from_env()  # WORLD_SIZE unset: one process
        >>> dist.rank, dist.world_size, dist.is_main, dist.gather_objects([1, 2])
        (0, 1, True, [1, 2])
    """

    def __init__(self, rank: int = 0, world_size: int = 1, device: torch.device | None = None) -> None:
        self.rank, self.world_size = rank, world_size
        self.device = device if device is not None else torch.device("cpu")

    @classmethod
    def from_env(cls, cpu: bool = False) -> Dist:
        """Joins the process group ``accelerate launch`` (or ``torchrun``) set up, if ``WORLD_SIZE > 1``.

        accelerate's ``PartialState`` picks the backend and the device: nccl and ``cuda:LOCAL_RANK`` on GPUs; gloo
        and the CPU with ``cpu=True`` (``--device cpu``), ``ACCELERATE_USE_CPU=1``, or no GPU.
        """
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return cls()
        try:
            from accelerate import PartialState
        except ImportError as e:  # pragma: no cover - accelerate is in the agent extra
            raise ImportError("several processes need accelerate: pip install 'hiper[agent]'") from e

        # accelerate forms a CPU (gloo) group only when told to: cpu=True; it would otherwise quietly stay one process
        cpu = cpu or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
        cpu = cpu or not torch.cuda.is_available()
        state = PartialState(cpu=cpu, timeout=TIMEOUT)
        if state.num_processes != int(os.environ["WORLD_SIZE"]):  # never train N copies side by side unknowingly
            raise RuntimeError(
                f"WORLD_SIZE={os.environ['WORLD_SIZE']} but accelerate formed a group of "
                f"{state.num_processes} ({state.distributed_type}); see docs/scale.md"
            )
        device = torch.device("cpu") if state.device.type == "cpu" else torch.device(state.device)
        return cls(state.process_index, state.num_processes, device)

    @property
    def enabled(self) -> bool:
        """True with more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that evaluates, logs and saves."""
        return self.rank == 0

    def shard(self, n: int, unit: int = 1) -> slice:
        """This rank's contiguous share of ``n`` items given out in whole ``unit`` s (e.g. env groups).

        Raises:
            WorldSizeError: ``n / unit`` is not divisible by the world size.
        """
        if (n // unit) % self.world_size:
            raise WorldSizeError(
                f"num_envs ({n}) must split into whole groups of {unit} across {self.world_size} processes: "
                f"num_envs / group_size ({n // unit}) must be divisible by the number of processes; e.g. set "
                f"--num-envs {unit * self.world_size * max(1, n // (unit * self.world_size))}."
            )
        per = n // self.world_size
        return slice(self.rank * per, (self.rank + 1) * per)

    def rows(self, n: int) -> list[int]:
        """This rank's rows of an ``n``-row minibatch (``rank, rank + world_size, ...``)."""
        return list(range(self.rank, n, self.world_size))

    # ------------------------------------------------------------------ collectives
    def gather_objects(self, items: Sequence[Any]) -> list[Any]:
        """Every rank's ``items``, concatenated in rank order, on every rank (picklable objects)."""
        if not self.enabled:
            return list(items)
        out: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(out, list(items))
        return [x for part in out for x in part]

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        """Rank ``src``'s ``obj`` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=src)
        return box[0]

    def barrier(self) -> None:
        """Waits for every rank."""
        if self.enabled:
            torch.distributed.barrier()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. deletes a run dir), then the others."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def all_reduce_grads(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Sums ``.grad`` over the ranks, for the trainable parameters (``requires_grad``; frozen LoRA bases are skipped).

        A parameter without a grad on this rank joins with zeros, so every rank runs the same collectives; one
        that has none on every rank keeps ``grad=None``, so the optimizer skips it as it would in one process.
        Grads are flattened into buckets of one dtype and device (as DDP does) to keep the collectives few.
        """
        if not self.enabled:
            return
        params = [p for p in params if p.requires_grad]
        if not params:
            return
        present = torch.tensor([float(p.grad is not None) for p in params], device=params[0].device)
        torch.distributed.all_reduce(present, op=torch.distributed.ReduceOp.SUM)
        bucket: list[torch.Tensor] = []
        size = 0
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            nbytes = p.grad.numel() * p.grad.element_size()
            if bucket and (
                p.grad.dtype != bucket[0].dtype or p.grad.device != bucket[0].device or size + nbytes > _BUCKET_BYTES
            ):
                _all_reduce_flat(bucket)
                bucket, size = [], 0
            bucket.append(p.grad)
            size += nbytes
        if bucket:
            _all_reduce_flat(bucket)
        for p, n in zip(params, present.tolist(), strict=True):
            if n == 0:
                p.grad = None

    def check_in_sync(self, params: Sequence[torch.nn.Parameter]) -> None:
        """Raises if the ranks' parameters differ (a cheap checksum: the sum of the first and last tensors)."""
        if not self.enabled or not params:
            return
        checksum = float(sum(p.detach().double().sum() for p in (params[0], params[-1])))
        sums = self.gather_objects([checksum])
        if any(s != sums[0] for s in sums):
            raise RuntimeError(f"parameters differ across ranks after the update (checksums {sums}); please report")

    def close(self) -> None:
        """Leaves the process group (the end of a run)."""
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


class NullLogger:
    """The `MetricsLogger` of ranks other than 0: keeps the history it was given, writes nothing."""

    def __init__(self, history: Iterable[dict[str, Any]] | None = None) -> None:
        self.history: list[dict[str, Any]] = list(history or [])

    def log(self, step: int, metrics: dict[str, Any]) -> dict[str, Any]:
        """Returns the record without writing it."""
        return {"step": int(step), **metrics}

    def close(self) -> None:
        """Nothing to close."""


def _all_reduce_flat(tensors: list[torch.Tensor]) -> None:
    flat = torch.cat([t.reshape(-1) for t in tensors])
    torch.distributed.all_reduce(flat, op=torch.distributed.ReduceOp.SUM)
    offset = 0
    for t in tensors:
        t.copy_(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()


def gather_rollouts(
    dist: Dist, trajs: list[Trajectory], stats: RolloutStats, *, first_group: int
) -> tuple[list[Trajectory], RolloutStats]:
    """Every rank's trajectories and rollout stats, on every rank, in the single-process order.

    ``trajs`` are this rank's episodes, whose groups start at ``first_group`` of the full batch (`Dist.shard`):
    their group ids are renumbered over the full batch. The stats add up every rank's units and steps; the
    seconds are the slowest rank's. With one process this returns its arguments.
    """
    if not dist.enabled:
        return trajs, stats
    from hiper_agent.rollout.collect import RolloutStats

    for traj in trajs:
        traj.group_id += first_group
    trajs = dist.gather_objects(trajs)
    parts = dist.gather_objects([stats])
    total = RolloutStats()
    for part in parts:
        total += part
    for name in ("seconds", "policy_seconds", "env_seconds"):
        setattr(total, name, max(getattr(p, name) for p in parts))
    return trajs, total
