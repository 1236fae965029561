"""Fixtures for the env tests."""

import pytest
from keydoor_env import KeyDoorEnv


@pytest.fixture
def key_door_env() -> KeyDoorEnv:
    return KeyDoorEnv()
