"""Expert demonstrations on ALFWorld: whole episodes of the planner expert, with the observations the agent saw.

Each step records the expert's KEEP/SWITCH, canonical subgoal and action (:mod:`hiper_envs.alfworld.expert`), so
an episode is both an SFT target (``ExpertStep.response``) and a segmentation into options.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hiper_envs.alfworld.env import ALFWorldEnv
from hiper_envs.options import OptionAction, format_response

__all__ = ["ExpertEpisode", "ExpertStep", "expert_demonstrations"]


@dataclass
class ExpertStep:
    """One expert decision, with what the agent saw when it was taken.

    Attributes:
        observation: the observation before the action (the reset text, or the previous step's feedback).
        info: the ``info`` dict that came with ``observation``.
        switch: whether the action opens a new option (``<switch>SWITCH</switch>``).
        subgoal: the option's canonical subgoal.
        action: the admissible command taken.
        reward: the reward the step returned.
    """

    observation: str
    info: dict[str, Any]
    switch: bool
    subgoal: str
    action: str
    reward: float = 0.0

    @property
    def response(self) -> str:
        """The three-block text an LLM agent should write for this step (the SFT target)."""
        return format_response(self.switch, self.subgoal, self.action)


@dataclass
class ExpertEpisode:
    """One complete expert episode.

    Attributes:
        seed: the ``reset`` seed (the same seed replays the same episode).
        game_id: the game's id.
        task: the instruction.
        task_type: the task type (``composite`` for several subtasks).
        steps: the decisions, in order; segments start where ``switch`` is ``True``.
        won: whether the episode was won (always, for solvable games, within the step limit).
        final_observation: the observation after the last action.
        final_info: the ``info`` after the last action.
    """

    seed: int
    game_id: str
    task: str
    task_type: str
    steps: list[ExpertStep] = field(default_factory=list)
    won: bool = False
    final_observation: str = ""
    final_info: dict[str, Any] = field(default_factory=dict)

    @property
    def segments(self) -> list[tuple[str, list[ExpertStep]]]:
        """The options: ``(subgoal, steps)`` in order."""
        out: list[tuple[str, list[ExpertStep]]] = []
        for step in self.steps:
            if step.switch or not out:
                out.append((step.subgoal, []))
            out[-1][1].append(step)
        return out


def expert_demonstrations(
    env: ALFWorldEnv | Mapping[str, Any] | None = None,
    n: int | None = None,
    *,
    seed: int = 0,
    game_indices: Sequence[int] | None = None,
) -> Iterator[ExpertEpisode]:
    """Yield complete expert episodes (for SFT), episode ``i`` played from ``reset(seed=seed + i)``.

    The env is stepped with :class:`~hiper_envs.options.OptionAction` (switch, subgoal, action), so its option
    tracking (``option_id``, ``subgoal_status``...) follows the expert's segments.

    Args:
        env: an ``ALFWorldEnv`` made with ``expert=True`` (or a ``gym.make`` of it), or the keyword arguments to
            make one (``expert=True`` is added; the env is closed at the end); ``None`` means the defaults.
        n: number of episodes (default: ``len(game_indices)``, or 1).
        seed: the first episode's reset seed.
        game_indices: play these games of the task source, in order (``options={"game_index": ...}``), instead
            of the games the seeds draw; episode ``i`` plays ``game_indices[i % len(game_indices)]``.

    Example:
        >>> for episode in expert_demonstrations({"split": "train"}, n=2, seed=0):  # doctest: +SKIP
        ...     for step in episode.steps:
        ...         prompt, target = step.observation, step.response
    """
    owned = env is None or isinstance(env, Mapping)
    if owned:
        game_env = ALFWorldEnv(**{**dict(env or {}), "expert": True})
    else:
        game_env = env  # type: ignore[assignment]
    base = game_env.unwrapped
    if not getattr(base, "expert", False):
        raise ValueError("expert_demonstrations needs an env made with expert=True")
    try:
        count = n if n is not None else len(game_indices) if game_indices else 1
        for i in range(count):
            options = {"game_index": int(game_indices[i % len(game_indices)])} if game_indices else None
            obs, info = game_env.reset(seed=seed + i, options=options)
            episode = ExpertEpisode(seed + i, info["game_id"], info["task"], info["task_type"])
            done = False
            while not done:
                step = ExpertStep(obs, info, info["expert_switch"], info["expert_subgoal"], info["expert_action"])
                obs, reward, terminated, truncated, info = game_env.step(
                    OptionAction(action=step.action, switch=step.switch, subgoal=step.subgoal)
                )
                step.reward = float(reward)
                episode.steps.append(step)
                done = terminated or truncated
            episode.won, episode.final_observation, episode.final_info = bool(info["won"]), obs, info
            yield episode
    finally:
        if owned:
            game_env.close()
