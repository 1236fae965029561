"""From turns to tensors: left-padded (prompt + response) batches, response-token log-probs and critic values.

Sequences are left-padded so that every response ends at the last position; the model then only needs logits
for the last ``R + 1`` positions (``R`` = longest response), which saves most of the LM-head cost. Position ids
are computed from the attention mask, exactly as the sampler does, so a freshly sampled turn has a ratio of 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from hiper_agent.generation import sequence_logprobs
from hiper_agent.models.forward import causal_lm_logits, position_ids_from_mask

__all__ = ["TokenBatch", "collate", "critic_values", "response_logprobs"]


@dataclass
class TokenBatch:
    """A left-padded batch of turns.

    Attributes:
        input_ids: ``(B, L)`` prompt + response, left-padded.
        attention_mask: ``(B, L)``.
        position_ids: ``(B, L)`` from the attention mask.
        targets: ``(B, R)`` response token ids, right-aligned with the sequence end (0 on padding).
        response_mask: ``(B, R)`` true on real response tokens.
        allowed: per row and response position, the allowed token ids of constrained decoding (or ``None``).
        response_length: ``R``.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    targets: torch.Tensor
    response_mask: torch.Tensor
    allowed: list[list[list[int] | None]] | None
    response_length: int

    def to(self, device: torch.device | str) -> TokenBatch:
        """This batch with its tensors on ``device`` (``allowed`` stays a list: masks are built where used)."""
        for name in ("input_ids", "attention_mask", "position_ids", "targets", "response_mask"):
            setattr(self, name, getattr(self, name).to(device))
        return self


def collate(
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    pad_id: int,
    allowed: Sequence[Sequence[list[int] | None] | None] | None = None,
    device: torch.device | str | None = None,
) -> TokenBatch:
    """Left-pad ``prompt + response`` rows; the response of every row ends at the last position.

    Response ``j`` of a row with response length ``n`` sits in column ``R - n + j`` of ``targets``. The tensors are
    built on the CPU and moved to ``device`` (the model's) when given.
    """
    seqs = [list(p) + list(r) for p, r in zip(prompts, responses, strict=True)]
    width = max(len(s) for s in seqs)
    resp_len = max(1, max(len(r) for r in responses))
    batch = len(seqs)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((batch, width), dtype=torch.long)
    targets = torch.zeros((batch, resp_len), dtype=torch.long)
    response_mask = torch.zeros((batch, resp_len), dtype=torch.bool)
    rows_allowed: list[list[list[int] | None]] | None = None
    if allowed is not None and any(a is not None for a in allowed):
        rows_allowed = []
    for b, (seq, resp) in enumerate(zip(seqs, responses, strict=True)):
        input_ids[b, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
        attention_mask[b, width - len(seq) :] = 1
        n = len(resp)
        if n:
            targets[b, resp_len - n :] = torch.tensor(list(resp), dtype=torch.long)
            response_mask[b, resp_len - n :] = True
        if rows_allowed is not None:
            row = allowed[b] if allowed is not None else None
            rows_allowed.append([None] * (resp_len - n) + list(row if row is not None else [None] * n))
    batch = TokenBatch(
        input_ids,
        attention_mask,
        position_ids_from_mask(attention_mask),
        targets,
        response_mask,
        rows_allowed,
        resp_len,
    )
    return batch if device is None else batch.to(device)


def response_logits(model: torch.nn.Module, batch: TokenBatch) -> torch.Tensor:
    """``(B, R, V)`` logits predicting each response token (position ``t`` predicts token ``t + 1``)."""
    logits = causal_lm_logits(model, batch.input_ids, batch.attention_mask, logits_to_keep=batch.response_length + 1)
    return logits[:, :-1, :].float()


def response_logprobs(
    model: torch.nn.Module, batch: TokenBatch, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs ``(B, R)`` of the response tokens under ``model`` and the entropy of that distribution.

    The distribution is the sampler's: temperature-scaled and, for constrained rows, restricted to the allowed
    tokens, so a freshly sampled turn has a PPO ratio of exactly 1.
    """
    logits = response_logits(model, batch)
    return sequence_logprobs(logits, batch.targets, batch.allowed, temperature=temperature, return_entropy=True)


def critic_values(critic: torch.nn.Module, batch: TokenBatch) -> torch.Tensor:
    """``(B, R, H)`` values: entry ``[b, j]`` is read from the hidden state just before response token ``j``."""
    values = critic(batch.input_ids, batch.attention_mask)
    r = batch.response_length
    return values[:, -r - 1 : -1, :].float()
