"""`hiper-bench`: benchmark any agent on a fixed panel of episodes; `compare` runs side by side; `view` one run.

    hiper-bench --env HiPER/ALFWorld-v0 --split valid_unseen --agent random --episodes 24 --num-envs 4 --out runs/rand
    hiper-bench compare runs/rand runs/expert
    hiper-bench view runs/rand          # writes runs/rand/view.html

Exit status: 0 when every panel episode was played, 2 for a setup error (nothing is played; a folder this run
created is removed), 3 when some episodes failed on the server or were not played (``--resume`` plays them).

See ``docs/benchmarking.md``. NOTE: fast_downward (the ALFWorld env's planner) overwrites ``sys.argv`` on env resets,
so `main` reads the arguments once, before any env exists.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hiper_agent.errors import SetupError

__all__ = ["DEFAULT_SPLITS", "build_parser", "main"]

#: The held-out split ``--split`` defaults to, per env family (the first whose name is in the env id).
DEFAULT_SPLITS = {"webshop": "test", "alfworld": "valid_unseen"}
#: Exit status of a run that left episodes unplayed or failed on the server.
EXIT_INCOMPLETE = 3


def default_split(env_id: str) -> str:
    """The held-out split of an env family (``valid_unseen`` for ALFWorld, ``test`` for WebShop)."""
    for family, split in DEFAULT_SPLITS.items():
        if family in env_id.lower():
            return split
    raise SetupError(f"no default split for {env_id!r}: pass --split")


def _kv(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def build_parser() -> argparse.ArgumentParser:
    """The parser of a benchmark run (``compare`` has its own, see `build_compare_parser`)."""
    p = argparse.ArgumentParser(
        prog="hiper-bench",
        description="Benchmark an agent on a fixed panel of episodes (run `hiper-bench compare -h` to compare runs).",
    )
    g = p.add_argument_group("panel")
    g.add_argument("--env", default="HiPER/ALFWorld-v0", help="Gymnasium id (default: %(default)s)")
    g.add_argument(
        "--split", default=None, help="held-out split (default: valid_unseen for ALFWorld, test for WebShop)"
    )
    g.add_argument("--episodes", type=int, default=100, help="episodes: games 0..N-1 of the split (default: 100)")
    g.add_argument("--seed", type=int, default=0, help="panel seed: episode i resets with seed+i (default: 0)")
    g.add_argument("--num-subtasks", type=int, default=None, help="subtasks per game (ALFWorld K; default: env's)")
    g.add_argument("--max-episode-steps", type=int, default=None, help="step limit (default: the env's)")
    g.add_argument(
        "--env-kwarg",
        type=_kv,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra gym.make keyword (JSON value), repeatable",
    )
    g = p.add_argument_group("agent")
    g.add_argument(
        "--agent",
        required=True,
        help="random | expert | POLICY_FOLDER | hf:MODEL | openai:MODEL | python:module:object",
    )
    g.add_argument(
        "--agent-style",
        choices=["hiper", "react"],
        default="hiper",
        help="LLM agents: the three blocks (hiper) or one action per step (react); default: hiper",
    )
    g.add_argument("--temperature", type=float, default=0.0, help="LLM/policy sampling temperature; 0 = greedy")
    g.add_argument("--max-new-tokens", type=int, default=None, help="LLM response limit (default: 64 hiper, 256 react)")
    g.add_argument("--constrained", action="store_true", help="hf: constrain decoding to the format and commands")
    g.add_argument("--history-length", type=int, default=2, help="LLM prompts: past steps shown (default: 2)")
    g.add_argument("--device", default="cpu", help="hf / policy folder: torch device (default: cpu)")
    g.add_argument("--dtype", default="float32", help="hf: parameter dtype (default: float32)")
    g.add_argument("--base-url", default=None, help="openai: the server's URL, e.g. http://localhost:8000/v1")
    g.add_argument(
        "--request-timeout",
        type=float,
        default=120.0,
        help="openai: seconds one request may take; a timed-out request is not retried (default: 120)",
    )
    g.add_argument(
        "--max-retries",
        type=int,
        default=3,
        help="openai: retries after a connection error, 408, 429, 500, 502 or 503 (default: 3)",
    )
    g.add_argument(
        "--retry-backoff",
        type=float,
        default=1.0,
        help="openai: seconds before the first retry, doubling after each (default: 1)",
    )
    g = p.add_argument_group("run")
    g.add_argument("--num-envs", type=int, default=1, help="envs played in lockstep (results do not depend on it)")
    g.add_argument("--step-timeout", type=float, default=None, help="seconds one agent call may take (default: none)")
    g.add_argument("--out", required=True, help="results folder")
    g.add_argument(
        "--resume",
        action="store_true",
        help="play the episodes --out does not hold yet, and those that failed on the server",
    )
    g.add_argument(
        "--max-infrastructure-failures",
        type=int,
        default=5,
        help="stop starting episodes after this many server failures in a row; 0: never (default: 5)",
    )
    g.add_argument("--keep-prompts", action="store_true", help="keep every prompt in the transcripts (else a hash)")
    g.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    g.add_argument("--no-view", action="store_true", help="skip the trajectory viewer (view.html)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def build_compare_parser() -> argparse.ArgumentParser:
    """The parser of ``hiper-bench compare``."""
    p = argparse.ArgumentParser(prog="hiper-bench compare", description="Side-by-side table of benchmark runs.")
    p.add_argument("dirs", nargs="+", help="results folders; the first is the baseline the others are marked against")
    p.add_argument("--out", default=None, help="also write the table (Markdown) and a comparison plot here")
    return p


def build_view_parser() -> argparse.ArgumentParser:
    """The parser of ``hiper-bench view``."""
    p = argparse.ArgumentParser(prog="hiper-bench view", description="Write a run's trajectory viewer (static HTML).")
    p.add_argument("dir", help="a results folder")
    p.add_argument("--out", default=None, help="the HTML file (default: DIR/view.html)")
    return p


def agent_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments the chosen agent takes."""
    spec = args.agent
    greedy = args.temperature <= 0
    if spec.startswith(("hf:", "openai:")):
        options: dict[str, Any] = {
            "style": args.agent_style,
            "temperature": args.temperature,
            "history_length": args.history_length,
        }
        if args.max_new_tokens is not None:
            options["max_new_tokens"] = args.max_new_tokens
        if spec.startswith("hf:"):
            options.update(device=args.device, dtype=args.dtype, constrained=args.constrained)
        else:
            options.update(
                base_url=args.base_url,
                timeout=args.request_timeout,
                max_retries=args.max_retries,
                retry_backoff=args.retry_backoff,
            )
        return options
    if spec in ("random", "expert") or spec.startswith("python:"):
        return {}
    return {"greedy": greedy, "device": args.device}


