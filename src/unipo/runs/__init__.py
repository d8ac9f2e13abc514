"""The run store: a run directory per training run (docs/contracts.md §2)."""
from unipo.runs.discovery import list_runs
from unipo.runs.errors import RunFormatError, StepNotFoundError
from unipo.runs.lock import LOCK_FILE, RunLockedError, WriterLock, check_no_writer
from unipo.runs.reader import RunReader
from unipo.runs.record import StepRecord
from unipo.runs.schema import FORMAT
from unipo.runs.space import DiskFullError
from unipo.runs.writer import RankWriter, RunWriter

__all__ = [
    "DiskFullError", "FORMAT", "LOCK_FILE", "RunFormatError", "RunLockedError", "WriterLock", "check_no_writer", "RankWriter", "RunReader", "RunWriter", "StepNotFoundError", "StepRecord", "list_runs",
    "export_canonical", "import_canonical",
]


def __getattr__(name: str):
    # Canonical import/export load lazily: the engine and server do not need them.
    if name in ("export_canonical", "import_canonical"):
        from unipo.runs import canonical

        return getattr(canonical, name)
    raise AttributeError(name)
