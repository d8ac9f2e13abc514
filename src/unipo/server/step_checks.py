"""Invariant checks served with a step (contract §3 `checks`), computed on read from the stored columns.

Contract §1 promises, for every stored step, per token
    token_objective == surrogate − kl_penalty + entropy_bonus
and per step
    loss == −Σ weight · token_objective.
Steps written by the engine hold both by construction; imported or hand-edited runs may not. These
checks only compare stored numbers with each other (no algorithm is re-run, no term is re-derived),
so the front-end can show the composition and flag a mismatch without computing anything itself.

Tolerances are relative to the magnitude of the numbers compared, at the precision the terms were
stored with: float32 (ε = 2⁻²³), or bfloat16 (ε = 2⁻⁷) when every value of the checked columns is a
bfloat16 number (its low 16 bits are zero: the run computed in bf16 and stored the widened values).
"""
from __future__ import annotations

import numpy as np

OBJECTIVE_COLUMN = "token_objective"
# The composition of a spec comes from the spec (AlgorithmSpec.composition); this is the engine's
# full form, used for a run whose header holds no algorithm the server can rebuild.
DEFAULT_COMPOSITION = ({"term": "surrogate", "sign": 1}, {"term": "kl_penalty", "sign": -1},
                       {"term": "entropy_bonus", "sign": 1})
LOSS_COLUMNS = ("weight", "token_objective")
# The engine logs the policy loss as "policy_loss"; "loss" adds the critic's loss (PPO), so it is
# compared only when no "value_loss" was logged beside it (engine/metrics.py).
POLICY_LOSS_METRIC, TOTAL_LOSS_METRIC, VALUE_LOSS_METRIC = "policy_loss", "loss", "value_loss"

EPSILON = {"float32": 2.0 ** -23, "bfloat16": 2.0 ** -7}
# |residual| ≤ OBJECTIVE_RTOL_ULPS · ε · (|surrogate| + |kl_penalty| + |entropy_bonus| + |token_objective|):
# the engine rounds twice (a − b, then + c); 4 ε = 8 unit round-offs leaves a margin.
OBJECTIVE_RTOL_ULPS = 4.0
# |loss_from_terms − loss_logged| ≤ rtol · Σ|weight · token_objective|: a float32 sum of n terms
# may be off by ~log2(n) unit round-offs of that mass; 1e-5 covers a million tokens.
LOSS_RTOL_FLOAT32 = 1e-5
ABSOLUTE_FLOOR = 1e-12  # exact zeros on both sides compare equal; nothing else hides under this
MISMATCH_INDEX_LIMIT = 5000


def _as_float(values) -> np.ndarray | None:
    """A flat token column as float64 (0/1 flag columns arrive as int8); None when absent or all null."""
    if values is None or not isinstance(values, np.ndarray) or values.dtype.kind not in "fiub":
        return None
    array = values.astype(np.float64, copy=False)
    if array.dtype.kind == "f" and len(array) and np.isnan(array).all():
        return None
    return array


def _precision(columns: list[np.ndarray]) -> str:
    for values in columns:
        finite = values[np.isfinite(values)].astype(np.float32)
        if np.any(finite.view(np.uint32) & np.uint32(0xFFFF)):
            return "float32"
    return "bfloat16"


def objective_check(tokens: dict, composition=DEFAULT_COMPOSITION) -> dict:
    """Per-token residual of o = Σ sign·term (the spec's composition) over one payload's token columns."""
    composition = list(composition)
    names = (OBJECTIVE_COLUMN, *(part["term"] for part in composition))
    columns = {name: _as_float(tokens.get(name)) for name in names}
    missing = [name for name in names if columns[name] is None]
    result: dict = {"objective_residual": None, "objective_max_abs_residual": None, "objective_ok": None,
                    "objective_tolerance": None, "objective_mismatches": None}
    if missing:
        return {**result, "missing_objective": missing}
    objective = columns[OBJECTIVE_COLUMN]
    precision = _precision(list(columns.values()))
    rtol = OBJECTIVE_RTOL_ULPS * EPSILON[precision]
    with np.errstate(invalid="ignore", over="ignore"):
        composed = np.zeros_like(objective)
        magnitude = np.abs(objective)
        for part in composition:
            composed = composed + part["sign"] * columns[part["term"]]
            magnitude = magnitude + np.abs(columns[part["term"]])
        residual = objective - composed
        finite = np.isfinite(residual)
        within = np.abs(residual) <= rtol * magnitude + ABSOLUTE_FLOOR
    # A token whose objective is null (NaN) while its terms are numbers, or the other way round, is
    # a mismatch too; both null (nothing stored there) is not.
    agrees = np.where(finite, within, np.isfinite(objective) == np.isfinite(composed))
    bad = np.flatnonzero(~agrees)
    largest = float(np.max(np.abs(residual[finite]))) if finite.any() else None
    return {
        "objective_residual": residual.astype(np.float32),
        "objective_max_abs_residual": largest,
        "objective_ok": bool(len(bad) == 0),
        "objective_tolerance": {"rtol": rtol, "precision": precision,
                                "rule": "|residual| <= rtol * (|token_objective| + "
                                        + " + ".join(f"|{part['term']}|" for part in composition) + ")"},
        "objective_mismatches": {"count": int(len(bad)), "indices": bad[:MISMATCH_INDEX_LIMIT]},
        "missing_objective": [],
    }


