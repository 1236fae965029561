"""The scorer learns: a few hundred episodes of PPO-style updates through `evaluate_actions()` beat the untrained policy.

A minimal loop, independent of the PPO trainer, so that a regression in the policy family (encoder, heads, the
act/evaluate_actions agreement) shows here rather than as a flat training curve. It plays a small fixed set of K=1
ALFWorld train games (resets of a seen game are cached by the env, so the loop is cheap) and compares sampled
success on that set before and after training, under the same sampling seed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

gym = pytest.importorskip("gymnasium")
pytest.importorskip("textworld", reason="the ALFWorld env needs textworld")

import hiper_envs  # noqa: E402,F401  (registers the envs)
from hiper_agent.policies import make_policy  # noqa: E402
from hiper_agent.policies.scorer.features import history_action  # noqa: E402
from hiper_agent.types import HistoryEntry, Turn  # noqa: E402

GAMES = list(range(12))  # fixed train games (seeds)
NUM_ENVS = 12


def play(policy, envs, seeds, rng, greedy=False):
    """One episode per env on ``seeds``; returns (turns per episode, won per episode)."""
    obs, infos = zip(*(env.reset(seed=s) for env, s in zip(envs, seeds, strict=True)), strict=True)
    obs, infos = list(obs), list(infos)
    histories: list[list[HistoryEntry]] = [[] for _ in envs]
    turns: list[list[Turn]] = [[] for _ in envs]
    won, live = [False] * len(envs), list(range(len(envs)))
    while live:
        decisions = policy.act(
            [obs[i] for i in live], [infos[i] for i in live], [histories[i] for i in live], rng=rng, greedy=greedy
        )
        still = []
        for i, decision in zip(live, decisions, strict=True):
            o, reward, terminated, truncated, info = envs[i].step(decision.action)
            turns[i].append(Turn(decision=decision, observation=obs[i], switch=True, subgoal=None, reward=reward))
            histories[i].append(HistoryEntry(obs[i], history_action(decision.action)))
            obs[i], infos[i] = o, info
            if terminated or truncated:
                won[i] = bool(info.get("won"))
            else:
                still.append(i)
        live = still
    return turns, won


def ppo_update(policy, optimizer, episodes, gamma=0.97, lam=0.95, epochs=4, minibatch=128, clip=0.2, entropy_coef=0.01):
    """PPO-style updates through `evaluate_actions()`: GAE on the executor critic ``V(s, o)``, clipped ratios per unit."""
    flat, advs, rets = [], [], []
    for turns in episodes:
        values = [t.decision.values[0] for t in turns] + [0.0]  # every episode ends (won or at the env's limit)
        gae, out = 0.0, []
        for k in reversed(range(len(turns))):
            delta = turns[k].reward + gamma * values[k + 1] - values[k]
            gae = delta + gamma * lam * gae
            out.append(gae)
        out.reverse()
        flat += turns
        advs += out
        rets += [a + v for a, v in zip(out, values[:-1], strict=True)]
    returns = torch.tensor(rets, dtype=torch.float32)
    adv = torch.tensor(advs, dtype=torch.float32)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    old = torch.from_numpy(np.stack([t.decision.logprobs for t in flat]))
    gen = torch.Generator().manual_seed(len(flat))
    for _ in range(epochs):
        for idx in torch.randperm(len(flat), generator=gen).split(minibatch):
            ev = policy.evaluate_actions([flat[i] for i in idx])
            mask = ev.mask.float()
            ratio = torch.exp(ev.logprobs - old[idx])
            a = adv[idx].unsqueeze(-1)
            pg = -torch.min(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
            loss = ((pg - entropy_coef * ev.entropy) * mask).sum() / mask.sum()
            loss = loss + 0.5 * ((ev.values[:, 0] - returns[idx]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def success(policy, envs, repeats, seed):
    rng = torch.Generator().manual_seed(seed)
    return float(np.mean([w for _ in range(repeats) for w in play(policy, envs, GAMES, rng)[1]]))


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,  # a pass is news (XPASS fails the run): then drop this marker and keep the claim
    reason="not reached yet: measured 8-25% sampled success per batch over 30 iterations (360 episodes, lr 1e-2) "
    "with no upward trend for either variant; the untrained policy scores ~17% from its feature prior",
)
@pytest.mark.parametrize("family", ["scorer", "flat-scorer"])
def test_reinforce_raises_success_on_fixed_games(family):
    envs = [gym.make("HiPER/ALFWorld-v0", split="train", num_subtasks=1) for _ in range(NUM_ENVS)]
    policy = make_policy(family, seed=0)
    before = success(policy, envs, repeats=2, seed=123)
    groups = policy.parameter_groups()
    optimizer = torch.optim.Adam(groups["policy"] + groups["critic"], lr=1e-2)
    rng = torch.Generator().manual_seed(0)
    for _ in range(20):  # 20 x 12 = 240 training episodes
        turns, _ = play(policy, envs, GAMES, rng)
        ppo_update(policy, optimizer, turns)
    after = success(policy, envs, repeats=2, seed=123)
    print(f"{family}: sampled success on {len(GAMES)} fixed games {before:.2f} -> {after:.2f}")
    assert after >= before + 0.25, (before, after)
