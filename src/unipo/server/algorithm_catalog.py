"""Algorithm descriptions (presets and runs' own algorithms), without torch in the serving process.

`unipo.algorithms` imports torch (~190 MB resident, ~1 s), yet every page needs the presets'
formulas and hyper-parameters, which are plain JSON. So, unless torch is already loaded (a what-if
was asked, or the host process imported it: tests, notebooks), the descriptions are computed by a
short-lived child process (`python -c`, calling unipo.algorithms exactly as the in-process path
does) and kept as encoded JSON. serve() asks for them at start-up, together with the algorithm of
every run found then; a run appearing later costs one more child (~2 s) the first time it is asked.
The main process imports torch only when a what-if is requested.

The child loads this file by path, not as `unipo.server.algorithm_catalog` (importing the package
would load the whole web stack for nothing), so it imports nothing from unipo.server.
"""
from __future__ import annotations

import subprocess
import sys
import threading

import orjson

CHILD_TIMEOUT_S = 120
_CHILD_CODE = ("import importlib.util as u; s = u.spec_from_file_location('unipo_algorithm_catalog', {path!r}); "
               "m = u.module_from_spec(s); s.loader.exec_module(m); m.child_main()")


class AlgorithmError(ValueError):
    """A run's header algorithm cannot be rebuilt (AlgorithmSpec.from_dict failed)."""


def describe(algo, summary: str | None) -> dict:
    return {"name": algo.name, "summary": summary, "hparams": algo.hparams, "formula": algo.formula.to_dict(),
            # What the spec needs and produces, so the UI never keeps its own list of estimators.
            "token_level_advantages": bool(algo.token_level_advantages),
            "uses_reference": bool(algo.uses_reference), "uses_values": bool(algo.uses_values)}


def _encode(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def algorithm_key(stored: dict) -> bytes:
    """Identity of a header's algorithm dict (key order does not matter)."""
    return orjson.dumps(stored, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def compute(stored_algorithms: list[dict]) -> dict:
    """{"presets": [description...], "runs": [{"ok": description} | {"error": message}]} (imports torch)."""
    from unipo.algorithms import AlgorithmSpec, get_preset, list_presets

    summaries = {info.name: info.summary for info in list_presets()}
    runs = []
    for stored in stored_algorithms:
        try:
            algo = AlgorithmSpec.from_dict(stored)
            runs.append({"ok": describe(algo, summaries.get(algo.name))})
        except (ValueError, TypeError, KeyError) as exc:
            runs.append({"error": str(exc)})
    return {"presets": [describe(get_preset(name), summary) for name, summary in summaries.items()], "runs": runs}


def child_main() -> None:
    """In the child: algorithm dicts (a JSON list) on stdin, compute()'s answer as JSON on stdout."""
    stored = orjson.loads(sys.stdin.buffer.read() or b"[]")
    sys.stdout.buffer.write(_encode(compute(stored)))
    sys.stdout.buffer.flush()


def compute_in_child(stored_algorithms: list[dict], *, timeout_s: float = CHILD_TIMEOUT_S) -> dict:
    code = _CHILD_CODE.format(path=__file__)
    done = subprocess.run([sys.executable, "-c", code], input=_encode(stored_algorithms),
                          capture_output=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise RuntimeError(f"algorithm description process failed ({done.returncode}): {tail[0]}")
    return orjson.loads(done.stdout)


class AlgorithmCatalog:
    """Encoded descriptions: the preset listing, each preset, and each run header's algorithm."""

    def __init__(self, *, use_child: bool | None = None):
        # None: a child only while torch is not loaded here; True/False force it (tests).
        self.use_child = use_child
        self._lock = threading.Lock()  # one computation at a time; the others then find it cached
        self._listing: bytes | None = None
        self._presets: dict[str, bytes] = {}
        self._runs: dict[bytes, bytes | AlgorithmError] = {}
        self.children_started = 0

    def _wants_child(self) -> bool:
        if self.use_child is not None:
            return self.use_child
        return "unipo.algorithms" not in sys.modules

    def _fill(self, stored_algorithms: list[dict]) -> None:
        """Compute the listing and these run algorithms (under the lock), in a child when torch is absent."""
        answer = None
        if self._wants_child():
            self.children_started += 1
            try:
                answer = compute_in_child(stored_algorithms)
            except (OSError, RuntimeError, subprocess.SubprocessError, orjson.JSONDecodeError):
                answer = None  # no child possible here: pay for torch in this process rather than fail
        if answer is None:
            answer = compute(stored_algorithms)
        if self._listing is None:
            self._listing = _encode(answer["presets"])
            self._presets = {item["name"]: _encode(item) for item in answer["presets"]}
        for stored, result in zip(stored_algorithms, answer["runs"]):
            self._runs[algorithm_key(stored)] = (_encode(result["ok"]) if "ok" in result
                                                 else AlgorithmError(result["error"]))

    def prefetch(self, stored_algorithms: list[dict]) -> None:
        """Fill the cache for the listing and these runs' algorithms (serve() calls this at start)."""
        with self._lock:
            wanted = [item for item in stored_algorithms if isinstance(item, dict)
                      and algorithm_key(item) not in self._runs]
            if self._listing is None or wanted:
                self._fill(wanted)

    def listing(self) -> bytes:
        if self._listing is None:
            self.prefetch([])
        return self._listing  # type: ignore[return-value]

    def preset(self, name: str) -> bytes | None:
        """The preset's description, or None when there is no such preset."""
        self.listing()
        return self._presets.get(name)

    def preset_names(self) -> list[str]:
        self.listing()
        return list(self._presets)

    def for_run(self, stored: dict) -> bytes:
        """The description of a header's algorithm; AlgorithmError when it cannot be rebuilt."""
        key = algorithm_key(stored)
        if key not in self._runs:
            self.prefetch([stored])
        found = self._runs[key]
        if isinstance(found, AlgorithmError):
            raise found
        return found
