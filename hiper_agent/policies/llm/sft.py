"""SFT warm start: imitate the env's expert, three blocks per step, with the expert's subgoal segments.

The demonstrations (``hiper_agent.rollout.expert.expert_episodes``) come through the option protocol alone, so the
same code serves every env that has an expert. Each demonstration step becomes one (prompt, response) pair built
with the very :class:`~hiper_agent.policies.prompts.PromptBuilder` the policy uses during RL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hiper_agent.policies.llm.batch import collate, response_logits
from hiper_agent.policies.prompts import PromptBuilder
from hiper_agent.policies.supervised import supervised_loop
from hiper_agent.types import HistoryEntry
from hiper_envs.options import format_response

__all__ = ["SFTExample", "build_sft_examples", "sft_train"]


@dataclass(frozen=True)
class SFTExample:
    """One supervised step: the prompt and the expert's three-block response."""

    prompt: str
    response: str


def build_sft_examples(episodes: Sequence[list[dict[str, Any]]], prompt_builder: PromptBuilder) -> list[SFTExample]:
    """Turn expert episodes into (prompt, response) pairs, with the history the policy would have seen."""
    examples = []
    for steps in episodes:
        history: list[HistoryEntry] = []
        current: str | None = None
        for step in steps:
            prompt = prompt_builder.build(step["observation"], step["info"], history, current)
            examples.append(SFTExample(prompt, format_response(step["switch"], step["subgoal"], step["action"])))
            history.append(HistoryEntry(step["observation"], step["action"]))
            current = step["subgoal"]
    return examples


def sft_train(
    model: torch.nn.Module,
    tokenizer: Any,
    examples: Sequence[SFTExample],
    *,
    epochs: int,
    lr: float,
    batch_size: int = 16,
    seed: int = 0,
    max_grad_norm: float = 1.0,
    on_step: Any = None,
) -> list[float]:
    """Cross-entropy on the response tokens (prompt tokens are context only). Returns the loss per step.

    ``on_step(step, loss)`` is called after every optimizer step (progress display).
    """
    if not examples:
        raise ValueError("sft_train got no examples: did the expert win any episode?")
    eos = tokenizer.eos_token_id
    prompts = [tokenizer(e.prompt, add_special_tokens=False)["input_ids"] for e in examples]
    responses = [tokenizer(e.response, add_special_tokens=False)["input_ids"] + [eos] for e in examples]
    device = next(model.parameters()).device

    def loss_fn(idx: np.ndarray) -> torch.Tensor:
        batch = collate([prompts[i] for i in idx], [responses[i] for i in idx], tokenizer.pad_token_id, device=device)
        logits = response_logits(model, batch)
        return torch.nn.functional.cross_entropy(logits[batch.response_mask], batch.targets[batch.response_mask])

    params = list(model.parameters())
    model.train()
    losses = supervised_loop(
        params,
        torch.optim.AdamW(params, lr=lr),
        loss_fn,
        len(examples),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        max_grad_norm=max_grad_norm,
        on_step=on_step,
    )
    model.eval()
    return losses
