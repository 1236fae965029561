"""The HiPER critic: a decoder with one value per token for each level (low, high, switch).

HiPER (arXiv 2602.16165; official code ``hiper_hae/core_hae.py``) trains a *separate* critic model with three
scalar heads, read at fixed places of each response: ``V_high`` and ``V_switch`` at the first response token and
``V_low`` at the first token after ``</subgoal>`` (after ``</switch>`` if there is no subgoal, else the first
token). :class:`ValueHeadCritic` gives the per-token values; :func:`value_positions` finds those places.

Alignment: ``values[:, t]`` is computed from the hidden state after reading ``input_ids[:, : t + 1]``, the same
column as the logits that predict token ``t + 1``. So the value *of the state before* response token ``i`` (what a
PPO critic estimates) is ``values[:, P - 1 + i]`` for a prompt of ``P`` tokens, as in verl's critic.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hiper_agent.models.forward import position_ids_from_mask
from hiper_agent.models.loader import LoadedModel, load_model
from hiper_agent.protocol import parse_response
from hiper_agent.types import HEADS

__all__ = [
    "HEAD_HIGH",
    "HEAD_LOW",
    "HEAD_NAMES",
    "HEAD_SWITCH",
    "ValueHeadCritic",
    "build_critic",
    "value_positions",
]

# the heads' columns, as everywhere in the agent (`hiper_agent.types.HEADS`)
HEAD_LOW, HEAD_HIGH, HEAD_SWITCH = HEADS["low"], HEADS["high"], HEADS["switch"]
HEAD_NAMES: tuple[str, ...] = tuple(HEADS)


def _unwrap_peft(model: nn.Module) -> nn.Module:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _decoder_of(model: nn.Module) -> nn.Module:
    """The transformer body of a causal LM (``model.model`` for Llama/Qwen2), without the LM head."""
    base = _unwrap_peft(model)
    decoder = getattr(base, "base_model", None)
    if decoder is None or decoder is base:
        raise TypeError(f"cannot find the decoder inside {type(base).__name__}; pass a Hugging Face causal LM")
    return decoder


class ValueHeadCritic(nn.Module):
    """A decoder plus a linear layer giving ``num_heads`` values per token.

    With ``shared_backbone=True`` the decoder is the policy's own (HiPER's "shared backbone" variant): it is *not*
    registered as a submodule, so ``parameters()`` and ``state_dict()`` hold the heads only and the policy's
    optimizer and checkpoint keep owning the backbone; the value loss still back-propagates into it.

    Args:
        backbone: a decoder returning ``last_hidden_state`` (e.g. ``Qwen2Model``).
        hidden_size: its width.
        num_heads: number of values per token (3: low, high, switch).
        shared_backbone: whether ``backbone`` belongs to the policy (see above).
        tokenizer: the tokenizer whose ids the critic reads (kept for callers; not used in ``forward``).
        seed: seeds the heads' initialisation (its own RNG stream).
        init_std: std of the heads' normal initialisation (biases start at 0).
    """

    def __init__(
        self,
        backbone: nn.Module,
        hidden_size: int,
        *,
        num_heads: int = 3,
        shared_backbone: bool = False,
        tokenizer: Any = None,
        seed: int = 0,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        if num_heads < 1:
            raise ValueError(f"num_heads must be >= 1, got {num_heads}")
        self.shared_backbone = shared_backbone
        self.num_heads = num_heads
        self.tokenizer = tokenizer
        if shared_backbone:
            self._shared = (backbone,)  # a tuple hides it from nn.Module's registry
        else:
            self.backbone = backbone
        self.heads = nn.Linear(hidden_size, num_heads)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            nn.init.normal_(self.heads.weight, std=init_std)
        nn.init.zeros_(self.heads.bias)
        self.heads.to(next(backbone.parameters()).device)

    @property
    def body(self) -> nn.Module:
        """The decoder, shared or owned."""
        return self._shared[0] if self.shared_backbone else self.backbone

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-token values.

        Args:
            input_ids: ``(B, T)`` token ids (prompt + response, padded on either side).
            attention_mask: ``(B, T)``, 1 for real tokens; ``None`` means no padding.

        Returns:
            ``(B, T, num_heads)`` float32 values; index heads with ``HEAD_LOW``, ``HEAD_HIGH``, ``HEAD_SWITCH``.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.body(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids_from_mask(attention_mask),
            use_cache=False,
        ).last_hidden_state
        return self.heads(hidden.to(self.heads.weight.dtype)).float()


def build_critic(
    lm_or_name: LoadedModel | str,
    *,
    shared_backbone: bool = False,
    num_heads: int = 3,
    seed: int = 0,
    tokenizer: Any = None,
    **load_kwargs: Any,
) -> ValueHeadCritic:
    """Builds the critic from the policy or from another model name.

    Args:
        lm_or_name: the policy's :class:`LoadedModel`, or a :func:`load_model` name for a separate critic model.
        shared_backbone: put the heads on the policy's own decoder (needs a :class:`LoadedModel`). Otherwise the
            critic gets its own decoder: a copy of the policy's (LoRA adapters merged, all weights trainable; how
            HiPER initialises its critic from the policy checkpoint) or the named model's.
        num_heads: values per token (3: low, high, switch).
        seed: seeds the heads (and the named model's initialisation, for ``"tiny"``).
        tokenizer: the policy's tokenizer; with a name, the critic's vocabulary is checked against it.
        **load_kwargs: passed to :func:`load_model` when ``lm_or_name`` is a name.

    Returns:
        The :class:`ValueHeadCritic`, on the backbone's device, in train mode.
    """
    if isinstance(lm_or_name, LoadedModel):
        if load_kwargs:
            raise TypeError(f"load options {sorted(load_kwargs)} only apply when building the critic from a name")
        lm = lm_or_name
        if shared_backbone:
            backbone = _decoder_of(lm.model)
        else:
            source = copy.deepcopy(lm.model)
            if hasattr(source, "merge_and_unload"):
                source = source.merge_and_unload()
            backbone = _decoder_of(source)
            backbone.requires_grad_(True)
        critic_tokenizer = lm.tokenizer
        config = _unwrap_peft(lm.model).config
    else:
        if shared_backbone:
            raise ValueError("shared_backbone=True needs the policy's LoadedModel, not a name")
        lm = load_model(str(lm_or_name), seed=seed, **load_kwargs)
        critic_tokenizer = lm.tokenizer
        if tokenizer is not None and tokenizer.get_vocab() != critic_tokenizer.get_vocab():
            raise ValueError(
                f"the critic model {lm_or_name!r} has a different vocabulary from the policy's tokenizer; "
                "the critic reads the policy's token ids, so it needs the same tokenizer"
            )
        backbone = _decoder_of(lm.model)
        backbone.requires_grad_(True)
        config = _unwrap_peft(lm.model).config
    critic = ValueHeadCritic(
        backbone,
        config.hidden_size,
        num_heads=num_heads,
        shared_backbone=shared_backbone,
        tokenizer=critic_tokenizer,
        seed=seed,
    )
    return critic.train()


def _spans(offsets: Sequence[Any]) -> list[tuple[int, int]]:
    """Accepts ``(start, end)`` pairs or bare end offsets (as ``hiper_agent.generation.base.token_char_ends`` gives)."""
    spans: list[tuple[int, int]] = []
    previous = 0
    for item in offsets:
        if isinstance(item, int):
            spans.append((previous, int(item)))
            previous = int(item)
        else:
            start, end = item
            spans.append((int(start), int(end)))
    return spans


def value_positions(response_text: str, offsets: Sequence[Any]) -> tuple[int, int, int]:
    """Token indices in the response where the critic's three values are read (HiPER's ``compute_value_mask``).

    - ``pos_high``: the first response token.
    - ``pos_low``: the first token reaching past the end of the ``<subgoal>`` block (its closing tag, with any
      tolerated variant like ``.</subgoal>``); without a subgoal block, past ``</switch>``; else the first token.
    - ``pos_switch``: the first response token.

    Args:
        response_text: the decoded response.
        offsets: per response token, its ``(start, end)`` character span in ``response_text``, or only its end
            offset. Tokens past the text (a final EOS) are fine.

    Returns:
        ``(pos_high, pos_low, pos_switch)``.
    """
    spans = _spans(offsets)
    if not spans:
        raise ValueError("value_positions needs at least one response token")
    parsed = parse_response(response_text)
    boundary = None
    for tag in ("subgoal", "switch"):
        span = parsed.spans.get(tag)
        if span is not None:
            boundary = span[1]
            break
    pos_low = 0
    if boundary is not None:
        # the first token whose text reaches past the boundary: its hidden state has read the whole closing tag
        pos_low = next((i for i, (_, end) in enumerate(spans) if end > boundary), len(spans) - 1)
    return 0, pos_low, 0
