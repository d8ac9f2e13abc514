"""Fixtures: two finished runs in one folder, a TestClient and a live uvicorn server over them."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from unipo.server import create_app


def _load_helpers():
    # Tests may run with --import-mode=importlib, where sibling modules are not importable:
    # load the helpers by path and register them so test modules can `import server_run_fixtures`.
    spec = importlib.util.spec_from_file_location("server_run_fixtures", Path(__file__).with_name("server_run_fixtures.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_helpers = _load_helpers()
LiveServer, write_run = _helpers.LiveServer, _helpers.write_run


@pytest.fixture(scope="session")
def runs_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("template") / "runs"
    write_run(root / "alpha")
    write_run(root / "beta", steps=2)
    return root


@pytest.fixture
def runs_dir(tmp_path, runs_template) -> Path:
    """A fresh copy per test (tests add steps, runs and symlinks); writing once keeps the suite fast."""
    root = tmp_path / "runs"
    shutil.copytree(runs_template, root)
    return root


@pytest.fixture
def client(runs_dir) -> TestClient:
    with TestClient(create_app([runs_dir], poll_interval_s=0.05)) as test_client:
        yield test_client


@pytest.fixture
def live_server(runs_dir):
    with LiveServer(create_app([runs_dir], poll_interval_s=0.05)) as server:
        yield server
