"""GGUF files in and out: convert a GGUF once into a plain Hugging Face folder, and write a Llama model to GGUF.

Reading goes through transformers' own GGUF support (``from_pretrained(..., gguf_file=...)``, which dequantizes to
float). That object refuses ``save_pretrained`` ("quantized with gguf"), so the weights are copied into a fresh model
of the same class and saved; later loads read the folder in well under a second instead of re-dequantizing.

Writing covers what the tests and small experiments need: a ``LlamaForCausalLM`` with a byte-level BPE tokenizer,
stored as float32 tensors with llama.cpp's conventions (names from ``gguf.get_tensor_name_map``, q/k rows permuted
for its rotary layout), so that llama.cpp and transformers read it back.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["convert_gguf_to_hf", "gguf_cache_folder", "write_llama_gguf"]


def gguf_cache_folder(gguf_path: str | os.PathLike[str], cache_dir: str | os.PathLike[str], dtype: str) -> Path:
    """Where the converted folder for ``gguf_path`` lives: keyed by the file's path, size and mtime and ``dtype``."""
    path = Path(gguf_path).resolve()
    stat = path.stat()
    key = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{dtype}".encode()).hexdigest()[:16]
    return Path(cache_dir).expanduser() / "gguf" / f"{path.stem}-{key}"


def convert_gguf_to_hf(gguf_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, dtype: Any) -> Path:
    """Dequantizes ``gguf_path`` with transformers and saves model and tokenizer as a plain HF folder.

    The folder appears atomically (written next to it, then renamed), so an interrupted run leaves no half folder
    and two concurrent conversions cannot corrupt each other.

    Args:
        gguf_path: the ``.gguf`` file.
        out_dir: the folder to create.
        dtype: the torch dtype of the saved weights.

    Returns:
        ``out_dir``.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path, out_dir = Path(gguf_path).resolve(), Path(out_dir)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {gguf_path}")
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name, dtype=dtype)
    config = loaded.config
    # The GGUF-loaded model is marked quantized and cannot be saved; a fresh model of the same class can.
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.name_or_path = str(gguf_path)
    clean = type(loaded)(config).to(dtype)
    clean.load_state_dict(loaded.state_dict())
    del loaded
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        clean.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "hiper_source.json").write_text(json.dumps({"gguf": str(gguf_path)}))
        try:
            os.replace(tmp, out_dir)
        except OSError:  # another process finished first; its folder is as good as ours
            if not (out_dir / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _llama_cpp_permute(weight: Any, n_head: int) -> Any:
    # llama.cpp stores q/k rows interleaved per rotary pair (convert_hf_to_gguf.py `LlamaModel.permute`);
    # transformers undoes exactly this when it reads a llama GGUF.
    return (
        weight.reshape(n_head, 2, weight.shape[0] // n_head // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def write_llama_gguf(model: Any, tokenizer: Any, path: str | os.PathLike[str]) -> Path:
    """Writes a ``LlamaForCausalLM`` and its byte-level BPE tokenizer to a float32 GGUF file.

    Args:
        model: the model (its ``config.model_type`` must be ``"llama"``).
        tokenizer: a fast byte-level BPE tokenizer (``tokenizer.ggml.model = "gpt2"``); added tokens are stored as
            control tokens when special, as user-defined tokens otherwise, as llama.cpp does.
        path: the file to write.

    Returns:
        ``path``.
    """
    import gguf
    import numpy as np

    config = model.config
    if config.model_type != "llama":
        raise ValueError(f"write_llama_gguf writes Llama models only, got model_type={config.model_type!r}")
    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    if backend["model"]["type"] != "BPE":
        raise ValueError(f"write_llama_gguf needs a BPE tokenizer, got {backend['model']['type']!r}")
    vocab = tokenizer.get_vocab()
    tokens = [""] * len(vocab)
    for token, index in vocab.items():
        tokens[index] = token
    added = {t.content: t.special for t in tokenizer.added_tokens_decoder.values()}
    token_types = [
        (gguf.TokenType.CONTROL if added[t] else gguf.TokenType.USER_DEFINED) if t in added else gguf.TokenType.NORMAL
        for t in tokens
    ]
    merges = [m if isinstance(m, str) else " ".join(m) for m in backend["model"]["merges"]]

    n_head, n_kv = config.num_attention_heads, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_head
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(str(getattr(config, "name_or_path", "") or "hiper-llama"))
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(getattr(config, "rope_theta", None) or config.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    for name, value in (("bos", tokenizer.bos_token_id), ("eos", tokenizer.eos_token_id)):
        if value is not None:
            getattr(writer, f"add_{name}_token_id")(value)
    if tokenizer.pad_token_id is not None:
        writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_add_bos_token(False)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    for hf_name, tensor in model.state_dict().items():
        if config.tie_word_embeddings and hf_name == "lm_head.weight":
            continue  # llama.cpp reuses token_embd when `output` is absent
        stem, _, suffix = hf_name.rpartition(".")
        gguf_name = names.get_name(stem)
        if gguf_name is None:
            raise ValueError(f"no GGUF name for tensor {hf_name!r}")
        data = tensor.detach().to("cpu").float().numpy()
        if stem.endswith("self_attn.q_proj"):
            data = _llama_cpp_permute(data, n_head)
        elif stem.endswith("self_attn.k_proj"):
            data = _llama_cpp_permute(data, n_kv)
        writer.add_tensor(f"{gguf_name}.{suffix}", np.ascontiguousarray(data, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path)
