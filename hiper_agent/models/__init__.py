"""Policy and critic models: ``load_model`` (tiny, SmolLM2, GGUF, HF folder or hub id), LoRA, value-head critic."""

from hiper_agent.models.critic import (
    HEAD_HIGH,
    HEAD_LOW,
    HEAD_NAMES,
    HEAD_SWITCH,
    ValueHeadCritic,
    build_critic,
    value_positions,
)
from hiper_agent.models.forward import causal_lm_logits, position_ids_from_mask
from hiper_agent.models.loader import LoadedModel, apply_lora, default_cache_dir, load_model
from hiper_agent.models.tiny import PROTOCOL_TAG_TOKENS, PROTOCOL_WORD_TOKENS, TinyConfig

__all__ = [
    "HEAD_HIGH",
    "HEAD_LOW",
    "HEAD_NAMES",
    "HEAD_SWITCH",
    "PROTOCOL_TAG_TOKENS",
    "PROTOCOL_WORD_TOKENS",
    "LoadedModel",
    "TinyConfig",
    "ValueHeadCritic",
    "apply_lora",
    "build_critic",
    "causal_lm_logits",
    "default_cache_dir",
    "load_model",
    "position_ids_from_mask",
    "value_positions",
]
