"""The tiny offline model: a small Qwen2 built from its config plus a byte-level BPE trained on the env's own text.

Needs nothing from the network, so tests, CI and smoke runs use it. Measured on a 2-core CPU: ~5M parameters,
a full AdamW step on 8x256 tokens in ~0.7 s (see ``docs/models.md``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hiper_agent.errors import check_known_fields
from hiper_agent.protocol import KEEP, SWITCH, TAG_TOKENS, format_response

__all__ = ["PROTOCOL_TAG_TOKENS", "PROTOCOL_WORD_TOKENS", "TinyConfig", "build_tiny_model", "build_tiny_tokenizer"]

#: The option protocol's tags, added to the tiny vocabulary as whole (not special, so never skipped) tokens.
PROTOCOL_TAG_TOKENS: tuple[str, ...] = TAG_TOKENS
#: The switch decision's two words, also whole tokens: the termination choice is then exactly one token.
PROTOCOL_WORD_TOKENS: tuple[str, ...] = (KEEP, SWITCH)
PAD_TOKEN, EOS_TOKEN, BOS_TOKEN = "<|pad|>", "<|endoftext|>", "<|startoftext|>"
# Bump when the training recipe changes, so stale cached tokenizers are not reused.
_TOKENIZER_RECIPE = "bytelevel-bpe-v2"

# Used when the caller gives no corpus: the protocol's own text, so the format still tokenizes compactly.
_DEFAULT_CORPUS = (
    format_response(False, "find the apple", "go to countertop 1"),
    format_response(True, "heat the apple", "heat apple 1 with microwave 1"),
    "You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a countertop 1, a desk 1.",
    "Your task is to: put a clean mug in the coffeemachine. Your admissible actions are: look, inventory.",
    "search[red shoes] click[buy now] click[< prev] click[next >] 0 1 2 3 4 5 6 7 8 9",
)


@dataclass
class TinyConfig:
    """Shape of the tiny Qwen2 model (the defaults are the measured 5M-parameter setting).

    Attributes:
        hidden_size: width of the residual stream.
        intermediate_size: width of the MLP.
        num_hidden_layers: number of transformer blocks.
        num_attention_heads: query heads.
        num_key_value_heads: key/value heads (grouped-query attention).
        max_position_embeddings: longest sequence the rotary embedding is set up for.
        vocab_size: upper bound on the BPE vocabulary (the trained vocabulary may be smaller).
        tie_word_embeddings: share the input embedding and the LM head.
    """

    hidden_size: int = 256
    intermediate_size: int = 688
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 4096
    vocab_size: int = 8192
    tie_word_embeddings: bool = True

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any]) -> TinyConfig:
        """Builds a config from keyword overrides, rejecting unknown names with the list of valid ones."""
        check_known_fields(cls, overrides, "tiny-model option")
        config = cls(**overrides)
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(
                f"hidden_size={config.hidden_size} must be divisible by num_attention_heads="
                f"{config.num_attention_heads}"
            )
        if config.num_attention_heads % config.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads={config.num_attention_heads} must be divisible by num_key_value_heads="
                f"{config.num_key_value_heads}"
            )
        if not 300 <= config.vocab_size <= 65536:
            raise ValueError(f"vocab_size={config.vocab_size} must be in [300, 65536] (256 bytes + specials + tags)")
        return config


def _corpus_key(texts: list[str], vocab_size: int) -> str:
    digest = hashlib.sha256(f"{_TOKENIZER_RECIPE}\0{vocab_size}\0".encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0\1")  # separator, so ["ab"] and ["a", "b"] hash differently
    return digest.hexdigest()[:20]


def build_tiny_tokenizer(
    corpus: Iterable[str] | None, *, vocab_size: int = 8192, cache_dir: str | os.PathLike[str] | None = None
) -> Any:
    """Trains (or loads from the cache) a byte-level BPE tokenizer on ``corpus``.

    Byte-level means every string round-trips, whatever characters the corpus lacked. The protocol tags and the
    words ``KEEP``/``SWITCH`` are whole tokens that ``decode(..., skip_special_tokens=True)`` keeps; pad, eos and
    bos are special tokens. The vocabulary is at most ``vocab_size``; a small corpus yields fewer merges.

    Args:
        corpus: the env's text (observations, commands, prompt templates). ``None`` uses a tiny built-in corpus.
        vocab_size: upper bound on the vocabulary, tags and specials included.
        cache_dir: where trained tokenizers are kept, keyed by a hash of the corpus and ``vocab_size``.

    Returns:
        A ``PreTrainedTokenizerFast`` with left padding.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AddedToken, PreTrainedTokenizerFast

    texts = [str(t) for t in (corpus if corpus is not None else _DEFAULT_CORPUS)]
    key = _corpus_key(texts, vocab_size)
    folder = Path(cache_dir).expanduser() / "tokenizers" / f"tiny-{key}" if cache_dir is not None else None
    if folder is not None and (folder / "tokenizer.json").is_file():
        backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
    else:
        backend = Tokenizer(models.BPE())
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size - len(PROTOCOL_TAG_TOKENS) - len(PROTOCOL_WORD_TOKENS),
            special_tokens=[PAD_TOKEN, EOS_TOKEN, BOS_TOKEN],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        backend.train_from_iterator(texts, trainer=trainer)
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"tokenizer.json.{os.getpid()}.tmp"
            backend.save(str(tmp))
            os.replace(tmp, folder / "tokenizer.json")  # atomic, so concurrent runs never read half a file
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD_TOKEN,
        eos_token=EOS_TOKEN,
        bos_token=BOS_TOKEN,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    added = (*PROTOCOL_TAG_TOKENS, *PROTOCOL_WORD_TOKENS)
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in added])
    return tokenizer


def build_tiny_model(tokenizer: Any, config: TinyConfig, *, seed: int = 0) -> Any:
    """A randomly initialised ``Qwen2ForCausalLM`` sized by ``config`` for ``tokenizer``'s vocabulary.

    Initialisation uses its own RNG stream seeded by ``seed``; the global torch RNG is left untouched.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    shape = asdict(config)
    shape["vocab_size"] = len(tokenizer)  # the trained vocabulary, so no logit is wasted on unused ids
    hf_config = Qwen2Config(
        **shape,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        use_sliding_window=False,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Qwen2ForCausalLM(hf_config)
