"""`HiPERConfig`: every setting of a HiPER PPO run, composed of one dataclass per component, with presets.

Docs: docs/training.md. The components (``config_parts.py``: run, env, agent, credit, ppo, sft, evaluation) hold
the fields, read as ``config.ppo.lr``; `HiPERConfig` composes them, derives the computed fields and checks the
invariants that span components. Presets and flags name fields flat (``lr``), which is unambiguous: field names
are unique across components.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiper_agent import credit
from hiper_agent.credit.registry import AdvantageEstimatorName, get_estimator
from hiper_agent.errors import check_known_fields
from hiper_agent.training.config_parts import (
    COMPONENTS,
    CreditConfig,
    EnvConfig,
    EvalConfig,
    PolicyConfig,
    PPOConfig,
    RunConfig,
    SFTConfig,
)
from hiper_agent.training.ppo_presets import ENV_DEFAULTS, PRESETS

__all__ = ["PRESETS", "HiPERConfig", "advantage_config", "advantage_estimator_names", "field_names"]

_CONFIG_FILE = "config.json"
_POSITIVE = (
    "num_envs group_size ppo_epochs minibatch_size grad_accum_steps max_new_tokens max_prompt_tokens lr critic_lr "
    "clip_range reward_scale sft_lr sft_batch_size max_grad_norm temperature"
).split()
_NON_NEGATIVE = (
    "history_length action_memory lora_r num_threads num_iterations kl_coef entropy_coef vf_coef "
    "invalid_action_penalty keep_penalty keep_consistency_penalty switch_cost subgoal_bonus progress_shaping sft_epochs "
    "sft_episodes eval_every checkpoint_every keep_checkpoints eval_temperature env_workers eval_seed total_env_steps "
    "eval_episodes_composite"
).split()
_DERIVED = ("run_name", "run_dir", "num_groups", "micro_batch_size")


def advantage_estimator_names() -> tuple[str, ...]:
    """Names accepted by `advantage_estimator`: the credit registry's built-in estimators."""
    return typing.get_args(AdvantageEstimatorName)


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
    subset. Fields are read through their component, with their types (``config.ppo.lr``); flat names (unique
    across components) are what presets, flags, `from_preset(**fields)` and `replace(**fields)` take.

    Example:
        >>> config = HiPERConfig.from_preset("smoke", seed=3, lr=0.5)
        >>> config.num_groups, config.run_dir.endswith("s3"), config.ppo.lr
        (2, True, 0.5)
    """

    run: RunConfig = field(default_factory=RunConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: PolicyConfig = field(default_factory=PolicyConfig)
    credit: CreditConfig = field(default_factory=CreditConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        # JSON and presets give lists: the K lists are tuples (hashable, and equal after a save/load round trip)
        self.env.train_num_subtasks = tuple(self.env.train_num_subtasks)
        self.evaluation.eval_num_subtasks = tuple(self.evaluation.eval_num_subtasks)
        self._validate()
        # to be filled in runtime
        parts = [
            self.run.preset,
            _short_name(self.env.env_id),
            self.credit.advantage_estimator,
            _short_name(self.agent.model),
        ]
        if self.agent.policy != "llm":
            parts[3] = self.agent.policy
        self.run_name: str = self.run.exp_name or "-".join([p for p in parts if p] + [f"s{self.run.seed}"])
        self.run_dir: str = os.path.join(self.run.output_dir, self.run_name)
        self.num_groups: int = self.env.num_envs // self.env.group_size
        self.micro_batch_size: int = self.ppo.minibatch_size // self.ppo.grad_accum_steps

    def _value(self, name: str) -> Any:
        """A field by its flat name (presets, flags and validation loops name fields flat)."""
        return getattr(getattr(self, _FIELDS[name]), name)

    def replace(self, **fields: Any) -> HiPERConfig:
        """A copy with flat fields changed (validated and re-derived)."""
        return HiPERConfig.from_dict({**self.to_flat_dict(), **fields})

    def _validate(self) -> None:
        def require(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        def positive(name: str, allow_zero: bool = False) -> None:
            value = self._value(name)
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
            self.env.num_envs % self.env.group_size == 0,
            f"num_envs ({self.env.num_envs}) must be divisible by group_size ({self.env.group_size}); "
            f"e.g. set num_envs to {self.env.group_size * max(1, self.env.num_envs // self.env.group_size)}.",
        )
        # choices (Literal-typed fields): tyro refuses others on the command line, this also covers dicts and JSON
        for name, choices in _CHOICES.items():
            value = self._value(name)
            require(value in choices, f"{name} {value!r} must be one of {', '.join(choices)}.")
        require(
            not get_estimator(self.credit.advantage_estimator).group_based or self.env.group_size >= 2,
            f"advantage_estimator {self.credit.advantage_estimator!r} compares episodes of a group, so group_size "
            f"({self.env.group_size}) must be >= 2; e.g. set group_size to 4 (HiPER/GiGPO use 8).",
        )
        for name in ("gamma", "lam_low", "lam_high", "gae_lambda"):
            require(0.0 <= self._value(name) <= 1.0, f"{name} ({self._value(name)!r}) must be in [0, 1].")
        require(0.0 < self.agent.top_p <= 1.0, f"top_p ({self.agent.top_p!r}) must be in (0, 1].")
        require(
            self.ppo.minibatch_size % self.ppo.grad_accum_steps == 0,
            f"minibatch_size ({self.ppo.minibatch_size}) must be divisible by grad_accum_steps "
            f"({self.ppo.grad_accum_steps}); e.g. set grad_accum_steps to 1.",
        )
        require(
            self.ppo.value_clip_range is None or self.ppo.value_clip_range > 0,
            f"value_clip_range ({self.ppo.value_clip_range!r}) must be > 0, or None to disable value clipping.",
        )
        require(
            self.env.max_episode_steps is None or self.env.max_episode_steps >= 1,
            f"max_episode_steps ({self.env.max_episode_steps!r}) must be >= 1, or None for the env's default.",
        )
        require(
            not (self.sft.sft_epochs > 0 and self.sft.sft_episodes == 0),
            f"sft_epochs ({self.sft.sft_epochs}) > 0 needs expert demos: set sft_episodes > 0, or sft_epochs 0.",
        )
        require(
            not (self.agent.shared_critic_backbone and self.agent.critic_model is not None),
            f"shared_critic_backbone puts the value heads on the policy, so critic_model ({self.agent.critic_model!r}) "
            "must be None; drop one of the two.",
        )
        require(
            not (self.evaluation.eval_every > 0 and self.evaluation.eval_episodes < 1),
            f"eval_episodes ({self.evaluation.eval_episodes}) must be >= 1 when eval_every > 0; or set eval_every 0.",
        )
        require(
            self.run.exp_name is None or (self.run.exp_name.strip() != "" and os.sep not in self.run.exp_name),
            f"exp_name ({self.run.exp_name!r}) must be a non-empty name without {os.sep!r}; use output_dir for paths.",
        )
        for name in ("train_num_subtasks", "eval_num_subtasks"):
            ks = self._value(name)
            require(
                all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in ks) and len(set(ks)) == len(ks),
                f"{name} ({ks!r}) must list distinct positive ints (subtasks per game), e.g. 1 2 3.",
            )
        require(
            not (self.env.train_num_subtasks and "num_subtasks" in self.env.env_kwargs),
            f"train_num_subtasks ({self.env.train_num_subtasks!r}) sets the training games' subtasks, so env_kwargs "
            f"must not also set num_subtasks ({self.env.env_kwargs.get('num_subtasks')!r}); train at one K with "
            "--train-num-subtasks K (or --preset cpu-v1 --env-kwargs num_subtasks=K).",
        )
        require(
            len(self.env.train_num_subtasks) <= self.env.num_envs // self.env.group_size,
            f"train_num_subtasks ({self.env.train_num_subtasks!r}) spreads env groups over its Ks, so it needs at "
            f"least {len(self.env.train_num_subtasks)} groups; num_envs / group_size is "
            f"{self.env.num_envs // self.env.group_size}.",
        )
        steps = self.evaluation.eval_steps_per_subtask
        require(steps is None or steps >= 1, f"eval_steps_per_subtask ({steps!r}) must be >= 1, or None.")
        for name in ("env_kwargs", "sft_env_kwargs"):
            require(isinstance(self._value(name), dict), f"{name} must be a dict, got {self._value(name)!r}.")
        require(
            isinstance(self.run.resume, bool) or (isinstance(self.run.resume, str) and self.run.resume != ""),
            f"resume ({self.run.resume!r}) must be True/False or a checkpoint path.",
        )

    # Envs and panels: which games each env plays, with which step limit

    @property
    def _per_subtask_limit(self) -> bool:
        """Whether `max_episode_steps` counts per subtask (a K mix or composite panels are configured)."""
        return bool(self.env.train_num_subtasks or self.evaluation.eval_num_subtasks)

    def env_kwargs(self) -> dict[str, Any]:
        """``gym.make`` keywords shared by every env of the run (env_kwargs plus the time limit, when one is set)."""
        kwargs = dict(self.env.env_kwargs)
        if self.env.max_episode_steps is not None:
            k = kwargs.get("num_subtasks", 1) if self._per_subtask_limit else 1
            kwargs["max_episode_steps"] = self.env.max_episode_steps * k
        return kwargs

    def train_env_kwargs(self) -> list[dict[str, Any]]:
        """``gym.make`` keywords of each training env: with `train_num_subtasks`, group ``g`` plays K = Ks[g % len].

        Example:
            >>> c = HiPERConfig.from_preset("smoke", num_envs=6, group_size=2, train_num_subtasks=(1, 3))
            >>> [(kw["num_subtasks"], kw["max_episode_steps"]) for kw in c.train_env_kwargs()][::2]
            [(1, 8), (3, 24), (1, 8)]
        """
        base = self.env_kwargs()
        ks = self.env.train_num_subtasks
        if not ks:
            return [dict(base) for _ in range(self.env.num_envs)]
        out = []
        for i in range(self.env.num_envs):
            k = ks[(i // self.env.group_size) % len(ks)]
            kwargs = {**base, "num_subtasks": k}
            if self.env.max_episode_steps is not None:
                kwargs["max_episode_steps"] = self.env.max_episode_steps * k
            out.append(kwargs)
        return out

    def eval_panels(self) -> list[Any]:
        """The fixed evaluation panels of this run: one per split in `eval_split` (and per K of `eval_num_subtasks`)."""
        from hiper_agent.evaluation.panels import EvalPanel

        e = self.evaluation
        splits = [split.strip() for split in e.eval_split.split(",") if split.strip()]
        if not e.eval_num_subtasks:
            k = self.env.env_kwargs.get("num_subtasks")
            return [EvalPanel(self.env.env_id, split, e.eval_episodes, e.eval_seed, k) for split in splits]
        composite = e.eval_episodes_composite or e.eval_episodes
        return [
            EvalPanel(self.env.env_id, split, e.eval_episodes if k == 1 else composite, e.eval_seed, k)
            for split in splits
            for k in e.eval_num_subtasks
        ]

    def eval_prefixes(self, panel: Any) -> list[str]:
        """Metric prefixes of a panel's results: ``eval/<split>``, and ``eval/<split>/k<K>`` for composite panels.

        With `eval_num_subtasks`, ``eval/<split>/*`` is the K = 1 panel (else the first K listed), so the plain keys
        mean the same thing in every run.
        """
        ks = self.evaluation.eval_num_subtasks
        if not ks:
            return [f"eval/{panel.split}"]
        primary = 1 if 1 in ks else ks[0]
        prefix = f"eval/{panel.split}/k{panel.num_subtasks}"
        return [f"eval/{panel.split}", prefix] if panel.num_subtasks == primary else [prefix]

    def eval_env_kwargs(self, panel: Any) -> dict[str, Any]:
        """``gym.make`` keywords of a panel's envs: the run's, the panel's split and K, the evaluation step limit.

        The limit is ``eval_steps_per_subtask * K`` when set, else the training limit (per subtask with composite
        panels or a K mix), else the env's own default (ALFWorld: 50 per subtask). A composite panel plays its own
        games, so a compiled-pool setting (``pool_size``) is sized to the panel there.
        """
        kwargs = {**self.env_kwargs(), **panel.env_kwargs()}
        k = panel.num_subtasks or self.env.env_kwargs.get("num_subtasks", 1)
        steps = self.evaluation.eval_steps_per_subtask
        if steps is not None:
            kwargs["max_episode_steps"] = steps * k
        elif self._per_subtask_limit and self.env.max_episode_steps is not None:
            kwargs["max_episode_steps"] = self.env.max_episode_steps * k
        if kwargs.get("pool_size") and k != self.env.env_kwargs.get("num_subtasks", 1):
            kwargs["pool_size"] = panel.episodes
        return kwargs

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
        return {name: self._value(name) for name in _FIELDS}

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
        check_known_fields(_FIELDS, flat, "HiPERConfig field", list_valid=False)
        parts = {
            comp: comp_cls(**{k: v for k, v in flat.items() if _FIELDS[k] == comp})
            for comp, comp_cls in COMPONENTS.items()
        }
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


def advantage_config(config: HiPERConfig) -> credit.AdvantageConfig:
    """The credit-assignment settings of a run: every estimator reads its own fields (see ``AdvantageConfig``)."""
    c = config
    shaping = credit.ShapingConfig(
        invalid_action_penalty=c.credit.invalid_action_penalty,
        keep_penalty=c.credit.keep_penalty,
        keep_penalty_mode=c.credit.keep_penalty_mode,
        keep_consistency_penalty=c.credit.keep_consistency_penalty,
        switch_cost=c.credit.switch_cost,
        subgoal_bonus=c.credit.subgoal_bonus,
        progress_coef=c.credit.progress_shaping,
    )
    return credit.AdvantageConfig(
        gamma=c.credit.gamma,
        lam_low=c.credit.lam_low,
        lam_high=c.credit.lam_high,
        gae_lambda=c.credit.gae_lambda,
        normalize=c.credit.norm_adv,
        bootstrap_truncated=c.credit.bootstrap_truncated,
        shaping=shaping,
    )


_FIELDS: dict[str, str] = field_names()
#: The Literal-typed fields and their choices, e.g. ``{"env_backend": ("ray", "subprocess"), ...}``.
_CHOICES: dict[str, tuple[str, ...]] = {
    f.name: typing.get_args(hint)
    for cls in COMPONENTS.values()
    for f in dataclasses.fields(cls)
    if typing.get_origin(hint := typing.get_type_hints(cls)[f.name]) is typing.Literal
}
