"""Running a decoder on left-padded batches: position ids that ignore padding, and a logits forward that uses them.

Hugging Face causal LMs number positions ``0..T-1`` whatever the attention mask says, so a left-padded row would
see its first real token at position 3 instead of 0 and give different logits than the same row unpadded.
Sampling, the critic and the trainer all go through :func:`position_ids_from_mask` so that their numbers agree.
"""

from __future__ import annotations

from typing import Any

__all__ = ["causal_lm_logits", "position_ids_from_mask"]


def position_ids_from_mask(attention_mask: Any) -> Any:
    """Position of each token among its row's real tokens: ``cumsum(mask) - 1``, with padding clamped to 0.

    Args:
        attention_mask: ``(B, T)`` tensor, 1 for real tokens and 0 for padding (on either side).

    Returns:
        ``(B, T)`` long tensor.
    """
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def causal_lm_logits(model: Any, input_ids: Any, attention_mask: Any | None = None, **kwargs: Any) -> Any:
    """``model(...).logits`` with padding-aware position ids; ``logits[:, t]`` predicts ``input_ids[:, t + 1]``.

    Args:
        model: a causal LM (plain or ``peft``-wrapped).
        input_ids: ``(B, T)`` token ids.
        attention_mask: ``(B, T)``; ``None`` means no padding.
        **kwargs: passed to the model (e.g. ``logits_to_keep``).

    Returns:
        ``(B, T, V)`` logits in the model's dtype.
    """
    import torch

    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids_from_mask(attention_mask),
        use_cache=False,
        **kwargs,
    )
    return out.logits