def logged_policy_loss(metrics: dict | None) -> tuple[float | None, str | None]:
    """(value, metric name) of the step's policy loss as the engine logged it, or (None, None)."""
    metrics = metrics or {}
    for name in (POLICY_LOSS_METRIC, TOTAL_LOSS_METRIC):
        value = metrics.get(name)
        if name == TOTAL_LOSS_METRIC and metrics.get(VALUE_LOSS_METRIC) is not None:
            continue  # loss = policy loss + value loss: not comparable with −Σ w·o
        if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
            return float(value), name
    return None, None


def loss_check(weight, token_objective, metrics: dict | None) -> dict:
    """−Σ weight·token_objective over the whole step against the logged policy loss."""
    weight, objective = _as_float(weight), _as_float(token_objective)
    missing = [name for name, values in zip(LOSS_COLUMNS, (weight, objective)) if values is None]
    logged, metric = logged_policy_loss(metrics)
    if logged is None:
        missing.append(f"metrics.{POLICY_LOSS_METRIC}")
    result: dict = {"loss_from_terms": None, "loss_logged": logged, "loss_logged_metric": metric,
                    "loss_ok": None, "loss_tolerance": None, "missing_loss": missing}
    if weight is None or objective is None:
        return result
    with np.errstate(invalid="ignore", over="ignore"):
        products = weight * objective
        from_terms = -float(np.sum(products))
        mass = float(np.sum(np.abs(products)))
    result["loss_from_terms"] = from_terms if np.isfinite(from_terms) else None
    if logged is None or not np.isfinite(from_terms):
        return result
    precision = _precision([weight, objective])
    rtol = max(LOSS_RTOL_FLOAT32, OBJECTIVE_RTOL_ULPS * EPSILON[precision])
    result["loss_ok"] = bool(abs(from_terms - logged) <= rtol * mass + ABSOLUTE_FLOOR)
    result["loss_tolerance"] = {"rtol": rtol, "precision": precision,
                                "rule": "|loss_from_terms - loss_logged| <= rtol * sum(|weight * token_objective|)"}
    return result


def step_checks(tokens: dict, metrics: dict | None, *, loss_columns: tuple | None = None,
                composition=None) -> dict:
    """The `checks` block: objective checks over `tokens` (the payload's flat columns), loss checks
    over the whole step (`loss_columns` = (weight, token_objective) of the whole step when `tokens`
    holds only part of it). `composition`: the run's spec's (AlgorithmSpec.composition)."""
    weight, objective = loss_columns if loss_columns is not None else (tokens.get("weight"),
                                                                       tokens.get("token_objective"))
    composition = list(composition) if composition is not None else list(DEFAULT_COMPOSITION)
    objective_part = objective_check(tokens, composition)
    loss_part = loss_check(weight, objective, metrics)
    missing = {"objective": objective_part.pop("missing_objective"), "loss": loss_part.pop("missing_loss")}
    return {**objective_part, **loss_part, "missing": missing, "composition": composition}


def card_relations(spec, tokens: dict, responses: dict, offsets, metrics: dict | None,
                   whole_rollout: bool | None) -> list[dict]:
    """Every formula card's relation evaluated on this step's stored columns (AlgorithmSpec.relations)."""
    from unipo.algorithms.stored import StoredStep
    step = StoredStep(tokens={k: v for k, v in tokens.items() if k != "offsets" and isinstance(v, np.ndarray)},
                      responses={k: v for k, v in responses.items() if isinstance(v, np.ndarray)},
                      offsets=np.asarray(offsets), metrics=metrics or {}, whole_rollout=whole_rollout)
    found = []
    for relation in spec.relations(step):
        item = relation.to_dict()
        if item["max_abs_residual"] is not None and not np.isfinite(item["max_abs_residual"]):
            item["max_abs_residual"] = None
        found.append(item)
    return found


