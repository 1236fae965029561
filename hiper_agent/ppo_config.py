"""`HiPERConfig`: every setting of a HiPER PPO run, with named presets (docs: docs/training.md)."""

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

from hiper_agent.ppo_presets import PRESETS

__all__ = ["PRESETS", "SECTIONS", "HiPERConfig", "KLEstimator", "KeepPenaltyMode", "advantage_estimator_names"]

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
    "sft_episodes eval_every checkpoint_every keep_checkpoints eval_temperature env_workers eval_seed"
).split()

#: Section title of the fields, keyed by each section's first field (the banners below; --help and docs use it).
SECTIONS: dict[str, str] = {
    "exp_name": "Experiment and logging",
    "env_id": "Environment",
    "model": "Model",
    "max_prompt_tokens": "Generation",
    "advantage_estimator": "Advantage estimation and reward shaping",
    "num_iterations": "PPO",
    "sft_epochs": "SFT warm start",
    "eval_every": "Evaluation",
    "checkpoint_every": "Checkpointing",
    "run_name": "Derived",
}


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


def _short_name(name: str) -> str:
    """`Qwen/Qwen2.5-1.5B-Instruct` -> `qwen2.5-1.5b-instruct`; `HiPER/ALFWorld-v0` -> `alfworld-v0`."""
    return re.sub(r"[^a-z0-9.\-]+", "-", Path(name).name.lower()).strip("-") or "model"


