import pytest

from unipo.models import WarmupSettings


@pytest.fixture
def few_steps():
    """A warm-up short enough for a unit test: it exercises the loop, not the learning."""
    return WarmupSettings(steps=6, target_accuracy=None, batch_size=16, log_every=2, eval_every=3, eval_size=4)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The tiny model gains nothing from a second thread, and on the shared CI cores torch's
    spinning workers make every call several times slower. Restored after each test."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
