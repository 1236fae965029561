"""The LLM policy: one language model writes ``<switch>``, ``<subgoal>`` and ``<action>`` each step.

Its decision units are the response tokens; ``TokenMasks`` say which tokens belong to which block, so HAE's three
advantages land on the tokens that expressed each decision. The critic (value heads low / high / switch on a
separate backbone, or on the policy's own) reads its values at HiPER's token positions after the rollout, in one
batched pass (``compute_values``). Paper: HiPER, https://arxiv.org/abs/2602.16165.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hiper_agent.credit.masks import char_spans_to_token_masks
from hiper_agent.generation.base import token_offsets
from hiper_agent.models.critic import value_positions
from hiper_agent.policies.base import Policy
from hiper_agent.policies.llm.batch import collate, critic_values, response_logprobs
from hiper_agent.policies.prompts import PromptBuilder
from hiper_agent.protocol import parse_response
from hiper_agent.types import HEADS, ActionEvaluation, Decision, HistoryEntry

if TYPE_CHECKING:
    from hiper_agent.types import Turn

__all__ = ["LLMPolicy", "frozen_copy"]


class LLMPolicy(Policy):
    """A causal LM that writes HiPER's three blocks, with an optional critic and KL reference.

    Args:
        lm: the loaded model (``hiper_agent.models.load_model``).
        prompts: the prompt builder (bound to the model's tokenizer here).
        max_new_tokens: cap on free-text response tokens per step.
        max_prompt_tokens: prompts longer than this are cut from the left.
        temperature: training sampling temperature; ``top_p``: its nucleus mass.
        constrained: force the format and an admissible action while decoding.
        keep_subgoal: with ``constrained``, a KEEP repeats the current subgoal verbatim.
        critic: value-head critic (``hiper_agent.models.build_critic``), or None for critic-free estimators.
        generation_backend: ``"hf"`` (:class:`~hiper_agent.generation.HFGenerator`) or ``"vllm"``
            (:class:`~hiper_agent.generation.vllm.VLLMGenerator`, one engine for every temperature).
    """

    family = "llm"
    hierarchical = True

    def __init__(
        self,
        lm: Any,
        prompts: PromptBuilder,
        *,
        max_new_tokens: int = 64,
        max_prompt_tokens: int | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        constrained: bool = False,
        keep_subgoal: bool = False,
        critic: torch.nn.Module | None = None,
        generation_backend: str = "hf",
    ) -> None:
        self.lm, self.model, self.tokenizer = lm, lm.model, lm.tokenizer
        self.prompts = prompts.bind(self.tokenizer)
        self.max_new_tokens, self.max_prompt_tokens = max_new_tokens, max_prompt_tokens
        self.temperature, self.top_p = temperature, top_p
        self.constrained, self.keep_subgoal = constrained, keep_subgoal
        self.critic = critic
        self.reference: torch.nn.Module | None = None
        self._generators: dict[tuple[float, float], Any] = {}
        self.generation_backend = generation_backend
        self.device = next(self.model.parameters()).device

    # ------------------------------------------------------------------ acting
    def _generator(self, temperature: float, top_p: float) -> Any:
        from hiper_agent.generation import HFGenerator

        key = (temperature, top_p)
        if key not in self._generators and self.generation_backend == "vllm":
            # one engine for every temperature: the first generator builds it, the others are views of it
            if self._generators:
                self._generators[key] = next(iter(self._generators.values())).with_sampling(temperature, top_p)
            else:
                from hiper_agent.generation.vllm import VLLMGenerator

                self._generators[key] = VLLMGenerator(
                    self.lm,
                    max_new_tokens=self.max_new_tokens,
                    temperature=temperature,
                    top_p=top_p,
                    max_prompt_tokens=self.max_prompt_tokens,
                )
        if key not in self._generators:
            self._generators[key] = HFGenerator(
                self.lm,
                max_new_tokens=self.max_new_tokens,
                temperature=temperature,
                top_p=top_p,
                max_prompt_tokens=self.max_prompt_tokens,
            )
        return self._generators[key]

    def act(
        self,
        observations: Sequence[str],
        infos: Sequence[dict[str, Any]],
        histories: Sequence[Sequence[HistoryEntry]],
        *,
        rng: torch.Generator | None = None,
        greedy: bool = False,
        temperature: float | None = None,
    ) -> list[Decision]:
        """Writes one response per env (batched generation); see `Policy.act`."""
        from hiper_agent.generation import FormatConstraint

        prompts = [
            self.prompts.build(o, i, h, i.get("subgoal"))
            for o, i, h in zip(observations, infos, histories, strict=True)
        ]
        constraints = None
        if self.constrained:
            # an env with no admissible command left cannot be constrained: let the model write freely
            constraints = [
                FormatConstraint(
                    list(i["admissible_commands"]), keep_subgoal=i.get("subgoal") if self.keep_subgoal else None
                )
                if i["admissible_commands"]
                else None
                for i in infos
            ]
        generator = (
            self._generator(self.temperature, self.top_p) if temperature is None else self._generator(temperature, 1.0)
        )
        samples = generator.generate(prompts, constraints=constraints, generator=rng, greedy=greedy)
        decisions = []
        for sample, history in zip(samples, histories, strict=True):
            parsed = parse_response(sample.text, first_step=len(history) == 0)
            offsets = token_offsets(self.tokenizer, sample.response_ids)
            decisions.append(
                Decision(
                    action=sample.text,
                    logprobs=np.asarray(sample.logprobs, dtype=np.float32),
                    masks=char_spans_to_token_masks(offsets, parsed.spans),
                    written_subgoal=parsed.subgoal,
                    format_error=not parsed.is_valid,
                    action_text=parsed.action,
                    extra={
                        "prompt_ids": list(sample.prompt_ids),
                        "response_ids": list(sample.response_ids),
                        "allowed": sample.allowed,
                        "text": sample.text,
                        "value_pos": value_positions(sample.text, offsets) if offsets else (0, 0, 0),
                    },
                )
            )
        return decisions

    @torch.no_grad()
    def last_values(
        self,
        observations: Sequence[str],
        infos: Sequence[dict[str, Any]],
        histories: Sequence[Sequence[HistoryEntry]],
    ) -> np.ndarray:
        """The heads at the prompt's last token (where the high and switch heads read before any response)."""
        assert self.critic is not None, "last_values needs a critic"
        self.critic.eval()
        prompts = [
            self.prompts.build(o, i, h, i.get("subgoal"))
            for o, i, h in zip(observations, infos, histories, strict=True)
        ]
        prompt_ids = self.tokenizer(prompts, add_special_tokens=True)["input_ids"]
        if self.max_prompt_tokens is not None:
            prompt_ids = [ids[-self.max_prompt_tokens :] for ids in prompt_ids]
        # one placeholder response token: the value at response position 0 is read from the last prompt token
        batch = collate(
            prompt_ids, [[self.tokenizer.pad_token_id]] * len(prompts), self.tokenizer.pad_token_id, device=self.device
        )
        return critic_values(self.critic, batch)[:, 0, :].cpu().numpy()

    @property
    def has_critic(self) -> bool:
        """Whether a critic was built (hae, gae)."""
        return self.critic is not None

    @torch.no_grad()
    def compute_values(self, turns: Sequence[Turn]) -> None:
        """The critic's values at HiPER's token positions, batched over turns of similar length."""
        assert self.critic is not None, "compute_values needs a critic"
        self.critic.eval()
        for chunk in self.chunks(turns, range(len(turns)), self.micro_batch_size):
            rows = [turns[i] for i in chunk]
            batch = self._collate(rows)
            values = critic_values(self.critic, batch)
            r = batch.response_length
            for b, turn in enumerate(rows):
                n = len(turn.decision.extra["response_ids"])
                col = {h: r - n + pos for h, pos in _value_pos(turn).items()}
                turn.values = tuple(float(values[b, col[h], HEADS[h]]) for h in ("low", "high", "switch"))

    # ------------------------------------------------------------------ learning
    def evaluate_actions(self, turns: Sequence[Turn], *, with_values: bool = True) -> ActionEvaluation:
        """Response-token log-probs and entropies under the sampler's distribution, and the heads' values."""
        batch = self._collate(turns)
        logprobs, entropy = response_logprobs(self.model, batch, temperature=self.temperature)
        values = None
        if with_values and self.critic is not None:
            self.critic.train()
            all_values = critic_values(self.critic, batch)
            r = batch.response_length
            rows = torch.arange(len(turns), device=all_values.device)
            cols = torch.tensor(
                [[r - len(t.decision.extra["response_ids"]) + _value_pos(t)[h] for h in HEADS] for t in turns],
                device=all_values.device,
            )
            values = torch.stack([all_values[rows, cols[:, k], k] for k in range(len(HEADS))], dim=1)
        return ActionEvaluation(logprobs, entropy, batch.response_mask, values)

    @torch.no_grad()
    def reference_logprobs(self, turns: Sequence[Turn]) -> list[np.ndarray] | None:
        """Per-turn token log-probs under the frozen reference (the model as it was before PPO)."""
        if self.reference is None:
            return None
        out: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(turns)
        for chunk in self.chunks(turns, range(len(turns)), self.micro_batch_size):
            batch = self._collate([turns[i] for i in chunk])
            logprobs, _ = response_logprobs(self.reference, batch, temperature=self.temperature)
            r = batch.response_length
            for b, i in enumerate(chunk):
                out[i] = logprobs[b, r - len(turns[i].decision.extra["response_ids"]) :].cpu().numpy()
        return out

    def freeze_reference(self) -> None:
        """Keep a frozen copy of the model as the KL reference."""
        self.reference = frozen_copy(self.model)

    #: Turns per forward pass in `compute_values` / `reference_logprobs` (the trainer sets it from the config).
    micro_batch_size: int = 8
    #: Rebuild the critic from the warm-started model after SFT (a separate critic of the policy's architecture).
    rebuild_critic: bool = False

    def cost(self, turn: Turn) -> int:
        """Prompt + response tokens: a batch pads to its longest sequence, so similar lengths go together."""
        return len(turn.decision.extra["prompt_ids"]) + len(turn.decision.extra["response_ids"])

    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        """The model's parameters, and the critic's that are not the model's (a shared backbone is the model's)."""
        policy = list(self.model.parameters())
        ids = {id(p) for p in policy}
        critic = [p for p in self.critic.parameters() if id(p) not in ids] if self.critic is not None else []
        return {"policy": policy, "critic": critic}

    def train(self, mode: bool = True) -> LLMPolicy:
        """Training mode of the model (the critic switches itself around its own passes)."""
        self.model.train(mode)
        return self

    # ------------------------------------------------------------------ warm start, checkpoints
    def warm_start(
        self, demos: Sequence[list[dict[str, Any]]], config: Any, on_step: Callable[[int, float], None] | None = None
    ) -> list[float]:
        """SFT on the expert's three-block responses, with the prompts this policy will see."""
        from hiper_agent.policies.llm.sft import build_sft_examples, sft_train
        from hiper_agent.seeding import iteration_seed

        examples = build_sft_examples(demos, self.prompts)
        losses = sft_train(
            self.model,
            self.tokenizer,
            examples,
            epochs=config.sft.sft_epochs,
            lr=config.sft.sft_lr,
            batch_size=config.sft.sft_batch_size,
            seed=iteration_seed(config.run.seed, 0, "sft-train"),
            on_step=on_step,
        )
        if self.rebuild_critic:
            from hiper_agent.models import build_critic

            # a copy of the warm-started backbone knows the task: a better start than the untrained one
            self.critic = build_critic(self.lm, seed=config.run.seed).to(self.device)
        return losses

    def state_dict(self) -> dict[str, Any]:
        """Model, critic and reference weights."""
        state: dict[str, Any] = {"model": self.model.state_dict()}
        if self.critic is not None:
            state["critic"] = self.critic.state_dict()
        if self.reference is not None:
            state["reference"] = self.reference.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()`."""
        self.model.load_state_dict(state["model"])
        if self.critic is not None:
            self.critic.load_state_dict(state["critic"])
        if "reference" in state:
            self.reference = frozen_copy(self.model)
            self.reference.load_state_dict(state["reference"])

    def save(self, folder: str | Path) -> None:
        """The model (HF format: ``--model <folder>`` continues from it) and the prompts it learned on."""
        folder = Path(folder)
        self.lm.save_pretrained(folder)
        prompts = {
            "prompt_style": self.prompts.style,
            "history_length": self.prompts.history_length,
            "action_memory": self.prompts.action_memory,
        }
        (folder / "hiper.json").write_text(json.dumps({**prompts, "source": self.lm.source}))
        (folder / "policy.json").write_text(json.dumps({"family": self.family, "constrained": self.constrained}))

    def _collate(self, turns: Sequence[Turn]) -> Any:
        """The turns as a left-padded token batch on the model's device."""
        extras = [t.decision.extra for t in turns]
        return collate(
            [e["prompt_ids"] for e in extras],
            [e["response_ids"] for e in extras],
            self.tokenizer.pad_token_id,
            [e["allowed"] for e in extras],
            device=self.device,
        )


def _value_pos(turn: Turn) -> dict[str, int]:
    """Where each head's value is read in the turn's response (HiPER's positions, see ``value_positions``)."""
    high, low, switch = turn.decision.extra["value_pos"]
    return {"low": low, "high": high, "switch": switch}


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` in eval mode with gradients off (the KL reference)."""
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref
