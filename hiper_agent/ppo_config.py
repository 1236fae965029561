"""`HiPERConfig`: every setting of a HiPER PPO run, composed of one dataclass per component, with presets.

Docs: docs/training.md. The components (``config_parts.py``: run, env, agent, credit, ppo, sft, evaluation) hold
the fields; `HiPERConfig` composes them, derives the computed fields, checks the invariants that span components
and reads any field by its flat name (``config.lr`` is ``config.ppo.lr``), as presets and flags name them.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from hiper_agent.config_parts import (
    COMPONENTS,
    CreditConfig,
    EnvConfig,
    EvalConfig,
    PolicyConfig,
    PPOConfig,
    RunConfig,
    SFTConfig,
)
from hiper_agent.ppo_presets import ENV_DEFAULTS, PRESETS

__all__ = ["PRESETS", "HiPERConfig", "KLEstimator", "KeepPenaltyMode", "advantage_estimator_names", "field_names"]

# Used when `hiper_agent.credit` (the estimator registry) cannot be imported.
_FALLBACK_ESTIMATORS: tuple[str, ...] = ("hae", "gae", "grpo", "rloo", "gigpo")
# Estimators whose baseline comes from the other episodes of a group of envs sharing one task.
_GROUP_ESTIMATORS: frozenset[str] = frozenset({"grpo", "rloo", "gigpo"})
_CONFIG_FILE = "config.json"
_POSITIVE = (
    "num_envs group_size ppo_epochs minibatch_size grad_accum_steps max_new_tokens max_prompt_tokens lr critic_lr "
    "clip_range reward_scale sft_lr sft_batch_size max_grad_norm temperature"
).split()
_NON_NEGATIVE = (
    "history_length action_memory lora_r num_threads num_iterations kl_coef entropy_coef vf_coef "
    "invalid_action_penalty keep_penalty keep_consistency_penalty subgoal_bonus progress_shaping sft_epochs "
    "sft_episodes eval_every checkpoint_every keep_checkpoints eval_temperature env_workers eval_seed total_env_steps"
).split()
_DERIVED = ("run_name", "run_dir", "num_groups", "micro_batch_size")


class KLEstimator(str, Enum):
    """Estimators of KL(pi || pi_ref) per token (Schulman, "Approximating KL divergence", 2020)."""

    LOW_VAR_KL = "low_var_kl"  # k3 = ratio - 1 - log(ratio), clamped to [-10, 10] as in verl
    K1 = "k1"  # log(pi / pi_ref): unbiased, high variance, can be negative
    K2 = "k2"  # 0.5 * log(pi / pi_ref)^2: biased, low variance


class KeepPenaltyMode(str, Enum):
    """How `keep_penalty` is spread over an episode's KEEP steps (HiPER's `keep_penalty_mode`)."""

    FIXED = "fixed"  # keep_penalty on every KEEP step
    NORMALIZED = "normalized"  # keep_penalty * (#KEEP / #steps) spread over the KEEP steps


def advantage_estimator_names() -> tuple[str, ...]:
    """Names accepted by `advantage_estimator`: the credit registry's, else the built-in list."""
    try:  # imported lazily: the config must load without the credit package (and its numpy import).
        from hiper_agent.credit import AdvantageEstimator  # type: ignore[attr-defined]
    except ImportError:
        return _FALLBACK_ESTIMATORS
    return tuple(e.value for e in AdvantageEstimator)


def field_names() -> dict[str, str]:
    """Every flat field name -> the component it lives in."""
    return {f.name: comp for comp, cls in COMPONENTS.items() for f in dataclasses.fields(cls)}


def _short_name(name: str) -> str:
    """`Qwen/Qwen2.5-1.5B-Instruct` -> `qwen2.5-1.5b-instruct`; `HiPER/ALFWorld-v0` -> `alfworld-v0`."""
    return re.sub(r"[^a-z0-9.\-]+", "-", Path(name).name.lower()).strip("-") or "model"


