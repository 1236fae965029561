"""The arms of the hierarchy-vs-flat study and the trainer config of one run (arm, seed, lr, temperature).

Every run trains the way the learner trains (the ``cpu`` preset): on a mix of composite tasks of K = 1, 2, 3
subtasks at once, the envs spread evenly over the K's, and is evaluated on a panel per K. So one run gives the
(arm, K, seed) cells of every K of the grid. (Trained on one K alone from scratch, no arm learned K = 3 within 30k
env steps: 0-3 %, measured; the mix is what lets the K = 1 games teach the skills the longer tasks chain.)

Every arm starts from the same preset (``cpu`` by default) and changes only what makes it that arm: the policy's
hierarchy (the preset's family, or its flat variant ``flat-<family>``), the advantage estimator and, for the
group estimators, the group size. Everything else (features, memory, model sizes, batch, PPO settings) is the
preset's, so when the preset's learner changes the arms follow it.

**Shaping.** Identical wherever a term exists for both arms of a comparison:

- for every arm, at the preset's value: the invalid-action penalty and plan-progress shaping
  (``progress_shaping``), both defined for any policy;
- for the hierarchical arms, at the preset's value: the executor's subgoal bonus (``subgoal_bonus``, paid when
  the env verifies the option's subgoal, once per subgoal and episode) and the switch cost (``switch_cost``, a
  deliberation cost on ending an option before its subgoal is reached). Both exist only for a policy that
  proposes subgoals: a flat policy has no subgoal to reach and never switches. They are the learner's own recipe
  (without the bonus the ``cpu`` learner hardly learns in 50k env steps: HiPER's validation success at K = 1 went
  from 17 % to 9-29 % over four tuning points, measured), and ``hiper`` and ``hier-gae`` get the same: the two
  differ only in the estimator. HAE pays the bonus to the executor alone; flat GAE lets it reach the planner,
  which is what "planning alone" with this reward measures (the first study: hier-gae's planner farmed easy
  subgoals, 18 % -> 2 %);
- off for every arm: the KEEP and KEEP-consistency penalties (a flat policy says KEEP on every step after the
  first, so a KEEP penalty would tax each of its steps; the switch cost does their job).

HiPER's paper has no subgoal-completion reward: the arm ``hiper-sparse`` is HiPER without the bonus (in the
``--full`` grid), so the gap it leaves to ``hiper`` says how much of HiPER's result is the bonus; and
``hier-gae-sparse`` is "planning alone" without it, so that HAE and flat GAE also meet on the same policy with
a reward the planner cannot farm (:data:`CREDIT_PAIRS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ARMS",
    "ARM_ORDER",
    "CREDIT_PAIRS",
    "STUDY_OVERRIDES",
    "Arm",
    "Cell",
    "RunPlan",
    "cell_config",
    "flat_family",
    "hierarchical_family",
    "shaping_of",
]


@dataclass(frozen=True)
class Arm:
    """One arm: a policy hierarchy, an estimator, a group size and its subgoal bonus."""

    name: str
    hierarchical: bool
    advantage_estimator: str
    group_size: int = 1
    subgoal_bonus: float | None = None
    """None: the preset's for a hierarchical arm (a flat policy has no subgoal, so 0 there)."""
    label: str = ""


ARMS: dict[str, Arm] = {
    "hiper": Arm("hiper", True, "hae", label="hierarchical policy + HAE (HiPER), executor subgoal bonus"),
    "hier-gae": Arm("hier-gae", True, "gae", label='hierarchical policy + flat GAE ("planning alone"), same bonus'),
    "flat-gae": Arm("flat-gae", False, "gae", label="flat policy + GAE (PPO)"),
    "flat-grpo": Arm("flat-grpo", False, "grpo", group_size=8, label="flat policy + GRPO (groups of 8)"),
    "flat-gigpo": Arm("flat-gigpo", False, "gigpo", group_size=8, label="flat policy + GiGPO (groups of 8)"),
    "hiper-sparse": Arm("hiper-sparse", True, "hae", subgoal_bonus=0.0, label="HiPER without the subgoal bonus"),
    "hier-gae-sparse": Arm(
        "hier-gae-sparse", True, "gae", subgoal_bonus=0.0, label="hierarchical policy + flat GAE, no subgoal bonus"
    ),
}
ARM_ORDER: tuple[str, ...] = tuple(ARMS)
#: HAE against flat GAE on the same hierarchical policy and reward: the credit assignment alone.
CREDIT_PAIRS: tuple[tuple[str, str], ...] = (("hiper", "hier-gae"), ("hiper-sparse", "hier-gae-sparse"))

#: Set in every cell, whatever the preset says: one process per cell (the grid runs cells in parallel, one per
#: core), greedy evaluation (the policy's best guess, no sampling noise in the comparison), no checkpoints.
STUDY_OVERRIDES: dict[str, Any] = {
    "num_threads": 1,
    "env_workers": 0,
    "eval_temperature": 0.0,
    "checkpoint_every": 0,
    "log_tensorboard": False,
    "progress": False,
    "overwrite": True,
    "resume": False,
    "num_iterations": 10**9,  # the env-step budget ends the run
}


def hierarchical_family(preset_policy: str) -> str:
    """The hierarchical policy family of a preset (``flat-scorer`` -> ``scorer``)."""
    return preset_policy.removeprefix("flat-")


