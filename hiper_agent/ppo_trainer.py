"""PPO for HiPER: rollout -> critic values -> advantages (HAE or a flat baseline) -> clipped update -> log.

Docs: docs/training.md. Paper: HiPER, https://arxiv.org/abs/2602.16165. The loop reads in the order it runs, as in
CleanRL's ``ppo.py``; the pieces live beside it: prompts (``prompts.py``), rollout (``rollout.py``), credit
assignment (``credit/``), the loss (``ppo_loss.py``), the SFT warm start (``sft.py``), evaluation
(``evaluation.py``), config (``ppo_config.py``), checkpoints (``checkpoint.py``), metrics (``metrics.py``).

Exact resume: every iteration derives all of its randomness from ``(seed, iteration)`` (see ``seeding.py``), so a
checkpoint holds only weights, optimizer states, the iteration and the metric history, and a run killed and
resumed ends with the same numbers as one that was never interrupted.
"""

from __future__ import annotations

import copy
import json
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import hiper_envs  # noqa: F401  (registers the HiPER/* ids)
from hiper_agent import credit
from hiper_agent.batch import collate, critic_values, response_logprobs
from hiper_agent.checkpoint import load_checkpoint, resolve_resume, save_checkpoint
from hiper_agent.evaluation import evaluate
from hiper_agent.metrics import MetricsLogger, ProgressBar, format_summary
from hiper_agent.plotting import plot_learning_curve
from hiper_agent.ppo_config import HiPERConfig
from hiper_agent.ppo_loss import kl_penalty, masked_mean, policy_loss, value_loss
from hiper_agent.prompts import PromptBuilder, template_for_env
from hiper_agent.rollout import Trajectory, Turn, collect_rollouts, rollout_metrics
from hiper_agent.seeding import iteration_seed, seed_everything, seed_iteration, torch_generator
from hiper_agent.sft import build_sft_examples, expert_episodes, sft_train

__all__ = ["HiPERTrainer", "advantage_config", "train"]

HEADS = {"low": 0, "high": 1, "switch": 2}


