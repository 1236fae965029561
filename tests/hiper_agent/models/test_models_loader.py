from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hiper_agent.models import PROTOCOL_TAG_TOKENS, PROTOCOL_WORD_TOKENS, LoadedModel, causal_lm_logits, load_model  # noqa: E402
from hiper_agent.models.tiny import build_tiny_tokenizer  # noqa: E402

CORPUS = [
    "You are in the middle of a kitchen. You see a fridge 1, a countertop 1, a cabinet 2 and a microwave 1.",
    "Your task is to: put a cool apple in the cabinet.",
    "go to fridge 1",
    "open fridge 1",
    "take apple 1 from countertop 1",
    "cool apple 1 with fridge 1",
] * 20
# Each shrink keeps the tests fast: 2 layers of width 64 instead of the default 4 x 256.
SMALL = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("hiper_cache")


@pytest.fixture(scope="module")
def tiny(cache) -> LoadedModel:
    return load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=cache, seed=0, **SMALL)


def test_tiny_builds_and_runs_forward(tiny):
    assert tiny.source == "tiny" and tiny.name == "tiny" and tiny.path is None
    assert type(tiny.model).__name__ == "Qwen2ForCausalLM"
    assert tiny.model.config.hidden_size == 64 and tiny.model.config.num_hidden_layers == 2
    assert tiny.model.config.vocab_size == len(tiny.tokenizer)
    ids = tiny.tokenizer(["go to fridge 1", "open"], padding=True, return_tensors="pt")
    logits = causal_lm_logits(tiny.model, ids["input_ids"], ids["attention_mask"])
    assert logits.shape == (2, ids["input_ids"].shape[1], len(tiny.tokenizer))
    assert torch.isfinite(logits).all()


def test_tiny_tokenizer_special_tokens_and_left_padding(tiny):
    tok = tiny.tokenizer
    assert tok.pad_token_id is not None and tok.eos_token_id is not None and tok.bos_token_id is not None
    assert len({tok.pad_token_id, tok.eos_token_id, tok.bos_token_id}) == 3
    assert tok.padding_side == "left"
    batch = tok(["go", "go to fridge 1"], padding=True)
    assert batch["attention_mask"][0][0] == 0 and batch["attention_mask"][0][-1] == 1


def test_protocol_tags_are_single_tokens_kept_on_decode(tiny):
    tok = tiny.tokenizer
    for tag in (*PROTOCOL_TAG_TOKENS, *PROTOCOL_WORD_TOKENS):
        ids = tok(tag, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, tag
        assert tok.decode(ids, skip_special_tokens=True) == tag
    text = "<switch>KEEP</switch>\n<subgoal>cool the apple</subgoal>\n<action>open fridge 1</action>"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode([*ids, tok.eos_token_id], skip_special_tokens=True) == text
    # the format costs little: six tag tokens, two newlines, one switch token and the words ("cool" is unseen)
    assert len(ids) <= 16


@pytest.mark.parametrize("text", ["héllo wörld", "emoji 🙂 and 中文", "\ttabs\r\nand  spaces ", "<<>>&%$#@!", ""])
def test_tiny_tokenizer_round_trips_unseen_text(tiny, text):
    tok = tiny.tokenizer
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_tokenizer_cache_is_keyed_by_corpus(cache):
    first = build_tiny_tokenizer(CORPUS, vocab_size=2000, cache_dir=cache)
    folders = sorted((cache / "tokenizers").iterdir())
    again = build_tiny_tokenizer(CORPUS, vocab_size=2000, cache_dir=cache)
    assert sorted((cache / "tokenizers").iterdir()) == folders  # reused, not retrained
    assert again.get_vocab() == first.get_vocab()
    other = build_tiny_tokenizer([*CORPUS, "a brand new line of text"], vocab_size=2000, cache_dir=cache)
    assert len(sorted((cache / "tokenizers").iterdir())) == len(folders) + 1
    assert other.pad_token == first.pad_token


def test_tiny_init_is_seeded(cache):
    a = load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=cache, seed=3, **SMALL)
    b = load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=cache, seed=3, **SMALL)
    c = load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=cache, seed=4, **SMALL)
    pa, pb, pc = (dict(m.model.named_parameters()) for m in (a, b, c))
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert any(not torch.equal(pa[k], pc[k]) for k in pa)
    state = torch.random.get_rng_state()
    load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=cache, seed=5, **SMALL)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is untouched


def test_save_load_round_trip(tiny, tmp_path):
    folder = tiny.save_pretrained(tmp_path / "ckpt")
    back = load_model(str(folder))
    assert back.source == "hf" and back.path == folder
    assert back.tokenizer.get_vocab() == tiny.tokenizer.get_vocab()
    assert back.tokenizer.padding_side == "left" and back.tokenizer.pad_token == tiny.tokenizer.pad_token
    assert len(back.tokenizer("</subgoal>", add_special_tokens=False)["input_ids"]) == 1
    # the same text gives the same ids: transformers' Qwen2Tokenizer would split "12" into "1", "2"
    text = "take apple 12 from countertop 1\n<action>go to drawer 10</action>"
    assert back.tokenizer(text)["input_ids"] == tiny.tokenizer(text)["input_ids"]
    ids = tiny.tokenizer(["take apple 1 from countertop 1"], return_tensors="pt")["input_ids"]
    torch.testing.assert_close(causal_lm_logits(back.model, ids), causal_lm_logits(tiny.model, ids))


def test_bfloat16_dtype(cache):
    lm = load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=cache, dtype="bf16", **SMALL)
    assert next(lm.model.parameters()).dtype == torch.bfloat16


def test_lora_wraps_and_is_seeded(cache, tmp_path):
    lora = {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    lm = load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=cache, lora=lora, seed=1, **SMALL)
    trainable = [n for n, p in lm.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    again = load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=cache, lora=lora, seed=1, **SMALL)
    for (n, p), (_, q) in zip(lm.model.named_parameters(), again.model.named_parameters(), strict=True):
        assert torch.equal(p, q), n
    # saving merges the adapters into full weights that load on their own
    for p in lm.model.parameters():
        if p.requires_grad:
            p.data.add_(0.05)
    folder = lm.save_pretrained(tmp_path / "merged")
    back = load_model(str(folder))
    ids = lm.tokenizer(["open fridge 1"], return_tensors="pt")["input_ids"]
    torch.testing.assert_close(causal_lm_logits(back.model, ids), causal_lm_logits(lm.model, ids), atol=1e-4, rtol=0)
    assert any(n for n, _ in lm.model.named_parameters() if "lora_" in n)  # the live model keeps its adapters


def test_bad_options_fail_clearly(cache, tmp_path):
    with pytest.raises(TypeError, match="unknown tiny-model option"):
        load_model("tiny", cache_dir=cache, hidden_sise=3)
    with pytest.raises(TypeError, match="only apply to name='tiny'"):
        load_model(str(tmp_path), hidden_size=64)
    with pytest.raises(ValueError, match="unknown dtype"):
        load_model("tiny", cache_dir=cache, dtype="float8")
    with pytest.raises(ValueError, match="divisible"):
        load_model("tiny", cache_dir=cache, hidden_size=66, num_attention_heads=4)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_model(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="GGUF file not found"):
        load_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(FileNotFoundError, match="Offline choices"):
        load_model("./no/such/folder")


def test_hub_id_offline_error_lists_choices(monkeypatch, cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(cache / "hf_home"))  # an empty HF cache
    with pytest.raises(OSError, match="Offline choices: 'tiny'.*'smollm2-135m'"):
        load_model("some-org/some-model-that-is-not-cached")