def run(args: argparse.Namespace) -> Path:
    """Run the benchmark ``args`` describe; returns the results folder."""
    import hiper_envs  # noqa: F401  (registers HiPER/* ids)
    from hiper_agent.bench.agents import make_agent
    from hiper_agent.bench.results import RESULTS_FILE, ResultsDir, versions
    from hiper_agent.bench.runner import run_benchmark
    from hiper_agent.evaluation.panels import EvalPanel

    if args.episodes <= 0:
        raise SetupError(f"--episodes must be positive, got {args.episodes}")
    split = args.split or default_split(args.env)
    panel = EvalPanel(args.env, split, args.episodes, args.seed, args.num_subtasks)
    env_kwargs = dict(args.env_kwarg)
    if args.max_episode_steps is not None:
        env_kwargs["max_episode_steps"] = args.max_episode_steps
    agent = make_agent(args.agent, **agent_options(args))
    agent.preflight()  # a server that does not answer stops the run here, before any folder is written
    header = {
        "agent": {"spec": args.agent, **agent.describe()},
        "panel": panel.to_dict(),
        "env_kwargs": env_kwargs,
        "versions": versions(("torch", "transformers", "openai")),
        "num_envs": args.num_envs,
    }
    fresh = not (Path(args.out) / RESULTS_FILE).exists()
    results = ResultsDir(args.out)
    results.start(header, resume=args.resume)
    try:
        run_benchmark(
            agent,
            panel,
            results,
            num_envs=args.num_envs,
            env_kwargs=env_kwargs,
            step_timeout=args.step_timeout,
            progress=not args.no_progress,
            keep_prompts=args.keep_prompts,
            stop_after_infrastructure_failures=args.max_infrastructure_failures or None,
        )
    except SetupError:
        if fresh and not results.episodes():
            shutil.rmtree(results.path, ignore_errors=True)  # leave nothing behind for a run that never started
        raise
    if not args.no_plots:
        from hiper_agent.bench.plots import plot_results

        plot_results(results.path)
    if not args.no_view:
        from hiper_agent.bench.viewer import write_view

        write_view(results.path)
    return results.path


def compare(args: argparse.Namespace) -> str:
    """Print (and with ``--out`` write) the side-by-side table of ``args.dirs``."""
    from hiper_agent.bench.compare import compare_table
    from hiper_agent.bench.results import load_results

    runs = [load_results(d) for d in args.dirs]
    out = Path(args.out) if args.out else None
    table = compare_table(runs, link_from=out.parent if out is not None else None)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table)
        from hiper_agent.bench.plots import plot_comparison

        plot_comparison(runs, out.with_suffix(".png"))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; user errors print a message and exit 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["compare"]:
            print(compare(build_compare_parser().parse_args(argv[1:])), end="")
            return 0
        if argv[:1] == ["view"]:
            from hiper_agent.bench.viewer import write_view

            view_args = build_view_parser().parse_args(argv[1:])
            print(f"view: {write_view(view_args.dir, view_args.out)}")
            return 0
        args = build_parser().parse_args(argv)
        folder = run(args)
    except SetupError as err:
        print(f"hiper-bench: error: {err}", file=sys.stderr)
        return 2
    from hiper_agent.bench.report import infrastructure_warning
    from hiper_agent.bench.results import load_results

    print((folder / "results.md").read_text())
    print(f"results: {folder / 'results.json'}")
    if (folder / "view.html").is_file():
        print(f"view: {folder / 'view.html'}")
    warning = infrastructure_warning(load_results(folder)["summary"])
    if warning:
        print(f"hiper-bench: {warning}", file=sys.stderr)
        return EXIT_INCOMPLETE
    return 0


if __name__ == "__main__":
    sys.exit(main())
