"""The loader on a real GGUF file, written at test time with the `gguf` package's writer (llama.cpp layout)."""

from __future__ import annotations

import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gguf")

from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from hiper_agent.models import causal_lm_logits, load_model  # noqa: E402
from hiper_agent.models.gguf_io import write_llama_gguf  # noqa: E402
from hiper_agent.models.tiny import build_tiny_tokenizer  # noqa: E402

CORPUS = ["go to fridge 1", "open fridge 1", "You see a fridge 1 and a countertop 1."] * 10


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    cache = tmp_path_factory.mktemp("gguf_cache")
    tokenizer = build_tiny_tokenizer(CORPUS, vocab_size=1000, cache_dir=cache)
    # A 2-layer Llama with grouped-query attention (4 query heads, 2 kv heads) exercises llama.cpp's q/k permute.
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    path = write_llama_gguf(model, tokenizer, tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")
    return path, model, tokenizer, cache


def test_gguf_file_loads_with_same_weights_and_tokenizer(fixture):
    path, model, tokenizer, cache = fixture
    lm = load_model(str(path), cache_dir=cache)
    assert lm.source == "gguf" and type(lm.model).__name__ == "LlamaForCausalLM"
    assert lm.path is not None and (lm.path / "config.json").is_file()
    text = "<switch>SWITCH</switch>\n<subgoal>open it</subgoal>\n<action>open fridge 1</action> héllo 🙂"
    ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids == tokenizer(text, add_special_tokens=False)["input_ids"]
    assert lm.tokenizer.decode(ids) == text
    assert lm.tokenizer.eos_token == tokenizer.eos_token and lm.tokenizer.padding_side == "left"
    batch = torch.tensor([ids])
    torch.testing.assert_close(causal_lm_logits(lm.model, batch), causal_lm_logits(model, batch), atol=1e-5, rtol=0)


def test_gguf_conversion_is_cached(fixture):
    path, _, _, cache = fixture
    first = load_model(str(path), cache_dir=cache)
    start = time.perf_counter()
    again = load_model(str(path), cache_dir=cache)
    assert again.path == first.path
    assert len(list((cache / "gguf").iterdir())) == 1
    assert time.perf_counter() - start < 30  # generous: only guards against re-dequantizing on every load


def test_transformers_reads_the_file_directly(fixture):
    from transformers import AutoModelForCausalLM

    path, model, _, _ = fixture
    direct = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    torch.testing.assert_close(direct(ids).logits, model(ids).logits, atol=1e-5, rtol=0)


def test_writer_rejects_other_architectures(fixture, tmp_path):
    _, _, tokenizer, _ = fixture
    from transformers import Qwen2Config, Qwen2ForCausalLM

    qwen = Qwen2ForCausalLM(
        Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1)
    )
    with pytest.raises(ValueError, match="Llama models only"):
        write_llama_gguf(qwen, tokenizer, tmp_path / "x.gguf")
