#!/bin/bash
# The trainer on a CUDA GPU, in ~5 minutes: what a GPU user runs first (results: docs/training.md, "On a GPU").
#   1. the smoke preset on the GPU, float32, then --resume for one more iteration, then bfloat16;
#   2. the gpu-1.5b preset's code path (bfloat16, separate critic) on a randomly initialised Qwen2.5-1.5B-shaped model
#      written locally: no hub access needed; checks memory and speed, it learns nothing.
# Usage: bash benchmarks/gpu_check.sh [OUT_DIR]      (exits non-zero at the first failure)
set -euo pipefail
OUT=${1:-runs/gpu_check}
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu checks the script itself (slowly) on a machine without a GPU
T="python -m hiper_agent.cli --device $DEVICE --output-dir $OUT --no-progress"
$T --preset smoke --exp-name smoke-fp32
$T --preset smoke --exp-name smoke-fp32 --resume --num-iterations 3
$T --preset smoke --exp-name smoke-bf16 --dtype bfloat16
python - "$OUT/q15" "$OUT/smoke-fp32/policy" <<'PY'
import sys, torch
from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM
out, tokenizer_dir = sys.argv[1:]
tok = AutoTokenizer.from_pretrained(tokenizer_dir)  # the smoke run's locally trained tokenizer
config = Qwen2Config(vocab_size=len(tok), hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                     num_attention_heads=12, num_key_value_heads=2, tie_word_embeddings=True,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
torch.manual_seed(0)
with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
print(f"random Qwen2.5-1.5B-shaped model: {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters")
model.save_pretrained(out)
tok.save_pretrained(out)
PY
$T --preset gpu-1.5b --exp-name gpu-1.5b-random --model "$OUT/q15" --critic-model "$OUT/q15" --num-envs 16 \
   --max-episode-steps 6 --max-new-tokens 48 --num-iterations 2 --eval-every 0 --checkpoint-every 0 \
   --minibatch-size 32 --grad-accum-steps 4
echo "gpu_check: all runs finished; metrics in $OUT/*/metrics.jsonl"
