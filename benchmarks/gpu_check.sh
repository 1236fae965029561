#!/bin/bash
# The trainer on a CUDA GPU, in ~6 minutes: what a GPU user runs first (results: docs/training.md "On a GPU",
# docs/scale.md). Needs torch, transformers, accelerate and peft, no network; vLLM and Ray are used where installed.
#   1. the smoke preset on the GPU, float32, then --resume for one more iteration, then bfloat16;
#   2. the gpu-1.5b preset's code path (bfloat16, separate critic) on a randomly initialised Qwen2.5-1.5B-shaped model
#      written locally (no hub access; it learns nothing): memory, rollout and update time;
#   3. generation tokens/s of the HF backend and, where installed, vLLM on that model, with the step-0 importance
#      ratio between each backend's log-probs and the trainer's (benchmarks/bench_engines.py);
#   4. one PPO iteration with 2 processes under `accelerate launch` (nccl on 2+ GPUs, else gloo on the CPU);
#   5. a summary: each section PASS / FAIL / SKIP (with the reason), and rollout / update times from metrics.jsonl.
# Usage: bash benchmarks/gpu_check.sh [OUT_DIR]     (exits non-zero if a section failed; the others still run)
#   DEVICE=cpu checks the script itself on a machine without a GPU: the same sections, on a 2-layer model of the
#   Qwen2 family instead of the 1.5B shape (a few minutes on 2 cores).
set -uo pipefail
OUT=${1:-runs/gpu_check}
DEVICE=${DEVICE:-cuda}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1  # everything here is local: fail fast instead of waiting on a hub
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
T="python -m hiper_agent.cli --device $DEVICE --output-dir $OUT --no-progress"
SUMMARY=()
FAILED=0

section() {  # section NAME COMMAND...: run it, record PASS or FAIL and its wall time
    local name=$1 t0=$SECONDS
    shift
    echo "== $name"
    if "$@"; then
        SUMMARY+=("PASS  $name ($((SECONDS - t0)) s)")
    else
        SUMMARY+=("FAIL  $name ($((SECONDS - t0)) s)")
        FAILED=1
    fi
}
skip() {  # skip NAME REASON
    echo "== $1: SKIP ($2)"
    SUMMARY+=("SKIP  $1: $2")
}
passed() { [[ " ${SUMMARY[*]} " == *"PASS  $1 ("* ]]; }

