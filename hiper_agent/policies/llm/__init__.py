"""The LLM policy family: one language model writes ``<switch>``, ``<subgoal>`` and ``<action>`` each step.

- ``policy.py``: `LLMPolicy`; ``factory.py``: its factory and loader (registered as ``llm``);
- ``batch.py``: turns -> left-padded token batches, response log-probs and critic values;
- ``sft.py``: the SFT warm start on the expert's three-block responses.
"""

from __future__ import annotations

from hiper_agent.policies.llm.factory import load_llm_policy, make_llm_policy
from hiper_agent.policies.llm.policy import LLMPolicy

__all__ = ["LLMPolicy", "load_llm_policy", "make_llm_policy"]
