import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """The networks in these tests are tiny: one thread is faster than a thread pool (and
    immune to oversubscription when the machine is shared)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
