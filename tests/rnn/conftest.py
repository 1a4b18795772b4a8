"""The RNN tests run on tiny shapes, one thread each."""

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny shapes gain nothing from threads, and threads stall when the machine is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
