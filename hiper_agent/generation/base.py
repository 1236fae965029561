"""What every generation backend returns, and the sampling distribution shared by the sampler and the trainer.

PPO's ratio ``exp(logp_new - logp_old)`` is only 1 before the first update if both log-probs come from the same
distribution. The sampler and :func:`sequence_logprobs` therefore build it with one function,
:func:`sampling_logprobs`: logits restricted to the allowed tokens (constrained decoding), divided by the temperature,
optionally cut to the top-p nucleus, renormalised.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch

if TYPE_CHECKING:
    from hiper_agent.generation.constraints import FormatConstraint

__all__ = [
    "GenerationBackend",
    "MaskCache",
    "Sample",
    "allowed_mask",
    "base_model",
    "check_sampling",
    "sampling_logprobs",
    "sequence_logprobs",
    "token_char_ends",
    "token_offsets",
]

#: Per response position: the token ids the sampler allowed, or ``None`` where the whole vocabulary was allowed.
AllowedIds = list[int] | None
FinishReason = Literal["stop", "length"]


@dataclass
class Sample:
    """One generated response.

    Attributes:
        prompt_ids: the prompt's token ids, unpadded.
        response_ids: the generated token ids (a final EOS included when one was generated).
        text: the decoded response; protocol tags are kept, special tokens (EOS) are dropped.
        logprobs: per response token, its log-probability under the distribution it was sampled from
            (allowed-token restriction, temperature and top-p applied; also when decoding greedily).
        allowed: per response position, the allowed token ids when the row was constrained (``None`` entries
            for free positions); ``None`` for an unconstrained row. Positions that allow the same set share one
            list object, so keep it in memory rather than copying it.
        finish_reason: ``"stop"`` (EOS, a stop string, or the constrained format completed) or ``"length"``.
    """

    prompt_ids: list[int]
    response_ids: list[int]
    text: str
    logprobs: list[float]
    allowed: list[AllowedIds] | None
    finish_reason: FinishReason


class GenerationBackend(abc.ABC):
    """Turns prompts into :class:`Sample` s. Backends must be seedable: one ``torch.Generator`` state, one result.

    The constructor holds what every backend shares (the live model and tokenizer, the sampling settings, the
    vocabulary index of constrained decoding); each backend adds its own engine.

    Args:
        lm: the model and tokenizer (``model``, ``tokenizer``); the backend reads (or is fed) the live weights.
        max_new_tokens: longest free response; a constrained response gets the tokens its format needs.
        temperature: sampling temperature (> 0).
        top_p: nucleus sampling; keep 1 for PPO (see :func:`sampling_logprobs`).
        stop_strings: unconstrained rows stop once their text holds one of these (and at EOS).
        max_prompt_tokens: keep only the last this-many prompt tokens (``None``: keep all).
    """

    def __init__(
        self,
        lm: Any,
        *,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        stop_strings: Sequence[str],
        max_prompt_tokens: int | None,
    ) -> None:
        from hiper_agent.generation.constraints import VocabIndex

        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        check_sampling(temperature, top_p)
        self.model = lm.model
        self.tokenizer = lm.tokenizer
        self.max_new_tokens = max_new_tokens
        self.temperature, self.top_p = temperature, top_p
        self.stop_strings = tuple(stop_strings)
        self.max_prompt_tokens = max_prompt_tokens
        self.vocab = VocabIndex(self.tokenizer, getattr(base_model(self.model).config, "vocab_size", None))

    @abc.abstractmethod
    def generate(
        self,
        prompts: Sequence[str],
        *,
        constraints: Sequence[FormatConstraint | None] | None = None,
        generator: torch.Generator | None = None,
        greedy: bool = False,
    ) -> list[Sample]:
        """Generates one response per prompt.

        Args:
            prompts: the prompts, already formatted (chat template applied if the model needs one).
            constraints: per prompt, a :class:`~hiper_agent.generation.constraints.FormatConstraint` or ``None``.
            generator: the RNG for sampling; the same state gives the same samples.
            greedy: take the most likely allowed token instead of sampling.
        """


def check_sampling(temperature: float, top_p: float) -> None:
    """Raises ``ValueError`` unless ``temperature > 0`` and ``0 < top_p <= 1``."""
    if temperature <= 0 or not 0 < top_p <= 1:
        raise ValueError(f"need temperature > 0 and 0 < top_p <= 1, got {temperature}, {top_p}")


def base_model(model: Any) -> Any:
    """The model under a PEFT (LoRA) wrapper, or the model itself."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def sampling_logprobs(
    logits: torch.Tensor, mask: torch.Tensor | None = None, *, temperature: float = 1.0, top_p: float = 1.0
) -> torch.Tensor:
    """Log-probabilities of the sampling distribution over the vocabulary.

    Args:
        logits: ``(..., V)`` raw logits (any float dtype; computed in float32).
        mask: ``(..., V)`` bool, ``True`` for allowed tokens; ``None`` allows all. Each row needs one ``True``.
        temperature: divides the logits (> 0).
        top_p: nucleus size; 1 keeps every token. Below 1 the kept set is recomputed from ``logits``, so after a
            policy update a previously sampled token can fall outside it (log-prob ``-inf``): train with 1.

    Returns:
        ``(..., V)`` float32 log-probabilities, ``-inf`` outside the support.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature} (use greedy decoding for argmax)")
    scores = logits.float()
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    logp = torch.log_softmax(scores / temperature, dim=-1)
    if top_p < 1.0:
        sorted_logp, order = torch.sort(logp, dim=-1, descending=True, stable=True)
        sorted_p = sorted_logp.exp()
        # drop a token when the tokens ranked above it already reach top_p (the top token always stays)
        drop_sorted = (sorted_p.cumsum(-1) - sorted_p) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logp = torch.log_softmax(logp.masked_fill(drop, float("-inf")), dim=-1)
    return logp


class MaskCache:
    """Bool vocabulary masks for allowed-id lists, built once per distinct list object (lists are shared)."""

    def __init__(self, vocab_size: int, device: torch.device) -> None:
        self.vocab_size, self.device = vocab_size, device
        self._masks: dict[int, tuple[list[int], torch.Tensor]] = {}

    def get(self, ids: list[int]) -> torch.Tensor:
        """The ``(V,)`` mask with ``True`` at ``ids``."""
        hit = self._masks.get(id(ids))
        if hit is not None and hit[0] is ids:
            return hit[1]
        mask = torch.zeros(self.vocab_size, dtype=torch.bool, device=self.device)
        mask[torch.as_tensor(ids, dtype=torch.long, device=self.device)] = True
        self._masks[id(ids)] = (ids, mask)  # keeping `ids` alive keeps its id() unique
        return mask


def allowed_mask(
    allowed: Sequence[Sequence[AllowedIds] | None] | None,
    shape: tuple[int, int, int],
    *,
    offset: int | Sequence[int] = 0,
    device: torch.device | str = "cpu",
) -> torch.Tensor | None:
    """The ``(B, T, V)`` bool mask of allowed tokens, or ``None`` when nothing is constrained.

    Args:
        allowed: per row, per position, allowed ids or ``None`` (as in :attr:`Sample.allowed`); a ``None`` row is
            free everywhere. Positions past a row's list are free.
        shape: ``(B, T, V)``.
        offset: the column of ``allowed[b][0]`` (one int for all rows or one per row), e.g. the response start
            when the logits cover prompt + response.
        device: where to build the mask.
    """
    if allowed is None or all(row is None for row in allowed):
        return None
    batch, length, vocab = shape
    if len(allowed) != batch:
        raise ValueError(f"allowed has {len(allowed)} rows for a batch of {batch}")
    offsets = [offset] * batch if isinstance(offset, int) else list(offset)
    mask = torch.ones(shape, dtype=torch.bool, device=device)
    cache = MaskCache(vocab, mask.device)
    for b, row in enumerate(allowed):
        if row is None:
            continue
        for i, ids in enumerate(row):
            t = offsets[b] + i
            if ids is not None and 0 <= t < length:
                mask[b, t] = cache.get(ids)
    return mask


def sequence_logprobs(
    logits: torch.Tensor,
    target_ids: torch.Tensor,
    allowed: Sequence[Sequence[AllowedIds] | None] | None = None,
    temperature: float = 1.0,
    *,
    top_p: float = 1.0,
    offset: int | Sequence[int] = 0,
    return_entropy: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Log-probs of ``target_ids`` under the distribution the sampler drew them from (differentiable).

    Args:
        logits: ``(B, T, V)``; ``logits[:, t]`` is the distribution of ``target_ids[:, t]`` (shift the model's
            output by one first).
        target_ids: ``(B, T)`` token ids.
        allowed: :attr:`Sample.allowed` per row (see :func:`allowed_mask`); ``None`` for unconstrained sampling.
        temperature: the sampler's temperature.
        top_p: the sampler's top-p (see :func:`sampling_logprobs` for why training should keep 1).
        offset: the column of ``allowed[b][0]`` in ``logits`` (see :func:`allowed_mask`).
        return_entropy: also return the ``(B, T)`` entropy of that distribution (for an entropy bonus).

    Returns:
        ``(B, T)`` float32 log-probs (``-inf`` for a target the distribution excludes), and the entropy if asked.
    """
    if logits.dim() != 3 or target_ids.shape != logits.shape[:2]:
        raise ValueError(f"expected logits (B, T, V) and target_ids (B, T), got {logits.shape}, {target_ids.shape}")
    mask = allowed_mask(allowed, tuple(logits.shape), offset=offset, device=logits.device)
    logp = sampling_logprobs(logits, mask, temperature=temperature, top_p=top_p)
    chosen = logp.gather(-1, target_ids.long().unsqueeze(-1)).squeeze(-1)
    if not return_entropy:
        return chosen
    probs = logp.exp()
    entropy = -(probs * logp.masked_fill(probs == 0, 0.0)).sum(-1)  # 0 * -inf is nan; excluded tokens add 0
    return chosen, entropy


def token_char_ends(tokenizer: Any, ids: Sequence[int]) -> list[int]:
    """For each token, the character offset where its text ends in ``decode(ids)``.

    Works for any tokenizer (byte-level pieces that only decode in pairs simply share an end), and agrees with
    how the response text was produced, unlike re-tokenizing the text.
    """
    ends, previous = [], 0
    for j in range(len(ids)):
        previous = max(previous, len(tokenizer.decode(ids[: j + 1], skip_special_tokens=False)))
        ends.append(previous)
    return ends


def token_offsets(tokenizer: Any, ids: Sequence[int]) -> list[tuple[int, int]]:
    """Per-token ``(start, end)`` character offsets in ``decode(ids)``."""
    ends = token_char_ends(tokenizer, ids)
    return list(zip([0, *ends[:-1]], ends, strict=True))
