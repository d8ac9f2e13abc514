"""The jobs the what-if worker process runs (whatif_worker.py). Importing this module loads no torch;
each job imports the recompute code (and torch) inside the worker.

Every job returns ("ok", value) or (http status, message): exceptions never cross the process
boundary, so a user mistake (an unknown preset, a bad hyper-parameter) stays a clear 4xx.
"""
from __future__ import annotations

from collections import OrderedDict

# The worker keeps this many recent large what-ifs (flat token columns) to cut pages from.
KEPT_RESULTS = 2
_results: OrderedDict = OrderedDict()


def run_job(job: str, args: tuple):
    from unipo.errors import UnipoError
    from unipo.runs import RunFormatError, StepNotFoundError
    try:
        return "ok", JOBS[job](*args)
    except _Refused as exc:
        return exc.status, exc.message
    except StepNotFoundError as exc:
        return 404, str(exc)
    except RunFormatError as exc:
        return 422, str(exc)
    except UnipoError as exc:
        return 400, str(exc)
    except MemoryError:
        return 503, "busy: the what-if ran out of memory"


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _spec(algo: str, overrides: dict):
    from unipo.algorithms import get_preset, list_presets
    from unipo.server.algorithm_catalog import describe
    try:
        spec = get_preset(algo, **overrides)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise _Refused(400, str(exc)) from None
    summaries = {info.name: info.summary for info in list_presets()}
    return spec, describe(spec, summaries.get(algo))


def _payload(run_path: str, header: dict, step: int, algo: str, overrides: dict) -> dict:
    from unipo.runs import RunReader
    from unipo.server.whatif import whatif_payload
    spec, described = _spec(algo, overrides)
    table = RunReader(run_path).step(step, include_empty_responses=True)
    try:
        return whatif_payload(table, step, header, spec, described)
    except (ValueError, ArithmeticError) as exc:
        raise _Refused(400, f"step {step} of run {header.get('name')!r} cannot be recomputed under "
                            f"{algo!r}: {exc}") from None


def whole(run_path: str, header: dict, step: int, algo: str, overrides: dict) -> bytes:
    """The what-if payload of contract §3 (every token), encoded."""
    from unipo.server.json_response import dumps
    return dumps(_payload(run_path, header, step, algo, overrides))


def _kept(key: tuple, run_path: str, header: dict, step: int, algo: str, overrides: dict) -> dict:
    """The what-if payload of `key`, computed once and kept for the pages that follow."""
    if key in _results:
        _results.move_to_end(key)
        return _results[key]
    payload = _payload(run_path, header, step, algo, overrides)
    _results[key] = payload
    while len(_results) > KEPT_RESULTS:
        _results.popitem(last=False)
    return payload


def paged_summary(key: tuple, run_path: str, header: dict, step: int, algo: str, overrides: dict) -> bytes:
    """Everything of the what-if payload but its token columns: identity, algorithm, missing, notes,
    metrics, per-response columns and the summary (flip and newly-clipped counts)."""
    import numpy as np

    from unipo.server.json_response import dumps
    payload = _kept(key, run_path, header, step, algo, overrides)
    tokens = payload["tokens"]
    out = {name: value for name, value in payload.items() if name != "tokens"}
    out["paged"] = True
    out["token_count"] = int(tokens["offsets"][-1])
    out["token_columns"] = [name for name in tokens if name != "offsets"]
    out["responses"] = {name: value for name, value in payload["responses"].items()}
    out["responses"]["token_count"] = np.diff(tokens["offsets"])
    return dumps(out)


def paged_tokens(key: tuple, run_path: str, header: dict, step: int, algo: str, overrides: dict,
                 responses: list[int], columns: list[str] | None) -> bytes:
    """Arrow IPC stream of the what-if token columns of `responses` (response, position first)."""
    import numpy as np
    import pyarrow as pa

    from unipo.server.step_pages import ipc_bytes
    payload = _kept(key, run_path, header, step, algo, overrides)
    tokens, ids = payload["tokens"], np.asarray(payload["responses"]["response"]).astype(np.int64)
    offsets = np.asarray(tokens["offsets"], dtype=np.int64)
    names = [name for name in tokens if name != "offsets"] if columns is None else columns
    unknown = [name for name in names if name not in tokens or name == "offsets"]
    if unknown:
        raise _Refused(400, f"columns: not in this what-if: {', '.join(unknown[:5])}")
    rows, response, position = [], [], []
    for wanted in responses:
        at = np.flatnonzero(ids == wanted)
        if len(at) == 0:
            raise _Refused(404, f"step {step} has no response {wanted}")
        start, end = offsets[at[0]], offsets[at[0] + 1]
        rows.append(np.arange(start, end))
        response.append(np.full(end - start, wanted, dtype=np.int32))
        position.append(np.arange(end - start, dtype=np.int32))
    take = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    columns_out = {"response": np.concatenate(response) if response else np.zeros(0, np.int32),
                   "position": np.concatenate(position) if position else np.zeros(0, np.int32)}
    for name in names:
        columns_out[name] = np.asarray(tokens[name], dtype=np.float32)[take]
    return ipc_bytes(pa.table(columns_out))


JOBS = {"whole": whole, "paged_summary": paged_summary, "paged_tokens": paged_tokens}
