"""Loading a sibling helper module by path (--import-mode=importlib: helpers beside the tests are not
importable by bare name)."""
from __future__ import annotations

import importlib.util
from pathlib import Path


def load_sibling(test_file: str, name: str, *, as_name: str | None = None):
    spec = importlib.util.spec_from_file_location(as_name or f"unipo_tests_{name}", Path(test_file).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
