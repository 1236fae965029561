"""Train a HiPER agent: SFT warm start from the env's expert, then PPO with hierarchical advantage estimation.

    python examples/train_hiper.py                       # the `cpu` preset on HiPER/ALFWorld-v0 (<= 30 min, 2 cores)
    python examples/train_hiper.py --preset smoke        # 1-2 minutes, to check the setup
    python examples/train_hiper.py --advantage-estimator grpo   # a flat baseline through the same loop
    python examples/train_hiper.py --preset gpu-7b       # the paper's setting (Qwen2.5-7B-Instruct, GPU)
    python examples/train_hiper.py --resume              # continue the run from its latest checkpoint
    accelerate launch --multi_gpu --num_processes 4 examples/train_hiper.py --preset gpu-1.5b   # 4 GPUs (DDP)

Every field of `HiPERConfig` is a flag (`--help` lists them). The run directory holds `metrics.jsonl`,
TensorBoard events, checkpoints and `learning_curve.png`.
"""

from hiper_agent.cli import parse_args
from hiper_agent.errors import SetupError
from hiper_agent.training.ppo_trainer import train


def main() -> None:
    config = parse_args()  # parse before any env exists: the ALFWorld planner overwrites sys.argv
    try:
        result = train(config)
    except SetupError as e:  # a used run dir, nothing to --resume from, a model that is not there
        raise SystemExit(f"train_hiper.py: {e}") from None
    print(result["summary"])
    if result["plot"]:  # under `accelerate launch`, rank 0 plots
        print(f"learning curve: {result['plot']}")


if __name__ == "__main__":
    main()
