"""Importers: practitioners' dumps (TRL, verl, prime-rl, OpenRLHF, GradLoc, the reference UNIPO
format, UNIPO's own canonical log) -> run directories. See docs/importing.md."""
from unipo.importers.registry import Importer, detect, get, importer, importers, names

__all__ = ["Importer", "detect", "get", "import_run", "importer", "importers", "names"]


def __getattr__(name: str):
    if name == "import_run":
        from unipo.importers.run import import_run
        return import_run
    raise AttributeError(name)
