"""VLLMGenerator against the HF path: log-probs consistent with the trainer's at step 0, weight pushes, seeding.

Runs where vLLM and a CUDA GPU are present (``pip install 'hiper[vllm]'``); skipped with the reason elsewhere.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("vllm", reason="vLLM is not installed (optional: pip install 'hiper[vllm]' on a CUDA machine)")
if not torch.cuda.is_available():
    pytest.skip("vLLM's engine needs a CUDA GPU; none is visible", allow_module_level=True)

from hiper_agent.generation import FormatConstraint, sequence_logprobs  # noqa: E402
from hiper_agent.generation.vllm import VLLMGenerator  # noqa: E402
from hiper_agent.models import causal_lm_logits, load_model  # noqa: E402
from hiper_agent.protocol import parse_response  # noqa: E402

CORPUS = [
    "You are in the kitchen. You see a fridge 1, a countertop 1, a cabinet 2.",
    "<switch>KEEP</switch>\n<subgoal>find an apple</subgoal>\n<action>go to countertop 1</action>",
    "<switch>SWITCH</switch>\n<subgoal>cool the apple</subgoal>\n<action>open fridge 1</action>",
    "go to fridge 1",
    "take apple 1 from countertop 1",
] * 20
SMALL = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
ADMISSIBLE = ["go to fridge 1", "open fridge 1", "go to countertop 1", "take apple 1 from countertop 1", "look"]
PROMPTS = ["You are in the kitchen. What now?", "go", "You see a fridge 1, a countertop 1.", "take"] * 4


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    lm = load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=tmp_path_factory.mktemp("v"), seed=0, **SMALL)
    lm.model.to("cuda")
    return lm


@pytest.fixture(scope="module")
def gen(lm):
    gen = VLLMGenerator(lm, max_new_tokens=32, gpu_memory_utilization=0.2, engine_kwargs={"enforce_eager": True})
    yield gen
    gen.close()


def constraints():
    return [
        FormatConstraint(ADMISSIBLE, max_subgoal_tokens=6),
        None,
        FormatConstraint(ADMISSIBLE[:2], keep_subgoal="find an apple"),
        FormatConstraint(ADMISSIBLE[2:], allow_free_subgoal=False, subgoals=["find an apple", "cool it"]),
    ] * 4


def trainer_logprobs(lm, samples):
    """Each sample's log-probs recomputed by the HF model the way the trainer does (one padded forward)."""
    rows = [s.prompt_ids + s.response_ids for s in samples]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), lm.tokenizer.pad_token_id, device="cuda")
    mask = torch.zeros((len(rows), width), dtype=torch.long, device="cuda")
    for b, row in enumerate(rows):
        ids[b, : len(row)], mask[b, : len(row)] = torch.tensor(row, device="cuda"), 1
    with torch.no_grad():
        logits = causal_lm_logits(lm.model, ids, mask)[:, :-1]
    offsets = [len(s.prompt_ids) - 1 for s in samples]
    logp = sequence_logprobs(logits, ids[:, 1:], [s.allowed for s in samples], offset=offsets)
    return [logp[b, o : o + len(s.response_ids)].cpu() for b, (o, s) in enumerate(zip(offsets, samples, strict=True))]


def importance_ratios(lm, samples):
    hf = torch.cat(trainer_logprobs(lm, samples))
    engine = torch.tensor([lp for s in samples for lp in s.logprobs])
    return (hf - engine).exp()


def test_logprobs_match_the_trainer_at_step_0(lm, gen):
    samples = gen.generate(PROMPTS, constraints=constraints(), generator=torch.Generator().manual_seed(0))
    for sample, constraint in zip(samples, constraints(), strict=True):
        assert len(sample.logprobs) == len(sample.response_ids) > 0
        if constraint is not None:
            parsed = parse_response(sample.text)
            assert parsed.action in constraint.admissible, sample.text
            assert sample.finish_reason == "stop" and sample.response_ids[-1] == lm.tokenizer.eos_token_id
    ratios = importance_ratios(lm, samples)
    assert torch.isfinite(ratios).all()
    # float32 weights on both sides; what differs is kernels, and the rare token the regex allows but our token
    # program does not (then the trainer's mask is the full vocabulary for the rest of that row)
    assert (ratios - 1).abs().mean() < 0.02, ratios
    assert gen.last_noncanonical <= len(samples) // 4


def test_weights_follow_training_updates(lm, gen):
    with torch.no_grad():
        for p in lm.model.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # an "optimizer step": in place, bumps the version counters
    samples = gen.generate(PROMPTS, constraints=constraints(), generator=torch.Generator().manual_seed(1))
    assert (importance_ratios(lm, samples) - 1).abs().mean() < 0.02  # the engine sampled from the new weights


def test_same_generator_state_same_samples(gen):
    def draw():
        return gen.generate(PROMPTS, constraints=constraints(), generator=torch.Generator().manual_seed(3))

    assert [s.response_ids for s in draw()] == [s.response_ids for s in draw()]
