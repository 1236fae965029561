"""The components of a HiPER run's config, one dataclass each (composed by `HiPERConfig` in ``ppo_config.py``).

Field names are unique across components, so every field is also a flat flag (``--lr``, ``--num-envs``) and a
flat key of the presets; the help text of each field is its documentation (``--help``, docs/training.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import tyro

from hiper_agent.credit.registry import AdvantageEstimatorName

__all__ = [
    "COMPONENTS",
    "CreditConfig",
    "EnvConfig",
    "EvalConfig",
    "PPOConfig",
    "PolicyConfig",
    "RunConfig",
    "SFTConfig",
]


def _parse_kwargs(tokens: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (values read as JSON when they parse, else as strings) or one JSON object."""
    out: dict[str, Any] = {}
    for token in tokens:
        if token.lstrip().startswith("{"):
            value = json.loads(token)
            if not isinstance(value, dict):
                raise ValueError(f"expected a JSON object, got {token!r}")
            out.update(value)
            continue
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise ValueError(f"expected KEY=VALUE or a JSON object, got {token!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


#: A ``dict[str, Any]`` field on the command line: ``--env-kwargs num_subtasks=3 split=train`` or a JSON object.
KwargsDict = Annotated[
    dict[str, Any],
    tyro.constructors.PrimitiveConstructorSpec(
        nargs="*",
        metavar="KEY=VALUE|JSON",
        instance_from_str=_parse_kwargs,
        is_instance=lambda value: isinstance(value, dict),
        str_from_instance=lambda value: [f"{k}={json.dumps(v)}" for k, v in value.items()],
    ),
]


@dataclass
class RunConfig:
    """Experiment, logging and checkpoints of a run."""

    exp_name: str | None = field(
        default=None,
        metadata={
            "help": "Run name; the run directory is `output_dir/exp_name`. None derives "
            "`[<preset>-]<env>-<estimator>-<model>-s<seed>`, so rerunning the same command with --resume finds it."
        },
    )
    preset: str | None = field(
        default=None,
        metadata={
            "help": "Named settings the config starts from (smoke, cpu, cpu-lm, gpu-1.5b, gpu-7b), applied before "
            "every other flag; recorded and used in run_name."
        },
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
    device: str = field(default="auto", metadata={"help": "`auto` (cuda if available), `cpu`, `cuda`, `cuda:N`."})
    num_threads: int = field(
        default=0,
        metadata={"help": "torch intra-op CPU threads; 0 keeps torch's default. Small models run faster on 1."},
    )
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


@dataclass
class EnvConfig:
    """The training environments."""

    env_id: Annotated[str, tyro.conf.arg(aliases=("--env",))] = field(
        default="HiPER/ALFWorld-v0", metadata={"help": "Gymnasium id of the training env (`--env` for short)."}
    )
    env_kwargs: KwargsDict = field(
        default_factory=dict,
        metadata={"help": "Keyword arguments for `gym.make(env_id, ...)`, e.g. split, num_subtasks, task_types."},
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
        metadata={"help": "0 steps the envs in this process; N > 0 runs them in N workers of `env_backend`."},
    )
    env_backend: Literal["ray", "subprocess"] = field(
        default="ray",
        metadata={
            "help": "Where env_workers run:\n"
            "- ray: Ray actors, locally or on a cluster (`ray.init(address=...)`); a dead worker is replaced and "
            "its episodes replayed (the `ray` extra).\n"
            "- subprocess: worker processes on this machine (no extra); pays only with idle cores."
        },
    )
    max_episode_steps: int | None = field(
        default=None,
        metadata={
            "help": "Time limit per episode; None keeps the env's own default (ALFWorld: 50 per subtask; WebShop: 15). "
            "With train_num_subtasks it counts per subtask: a K-subtask env gets max_episode_steps * K."
        },
    )
    train_num_subtasks: tuple[int, ...] = field(
        default=(),
        metadata={
            "help": "A mix of composite tasks: env group g plays games of K = train_num_subtasks[g % len] subtasks "
            "(fixed by the group's index; ALFWorld's num_subtasks), each with a step limit per subtask (see "
            "max_episode_steps). Empty: every env plays env_kwargs' num_subtasks."
        },
    )


@dataclass
class PolicyConfig:
    """The policy family, its model and how it acts (prompts and generation for the LLM)."""

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
    scorer_memory: Literal["off", "slots", "episode"] = field(
        default="off",
        metadata={
            "help": "What the scorer policies remember of the episode (hiper_agent/policies/scorer/memory.py):\n"
            "- off: the current observation, the last few commands and counters.\n"
            "- slots: what was seen where: each object a command named keeps the observation it produced, read "
            "by the candidates naming it as overlap features and embeddings.\n"
            "- episode: slots, plus an attention summary of every past (command, observation) in the state."
        },
    )
    scorer_priors: bool = field(
        default=True,
        metadata={
            "help": "Start the scorer's overlap-feature and switch terms at hand-set weights (an inductive bias: "
            "follow the subgoal, name the task's objects, do not repeat yourself); False starts them at 0."
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
    prompt_style: Literal["auto", "full", "compact"] = field(
        default="auto",
        metadata={
            "help": "`full` (instructions in prose, for instruct models), `compact` (terse labelled lines, for "
            "small models trained from scratch: their speed is their prompt length) or `auto` (compact for `tiny` "
            "and for a folder saved from a tiny model, full otherwise)."
        },
    )
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
    generation_backend: Literal["hf", "vllm"] = field(
        default="hf",
        metadata={
            "help": "How the LLM policy samples:\n"
            "- hf: a decoding loop over the training model itself (any device).\n"
            "- vllm: an in-process vLLM engine fed the policy's weights whenever they change (CUDA only, the "
            "`vllm` extra; docs/scale.md)."
        },
    )


@dataclass
class CreditConfig:
    """Credit assignment: the advantage estimator and reward shaping."""

    advantage_estimator: AdvantageEstimatorName = field(
        default="hae",
        metadata={
            "help": "Credit assignment:\n"
            "- hae: HiPER; turn-level GAE inside each subgoal segment + SMDP GAE across segments "
            "(+ a switch advantage). Best credit on long tasks; needs a critic.\n"
            "- gae: flat turn-level GAE (PPO baseline) with gae_lambda; one value head, ignores segments; "
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
    keep_penalty_mode: Literal["fixed", "normalized"] = field(
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
    switch_cost: float = field(
        default=0.0,
        metadata={
            "help": "Deliberation cost: subtracted on a SWITCH that ends an option before its subgoal was achieved, "
            "so options last unless re-planning pays (Harb et al. 2018; HiPER: none)."
        },
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


@dataclass
class PPOConfig:
    """The PPO update."""

    num_iterations: int = field(
        default=30, metadata={"help": "Rollout + update iterations (HiPER: 150 epochs); 0 evaluates only."}
    )
    total_env_steps: int = field(
        default=0,
        metadata={
            "help": "Stop once the training rollouts have taken this many env steps (the budget axis for comparing "
            "methods: SB3's total_timesteps); 0: only num_iterations counts."
        },
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
    kl_estimator: Literal["low_var_kl", "k1", "k2"] = field(
        default="low_var_kl",
        metadata={
            "help": "- low_var_kl: k3, unbiased and low variance, clamped (verl's default, HiPER).\n"
            "- k1: log-ratio; unbiased, noisy, can go negative.\n"
            "- k2: squared log-ratio / 2; low variance, biased."
        },
    )
    entropy_coef: float = field(default=0.0, metadata={"help": "Entropy bonus weight (verl-agent: 0)."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping by global norm."})


@dataclass
class SFTConfig:
    """The expert warm start (SFT for the LLM, behaviour cloning for the scorer)."""

    sft_epochs: int = field(
        default=0, metadata={"help": "Epochs of supervised warm start on expert demos before PPO; 0 = off."}
    )
    sft_episodes: int = field(default=0, metadata={"help": "Expert episodes collected for the warm start."})
    sft_env_kwargs: KwargsDict = field(
        default_factory=dict,
        metadata={
            "help": "Extra keyword arguments of the expert env the demonstrations come from, over env_kwargs; "
            'e.g. {"expert_search": 0.6} on ALFWorld: the expert searches before it fetches an object.'
        },
    )
    sft_lr: float = field(default=5e-4, metadata={"help": "Learning rate of the warm start."})
    sft_batch_size: int = field(default=8, metadata={"help": "Steps per SFT optimizer step."})


@dataclass
class EvalConfig:
    """Held-out evaluation on fixed panels."""

    eval_split: str = field(
        default="valid_seen",
        metadata={
            "help": "Held-out split(s) for evaluation (passed as `split=` over env_kwargs); several are comma-"
            "separated, e.g. `valid_seen,valid_unseen`: each gets its own fixed panel and `eval/<split>/*` metrics."
        },
    )
    eval_every: int = field(
        default=5,
        metadata={"help": "Evaluate before training, every N iterations and after the last; 0 = never."},
    )
    eval_episodes: int = field(
        default=20, metadata={"help": "Episodes of each split's fixed panel: games 0..N-1 of the split."}
    )
    eval_num_subtasks: tuple[int, ...] = field(
        default=(),
        metadata={
            "help": "Composite evaluation: one fixed panel per split and K, logged as eval/<split>/k<K>/*; the K = 1 "
            "panel (else the first K) is also eval/<split>/*. Empty: one panel per split at env_kwargs' num_subtasks."
        },
    )
    eval_episodes_composite: int = field(
        default=0, metadata={"help": "Episodes of the K > 1 panels of eval_num_subtasks; 0 = eval_episodes."}
    )
    eval_steps_per_subtask: int | None = field(
        default=None,
        metadata={
            "help": "Step limit of the evaluation panels per subtask (K subtasks: this * K; ALFWorld's standard is "
            "50). None: the training envs' limit (max_episode_steps, or the env's default)."
        },
    )
    eval_seed: int = field(default=0, metadata={"help": "Reset seed of the panels' first episode (episode i: +i)."})
    eval_at_start: bool = field(
        default=True,
        metadata={
            "help": "Evaluate before the first PPO iteration (step 0, after any warm start): the run's reference "
            "point. An untrained policy plays most episodes to the step limit, so on composite panels this is the "
            "costliest evaluation of a run. `--num-iterations 0` evaluates the untrained policy alone either way."
        },
    )
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


#: The components of `HiPERConfig`, in order: attribute name -> class (also the ``--help`` groups).
COMPONENTS: dict[str, type] = {
    "run": RunConfig,
    "env": EnvConfig,
    "agent": PolicyConfig,
    "credit": CreditConfig,
    "ppo": PPOConfig,
    "sft": SFTConfig,
    "evaluation": EvalConfig,
}
