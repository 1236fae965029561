"""Constrained decoding always yields a parsable response with an admissible action and a KEEP/SWITCH decision."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from hiper_agent.generation import FormatConstraint, HFGenerator  # noqa: E402
from hiper_agent.models import LoadedModel, load_model  # noqa: E402
from hiper_agent.models.tiny import TinyConfig, build_tiny_model  # noqa: E402
from hiper_envs.options import normalize_command, parse_response  # noqa: E402

CORPUS = ["You see a desk 1, a desk 10 and a drawer 2.", "go to desk 1", "open drawer 2", "examine desk 10"] * 20
SMALL = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
ADMISSIBLE_SETS = [
    ["go to desk 1", "go to desk 10", "go to desk 11"],  # commands that are prefixes of each other
    ["look"],
    ["open drawer 2", "close drawer 2", "put mug 1 in/on desk 1", "examine desk 10", "inventory"],
    ["search[red shoes size 9]", "click[< prev]", "click[buy now]"],  # WebShop-style brackets and '<'
    ["prendre la pomme é", "go to 🙂 1"],  # characters the tokenizer never saw
]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    return load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=tmp_path_factory.mktemp("k"), seed=1, **SMALL)


@pytest.fixture(scope="module")
def untagged_lm():
    """A model whose tokenizer has no tag tokens (like SmolLM2's): every tag is several byte-level pieces."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator([*CORPUS, "<switch>KEEP</switch>\n<subgoal>x</subgoal>"] * 5, trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>", pad_token="<eos>")
    tok.padding_side = "left"
    assert len(tok("</subgoal>", add_special_tokens=False)["input_ids"]) > 1
    model = build_tiny_model(tok, TinyConfig(**SMALL), seed=0).eval()
    return LoadedModel(model=model, tokenizer=tok, name="untagged", source="tiny")


def _check(samples, constraints):
    for s, c in zip(samples, constraints, strict=True):
        parsed = parse_response(s.text)
        assert parsed.format_errors == (), (s.text, parsed.format_errors)
        assert parsed.switch in (True, False)
        # the parser trims stray brackets ("click[buy now]" -> "click[buy now"); the envs compare normalized forms
        assert normalize_command(parsed.action) in {normalize_command(a) for a in c.admissible}, s.text
        assert s.text.split("<action>")[1].removesuffix("</action>") in c.admissible
        assert s.text.startswith("<switch>") and s.text.endswith("</action>")
        assert s.finish_reason == "stop"
        assert len(s.allowed) == len(s.response_ids)
        assert all(t in a for t, a in zip(s.response_ids, s.allowed, strict=True))


@pytest.mark.parametrize("model", ["lm", "untagged_lm"])
def test_constrained_responses_always_parse_with_an_admissible_action(model, request):
    lm = request.getfixturevalue(model)
    gen = HFGenerator(lm, max_new_tokens=96, batch_size=len(ADMISSIBLE_SETS))
    constraints = [FormatConstraint(a, max_subgoal_tokens=12) for a in ADMISSIBLE_SETS]
    prompts = [f"Step {i}: you see a desk." for i in range(len(constraints))]
    seen_actions, seen_switch = set(), set()
    for seed in range(8):
        samples = gen.generate(prompts, constraints=constraints, generator=torch.Generator().manual_seed(seed))
        _check(samples, constraints)
        for s in samples:
            parsed = parse_response(s.text)
            seen_actions.add(parsed.action)
            seen_switch.add(parsed.switch)
            assert s.response_ids[-1] == lm.tokenizer.eos_token_id
    assert seen_switch == {True, False}  # both decisions are reachable
    assert len(seen_actions) > len(ADMISSIBLE_SETS)  # and more than one action per set


def test_greedy_constrained_parses_too(lm):
    constraints = [FormatConstraint(a) for a in ADMISSIBLE_SETS]
    samples = HFGenerator(lm, max_new_tokens=96).generate(
        ["go"] * len(constraints), constraints=constraints, greedy=True
    )
    _check(samples, constraints)


def test_subgoal_is_free_text_without_tags_and_bounded(lm):
    constraint = FormatConstraint(["look"], max_subgoal_tokens=5)
    samples = HFGenerator(lm, max_new_tokens=64).generate(
        ["go"] * 8, constraints=[constraint] * 8, generator=torch.Generator().manual_seed(0)
    )
    for s in samples:
        subgoal = parse_response(s.text).subgoal
        assert subgoal and "<" not in subgoal and "\n" not in subgoal
        start = s.text.index("<subgoal>") + len("<subgoal>")
        raw = s.text[start : s.text.index("</subgoal>")]
        assert len(lm.tokenizer(raw, add_special_tokens=False)["input_ids"]) <= 6  # 5, give or take a re-merge


def test_tight_budget_closes_the_subgoal_early(lm):
    constraint = FormatConstraint(["go to desk 10"], max_subgoal_tokens=50)
    gen = HFGenerator(lm, max_new_tokens=24)
    samples = gen.generate(["go"] * 6, constraints=[constraint] * 6, generator=torch.Generator().manual_seed(0))
    for s in samples:
        assert len(s.response_ids) <= 24
        parsed = parse_response(s.text)
        assert parsed.action == "go to desk 10" and s.finish_reason == "stop"


def test_subgoal_choices_when_free_text_is_off(lm):
    subgoals = ["find the mug", "clean the mug"]
    constraint = FormatConstraint(["look", "go to desk 1"], allow_free_subgoal=False, subgoals=subgoals)
    samples = HFGenerator(lm, max_new_tokens=64).generate(
        ["go"] * 8, constraints=[constraint] * 8, generator=torch.Generator().manual_seed(0)
    )
    _check(samples, [constraint] * 8)
    assert all(parse_response(s.text).subgoal in subgoals for s in samples)


def test_without_eos(lm):
    constraint = FormatConstraint(["look"], end_with_eos=False)
    [s] = HFGenerator(lm, max_new_tokens=64).generate(["go"], constraints=[constraint])
    assert s.response_ids[-1] != lm.tokenizer.eos_token_id and s.text.endswith("</action>")


def test_format_constraint_validation():
    assert FormatConstraint(["look", " look ", "", "go"]).admissible == ("look", "go")
    with pytest.raises(ValueError, match="at least one"):
        FormatConstraint(["", "  "])
    with pytest.raises(TypeError, match="not one string"):
        FormatConstraint("look")
    with pytest.raises(ValueError, match="subgoals"):
        FormatConstraint(["look"], allow_free_subgoal=False)
    with pytest.raises(ValueError, match="max_subgoal_tokens"):
        FormatConstraint(["look"], max_subgoal_tokens=0)


@pytest.mark.parametrize("model", ["lm", "untagged_lm"])
def test_keep_continues_the_current_subgoal(model, request):
    # KEEP continues the current option (PROTOCOL.md): with `keep_subgoal` the subgoal block after KEEP is that
    # text, forced (log-prob 0); SWITCH still writes a new subgoal
    lm = request.getfixturevalue(model)
    gen = HFGenerator(lm, max_new_tokens=64, temperature=2.0)
    current = "open drawer 2"
    constraints = [FormatConstraint(ADMISSIBLE_SETS[2], keep_subgoal=current)] * 64
    samples = gen.generate(
        ["You see a desk 1."] * 64, constraints=constraints, generator=torch.Generator().manual_seed(0)
    )
    _check(samples, constraints)
    parsed = [parse_response(s.text) for s in samples]
    kept = [p for p in parsed if not p.switch]
    assert kept and all(p.subgoal == current for p in kept)
    assert any(p.subgoal != current for p in parsed if p.switch)  # free text after SWITCH
    assert sum(lp == 0.0 for s in samples if "KEEP" in s.text for lp in s.logprobs) > len(kept)  # forced tokens


def test_keep_is_refused_when_the_budget_cannot_hold_the_current_subgoal(lm):
    from hiper_agent.generation.constraints import CompiledConstraint, VocabIndex

    long = "put mug 1 in/on desk 1 " * 6
    compiled = CompiledConstraint(FormatConstraint(["look"], keep_subgoal=long), VocabIndex(lm.tokenizer))
    assert compiled.keep_cost > compiled.required_tokens
    gen = HFGenerator(lm, max_new_tokens=compiled.required_tokens + 2, temperature=2.0)
    samples = gen.generate(
        ["x"] * 16, constraints=[compiled.constraint] * 16, generator=torch.Generator().manual_seed(0)
    )
    assert all(parse_response(s.text).switch and s.finish_reason == "stop" for s in samples)
    # tags or newlines cannot be forced into the subgoal block: such a subgoal is ignored
    assert FormatConstraint(["look"], keep_subgoal="a <b> c").keep_subgoal is None
