"""The PPO loop on a toy env with the fast scorer: the update moves probabilities the way the advantages say, and a
truncated episode is bootstrapped from the critic's value of the state where it was cut."""

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hiper_envs"))

from hiper_agent.rollout.buffer import RolloutBuffer  # noqa: E402
from hiper_agent.rollout.collect import collect_rollouts, group_resets  # noqa: E402
from hiper_agent.training.ppo_config import HiPERConfig  # noqa: E402
from hiper_agent.training.ppo_trainer import HiPERTrainer, advantage_config  # noqa: E402
from hiper_agent.types import HEADS  # noqa: E402

ENV_ID = "Test/KeyDoor-v0"
if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point="keydoor_env:KeyDoorEnv")


def toy_trainer(tmp_path, **overrides) -> HiPERTrainer:
    settings = dict(
        env_id=ENV_ID,
        env_kwargs={},
        num_envs=8,
        max_episode_steps=6,
        eval_every=0,
        checkpoint_every=0,
        output_dir=str(tmp_path),
        progress=False,
        log_tensorboard=False,
    )
    config = HiPERConfig.from_preset("cpu-v1", **{**settings, **overrides})  # K = 1 only: the toy env has no K
    return HiPERTrainer(config)


def rollout_buffer(trainer: HiPERTrainer, seed: int = 0) -> RolloutBuffer:
    c = trainer.config
    trajs, _ = collect_rollouts(
        trainer.pool,
        trainer.policy,
        group_resets(c.env.num_envs, 1, seed),
        rng=torch.Generator().manual_seed(seed),
        last_values=True,
    )
    trainer.policy.compute_values([turn for traj in trajs for turn in traj.turns])
    buffer = RolloutBuffer(trajs, estimator=c.credit.advantage_estimator, config=advantage_config(c))
    buffer.compute_advantages()
    return buffer


def test_ppo_update_moves_a_toy_batch_the_way_the_advantages_say(tmp_path):
    trainer = toy_trainer(tmp_path, lr=1e-2, ppo_epochs=4, minibatch_size=64, entropy_coef=0.0)
    buffer = rollout_buffer(trainer)
    # a designed signal: +1 on every action unit that chose "look", -1 on every other action unit
    looked = np.array([t.decision.action_text == "look" for t in buffer.turns])
    assert 0 < looked.sum() < len(looked)
    for i, turn in enumerate(buffer.turns):
        adv = np.zeros(turn.decision.num_units, dtype=np.float32)
        adv[turn.decision.masks.action] = 1.0 if looked[i] else -1.0
        buffer._unit_advantages[i] = adv

    def action_logprobs() -> np.ndarray:
        with torch.no_grad():
            return trainer.policy.evaluate_actions(buffer.turns, with_values=False).logprobs[:, -1].numpy()

    before = action_logprobs()
    trainer._update(buffer, 1)
    after = action_logprobs()
    assert (after - before)[looked].mean() > 0.05 and (after - before)[~looked].mean() < -0.05
    trainer.close()


def test_truncated_episodes_bootstrap_from_their_last_value(tmp_path):
    trainer = toy_trainer(tmp_path, max_episode_steps=2)  # too short to open the door: every episode is cut
    buffer = rollout_buffer(trainer)
    assert all(t.truncated and t.last_values is not None for t in buffer.trajectories)
    # the recorded value is the critic's at the state where the episode was cut (the switch head, V(s, o_prev))
    credit_trajs = buffer.credit_trajectories()
    assert [ct.last_value for ct in credit_trajs] == [t.last_values[HEADS["switch"]] for t in buffer.trajectories]
    # and HAE uses it: the last step's low-level advantage moves one for one with it (gamma = 0.99)
    from hiper_agent import credit

    config = advantage_config(trainer.config)
    config.normalize = False
    base = credit.compute_advantages("hae", credit_trajs, config)
    for ct in credit_trajs:
        ct.last_value = ct.last_value + 1.0
    shifted = credit.compute_advantages("hae", credit_trajs, config)
    for a, b in zip(base, shifted, strict=True):
        assert b.adv_low[-1] - a.adv_low[-1] == pytest.approx(trainer.config.credit.gamma)
    trainer.close()
