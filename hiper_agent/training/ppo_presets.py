"""Named settings for `HiPERConfig.from_preset` and `hiper-train --preset` (docs: docs/training.md)."""

from __future__ import annotations

from typing import Any

__all__ = ["ENV_DEFAULTS", "PRESETS"]

_PAPER: dict[str, Any] = {
    # HiPER's ALFWorld script (hiper-reference.md §1e): 16 groups × 8 envs, 50 steps, 150 epochs.
    "num_envs": 128,
    "group_size": 8,
    "max_episode_steps": 50,
    "history_length": 2,
    "critic_model": "Qwen/Qwen2.5-1.5B-Instruct",
    "dtype": "bfloat16",
    "device": "auto",
    "max_prompt_tokens": 2048,
    "max_new_tokens": 512,  # paper cap; responses are ~30-60 tokens, the cap only binds on runaway text
    "temperature": 1.0,
    "top_p": 1.0,
    "constrained_decoding": False,
    "advantage_estimator": "hae",
    "gamma": 1.0,
    "lam_low": 1.0,
    "lam_high": 0.95,
    "norm_adv": True,
    "bootstrap_truncated": True,
    "reward_scale": 10.0,
    "invalid_action_penalty": 0.1,
    "keep_penalty": 0.3,
    "keep_penalty_mode": "normalized",
    "keep_consistency_penalty": 0.3,
    "num_iterations": 150,
    "ppo_epochs": 1,
    "minibatch_size": 256,
    "grad_accum_steps": 16,
    "lr": 1e-6,
    "critic_lr": 1e-5,
    "clip_range": 0.2,
    "value_clip_range": 0.5,
    "kl_coef": 0.01,
    "kl_estimator": "low_var_kl",
    "entropy_coef": 0.0,
    "max_grad_norm": 1.0,
    "sft_epochs": 0,
    "sft_episodes": 0,
    "eval_every": 5,
    "eval_episodes": 128,
    "eval_temperature": 0.4,
    "checkpoint_every": 10,
}

_PAPER_WEBSHOP: dict[str, Any] = {
    "env_id": "HiPER/WebShop-v0",
    "env_kwargs": {"split": "train"},
    "eval_split": "test",
    "keep_penalty": 3.5,
    "bootstrap_truncated": False,
}

_CPU_V1: dict[str, Any] = {
    "policy": "scorer",
    "num_threads": 1,  # the scorer's matrices are small: a second thread costs more than it gives
    # games compiled ahead (resets ~10 ms instead of ~340 ms); the subgoal offer of the time (mostly the next command)
    "env_kwargs": {"pool_size": 512, "subgoal_vocabulary": "primitive"},
    "num_envs": 32,
    "group_size": 1,
    "max_episode_steps": 30,
    "temperature": 0.5,  # measured: sampling at 1.0 won 6% of training episodes, 0.5 ~15%: more signal
    "advantage_estimator": "hae",
    "reward_scale": 1.0,
    "gamma": 0.99,
    "lam_low": 0.95,
    "lam_high": 0.95,
    "bootstrap_truncated": True,
    "subgoal_bonus": 1.0,  # env-verified subgoal reached: executor-only reward (HAE keeps it off the planner)
    "num_iterations": 160,  # 5,120 training episodes
    "ppo_epochs": 4,
    "minibatch_size": 256,
    "grad_accum_steps": 1,
    "lr": 3e-3,  # measured: 1e-3 did not move training success in 40 iterations, 3e-3 did
    "critic_lr": 1e-3,
    "kl_coef": 0.0,
    "entropy_coef": 0.01,
    "eval_split": "valid_seen,valid_unseen",
    "eval_every": 160,  # before training and after the last iteration
    "eval_episodes": 500,
    "eval_temperature": 0.0,  # greedy: the policy's best guess, and no sampling noise in the comparison
    "checkpoint_every": 10,
}

