"""Errors a user can fix from the command line: the CLI prints their message (which says what to pass) and exits 2.

Each also derives from the built-in error it refines, so ``except FileNotFoundError`` and the like keep working.
Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable

__all__ = [
    "ModelNotFoundError",
    "ModelUnavailableError",
    "NoCheckpointError",
    "RunDirInUseError",
    "SetupError",
    "UnknownFieldError",
    "check_known_fields",
]


class SetupError(Exception):
    """A run cannot start as configured."""


class RunDirInUseError(SetupError, FileExistsError):
    """A fresh run into a run directory that already holds checkpoints (pass --resume, --exp-name or --overwrite)."""


class NoCheckpointError(SetupError, FileNotFoundError):
    """``--resume PATH`` names neither a checkpoint nor a run directory with one."""


class ModelNotFoundError(SetupError, FileNotFoundError):
    """``--model`` names a file or folder that is missing or is not a model."""


class ModelUnavailableError(SetupError, OSError):
    """``--model`` names a hub id that is neither on the hub nor in the local cache (offline)."""


class UnknownFieldError(TypeError, ValueError):
    """Settings name a field the dataclass does not have.

    A ``TypeError``, as for an unknown keyword argument, and a ``ValueError``, as for bad data: either catches it.
    """


def check_known_fields(
    known: type | Iterable[str], names: Iterable[str], what: str, *, list_valid: bool = True
) -> None:
    """Raises `UnknownFieldError` unless every name is in ``known`` (a dataclass's fields, or the names given).

    The message names each unknown one with the closest field (``'num_env' (did you mean 'num_envs'?)``) and,
    with ``list_valid``, the valid fields. Every strict ``from_dict`` of the project goes through here.
    """
    known = [f.name for f in dataclasses.fields(known)] if isinstance(known, type) else list(known)
    unknown = sorted(set(names) - set(known))
    if not unknown:
        return
    hints = {k: difflib.get_close_matches(k, known, n=1) for k in unknown}
    detail = ", ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items())
    valid = f"; valid: {', '.join(sorted(known))}" if list_valid else ""
    raise UnknownFieldError(f"unknown {what}(s): {detail}{valid}.")
