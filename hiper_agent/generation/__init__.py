"""Generation backends: batched sampling with optional constrained decoding, and the matching log-probs."""

from hiper_agent.generation.base import (
    GenerationBackend,
    Sample,
    allowed_mask,
    sampling_logprobs,
    sequence_logprobs,
)
from hiper_agent.generation.constraints import FormatConstraint
from hiper_agent.generation.hf import HFGenerator

__all__ = [
    "FormatConstraint",
    "GenerationBackend",
    "HFGenerator",
    "Sample",
    "allowed_mask",
    "sampling_logprobs",
    "sequence_logprobs",
]