# What the default `cpu` preset changes over `cpu-v1` (issue 21), measured: see docs/training.md.
_CPU_V2: dict[str, Any] = {
    # measured (40 iterations of cpu-v1, seed 1, valid_unseen 200 games, greedy; docs/training.md): memory off
    # 16.5% -> 22.0%, slots 18.0% -> 68.5%, episode 15.0% -> 51.5% (and 0.76x the speed of off, slots 0.91x)
    "env_kwargs": {"pool_size": 512},  # task-level subgoals (the env's default offer)
    # both cores: the envs step in 2 worker processes while this one runs the policy (benchmarks/bench_rollout.py
    # --training-iterations 2: 1.42x the training env steps/s of in-process envs, the same metrics)
    "env_workers": 2,
    "env_backend": "subprocess",
    "scorer_memory": "slots",
    # a deliberation cost on ending an option before its subgoal is reached: without it the planner re-decides at
    # no price and its options shrink to ~1.5 steps (measured, docs/training.md); 0.05 against a win's 1.0
    "switch_cost": 0.05,
    "max_episode_steps": 30,  # per subtask here (train_num_subtasks): 30, 60, 90 steps; evaluation plays 50 per subtask
    "train_num_subtasks": (1, 2, 3),  # env group g plays K = 1 + g % 3
    "eval_num_subtasks": (1, 2, 3),
    "eval_episodes_composite": 200,
    "eval_steps_per_subtask": 50,  # ALFWorld's standard budget (the paper's and every published number's)
    # the final evaluation plays ~100k steps (1,000 games at K = 1, 400 each at K = 2, 3); the same panels before
    # training would play ~145k more (the untrained policy runs most games to the limit), so the reference point
    # is its own command: `--num-iterations 0`
    "eval_at_start": False,
    # ~10 s per iteration with the env workers (1,700 env steps and the update); measured on the first 200
    # `valid_unseen` games, K = 1 (docs/training.md): 42.5 / 43.0 / 77.5 / 83.5 % after 12 / 24 / 36 / 48
    # iterations; 48 leave ~7 minutes of the 20 for the final evaluation
    "num_iterations": 48,
    "eval_every": 48,  # after the last iteration
}

# The CPU learner of `cpu` on WebShop (issue 18): the same scorer (memory slots, task-level subgoals, the switch
# cost, HAE), warm-started by behaviour cloning of the env's expert, then PPO on the train goals (1500+); greedy
# evaluation on the 500 test goals at WebShop's usual 15 steps. Measured: docs/webshop.md#training-on-webshop.
_CPU_WEBSHOP: dict[str, Any] = {
    **_CPU_V1,
    **_CPU_V2,
    "env_id": "HiPER/WebShop-v0",
    "env_kwargs": {"split": "train"},
    "max_episode_steps": 15,
    "train_num_subtasks": (),  # WebShop has no composite tasks
    "eval_num_subtasks": (),
    "eval_episodes_composite": 0,
    "eval_steps_per_subtask": None,
    "eval_split": "test",
    "eval_episodes": 500,
    # measured (probes, seed 1, first 200 test goals, greedy; docs/webshop.md): RL from scratch 3.0 % after 20
    # iterations; the expert's 800 episodes x 8 epochs 65.0 % (400 x 4: 17.5 %, before the product subgoals
    # named the product's rank and title); RL on top of it at the cpu preset's lr 3e-3 fell to 10-20 % in
    # training rollouts, at 1e-3 it held (65.0 % -> 68.0 % at 75 iterations)
    "sft_episodes": 800,
    "sft_epochs": 8,
    "eval_before_sft": False,  # the untrained policy: 0.0 % (measured), a minute of the budget
    "lr": 1e-3,
    "num_iterations": 100,  # 3,200 episodes
    "eval_at_start": True,  # after the warm start: the curve's first point
    "eval_every": 25,
}