class HiPERTrainer:
    """Trains an LLM agent with PPO and the advantage estimator named in the config.

    Example:
        >>> from hiper_agent.ppo_config import HiPERConfig
        >>> trainer = HiPERTrainer(HiPERConfig.from_preset("smoke"))  # doctest: +SKIP
        >>> summary = trainer.train()  # doctest: +SKIP
    """

    def __init__(self, config: HiPERConfig) -> None:
        from hiper_agent.generation import HFGenerator
        from hiper_agent.models import load_model

        self.config = c = config
        self.run_dir = Path(c.run_dir)
        self._resume_from = resolve_resume(c)  # a refused run dir fails now, not after a minute of setup
        seed_everything(c.seed)
        if c.num_threads > 0:
            torch.set_num_threads(c.num_threads)
        self.device = torch.device("cuda" if c.device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if c.device == "auto" else c.device))  # fmt: skip
        env_kwargs = dict(c.env_kwargs)
        if c.max_episode_steps is not None:
            env_kwargs["max_episode_steps"] = c.max_episode_steps
        # progress shaping reads the expert's plan length: the training envs carry the oracle, evaluation never does
        train_kwargs = {**env_kwargs, "expert": True} if c.progress_shaping > 0 else env_kwargs
        self.envs = [gym.make(c.env_id, **train_kwargs) for _ in range(c.num_envs)]
        eval_kwargs = {**env_kwargs, "split": c.eval_split}
        self.eval_envs = [gym.make(c.env_id, **eval_kwargs) for _ in range(min(c.num_envs, max(c.eval_episodes, 1)))]

        # expert demonstrations: the SFT data, and the text the tiny model's tokenizer is trained on
        self.demos: list[list[dict[str, Any]]] = []
        if c.sft_episodes > 0 or c.model == "tiny":
            expert_env = gym.make(c.env_id, **{**env_kwargs, **c.sft_env_kwargs}, expert=True)
            n = max(c.sft_episodes, 8)
            self.demos = list(expert_episodes(expert_env, n, seed=iteration_seed(c.seed, 0, "sft")))
            expert_env.close()
        # small models trained from scratch get terse prompts (their speed is their length); instruct models, prose
        self.prompts = PromptBuilder(template_for_env(c.env_id), _prompt_style(c), c.history_length,
                                     action_memory=c.action_memory)  # fmt: skip
        self.lm = load_model(c.model, dtype=c.dtype, device=str(self.device), seed=c.seed,
                             lora={"r": c.lora_r} if c.lora_r else None,
                             tokenizer_corpus=_corpus(self.demos, self.prompts) if c.model == "tiny" else None)  # fmt: skip
        self.policy = self.lm.model
        self.tokenizer = self.lm.tokenizer
        self.prompts.bind(self.tokenizer)
        self.generator = HFGenerator(self.lm, max_new_tokens=c.max_new_tokens, temperature=c.temperature,
                                     top_p=c.top_p)  # fmt: skip
        # evaluation samples at eval_temperature (0: greedy); it shares the live model with the training sampler
        self.eval_generator = HFGenerator(self.lm, max_new_tokens=c.max_new_tokens,
                                          temperature=c.eval_temperature or 1.0)  # fmt: skip
        self.uses_critic = c.advantage_estimator in ("hae", "gae")
        self.critic: torch.nn.Module | None = None
        self.critic_opt: torch.optim.Optimizer | None = None
        if self.uses_critic:
            self._build_critic()
        self.ref_policy: torch.nn.Module | None = None
        self.policy_opt = torch.optim.AdamW(self.policy.parameters(), lr=c.lr)
        self.iteration = 0
        self.history: list[dict[str, float]] = []

    # ------------------------------------------------------------------ the training loop
    def train(self) -> dict[str, Any]:
        """Run SFT (if configured), then PPO iterations; returns the summary (also printed by the CLI)."""
        c = self.config
        t_start = time.perf_counter()
        resumed = self._maybe_resume()
        logger = MetricsLogger(self.run_dir, tensorboard=c.log_tensorboard,
                               resume_step=self.iteration if resumed else None, history=self.history)  # fmt: skip
        self.history = logger.history  # every record of the run, SFT and pre-SFT evaluation included
        c.save(self.run_dir)
        if not resumed:
            if c.sft_epochs > 0:
                if c.eval_before_sft and c.eval_every > 0:
                    logger.log(-1, self._evaluate(-1))
                self._sft(logger)
                if self.critic is not None and c.critic_model is None and not c.shared_critic_backbone:
                    self._build_critic()  # a copy of the warm-started backbone knows the task: a better start
            self.ref_policy = self._frozen_copy(self.policy)
            start_metrics = self._evaluate(0) if c.eval_every > 0 else {}
            logger.log(0, start_metrics)
        bar = ProgressBar(total=c.num_iterations, initial=self.iteration, enabled=c.progress)
        while self.iteration < c.num_iterations:
            it = self.iteration + 1
            t0 = time.perf_counter()
            metrics = self._iteration(it)
            if c.eval_every > 0 and (it % c.eval_every == 0 or it == c.num_iterations):
                e0 = time.perf_counter()
                metrics.update(self._evaluate(it))
                metrics["time/eval_s"] = time.perf_counter() - e0
            metrics["time/iteration_s"] = time.perf_counter() - t0
            self.iteration = it
            logger.log(it, metrics)
            bar.update(metrics)
            if c.checkpoint_every > 0 and (it % c.checkpoint_every == 0 or it == c.num_iterations):
                self._save()
        bar.close()
        logger.close()
        self._save_policy(self.run_dir / "policy")  # load_model(run_dir/policy) gives the trained agent
        plot = plot_learning_curve(self.run_dir / "metrics.jsonl", self.run_dir / "learning_curve.png")
        summary = {
            "summary": format_summary(
                self.history, config=c, plot_path=str(plot), seconds=time.perf_counter() - t_start
            ),
            "run_dir": str(self.run_dir),
            "plot": str(plot),
            "history": self.history,
        }
        for env in (*self.envs, *self.eval_envs):
            env.close()
        return summary

    def _iteration(self, it: int) -> dict[str, float]:
        c = self.config
        seed_iteration(c.seed, it)  # global RNGs too (dropout, ...): a resumed run replays exactly
        r0 = time.perf_counter()
        # 1. rollout: every group of `group_size` envs shares a task
        trajs, stats = collect_rollouts(
            self.envs, self.generator, self.prompts, group_size=c.group_size,
            seed=iteration_seed(c.seed, it, "env"), torch_generator=torch_generator(iteration_seed(c.seed, it, "sample")),
            constrained=c.constrained_decoding, keep_subgoal=c.constrain_keep_subgoal,
        )  # fmt: skip
        metrics = rollout_metrics(trajs, stats)
        turns = [turn for traj in trajs for turn in traj.turns]
        # 2. critic values at HiPER's token positions
        if self.critic is not None:
            self._fill_values(turns)
        # 3. advantages, then per-token advantages on the blocks' tokens
        credit_trajs = [self._credit_traj(t) for t in trajs]
        advs = credit.compute_advantages(c.advantage_estimator, credit_trajs, advantage_config(c))
        samples = self._samples(trajs, advs, credit.token_advantages(credit_trajs, advs))
        metrics["train/advantage_mean"] = float(np.mean([a.adv_low.mean() for a in advs]))
        metrics["time/rollout_s"] = time.perf_counter() - r0
        # 4. PPO update
        u0 = time.perf_counter()
        metrics.update(self._update(samples, it))
        metrics["time/update_s"] = time.perf_counter() - u0
        return metrics

    def _build_critic(self) -> None:
        from hiper_agent.models import build_critic

        c = self.config
        source = self.lm if c.critic_model is None else c.critic_model
        self.critic = build_critic(source, shared_backbone=c.shared_critic_backbone, seed=c.seed).to(self.device)
        policy_ids = {id(p) for p in self.policy.parameters()}
        critic_params = [p for p in self.critic.parameters() if id(p) not in policy_ids]
        self.critic_opt = torch.optim.AdamW(critic_params, lr=c.critic_lr) if critic_params else None

    # ------------------------------------------------------------------ advantages
    def _credit_traj(self, traj: Trajectory) -> credit.Trajectory:
        turns = traj.turns
        values = np.array([t.values for t in turns], dtype=np.float64).reshape(len(turns), 3)
        flat = self.config.advantage_estimator == "gae"
        return credit.Trajectory(
            rewards=np.array([t.reward * self.config.reward_scale for t in turns]),
            dones=np.array([t.done for t in turns]),
            switches=np.array([t.switch for t in turns]),
            values_low=values[:, HEADS["high" if flat else "low"]],
            values_high=values[:, HEADS["high"]],
            values_switch=values[:, HEADS["switch"]] if not flat else None,
            group_id=traj.group_id,
            anchor_obs=[t.observation for t in turns],
            invalid=np.array([t.invalid for t in turns]),
            subgoal_achieved=np.array([t.subgoal_achieved for t in turns]),
            plan_progress=np.array([t.plan_progress for t in turns]),
            subgoals=[t.written_subgoal for t in turns],
            spans=[t.masks for t in turns],
            response_lengths=[len(t.response_ids) for t in turns],
        )

    def _samples(
        self, trajs: Sequence[Trajectory], advs: Sequence[credit.Advantages], token_advs: Sequence[Sequence[np.ndarray]]
    ) -> list[dict[str, Any]]:
        flat = self.config.advantage_estimator == "gae"
        samples = []
        for traj, adv, per_turn in zip(trajs, advs, token_advs, strict=True):
            for t, turn in enumerate(traj.turns):
                targets = []  # (head, response position, return, old value)
                if adv.ret_low is not None:
                    head = "high" if flat else "low"
                    targets.append((HEADS[head], _value_pos(turn)[head], adv.ret_low[t], turn.values[HEADS[head]]))
                if adv.ret_high is not None and adv.segment_start[t]:
                    targets.append((HEADS["high"], 0, adv.ret_high[t], turn.values[HEADS["high"]]))
                if adv.ret_switch is not None:
                    targets.append((HEADS["switch"], 0, adv.ret_switch[t], turn.values[HEADS["switch"]]))
                samples.append({"turn": turn, "adv": per_turn[t], "value_targets": targets})
        return samples

    # ------------------------------------------------------------------ critic
    @torch.no_grad()
    def _fill_values(self, turns: Sequence[Turn]) -> None:
        assert self.critic is not None
        self.critic.eval()
        for idx in _length_chunks(turns, range(len(turns)), self.config.micro_batch_size):
            chunk = [turns[i] for i in idx]
            batch = self._collate(chunk)
            values = critic_values(self.critic, batch)
            r = batch.response_length
            for b, turn in enumerate(chunk):
                n = len(turn.response_ids)
                col = {h: r - n + pos for h, pos in _value_pos(turn).items()}
                turn.values = tuple(float(values[b, col[h], HEADS[h]]) for h in ("low", "high", "switch"))

    # ------------------------------------------------------------------ PPO update
    def _update(self, samples: list[dict[str, Any]], it: int) -> dict[str, float]:
        c = self.config
        rng = np.random.default_rng(iteration_seed(c.seed, it, "minibatch"))
        ref_logprobs = self._ref_logprobs(samples)
        turns = [s["turn"] for s in samples]
        logs: dict[str, list[float]] = {}
        self.policy.train()
        for _ in range(c.ppo_epochs):
            order = rng.permutation(len(samples))
            for mb_start in range(0, len(order), c.minibatch_size):
                mb = order[mb_start : mb_start + c.minibatch_size]
                self.policy_opt.zero_grad(set_to_none=True)
                if self.critic_opt is not None:
                    self.critic_opt.zero_grad(set_to_none=True)
                for idx in _length_chunks(turns, mb, c.micro_batch_size):
                    out = self._micro_loss([samples[i] for i in idx], [ref_logprobs[i] for i in idx])
                    (out.pop("loss") * len(idx) / len(mb)).backward()
                    for k, v in out.items():
                        logs.setdefault(k, []).append(v)
                grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), c.max_grad_norm)
                logs.setdefault("train/grad_norm", []).append(float(grad_norm))
                self.policy_opt.step()
                if self.critic_opt is not None:
                    torch.nn.utils.clip_grad_norm_([p for g in self.critic_opt.param_groups for p in g["params"]],
                                                   c.max_grad_norm)  # fmt: skip
                    self.critic_opt.step()
        self.policy.eval()
        return {k: float(np.mean(v)) for k, v in logs.items()}

    def _micro_loss(self, samples: list[dict[str, Any]], ref_logprobs: list[torch.Tensor]) -> dict[str, Any]:
        c = self.config
        turns = [s["turn"] for s in samples]
        batch = self._collate(turns)
        r = batch.response_length
        old, adv, ref = torch.zeros((3, len(turns), r), dtype=torch.float32)  # right-aligned like the targets
        for b, (s, t) in enumerate(zip(samples, turns, strict=True)):
            n = len(t.response_ids)
            if n:
                old[b, r - n :] = torch.tensor(t.logprobs)
                adv[b, r - n :] = torch.from_numpy(np.asarray(s["adv"], dtype=np.float32))
                ref[b, r - n :] = ref_logprobs[b]
        old, adv, ref = old.to(self.device), adv.to(self.device), ref.to(self.device)
        logprobs, entropy = response_logprobs(self.policy, batch, temperature=c.temperature)
        # Policy loss
        pg = policy_loss(logprobs, old, adv, batch.response_mask, c.clip_range)
        kl = masked_mean(kl_penalty(logprobs, ref, c.kl_estimator), batch.response_mask)
        mean_entropy = masked_mean(entropy, batch.response_mask)
        loss = pg.loss + c.kl_coef * kl - c.entropy_coef * mean_entropy
        logs = {"train/policy_loss": pg.loss.item(), "train/kl": kl.item(), "train/clip_fraction": pg.clip_fraction.item(),
                "train/approx_kl": pg.approx_kl.item(), "train/entropy": mean_entropy.item()}  # fmt: skip
        # Value loss, one per head, at the heads' token positions
        if self.critic is not None:
            self.critic.train()
            values = critic_values(self.critic, batch)
            for name, head in HEADS.items():
                rows = [(b, r - len(s["turn"].response_ids) + pos, ret, old_v)
                        for b, s in enumerate(samples) for h, pos, ret, old_v in s["value_targets"] if h == head]  # fmt: skip
                if not rows:
                    continue
                b_idx, cols, rets, olds = (torch.tensor(x, device=self.device) for x in zip(*rows, strict=True))
                pred = values[b_idx, cols, head]
                v_loss = value_loss(pred, olds.float(), rets.float(), torch.ones_like(pred, dtype=torch.bool),
                                    c.value_clip_range)  # fmt: skip
                loss = loss + c.vf_coef * v_loss
                logs[f"train/value_loss_{name}"] = v_loss.item()
        logs["loss"] = loss
        return logs

    @torch.no_grad()
    def _ref_logprobs(self, samples: list[dict[str, Any]]) -> list[torch.Tensor]:
        model = self.ref_policy if self.ref_policy is not None and self.config.kl_coef > 0 else None
        turns = [s["turn"] for s in samples]
        if model is None:  # no KL term: any value works, use the old log-probs
            return [torch.tensor(t.logprobs, dtype=torch.float32) for t in turns]
        out: list[torch.Tensor] = [torch.empty(0)] * len(turns)
        for idx in _length_chunks(turns, range(len(turns)), self.config.micro_batch_size):
            batch = self._collate([turns[i] for i in idx])
            logprobs, _ = response_logprobs(model, batch, temperature=self.config.temperature)
            r = batch.response_length
            for b, i in enumerate(idx):
                out[i] = logprobs[b, r - len(turns[i].response_ids) :].cpu()
        return out

    # ------------------------------------------------------------------ SFT, evaluation, checkpoints
    def warm_start(self, out_dir: str | Path | None = None) -> dict[str, float]:
        """Only the SFT phase (the ``hiper-sft`` entry point): evaluate, imitate the expert, evaluate, save.

        Returns the metrics (eval before, SFT loss, eval after); the model goes to ``out_dir`` (default
        ``run_dir/sft_policy``), from where ``--model <folder>`` starts RL.
        """
        logger = MetricsLogger(self.run_dir, tensorboard=self.config.log_tensorboard)
        self.config.save(self.run_dir)
        before = self._evaluate(-1) if self.config.eval_episodes and self.config.eval_before_sft else {}
        if before:
            logger.log(-1, before)
        self._sft(logger)
        after = self._evaluate(0) if self.config.eval_episodes else {}
        logger.log(0, after)
        logger.close()
        self._save_policy(Path(out_dir) if out_dir is not None else self.run_dir / "sft_policy")
        return {**{f"before/{k}": v for k, v in before.items()}, **after}

    def _save_policy(self, folder: Path) -> None:
        self.lm.save_pretrained(folder)
        prompts = {"prompt_style": self.prompts.style, "history_length": self.prompts.history_length,
                   "action_memory": self.prompts.action_memory}  # fmt: skip
        (folder / "hiper.json").write_text(json.dumps({**prompts, "source": self.lm.source}))

    def _sft(self, logger: MetricsLogger) -> None:
        from tqdm.auto import tqdm

        c = self.config
        examples = build_sft_examples(self.demos[: c.sft_episodes], self.prompts)
        steps = c.sft_epochs * -(-len(examples) // c.sft_batch_size)
        with tqdm(total=steps, desc="SFT", unit="step", disable=not c.progress, dynamic_ncols=True) as bar:

            def on_step(step: int, loss: float) -> None:
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
                bar.update()

            losses = sft_train(self.policy, self.tokenizer, examples, epochs=c.sft_epochs, lr=c.sft_lr,
                               batch_size=c.sft_batch_size, seed=iteration_seed(c.seed, 0, "sft-train"),
                               on_step=on_step)  # fmt: skip
        logger.log(-1, {"sft/loss_first": losses[0], "sft/loss": losses[-1], "sft/examples": float(len(examples))})

    def _evaluate(self, it: int) -> dict[str, float]:
        c = self.config
        result = evaluate(self.eval_envs, self.eval_generator, self.prompts, num_episodes=c.eval_episodes,
                          constrained=c.constrained_decoding, keep_subgoal=c.constrain_keep_subgoal,
                          greedy=c.eval_temperature == 0,
                          torch_generator=torch_generator(iteration_seed(c.seed, it + 1, "eval")))  # fmt: skip
        return result.metrics("eval")

    def _state(self) -> dict[str, Any]:
        state = {"policy": self.policy.state_dict(), "policy_opt": self.policy_opt.state_dict()}
        if self.ref_policy is not None:
            state["ref_policy"] = self.ref_policy.state_dict()
        if self.critic is not None:
            state["critic"] = self.critic.state_dict()
        if self.critic_opt is not None:
            state["critic_opt"] = self.critic_opt.state_dict()
        return state

    def _save(self) -> None:
        save_checkpoint(self.run_dir, self.iteration, self._state(), config=self.config,
                        trainer_state={"metrics_history": self.history}, keep=self.config.keep_checkpoints)  # fmt: skip

    def _maybe_resume(self) -> bool:
        path = self._resume_from
        if path is None:
            return False
        state = load_checkpoint(path)
        self.policy.load_state_dict(state["policy"])
        self.policy_opt.load_state_dict(state["policy_opt"])
        if "ref_policy" in state:
            self.ref_policy = self._frozen_copy(self.policy)
            self.ref_policy.load_state_dict(state["ref_policy"])
        if self.critic is not None:
            self.critic.load_state_dict(state["critic"])
        if self.critic_opt is not None:
            self.critic_opt.load_state_dict(state["critic_opt"])
        self.iteration = int(state["iteration"])
        self.history = list(state["trainer_state"]["metrics_history"])
        return True

    # ------------------------------------------------------------------ helpers
    def _collate(self, turns: Sequence[Turn]):
        """The turns as a token batch on the trainer's device."""
        return collate([t.prompt_ids for t in turns], [t.response_ids for t in turns], self.tokenizer.pad_token_id,
                       [t.allowed for t in turns], device=self.device)  # fmt: skip

    @staticmethod
    def _frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
        ref = copy.deepcopy(model).eval()
        for p in ref.parameters():
            p.requires_grad_(False)
        return ref


def advantage_config(config: HiPERConfig) -> credit.AdvantageConfig:
    """The credit-assignment settings of a run: every estimator reads its own fields (see ``AdvantageConfig``)."""
    c = config
    shaping = credit.ShapingConfig(invalid_action_penalty=c.invalid_action_penalty, keep_penalty=c.keep_penalty,
                                   keep_penalty_mode=c.keep_penalty_mode,
                                   keep_consistency_penalty=c.keep_consistency_penalty,
                                   subgoal_bonus=c.subgoal_bonus, progress_coef=c.progress_shaping)  # fmt: skip
    return credit.AdvantageConfig(gamma=c.gamma, lam_low=c.lam_low, lam_high=c.lam_high, lam=c.gae_lambda,
                                  normalize=c.norm_adv, bootstrap_truncated=c.bootstrap_truncated,
                                  shaping=shaping)  # fmt: skip


def _length_chunks(turns: Sequence[Turn], indices: Iterable[int], size: int) -> list[list[int]]:
    """``indices`` in chunks of ``size``, shortest sequences first: a batch pads to its longest sequence."""
    ordered = sorted(indices, key=lambda i: len(turns[i].prompt_ids) + len(turns[i].response_ids))
    return [ordered[k : k + size] for k in range(0, len(ordered), size)]


def _value_pos(turn: Turn) -> dict[str, int]:
    """Where each head's value is read in the turn's response (HiPER's positions, see ``value_positions``)."""
    high, low, switch = turn.value_pos
    return {"low": low, "high": high, "switch": switch}


def _prompt_style(config: HiPERConfig) -> str:
    """The prompt style; a policy saved by the trainer keeps the prompts it learned on (warned about if they differ)."""
    saved_file = Path(config.model) / "hiper.json"
    saved = json.loads(saved_file.read_text()) if config.model != "tiny" and saved_file.is_file() else {}
    for name in ("history_length", "action_memory"):
        if name in saved and saved[name] != getattr(config, name):
            warnings.warn(f"{config.model} learned on prompts with {name}={saved[name]}, this run shows "
                          f"{getattr(config, name)}: pass --{name.replace('_', '-')} {saved[name]} to keep its prompts",
                          stacklevel=3)  # fmt: skip
    if config.prompt_style != "auto":
        return config.prompt_style
    return saved.get("prompt_style", "compact" if config.model == "tiny" else "full")


def _corpus(demos: Sequence[list[dict[str, Any]]], prompts: PromptBuilder) -> list[str]:
    """Text for training the tiny model's tokenizer: the prompts and responses of the expert demonstrations."""
    return [f"{e.prompt}{e.response}" for e in build_sft_examples(demos, prompts)]


def train(config: HiPERConfig) -> dict[str, Any]:
    """Train with ``config``; returns ``{"summary": str, "run_dir": str, "plot": str, "history": [...]}``."""
    return HiPERTrainer(config).train()
