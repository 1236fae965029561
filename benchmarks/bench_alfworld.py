"""ALFWorld speed: ``HiPER/ALFWorld-v0`` vs the stock stack (``textworld.gym`` + alfworld's wrappers), same games.

The stock stack is exactly what ``AlfredTWEnv.init_env`` plays: ``textworld.gym.register_game(...)`` with
``EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])`` and ``wrappers=[AlfredDemangler(),
AlfredInfos]``. Each game is played by both with the same random walk (commands drawn from the admissible list);
every observation and admissible list must be identical, and the script exits with status 1 if one is not.

Rows: ``stock`` (textworld.gym), ``engine`` (:class:`~hiper_envs.alfworld.engine.AlfredEngine` alone) and
``env`` (the full ``ALFWorldEnv.step``, with the option protocol's info keys: subgoal status, candidates...).
``reset cold`` is the first reset of a game in the process, ``reset warm`` a later one. Usage::

    python benchmarks/bench_alfworld.py                   # 6 generated valid_seen games, 100 steps each
    python benchmarks/bench_alfworld.py --games 12 --steps 200 --num-subtasks 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field

# Parse the arguments first: fast_downward's translator overwrites sys.argv.
_PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_PARSER.add_argument("--games", type=int, default=6, help="number of generated games")
_PARSER.add_argument("--steps", type=int, default=100, help="random steps per game")
_PARSER.add_argument("--split", default="valid_seen", help="generated split")
_PARSER.add_argument("--num-subtasks", type=int, default=1, help="subtasks per game (composite when > 1)")
_PARSER.add_argument("--seed", type=int, default=0, help="generator seed and random-walk seed")


@dataclass
class Timing:
    """Accumulated seconds for one stack."""

    steps: int = 0
    step_s: float = 0.0
    cold_resets: list[float] = field(default_factory=list)
    warm_resets: list[float] = field(default_factory=list)

    @property
    def steps_per_s(self) -> float:
        """Steps per second."""
        return self.steps / self.step_s if self.step_s else float("nan")


def _ms(values: list[float]) -> float:
    return 1000 * sum(values) / len(values) if values else float("nan")


class _Games:
    """A list of game specs as a task source."""

    def __init__(self, specs: list) -> None:
        self.specs = specs

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, index: int):  # noqa: ANN204
        return self.specs[index]


def main() -> int:
    args = _PARSER.parse_args()
    import textworld
    import textworld.gym
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

    from hiper_envs.alfworld.engine import AlfredEngine
    from hiper_envs.alfworld.env import ALFWorldEnv
    from hiper_envs.alfworld.procedural import generate_game

    print(f"generating {args.games} {args.split} games (num_subtasks={args.num_subtasks}) ...", flush=True)
    specs = [generate_game(args.split, i, seed=args.seed, num_subtasks=args.num_subtasks) for i in range(args.games)]
    stock, engine_t, env_t = Timing(), Timing(), Timing()
    mismatches = 0
    request = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
    engine = AlfredEngine()
    env = ALFWorldEnv(task_source=_Games(specs), num_subtasks=args.num_subtasks, max_episode_steps=args.steps + 1)
    with tempfile.TemporaryDirectory(prefix="bench_alfworld_") as tmp:
        for index, spec in enumerate(specs):
            path = os.path.join(tmp, f"game_{index}", "game.tw-pddl")
            os.makedirs(os.path.dirname(path))
            with open(path, "w") as f:
                json.dump(spec.game, f)
            env_id = textworld.gym.register_game(
                path, request, max_episode_steps=args.steps + 1, wrappers=[AlfredDemangler(), AlfredInfos]
            )
            stock_env = textworld.gym.make(env_id)

            # stock: the random walk is drawn here and replayed by the others
            rng = random.Random(args.seed * 1000 + index)
            t = time.perf_counter()
            obs, infos = stock_env.reset()
            stock.cold_resets.append(time.perf_counter() - t)
            reference = [(obs, [c for c in infos["admissible_commands"] if c != "help"])]
            commands = []
            for _ in range(args.steps):
                command = rng.choice(reference[-1][1])
                t = time.perf_counter()
                obs, _, done, infos = stock_env.step(command)
                stock.step_s += time.perf_counter() - t
                stock.steps += 1
                commands.append(command)
                reference.append((obs, [c for c in infos["admissible_commands"] if c != "help"]))
                if done:
                    break
            t = time.perf_counter()
            stock_env.reset()
            stock.warm_resets.append(time.perf_counter() - t)
            stock_env.close()

            # engine alone
            t = time.perf_counter()
            engine.load(spec.game)
            obs = engine.reset()
            engine_t.cold_resets.append(time.perf_counter() - t)
            transcript = [(obs, [c for c in engine.admissible_commands if c != "help"])]
            for command in commands:
                t = time.perf_counter()
                obs = engine.step(command)
                engine_t.step_s += time.perf_counter() - t
                engine_t.steps += 1
                transcript.append((obs, [c for c in engine.admissible_commands if c != "help"]))
            mismatches += transcript != reference

            # the full env (its first reset of this game is warm for the caches the engine filled: count it warm)
            for _ in range(2):
                t = time.perf_counter()
                obs, info = env.reset(options={"game_index": index})
                env_t.warm_resets.append(time.perf_counter() - t)
            transcript = [(obs, info["admissible_commands"])]
            for command in commands:
                t = time.perf_counter()
                obs, _, terminated, truncated, info = env.step(command)
                env_t.step_s += time.perf_counter() - t
                env_t.steps += 1
                transcript.append((obs, info["admissible_commands"]))
            mismatches += transcript != reference
            print(f"  game {index}: {spec.task_type:32s} {len(commands)} steps, identical={transcript == reference}")
    engine.close()
    env.close()

    print()
    print(f"{'stack':8s} {'steps/s':>9s} {'ms/step':>8s} {'reset cold ms':>14s} {'reset warm ms':>14s}")
    for name, timing in (("stock", stock), ("engine", engine_t), ("env", env_t)):
        print(
            f"{name:8s} {timing.steps_per_s:9.1f} {1000 / timing.steps_per_s:8.2f} "
            f"{_ms(timing.cold_resets):14.1f} {_ms(timing.warm_resets):14.1f}"
        )
    print()
    print(f"steps/s ratio env/stock:    {env_t.steps_per_s / stock.steps_per_s:.1f}x")
    print(f"steps/s ratio engine/stock: {engine_t.steps_per_s / stock.steps_per_s:.1f}x")
    print(f"reset ratio stock/engine (cold): {_ms(stock.cold_resets) / _ms(engine_t.cold_resets):.1f}x")
    print(f"reset ratio stock/env (warm):    {_ms(stock.warm_resets) / _ms(env_t.warm_resets):.1f}x")
    print(f"transcripts identical: {'yes' if mismatches == 0 else f'NO ({mismatches} mismatching runs)'}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