@dataclass
class HiPERConfig:
    """Configuration of one HiPER run: environment, model, generation, credit assignment, PPO, SFT, eval.

    Paper: HiPER, Hierarchical Plan-Execute RL for LLM agents (https://arxiv.org/abs/2602.16165). Field defaults
    are the core defaults; named presets (`PRESETS`: `smoke`, `cpu`, `gpu-1.5b`, `gpu-7b`) override a subset.
    Each field's help is its documentation (shown by `hiper-train --help`, tabled in docs/training.md).

    Example:
        >>> config = HiPERConfig.from_preset("smoke", seed=3)
        >>> config.num_groups, config.run_dir.endswith("s3")
        (2, True)
    """

    # Experiment and logging
    exp_name: str | None = field(
        default=None,
        metadata={
            "help": "Run name; the run directory is `output_dir/exp_name`. None derives "
            "`[<preset>-]<env>-<estimator>-<model>-s<seed>`, so rerunning the same command with --resume finds it."
        },
    )
    preset: str | None = field(
        default=None,
        metadata={"help": "Preset the config was built from (set by from_preset); recorded and used in run_name."},
    )
    output_dir: str = field(default="runs", metadata={"help": "Parent directory of run directories."})
    seed: int = field(
        default=1,
        metadata={
            "help": "Base seed. Every iteration derives its env, sampling and shuffle seeds from "
            "(seed, iteration, stream), so equal seeds give equal runs, resumed or not."
        },
    )
    log_tensorboard: bool = field(default=True, metadata={"help": "Write TensorBoard scalars to `run_dir/tb`."})
    progress: bool = field(default=True, metadata={"help": "Show a progress bar on stderr."})

    # Environment
    env_id: str = field(default="HiPER/ALFWorld-v0", metadata={"help": "Gymnasium id of the training env."})
    env_kwargs: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "Keyword arguments for `gym.make(env_id, ...)`, e.g. split, num_subtasks, task_types."},
    )
    eval_split: str = field(
        default="valid_seen",
        metadata={
            "help": "Held-out split(s) for evaluation (passed as `split=` over env_kwargs); several are comma-"
            "separated, e.g. `valid_seen,valid_unseen`: each gets its own fixed panel and `eval/<split>/*` metrics."
        },
    )
    num_envs: int = field(default=8, metadata={"help": "Episodes rolled out per iteration (parallel envs)."})
    group_size: int = field(
        default=1,
        metadata={
            "help": "Envs sharing one task (same reset seed); num_envs must be a multiple. "
            "grpo/rloo/gigpo compare episodes within a group, so they need >= 2."
        },
    )
    env_workers: int = field(
        default=0,
        metadata={"help": "0 steps the envs in this process; N > 0 runs them in N Ray actors (the `ray` extra)."},
    )
    max_episode_steps: int | None = field(
        default=None, metadata={"help": "Time limit per episode; None keeps the env's registered default."}
    )
    history_length: int = field(
        default=2, metadata={"help": "Past (observation, action) pairs shown in the prompt (verl-agent: 2)."}
    )
    action_memory: int = field(
        default=0,
        metadata={
            "help": "Earlier actions (before those pairs) listed on one prompt line: a cheap memory of what was "
            "already tried, without which a short-history agent walks back and forth. 0 (the paper) lists none."
        },
    )
    prompt_style: str = field(
        default="auto",
        metadata={
            "help": "`full` (instructions in prose, for instruct models), `compact` (terse labelled lines, for "
            "small models trained from scratch: their speed is their prompt length) or `auto` (compact for `tiny` "
            "and for a folder saved from a tiny model, full otherwise)."
        },
    )

    # Model
    policy: str = field(
        default="llm",
        metadata={
            "help": "Policy family:\n"
            "- llm: one language model writes <switch>/<subgoal>/<action> (the paper; GPU-scale).\n"
            "- scorer: small torch heads score the env's subgoal candidates and admissible commands "
            "(HiPER's factorization; learns on a CPU in minutes).\n"
            "- flat-scorer: the scorer without a planner (actions from task, observation, history)."
        },
    )
    model: str = field(
        default="tiny",
        metadata={
            "help": "Policy LLM: `tiny` (small Qwen2 built from a config, random init), a local path, "
            "or a Hugging Face id."
        },
    )
    critic_model: str | None = field(
        default=None,
        metadata={
            "help": "Critic backbone (value heads low/high/switch on top); None uses the policy's "
            "architecture. HiPER uses a separate Qwen2.5-1.5B-Instruct."
        },
    )
    shared_critic_backbone: bool = field(
        default=False,
        metadata={
            "help": "Put the value heads on the policy's own backbone (one model, loss weighted by "
            "vf_coef) instead of a separate critic model."
        },
    )
    lora_r: int = field(default=0, metadata={"help": "LoRA rank for the policy; 0 trains all parameters."})
    dtype: str = field(
        default="float32",
        metadata={"help": "Parameter dtype: float32, bfloat16, float16 or auto (bfloat16 on GPU, else float32)."},
    )
    num_threads: int = field(
        default=0,
        metadata={"help": "torch intra-op CPU threads; 0 keeps torch's default. Small models run faster on 1."},
    )
    device: str = field(default="auto", metadata={"help": "`auto` (cuda if available), `cpu`, `cuda`, `cuda:N`."})

    # Generation
    max_prompt_tokens: int = field(
        default=1024, metadata={"help": "Prompts longer than this are truncated from the left (history first)."}
    )
    max_new_tokens: int = field(
        default=64, metadata={"help": "Cap on response tokens per step; a HiPER response is ~30-60 tokens."}
    )
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature of training rollouts (> 0)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass for rollouts, in (0, 1]."})
    constrained_decoding: bool = field(
        default=False,
        metadata={
            "help": "Force the <switch>/<subgoal>/<action> format and an admissible action while "
            "decoding (helps small models; off in the paper)."
        },
    )
    constrain_keep_subgoal: bool = field(
        default=False,
        metadata={
            "help": "With constrained_decoding, a KEEP repeats the current subgoal verbatim (forced) instead of "
            "rewriting it. Off: measured neutral to harmful on the cpu preset (docs/training.md)."
        },
    )

    # Advantage estimation and reward shaping
    advantage_estimator: str = field(
        default="hae",
        metadata={
            "help": "Credit assignment:\n"
            "- hae: HiPER; turn-level GAE inside each subgoal segment + SMDP GAE across segments "
            "(+ a switch advantage). Best credit on long tasks; needs a critic.\n"
            "- gae: flat turn-level GAE (PPO baseline) with lam_low; one value head, ignores segments; "
            "equals hae when every step SWITCHes.\n"
            "- grpo: critic-free; episode return normalized within each group. Cheap, but every step "
            "of an episode gets the same advantage.\n"
            "- rloo: critic-free leave-one-out group baseline; unbiased, unscaled.\n"
            "- gigpo: critic-free; grpo episode advantage + step advantage over identical states "
            "within a group. Finer credit than grpo, still no critic."
        },
    )
    gamma: float = field(default=1.0, metadata={"help": "Discount factor γ per env step (HiPER: 1.0)."})
    lam_low: float = field(default=1.0, metadata={"help": "GAE λ inside a segment (λ_turn in HiPER's code: 1.0)."})
    gae_lambda: float = field(default=0.95, metadata={"help": "λ of the flat turn-level GAE (estimator gae only)."})
    lam_high: float = field(default=0.95, metadata={"help": "GAE λ across segments (λ_seg in HiPER: 0.95)."})
    norm_adv: bool = field(
        default=True, metadata={"help": "Whiten advantages over the batch, separately per kind (low/high/switch)."}
    )
    bootstrap_truncated: bool = field(
        default=False,
        metadata={
            "help": "Bootstrap from the value at time-limit truncation instead of treating it as 0 "
            "(HiPER: True for ALFWorld, False for WebShop)."
        },
    )
    reward_scale: float = field(
        default=10.0, metadata={"help": "Env reward multiplier: ALFWorld's 1.0-on-success becomes 10·won (HiPER)."}
    )
    # Penalties are magnitudes (>= 0) subtracted from the reward, as in `hiper_agent.credit.ShapingConfig`.
    invalid_action_penalty: float = field(
        default=0.0, metadata={"help": "Subtracted from the reward of an invalid step (HiPER: 0.1)."}
    )
    keep_penalty: float = field(
        default=0.0,
        metadata={
            "help": "Subtracted on KEEP steps, to discourage never switching (HiPER's -0.3 on ALFWorld, "
            "-3.5 on WebShop, is 0.3 / 3.5 here)."
        },
    )
    keep_penalty_mode: str = field(
        default="fixed",
        metadata={
            "help": "- fixed: keep_penalty on every KEEP step.\n"
            "- normalized: keep_penalty × (KEEP fraction of the episode), once per episode, so long "
            "episodes are not punished more (HiPER's default)."
        },
    )
    keep_consistency_penalty: float = field(
        default=0.0,
        metadata={"help": "Subtracted when a step says KEEP but rewrites the subgoal text (HiPER: 0.3)."},
    )
    subgoal_bonus: float = field(
        default=0.0,
        metadata={
            "help": "Executor reward when a step first achieves its option's subgoal (env-verified). hae gives "
            "it to the low level only, so the planner gains nothing from easy subgoals (HiPER: none)."
        },
    )
    progress_shaping: float = field(
        default=0.0,
        metadata={
            "help": "Executor reward per command of optimal-plan progress, potential-based (policy-invariant); "
            "> 0 gives the training envs the expert oracle for it (evaluation never). HiPER: none."
        },
    )

    # PPO
    num_iterations: int = field(
        default=30, metadata={"help": "Rollout + update iterations (HiPER: 150 epochs); 0 evaluates only."}
    )
    ppo_epochs: int = field(default=1, metadata={"help": "Passes over each rollout batch (verl: 1)."})
    minibatch_size: int = field(default=32, metadata={"help": "Steps (responses) per optimizer step."})
    grad_accum_steps: int = field(
        default=4, metadata={"help": "Micro-batches per minibatch; micro_batch_size = minibatch_size / this."}
    )
    lr: float = field(default=1e-5, metadata={"help": "Policy learning rate, AdamW (HiPER: 1e-6)."})
    critic_lr: float = field(default=1e-4, metadata={"help": "Critic learning rate, AdamW (HiPER: 1e-5)."})
    clip_range: float = field(default=0.2, metadata={"help": "PPO ratio clip ε."})
    value_clip_range: float | None = field(
        default=0.5, metadata={"help": "Clip of value updates around the old values (verl: 0.5); None = off."}
    )
    vf_coef: float = field(default=0.5, metadata={"help": "Value-loss weight, used only with shared_critic_backbone."})
    kl_coef: float = field(
        default=0.01, metadata={"help": "Weight of the KL-to-reference loss (HiPER: 0.01); 0 skips the reference."}
    )
    kl_estimator: str = field(
        default="low_var_kl",
        metadata={
            "help": "- low_var_kl: k3, unbiased and low variance, clamped (verl's default, HiPER).\n"
            "- k1: log-ratio; unbiased, noisy, can go negative.\n"
            "- k2: squared log-ratio / 2; low variance, biased."
        },
    )
    entropy_coef: float = field(default=0.0, metadata={"help": "Entropy bonus weight (verl-agent: 0)."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping by global norm."})

    # SFT warm start
    sft_epochs: int = field(
        default=0, metadata={"help": "Epochs of supervised warm start on expert demos before PPO; 0 = off."}
    )
    sft_episodes: int = field(default=0, metadata={"help": "Expert episodes collected for the warm start."})
    sft_env_kwargs: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "Extra keyword arguments of the expert env the demonstrations come from, over env_kwargs; "
            'e.g. {"expert_search": 0.6} on ALFWorld: the expert searches before it fetches an object.'
        },
    )
    sft_lr: float = field(default=5e-4, metadata={"help": "Learning rate of the warm start."})
    sft_batch_size: int = field(default=8, metadata={"help": "Steps per SFT optimizer step."})

    # Evaluation
    eval_every: int = field(
        default=5,
        metadata={"help": "Evaluate before training, every N iterations and after the last; 0 = never."},
    )
    eval_episodes: int = field(
        default=20, metadata={"help": "Episodes of each split's fixed panel: games 0..N-1 of the split."}
    )
    eval_seed: int = field(default=0, metadata={"help": "Reset seed of the panels' first episode (episode i: +i)."})
    eval_before_sft: bool = field(
        default=True,
        metadata={
            "help": "Also evaluate the policy before the SFT warm start (step -1). A reference point, and the "
            "slowest evaluation of a run: an untrained policy plays every episode to the step limit."
        },
    )
    eval_temperature: float = field(
        default=0.4, metadata={"help": "Sampling temperature at evaluation (HiPER: 0.4); 0 = greedy."}
    )

    # Checkpointing
    checkpoint_every: int = field(
        default=5, metadata={"help": "Save every N iterations and after the last; 0 = never."}
    )
    keep_checkpoints: int = field(default=2, metadata={"help": "Checkpoints kept on disk (newest); 0 keeps all."})
    resume: bool | str = field(
        default=False,
        metadata={
            "help": "True: continue from the newest checkpoint in run_dir (fresh start if none); a path: "
            "from that checkpoint (or run dir)."
        },
    )
    overwrite: bool = field(
        default=False, metadata={"help": "Delete an existing run's checkpoints instead of refusing to start."}
    )

    # Derived in __post_init__ (not arguments)
    run_name: str = field(init=False, metadata={"help": "exp_name, or the name derived from it."})
    run_dir: str = field(init=False, metadata={"help": "`output_dir/run_name`."})
    num_groups: int = field(init=False, metadata={"help": "num_envs / group_size."})
    micro_batch_size: int = field(init=False, metadata={"help": "minibatch_size / grad_accum_steps."})

    def __post_init__(self) -> None:
        self._validate()
        # to be filled in runtime
        parts = [self.preset, _short_name(self.env_id), self.advantage_estimator, _short_name(self.model)]
        self.run_name = self.exp_name or "-".join([p for p in parts if p] + [f"s{self.seed}"])
        self.run_dir = os.path.join(self.output_dir, self.run_name)
        self.num_groups = self.num_envs // self.group_size
        self.micro_batch_size = self.minibatch_size // self.grad_accum_steps

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
        """Builds the config of preset `name` (see `PRESETS`), with `overrides` applied on top.

        Raises:
            ValueError: unknown preset name, or an invalid resulting config.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
        return cls.from_dict({**PRESETS[name], "preset": name, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """All fields, derived ones included, as JSON-serializable values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HiPERConfig:
        """Inverse of `to_dict`: derived fields are recomputed, unknown keys raise `ValueError`."""
        settable = {f.name for f in dataclasses.fields(cls) if f.init}
        derived = {f.name for f in dataclasses.fields(cls) if not f.init}
        unknown = sorted(set(data) - settable - derived)
        if unknown:
            hints = {k: difflib.get_close_matches(k, settable, n=1) for k in unknown}
            detail = ", ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items())
            raise ValueError(f"unknown HiPERConfig field(s): {detail}.")
        return cls(**{k: v for k, v in data.items() if k in settable})

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
