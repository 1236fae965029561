"""Building the LLM policy of a run (`make_llm_policy`, the ``llm`` family's factory) and loading a saved one."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hiper_agent.credit import get_estimator
from hiper_agent.policies.llm.policy import LLMPolicy
from hiper_agent.policies.prompts import PromptBuilder, template_for_env

__all__ = ["load_llm_policy", "make_llm_policy"]


def make_llm_policy(config: Any, demos: Sequence[list[dict[str, Any]]] = (), device: str = "cpu") -> LLMPolicy:
    """The LLM policy of a run: model, prompts (saved ones kept), generation settings and a critic.

    The critic is built when the estimator reads critic values (the credit registry says which do).
    """
    from hiper_agent.models import build_critic, load_model
    from hiper_agent.policies.llm.sft import build_sft_examples

    c = config
    prompts = PromptBuilder(
        template_for_env(c.env.env_id), _prompt_style(c), c.agent.history_length, action_memory=c.agent.action_memory
    )
    # the tiny model's tokenizer is trained on the text of the expert demonstrations (prompts and responses)
    corpus = (
        [f"{e.prompt}{e.response}" for e in build_sft_examples(demos, prompts)] if c.agent.model == "tiny" else None
    )
    lm = load_model(
        c.agent.model,
        dtype=c.agent.dtype,
        device=device,
        seed=c.run.seed,
        lora={"r": c.agent.lora_r} if c.agent.lora_r else None,
        tokenizer_corpus=corpus,
    )
    policy = LLMPolicy(
        lm,
        prompts,
        max_new_tokens=c.agent.max_new_tokens,
        max_prompt_tokens=c.agent.max_prompt_tokens,
        temperature=c.agent.temperature,
        top_p=c.agent.top_p,
        constrained=c.agent.constrained_decoding,
        keep_subgoal=c.agent.constrain_keep_subgoal,
        generation_backend=c.agent.generation_backend,
    )
    if c.agent.generation_backend == "vllm":
        from hiper_agent.errors import SetupError

        try:  # build the engine now: a missing vLLM or GPU stops the run before any training
            policy._generator(policy.temperature, policy.top_p)
        except (ImportError, ValueError) as err:
            raise SetupError(f"--generation-backend vllm: {err}") from err
    policy.micro_batch_size = c.micro_batch_size
    if get_estimator(c.credit.advantage_estimator).needs_critic:
        source = lm if c.agent.critic_model is None else c.agent.critic_model
        policy.critic = build_critic(source, shared_backbone=c.agent.shared_critic_backbone, seed=c.run.seed).to(
            policy.device
        )
    policy.rebuild_critic = (
        c.agent.critic_model is None and not c.agent.shared_critic_backbone and policy.critic is not None
    )
    return policy


def load_llm_policy(folder: str | Path, *, device: str = "cpu", **overrides: Any) -> LLMPolicy:
    """A saved LLM policy with the prompts it learned on, decoding as it was trained (for evaluation)."""
    from hiper_agent.models import load_model

    folder = Path(folder)
    saved = json.loads((folder / "hiper.json").read_text()) if (folder / "hiper.json").is_file() else {}
    meta = json.loads((folder / "policy.json").read_text())
    family = overrides.pop("prompt_family", "alfworld")
    prompts = PromptBuilder(
        family,
        saved.get("prompt_style", "full"),
        saved.get("history_length", 2),
        action_memory=saved.get("action_memory", 0),
    )
    lm = load_model(str(folder), device=device)
    return LLMPolicy(lm, prompts, constrained=overrides.pop("constrained", meta.get("constrained", False)), **overrides)


def _prompt_style(config: Any) -> str:
    """The prompt style; a policy saved by the trainer keeps the prompts it learned on (warned about if they differ)."""
    saved_file = Path(config.agent.model) / "hiper.json"
    saved = json.loads(saved_file.read_text()) if config.agent.model != "tiny" and saved_file.is_file() else {}
    for name in ("history_length", "action_memory"):
        if name in saved and saved[name] != getattr(config.agent, name):
            warnings.warn(
                f"{config.agent.model} learned on prompts with {name}={saved[name]}, this run shows "
                f"{getattr(config.agent, name)}: pass --{name.replace('_', '-')} {saved[name]} to keep its prompts",
                stacklevel=4,
            )
    if config.agent.prompt_style != "auto":
        return config.agent.prompt_style
    return saved.get("prompt_style", "compact" if config.agent.model == "tiny" else "full")