@dataclass
class HiPERConfig:
    """Configuration of one HiPER run, composed of components: run, env, agent, credit, ppo, sft, evaluation.

    Paper: HiPER, Hierarchical Plan-Execute RL for LLM agents (https://arxiv.org/abs/2602.16165). Field defaults
    are the core defaults; named presets (`PRESETS`: `smoke`, `cpu`, `cpu-lm`, `gpu-1.5b`, `gpu-7b`) override a
    subset. Any field reads by its flat name; `replace(**fields)` returns a changed copy.

    Example:
        >>> config = HiPERConfig.from_preset("smoke", seed=3)
        >>> config.num_groups, config.run_dir.endswith("s3"), config.lr == config.ppo.lr
        (2, True, True)
    """

    run: RunConfig = field(default_factory=RunConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: PolicyConfig = field(default_factory=PolicyConfig)
    credit: CreditConfig = field(default_factory=CreditConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        self._validate()
        # to be filled in runtime
        parts = [self.preset, _short_name(self.env_id), self.advantage_estimator, _short_name(self.model)]
        if self.policy != "llm":
            parts[3] = self.policy
        self.run_name: str = self.exp_name or "-".join([p for p in parts if p] + [f"s{self.seed}"])
        self.run_dir: str = os.path.join(self.output_dir, self.run_name)
        self.num_groups: int = self.num_envs // self.group_size
        self.micro_batch_size: int = self.minibatch_size // self.grad_accum_steps

    def __getattr__(self, name: str) -> Any:
        # only called for names that are not attributes: a flat field name reads its component's field
        component = _FIELDS.get(name)
        if component is None or name.startswith("_"):
            raise AttributeError(f"HiPERConfig has no field {name!r}")
        return getattr(object.__getattribute__(self, component), name)

    def replace(self, **fields: Any) -> HiPERConfig:
        """A copy with flat fields changed (validated and re-derived)."""
        return HiPERConfig.from_dict({**self.to_flat_dict(), **fields})

    def _validate(self) -> None:
        def require(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        def positive(name: str, allow_zero: bool = False) -> None:
            value = getattr(self, name)
            ok = value >= 0 if allow_zero else value > 0
            if ok:
                return
            fix = (
                f"penalties are magnitudes subtracted from the reward, pass {-value}"
                if name.endswith("_penalty")
                else "see hiper-train --help"
            )
            raise ValueError(f"{name} ({value!r}) must be {'>= 0' if allow_zero else '> 0'}; {fix}.")

        for name in _POSITIVE:
            positive(name)
        for name in _NON_NEGATIVE:
            positive(name, allow_zero=True)
        # Groups must be whole: a group's episodes share one task and are compared with each other.
        require(
            self.num_envs % self.group_size == 0,
            f"num_envs ({self.num_envs}) must be divisible by group_size ({self.group_size}); "
            f"e.g. set num_envs to {self.group_size * max(1, self.num_envs // self.group_size)}.",
        )
        names = advantage_estimator_names()
        require(
            self.advantage_estimator in names,
            f"advantage_estimator {self.advantage_estimator!r} is unknown; choose one of {', '.join(names)}.",
        )
        require(
            self.advantage_estimator not in _GROUP_ESTIMATORS or self.group_size >= 2,
            f"advantage_estimator {self.advantage_estimator!r} compares episodes of a group, so group_size "
            f"({self.group_size}) must be >= 2; e.g. set group_size to 4 (HiPER/GiGPO use 8).",
        )
        for name in ("gamma", "lam_low", "lam_high", "gae_lambda"):
            require(0.0 <= getattr(self, name) <= 1.0, f"{name} ({getattr(self, name)!r}) must be in [0, 1].")
        require(0.0 < self.top_p <= 1.0, f"top_p ({self.top_p!r}) must be in (0, 1].")
        require(
            self.env_backend in ("ray", "subprocess"),
            f"env_backend {self.env_backend!r} must be 'ray' or 'subprocess'.",
        )
        for name, enum in (("keep_penalty_mode", KeepPenaltyMode), ("kl_estimator", KLEstimator)):
            valid = [e.value for e in enum]
            require(getattr(self, name) in valid, f"{name} {getattr(self, name)!r} must be one of {valid}.")
        require(
            self.minibatch_size % self.grad_accum_steps == 0,
            f"minibatch_size ({self.minibatch_size}) must be divisible by grad_accum_steps "
            f"({self.grad_accum_steps}); e.g. set grad_accum_steps to 1.",
        )
        require(
            self.value_clip_range is None or self.value_clip_range > 0,
            f"value_clip_range ({self.value_clip_range!r}) must be > 0, or None to disable value clipping.",
        )
        require(
            self.max_episode_steps is None or self.max_episode_steps >= 1,
            f"max_episode_steps ({self.max_episode_steps!r}) must be >= 1, or None for the env's default.",
        )
        require(
            not (self.sft_epochs > 0 and self.sft_episodes == 0),
            f"sft_epochs ({self.sft_epochs}) > 0 needs expert demos: set sft_episodes > 0, or sft_epochs 0.",
        )
        require(
            not (self.shared_critic_backbone and self.critic_model is not None),
            f"shared_critic_backbone puts the value heads on the policy, so critic_model ({self.critic_model!r}) "
            "must be None; drop one of the two.",
        )
        require(
            not (self.eval_every > 0 and self.eval_episodes < 1),
            f"eval_episodes ({self.eval_episodes}) must be >= 1 when eval_every > 0; or set eval_every 0.",
        )
        require(
            self.exp_name is None or (self.exp_name.strip() != "" and os.sep not in self.exp_name),
            f"exp_name ({self.exp_name!r}) must be a non-empty name without {os.sep!r}; use output_dir for paths.",
        )
        for name in ("env_kwargs", "sft_env_kwargs"):
            require(isinstance(getattr(self, name), dict), f"{name} must be a dict, got {getattr(self, name)!r}.")
        require(
            self.prompt_style in ("auto", "full", "compact"),
            f"prompt_style {self.prompt_style!r} must be one of 'auto', 'full', 'compact'.",
        )
        require(
            self.scorer_memory in ("off", "slots", "episode"),
            f"scorer_memory {self.scorer_memory!r} must be one of 'off', 'slots', 'episode'.",
        )
        require(
            self.generation_backend in ("hf", "vllm"),
            f"generation_backend {self.generation_backend!r} must be 'hf' or 'vllm'.",
        )
        require(
            isinstance(self.resume, bool) or (isinstance(self.resume, str) and self.resume != ""),
            f"resume ({self.resume!r}) must be True/False or a checkpoint path.",
        )

    def eval_panels(self) -> list[Any]:
        """The fixed evaluation panels of this run, one per split in `eval_split`."""
        from hiper_agent.panels import EvalPanel

        k = self.env_kwargs.get("num_subtasks")
        return [EvalPanel(self.env_id, split.strip(), self.eval_episodes, self.eval_seed, k)
                for split in self.eval_split.split(",") if split.strip()]  # fmt: skip

    # Presets and serialization

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> HiPERConfig:
        """Builds the config of preset `name` (see `PRESETS`), with flat `overrides` applied on top.

        Overrides that move the preset to another env (``env_id``) also bring that env's defaults
        (`ENV_DEFAULTS`: its splits and step budget), under the other overrides.

        Raises:
            ValueError: unknown preset name, or an invalid resulting config.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
        base = {**PRESETS[name], "preset": name}
        env_id = overrides.get("env_id", base.get("env_id", EnvConfig.env_id))
        if env_id != base.get("env_id", EnvConfig.env_id):
            base.update(ENV_DEFAULTS.get(env_id, {}))  # the env's own splits and budget, under the overrides
        return cls.from_dict({**base, **overrides})

    def to_flat_dict(self) -> dict[str, Any]:
        """Every settable field by its flat name."""
        return {name: getattr(self, name) for name in _FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """All fields, grouped by component, plus the derived ones, as JSON-serializable values."""
        out: dict[str, Any] = {comp: dataclasses.asdict(getattr(self, comp)) for comp in COMPONENTS}
        out["derived"] = {name: getattr(self, name) for name in _DERIVED}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HiPERConfig:
        """Inverse of `to_dict`; also takes flat field names (presets, overrides). Unknown keys raise `ValueError`."""
        flat: dict[str, Any] = {}
        for key, value in data.items():
            if key in COMPONENTS and isinstance(value, dict):
                flat.update(value)
            elif key != "derived" and key not in _DERIVED:
                flat[key] = value
        unknown = sorted(set(flat) - set(_FIELDS))
        if unknown:
            hints = {k: difflib.get_close_matches(k, _FIELDS, n=1) for k in unknown}
            detail = ", ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items())
            raise ValueError(f"unknown HiPERConfig field(s): {detail}.")
        parts = {comp: comp_cls(**{k: v for k, v in flat.items() if _FIELDS[k] == comp})
                 for comp, comp_cls in COMPONENTS.items()}  # fmt: skip
        return cls(**parts)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the config as JSON to `path` (a directory gets `config.json`); returns the file path."""
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path = path / _CONFIG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)  # a reader never sees half a file
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HiPERConfig:
        """Reads a config saved by `save` (a JSON file, or a directory holding `config.json`)."""
        path = Path(path)
        if path.is_dir():
            path = path / _CONFIG_FILE
        return cls.from_dict(json.loads(path.read_text()))


_FIELDS: dict[str, str] = field_names()
