"""vLLM generation backend: the HF backend's interface on an in-process ``vllm.LLM`` engine fed the trainer's weights.

Design (docs/scale.md, "vLLM generation"):

- **One process, one copy of the truth.** The engine is built from the trainer's model config and tokenizer with
  ``load_format="dummy"`` (no checkpoint is read) and runs in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``);
  its weights are then pushed from the live torch model with ``model.load_weights`` (LoRA adapters merged in,
  out of place). Before each ``generate`` the generator checks whether the torch parameters changed (their in-place
  version counters, which every optimizer step bumps) and pushes them again if so, then drops the prefix cache,
  whose keys and values came from the old weights. So, like the HF backend, it follows training updates.
- **Sleep mode (opt-in).** ``sleep_mode=True`` lets :meth:`VLLMGenerator.sleep` free the engine's weights and KV
  cache while the trainer updates (``LLM.sleep(level=2)``); the next ``generate`` wakes it, pushes the weights and
  rebuilds the cache. It trades a wake-up per iteration for GPU memory: worth it when the policy, its optimizer
  state and the engine do not fit together (7B on one GPU), not for 1.5B on an 80-141 GB GPU.
- **Constrained decoding** of the three blocks with vLLM's structured outputs: the
  :class:`~hiper_agent.generation.constraints.FormatConstraint` is written as a regex
  (:func:`~hiper_agent.generation.structured.format_regex`), whose admissible commands and KEEP/SWITCH are
  alternations. The token masks the trainer needs (:attr:`Sample.allowed`) are recovered by replaying our token
  program over the sampled tokens (:func:`~hiper_agent.generation.structured.replay_allowed`).
- **Log-probs** of the sampled tokens come from the engine in ``processed_logprobs`` mode: after the grammar mask,
  the temperature and top-p, i.e. under the distribution the token was drawn from, as :class:`Sample` requires.
  The trainer's log-probs under the same weights differ only by kernels and by tokens the regex allowed that our
  token program does not (other spellings of a tag or a command); ``tests/hiper_agent/generation/test_vllm.py``
  checks that the importance ratio at step 0 is near 1.

Seeding: each prompt gets a vLLM per-request seed drawn from the caller's ``torch.Generator``, so one generator
state gives one set of samples (up to vLLM's batch-dependent numerics).

Not exercised on a GPU in this repository yet; see docs/scale.md for what has been.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Sequence
from typing import Any

import torch

from hiper_agent.generation.base import GenerationBackend, Sample, base_model, check_sampling
from hiper_agent.generation.constraints import FormatConstraint
from hiper_agent.generation.structured import compile_for_replay, format_regex, replay_allowed
from hiper_agent.protocol import close_tag

__all__ = ["VLLMGenerator", "checkpoint_weights"]


class VLLMGenerator(GenerationBackend):
    """Samples responses with vLLM from the weights of a live :class:`~hiper_agent.models.LoadedModel`.

    Args:
        lm: the trainer's model and tokenizer (``model``, ``tokenizer``); its weights are pushed to the engine.
        max_new_tokens: longest free response; a constrained response gets what its format may need.
        temperature: sampling temperature (> 0). Greedy decoding reports log-probs at temperature 1.
        top_p: nucleus sampling; keep 1 for PPO (see :func:`~hiper_agent.generation.base.sampling_logprobs`).
        stop_strings: unconstrained rows stop after one of these (kept in the text) or at EOS.
        max_prompt_tokens: keep only the last this-many prompt tokens (``None``: keep all).
        gpu_memory_utilization: the fraction of GPU memory the engine may take (weights + KV cache); the trainer
            needs the rest.
        max_model_len: longest prompt + response the engine plans for (``None``: the model's own limit).
        sleep_mode: free the engine's memory between rollouts (see the module docstring and :meth:`sleep`).
        seed: the engine's seed.
        engine_kwargs: more ``vllm.LLM`` keywords (``enforce_eager``, ``tensor_parallel_size``...).

    Example:
        >>> gen = VLLMGenerator(load_model("Qwen/Qwen2.5-1.5B-Instruct"), max_new_tokens=48)  # doctest: +SKIP
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
        stop_strings: Sequence[str] = (close_tag("action"),),
        max_prompt_tokens: int | None = None,
        gpu_memory_utilization: float = 0.3,
        max_model_len: int | None = None,
        sleep_mode: bool = False,
        seed: int = 0,
        engine_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        check_sampling(temperature, top_p)
        # in-process engine: load_weights then receives the trainer's tensors by reference (no copy through a pipe)
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        try:
            import vllm
        except ImportError as err:
            raise ImportError("VLLMGenerator needs vLLM on a CUDA machine: pip install 'hiper[vllm]'") from err
        self._vllm = vllm
        if next(lm.model.parameters()).device.type != "cuda":
            raise ValueError(
                f"VLLMGenerator samples on a CUDA GPU; the policy is on {next(lm.model.parameters()).device} "
                "(move it to cuda, or use the HF backend on a CPU)"
            )
        super().__init__(
            lm,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            stop_strings=stop_strings,
            max_prompt_tokens=max_prompt_tokens,
        )
        self.sleep_mode = sleep_mode
        base = base_model(self.model)
        config = copy.deepcopy(base.config)
        config.architectures = config.architectures or [type(base).__name__]  # what vLLM picks its model class by
        #: rows whose tokens left the canonical token program in the last ``generate`` (their tail is free)
        self.last_noncanonical = 0
        self._folder = tempfile.TemporaryDirectory(prefix="hiper-vllm-")
        config.save_pretrained(self._folder.name)  # shapes only: the weights come from the live model
        self.tokenizer.save_pretrained(self._folder.name)
        dtype = next(self.model.parameters()).dtype
        kwargs = {
            "model": self._folder.name,
            "tokenizer": self._folder.name,
            "load_format": "dummy",
            "dtype": str(dtype).removeprefix("torch."),
            "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": max_model_len,
            "seed": seed,
            "enable_prefix_caching": True,
            "enable_sleep_mode": sleep_mode,
            "logprobs_mode": "processed_logprobs",
            **(engine_kwargs or {}),
        }
        self.llm = vllm.LLM(**kwargs)
        # engine state shared with the views of other temperatures (`with_sampling`): one engine, one weight push
        self._engine_state: dict[str, Any] = {"asleep": False, "pushed": None}
        self.sync_weights()

    # ------------------------------------------------------------------ weights
    def _weights_version(self) -> tuple[int, int]:
        params = list(self.model.parameters())
        return sum(p._version for p in params), sum(p.data_ptr() for p in params)

    def sync_weights(self) -> None:
        """Pushes the torch model's weights to the engine and drops its prefix cache (stale keys and values)."""
        with torch.no_grad():
            loader = _load_weights_fn(checkpoint_weights(self.model))
            if hasattr(self.llm, "apply_model"):
                self.llm.apply_model(loader)
            else:  # older vLLM: the same call through the worker RPC
                self.llm.collective_rpc(lambda worker: loader(worker.model_runner.model))
        self.llm.reset_prefix_cache()
        self._engine_state["pushed"] = self._weights_version()

    def sleep(self) -> None:
        """Frees the engine's GPU memory until the next :meth:`generate` (only with ``sleep_mode=True``)."""
        if not self.sleep_mode:
            raise RuntimeError("VLLMGenerator(sleep_mode=False) cannot sleep: build it with sleep_mode=True")
        if not self._engine_state["asleep"]:
            self.llm.sleep(level=2)  # level 2 drops the weights too: they are pushed again on waking
            self._engine_state["asleep"] = True

    def with_sampling(self, temperature: float, top_p: float = 1.0) -> VLLMGenerator:
        """A generator sampling at another temperature / top-p from the same engine (no second engine, no copy)."""
        check_sampling(temperature, top_p)
        view = copy.copy(self)  # shares the engine and its state dict
        view.temperature, view.top_p = temperature, top_p
        return view

    def _ready(self) -> None:
        state = self._engine_state
        if state["asleep"]:
            self.llm.wake_up(tags=["weights"])
            self.sync_weights()
            self.llm.wake_up(tags=["kv_cache"])
            state["asleep"] = False
        elif self._weights_version() != state["pushed"]:
            self.sync_weights()

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[str],
        *,
        constraints: Sequence[FormatConstraint | None] | None = None,
        generator: torch.Generator | None = None,
        greedy: bool = False,
    ) -> list[Sample]:
        """Generates one response per prompt (see :meth:`GenerationBackend.generate`)."""
        if isinstance(prompts, str) or any(not isinstance(p, str) for p in prompts):
            raise TypeError("prompts must be a list of strings")
        prompts = list(prompts)
        if constraints is None:
            constraints = [None] * len(prompts)
        if len(constraints) != len(prompts):
            raise ValueError(f"got {len(constraints)} constraints for {len(prompts)} prompts")
        if not prompts:
            return []
        self._ready()
        prompt_ids = self.tokenizer(prompts, add_special_tokens=True)["input_ids"]
        if self.max_prompt_tokens is not None:
            prompt_ids = [ids[-self.max_prompt_tokens :] for ids in prompt_ids]
        start = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.vocab.eos_id
        prompt_ids = [ids or [start] for ids in prompt_ids]
        seeds = torch.randint(0, 2**31 - 1, (len(prompts),), generator=generator).tolist()
        params, budgets = zip(
            *(self._params(c, s, greedy) for c, s in zip(constraints, seeds, strict=True)), strict=True
        )
        outputs = self.llm.generate(
            [{"prompt_token_ids": ids} for ids in prompt_ids], sampling_params=list(params), use_tqdm=False
        )
        samples, self.last_noncanonical = [], 0
        for ids, out, constraint, budget in zip(prompt_ids, outputs, constraints, budgets, strict=True):
            completion = out.outputs[0]
            response = list(completion.token_ids)
            logprobs = [float(entry[token].logprob) for entry, token in zip(completion.logprobs, response, strict=True)]
            allowed = None
            if constraint is not None:
                allowed, canonical = replay_allowed(compile_for_replay(constraint, self.vocab), response, budget)
                self.last_noncanonical += not canonical
            samples.append(
                Sample(
                    prompt_ids=list(ids),
                    response_ids=response,
                    text=self.tokenizer.decode(response, skip_special_tokens=True),
                    logprobs=logprobs,
                    allowed=allowed,
                    finish_reason="length" if completion.finish_reason == "length" else "stop",
                )
            )
        return samples

    def _params(self, constraint: FormatConstraint | None, seed: int, greedy: bool) -> tuple[Any, int]:
        """The request's ``SamplingParams`` and its token budget."""
        vllm = self._vllm
        kwargs: dict[str, Any] = {
            "temperature": 0.0 if greedy else self.temperature,
            "top_p": self.top_p,
            "seed": seed,
            "logprobs": 0,  # the sampled token's log-prob only
            "skip_special_tokens": True,
        }
        if constraint is None:
            budget = self.max_new_tokens
            kwargs.update(stop=list(self.stop_strings), include_stop_str_in_output=True)
        else:
            regex, max_chars = format_regex(constraint)
            budget = max(self.max_new_tokens, max_chars + 1)  # a token spells >= 1 char; +1 for the EOS
            if not constraint.end_with_eos:
                kwargs.update(stop=[close_tag("action")], include_stop_str_in_output=True)
            kwargs.update(_structured(vllm, regex))
        return vllm.SamplingParams(max_tokens=budget, **kwargs), budget

    def close(self) -> None:
        """Releases the engine and its temporary config folder."""
        del self.llm
        self._folder.cleanup()


