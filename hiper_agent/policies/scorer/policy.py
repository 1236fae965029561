"""`ScorerPolicy` (hierarchical) and `FlatScorerPolicy`: candidate-scoring policies behind the `Policy` interface.

Each step the hierarchical policy makes HiPER's three decisions in order, batched over envs: KEEP/SWITCH (a
two-way head on the state and the current subgoal), a subgoal on SWITCH (scores over
``info["subgoal_candidates"]``), and an action serving the resulting subgoal (scores over
``info["admissible_commands"]``). Every decision is one unit of a `Decision`, always in the order
``[switch, subgoal, action]`` (``U = 3``); a unit that was not decided (the forced SWITCH of a first step, the
subgoal of a KEEP, both planner units of the flat variant) has log-prob 0 and is off in every mask, so
`hiper_agent.credit.token_advantages` and the PPO loss treat it as absent.

Paper: HiPER (arXiv 2602.16165). Design: candidate scorers as in TextWorld's command-scorer baseline and DRRN
(He et al. 2016), with exact-overlap features for names never seen in training.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hiper_agent.credit.masks import TokenMasks
from hiper_agent.policies.base import Policy
from hiper_agent.policies.scorer.config import ScorerConfig
from hiper_agent.policies.scorer.features import candidate_features
from hiper_agent.policies.scorer.model import ScorerNet
from hiper_agent.policies.scorer.steps import ScorerStep, StepBatch, observe
from hiper_agent.policies.scorer.text import TextCache
from hiper_agent.types import ActionEvaluation, Decision
from hiper_envs.options import OptionAction

if TYPE_CHECKING:
    from hiper_agent.types import HistoryEntry, Turn

__all__ = ["FlatScorerPolicy", "ScorerPolicy", "load_scorer", "make_flat_scorer_policy", "make_scorer_policy"]

WEIGHTS_FILE = "scorer.pt"
_UNITS = 3  # [switch, subgoal, action]


@dataclasses.dataclass(frozen=True)
class _Offer:
    """One unit's candidates of a batch, flattened: owner row and text id of each, widest row, memory slot index."""

    owner: torch.Tensor
    ids: torch.Tensor
    width: int
    slots: tuple[torch.Tensor, torch.Tensor, int]


def _sample(logp: torch.Tensor, rng: torch.Generator | None, greedy: bool) -> torch.Tensor:
    """One index per row of ``(N, C)`` log-probs (``-inf`` = no candidate)."""
    if greedy:
        return logp.argmax(dim=-1)
    return torch.multinomial(logp.exp(), 1, generator=rng).squeeze(-1)


