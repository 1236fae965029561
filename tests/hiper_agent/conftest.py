"""Agent tests run torch on one thread: the tiny models' ops are too small to split, and on a shared 2-core
machine two intra-op threads only contend (measured up to 10x slower)."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