def _structured(vllm: Any, regex: str) -> dict[str, Any]:
    """``SamplingParams`` keywords for regex-guided decoding (the name changed in vLLM 0.11)."""
    sampling = vllm.sampling_params
    if hasattr(sampling, "StructuredOutputsParams"):
        return {"structured_outputs": sampling.StructuredOutputsParams(regex=regex)}
    return {"guided_decoding": sampling.GuidedDecodingParams(regex=regex)}


def _load_weights_fn(weights: list[tuple[str, torch.Tensor]]) -> Any:
    def load(model: Any) -> None:
        model.load_weights(iter(weights))

    return load


def checkpoint_weights(model: Any) -> list[tuple[str, torch.Tensor]]:
    """``(name, tensor)`` pairs under the Hugging Face checkpoint names, with LoRA adapters merged in.

    The merge is computed out of place (``W + delta``): merging into the live model and unmerging after each push
    would leave rounding errors in the frozen base weights, accumulating over a run.
    """
    if not hasattr(model, "merge_adapter"):  # not a peft model
        return [(name, tensor.detach()) for name, tensor in model.state_dict().items()]
    deltas: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if hasattr(module, "get_delta_weight") and hasattr(module, "base_layer") and not module.merged:
            adapters = [a for a in module.active_adapters if a in getattr(module, "lora_A", {})]
            if adapters:
                deltas[f"{name}.base_layer.weight"] = sum(module.get_delta_weight(a) for a in adapters)
    weights = []
    for name, tensor in model.state_dict().items():
        if "lora_" in name or ".original_module." in name:
            continue
        if name in deltas:
            tensor = tensor + deltas[name].to(tensor.dtype)
        name = name.removeprefix("base_model.model.").replace(".base_layer", "").replace(".modules_to_save.default", "")
        weights.append((name, tensor.detach()))
    return weights
