"""Rollout: play N envs in lockstep with batched generation and record trajectories with their segments.

The agent talks to the envs only through Gymnasium and the option protocol: it sends the model's raw three-block
response to ``env.step`` and reads the option keys back from ``info``. Each env is reset with a seed shared by its
group, so ``group_size`` envs play the same task (what GRPO, RLOO and GiGPO need).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from hiper_agent.credit.masks import TokenMasks, char_spans_to_token_masks
from hiper_agent.models.critic import value_positions
from hiper_agent.prompts import HistoryEntry, PromptBuilder
from hiper_envs.options import parse_response

__all__ = ["RolloutStats", "Trajectory", "Turn", "collect_rollouts", "rollout_metrics", "token_offsets"]


@dataclass
class Turn:
    """One env step: the prompt, the model's response and what the env said back.

    ``switch`` is the option decision the env executed (the first step of an episode always opens an option);
    ``subgoal`` is the option's subgoal as the env tracks it, ``written_subgoal`` what the response wrote;
    ``masks`` mark the response tokens of the ``switch``/``subgoal``/``action`` blocks; ``values`` are filled by the
    critic after the rollout (``low``, ``high``, ``switch``), read at the response tokens ``value_pos``
    (``high``, ``low``, ``switch``; see :func:`hiper_agent.models.value_positions`). ``plan_progress`` is how many
    commands of an optimal plan the step completed, from a training env's oracle (``info["expert_plan_length"]``,
    ``expert=True``): ``L(s) - L(s')``, 0 when the env has none.
    """

    prompt_ids: list[int]
    response_ids: list[int]
    logprobs: list[float]
    allowed: list[list[int] | None] | None
    text: str
    observation: str
    switch: bool
    subgoal: str | None
    written_subgoal: str | None = None
    reward: float = 0.0
    done: bool = False
    invalid: bool = False
    format_error: bool = False
    keep_changed: bool = False
    subgoal_achieved: bool = False
    plan_progress: float = 0.0
    masks: TokenMasks | None = None
    value_pos: tuple[int, int, int] = (0, 0, 0)
    values: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class Trajectory:
    """One episode of one env."""

    turns: list[Turn]
    group_id: int
    task_id: str
    task_type: str
    won: bool = False
    score: float = 0.0
    truncated: bool = False

    @property
    def num_segments(self) -> int:
        """Number of options the episode used."""
        return sum(1 for i, t in enumerate(self.turns) if i == 0 or t.switch)


@dataclass
class RolloutStats:
    """Throughput of one rollout."""

    new_tokens: int = 0
    seconds: float = 0.0
    generate_seconds: float = 0.0
    env_seconds: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per wall-clock second of the whole rollout."""
        return self.new_tokens / max(self.seconds, 1e-9)


def token_char_ends(tokenizer: Any, ids: Sequence[int]) -> list[int]:
    """For each token, the character offset where its text ends in ``decode(ids)``.

    Works for any tokenizer (byte-level pieces that only decode in pairs simply share an end), and agrees with
    how the response text was produced, unlike re-tokenizing the text.
    """
    ends, previous = [], 0
    for j in range(len(ids)):
        previous = max(previous, len(tokenizer.decode(ids[: j + 1], skip_special_tokens=False)))
        ends.append(previous)
    return ends


def token_offsets(tokenizer: Any, ids: Sequence[int]) -> list[tuple[int, int]]:
    """Per-token ``(start, end)`` character offsets in ``decode(ids)``."""
    ends = token_char_ends(tokenizer, ids)
    return list(zip([0, *ends[:-1]], ends, strict=True))


def collect_rollouts(
    envs: Sequence[gym.Env],
    generator: Any,
    prompt_builder: PromptBuilder,
    *,
    group_size: int,
    seed: int,
    torch_generator: Any = None,
    constrained: bool = False,
    keep_subgoal: bool = False,
    greedy: bool = False,
    reset_options: Sequence[dict[str, Any] | None] | None = None,
) -> tuple[list[Trajectory], RolloutStats]:
    """Play one episode in every env, batching the model's generation across envs.

    Args:
        envs: the environments (plain Gymnasium envs, stepped in lockstep).
        generator: a :class:`hiper_agent.generation.GenerationBackend`.
        prompt_builder: turns observations into prompts.
        group_size: consecutive envs sharing one task (reset with the same seed).
        seed: base seed; group ``g`` resets with ``seed + g``.
        torch_generator: the sampling RNG (seeded by the caller for reproducibility).
        constrained: restrict ``<switch>`` to KEEP/SWITCH and ``<action>`` to the admissible commands.
        keep_subgoal: with ``constrained``, force the subgoal after KEEP to the current one (KEEP continues it).
        greedy: argmax decoding (evaluation).
        reset_options: per-env ``options`` for ``reset`` (e.g. a fixed ``game_index`` for evaluation).

    Returns:
        One trajectory per env, and throughput numbers.
    """
    from hiper_agent.generation import FormatConstraint

    if len(envs) % group_size:
        raise ValueError(f"len(envs)={len(envs)} must be divisible by group_size={group_size}")
    t0 = time.perf_counter()
    stats = RolloutStats()
    tokenizer = generator.tokenizer
    obs, infos, histories, trajs = [], [], [], []
    for i, env in enumerate(envs):
        options = reset_options[i] if reset_options is not None else None
        o, info = env.reset(seed=seed + i // group_size, options=options)
        obs.append(o)
        infos.append(info)
        histories.append([])
        trajs.append(Trajectory([], i // group_size, str(info.get("task_id", "")), str(info.get("task_type", ""))))
    active = list(range(len(envs)))
    while active:
        prompts = [prompt_builder.build(obs[i], infos[i], histories[i], infos[i].get("subgoal")) for i in active]
        constraints = None
        if constrained:
            # an env with no admissible command left cannot be constrained: let the model write freely
            constraints = [FormatConstraint(list(infos[i]["admissible_commands"]),
                                            keep_subgoal=infos[i].get("subgoal") if keep_subgoal else None)
                           if infos[i]["admissible_commands"] else None for i in active]  # fmt: skip
        g0 = time.perf_counter()
        samples = generator.generate(prompts, constraints=constraints, generator=torch_generator, greedy=greedy)
        stats.generate_seconds += time.perf_counter() - g0
        still_active = []
        for i, sample in zip(active, samples, strict=True):
            e0 = time.perf_counter()
            first = len(trajs[i].turns) == 0
            next_obs, reward, terminated, truncated, info = envs[i].step(sample.text)
            stats.env_seconds += time.perf_counter() - e0
            stats.new_tokens += len(sample.response_ids)
            parsed = parse_response(sample.text, first_step=first)
            offsets = token_offsets(tokenizer, sample.response_ids)
            turn = Turn(
                prompt_ids=list(sample.prompt_ids),
                response_ids=list(sample.response_ids),
                logprobs=list(sample.logprobs),
                allowed=sample.allowed,
                text=sample.text,
                observation=obs[i],
                switch=bool(info["option_started"]),
                subgoal=info.get("subgoal"),
                written_subgoal=parsed.subgoal,
                reward=float(reward),
                done=bool(terminated),
                invalid=bool(info["invalid_action"]),
                format_error=not parsed.is_valid,
                keep_changed=bool(info.get("subgoal_changed_on_keep", False)),
                subgoal_achieved=info.get("subgoal_status") == "achieved",
                plan_progress=_plan_progress(infos[i], info),
                masks=char_spans_to_token_masks(offsets, parsed.spans),
                value_pos=value_positions(sample.text, offsets) if offsets else (0, 0, 0),
            )
            trajs[i].turns.append(turn)
            histories[i].append(HistoryEntry(obs[i], info.get("action") or parsed.action or ""))
            obs[i], infos[i] = next_obs, info
            if terminated or truncated:
                trajs[i].won = bool(info.get("won", False))
                trajs[i].score = float(info.get("score", 0.0))
                trajs[i].truncated = bool(truncated and not terminated)
            else:
                still_active.append(i)
        active = still_active
    stats.seconds = time.perf_counter() - t0
    return trajs, stats


def rollout_metrics(trajs: Sequence[Trajectory], stats: RolloutStats, prefix: str = "rollout") -> dict[str, float]:
    """Summary metrics of a batch of trajectories (namespaced, see ``docs/training.md``)."""
    turns = [t for traj in trajs for t in traj.turns]
    return {
        f"{prefix}/success_rate": float(np.mean([t.won for t in trajs])),
        f"{prefix}/score": float(np.mean([t.score for t in trajs])),
        f"{prefix}/episode_return": float(np.mean([sum(x.reward for x in t.turns) for t in trajs])),
        f"{prefix}/episode_length": float(np.mean([len(t.turns) for t in trajs])),
        f"{prefix}/segments_per_episode": float(np.mean([t.num_segments for t in trajs])),
        f"{prefix}/invalid_rate": float(np.mean([x.invalid for x in turns])) if turns else 0.0,
        f"{prefix}/format_error_rate": float(np.mean([x.format_error for x in turns])) if turns else 0.0,
        f"{prefix}/subgoal_achieved_rate": float(np.mean([x.subgoal_achieved for x in turns])) if turns else 0.0,
        f"{prefix}/tokens_per_s": stats.tokens_per_s,
        f"{prefix}/episodes": float(len(trajs)),
    }


def _plan_progress(before: dict[str, Any], after: dict[str, Any]) -> float:
    """``L(s) - L(s')`` from the oracle's ``expert_plan_length`` (0 once won); 0 when either side has none."""
    length_before = before.get("expert_plan_length")
    length_after = 0 if after.get("won") else after.get("expert_plan_length")
    return 0.0 if length_before is None or length_after is None else float(length_before - length_after)
