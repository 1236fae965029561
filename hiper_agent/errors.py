"""Errors a user can fix from the command line: the CLI prints their message (which says what to pass) and exits 2.

Each also derives from the built-in error it refines, so ``except FileNotFoundError`` and the like keep working.
Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["ModelNotFoundError", "ModelUnavailableError", "NoCheckpointError", "RunDirInUseError", "SetupError"]


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
