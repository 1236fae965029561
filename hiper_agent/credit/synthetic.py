"""A small two-level MDP whose exact policy gradient is known, to test credit estimators against it.

At each step t with state `s_t` and current option `o_{t-1}`, a softmax hierarchical policy

1. decides to SWITCH with probability `beta(s, o_prev) = sigmoid(switch_logits[s, o_prev])` (forced at t = 0),
2. on SWITCH draws a subgoal `o_t ~ softmax(subgoal_logits[s])`, else keeps `o_t = o_{t-1}`,
3. draws an action `a_t ~ softmax(action_logits[s, o_t])`;

the environment moves to `s' ~ P[s, a]`, pays `R[s, a, s']`, and ends on entering a terminal state or after
`horizon` steps (the time is part of the state, so the step limit is an MDP termination here, not a
truncation). Values are indexed by time: `V[t, ...]`.

Exact quantities: `exact_values` (backward dynamic programming), `exact_gradient` (forward occupancy times
the three-term policy gradient of HiPER's Theorem 4.1), and `exact_gradient_enumeration`, which sums
`P(path) G(path) grad log P(path)` over every path (tiny MDPs only) as an independent check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Episodes",
    "HierarchicalPolicy",
    "TwoLevelMDP",
    "Values",
    "corridor_mdp",
    "exact_gradient",
    "exact_gradient_enumeration",
    "exact_values",
    "random_mdp",
    "sample_episodes",
]


@dataclass(frozen=True)
class TwoLevelMDP:
    """Tabular MDP with `S` states, `A` actions, `K` subgoals (options) and a fixed horizon."""

    transitions: np.ndarray
    """`(S, A, S)` next-state probabilities."""
    rewards: np.ndarray
    """`(S, A, S)` reward of each transition."""
    terminal: np.ndarray
    """`(S,)` True for absorbing states: entering one ends the episode (done)."""
    n_subgoals: int
    horizon: int
    start_state: int = 0
    gamma: float = 1.0

    @property
    def shape(self) -> tuple[int, int, int]:
        """`(S, K, A)`."""
        return self.transitions.shape[0], self.n_subgoals, self.transitions.shape[1]


@dataclass
class HierarchicalPolicy:
    """Softmax planner (switch + subgoal) and executor; parameters are logits."""

    switch_logits: np.ndarray
    """`(S, K)` logit of SWITCH given state and current option."""
    subgoal_logits: np.ndarray
    """`(S, K)` logits of the next subgoal given the state."""
    action_logits: np.ndarray
    """`(S, K, A)` logits of the action given state and subgoal."""

    @property
    def beta(self) -> np.ndarray:
        """`(S, K)` switch probabilities."""
        return 1.0 / (1.0 + np.exp(-self.switch_logits))

    @property
    def pi_subgoal(self) -> np.ndarray:
        """`(S, K)` subgoal probabilities."""
        return _softmax(self.subgoal_logits)

    @property
    def pi_action(self) -> np.ndarray:
        """`(S, K, A)` action probabilities."""
        return _softmax(self.action_logits)

    @property
    def params(self) -> np.ndarray:
        """All logits as one flat vector: switch, then subgoal, then action (the gradient's layout)."""
        return np.concatenate([self.switch_logits.ravel(), self.subgoal_logits.ravel(), self.action_logits.ravel()])

    def with_params(self, theta: np.ndarray) -> HierarchicalPolicy:
        """A policy of the same shape with the flat parameter vector `theta`."""
        S, K, A = self.action_logits.shape
        return HierarchicalPolicy(
            theta[: S * K].reshape(S, K), theta[S * K : 2 * S * K].reshape(S, K), theta[2 * S * K :].reshape(S, K, A)
        )

    @classmethod
    def random(cls, mdp: TwoLevelMDP, rng: np.random.Generator, scale: float = 1.0) -> HierarchicalPolicy:
        """Logits drawn from `N(0, scale^2)`."""
        S, K, A = mdp.shape
        return cls(rng.normal(0, scale, (S, K)), rng.normal(0, scale, (S, K)), rng.normal(0, scale, (S, K, A)))


@dataclass
class Values:
    """Exact (or perturbed) critics, indexed by time `t in [0, horizon]` (the last row is 0)."""

    v_switch: np.ndarray
    """`(H+1, S, K)` `V(s, o_prev)` before the KEEP/SWITCH decision."""
    v_high: np.ndarray
    """`(H+1, S)` `V(s)` at a segment start, before the subgoal is drawn."""
    v_low: np.ndarray
    """`(H+1, S, K)` `V(s, o)` once the subgoal is known, before the action."""
    q_low: np.ndarray
    """`(H, S, K, A)` `Q(s, o, a)`."""


@dataclass
class Episodes:
    """`N` sampled episodes as `(N, H)` arrays; steps past the end are masked out."""

    states: np.ndarray
    prev_options: np.ndarray  # -1 at t = 0
    switches: np.ndarray
    options: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    mask: np.ndarray

    @property
    def returns(self) -> np.ndarray:
        """`(N,)` undiscounted episode returns."""
        return (self.rewards * self.mask).sum(1)


def exact_values(mdp: TwoLevelMDP, policy: HierarchicalPolicy) -> Values:
    """Backward dynamic programming for every critic of the hierarchy."""
    S, K, A = mdp.shape
    H, P, R, alive = mdp.horizon, mdp.transitions, mdp.rewards, ~mdp.terminal
    beta, pi_o, pi_a = policy.beta, policy.pi_subgoal, policy.pi_action
    v_switch, v_high, v_low = np.zeros((H + 1, S, K)), np.zeros((H + 1, S)), np.zeros((H + 1, S, K))
    q_low = np.zeros((H, S, K, A))
    for t in reversed(range(H)):
        # Q(s, o, a) = sum_s' P(s'|s,a) [R(s,a,s') + gamma * alive(s') * V_switch(t+1, s', o)]
        cont = mdp.gamma * alive[:, None] * v_switch[t + 1]  # (S', K)
        q_low[t] = np.einsum("sap,sap->sa", P, R)[:, None, :] + np.einsum("sap,pk->ska", P, cont)
        v_low[t] = (pi_a * q_low[t]).sum(-1)
        v_high[t] = (pi_o * v_low[t]).sum(-1)
        v_switch[t] = beta * v_high[t][:, None] + (1 - beta) * v_low[t]
    return Values(v_switch, v_high, v_low, q_low)


def exact_gradient(mdp: TwoLevelMDP, policy: HierarchicalPolicy) -> tuple[float, np.ndarray]:
    """Exact `J` and `grad J` from the forward occupancy and the three-term policy gradient.

    `grad J = sum_t gamma^t E[ grad log pi(q_t) Q_switch + q_t grad log pi(o_t) Q_high + grad log pi(a_t) Q_low ]`,
    each expectation taken in closed form over the state-option occupancy at time t.

    Returns:
        `(J, grad)` with `grad` laid out like `policy.params`.
    """
    S, K, A = mdp.shape
    vals = exact_values(mdp, policy)
    beta, pi_o, pi_a = policy.beta, policy.pi_subgoal, policy.pi_action
    g_sw, g_o, g_a = np.zeros((S, K)), np.zeros((S, K)), np.zeros((S, K, A))
    rho = np.zeros((S, K))  # P(s_t = s, o_{t-1} = o, alive) for t >= 1
    for t in range(mdp.horizon):
        disc = mdp.gamma**t
        if t == 0:  # the first step always opens an option
            mu = np.zeros(S)
            mu[mdp.start_state] = 1.0
            nu = mu[:, None] * pi_o
        else:
            g_sw += disc * rho * beta * (1 - beta) * (vals.v_high[t][:, None] - vals.v_low[t])
            mu = (rho * beta).sum(1)  # P(s_t = s and SWITCH)
            nu = mu[:, None] * pi_o + rho * (1 - beta)  # P(s_t = s, o_t = o)
        g_o += disc * mu[:, None] * pi_o * (vals.v_low[t] - vals.v_high[t][:, None])
        g_a += disc * nu[..., None] * pi_a * (vals.q_low[t] - vals.v_low[t][..., None])
        # next occupancy: only transitions into non-terminal states continue
        rho = np.einsum("sk,ska,sap->pk", nu, pi_a, mdp.transitions) * (~mdp.terminal)[:, None]
    J = float(vals.v_high[0, mdp.start_state])
    return J, np.concatenate([g_sw.ravel(), g_o.ravel(), g_a.ravel()])


def exact_gradient_enumeration(mdp: TwoLevelMDP, policy: HierarchicalPolicy) -> tuple[float, np.ndarray]:
    """Exact `J` and `grad J = sum_paths P(path) G(path) grad log P(path)` by visiting every path.

    The cost grows like `(2 K A S)^horizon`: use horizon <= 4 with a handful of states.
    """
    S, K, A = mdp.shape
    beta, pi_o, pi_a = policy.beta, policy.pi_subgoal, policy.pi_action
    n_sw, n_o = S * K, S * K
    total = {"J": 0.0, "grad": np.zeros(n_sw + n_o + S * K * A)}

    def leaf(prob: float, ret: float, score: np.ndarray) -> None:
        total["J"] += prob * ret
        total["grad"] += prob * ret * score

    def visit(t: int, s: int, o_prev: int, prob: float, ret: float, score: np.ndarray) -> None:
        if t == mdp.horizon:
            leaf(prob, ret, score)
            return
        for q in (1,) if t == 0 else (0, 1):
            p_q, score_q = 1.0, score.copy()
            if t > 0:
                p_q = beta[s, o_prev] if q else 1 - beta[s, o_prev]
                score_q[s * K + o_prev] += q - beta[s, o_prev]
            for o in range(K) if q else (o_prev,):
                p_o, score_o = (pi_o[s, o] if q else 1.0), score_q.copy()
                if q:
                    score_o[n_sw + s * K : n_sw + (s + 1) * K] += np.eye(K)[o] - pi_o[s]
                for a in range(A):
                    score_a = score_o.copy()
                    base = n_sw + n_o + (s * K + o) * A
                    score_a[base : base + A] += np.eye(A)[a] - pi_a[s, o]
                    for s2 in np.flatnonzero(mdp.transitions[s, a] > 0):
                        p = prob * p_q * p_o * pi_a[s, o, a] * mdp.transitions[s, a, s2]
                        r = ret + mdp.gamma**t * mdp.rewards[s, a, s2]
                        if mdp.terminal[s2]:
                            leaf(p, r, score_a)
                        else:
                            visit(t + 1, int(s2), o, p, r, score_a)

    visit(0, mdp.start_state, 0, 1.0, 0.0, np.zeros_like(total["grad"]))
    return float(total["J"]), total["grad"]


def sample_episodes(mdp: TwoLevelMDP, policy: HierarchicalPolicy, n: int, rng: np.random.Generator) -> Episodes:
    """Samples `n` episodes at once (vectorized over episodes)."""
    H = mdp.horizon
    beta, pi_o, pi_a = policy.beta, policy.pi_subgoal, policy.pi_action
    ep = Episodes(
        states=np.zeros((n, H), int),
        prev_options=np.full((n, H), -1),
        switches=np.zeros((n, H), bool),
        options=np.zeros((n, H), int),
        actions=np.zeros((n, H), int),
        rewards=np.zeros((n, H)),
        dones=np.zeros((n, H), bool),
        mask=np.zeros((n, H), bool),
    )
    s = np.full(n, mdp.start_state)
    o = np.zeros(n, int)
    alive = np.ones(n, bool)
    for t in range(H):
        q = np.ones(n, bool) if t == 0 else rng.random(n) < beta[s, o]
        o = np.where(q, _categorical(pi_o[s], rng), o)
        a = _categorical(pi_a[s, o], rng)
        s2 = _categorical(mdp.transitions[s, a], rng)
        done = mdp.terminal[s2] | (t == H - 1)
        ep.states[:, t], ep.switches[:, t], ep.options[:, t], ep.actions[:, t] = s, q, o, a
        ep.prev_options[:, t] = -1 if t == 0 else ep.options[:, t - 1]
        ep.rewards[:, t] = np.where(alive, mdp.rewards[s, a, s2], 0.0)
        ep.dones[:, t], ep.mask[:, t] = done & alive, alive
        alive = alive & ~done
        s = s2
    return ep


def random_mdp(
    n_states: int = 3,
    n_actions: int = 2,
    n_subgoals: int = 2,
    horizon: int = 3,
    *,
    p_terminal: float = 0.1,
    seed: int = 0,
) -> TwoLevelMDP:
    """Random transitions and standard-normal rewards; the last state is terminal.

    Each `(s, a)` enters the terminal state with probability `p_terminal` (0 gives a pure fixed-horizon
    MDP) and otherwise moves to a Dirichlet-random non-terminal state.
    """
    rng = np.random.default_rng(seed)
    P = np.zeros((n_states, n_actions, n_states))
    P[:, :, :-1] = (1 - p_terminal) * rng.dirichlet(np.ones(n_states - 1), size=(n_states, n_actions))
    P[:, :, -1] = p_terminal
    R = rng.normal(size=(n_states, n_actions, n_states))
    terminal = np.zeros(n_states, bool)
    terminal[-1] = True
    return TwoLevelMDP(P, R, terminal, n_subgoals, horizon, start_state=0)


def corridor_mdp(length: int = 11, horizon: int = 30, slip: float = 0.1, n_subgoals: int = 2) -> TwoLevelMDP:
    """A corridor with a sparse terminal reward: start in the middle, reward 1 for reaching the right end.

    Actions move left (0) or right (1) and slip the other way with probability `slip`; both ends are
    terminal (the left one pays nothing), and the step limit `horizon` ends the episode with reward 0.
    """
    P = np.zeros((length, 2, length))
    for s in range(length):
        left, right = max(s - 1, 0), min(s + 1, length - 1)
        P[s, 0, left] += 1 - slip
        P[s, 0, right] += slip
        P[s, 1, right] += 1 - slip
        P[s, 1, left] += slip
    R = np.zeros_like(P)
    R[:, :, length - 1] = 1.0
    R[length - 1] = 0.0  # terminal states are never left
    terminal = np.zeros(length, bool)
    terminal[[0, length - 1]] = True
    return TwoLevelMDP(P, R, terminal, n_subgoals, horizon, start_state=length // 2)


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def _categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of `(N, C)` probabilities."""
    u = rng.random(len(probs))[:, None]
    return np.minimum((probs.cumsum(-1) < u).sum(-1), probs.shape[-1] - 1)
