"""Benchmark of the credit estimators: unbiasedness, gradient variance, and speed (docs/credit.md).

    python benchmarks/bench_credit.py            # full run, under two minutes on 2 CPU cores
    python benchmarks/bench_credit.py --quick    # a few seconds

1. Unbiasedness: on a small random two-level MDP whose exact policy gradient is computed by dynamic programming
   (checked against exhaustive path enumeration), the mean sampled gradient of each estimator is compared with
   the exact one, component by component (z = |mean - exact| / standard error).
2. Variance: on a corridor with a sparse terminal reward (horizon 40), the per-episode variance of the gradient
   (trace of its covariance; group estimators counted per episode) of HAE, flat GAE and GRPO/RLOO at equal
   numbers of episodes, with critics that are exact or carry a fixed random error of std sigma.
3. Speed: `hae_batch` over 128 trajectories x 50 steps (numpy and torch) against the reference loop.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from hiper_agent.credit import gae_batch, hae, hae_batch
from hiper_agent.credit.synthetic import (
    HierarchicalPolicy,
    corridor_mdp,
    exact_gradient,
    exact_gradient_enumeration,
    exact_values,
    random_mdp,
    sample_episodes,
)
from hiper_agent.credit.synthetic_pg import EstimatorSettings, gradient_estimates, perturb_values

Z_MAX = 4.5


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))


def unbiasedness(n_episodes: int, seed: int) -> None:
    small = random_mdp(3, 2, 2, horizon=3, seed=seed, p_terminal=0.2)
    small_policy = HierarchicalPolicy.random(small, np.random.default_rng(seed))
    enum_gap = np.abs(exact_gradient(small, small_policy)[1] - exact_gradient_enumeration(small, small_policy)[1]).max()

    mdp = random_mdp(4, 2, 2, horizon=5, seed=seed + 1)
    policy = HierarchicalPolicy.random(mdp, np.random.default_rng(seed + 1))
    J, grad = exact_gradient(mdp, policy)
    values = exact_values(mdp, policy)
    episodes = sample_episodes(mdp, policy, n_episodes, np.random.default_rng(seed))
    wrong_low = perturb_values(values, 1.0, np.random.default_rng(seed + 5), which=("v_low", "v_switch"))
    wrong_high = perturb_values(values, 1.0, np.random.default_rng(seed + 5), which=("v_high",))
    cases = [
        ("hae", "exact critics, lam_low=1, lam_high=0.95", values, EstimatorSettings(), "unbiased"),
        ("hae", "exact critics, lam_low=0.7", values, EstimatorSettings(lam_low=0.7), "unbiased"),
        ("hae", "V_low, V_switch off by N(0,1), lam_low=1", wrong_low, EstimatorSettings(), "unbiased"),
        ("hae", "V_high off by N(0,1) (control)", wrong_high, EstimatorSettings(), "biased"),
        ("gae", "exact critic, gae_lambda=0.95", values, EstimatorSettings(), "unbiased"),
        ("rloo", "groups of 8", values, EstimatorSettings(), "unbiased"),
        ("grpo", "mean baseline incl. self", values, EstimatorSettings(), "biased x(G-1)/G"),
    ]
    rows = []
    for name, what, critic, settings, theory in cases:
        g = gradient_estimates(name, mdp, policy, episodes, critic, settings)
        se = g.std(0, ddof=1) / math.sqrt(len(g))
        used = se > 0
        z = np.abs(g.mean(0) - grad)[used] / se[used]
        rel_bias = np.linalg.norm(g.mean(0) - grad) / np.linalg.norm(grad)
        verdict = "consistent" if z.max() < Z_MAX else "BIASED"
        rows.append([name, what, f"{z.max():.2f}", f"{(z**2).mean():.2f}", f"{rel_bias:.3f}", verdict, theory])
    print(f"\n== 1. Unbiasedness: random MDP, 4 states, 2 subgoals, 2 actions, horizon 5, J = {J:.4f}")
    print(f"   exact gradient by DP; DP vs exhaustive enumeration (3 states, horizon 3): max gap {enum_gap:.1e}")
    table(
        f"   {n_episodes} sampled episodes; 'consistent' = every component within {Z_MAX} standard errors",
        ["estimator", "critics / setting", "max|z|", "mean z^2", "|mean-exact|/|exact|", "verdict", "theory"],
        rows,
    )


def corridor_setup(seed: int) -> tuple:
    mdp = corridor_mdp(length=21, horizon=40, slip=0.1, n_subgoals=2)
    S, K, A = mdp.shape
    rng = np.random.default_rng(seed)
    follow = np.zeros((S, K, A))
    follow[:, 0, 0] = follow[:, 1, 1] = 1.4  # subgoal 0 = "go left", 1 = "go right", followed ~80% of the time
    policy = HierarchicalPolicy(
        switch_logits=np.full((S, K), -1.1),  # SWITCH with probability 0.25: segments of ~4 steps
        subgoal_logits=rng.normal(0, 0.3, (S, K)),
        action_logits=follow + rng.normal(0, 0.3, (S, K, A)),
    )
    return mdp, policy


VARIANCE_ESTIMATORS = [
    ("HAE", "hae", EstimatorSettings()),
    ("GAE l=.95", "gae", EstimatorSettings(gae_lambda=0.95)),
    ("GAE l=1", "gae", EstimatorSettings(gae_lambda=1.0)),
    ("RLOO", "rloo", EstimatorSettings()),
    ("GRPO", "grpo", EstimatorSettings()),
    ("GRPO/std", "grpo_std", EstimatorSettings()),
]


def variance(n_episodes: int, sigmas: list[float], seed: int, batch: int = 128) -> dict:
    mdp, policy = corridor_setup(seed)
    J, grad = exact_gradient(mdp, policy)
    values = exact_values(mdp, policy)
    episodes = sample_episodes(mdp, policy, n_episodes, np.random.default_rng(seed))
    lengths = episodes.mask.sum(1)
    print(f"\n== 2. Variance: corridor of 21 cells, horizon 40, reward 1 at the right end only, J = {J:.3f}")
    print(f"   episode length mean {lengths.mean():.1f} (max {lengths.max()}), {n_episodes} episodes, groups of 8")
    results: dict = {"sigma": sigmas, "var": {}, "cos": {}}
    for sigma in sigmas:
        critic = perturb_values(values, sigma, np.random.default_rng(seed + 7)) if sigma else values
        rows, base = [], None
        for label, name, settings in VARIANCE_ESTIMATORS:
            g = gradient_estimates(name, mdp, policy, episodes, critic, settings)
            # groups are independent, episodes inside one are not: per-episode variance = G * var(group mean)
            G = settings.group_size if name in ("rloo", "grpo", "grpo_std") else 1
            tr_var = G * g.reshape(-1, G, g.shape[1]).mean(1).var(0, ddof=1).sum()
            base = tr_var if base is None else base
            bias = np.linalg.norm(g.mean(0) - grad) / np.linalg.norm(grad)
            batches = g[: len(g) // batch * batch].reshape(-1, batch, g.shape[1]).mean(1)
            cos = (batches @ grad / (np.linalg.norm(batches, axis=1) * np.linalg.norm(grad))).mean()
            results["var"].setdefault(label, []).append(tr_var)
            results["cos"].setdefault(label, []).append(cos)
            scale_free = name == "grpo_std"
            rows.append(
                [
                    label,
                    f"{tr_var:.3f}",
                    f"{tr_var / base:.2f}x" + (" (other scale)" if scale_free else ""),
                    "-" if scale_free else f"{bias:.3f}",
                    f"{cos:.3f}",
                ]
            )
        table(
            f"   critic error sigma = {sigma} (values lie in [0, 1])",
            ["estimator", "tr Var/episode", "vs HAE", "|mean-exact|/|exact|", f"cos(batch {batch}, exact)"],
            rows,
        )
    return results


def timing(repeats: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    B, T = 128, 50
    r = (rng.random((B, T)) < 0.05).astype(float)
    switches = rng.random((B, T)) < 0.3
    dones = np.zeros((B, T), bool)
    lengths = rng.integers(T // 2, T + 1, size=B)
    mask = np.arange(T)[None] < lengths[:, None]
    dones[np.arange(B), lengths - 1] = rng.random(B) < 0.7
    v_low, v_high, v_switch = rng.normal(size=(3, B, T))

    def best_ms(fn, n=repeats) -> float:
        fn()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1e3 * float(np.median(times))

    def loop() -> None:
        for b, n in enumerate(lengths):
            hae(r[b, :n], dones[b, :n], switches[b, :n], v_low[b, :n], v_high[b, :n], values_switch=v_switch[b, :n])

    rows = []
    t_loop = best_ms(loop, max(3, repeats // 10))
    t_np = best_ms(lambda: hae_batch(r, dones, switches, v_low, v_high, mask, values_switch=v_switch))
    rows += [["hae (reference loop, 128 calls)", f"{t_loop:.2f}", "1.0x"]]
    rows += [["hae_batch numpy", f"{t_np:.2f}", f"{t_loop / t_np:.0f}x"]]
    try:
        import torch

        tt = [torch.tensor(x) for x in (r, dones, switches, v_low, v_high, mask, v_switch)]
        tt[0], tt[3], tt[4], tt[6] = (x.float() for x in (tt[0], tt[3], tt[4], tt[6]))
        t_torch = best_ms(lambda: hae_batch(*tt[:6], values_switch=tt[6]))
        rows += [["hae_batch torch (CPU tensors in and out)", f"{t_torch:.2f}", f"{t_loop / t_torch:.0f}x"]]
    except ImportError:
        rows += [["hae_batch torch", "torch not installed", "-"]]
    t_gae = best_ms(lambda: gae_batch(r, dones, v_low, mask, gae_lambda=0.95))
    rows += [["gae_batch numpy (for scale)", f"{t_gae:.2f}", f"{t_loop / t_gae:.0f}x"]]
    print(f"\n== 3. Speed: {B} trajectories x {T} steps (median of {repeats} runs, this machine)")
    table("", ["computation", "ms", "speed-up vs loop"], rows)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    sig = results["sigma"]
    for label, var in results["var"].items():
        if label != "GRPO/std":  # on another scale
            ax1.plot(sig, var, marker="o", label=label, lw=2.5 if label == "HAE" else 1.5)
        ax2.plot(sig, results["cos"][label], marker="o", label=label, lw=2.5 if label == "HAE" else 1.5)
    ax1.set(yscale="log", xlabel="critic error std (sigma)", ylabel="trace of gradient covariance per episode")
    ax1.set_title("Gradient variance (lower is better)")
    ax2.set(xlabel="critic error std (sigma)", ylabel="mean cosine to exact gradient")
    ax2.set_title("Direction quality, batches of 128 episodes\n(RLOO, GRPO and GRPO/std overlap)", fontsize=10)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Corridor, horizon 40, sparse terminal reward: HAE vs flat GAE vs group baselines")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nplot saved to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer episodes and repeats (a few seconds)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_credit/variance.png"), help="plot path")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    unbiasedness(n_episodes=20_000 if args.quick else 200_000, seed=args.seed)
    sigmas = [0.0, 0.1, 0.2] if args.quick else [0.0, 0.05, 0.1, 0.2, 0.3]
    results = variance(n_episodes=8_192 if args.quick else 65_536, sigmas=sigmas, seed=args.seed)
    timing(repeats=20 if args.quick else 100, seed=args.seed)
    plot(results, args.out)
    print(f"total {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
