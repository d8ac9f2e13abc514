"""Loading a registry's built-in modules and its entry-point plug-ins (components, importers)."""
from __future__ import annotations

import importlib
import pkgutil
import warnings
from importlib.metadata import entry_points
from types import ModuleType


def load_plugins(builtin: ModuleType, group: str, kind: str) -> None:
    """Import every module of package `builtin` (sorted by name), then load each entry point of
    `group`; a plug-in that fails to load gives a warning naming it, never takes UNIPO down."""
    for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda m: m.name):
        importlib.import_module(f"{builtin.__name__}.{info.name}")
    for point in entry_points(group=group):
        try:
            point.load()
        except Exception as exc:
            warnings.warn(f"unipo: {kind} plug-in {point.name!r} ({point.value}) failed to load: {exc}")
