"""Fixtures shared by the tests in this folder (the repository's conftest.py holds the project-wide ones)."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """One torch thread for the test, restored after: the thread count each worker process trains with,
    and no stall from two threads waiting on a core that another process holds."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
