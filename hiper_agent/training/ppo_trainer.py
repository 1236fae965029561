"""PPO for HiPER, one loop for every policy family: rollout -> values -> advantages -> clipped update -> log.

Docs: docs/training.md. Paper: HiPER, https://arxiv.org/abs/2602.16165. The loop reads in the order it runs, as in
CleanRL's ``ppo.py``. It only talks to a `Policy` (``policies/``: the LLM, or the fast candidate scorer) and to an
`EnvPool` (``hiper_agent.envs``); the pieces live below it: rollout and buffer (``hiper_agent.rollout``), advantages
(``hiper_agent.credit``), evaluation on fixed panels (``hiper_agent.evaluation``), and beside it the loss
(``ppo_loss.py``), config (``ppo_config.py``), checkpoints (``checkpoint.py``), metrics (``metrics.py``).

Exact resume: every iteration derives all of its randomness from ``(seed, iteration)`` (see ``seeding.py``), so a
checkpoint holds only weights, optimizer states, the iteration and the metric history, and a run killed and
resumed ends with the same numbers as one that was never interrupted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import hiper_envs  # noqa: F401  (registers the HiPER/* ids)
from hiper_agent import credit
from hiper_agent.envs import EnvPool, make_pool
from hiper_agent.errors import SetupError
from hiper_agent.evaluation.panel_eval import evaluate_panels
from hiper_agent.policies import make_policy
from hiper_agent.rollout.buffer import RolloutBuffer
from hiper_agent.rollout.collect import collect_rollouts, group_resets, rollout_metrics
from hiper_agent.rollout.expert import expert_episodes
from hiper_agent.seeding import iteration_seed, seed_everything, seed_iteration, torch_generator
from hiper_agent.training.checkpoint import load_checkpoint, resolve_resume, save_checkpoint
from hiper_agent.training.distributed import Dist, NullLogger, gather_rollouts
from hiper_agent.training.metrics import MetricsLogger, ProgressBar, format_summary
from hiper_agent.training.plotting import plot_learning_curve
from hiper_agent.training.ppo_config import HiPERConfig, advantage_config
from hiper_agent.training.ppo_loss import kl_penalty, masked_mean, policy_loss, right_aligned, value_loss
from hiper_agent.types import Minibatch

__all__ = ["HiPERTrainer", "advantage_config", "train"]


class HiPERTrainer:
    """Trains any `Policy` with PPO and the advantage estimator named in the config.

    Example:
        >>> from hiper_agent.training.ppo_config import HiPERConfig, advantage_config
        >>> trainer = HiPERTrainer(HiPERConfig.from_preset("smoke"))  # doctest: +SKIP
        >>> summary = trainer.train()  # doctest: +SKIP
    """

    def __init__(self, config: HiPERConfig) -> None:
        self.config = c = config
        self.run_dir = Path(c.run_dir)
        # several processes under `accelerate launch` (see distributed.py), else a no-op
        self.dist = Dist.from_env(cpu=c.run.device == "cpu")
        with self.dist.main_first():
            self._resume_from = resolve_resume(c)  # a refused run dir fails now, not after a minute of setup
        seed_everything(c.run.seed)
        if c.run.num_threads > 0:
            torch.set_num_threads(c.run.num_threads)
        self.device = torch.device(
            "cuda"
            if c.run.device == "auto" and torch.cuda.is_available()
            else ("cpu" if c.run.device == "auto" else c.run.device)
        )
        if self.dist.enabled:
            self.device = self.dist.device  # cuda:LOCAL_RANK, or the CPU for a gloo group
        env_kwargs = c.env_kwargs()
        # progress shaping reads the expert's plan length: the training envs carry the oracle, evaluation never does
        oracle = {"expert": True} if c.credit.progress_shaping > 0 else {}
        share = self.dist.shard(c.env.num_envs, c.env.group_size)  # this rank's envs: whole groups
        per_env = [{**kwargs, **oracle} for kwargs in c.train_env_kwargs()[share]]  # a K mix: K set per group
        self.pool: EnvPool = make_pool(
            c.env.env_id, len(per_env), c.env.env_workers, c.env.env_backend, per_env=per_env
        )
        self.env_kwargs = env_kwargs
        self.panels = c.eval_panels() if self.dist.is_main else []  # rank 0 evaluates alone
        self.eval_pools: dict[str, EnvPool] = {}  # built on the first evaluation
        # expert demonstrations: the warm start's data (and the text the tiny LLM's tokenizer is trained on)
        self.demos: list[list[dict[str, Any]]] = []
        if c.sft.sft_episodes > 0 or (c.agent.policy == "llm" and c.agent.model == "tiny"):
            expert_env = gym.make(c.env.env_id, **{**env_kwargs, **c.sft.sft_env_kwargs}, expert=True)
            n = max(c.sft.sft_episodes, 8)
            self.demos = list(expert_episodes(expert_env, n, seed=iteration_seed(c.run.seed, 0, "sft")))
            expert_env.close()
        self.policy = make_policy(c.agent.policy, config=c, demos=self.demos, device=str(self.device))
        self.estimator = credit.get_estimator(c.credit.advantage_estimator)  # its facts: which critic heads it reads
        self._build_optimizers()
        self.iteration = 0
        self.totals = {"rollout/total_episodes": 0.0, "rollout/total_env_steps": 0.0}
        self.history: list[dict[str, float]] = []

    def _build_optimizers(self) -> None:
        c = self.config
        groups = self.policy.parameter_groups()
        lrs = {"policy": c.ppo.lr, "critic": c.ppo.critic_lr}
        self.optimizers = {name: torch.optim.AdamW(params, lr=lrs[name]) for name, params in groups.items() if params}

    # ------------------------------------------------------------------ the training loop
    def train(self) -> dict[str, Any]:
        """Run the warm start (if configured), then PPO iterations; returns the summary (printed by the CLI)."""
        c = self.config
        t_start = time.perf_counter()
        resumed = self._maybe_resume()
        logger = (
            MetricsLogger(
                self.run_dir,
                tensorboard=c.run.log_tensorboard,
                resume_step=self.iteration if resumed else None,
                history=self.history,
            )
            if self.dist.is_main
            else NullLogger(self.history)
        )
        self.history = logger.history  # every record of the run, warm start and pre-warm-start evaluation included
        if self.dist.is_main:
            c.save(self.run_dir)
        if not resumed:
            if c.sft.sft_epochs > 0:
                if c.evaluation.eval_before_sft and c.evaluation.eval_every > 0:
                    logger.log(-1, self._evaluate(-1))
                self._warm_start(logger)
            if c.ppo.kl_coef > 0:
                self.policy.freeze_reference()
            evaluate = c.evaluation.eval_every > 0 and (c.evaluation.eval_at_start or c.ppo.num_iterations == 0)
            logger.log(0, self._evaluate(0) if evaluate else {})
        bar = ProgressBar(
            total=c.ppo.num_iterations, initial=self.iteration, enabled=c.run.progress and self.dist.is_main
        )
        while self.iteration < c.ppo.num_iterations and not self._budget_spent():
            it = self.iteration + 1
            t0 = time.perf_counter()
            metrics = self._iteration(it)
            last = it == c.ppo.num_iterations or self._budget_spent()
            if c.evaluation.eval_every > 0 and (it % c.evaluation.eval_every == 0 or last):
                e0 = time.perf_counter()
                metrics.update(self._evaluate(it))
                metrics["time/eval_s"] = time.perf_counter() - e0
            metrics["time/iteration_s"] = time.perf_counter() - t0
            self.iteration = it
            logger.log(it, metrics)
            bar.update(metrics)
            if c.run.checkpoint_every > 0 and (it % c.run.checkpoint_every == 0 or last):
                self._save()
        bar.close()
        logger.close()
        if not self.dist.is_main:  # rank 0 saves, plots and summarizes
            self.close()
            note = f"rank {self.dist.rank} of {self.dist.world_size} done; rank 0 logs, saves and reports"
            return {"summary": note, "run_dir": str(self.run_dir), "plot": "", "history": self.history}
        self.policy.save(self.run_dir / "policy")  # load_policy(run_dir/policy) gives the trained agent
        plot = plot_learning_curve(self.run_dir / "metrics.jsonl", self.run_dir / "learning_curve.png")
        summary = {
            "summary": format_summary(
                self.history, config=c, plot_path=str(plot), seconds=time.perf_counter() - t_start
            ),
            "run_dir": str(self.run_dir),
            "plot": str(plot),
            "history": self.history,
        }
        self.close()
        return summary

    def _budget_spent(self) -> bool:
        """Whether the env-step budget (``total_env_steps``, 0: none) is used up."""
        budget = self.config.ppo.total_env_steps
        return budget > 0 and self.totals["rollout/total_env_steps"] >= budget

    def _iteration(self, it: int) -> dict[str, float]:
        c = self.config
        seed_iteration(c.run.seed, it)  # global RNGs too (dropout, ...): a resumed run replays exactly
        r0 = time.perf_counter()
        # 1. rollout: every group of `group_size` envs shares a task; each rank plays its share of the groups
        self.policy.eval()
        resets = group_resets(c.env.num_envs, c.env.group_size, iteration_seed(c.run.seed, it, "env"))
        share = self.dist.shard(len(resets), c.env.group_size)
        sample_stream = "sample" if self.dist.rank == 0 else f"sample/rank{self.dist.rank}"
        trajs, stats = collect_rollouts(
            self.pool,
            self.policy,
            resets[share],
            group_size=c.env.group_size,
            rng=torch_generator(iteration_seed(c.run.seed, it, sample_stream)),
            last_values=c.credit.bootstrap_truncated,
        )
        # 2. critic values at the decision points (each rank values its own turns), then every rank holds the batch
        turns = [turn for traj in trajs for turn in traj.turns]
        if self.estimator.needs_critic and self.policy.has_critic and turns:
            self.policy.compute_values(turns)
        trajs, stats = gather_rollouts(self.dist, trajs, stats, first_group=share.start // c.env.group_size)
        metrics = rollout_metrics(trajs, stats)
        self.totals["rollout/total_episodes"] += len(trajs)
        self.totals["rollout/total_env_steps"] += stats.env_steps
        metrics.update(self.totals)
        # 3. advantages (one compute_advantages call over the batch), returns
        buffer = RolloutBuffer(
            trajs,
            estimator=c.credit.advantage_estimator,
            config=advantage_config(c),
            reward_scale=c.credit.reward_scale,
        )
        buffer.compute_advantages()
        metrics.update(buffer.metrics())
        metrics["time/rollout_s"] = time.perf_counter() - r0
        # 4. PPO update
        u0 = time.perf_counter()
        metrics.update(self._update(buffer, it))
        metrics["time/update_s"] = time.perf_counter() - u0
        return metrics

    # ------------------------------------------------------------------ PPO update
    def _update(self, buffer: RolloutBuffer, it: int) -> dict[str, float]:
        c = self.config
        rng = np.random.default_rng(iteration_seed(c.run.seed, it, "minibatch"))
        if c.ppo.kl_coef > 0:
            buffer.set_reference(self.policy)
        logs: dict[str, list[float]] = {}
        self.policy.train()
        for _ in range(c.ppo.ppo_epochs):
            for mb in buffer.minibatches(c.ppo.minibatch_size, rng):
                for opt in self.optimizers.values():
                    opt.zero_grad(set_to_none=True)
                # this rank's rows; each micro loss is scaled so the sum over ranks is the minibatch's gradient
                for idx in self.policy.chunks(mb.turns, self.dist.rows(len(mb.turns)), c.micro_batch_size):
                    out = self._micro_loss(_select(mb, idx))
                    (out.pop("loss") * len(idx) / len(mb.turns)).backward()
                    for k, v in out.items():
                        logs.setdefault(k, []).append(v)
                for name, opt in self.optimizers.items():
                    params = [p for g in opt.param_groups for p in g["params"]]
                    self.dist.all_reduce_grads(params)
                    grad_norm = torch.nn.utils.clip_grad_norm_(params, c.ppo.max_grad_norm)
                    if name == "policy":
                        logs.setdefault("train/grad_norm", []).append(float(grad_norm))
                    opt.step()
        self.policy.eval()
        self.dist.check_in_sync([p for opt in self.optimizers.values() for g in opt.param_groups for p in g["params"]])
        return {k: float(np.mean(v)) for k, v in logs.items()}

    def _micro_loss(self, mb: Minibatch) -> dict[str, Any]:
        c = self.config
        use_values = self.estimator.needs_critic and self.policy.has_critic
        ev = self.policy.evaluate_actions(mb.turns, with_values=use_values)
        width = ev.logprobs.shape[1]
        old, adv, ref = (
            right_aligned(rows, width).to(ev.logprobs.device)
            for rows in (mb.old_logprobs, mb.advantages, mb.ref_logprobs)
        )
        # Policy loss
        pg = policy_loss(ev.logprobs, old, adv, ev.mask, c.ppo.clip_range)
        kl = masked_mean(kl_penalty(ev.logprobs, ref, c.ppo.kl_estimator), ev.mask)
        mean_entropy = masked_mean(ev.entropy, ev.mask)
        loss = pg.loss + c.ppo.kl_coef * kl - c.ppo.entropy_coef * mean_entropy
        logs = {
            "train/policy_loss": pg.loss.item(),
            "train/kl": kl.item(),
            "train/clip_fraction": pg.clip_fraction.item(),
            "train/approx_kl": pg.approx_kl.item(),
            "train/entropy": mean_entropy.item(),
        }
        # Value loss, one per head, on the turns where the estimator gave that head a target
        if use_values and ev.values is not None:
            for name, head in (("low", 0), ("high", 1), ("switch", 2)):
                rows = np.flatnonzero(mb.value_mask[:, head])
                if not len(rows):
                    continue
                pred = ev.values[torch.as_tensor(rows, device=ev.values.device), head]
                olds, rets = (
                    torch.as_tensor(x[rows, head], dtype=torch.float32, device=pred.device)
                    for x in (mb.old_values, mb.returns)
                )
                v_loss = value_loss(pred, olds, rets, torch.ones_like(pred, dtype=torch.bool), c.ppo.value_clip_range)
                loss = loss + c.ppo.vf_coef * v_loss
                logs[f"train/value_loss_{name}"] = v_loss.item()
            heads = [v for k, v in logs.items() if k.startswith("train/value_loss_")]
            logs["train/value_loss"] = float(np.mean(heads)) if heads else 0.0
        logs["loss"] = loss
        return logs

    # ------------------------------------------------------------------ warm start, evaluation, checkpoints
    def warm_start(self, out_dir: str | Path | None = None) -> dict[str, float]:
        """Only the warm start (the ``hiper-sft`` entry point): evaluate, imitate the expert, evaluate, save.

        Returns the metrics (eval before, SFT loss, eval after); the policy goes to ``out_dir`` (default
        ``run_dir/sft_policy``), from where ``--model <folder>`` starts RL.
        """
        c = self.config
        if self.dist.enabled:
            raise SetupError("the warm start alone (hiper-sft) runs in one process; launch it without accelerate")
        logger = MetricsLogger(self.run_dir, tensorboard=c.run.log_tensorboard)
        c.save(self.run_dir)
        before = self._evaluate(-1) if c.evaluation.eval_episodes and c.evaluation.eval_before_sft else {}
        if before:
            logger.log(-1, before)
        self._warm_start(logger)
        after = self._evaluate(0) if c.evaluation.eval_episodes else {}
        logger.log(0, after)
        logger.close()
        self.policy.save(Path(out_dir) if out_dir is not None else self.run_dir / "sft_policy")
        self.close()
        return {**{f"before/{k}": v for k, v in before.items()}, **after}

    def _warm_start(self, logger: MetricsLogger) -> None:
        from tqdm.auto import tqdm

        c = self.config
        with tqdm(
            desc="SFT", unit="step", disable=not (c.run.progress and self.dist.is_main), dynamic_ncols=True
        ) as bar:

            def on_step(step: int, loss: float) -> None:
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
                bar.update()

            losses = self.policy.warm_start(self.demos[: c.sft.sft_episodes], c, on_step=on_step)
        self._build_optimizers()  # the warm start may rebuild the critic: fresh optimizers over the live parameters
        logger.log(-1, {"sft/loss_first": losses[0], "sft/loss": losses[-1], "sft/steps": float(len(losses))})

    def _evaluate(self, it: int) -> dict[str, float]:
        c = self.config
        if not self.dist.is_main:
            return {}
        for p in self.panels:
            if p.name not in self.eval_pools:
                kwargs = c.eval_env_kwargs(p)  # the training env's settings; the panel's split, K and step limit
                size = min(c.env.num_envs, p.episodes)
                self.eval_pools[p.name] = make_pool(c.env.env_id, size, c.env.env_workers, c.env.env_backend, **kwargs)
        from tqdm.auto import tqdm

        total = sum(p.episodes for p in self.panels)
        with tqdm(
            total=total, desc="eval", unit="ep", disable=not c.run.progress, leave=False, dynamic_ncols=True
        ) as bar:
            return evaluate_panels(
                self.eval_pools,
                self.policy,
                self.panels,
                greedy=c.evaluation.eval_temperature == 0,
                temperature=c.evaluation.eval_temperature or 1.0,
                rng_seed=iteration_seed(c.run.seed, it + 1, "eval"),
                prefixes=c.eval_prefixes,
                on_episodes=bar.update,
            )

    def _save(self) -> None:
        if not self.dist.is_main:
            return
        state = {
            "policy": self.policy.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
        }
        save_checkpoint(
            self.run_dir,
            self.iteration,
            state,
            config=self.config,
            trainer_state={"metrics_history": self.history, "totals": self.totals},
            keep=self.config.run.keep_checkpoints,
        )

    def _maybe_resume(self) -> bool:
        path = self._resume_from
        if path is None:
            return False
        state = load_checkpoint(path)
        self.policy.load_state_dict(state["policy"])
        self._build_optimizers()
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.iteration = int(state["iteration"])
        self.history = list(state["trainer_state"]["metrics_history"])
        self.totals = dict(state["trainer_state"].get("totals", self.totals))
        return True

    def close(self) -> None:
        """Release the env pools."""
        for pool in (self.pool, *self.eval_pools.values()):
            pool.close()
        self.dist.close()


def _select(mb: Minibatch, idx: list[int]) -> Minibatch:
    """The rows ``idx`` of a minibatch (a micro-batch)."""
    return Minibatch(
        mb.indices[idx],
        [mb.turns[i] for i in idx],
        [mb.advantages[i] for i in idx],
        [mb.old_logprobs[i] for i in idx],
        [mb.ref_logprobs[i] for i in idx],
        mb.returns[idx],
        mb.old_values[idx],
        mb.value_mask[idx],
    )


def train(config: HiPERConfig) -> dict[str, Any]:
    """Train with ``config``; returns ``{"summary": str, "run_dir": str, "plot": str, "history": [...]}``."""
    return HiPERTrainer(config).train()
