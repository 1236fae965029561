"""Generation throughput: HFGenerator free vs constrained, batched vs one-by-one, vs HF ``generate``.

Every number is new tokens per second measured in this process; the ratios compare runs made side by side, so
they hold on any machine. Usage::

    python benchmarks/bench_generation.py                       # tiny model (5M), batch 16, 48 new tokens
    python benchmarks/bench_generation.py --threads 1 2         # also compare torch intra-op thread counts
    python benchmarks/bench_generation.py --model smollm2-135m --batch 8 --repeats 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from hiper_agent.generation import FormatConstraint, HFGenerator
from hiper_agent.models import load_model

OBJECTS = ["apple", "mug", "knife", "plate", "egg", "bread", "lettuce", "cup", "pan", "spoon"]
PLACES = ["countertop", "fridge", "cabinet", "drawer", "microwave", "sinkbasin", "stoveburner", "shelf", "desk"]


def corpus() -> list[str]:
    """ALFWorld-like text to train the tiny tokenizer on (observations, commands, tasks)."""
    lines = []
    for i, obj in enumerate(OBJECTS):
        for j, place in enumerate(PLACES):
            n = 1 + (i + j) % 3
            lines += [
                f"go to {place} {n}",
                f"take {obj} {n} from {place} {n}",
                f"put {obj} {n} in/on {place} {n}",
                f"open {place} {n}",
                f"On the {place} {n}, you see a {obj} {n} and a {OBJECTS[(i + 1) % 10]} {n}.",
                f"Your task is to: put a clean {obj} in {place}.",
            ]
    return lines


def prompts(batch: int) -> tuple[list[str], list[list[str]]]:
    """Prompts of ~100-150 tokens and their admissible commands."""
    out, admissible = [], []
    for b in range(batch):
        obj, place = OBJECTS[b % 10], PLACES[b % 9]
        commands = [f"go to {p} {1 + k % 3}" for k, p in enumerate(PLACES)] + [f"take {obj} 1 from {place} 1", "look"]
        out.append(
            f"You are in the middle of a room. Looking quickly around you, you see {', '.join(PLACES)}. "
            f"Your task is to: put a clean {obj} in {place}. Your current subgoal is: None. "
            f"Your admissible actions are: {', '.join(commands)}. Respond with <switch>, <subgoal>, <action>."
        )
        admissible.append(commands)
    return out, admissible


def timed(fn, repeats: int) -> tuple[float, tuple[int, int]]:
    """Median seconds of ``fn()`` over ``repeats`` runs (after one warm-up) and what the last run returned."""
    fn()
    seconds, counts = [], (0, 0)
    for _ in range(repeats):
        start = time.perf_counter()
        counts = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), counts


def bench(lm, batch: int, new_tokens: int, repeats: int) -> dict[str, float]:
    """New tokens/s of each generation mode."""
    texts, admissible = prompts(batch)
    constraints = [FormatConstraint(a) for a in admissible]
    batched = HFGenerator(lm, max_new_tokens=new_tokens, batch_size=batch)
    single = HFGenerator(lm, max_new_tokens=new_tokens, batch_size=1)

    def ours(gen, cons):
        def run() -> tuple[int, int]:
            samples = gen.generate(texts, constraints=cons, generator=torch.Generator().manual_seed(0))
            lengths = [len(s.response_ids) for s in samples]
            # decoding steps: the longest row of each batch
            steps = sum(max(lengths[i : i + gen.batch_size]) for i in range(0, len(lengths), gen.batch_size))
            return sum(lengths), steps

        return run

    def hf_generate() -> tuple[int, int]:
        enc = lm.tokenizer(texts, return_tensors="pt", padding=True)
        out = lm.model.generate(
            **enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True, top_p=1.0, top_k=0
        )
        return (out.shape[1] - enc["input_ids"].shape[1]) * batch, out.shape[1] - enc["input_ids"].shape[1]

    rates, step_ms = {}, {}
    for name, fn in [
        ("free, batched", ours(batched, None)),
        ("constrained, batched", ours(batched, constraints)),
        ("free, one by one", ours(single, None)),
        ("HF generate, batched", hf_generate),
    ]:
        seconds, (tokens, steps) = timed(fn, repeats)
        rates[name], step_ms[name] = tokens / seconds, 1000 * seconds / steps
        print(
            f"  {name:<24} {tokens:>6} new tokens in {seconds:6.2f} s = {rates[name]:8.1f} tok/s "
            f"({steps} steps, {step_ms[name]:.1f} ms/step)",
            flush=True,
        )
    rates["step ratio constrained / free"] = step_ms["constrained, batched"] / step_ms["free, batched"]
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="*", default=[torch.get_num_threads()])
    args = parser.parse_args()
    lm = load_model(args.model, tokenizer_corpus=corpus()) if args.model == "tiny" else load_model(args.model)
    params = sum(p.numel() for p in lm.model.parameters())
    print(
        f"model={args.model} ({params / 1e6:.1f}M params, vocab {len(lm.tokenizer)}), batch={args.batch}, "
        f"new_tokens={args.new_tokens}, torch {torch.__version__}"
    )
    results = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        print(f"torch threads = {threads}")
        rates = results[threads] = bench(lm, args.batch, args.new_tokens, args.repeats)
        print(
            f"  ratio constrained / free (batched):  {rates['constrained, batched'] / rates['free, batched']:.2f} tok/s, "
            f"{rates['step ratio constrained / free']:.2f} time per decoding step"
        )
        print(f"  ratio batched / one-by-one (free):   {rates['free, batched'] / rates['free, one by one']:.2f}")
        print(f"  ratio HFGenerator / HF generate:     {rates['free, batched'] / rates['HF generate, batched']:.2f}")
    if len(results) > 1:
        base = args.threads[0]
        for threads in args.threads[1:]:
            ratio = results[threads]["free, batched"] / results[base]["free, batched"]
            print(f"ratio free batched tok/s, {threads} threads / {base} thread(s): {ratio:.2f}")


if __name__ == "__main__":
    main()
