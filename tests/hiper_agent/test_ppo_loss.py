"""The PPO objective on a toy batch: it moves probability in the direction of the advantage."""

import pytest
import torch

from hiper_agent.training.ppo_loss import kl_penalty, masked_mean, policy_loss, value_loss


def one_step(advantage: float) -> tuple[float, float]:
    torch.manual_seed(0)
    logits = torch.zeros(1, 3, 5, requires_grad=True)  # (B, T, V): uniform policy
    targets = torch.tensor([[1, 2, 3]])
    logp = torch.log_softmax(logits, -1).gather(-1, targets[..., None]).squeeze(-1)
    old = logp.detach()
    mask = torch.tensor([[True, True, False]])  # the last token is padding
    out = policy_loss(logp, old, torch.full((1, 3), advantage), mask, clip_range=0.2)
    out.loss.backward()
    with torch.no_grad():
        new = torch.log_softmax(logits - 1.0 * logits.grad, -1).gather(-1, targets[..., None]).squeeze(-1)
    assert logits.grad[0, 2].abs().sum() == 0  # masked token gets no gradient
    return float(new[0, 0] - old[0, 0]), float(out.clip_fraction)


def test_gradient_direction_follows_advantage():
    up, clip = one_step(+1.0)
    down, _ = one_step(-1.0)
    assert up > 0 > down and clip == 0.0


def test_clipping_stops_the_push():
    logp = torch.tensor([[0.5]], requires_grad=True)  # ratio e^0.5 > 1.2
    out = policy_loss(logp, torch.zeros(1, 1), torch.ones(1, 1), torch.ones(1, 1, dtype=torch.bool), 0.2)
    out.loss.backward()
    assert logp.grad.item() == 0.0 and out.clip_fraction.item() == 1.0
    logp = torch.tensor([[0.5]], requires_grad=True)  # negative advantage is not clipped on this side
    policy_loss(logp, torch.zeros(1, 1), -torch.ones(1, 1), torch.ones(1, 1, dtype=torch.bool), 0.2).loss.backward()
    assert logp.grad.item() > 0


def test_kl_estimators():
    a, b = torch.tensor([-1.0, -2.0, -0.5]), torch.tensor([-1.5, -1.0, -0.5])
    assert torch.all(kl_penalty(a, b, "low_var_kl") >= 0)
    assert torch.allclose(kl_penalty(a, b, "k1"), a - b)
    assert kl_penalty(a, a, "low_var_kl").abs().max() == 0
    with pytest.raises(ValueError, match="kl_estimator"):
        kl_penalty(a, b, "k9")


def test_value_loss_clipping_and_masked_mean():
    v, old, ret = torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([2.0])
    mask = torch.tensor([True])
    assert value_loss(v, old, ret, mask, None) == 0
    assert value_loss(v, old, ret, mask, 0.5) == pytest.approx(0.5 * 1.5**2)  # clipped prediction 0.5 is worse
    assert masked_mean(torch.tensor([1.0, 3.0]), torch.tensor([True, False])) == 1.0
    assert masked_mean(torch.tensor([1.0]), torch.tensor([False])) == 0.0
