"""Wrappers that adapt the option-aware text envs to other toolkits (stable-baselines3, sb3-contrib)."""

from __future__ import annotations

from hiper_envs.wrappers.discrete import DiscreteCommandWrapper

__all__ = ["DiscreteCommandWrapper"]
