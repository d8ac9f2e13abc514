"""Algorithm descriptions (presets and runs' own algorithms), computed in the serving process.

`unipo.algorithms` describes itself without torch (registry descriptors, presets, cards), so the
catalogue needs no child process: torch is imported only when a what-if runs."""
from __future__ import annotations

import threading

import orjson


from unipo.server.run_algorithm import AlgorithmError, header_algorithm

__all__ = ["AlgorithmCatalog", "AlgorithmError", "describe"]


def describe(algo, summary: str | None) -> dict:
    return {"name": algo.name, "summary": summary, "hparams": algo.hparams, "formula": algo.formula.to_dict(),
            # What the spec needs and produces, so the UI never keeps its own list of estimators.
            "token_level_advantages": bool(algo.token_level_advantages),
            "uses_reference": bool(algo.uses_reference), "uses_values": bool(algo.uses_values),
            "composition": algo.composition,
            "components": [c.describe() for c in algo.components],
            "batch_dependent": algo.batch_dependent()}


def _encode(value) -> bytes:
    from unipo.server.json_response import dumps
    return dumps(value)


def algorithm_key(stored: dict) -> bytes:
    """Identity of a header's algorithm dict (key order does not matter)."""
    from unipo.server.json_response import dumps
    return dumps(stored, orjson.OPT_SORT_KEYS)


class AlgorithmCatalog:
    """Encoded descriptions: the preset listing, each preset, and each run header's algorithm."""

    def __init__(self):
        self._lock = threading.Lock()
        self._listing: bytes | None = None
        self._presets: dict[str, bytes] = {}
        self._runs: dict[bytes, bytes | AlgorithmError] = {}

    def _fill_listing(self) -> None:
        from unipo.algorithms import get_preset, list_presets
        presets = [describe(get_preset(info.name), info.summary) for info in list_presets()]
        self._presets = {item["name"]: _encode(item) for item in presets}
        self._listing = _encode(presets)

    def prefetch(self, stored_algorithms: list[dict]) -> None:
        """Fill the cache for the listing and these runs' algorithms (serve() calls this at start)."""
        for stored in stored_algorithms:
            if isinstance(stored, dict):
                try:
                    self.for_run(stored)
                except AlgorithmError:
                    pass
        self.listing()

    def is_filled(self) -> bool:
        return self._listing is not None

    def cached_for_run(self, stored: dict) -> bytes | None:
        """The description when already computed (AlgorithmError raised as for_run would)."""
        found = self._runs.get(algorithm_key(stored))
        if isinstance(found, AlgorithmError):
            raise found
        return found

    def listing(self) -> bytes:
        with self._lock:
            if self._listing is None:
                self._fill_listing()
        return self._listing  # type: ignore[return-value]

    def preset(self, name: str) -> bytes | None:
        """The preset's description, or None when there is no such preset."""
        self.listing()
        return self._presets.get(name)

    def preset_names(self) -> list[str]:
        self.listing()
        return list(self._presets)

    def for_run(self, stored: dict) -> bytes:
        """The description of a header's algorithm, with `source` ("header" | "preset"), `notes` and
        `ignored_hparams`; AlgorithmError when it can be neither rebuilt nor mapped onto a preset."""
        key = algorithm_key(stored)
        with self._lock:
            if key not in self._runs:
                from unipo.algorithms import list_presets
                summaries = {info.name: info.summary for info in list_presets()}
                try:
                    found = header_algorithm(stored)
                    algo = found.spec
                    self._runs[key] = _encode({**describe(algo, summaries.get(algo.name)), "source": found.source,
                                               "notes": found.notes, "ignored_hparams": found.ignored})
                except AlgorithmError as exc:
                    self._runs[key] = exc
            found = self._runs[key]
        if isinstance(found, AlgorithmError):
            raise found
        return found
