"""Fixtures for the algorithm tests. TRL is loaded lazily: only parity tests pay its import time."""

import pytest
from support.modules import load_sibling


def _load_helper(name: str):
    return load_sibling(__file__, name, as_name=f"unipo_tests_algorithms_{name}")


@pytest.fixture(scope="session")
def trl_oracle():
    """Module with trl_loss(...) driving TRL's GRPOTrainer._compute_loss."""
    pytest.importorskip("trl")
    return _load_helper("trl_grpo_oracle")