def _pick(logp: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-prob of ``index`` per row and the row's entropy (padding ignored)."""
    finite = torch.isfinite(logp)
    safe = logp.masked_fill(~finite, 0.0)
    entropy = -(safe.exp() * safe).masked_fill(~finite, 0.0).sum(-1)
    return safe.gather(-1, index.clamp(min=0).unsqueeze(-1)).squeeze(-1), entropy


class ScorerPolicy(Policy):
    """HiPER's planner and executor as small candidate scorers: thousands of episodes in minutes on a CPU.

    Example:
        >>> from hiper_agent.policies import make_policy
        >>> policy = make_policy("scorer", seed=0)
        >>> policy.hierarchical
        True
    """

    hierarchical = True
    family = "scorer"

    def __init__(self, config: ScorerConfig | None = None, *, device: str | torch.device = "cpu", **overrides: Any):
        config = dataclasses.replace(config or ScorerConfig(), **overrides)
        self.config = config
        self.device = torch.device(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.net = ScorerNet(config, hierarchical=self.hierarchical).to(self.device)
        self.cache = TextCache(config.num_buckets, bigrams=config.bigrams)
        #: Sampling temperature of training rollouts (what `evaluate_actions` re-scores under).
        self.temperature = 1.0

    # ------------------------------------------------------------------ forward pieces
    def _observe(self, observations, infos, histories):
        if not len(observations) == len(infos) == len(histories):
            raise ValueError(f"got {len(observations)} observations, {len(infos)} infos, {len(histories)} histories")
        kw = {
            "history_length": self.config.history_length,
            "hierarchical": self.hierarchical,
            "memory": self.config.memory,
        }
        pairs = [observe(self.cache, o, i, h, **kw) for o, i, h in zip(observations, infos, histories, strict=True)]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def _switch_logp(self, batch: StepBatch, table: torch.Tensor, state: torch.Tensor, temp: float) -> torch.Tensor:
        logits = self.net.switch_head(torch.cat([state, table[batch.prev_subgoal]], dim=-1))
        logits = logits + self.net.switch_prior(batch.scalars)
        return torch.log_softmax(logits / temp, dim=-1)  # column 1 = SWITCH

    def _candidate_logp(self, scorer, batch, table, context, offer: _Offer, feats, temp) -> torch.Tensor:
        slot = batch.slot_mean(table, offer.slots) if self.config.slots else None
        scores = scorer(context, offer.owner, table[offer.ids], batch.features(feats), slot) / temp
        return torch.log_softmax(batch.padded(offer.owner, scores, batch.n, offer.width), dim=-1)

    def _index(self, steps: Sequence[ScorerStep]) -> tuple[StepBatch, _Offer, _Offer]:
        """The batch of ``steps`` with every text indexed: the subgoal and action offers with their memory slots."""
        batch = StepBatch(self.cache, steps, self.device)
        subgoals = _Offer(
            *batch.candidates([s.subgoal_candidates for s in steps]), batch.slot_index([s.subgoal_slots for s in steps])
        )
        actions = _Offer(
            *batch.candidates([s.actions for s in steps]), batch.slot_index([s.action_slots for s in steps])
        )
        return batch, subgoals, actions

    def _action_context(self, state: torch.Tensor, table: torch.Tensor, new_subgoal: torch.Tensor) -> torch.Tensor:
        return torch.cat([state, table[new_subgoal]], dim=-1) if self.hierarchical else state

    def _action_logp(self, batch, table, state, new_subgoal, offer: _Offer, steps, temp) -> torch.Tensor:
        """The executor's log-probs over each step's commands, given the subgoal each action serves."""
        context = self._action_context(state, table, new_subgoal)
        feats = [s.action_features for s in steps]
        return self._candidate_logp(self.net.action_scorer, batch, table, context, offer, feats, temp)

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(
        self,
        observations: Sequence[str],
        infos: Sequence[dict[str, Any]],
        histories: Sequence[Sequence[HistoryEntry]],
        *,
        rng: torch.Generator | None = None,
        greedy: bool = False,
        temperature: float | None = None,
    ) -> list[Decision]:
        """Decides one step per env: one batched forward per decision (switch, subgoal, action) and the critic.

        ``temperature`` (default: the policy's ``temperature``) divides every score; the log-probs recorded are
        those of the distribution sampled from.
        """
        temp = self.temperature if temperature is None or (greedy and temperature <= 0) else float(temperature)
        if temp <= 0:
            raise ValueError(f"temperature={temp} must be > 0 (use greedy=True for argmax)")
        steps, contexts = self._observe(observations, infos, histories)
        batch, sg_offer, act_offer = self._index(steps)
        table = batch.embed(self.net.encoder)
        state = batch.state(table, self.net.state)
        n = len(steps)
        lp = np.zeros((n, _UNITS), dtype=np.float32)
        if self.hierarchical:
            sw_logp = self._switch_logp(batch, table, state, temp)
            switch = _sample(sw_logp, rng, greedy)
            decided = torch.tensor([s.switch_decided for s in steps], device=self.device)
            switch = torch.where(decided, switch, torch.ones_like(switch))
            sg_context = torch.cat([state, table[batch.prev_subgoal]], dim=-1)
            sg_logp = self._candidate_logp(
                self.net.subgoal_scorer, batch, table, sg_context, sg_offer, [s.subgoal_features for s in steps], temp
            )
            sg_index = _sample(sg_logp, rng, greedy)
            for i, s in enumerate(steps):
                s.switch = bool(switch[i])
                s.subgoal_index = int(sg_index[i]) if s.switch else -1
            lp[:, 0] = np.where(decided.cpu().numpy(), _pick(sw_logp, switch)[0].cpu().numpy(), 0.0)
            lp[:, 1] = np.where(switch.cpu().numpy() == 1, _pick(sg_logp, sg_index)[0].cpu().numpy(), 0.0)
        new_subgoal = batch.ids(s.new_subgoal or "" for s in steps)  # already in the table: no new text
        for s, context in zip(steps, contexts, strict=True):
            s.action_features = candidate_features(self.cache, context, s.actions, s.new_subgoal)
        act_logp = self._action_logp(batch, table, state, new_subgoal, act_offer, steps, temp)
        act_index = _sample(act_logp, rng, greedy)
        lp[:, 2] = _pick(act_logp, act_index)[0].cpu().numpy()
        for i, s in enumerate(steps):
            s.action_index = int(act_index[i])
        values = self._values(batch, new_subgoal).cpu().numpy()
        return [self._decision(s, lp[i], values[i]) for i, s in enumerate(steps)]

    def _values(self, batch: StepBatch, new_subgoal: torch.Tensor) -> torch.Tensor:
        table = batch.embed(self.net.critic_encoder)
        state = batch.state(table, self.net.critic_state)
        return self.net.values(state, table[new_subgoal], table[batch.prev_subgoal])

    def _decision(self, step: ScorerStep, logprobs: np.ndarray, values: np.ndarray) -> Decision:
        hier = self.hierarchical
        switch_unit, subgoal_unit = hier and step.switch_decided, hier and step.switch
        masks = TokenMasks(
            switch=np.array([switch_unit, False, False]),
            subgoal=np.array([False, subgoal_unit, False]),
            action=np.array([False, False, True]),
            action_found=True,
            subgoal_found=subgoal_unit,
        )
        command = step.actions[step.action_index]
        written = step.new_subgoal if subgoal_unit else None
        action = OptionAction(action=command, switch=step.switch, subgoal=written) if hier else command
        return Decision(
            action,
            logprobs,
            masks,
            written_subgoal=written,
            action_text=command,
            values=(float(values[0]), float(values[1]), float(values[2])),
            extra={"step": step},
        )

    @torch.no_grad()
    def last_values(
        self,
        observations: Sequence[str],
        infos: Sequence[dict[str, Any]],
        histories: Sequence[Sequence[HistoryEntry]],
    ) -> np.ndarray:
        """``(N, 3)`` values of states no decision was taken in; the option in force is ``info["subgoal"]``."""
        steps, _ = self._observe(observations, infos, histories)
        batch = StepBatch(self.cache, steps, self.device)
        return self._values(batch, batch.prev_subgoal).cpu().numpy()

    # ------------------------------------------------------------------ learning
    def evaluate_actions(self, turns: Sequence[Turn], *, with_values: bool = True) -> ActionEvaluation:
        """Re-scores the recorded candidates and choices (``Decision.extra["step"]``) under the current parameters."""
        steps = [t.decision.extra["step"] for t in turns]
        batch, sg_offer, act_offer = self._index(steps)
        new_subgoal = batch.ids(s.new_subgoal or "" for s in steps)
        table = batch.embed(self.net.encoder)
        state = batch.state(table, self.net.state)
        n, dev = len(steps), self.device
        logprobs = torch.zeros(n, _UNITS, device=dev)
        entropy = torch.zeros(n, _UNITS, device=dev)
        mask = torch.zeros(n, _UNITS, dtype=torch.bool, device=dev)
        mask[:, 2] = True
        if self.hierarchical:
            switch = torch.tensor([int(s.switch) for s in steps], device=dev)
            mask[:, 0] = torch.tensor([s.switch_decided for s in steps], device=dev)
            mask[:, 1] = switch == 1
            sw_lp, sw_ent = _pick(self._switch_logp(batch, table, state, self.temperature), switch)
            sg_context = torch.cat([state, table[batch.prev_subgoal]], dim=-1)
            sg_logp = self._candidate_logp(
                self.net.subgoal_scorer,
                batch,
                table,
                sg_context,
                sg_offer,
                [s.subgoal_features for s in steps],
                self.temperature,
            )
            sg_lp, sg_ent = _pick(sg_logp, torch.tensor([s.subgoal_index for s in steps], device=dev))
            logprobs = torch.stack([sw_lp, sg_lp, logprobs[:, 2]], dim=-1)
            entropy = torch.stack([sw_ent, sg_ent, entropy[:, 2]], dim=-1)
        act_logp = self._action_logp(batch, table, state, new_subgoal, act_offer, steps, self.temperature)
        a_lp, a_ent = _pick(act_logp, torch.tensor([s.action_index for s in steps], device=dev))
        logprobs = torch.cat([logprobs[:, :2], a_lp.unsqueeze(-1)], dim=-1).masked_fill(~mask, 0.0)
        entropy = torch.cat([entropy[:, :2], a_ent.unsqueeze(-1)], dim=-1).masked_fill(~mask, 0.0)
        values = self._values(batch, new_subgoal) if with_values else None
        return ActionEvaluation(logprobs=logprobs, entropy=entropy, mask=mask, values=values)

    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        """``policy``: encoder, state encoder and heads; ``critic``: the value heads and their own encoder."""
        return {"policy": self.net.actor_parameters(), "critic": self.net.critic_parameters()}

    def train(self, mode: bool = True) -> ScorerPolicy:
        """Sets the modules' training mode; returns self."""
        self.net.train(mode)
        return self

    def warm_start(self, demos: Sequence[list[dict[str, Any]]], config: Any, on_step: Any = None) -> list[float]:
        """Behaviour cloning of expert episodes (`imitation.behaviour_cloning`): an option, off in ``cpu``."""
        from hiper_agent.policies.scorer.imitation import behaviour_cloning
        from hiper_agent.seeding import iteration_seed

        return behaviour_cloning(
            self,
            demos,
            epochs=config.sft.sft_epochs,
            lr=config.sft.sft_lr,
            batch_size=config.sft.sft_batch_size,
            seed=iteration_seed(config.run.seed, 0, "sft-train"),
            on_step=on_step,
        )

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The network's tensors (the text cache is derived data and is rebuilt on demand)."""
        return {"net": self.net.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores `state_dict()`."""
        self.net.load_state_dict(state["net"])

    def save(self, folder: str | Path) -> None:
        """Writes ``policy.json`` (family and config) and the weights; `load_policy(folder)` reads them back."""
        from hiper_agent.policies import POLICY_FILE

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"family": self.family, "config": self.config.to_dict()}
        (folder / POLICY_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        torch.save(self.state_dict(), folder / WEIGHTS_FILE)


class FlatScorerPolicy(ScorerPolicy):
    """The flat baseline: actions scored from the task, the observation and recent history; no planner.

    It sends plain commands (the env keeps the episode in its first option), and its one critic value fills all
    three `HEADS` columns, so the flat estimators (GAE, GRPO, GiGPO) read it as ``V(s)``.
    """

    hierarchical = False
    family = "flat-scorer"


def _scorer_config(config: Any, overrides: dict[str, Any]) -> ScorerConfig:
    """A `ScorerConfig` from a `ScorerConfig`, None, or a run's config.

    A run's config sets the initialization's ``seed``, the memory (its ``scorer_memory``) and the feature priors.
    """
    if config is None or isinstance(config, ScorerConfig):
        return dataclasses.replace(config or ScorerConfig(), **overrides)
    run = {
        "seed": int(config.run.seed),
        "memory": str(config.agent.scorer_memory),
        "feature_priors": bool(config.agent.scorer_priors),
    }
    return ScorerConfig(**{**run, **overrides})


def make_scorer_policy(
    config: Any = None, demos: Sequence[Any] = (), device: str | torch.device = "cpu", **overrides: Any
) -> ScorerPolicy:
    """Registry factory of ``scorer``: ``config`` is a `ScorerConfig` or the trainer's run config."""
    return _make(ScorerPolicy, config, device, overrides)


def make_flat_scorer_policy(
    config: Any = None, demos: Sequence[Any] = (), device: str | torch.device = "cpu", **overrides: Any
) -> FlatScorerPolicy:
    """Registry factory of ``flat-scorer`` (see `make_scorer_policy`)."""
    return _make(FlatScorerPolicy, config, device, overrides)


def _make(cls: type[ScorerPolicy], config: Any, device: str | torch.device, overrides: dict[str, Any]) -> Any:
    """``cls`` from a `ScorerConfig` or a run config (whose ``temperature`` is the rollouts' temperature)."""
    policy = cls(_scorer_config(config, overrides), device=device)
    # a run config (`HiPERConfig`) brings the rollouts' temperature; a ScorerConfig has none
    policy.temperature = float(config.agent.temperature) if hasattr(config, "agent") else 1.0
    return policy


def load_scorer(folder: str | Path, *, device: str | torch.device = "cpu") -> ScorerPolicy:
    """A saved scorer policy (either variant), ready to act."""
    from hiper_agent.policies import POLICY_FILE

    folder = Path(folder)
    meta = json.loads((folder / POLICY_FILE).read_text())
    classes = {cls.family: cls for cls in (ScorerPolicy, FlatScorerPolicy)}
    if meta.get("family") not in classes:
        raise ValueError(f"{folder} holds a {meta.get('family')!r} policy, not one of {sorted(classes)}")
    policy = classes[meta["family"]](ScorerConfig.from_dict(meta["config"]), device=device)
    policy.load_state_dict(torch.load(folder / WEIGHTS_FILE, map_location=device, weights_only=True))
    return policy
