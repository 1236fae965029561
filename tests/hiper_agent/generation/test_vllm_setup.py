"""`--generation-backend vllm` where vLLM cannot run stops the run at setup, saying what is missing."""

from __future__ import annotations

import importlib.util

import pytest

pytest.importorskip("torch")

from hiper_agent.errors import SetupError  # noqa: E402
from hiper_agent.policies.llm import make_llm_policy  # noqa: E402
from hiper_agent.training.ppo_config import HiPERConfig  # noqa: E402


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed: test_vllm.py runs")
def test_vllm_backend_without_vllm_is_a_setup_error():
    config = HiPERConfig.from_preset("smoke").replace(generation_backend="vllm")
    with pytest.raises(SetupError, match=r"--generation-backend vllm: .*pip install 'hiper\[vllm\]'"):
        make_llm_policy(config, demos=(), device="cpu")
