"""Language-model agents for `hiper-bench`: a local Hugging Face model (``hf:``) and any OpenAI-compatible server.

Both build their prompts with the project's `~hiper_agent.policies.prompts.PromptBuilder`, in one of two styles:

- ``hiper``: the three blocks of the option protocol (KEEP/SWITCH, subgoal, action); the raw reply goes to the
  env, which parses it, tracks the options and counts format errors.
- ``react``: a flat baseline: the model may think in ``<think>``, then writes one ``<action>``; the action alone
  goes to the env (one option per episode), and a reply without an action is a format error.

Decoding is greedy by default (``temperature=0``). With sampling, each episode draws from its own seed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hiper_agent.bench.protocol import AgentStep, BenchAgent, EpisodeStart
from hiper_agent.errors import SetupError
from hiper_agent.policies.prompts import PromptBuilder, template_for_env
from hiper_agent.types import HistoryEntry
from hiper_envs.options import parse_response

__all__ = ["HFAgent", "LLMAgent", "OpenAIAgent"]

_STYLES = {"hiper": "full", "react": "react"}
_DEFAULT_TOKENS = {"hiper": 64, "react": 256}


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
        """One reply text (or an exception) per prompt."""
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
        for slot, reply in zip(slots, replies, strict=True):
            if isinstance(reply, BaseException):
                out.append(reply)
                continue
            self._texts[slot] = reply
            if self.style == "hiper":
                out.append(AgentStep(reply))
            else:
                action = parse_response(reply).action
                out.append(AgentStep(action if action is not None else reply.strip(), format_error=action is None))
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
            return [s.text for s in self.generator.generate(prompts, constraints=constraints, greedy=True)]
        texts = []
        for k, slot in enumerate(slots):
            one = None if constraints is None else [constraints[k]]
            [sample] = self.generator.generate([prompts[k]], constraints=one, generator=self._torch_rngs[slot])
            texts.append(sample.text)
        return texts

    def describe(self) -> dict[str, Any]:
        """See `BenchAgent.describe`."""
        return {**super().describe(), "max_new_tokens": self.max_new_tokens, "constrained": self.constrained}


class OpenAIAgent(LLMAgent):
    """Any OpenAI-compatible chat server (OpenAI, vLLM, llama.cpp, Ollama, ...), through the official client.

    The key is read from ``OPENAI_API_KEY`` (servers without authentication accept any non-empty value). Each
    env slot's request runs in its own thread; the client retries failed requests (``max_retries``, with
    backoff) and gives up after ``timeout`` seconds, and a request that still fails fails that episode only.

    Args:
        model: the server's model name.
        base_url: the server, e.g. ``http://localhost:8000/v1`` (None: api.openai.com).
        style, temperature, history_length: see `LLMAgent`.
        max_new_tokens: ``max_tokens`` of each request (default 64 for hiper, 256 for react).
        timeout: seconds per request.
        max_retries: retries per request.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        style: str = "hiper",
        temperature: float = 0.0,
        max_new_tokens: int | None = None,
        history_length: int = 2,
        timeout: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        super().__init__(style=style, temperature=temperature, history_length=history_length)
        try:
            import openai
        except ImportError as err:
            raise SetupError('openai:<model> needs the openai client: pip install "hiper[bench]"') from err
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            raise SetupError("set OPENAI_API_KEY (any non-empty value for a server without authentication)")
        self.model, self.base_url = model, base_url
        self.max_new_tokens = max_new_tokens or _DEFAULT_TOKENS[style]
        self.client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self._pool: ThreadPoolExecutor | None = None
        self._steps: dict[int, int] = {}

    def setup(self, num_slots: int, env_id: str) -> None:
        """See `BenchAgent.setup`."""
        super().setup(num_slots, env_id)
        self._pool = ThreadPoolExecutor(max_workers=max(1, num_slots), thread_name_prefix="hiper-bench-openai")

    def begin(self, slot: int, start: EpisodeStart) -> None:
        """See `BenchAgent.begin`."""
        super().begin(slot, start)
        self._steps[slot] = 0

    def _request(self, prompt: str, seed: int) -> str:
        response = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": prompt}],
            temperature=self.temperature,
            max_tokens=self.max_new_tokens,
            seed=seed,
        )
        if not response.choices:
            raise RuntimeError("the server returned no choices")
        return response.choices[0].message.content or ""

    def complete(self, slots: Sequence[int], prompts: Sequence[str], infos: Sequence[dict[str, Any]]) -> list[Any]:
        """One request per slot, concurrently; a failed request becomes that slot's exception."""
        assert self._pool is not None, "setup() first"
        futures = []
        for slot, prompt in zip(slots, prompts, strict=True):
            # per-episode, per-step seed: a sampling server gives the same reply whatever --num-envs is
            seed = (self._seeds[slot] + 7919 * self._steps[slot]) % 2**31
            self._steps[slot] += 1
            futures.append(self._pool.submit(self._request, prompt, seed))
        out: list[Any] = []
        for future in futures:
            try:
                out.append(future.result())
            except Exception as err:  # noqa: BLE001  (that episode fails, the run goes on)
                out.append(err)
        return out

    def describe(self) -> dict[str, Any]:
        """See `BenchAgent.describe`."""
        return {**super().describe(), "max_new_tokens": self.max_new_tokens, "base_url": self.base_url}

    def close(self) -> None:
        """Stop the request threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
