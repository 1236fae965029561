from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from hiper_agent.models import (  # noqa: E402
    HEAD_HIGH,
    HEAD_LOW,
    HEAD_SWITCH,
    ValueHeadCritic,
    build_critic,
    load_model,
    value_positions,
)

CORPUS = ["go to fridge 1", "open fridge 1", "You see a fridge 1 and a countertop 1."] * 10
SMALL = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    return load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=tmp_path_factory.mktemp("c"), **SMALL)


def test_head_constants():
    assert (HEAD_LOW, HEAD_HIGH, HEAD_SWITCH) == (0, 1, 2)


def test_separate_critic_shape_and_ownership(lm):
    critic = build_critic(lm, seed=0)
    assert isinstance(critic, ValueHeadCritic) and not critic.shared_backbone
    batch = lm.tokenizer(["go to fridge 1", "open"], padding=True, return_tensors="pt")
    values = critic(batch["input_ids"], batch["attention_mask"])
    assert values.shape == (2, batch["input_ids"].shape[1], 3) and values.dtype == torch.float32
    # its own copy of the policy's decoder: training it leaves the policy alone
    policy_params = {id(p) for p in lm.model.parameters()}
    assert not policy_params & {id(p) for p in critic.parameters()}
    assert all(p.requires_grad for p in critic.parameters())
    values.sum().backward()
    assert all(p.grad is None for p in lm.model.parameters())
    # same weights as the policy's decoder at the start
    torch.testing.assert_close(critic.body.embed_tokens.weight, lm.model.model.embed_tokens.weight)


def test_shared_backbone_holds_heads_only(lm):
    critic = build_critic(lm, shared_backbone=True)
    assert critic.body is lm.model.model
    assert set(critic.state_dict()) == {"heads.weight", "heads.bias"}
    ids = lm.tokenizer(["open fridge 1"], return_tensors="pt")["input_ids"]
    lm.model.zero_grad()
    critic(ids)[..., HEAD_HIGH].sum().backward()
    assert lm.model.model.embed_tokens.weight.grad is not None  # the value loss reaches the shared decoder
    lm.model.zero_grad()


def test_critic_from_a_name_checks_the_vocabulary(lm, tmp_path):
    critic = build_critic("tiny", tokenizer=lm.tokenizer, tokenizer_corpus=CORPUS, cache_dir=tmp_path, **SMALL)
    assert critic(torch.tensor([[3, 4, 5]])).shape == (1, 3, 3)
    with pytest.raises(ValueError, match="different vocabulary"):
        build_critic("tiny", tokenizer=lm.tokenizer, tokenizer_corpus=["other text"], cache_dir=tmp_path, **SMALL)
    with pytest.raises(ValueError, match="needs the policy"):
        build_critic("tiny", shared_backbone=True)


def test_heads_are_seeded(lm):
    a, b, c = build_critic(lm, seed=1), build_critic(lm, seed=1), build_critic(lm, seed=2)
    assert torch.equal(a.heads.weight, b.heads.weight) and not torch.equal(a.heads.weight, c.heads.weight)


def test_values_ignore_left_padding(lm):
    critic = build_critic(lm)
    tok = lm.tokenizer
    alone = tok(["open fridge 1"], return_tensors="pt")
    padded = tok(["open fridge 1", "You see a fridge 1 and a countertop 1."], padding=True, return_tensors="pt")
    n = alone["input_ids"].shape[1]
    with torch.no_grad():
        v_alone = critic(alone["input_ids"], alone["attention_mask"])[0]
        v_padded = critic(padded["input_ids"], padded["attention_mask"])[0, -n:]
    torch.testing.assert_close(v_padded, v_alone, atol=1e-5, rtol=0)


def _char_spans(tokenizer, text):
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return enc["input_ids"], enc["offset_mapping"]


def test_value_positions_on_known_response(lm):
    text = "<switch>SWITCH</switch>\n<subgoal>open the fridge</subgoal>\n<action>open fridge 1</action>"
    ids, offsets = _char_spans(lm.tokenizer, text)
    tokens = lm.tokenizer.convert_ids_to_tokens(ids)
    pos_high, pos_low, pos_switch = value_positions(text, offsets)
    assert pos_high == 0 and pos_switch == 0
    assert tokens[pos_low - 1] == "</subgoal>" and tokens[pos_low] == "Ċ"  # the first token after the close tag
    # bare end offsets (what hiper_agent.generation.base.token_char_ends gives) work the same, an EOS past the text too
    ends = [end for _, end in offsets] + [len(text) + len("<|endoftext|>")]
    assert value_positions(text, ends) == (0, pos_low, 0)


def test_value_positions_fallbacks():
    def spans(text):  # one token per character
        return [(i, i + 1) for i in range(len(text))]

    no_subgoal = "<switch>KEEP</switch><action>look</action>"
    assert value_positions(no_subgoal, spans(no_subgoal))[1] == len("<switch>KEEP</switch>")
    bare = "look around"
    assert value_positions(bare, spans(bare)) == (0, 0, 0)
    variant = "<switch>KEEP</switch>\n<subgoal>find it.]</subgoal>"  # tolerated close variant, nothing after
    assert value_positions(variant, spans(variant))[1] == len(variant) - 1  # clamped to the last token
    with pytest.raises(ValueError):
        value_positions("", [])


def test_separate_critic_from_a_lora_policy_merges_the_adapters(tmp_path):
    lm = load_model("tiny", tokenizer_corpus=CORPUS, cache_dir=tmp_path, lora={"r": 4}, **SMALL)
    for p in lm.model.parameters():
        if p.requires_grad:
            p.data.add_(0.1)
    critic = build_critic(lm)
    assert not any("lora_" in n for n, _ in critic.named_parameters())
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        policy_hidden = lm.model.get_base_model().model(ids).last_hidden_state
        torch.testing.assert_close(critic(ids), critic.heads(policy_hidden), atol=1e-5, rtol=0)
