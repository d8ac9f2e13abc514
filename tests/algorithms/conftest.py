"""Fixtures for the algorithm tests. TRL is loaded lazily: only parity tests pay its import time."""
import importlib.util
from pathlib import Path

import pytest


def _load_helper(name: str):
    # --import-mode=importlib: sibling helper modules are not importable by bare name.
    spec = importlib.util.spec_from_file_location(f"unipo_tests_algorithms_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def trl_oracle():
    """Module with trl_loss(...) driving TRL's GRPOTrainer._compute_loss."""
    pytest.importorskip("trl")
    return _load_helper("trl_grpo_oracle")