def flat_family(preset_policy: str) -> str:
    """The flat variant of a preset's policy family, ``flat-<family>``, which must be registered.

    Raises:
        ValueError: The family has no registered flat variant (register ``flat-<family>`` beside it).
    """
    from hiper_agent.policies import policy_names

    name = f"flat-{hierarchical_family(preset_policy)}"
    if name not in policy_names():
        raise ValueError(
            f"policy family {preset_policy!r} has no flat variant {name!r} registered; the study "
            f"needs one for its flat arms (registered: {', '.join(policy_names())})"
        )
    return name


@dataclass(frozen=True)
class Cell:
    """One training run of the grid: a stage, an arm, a seed and the two tuned settings (every K of the mix)."""

    stage: str
    arm: str
    seed: int
    lr: float
    temperature: float

    @property
    def key(self) -> str:
        """The run's id: ``hiper/s0`` (report) or ``tune/hiper/lr0.003/T0.5``."""
        if self.stage == "report":
            return f"{self.arm}/s{self.seed}"
        return f"{self.stage}/{self.arm}/lr{self.lr:g}/T{self.temperature:g}"

    def record_key(self, k: int) -> str:
        """Its id in results.json at K subtasks: ``hiper/K1/s0`` (report) or ``tune/hiper/K1/lr0.003/T0.5``."""
        if self.stage == "report":
            return f"{self.arm}/K{k}/s{self.seed}"
        return f"{self.stage}/{self.arm}/K{k}/lr{self.lr:g}/T{self.temperature:g}"

    @property
    def slug(self) -> str:
        """Its run folder name."""
        return self.key.replace("/", "-")


@dataclass(frozen=True)
class RunPlan:
    """What every run of a stage shares: the preset, the K mix, the budget, the stage's panels and where runs go."""

    preset: str
    ks: tuple[int, ...]
    budget: int
    """Training env steps of a run, over the whole K mix."""
    num_envs: int
    steps_per_subtask: int
    split: str
    episodes: int
    curve_episodes: int
    eval_every: int
    panel_seed: int
    pool_size: int
    out: str
    overrides: dict[str, Any] = field(default_factory=dict)
    """Config fields set for every arm alike (``--set``), e.g. fewer PPO epochs for a quick check."""


def shaping_of(config: Any) -> dict[str, Any]:
    """The shaping fields of a config (to show that every arm trains on the same reward)."""
    names = (
        "invalid_action_penalty",
        "progress_shaping",
        "subgoal_bonus",
        "keep_penalty",
        "keep_penalty_mode",
        "keep_consistency_penalty",
        "switch_cost",
        "reward_scale",
    )
    flat = config.to_flat_dict()
    return {name: flat[name] for name in names}


def _subgoal_bonus(arm: Arm, preset: float) -> float:
    if not arm.hierarchical:
        return 0.0
    return preset if arm.subgoal_bonus is None else arm.subgoal_bonus


def cell_config(cell: Cell, plan: RunPlan) -> Any:
    """The `HiPERConfig` of one run: the preset, the arm's hierarchy and estimator, the K mix, the stage's panels.

    Raises:
        ValueError: The plan sets a field the study sets itself, or the envs do not split evenly over the K mix
            (each K must get as many env groups as the others, in every arm).
    """
    from hiper_agent.training.ppo_config import HiPERConfig

    base = HiPERConfig.from_preset(plan.preset, **plan.overrides)
    arm = ARMS[cell.arm]
    groups = plan.num_envs // arm.group_size
    if plan.num_envs % arm.group_size or groups % len(plan.ks):
        raise ValueError(
            f"num_envs ({plan.num_envs}) must split into groups of {arm.group_size} ({cell.arm}) that "
            f"spread evenly over K = {list(plan.ks)}: use a multiple of {arm.group_size * len(plan.ks)}"
        )
    family = hierarchical_family(base.agent.policy) if arm.hierarchical else flat_family(base.agent.policy)
    env_kwargs = {k: v for k, v in base.env.env_kwargs.items() if k != "num_subtasks"}
    overrides: dict[str, Any] = {
        **STUDY_OVERRIDES,
        "policy": family,
        "advantage_estimator": arm.advantage_estimator,
        "group_size": arm.group_size,
        "seed": cell.seed,
        "lr": cell.lr,
        "temperature": cell.temperature,
        # shaping: see the module docstring
        "subgoal_bonus": _subgoal_bonus(arm, base.credit.subgoal_bonus),
        "keep_penalty": 0.0,
        "keep_consistency_penalty": 0.0,
        # the K mix: env group g plays K = ks[g % len(ks)]; a panel per K, on the panel's first games for the curve
        "num_envs": plan.num_envs,
        "train_num_subtasks": plan.ks,
        "eval_num_subtasks": plan.ks,
        "env_kwargs": {**env_kwargs, "pool_size": plan.pool_size},
        "max_episode_steps": plan.steps_per_subtask,  # per subtask: a K-subtask game gets K times as many
        "eval_steps_per_subtask": plan.steps_per_subtask,
        "eval_at_start": True,
        "total_env_steps": plan.budget,
        "eval_split": plan.split,
        "eval_episodes": min(plan.curve_episodes, plan.episodes),
        "eval_episodes_composite": min(plan.curve_episodes, plan.episodes),
        "eval_every": plan.eval_every,
        "eval_seed": plan.panel_seed,
        "output_dir": str(Path(plan.out) / "runs"),
        "exp_name": cell.slug,
    }
    clash = sorted((set(plan.overrides) - {"env_kwargs"}) & set(overrides))  # env_kwargs: merged above
    if clash:
        raise ValueError(f"the study sets {clash} itself (per arm, stage or K mix); they cannot be overridden")
    return HiPERConfig.from_preset(plan.preset, **{**plan.overrides, **overrides})
