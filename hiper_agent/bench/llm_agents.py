"""Language-model agents for `hiper-bench`: a local Hugging Face model (``hf:``) and any OpenAI-compatible server.

Both build their prompts with the project's `~hiper_agent.policies.prompts.PromptBuilder`, in one of two styles:

- ``hiper``: the three blocks of the option protocol (KEEP/SWITCH, subgoal, action); the raw reply goes to the
  env, which parses it leniently and tracks the options. A reply is a format error when it does not parse as the
  three blocks (`reply_format_errors`): the agent counts it, because the env cannot (to the env a reply without
  any tag is a bare command, which it executes if it names one).
- ``react``: a flat baseline: the model may think in ``<think>``, then writes one ``<action>``; the action alone
  goes to the env (one option per episode), and a reply without a well-formed ``<action>`` block is a format error.

Both stop generating at ``</action>`` (the last block of either style), so replies do not run to the token limit.

Decoding is greedy by default (``temperature=0``). With sampling, each episode draws from its own seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hiper_agent.bench.protocol import AgentStep, BenchAgent, EpisodeStart
from hiper_agent.errors import SetupError
from hiper_agent.policies.prompts import PromptBuilder, template_for_env
from hiper_agent.types import HistoryEntry
from hiper_envs.options import close_tag, parse_response

__all__ = ["Completion", "HFAgent", "LLMAgent", "reply_format_errors"]

_STYLES = {"hiper": "full", "react": "react"}
_DEFAULT_TOKENS = {"hiper": 64, "react": 256}
#: Where a reply ends: the closing tag of the last block of both styles.
STOP = close_tag("action")
#: The parser's deviations that break the react format (its blocks other than ``<action>`` are free).
_REACT_ERRORS = ("missing_action", "unclosed_action", "duplicate_action", "trailing_text", "not_text")


def reply_format_errors(style: str, reply: str) -> tuple[str, ...]:
    """How ``reply`` deviates from the format of ``style`` (empty when it parses cleanly).

    ``hiper``: every deviation `~hiper_envs.options.parse_response` finds (a tagless reply lacks all three
    blocks). ``react``: those about the ``<action>`` block and text after it.
    """
    errors = parse_response(reply).format_errors
    return errors if style == "hiper" else tuple(e for e in errors if e in _REACT_ERRORS)


@dataclass(frozen=True)
class Completion:
    """One reply of a model: its text and JSON-ready facts about it (latency, attempts, finish reason, ...)."""

    text: str
    meta: dict[str, Any] = field(default_factory=dict)


class LLMAgent(BenchAgent):
    """Prompting, histories and reply parsing shared by the LLM agents; subclasses implement `complete`."""

    batched = True

    def __init__(self, *, style: str = "hiper", temperature: float = 0.0, history_length: int = 2) -> None:
        if style not in _STYLES:
            raise SetupError(f"--agent-style must be one of {sorted(_STYLES)}, got {style!r}")
        if temperature < 0:
            raise SetupError(f"--temperature must be >= 0 (0 = greedy), got {temperature}")
        self.style, self.temperature, self.history_length = style, temperature, history_length
        self.builder = PromptBuilder(style=_STYLES[style], history_length=history_length)  # type: ignore[arg-type]
        self._histories: dict[int, list[HistoryEntry]] = {}
        self._seeds: dict[int, int] = {}
        self._texts: dict[int, str] = {}

    def setup(self, num_slots: int, env_id: str) -> None:
        """Pick the prompt wording of the env family."""
        self.builder.family = template_for_env(env_id)

    def begin(self, slot: int, start: EpisodeStart) -> None:
        """See `BenchAgent.begin`."""
        self._histories[slot] = []
        self._seeds[slot] = start.seed

    def complete(self, slots: Sequence[int], prompts: Sequence[str], infos: Sequence[dict[str, Any]]) -> list[Any]:
        """One reply per prompt: a `Completion`, its text alone, or the exception that fails that slot's episode."""
        raise NotImplementedError

    def act(
        self, slots: Sequence[int], observations: Sequence[str], infos: Sequence[dict[str, Any]]
    ) -> list[AgentStep | BaseException]:
        """See `BenchAgent.act`."""
        prompts = [
            self.builder.build(o, info, self._histories[s], info.get("subgoal"))
            for s, o, info in zip(slots, observations, infos, strict=True)
        ]
        replies = self.complete(slots, prompts, infos)
        out: list[AgentStep | BaseException] = []
        for slot, prompt, reply in zip(slots, prompts, replies, strict=True):
            if isinstance(reply, BaseException):
                out.append(reply)
                continue
            completion = reply if isinstance(reply, Completion) else Completion(str(reply))
            text = completion.text
            self._texts[slot] = text
            errors = reply_format_errors(self.style, text)
            if self.style == "hiper":
                action: Any = text  # the env parses it (leniently) and tracks the options
            else:
                parsed = parse_response(text).action
                action = parsed if parsed is not None else text.strip()
            out.append(AgentStep(action, bool(errors), errors, reply=text, prompt=prompt, meta=completion.meta))
        return out

    def observe(self, slot: int, observation: str, step: AgentStep, info: dict[str, Any]) -> None:
        """Append the step to the slot's history (the command the env executed, else what the agent wrote)."""
        written = parse_response(self._texts.get(slot, "")).action or ""
        self._histories[slot].append(HistoryEntry(observation, info.get("action") or written))

    def describe(self) -> dict[str, Any]:
        """See `BenchAgent.describe`."""
        return {"style": self.style, "temperature": self.temperature, "history_length": self.history_length}


