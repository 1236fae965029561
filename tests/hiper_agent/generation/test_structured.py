"""format_regex / replay_allowed: the regex an engine decodes with admits exactly our format's texts, and replaying
our token program over sampled tokens gives back the sampler's masks. Also the weight names pushed to vLLM."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")

from hiper_agent.generation import FormatConstraint, HFGenerator  # noqa: E402
from hiper_agent.generation.constraints import CompiledConstraint  # noqa: E402
from hiper_agent.generation.structured import (  # noqa: E402
    compile_for_replay,
    escape_regex,
    format_regex,
    replay_allowed,
)
from hiper_agent.generation.vllm import checkpoint_weights  # noqa: E402  (pure torch: no vLLM needed)
from hiper_agent.models import load_model  # noqa: E402

CORPUS = [
    "You are in the kitchen. You see a fridge 1, a countertop 1, a cabinet 2.",
    "<switch>KEEP</switch>\n<subgoal>find an apple</subgoal>\n<action>go to countertop 1</action>",
    "<switch>SWITCH</switch>\n<subgoal>cool the apple</subgoal>\n<action>open fridge 1</action>",
    "go to fridge 1",
    "take apple 1 from countertop 1",
] * 20
SMALL = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
ADMISSIBLE = ["go to fridge 1", "open fridge 1", "go to countertop 1", "take apple 1 from countertop 1", "look"]
CONSTRAINTS = {
    "free": FormatConstraint(ADMISSIBLE, max_subgoal_tokens=6),
    "choices": FormatConstraint(ADMISSIBLE[:3], allow_free_subgoal=False, subgoals=["find an apple", "cool it"]),
    "keep": FormatConstraint(ADMISSIBLE, keep_subgoal="find an apple", max_subgoal_tokens=6),
    "no_eos": FormatConstraint(ADMISSIBLE[-2:], end_with_eos=False, max_subgoal_tokens=4),
}
PROMPTS = ["You are in the kitchen. What now?", "go", "You see a fridge 1.", "take"]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    return load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=tmp_path_factory.mktemp("s"), seed=0, **SMALL)


@pytest.fixture(scope="module")
def samples(lm):
    """Constrained HF samples (a random tiny model: the format is all that holds them together) and budgets."""
    gen = HFGenerator(lm, max_new_tokens=30)
    out = {}
    for name, constraint in CONSTRAINTS.items():
        drawn = gen.generate(
            PROMPTS, constraints=[constraint] * len(PROMPTS), generator=torch.Generator().manual_seed(1)
        )
        out[name] = (gen, constraint, drawn, max(30, gen.compile(constraint).required_tokens))
    return out


@pytest.mark.parametrize("name", list(CONSTRAINTS))
def test_regex_admits_what_the_token_program_samples(samples, name):
    gen, constraint, drawn, _ = samples[name]
    regex, max_chars = format_regex(constraint)
    for sample in drawn:
        text = gen.tokenizer.decode(sample.response_ids, skip_special_tokens=True)
        assert re.fullmatch(regex, text), (regex, text)
        assert len(text) <= max_chars


@pytest.mark.parametrize("name", list(CONSTRAINTS))
def test_replay_gives_back_the_sampler_masks(samples, name):
    gen, constraint, drawn, budget = samples[name]
    for sample in drawn:
        allowed, canonical = replay_allowed(CompiledConstraint(constraint, gen.vocab), sample.response_ids, budget)
        assert canonical and allowed == sample.allowed


def test_replay_with_room_for_the_regex_accepts_longer_subgoals(samples):
    # the engine's subgoal may run past max_subgoal_tokens (the regex counts characters): the replay must follow it
    gen, constraint, _, _ = samples["free"]
    text = (
        "<switch>SWITCH</switch>\n<subgoal>q w e r t y u i</subgoal>\n<action>look</action>"  # > 6 tokens, < 24 chars
    )
    ids = [*gen.vocab.encode(text), gen.vocab.eos_id]
    assert re.fullmatch(format_regex(constraint)[0], text)
    assert not replay_allowed(CompiledConstraint(constraint, gen.vocab), ids, 200)[1]  # 6 tokens are too few
    allowed, canonical = replay_allowed(compile_for_replay(constraint, gen.vocab), ids, 200)
    assert canonical and all(a is not None and t in a for a, t in zip(allowed, ids, strict=True))


def test_replay_frees_the_rest_of_a_noncanonical_row(samples):
    gen, constraint, drawn, budget = samples["free"]
    # spell "<switch>" one character at a time: the same text, another tokenization
    chars = [i for c in "<switch>" for i in gen.vocab.encode(c)]
    assert tuple(chars) != gen.vocab.encode("<switch>")
    rest = drawn[0].response_ids[len(gen.vocab.encode("<switch>")) :]
    allowed, canonical = replay_allowed(CompiledConstraint(constraint, gen.vocab), chars + rest, budget)
    assert not canonical
    first_off = next(t for t, a in enumerate(allowed) if a is None or chars[t] not in a)
    assert all(a is None for a in allowed[first_off:])


def test_regex_rejects_what_the_format_forbids():
    regex, _ = format_regex(CONSTRAINTS["keep"])
    ok = "<switch>KEEP</switch>\n<subgoal>find an apple</subgoal>\n<action>look</action>"
    assert re.fullmatch(regex, ok)
    for bad in (
        ok.replace("find an apple", "find a pear"),  # KEEP must keep the current subgoal
        ok.replace("look", "fly away"),  # not admissible
        ok.replace("KEEP", "MAYBE"),
        "<switch>SWITCH</switch>\n<subgoal>a\nb</subgoal>\n<action>look</action>",  # a line break in free text
        "<switch>SWITCH</switch>\n<subgoal> </subgoal>\n<action>look</action>",  # a blank subgoal
        "<switch>SWITCH</switch>\n<subgoal>" + "x" * 30 + "</subgoal>\n<action>look</action>",  # too long
    ):
        assert not re.fullmatch(regex, bad), bad
    assert re.fullmatch(regex, "<switch>SWITCH</switch>\n<subgoal>find a pear</subgoal>\n<action>look</action>")


def test_escape_regex_keeps_metacharacters_literal():
    command = "put 1.5 (big) apple? in/on [box] {a|b} ^$*+ - # & ~ \\"
    regex, _ = format_regex(FormatConstraint([command, "look"]))
    text = f"<switch>SWITCH</switch>\n<subgoal>go</subgoal>\n<action>{command}</action>"
    assert re.fullmatch(regex, text)
    assert not re.fullmatch(regex, text.replace("1.5", "1x5"))
    assert "\\ " not in escape_regex("a b") and escape_regex("a\nb") == "a\\nb"


def test_checkpoint_weights_use_the_checkpoint_names(lm):
    # vLLM's load_weights reads Hugging Face checkpoint names; a LoRA model pushes its merged weights under them
    import copy

    from peft import LoraConfig, get_peft_model

    assert [n for n, _ in checkpoint_weights(lm.model)] == list(lm.model.state_dict())
    peft_model = get_peft_model(
        copy.deepcopy(lm.model), LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False)
    )
    expected = copy.deepcopy(peft_model).merge_and_unload().state_dict()
    before = {k: v.clone() for k, v in peft_model.state_dict().items()}
    pushed = dict(checkpoint_weights(peft_model))
    assert pushed.keys() == expected.keys()
    assert all(torch.allclose(pushed[k], expected[k], atol=1e-6) for k in expected)
    assert not torch.equal(
        pushed["model.layers.0.self_attn.q_proj.weight"],
        before["base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight"],
    )  # the adapter is in
    after = peft_model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the live model is untouched