#: Named settings for `HiPERConfig.from_preset` and `hiper-train --preset`. `cpu` is the CLI default.
PRESETS: dict[str, dict[str, Any]] = {
    # CI-sized end-to-end run, ~1-2 min on 2 CPU cores: checks plumbing, learns nothing.
    "smoke": {
        "model": "tiny",
        "num_threads": 1,  # the tiny model's matrices are too small to gain from a second thread
        "num_envs": 4,
        "group_size": 2,  # lets `--advantage-estimator grpo` run on this preset too
        "max_episode_steps": 8,
        "max_prompt_tokens": 384,
        "max_new_tokens": 32,
        "constrained_decoding": True,
        "num_iterations": 2,
        "ppo_epochs": 1,
        "minibatch_size": 16,
        "grad_accum_steps": 2,
        "lr": 1e-4,
        "critic_lr": 1e-3,
        "sft_epochs": 1,
        "sft_episodes": 4,
        "sft_batch_size": 8,
        "eval_every": 2,
        "eval_episodes": 4,
        "checkpoint_every": 1,
    },
    # Default: the fast candidate-scoring policy with a memory of the episode, RL from scratch (no expert, no SFT)
    # with HAE on a mix of 1-, 2- and 3-subtask games at ALFWorld's standard budget (50 steps per subtask);
    # evaluated at K = 1 on 500 and at K = 2, 3 on 200 games of valid_seen and valid_unseen (see the README).
    "cpu": {**_CPU_V1, **_CPU_V2},
    # The default until issue 21 (kept so its numbers stay reproducible): no episode memory, K = 1 only, 30 steps.
    "cpu-v1": _CPU_V1,
    # The same learner on WebShop (docs/webshop.md#training-on-webshop).
    "cpu-webshop": _CPU_WEBSHOP,
    # The tiny LLM on a CPU: SFT warm start then PPO with HAE, meant to fit in <= 30 min on 2 cores (the default
    # until the fast scorer policy; measured: see docs/training.md).
    "cpu-lm": {
        "model": "tiny",
        "num_threads": 1,
        "num_envs": 32,
        "group_size": 8,  # 4 tasks × 8 episodes: the SFT'd policy wins a task almost always or almost never
        "max_episode_steps": 25,
        "history_length": 1,  # the prompt is the tiny model's cost: one past step in full ...
        "action_memory": 12,  # ... and the actions before it (measured: SFT'd success 18% -> 27% on 128 games)
        "max_prompt_tokens": 512,
        "max_new_tokens": 48,
        "constrained_decoding": True,
        "advantage_estimator": "hae",
        "invalid_action_penalty": 0.1,
        # measured from the SFT'd policy (docs/training.md): with HiPER's KEEP penalties the planner drifts to
        # ever more segments and held-out success fell; without them and with an executor subgoal bonus it held
        "keep_penalty": 0.0,
        "keep_consistency_penalty": 0.0,
        "subgoal_bonus": 1.0,
        "bootstrap_truncated": True,
        "num_iterations": 6,
        "ppo_epochs": 1,
        "minibatch_size": 64,
        "grad_accum_steps": 4,
        "lr": 5e-5,  # measured from the SFT'd policy: 1e-4 lowered held-out success by 8-16 points in 6 iterations
        "critic_lr": 1e-4,
        "sft_epochs": 4,  # a model trained from scratch needs a real warm start before RL has any signal
        "sft_episodes": 200,
        "sft_lr": 5e-4,
        "sft_batch_size": 16,
        "eval_every": 6,
        "eval_before_sft": False,  # the untrained model scores ~0% (0.8% measured) and its evaluation costs 3 min
        "eval_episodes": 128,  # 64 games measured success only to +-6 points
        "eval_temperature": 1.0,  # evaluate the policy PPO optimizes (sampling at the training temperature)
        "checkpoint_every": 2,
    },
    # The paper's ALFWorld settings (Qwen2.5-1.5B-Instruct policy, separate 1.5B critic); paper: 95.3% success.
    "gpu-1.5b": {**_PAPER, "model": "Qwen/Qwen2.5-1.5B-Instruct"},
    # The paper ran 7B on 4 GPUs with full fine-tuning (97.4% on ALFWorld); on one GPU add e.g. `--lora-r 64`.
    "gpu-7b": {**_PAPER, "model": "Qwen/Qwen2.5-7B-Instruct"},
    # The paper's WebShop settings (run_webshop.sh): 50 steps, KEEP penalty 3.5 normalized, no bootstrap of a cut
    # episode (the agent must click "Buy Now" to be paid); train goals 1500+, test goals 0-499. Paper: 71.4% / 83.3%.
    "gpu-1.5b-webshop": {**_PAPER, **_PAPER_WEBSHOP, "model": "Qwen/Qwen2.5-1.5B-Instruct"},
    "gpu-7b-webshop": {**_PAPER, **_PAPER_WEBSHOP, "model": "Qwen/Qwen2.5-7B-Instruct"},
}

#: What a preset changes when it runs on another env than its own (ALFWorld): the env's own splits and budget.
#: Applied under the user's flags, e.g. `hiper-train --env HiPER/WebShop-v0` trains on WebShop's train goals
#: (1500+) and evaluates on its test goals (0-499), with the env's own step budget (15).
ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    "HiPER/WebShop-v0": {"env_kwargs": {"split": "train"}, "eval_split": "test", "max_episode_steps": None},
}
