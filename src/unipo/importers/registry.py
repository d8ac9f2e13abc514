"""The importer registry: one self-describing descriptor per input format (torch-free).

An importer says, without reading a byte of the run:
- `detect(path) -> float`: how sure it is that a file or folder is its format (0 = not mine,
  1 = certain: a marker only this format writes); `unipo import` picks the most confident one and
  `--format NAME` skips detection;
- `maps`: which fields of the source it stores, and as what;
- `cannot_provide`: what the source does not hold (so the end report can say which views and
  what-ifs will be unavailable before anyone opens the run);
- `read(source, context) -> Iterator[Header | Step]`: the run, one step at a time (bounded memory).

Register with the `@importer(...)` decorator on the read function. Built-ins live in
`unipo.importers.formats` (every module there is imported); another package adds its own by naming a
module in the `unipo.importers` entry-point group, e.g. in its pyproject.toml:

    [project.entry-points."unipo.importers"]
    my_format = "my_package.unipo_importer"
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from unipo.plugins import load_plugins

ENTRY_POINT_GROUP = "unipo.importers"


@dataclass(frozen=True)
class Importer:
    name: str
    summary: str
    read: Callable[..., Iterator]
    detect: Callable[[Path], float]
    maps: dict[str, str] = field(default_factory=dict)      # source field -> what it becomes
    cannot_provide: tuple[str, ...] = ()                      # stored columns this source never has
    version: str = "1"
    source: str = ""                                           # the framework file the schema comes from

    def describe(self) -> dict:
        return {"name": self.name, "summary": self.summary, "maps": dict(self.maps),
                "cannot_provide": list(self.cannot_provide), "version": self.version, "source": self.source}


_REGISTRY: dict[str, Importer] = {}
_loaded = False


def importer(name: str, *, summary: str, detect: Callable[[Path], float], **details):
    """Decorator for a read function (source, context) -> iterator of parts: registers the importer."""

    def register(read):
        found = _REGISTRY.get(name)
        if found is not None and found.read is not read:
            raise ValueError(f"importer {name!r} is registered twice ({found.read.__module__} and {read.__module__})")
        _REGISTRY[name] = Importer(name=name, summary=summary, read=read, detect=detect, **details)
        return read

    return register


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import unipo.importers.formats as builtin
    load_plugins(builtin, ENTRY_POINT_GROUP, "importer")


def importers() -> list[Importer]:
    _load()
    return list(_REGISTRY.values())


def names() -> tuple[str, ...]:
    return tuple(i.name for i in importers())


def get(name: str) -> Importer:
    _load()
    found = _REGISTRY.get(name)
    if found is None:
        from unipo.errors import UnipoError
        raise UnipoError(f"--format: unknown format {name!r}; known: {', '.join(names())}")
    return found


def detect(path: Path) -> Importer:
    """The importer most confident about path; UnipoError naming the candidates when none or a tie."""
    from unipo.errors import UnipoError
    scored = []
    for candidate in importers():
        try:
            score = float(candidate.detect(path))
        except (OSError, ValueError, UnicodeDecodeError):
            score = 0.0  # unreadable as this format: not this format
        if score > 0:
            scored.append((score, candidate))
    if not scored:
        what = "is a directory holding no run in a format" if path.is_dir() else "is not in a format"
        raise UnipoError(f"{path}: {what} UNIPO recognises (known: {', '.join(names())}); "
                         "give --format NAME if it is one of them")
    scored.sort(key=lambda pair: -pair[0])
    best = scored[0][0]
    tied = [c.name for s, c in scored if s == best]
    if len(tied) > 1:
        raise UnipoError(f"{path}: could be {' or '.join(tied)}; give --format to choose")
    return scored[0][1]
