"""Generation tokens/s of the HF backend and, where installed, vLLM, on one model; and their log-prob agreement.

Each section also reports the PPO importance ratio at step 0: every sample's log-probs recomputed by the trainer's
own code (:func:`hiper_agent.policies.llm.batch.response_logprobs`) against the backend's (about 0 for HF by construction: the
check of the check; for vLLM, how far its kernels and grammar are from the trainer's distribution). A section that cannot run
here prints ``SKIP`` and why. Used by ``benchmarks/gpu_check.sh``; usage::

    python benchmarks/bench_engines.py --model runs/gpu_check/q15 --device cuda --dtype bfloat16
    python benchmarks/bench_engines.py --model tiny --device cpu --batch 8 --max-new-tokens 32
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_generation import corpus, prompts  # the same ALFWorld-like prompts as bench_generation.py

from hiper_agent.generation import FormatConstraint, HFGenerator
from hiper_agent.models import load_model
from hiper_agent.policies.llm.batch import collate, response_logprobs


def throughput(gen, texts, constraints, seed: int) -> tuple[float, int, list]:
    """New tokens per second of one ``generate`` call (after a short warm-up), tokens, and the samples."""
    gen.generate(texts[:2], constraints=constraints[:2], generator=torch.Generator().manual_seed(seed))
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    samples = gen.generate(texts, constraints=constraints, generator=torch.Generator().manual_seed(seed))
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    tokens = sum(len(s.response_ids) for s in samples)
    return tokens / seconds, tokens, samples


def report(name: str, rate: float, tokens: int) -> None:
    print(f"{name:28s} {rate:9.0f} tokens/s  ({tokens} tokens)", flush=True)


def importance_ratio(lm, samples, temperature: float) -> tuple[float, float]:
    """Mean and max ``|exp(logp_trainer - logp_engine) - 1|`` over every sampled token."""
    batch = collate(
        [s.prompt_ids for s in samples],
        [s.response_ids for s in samples],
        lm.tokenizer.pad_token_id,
        allowed=[s.allowed for s in samples],
        device=lm.device,
    )
    with torch.no_grad():
        logp, _ = response_logprobs(lm.model, batch, temperature)
    engine = torch.zeros_like(logp)
    for b, s in enumerate(samples):
        if s.logprobs:
            engine[b, logp.shape[1] - len(s.logprobs) :] = torch.tensor(s.logprobs, device=logp.device)
    delta = ((logp - engine).exp() - 1).abs()[batch.response_mask]
    return float(delta.mean()), float(delta.max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="'tiny' or a local Hugging Face folder")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--batch", type=int, default=32, help="prompts per generate call")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--vllm-memory", type=float, default=0.3, help="vLLM's gpu_memory_utilization")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    extra = {"tokenizer_corpus": corpus()} if args.model == "tiny" else {}
    lm = load_model(args.model, dtype=args.dtype, device=args.device, **extra)
    params = sum(p.numel() for p in lm.model.parameters())
    print(f"model {args.model}: {params / 1e6:.1f}M parameters, {args.dtype} on {args.device}", flush=True)
    texts, admissible = prompts(args.batch)
    free = [None] * len(texts)
    constrained = [FormatConstraint(commands) for commands in admissible]

    hf = HFGenerator(lm, max_new_tokens=args.max_new_tokens, batch_size=args.batch)
    hf_rates = {}
    for name, constraints in (("free", free), ("constrained", constrained)):
        rate, tokens, samples = throughput(hf, texts, constraints, args.seed)
        hf_rates[name] = rate
        report(f"hf {name}", rate, tokens)
        mean, worst = importance_ratio(lm, samples, hf.temperature)  # ~0: the same distribution by construction
        print(f"{'':28s} step-0 importance ratio: mean |r-1| {mean:.4f}, max {worst:.3f}", flush=True)

    try:
        import vllm  # noqa: F401
    except ImportError:
        print("vllm: SKIP (not installed; pip install 'hiper[vllm]')", flush=True)
        return
    if not str(args.device).startswith("cuda"):
        print(f"vllm: SKIP (its engine needs CUDA; device is {args.device})", flush=True)
        return
    from hiper_agent.generation.vllm import VLLMGenerator

    t0 = time.perf_counter()
    engine = VLLMGenerator(lm, max_new_tokens=args.max_new_tokens, gpu_memory_utilization=args.vllm_memory)
    print(f"vllm engine ready in {time.perf_counter() - t0:.1f} s (weights pushed from the torch model)", flush=True)
    for name, constraints in (("free", free), ("constrained", constrained)):
        rate, tokens, samples = throughput(engine, texts, constraints, args.seed)
        report(f"vllm {name}", rate, tokens)
        print(f"{'':28s} {rate / hf_rates[name]:9.1f} x the HF backend", flush=True)
        mean, worst = importance_ratio(lm, samples, engine.temperature)
        print(f"{'':28s} step-0 importance ratio: mean |r-1| {mean:.4f}, max {worst:.3f}", flush=True)
    t0 = time.perf_counter()
    engine.sync_weights()
    print(f"vllm weight push: {time.perf_counter() - t0:.2f} s", flush=True)
    engine.close()


if __name__ == "__main__":
    main()
