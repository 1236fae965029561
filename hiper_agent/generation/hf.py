"""Batched sampling from a Hugging Face causal LM with a KV cache, per-row constraints and exact log-probs.

Written as an explicit loop over decoding steps rather than ``model.generate`` so that everything PPO needs is in
plain sight: the per-row allowed-token masks, the log-prob of each sampled token under the very distribution it was
drawn from (:func:`~hiper_agent.generation.base.sampling_logprobs`), stop strings, and seeding.

Seeding: the uniform numbers that pick each token are drawn up front from the caller's ``torch.Generator``, one row
of ``max_new_tokens`` per prompt, and tokens are picked by inverse CDF. A prompt's sample therefore depends only
on the generator state and its own logits, not on ``batch_size`` or on which prompts share its batch (up to float
noise from padding).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch

from hiper_agent.generation.base import (
    FinishReason,
    GenerationBackend,
    MaskCache,
    Sample,
    base_model,
    sampling_logprobs,
)
from hiper_agent.generation.constraints import CompiledConstraint, ConstraintState, FormatConstraint
from hiper_agent.models.forward import position_ids_from_mask
from hiper_agent.protocol import close_tag

__all__ = ["HFGenerator"]


class HFGenerator(GenerationBackend):
    """Samples responses from a :class:`~hiper_agent.models.LoadedModel` (or anything with ``model``/``tokenizer``).

    Args:
        lm: the model and tokenizer. The generator reads the live model, so it follows training updates.
        max_new_tokens: longest response. It bounds free text: a constrained response whose format needs more
            (an unusually long admissible command) gets the tokens it needs, so a run never stops on one state.
        temperature: sampling temperature (> 0); greedy decoding ignores it for the choice but not for the
            reported log-probs.
        top_p: nucleus sampling; keep 1 for PPO (see :func:`~hiper_agent.generation.base.sampling_logprobs`).
        batch_size: prompts per forward pass.
        stop_strings: unconstrained rows stop once their text contains one of these (and at EOS).
        max_prompt_tokens: keep only the last this-many prompt tokens (``None``: keep all).

    Example:
        >>> gen = HFGenerator(load_model("tiny"), max_new_tokens=48)  # doctest: +SKIP
        >>> [s] = gen.generate(["..."], constraints=[FormatConstraint(["look", "go to desk 1"])],
        ...                    generator=torch.Generator().manual_seed(0))  # doctest: +SKIP
    """

    def __init__(
        self,
        lm: Any,
        *,
        max_new_tokens: int = 48,
        temperature: float = 1.0,
        top_p: float = 1.0,
        batch_size: int = 16,
        stop_strings: Sequence[str] = (close_tag("action"),),
        max_prompt_tokens: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__(
            lm,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            stop_strings=stop_strings,
            max_prompt_tokens=max_prompt_tokens,
        )
        self.batch_size = batch_size
        # a sampled token can only complete a stop string if its text holds the stop string's last character
        self._stop_tokens = {
            i for i, piece in enumerate(self.vocab.pieces) if any(s[-1] in piece for s in self.stop_strings)
        }
        self._stop_lookback = max((len(s) for s in self.stop_strings), default=0) + 2

    def _base_model(self) -> Any:
        return base_model(self.model)

    def _config(self) -> Any:
        return self._base_model().config

    @property
    def _cache_kwarg(self) -> str:
        # transformers >= 5.2x renamed `past_key_values` to `cache` (the old name warns, then goes away in 5.40)
        params = inspect.signature(self._base_model().forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self._config())
        except TypeError:  # transformers 4.x takes no config
            return DynamicCache()

    def compile(self, constraint: FormatConstraint) -> CompiledConstraint:
        """The constraint's token program for this tokenizer."""
        return CompiledConstraint(constraint, self.vocab)

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[str],
        *,
        constraints: Sequence[FormatConstraint | None] | None = None,
        generator: torch.Generator | None = None,
        greedy: bool = False,
    ) -> list[Sample]:
        """Generates one response per prompt (see :meth:`GenerationBackend.generate`).

        Raises:
            ValueError: ``constraints`` of the wrong length.
        """
        if isinstance(prompts, str) or any(not isinstance(p, str) for p in prompts):
            raise TypeError("prompts must be a list of strings")
        prompts = list(prompts)
        if constraints is None:
            constraints = [None] * len(prompts)
        if len(constraints) != len(prompts):
            raise ValueError(f"got {len(constraints)} constraints for {len(prompts)} prompts")
        compiled = [self.compile(c) if c is not None else None for c in constraints]
        budget = max([self.max_new_tokens] + [c.required_tokens for c in compiled if c is not None])
        if not prompts:
            return []
        prompt_ids = self.tokenizer(prompts, add_special_tokens=True)["input_ids"]
        if self.max_prompt_tokens is not None:
            prompt_ids = [ids[-self.max_prompt_tokens :] for ids in prompt_ids]
        # an empty prompt would leave its row nothing to attend to: start it with BOS (EOS if there is none)
        start = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.vocab.eos_id
        prompt_ids = [ids or [start] for ids in prompt_ids]
        # one row of uniforms per prompt, drawn before any batching: samples do not depend on batch_size
        # (greedy decoding draws nothing, so it leaves the generator, or the global RNG, untouched)
        shape = (len(prompts), budget)
        device = generator.device if generator is not None else "cpu"
        uniforms = (
            torch.zeros(shape, dtype=torch.float64)
            if greedy
            else torch.rand(shape, generator=generator, dtype=torch.float64, device=device)
        )
        was_training = self.model.training
        self.model.eval()
        try:
            samples: list[Sample] = []
            for lo in range(0, len(prompts), self.batch_size):
                hi = min(lo + self.batch_size, len(prompts))
                samples += self._generate_batch(prompt_ids[lo:hi], compiled[lo:hi], uniforms[lo:hi], greedy, budget)
        finally:
            self.model.train(was_training)
        return samples

    def _generate_batch(
        self,
        prompt_ids: list[list[int]],
        compiled: list[CompiledConstraint | None],
        uniforms: torch.Tensor,
        greedy: bool,
        budget: int,
    ) -> list[Sample]:
        device = next(self.model.parameters()).device
        batch = len(prompt_ids)
        width = max(len(ids) for ids in prompt_ids)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((batch, width), pad, dtype=torch.long)
        attention = torch.zeros((batch, width), dtype=torch.long)
        for b, ids in enumerate(prompt_ids):
            if ids:
                input_ids[b, width - len(ids) :] = torch.tensor(ids)
                attention[b, width - len(ids) :] = 1
        input_ids, attention = input_ids.to(device), attention.to(device)
        positions = position_ids_from_mask(attention)

        states: list[ConstraintState | None] = [c.start() if c is not None else None for c in compiled]
        responses: list[list[int]] = [[] for _ in range(batch)]
        logprobs: list[list[float]] = [[] for _ in range(batch)]
        allowed: list[list[list[int] | None] | None] = [[] if s is not None else None for s in states]
        finish: list[FinishReason | None] = [None] * batch
        masks: MaskCache | None = None

        cache = self._new_cache()
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{self._cache_kwarg: cache},
        )
        for step in range(budget):
            logits = out.logits[:, -1, :]
            vocab = logits.shape[-1]
            mask = None
            if any(s is not None for s in states):
                mask = torch.ones((batch, vocab), dtype=torch.bool, device=device)
                masks = masks if masks is not None else MaskCache(vocab, device)
                for b, state in enumerate(states):
                    if state is not None and finish[b] is None:
                        ids = state.allowed(budget - step)
                        mask[b] = masks.get(ids)
                        allowed[b].append(ids)
            logp = sampling_logprobs(logits, mask, temperature=self.temperature, top_p=self.top_p)
            if greedy:
                tokens = logp.argmax(-1)
            else:
                cdf = logp.double().exp().cumsum(-1)
                target = uniforms[:, step].to(device) * cdf[:, -1]
                tokens = torch.searchsorted(cdf, target.unsqueeze(-1), right=True).squeeze(-1).clamp_(max=vocab - 1)
            chosen = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1).tolist()
            token_list = tokens.tolist()
            for b in range(batch):
                if finish[b] is not None:
                    continue
                token = token_list[b]
                responses[b].append(token)
                logprobs[b].append(chosen[b])
                state = states[b]
                if state is not None:
                    state.advance(token)
                    if state.done:
                        finish[b] = "stop"
                elif token == self.vocab.eos_id or self._hit_stop_string(responses[b], token):
                    finish[b] = "stop"
            if all(f is not None for f in finish) or step == budget - 1:
                break
            # finished rows keep decoding padding (ignored) so the batch stays rectangular for the cache
            next_ids = torch.tensor(
                [t if f is None else pad for t, f in zip(token_list, finish, strict=True)], device=device
            )
            attention = torch.cat([attention, torch.ones((batch, 1), dtype=attention.dtype, device=device)], 1)
            positions = positions[:, -1:] + 1
            out = self.model(
                input_ids=next_ids.unsqueeze(-1),
                attention_mask=attention,
                position_ids=positions,
                use_cache=True,
                **{self._cache_kwarg: cache},  # the cache object is updated in place
            )
        return [
            Sample(
                prompt_ids=list(prompt_ids[b]),
                response_ids=responses[b],
                text=self.tokenizer.decode(responses[b], skip_special_tokens=True),
                logprobs=logprobs[b],
                allowed=allowed[b],
                finish_reason=finish[b] or "length",
            )
            for b in range(batch)
        ]

    def _hit_stop_string(self, response: list[int], token: int) -> bool:
        if token not in self._stop_tokens:
            return False
        tail = self.tokenizer.decode(response[-self._stop_lookback :], skip_special_tokens=False)
        return any(s in tail for s in self.stop_strings)