# -- 0. what this machine has
python - "$DEVICE" <<'PY' || { echo "gpu_check: torch is missing or DEVICE=$DEVICE is unusable"; exit 1; }
import importlib.util, sys
import torch
device = sys.argv[1]
print(f"torch {torch.__version__}; cuda: {torch.cuda.is_available()}"
      + (f" ({torch.cuda.device_count()} x {torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ""))
print("installed:", ", ".join(f"{m}={'yes' if importlib.util.find_spec(m) else 'no'}"
                               for m in ("transformers", "accelerate", "peft", "vllm", "ray")))
if device.startswith("cuda") and not torch.cuda.is_available():
    sys.exit(f"DEVICE={device} but torch sees no CUDA GPU (use DEVICE=cpu to check the script itself)")
PY

# -- 1. the smoke preset: float32, resume, bfloat16
section "smoke float32" $T --preset smoke --exp-name smoke-fp32
if passed "smoke float32"; then
    section "smoke --resume" $T --preset smoke --exp-name smoke-fp32 --resume --num-iterations 3
else
    skip "smoke --resume" "the float32 run failed"
fi
section "smoke bfloat16" $T --preset smoke --exp-name smoke-bf16 --dtype bfloat16

# -- 2. the gpu-1.5b code path on a random model of the same shape (2 layers of the family on CPU)
write_model() {
    python - "$OUT/q15" "$OUT/smoke-fp32/policy" "$DEVICE" <<'PY'
import sys, torch
from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM
out, tokenizer_dir, device = sys.argv[1:]
tok = AutoTokenizer.from_pretrained(tokenizer_dir)  # the smoke run's locally trained tokenizer
if device.startswith("cuda"):  # Qwen2.5-1.5B's shape
    shape = dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12)
else:  # the same family, small enough for a CPU
    shape = dict(hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4)
config = Qwen2Config(vocab_size=len(tok), num_key_value_heads=2, tie_word_embeddings=True, **shape,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
torch.manual_seed(0)
with torch.device("cuda" if device.startswith("cuda") else "cpu"):
    model = Qwen2ForCausalLM(config).to(torch.bfloat16 if device.startswith("cuda") else torch.float32)
print(f"random Qwen2-family model: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters")
model.save_pretrained(out)
tok.save_pretrained(out)
PY
}
if passed "smoke float32"; then
    section "write random 1.5B-shaped model" write_model
else
    skip "write random 1.5B-shaped model" "needs the smoke run's tokenizer"
fi
if [[ $DEVICE == cpu ]]; then  # the same code path, shrunk to minutes on 2 cores (bfloat16 matmuls are slow on CPUs)
    BIG=(--num-envs 4 --group-size 2 --max-episode-steps 3 --max-new-tokens 24 --max-prompt-tokens 256 --dtype float32
         --minibatch-size 8 --grad-accum-steps 2)
    GEN=(--dtype float32 --batch 8 --max-new-tokens 32)
else
    BIG=(--num-envs 16 --max-episode-steps 6 --max-new-tokens 48 --minibatch-size 32 --grad-accum-steps 4)
    GEN=(--dtype bfloat16 --batch 32 --max-new-tokens 64)
fi
if passed "write random 1.5B-shaped model"; then
    section "gpu-1.5b code path" $T --preset gpu-1.5b --exp-name gpu-1.5b-random --model "$OUT/q15" \
        --critic-model "$OUT/q15" --num-iterations 2 --eval-every 0 --checkpoint-every 0 "${BIG[@]}"
    # -- 3. generation tokens/s: HF, and vLLM where installed (the script prints SKIP for vLLM otherwise)
    section "generation tokens/s (HF, vLLM)" python benchmarks/bench_engines.py --model "$OUT/q15" \
        --device "$DEVICE" "${GEN[@]}"
else
    skip "gpu-1.5b code path" "no model"
    skip "generation tokens/s (HF, vLLM)" "no model"
fi

# -- 4. two processes under accelerate (the trainer's multi-GPU path: hiper_agent/distributed.py)
accelerate_2proc() {
    # one GPU cannot host two NCCL ranks: with fewer than 2 GPUs the 2 processes run on the CPU (gloo). `--cpu` would
    # start a single process (accelerate's multi-CPU launcher needs MPI): `--multi_gpu` starts torchrun's 2 and
    # ACCELERATE_USE_CPU=1 makes them form a gloo group
    local gpus adev env=()
    gpus=$(python -c "import torch; print(torch.cuda.device_count())")
    if [[ $DEVICE == cpu || $gpus -lt 2 ]]; then adev=cpu; env=(ACCELERATE_USE_CPU=1 CUDA_VISIBLE_DEVICES=); else adev=$DEVICE; fi
    env "${env[@]}" accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \
        --dynamo_backend no examples/train_hiper.py --preset smoke --device "$adev" --output-dir "$OUT" \
        --exp-name accelerate-2proc --num-iterations 1 --eval-every 0 --no-progress || return 1
    python - "$OUT/accelerate-2proc/metrics.jsonl" <<'PY'
import json, sys
steps = [json.loads(line)["step"] for line in open(sys.argv[1]) if line.strip()]
assert steps.count(1) == 1, f"iteration 1 logged {steps.count(1)} times (rank 0 alone should log it): {steps}"
print(f"accelerate 2 processes: metrics written once by rank 0, steps {steps}")
PY
}
if ! python -c "import accelerate" 2>/dev/null; then
    skip "accelerate 2 processes" "accelerate is not installed"
else
    section "accelerate 2 processes" accelerate_2proc
fi

# -- 5. summary
python - "$OUT" <<'PY'
import json, pathlib, sys
for path in sorted(pathlib.Path(sys.argv[1]).glob("*/metrics.jsonl")):
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "time/update_s" in r]
    if rows:
        last = rows[-1]
        print(f"{path.parent.name:18s} step {last.get('step', '?')}: rollout {last.get('time/rollout_s', 0):.1f} s"
              f" ({last.get('rollout/tokens_per_s', 0):.0f} tokens/s), update {last['time/update_s']:.1f} s")
PY
echo "gpu_check summary (DEVICE=$DEVICE, $SECONDS s):"
printf '  %s\n' "${SUMMARY[@]}"
exit $FAILED
