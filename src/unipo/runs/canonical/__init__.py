"""UNIPO canonical JSON/JSONL logs (docs/canonical-format.md): import into and export from run directories."""
from unipo.runs.canonical.export import export_canonical
from unipo.runs.canonical.importer import import_canonical

__all__ = ["export_canonical", "import_canonical"]
