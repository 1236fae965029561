"""The supervised loop both warm starts share: shuffled minibatches, one clipped optimizer step each.

The LLM's SFT (``llm/sft.py``: cross-entropy of the expert's responses) and the scorer's behaviour cloning
(``scorer/imitation.py``: log-likelihood of the expert's choices) differ only in their examples and their loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

__all__ = ["supervised_loop"]


def supervised_loop(
    params: Sequence[torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[np.ndarray], torch.Tensor],
    num_examples: int,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    max_grad_norm: float = 1.0,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """``epochs`` shuffled passes over ``num_examples`` examples; returns the loss of every optimizer step.

    Args:
        params: the parameters ``optimizer`` updates (their gradient norm is clipped to ``max_grad_norm``).
        optimizer: the optimizer over ``params``.
        loss_fn: the loss of a minibatch, given the indices of its examples.
        num_examples: how many examples there are.
        epochs: passes over the examples.
        batch_size: examples per optimizer step.
        seed: seeds the order of every pass.
        max_grad_norm: gradient clipping by global norm.
        on_step: called as ``on_step(step, loss)`` after every optimizer step (progress display).
    """
    rng = np.random.default_rng(seed)
    losses: list[float] = []
    for _ in range(epochs):
        order = rng.permutation(num_examples)
        for start in range(0, len(order), batch_size):
            loss = loss_fn(order[start : start + batch_size])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            losses.append(loss.item())
            if on_step is not None:
                on_step(len(losses), losses[-1])
    return losses