# Header-declared checks of two logged step metrics against each other (a capture or importer
# compares its framework's own loss with UNIPO's recomposition: TRL writes `loss_check`,
# integrations/trl.py). Header keys holding one declaration or a list of them:
EXTERNAL_CHECK_KEYS = ("loss_check", "metric_checks")
EXTERNAL_CHECK_FIELDS = ("reference", "recomposed")  # metric names, required; "difference" and "ok" optional


def _metric_number(metrics: dict, name) -> float | None:
    value = metrics.get(name) if isinstance(name, str) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        return None
    return float(value)


def _declarations(header: dict | None) -> list[tuple[str, object]]:
    found = []
    for key in EXTERNAL_CHECK_KEYS:
        value = (header or {}).get(key)
        for at, item in enumerate(value if isinstance(value, list) else [value] if value is not None else []):
            found.append((key if not isinstance(value, list) else f"{key}[{at}]", item))
    return found


def external_check(key: str, declared, metrics: dict | None) -> dict:
    """One declared check on this step: |reference − recomposed| ≤ atol + rtol·|reference|, evaluated here
    from the logged values; a logged difference larger than that (e.g. the largest over ranks) or a
    logged ok flag of 0 fails it too. status: "holds" | "fails" | "unchecked" (with the reason)."""
    metrics = metrics or {}
    if not isinstance(declared, dict):
        return {"key": key, "label": key, "status": "unchecked",
                "reason": f"run header {key!r}: expected an object naming the metrics, got {type(declared).__name__}"}
    label = str(declared.get("label") or f"{declared.get('reference')} = {declared.get('recomposed')}")
    result: dict = {"key": key, "label": label, "source": declared.get("source"), "status": "unchecked",
                    "reason": "", "reference": None, "recomposed": None, "difference": None,
                    "logged_difference": None, "logged_ok": None, "tolerance": None}
    bad = [f for f in EXTERNAL_CHECK_FIELDS if not isinstance(declared.get(f), str)]
    tolerance = {name: declared.get(name, 0.0) for name in ("atol", "rtol")}
    bad += [name for name, v in tolerance.items()
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0]
    if bad:
        return {**result, "reason": f"run header {key!r}: field(s) {', '.join(bad)} missing or invalid"}
    reference, recomposed = (_metric_number(metrics, declared[f]) for f in EXTERNAL_CHECK_FIELDS)
    result["reference"] = {"metric": declared["reference"], "value": reference}
    result["recomposed"] = {"metric": declared["recomposed"], "value": recomposed}
    result["logged_difference"] = _metric_number(metrics, declared.get("difference"))
    logged_ok = _metric_number(metrics, declared.get("ok"))
    result["logged_ok"] = None if logged_ok is None else bool(logged_ok)
    if reference is None or recomposed is None:
        absent = [declared[f] for f, v in zip(EXTERNAL_CHECK_FIELDS, (reference, recomposed)) if v is None]
        return {**result, "reason": "not logged at this step: " + ", ".join(absent)}
    difference = abs(reference - recomposed)
    bound = float(tolerance["atol"]) + float(tolerance["rtol"]) * abs(reference)
    result["difference"] = difference
    result["tolerance"] = {"atol": float(tolerance["atol"]), "rtol": float(tolerance["rtol"]), "bound": bound,
                           "rule": f"|{declared['reference']} - {declared['recomposed']}| <= atol + rtol * |{declared['reference']}|"}
    holds = difference <= bound
    if result["logged_difference"] is not None and result["logged_difference"] > bound:
        holds, result["reason"] = False, f"logged {declared['difference']} exceeds the tolerance"
    if result["logged_ok"] is False:
        holds, result["reason"] = False, f"logged {declared['ok']} = 0"
    result["status"] = "holds" if holds else "fails"
    return result


def external_checks(header: dict | None, metrics: dict | None) -> list[dict]:
    """Every check the run header declares (EXTERNAL_CHECK_KEYS), evaluated on this step's metrics."""
    return [external_check(key, declared, metrics) for key, declared in _declarations(header)]
