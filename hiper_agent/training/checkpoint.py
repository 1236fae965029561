"""Atomic training checkpoints: `run_dir/checkpoints/iter_000010/`, newest N kept, exact resume.

A checkpoint is a directory written under a temporary name and renamed into place with `os.replace`, so a
crash or SIGKILL mid-write leaves the previous checkpoints intact and at most a `.tmp-*` directory, which
readers ignore and the next save deletes. Layout of one checkpoint:

    iter_000010/
        <name>.pt           one torch file per entry of `state` (policy, critic, optimizers, ...)
        rng_state.pt        python/numpy/torch global RNG states (`hiper_agent.seeding.get_rng_state`)
        config.json         the run's `HiPERConfig` (when given)
        trainer_state.json  {"iteration": 10, "format_version": 1, "state_keys": [...], **trainer_state}

See `hiper_agent.seeding` for why weights + optimizer states + iteration suffice for an exact resume.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiper_agent.errors import NoCheckpointError, RunDirInUseError
from hiper_agent.seeding import get_rng_state, set_rng_state

if TYPE_CHECKING:
    from hiper_agent.training.ppo_config import HiPERConfig

__all__ = [
    "checkpoint_path",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "resolve_resume",
    "save_checkpoint",
]

CHECKPOINTS_DIR = "checkpoints"
FORMAT_VERSION = 1
_NAME_RE = re.compile(r"^iter_(\d{6,})$")
_TMP_PREFIX = ".tmp-"
_RESERVED = frozenset({"config", "trainer_state", "rng_state", "path"})
_STATE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def checkpoint_path(run_dir: str | os.PathLike[str], iteration: int) -> Path:
    """Where the checkpoint of `iteration` lives: `run_dir/checkpoints/iter_{iteration:06d}`."""
    return Path(run_dir) / CHECKPOINTS_DIR / f"iter_{iteration:06d}"


def list_checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary directories are skipped)."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1] if checkpoints else None


def _fsync_dir(path: Path) -> None:
    # Make the rename itself durable (POSIX); not available on every platform, hence the guard.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_json(path: Path, data: Any) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _torch_save(obj: Any, path: Path) -> None:
    import torch

    with open(path, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    iteration: int,
    state: Mapping[str, Any],
    *,
    config: HiPERConfig | Mapping[str, Any] | None = None,
    trainer_state: Mapping[str, Any] | None = None,
    keep: int = 2,
) -> Path:
    """Writes the checkpoint of `iteration` atomically, then deletes all but the newest `keep`.

    Args:
        run_dir: The run directory (`HiPERConfig.run_dir`).
        iteration: Iterations completed; a resumed run continues with `iteration + 1`.
        state: Name -> torch-serializable object, e.g. `{"policy": model.state_dict(), "policy_opt":
            optimizer.state_dict(), "history": [...]}`. Names become file names (letters, digits, `_.-`);
            an `iteration` entry, if present, must equal `iteration`.
        config: The run's config, saved as `config.json`.
        trainer_state: JSON-serializable extras (e.g. `{"metrics_history": logger.history}`), saved with
            `iteration` in `trainer_state.json`.
        keep: How many checkpoints to keep, newest first; 0 keeps all.

    Returns:
        The checkpoint directory.

    Raises:
        ValueError: a negative iteration or `keep`, or a state name that is reserved or not a file name.
    """
    if iteration < 0 or keep < 0:
        raise ValueError(f"iteration ({iteration}) and keep ({keep}) must be >= 0.")
    state = dict(state)
    # `iteration` may ride along in `state` for convenience; it is stored once, in trainer_state.json.
    if state.pop("iteration", iteration) != iteration:
        raise ValueError(f"state['iteration'] disagrees with iteration ({iteration}); pass one value.")
    for name in state:
        if name in _RESERVED or not _STATE_NAME_RE.match(name):
            raise ValueError(
                f"state name {name!r} is reserved or not a plain file name; rename it "
                f"(reserved: {sorted(_RESERVED)}; allowed characters: letters, digits, '_', '.', '-')."
            )
    final = checkpoint_path(run_dir, iteration)
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob(_TMP_PREFIX + "*"):  # from a crashed save; one writer per run dir
        shutil.rmtree(leftover, ignore_errors=True)

    tmp = root / f"{_TMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    for name, obj in state.items():
        _torch_save(obj, tmp / f"{name}.pt")
    _torch_save(get_rng_state(), tmp / "rng_state.pt")
    if config is not None:
        _write_json(tmp / "config.json", config.to_dict() if hasattr(config, "to_dict") else dict(config))
    meta = {"iteration": iteration, "format_version": FORMAT_VERSION, "state_keys": sorted(state)}
    _write_json(tmp / "trainer_state.json", {**meta, **(trainer_state or {})})
    _fsync_dir(tmp)

    if final.exists():  # saving the same iteration again (e.g. after a resume): move the old one aside first
        old = root / f"{_TMP_PREFIX}old-{final.name}-{uuid.uuid4().hex[:8]}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    _fsync_dir(root)

    if keep > 0:
        for stale in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(stale, ignore_errors=True)
    return final


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    map_location: Any = "cpu",
    weights_only: bool = True,
    restore_rng: bool = False,
) -> dict[str, Any]:
    """Reads a checkpoint written by `save_checkpoint`.

    Args:
        path: The checkpoint directory (e.g. from `latest_checkpoint`).
        map_location: Passed to `torch.load` (load on CPU, then move the models).
        weights_only: Passed to `torch.load`; keep True unless `state` held arbitrary Python objects.
        restore_rng: Also restore the global RNG states saved with the checkpoint.

    Returns:
        `{"iteration": int, "config": dict | None, "trainer_state": dict, "rng_state": dict, "path": str}`
        plus one entry per saved `state` name.

    Raises:
        FileNotFoundError: `path` is not a complete checkpoint.
    """
    import torch

    path = Path(path)
    meta_file = path / "trainer_state.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"{path} is not a checkpoint (no trainer_state.json); use latest_checkpoint(run_dir).")
    trainer_state = json.loads(meta_file.read_text())
    config_file = path / "config.json"
    out: dict[str, Any] = {
        "iteration": int(trainer_state["iteration"]),
        "config": json.loads(config_file.read_text()) if config_file.is_file() else None,
        "trainer_state": trainer_state,
        "rng_state": torch.load(path / "rng_state.pt", map_location="cpu", weights_only=True),
        "path": str(path),
    }
    for name in trainer_state.get("state_keys", []):
        out[name] = torch.load(path / f"{name}.pt", map_location=map_location, weights_only=weights_only)
    if restore_rng:
        set_rng_state(out["rng_state"])
    return out


def resolve_resume(config: HiPERConfig) -> Path | None:
    """Decides where a run starts, from `config.run.resume` / `config.run.overwrite`; call before creating anything.

    - `resume=False`: a fresh run. If `run_dir` already holds checkpoints it refuses (`FileExistsError`),
      unless `overwrite` is set, in which case they are deleted.
    - `resume=True`: the newest checkpoint in `run_dir`, or None (fresh start) when there is none yet, so the
      same command can be relaunched after preemption.
    - `resume="<path>"`: that checkpoint directory, or the newest checkpoint of that run directory.

    Returns:
        The checkpoint directory to load, or None for a fresh start.

    Raises:
        RunDirInUseError: fresh run into a run directory with checkpoints (a ``FileExistsError``).
        NoCheckpointError: `resume` is a path holding no checkpoint (a ``FileNotFoundError``).
    """
    if isinstance(config.run.resume, str):
        target = Path(config.run.resume)
        if (target / "trainer_state.json").is_file():
            return target
        found = latest_checkpoint(target)
        if found is None:
            raise NoCheckpointError(f"resume={config.run.resume!r} is neither a checkpoint nor a run dir with one.")
        return found
    if config.run.resume:
        return latest_checkpoint(config.run_dir)
    existing = list_checkpoints(config.run_dir)
    if existing and not config.run.overwrite:
        raise RunDirInUseError(
            f"{config.run_dir} already holds checkpoints (newest: {existing[-1].name}); pass --resume to continue "
            "it, --exp-name NAME for a new run, or --overwrite to delete it."
        )
    if existing:
        shutil.rmtree(Path(config.run_dir) / CHECKPOINTS_DIR)
    return None
