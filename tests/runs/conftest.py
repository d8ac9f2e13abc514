"""Fixtures shared by the run-store tests."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _load_fake_steps():
    # Loaded by path: tests run with --import-mode=importlib, so sibling modules are not importable.
    spec = importlib.util.spec_from_file_location("unipo_runs_fake_steps", HERE / "fake_steps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fake_steps = _load_fake_steps()


@pytest.fixture
def fake_record():
    return fake_steps.fake_record


@pytest.fixture
def part_of():
    """part_of(record, start, stop): responses start..stop of a StepRecord (a streamed part)."""
    return fake_steps.part_of


@pytest.fixture
def run_path(tmp_path):
    return tmp_path / "run"
