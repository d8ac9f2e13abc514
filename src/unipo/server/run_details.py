"""The run's details as the Run details panel lists them: every key of its header, the known ones first
under plain names, imported runs' source header (unknown keys included) kept whole."""
from __future__ import annotations

from typing import Any

# (label, path into run.json)
KNOWN = (
    ("Task", ("task",)), ("Dataset", ("dataset",)), ("Reward strategy", ("reward_strategy",)),
    ("Model", ("model",)), ("Reference model", ("reference_model",)),
    ("Algorithm", ("algorithm", "name")), ("Hyper-parameters", ("algorithm", "hparams")),
    ("Algorithm as the source named it", ("algorithm_source",)),
    ("Configuration", ("config",)), ("Seed", ("seed",)),
    ("Source format", ("imported_from", "format")), ("Importer", ("imported_from", "importer")),
    ("Importer version", ("imported_from", "importer_version")), ("Source file", ("imported_from", "file")),
    ("Source header", ("imported_from", "header")),
    ("Status", ("status",)), ("Created", ("created",)), ("Versions", ("versions",)),
)
SHOWN_ELSEWHERE = {"name", "format", "algorithm", "imported_from", "updated"}


def _at(header: dict, path: tuple[str, ...]) -> Any:
    value: Any = header
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def run_details(header: Any) -> list[dict[str, Any]]:
    """[{label, key, value}] for every header value (value: the stored JSON, formatted by the browser)."""
    if not isinstance(header, dict):
        return []
    rows = []
    used = set()
    for label, path in KNOWN:
        value = _at(header, path)
        if value is not None:
            rows.append({"label": label, "key": ".".join(path), "value": value})
            used.add(path[0])
    algorithm = header.get("algorithm")
    if isinstance(algorithm, dict):
        for key, value in algorithm.items():
            if key not in ("name", "hparams", "format"):
                rows.append({"label": f"algorithm.{key}", "key": f"algorithm.{key}", "value": value})
    imported = header.get("imported_from")
    if isinstance(imported, dict):
        for key, value in imported.items():
            if key not in ("format", "importer", "importer_version", "file", "header"):
                rows.append({"label": f"imported_from.{key}", "key": f"imported_from.{key}", "value": value})
    for key, value in header.items():
        if key not in used and key not in SHOWN_ELSEWHERE:
            rows.append({"label": key, "key": key, "value": value})
    return rows
