"""HFGenerator: seeding, batching, stop conditions and log-probs that match `sequence_logprobs` exactly."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from hiper_agent.generation import FormatConstraint, HFGenerator, Sample, sequence_logprobs  # noqa: E402
from hiper_agent.models import causal_lm_logits, load_model  # noqa: E402

CORPUS = [
    "You are in the kitchen. You see a fridge 1, a countertop 1, a cabinet 2.",
    "<switch>KEEP</switch>\n<subgoal>find an apple</subgoal>\n<action>go to countertop 1</action>",
    "go to fridge 1",
    "take apple 1 from countertop 1",
] * 20
SMALL = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
PROMPTS = [
    "You are in the kitchen. What now?",
    "go",
    "You see a fridge 1, a countertop 1, a cabinet 2. Your task is to: put a cool apple in the cabinet 2.",
    "take",
]
ADMISSIBLE = ["go to fridge 1", "open fridge 1", "go to countertop 1", "take apple 1 from countertop 1", "look"]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    return load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=tmp_path_factory.mktemp("g"), seed=0, **SMALL)


def _mixed():
    return [FormatConstraint(ADMISSIBLE), None, FormatConstraint(ADMISSIBLE[:2]), None]


def _ids(samples):
    return [s.response_ids for s in samples]


def _recompute(lm, samples, temperature=1.0, top_p=1.0):
    """Log-probs of every sample, recomputed in one right-padded forward pass as a trainer would."""
    tok = lm.tokenizer
    rows = [s.prompt_ids + s.response_ids for s in samples]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tok.pad_token_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        ids[b, : len(row)], mask[b, : len(row)] = torch.tensor(row), 1
    logits = causal_lm_logits(lm.model, ids, mask)[:, :-1]
    offsets = [len(s.prompt_ids) - 1 for s in samples]  # logits column of each row's first response token
    logp = sequence_logprobs(logits, ids[:, 1:], [s.allowed for s in samples], temperature, top_p=top_p, offset=offsets)
    return [logp[b, o : o + len(s.response_ids)] for b, (o, s) in enumerate(zip(offsets, samples, strict=True))]


def test_samples_have_the_documented_fields(lm):
    samples = HFGenerator(lm, max_new_tokens=40).generate(
        PROMPTS, constraints=_mixed(), generator=torch.Generator().manual_seed(0)
    )
    assert len(samples) == len(PROMPTS) and all(isinstance(s, Sample) for s in samples)
    for s, prompt in zip(samples, PROMPTS, strict=True):
        assert s.prompt_ids == lm.tokenizer(prompt)["input_ids"]
        assert len(s.logprobs) == len(s.response_ids) > 0
        assert all(lp <= 0 for lp in s.logprobs)
        assert s.finish_reason in ("stop", "length")
        assert s.text == lm.tokenizer.decode(s.response_ids, skip_special_tokens=True)
    assert samples[0].allowed is not None and len(samples[0].allowed) == len(samples[0].response_ids)
    assert samples[1].allowed is None


def test_same_seed_same_samples_and_different_seed_differs(lm):
    gen = HFGenerator(lm, max_new_tokens=32)
    a = gen.generate(PROMPTS, constraints=_mixed(), generator=torch.Generator().manual_seed(7))
    b = gen.generate(PROMPTS, constraints=_mixed(), generator=torch.Generator().manual_seed(7))
    c = gen.generate(PROMPTS, constraints=_mixed(), generator=torch.Generator().manual_seed(8))
    assert _ids(a) == _ids(b) and [s.logprobs for s in a] == [s.logprobs for s in b]
    assert _ids(a) != _ids(c)


def test_batched_equals_one_by_one(lm):
    seed = torch.Generator().manual_seed(3)
    batched = HFGenerator(lm, max_new_tokens=32, batch_size=4).generate(PROMPTS, constraints=_mixed(), generator=seed)
    seed = torch.Generator().manual_seed(3)
    single = HFGenerator(lm, max_new_tokens=32, batch_size=1).generate(PROMPTS, constraints=_mixed(), generator=seed)
    assert _ids(batched) == _ids(single)
    for x, y in zip(batched, single, strict=True):
        torch.testing.assert_close(torch.tensor(x.logprobs), torch.tensor(y.logprobs), atol=1e-5, rtol=0)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sequence_logprobs_reproduce_sampler_logprobs(lm, temperature):
    gen = HFGenerator(lm, max_new_tokens=40, temperature=temperature)
    samples = gen.generate(PROMPTS, constraints=_mixed(), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        recomputed = _recompute(lm, samples, temperature)
    for s, logp in zip(samples, recomputed, strict=True):
        # PPO's ratio exp(new - old) is 1 before the first update
        torch.testing.assert_close(logp, torch.tensor(s.logprobs), atol=1e-5, rtol=0)


def test_forced_tokens_cost_no_probability(lm):
    [s] = HFGenerator(lm, max_new_tokens=40).generate(
        [PROMPTS[0]], constraints=[FormatConstraint(["look"])], generator=torch.Generator().manual_seed(0)
    )
    forced = [lp for lp, allowed in zip(s.logprobs, s.allowed, strict=True) if len(allowed) == 1]
    assert forced and all(lp == 0.0 for lp in forced)


def test_top_p_logprobs_match_too(lm):
    samples = HFGenerator(lm, max_new_tokens=24, top_p=0.8).generate(
        PROMPTS, constraints=_mixed(), generator=torch.Generator().manual_seed(2)
    )
    with torch.no_grad():
        recomputed = _recompute(lm, samples, top_p=0.8)
    for s, logp in zip(samples, recomputed, strict=True):
        torch.testing.assert_close(logp, torch.tensor(s.logprobs), atol=1e-4, rtol=0)


def test_sequence_logprobs_is_differentiable_and_gives_entropy(lm):
    samples = HFGenerator(lm, max_new_tokens=32).generate(
        PROMPTS[:2], constraints=_mixed()[:2], generator=torch.Generator().manual_seed(0)
    )
    s = samples[0]
    ids = torch.tensor([s.prompt_ids + s.response_ids])
    logits = causal_lm_logits(lm.model, ids)[:, :-1]
    logp, entropy = sequence_logprobs(
        logits, ids[:, 1:], [s.allowed], offset=len(s.prompt_ids) - 1, return_entropy=True
    )
    assert torch.isfinite(entropy).all() and (entropy >= -1e-6).all()
    # forced positions have zero entropy
    forced = [len(s.prompt_ids) - 1 + i for i, a in enumerate(s.allowed) if len(a) == 1]
    assert torch.allclose(entropy[0, forced], torch.zeros(len(forced)), atol=1e-6)
    logp[0, len(s.prompt_ids) - 1 :].sum().backward()
    assert lm.model.model.embed_tokens.weight.grad is not None
    lm.model.zero_grad()


def test_greedy_is_deterministic_without_a_generator(lm):
    gen = HFGenerator(lm, max_new_tokens=20)
    state = torch.random.get_rng_state()
    a = gen.generate(PROMPTS, greedy=True)
    b = gen.generate(PROMPTS, greedy=True)
    assert _ids(a) == _ids(b)
    assert torch.equal(state, torch.random.get_rng_state())  # greedy draws no random numbers
    for s in a:  # each greedy token is the arg-max of its distribution
        logits = causal_lm_logits(lm.model, torch.tensor([s.prompt_ids + s.response_ids]))[0]
        first = logits[len(s.prompt_ids) - 1]
        assert s.response_ids[0] == int(first.argmax())


def test_sampler_follows_the_distribution(lm):
    """Inverse-CDF sampling draws the first token with the model's probabilities (2,000 draws, loose bound)."""
    n = 2000
    gen = HFGenerator(lm, max_new_tokens=1, batch_size=n)
    samples = gen.generate(["go"] * n, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        probs = torch.softmax(causal_lm_logits(lm.model, torch.tensor([samples[0].prompt_ids]))[0, -1], -1)
    counts = torch.bincount(torch.tensor([s.response_ids[0] for s in samples]), minlength=probs.numel()).double()
    top = probs.argsort(descending=True)[:5]
    expected = probs[top].double() * n
    assert torch.all((counts[top] - expected).abs() <= 5 * expected.sqrt() + 5)


def test_unconstrained_stops_at_action_close_or_eos(lm):
    gen = HFGenerator(lm, max_new_tokens=48)
    tok = lm.tokenizer
    close = tok("</action>", add_special_tokens=False)["input_ids"][0]
    for seed in range(6):
        for s in gen.generate(PROMPTS, generator=torch.Generator().manual_seed(seed)):
            body = s.response_ids[:-1]
            assert close not in body and tok.eos_token_id not in body
            if s.finish_reason == "stop":
                assert s.response_ids[-1] in (close, tok.eos_token_id)
            else:
                assert len(s.response_ids) == 48


def test_stop_strings_spanning_tokens(lm):
    """A stop string that is several tokens (as `</action>` is for SmolLM2) still stops generation."""
    gen = HFGenerator(lm, max_new_tokens=30, stop_strings=("ge",))
    for s in gen.generate(PROMPTS * 2, generator=torch.Generator().manual_seed(4)):
        if s.finish_reason == "stop" and s.response_ids[-1] != lm.tokenizer.eos_token_id:
            assert "ge" in s.text and "ge" not in lm.tokenizer.decode(s.response_ids[:-1])


def test_generation_restores_training_mode(lm):
    lm.model.train()
    HFGenerator(lm, max_new_tokens=2).generate(["go"], generator=torch.Generator().manual_seed(0))
    assert lm.model.training
    lm.model.eval()


def test_bad_arguments(lm):
    gen = HFGenerator(lm, max_new_tokens=8)
    with pytest.raises(ValueError, match="constraints for"):
        gen.generate(PROMPTS, constraints=[None])
    with pytest.raises(TypeError, match="list of strings"):
        gen.generate("one prompt")
    # a format longer than max_new_tokens still completes: the cap bounds free text, not a long admissible command
    [sample] = gen.generate(["go"], constraints=[FormatConstraint(["take apple 1 from countertop 1"])])
    assert sample.text.endswith("<action>take apple 1 from countertop 1</action>") and sample.finish_reason == "stop"
    with pytest.raises(ValueError):
        HFGenerator(lm, temperature=0)
    assert gen.generate([]) == []
    [empty] = gen.generate([""])  # an empty prompt starts from BOS
    assert empty.prompt_ids == [lm.tokenizer.bos_token_id] and all(lp <= 0 for lp in empty.logprobs)


def test_lora_policy_samples_and_matches_sequence_logprobs(tmp_path):
    lm = load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=tmp_path, lora={"r": 4}, **SMALL)
    for p in lm.model.parameters():  # move the adapters off their zero start so they matter
        if p.requires_grad:
            p.data.add_(0.1)
    samples = HFGenerator(lm, max_new_tokens=40).generate(
        PROMPTS, constraints=_mixed(), generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        recomputed = _recompute(lm, samples)
    for s, logp in zip(samples, recomputed, strict=True):
        torch.testing.assert_close(logp, torch.tensor(s.logprobs), atol=1e-5, rtol=0)