class HFAgent(LLMAgent):
    """A causal LM loaded with `hiper_agent.models.load_model` (a local folder, a ``.gguf`` file or a hub id).

    Args:
        model: what ``load_model`` takes.
        style: ``"hiper"`` or ``"react"`` (module docstring).
        temperature: 0 for greedy decoding.
        max_new_tokens: response limit (default 64 for hiper, 256 for react).
        history_length: past steps shown in the prompt.
        device: torch device.
        dtype: parameter dtype.
        constrained: (hiper style) constrain decoding to the three blocks and the admissible commands.
    """

    def __init__(
        self,
        model: str,
        *,
        style: str = "hiper",
        temperature: float = 0.0,
        max_new_tokens: int | None = None,
        history_length: int = 2,
        device: str = "cpu",
        dtype: str = "float32",
        constrained: bool = False,
    ) -> None:
        super().__init__(style=style, temperature=temperature, history_length=history_length)
        if constrained and style != "hiper":
            raise SetupError("--constrained applies to --agent-style hiper only")
        from hiper_agent.generation import HFGenerator
        from hiper_agent.models import load_model

        self.model_name, self.constrained = model, constrained
        self.lm = load_model(model, device=device, dtype=dtype)
        self.max_new_tokens = max_new_tokens or _DEFAULT_TOKENS[style]
        self.generator = HFGenerator(
            self.lm, max_new_tokens=self.max_new_tokens, temperature=temperature if temperature > 0 else 1.0
        )
        self.builder.bind(self.lm.tokenizer)
        self._torch_rngs: dict[int, Any] = {}

    def setup(self, num_slots: int, env_id: str) -> None:
        """See `BenchAgent.setup`."""
        super().setup(num_slots, env_id)
        self.generator.batch_size = max(1, num_slots)

    def begin(self, slot: int, start: EpisodeStart) -> None:
        """See `BenchAgent.begin`; a sampling agent gets the episode's own torch generator."""
        import torch

        super().begin(slot, start)
        self._torch_rngs[slot] = torch.Generator().manual_seed(start.seed)

    def complete(self, slots: Sequence[int], prompts: Sequence[str], infos: Sequence[dict[str, Any]]) -> list[Any]:
        """Batched greedy decoding; one call per slot when sampling (each episode's own random stream)."""
        from hiper_agent.generation import FormatConstraint

        constraints = None
        if self.constrained:
            constraints = [
                FormatConstraint(list(info["admissible_commands"])) if info.get("admissible_commands") else None
                for info in infos
            ]
        if self.temperature <= 0:
            samples = self.generator.generate(prompts, constraints=constraints, greedy=True)
        else:
            samples = []
            for k, slot in enumerate(slots):
                one = None if constraints is None else [constraints[k]]
                samples += self.generator.generate([prompts[k]], constraints=one, generator=self._torch_rngs[slot])
        return [Completion(s.text, {"finish_reason": s.finish_reason}) for s in samples]

    def describe(self) -> dict[str, Any]:
        """See `BenchAgent.describe`."""
        return {**super().describe(), "max_new_tokens": self.max_new_tokens, "constrained": self.constrained}
