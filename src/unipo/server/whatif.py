"""What-if: a stored step's every per-token term recomputed under another algorithm.

The same `unipo.algorithms` code the engine ran is called on the step's stored inputs, exactly as
the engine calls it (engine/rollout.py: advantage_details with the rollout-time log-probs and
values; engine/update.py: objective with the update's log-probs, old log-probs, reference
log-probs, entropies and truncation flags). Nothing is re-derived here.

What a stored step cannot give back, said plainly in `missing` / `notes`:
- inputs that were not stored (e.g. no ref_logprob when the run used no reference model);
- batch statistics: the engine computes advantages over the whole rollout, and a step holds one
  mini-batch of it. Groups are never split across mini-batches (engine/minibatches.py), so
  per-group statistics (group mean/std, leave-one-out) are exact; batch-wide ones (batch std,
  whitening, REINFORCE's batch mean, GPG's α) are exact only when the step is the whole rollout;
- history: a moving-average baseline depends on earlier rollouts.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from unipo.algorithms.pipeline import PUSH_TERM, StepInputs
from unipo.algorithms.pipeline import recompute as recompute_step
from unipo.server.run_algorithm import step_is_whole_rollout
from unipo.server.step_payload import order_by_response, response_starts, step_identity, token_rows
from unipo.server.step_tensors import StepTensors, flat, step_tensors

FLIP_INDEX_LIMIT = 5000  # enough for any UI highlight; counts are always exact


def recompute(algo, tensors: StepTensors, *, whole_rollout: bool | None,
              stored_baseline: torch.Tensor | None = None) -> tuple[dict, list[str], list[str], object, object]:
    """(inputs used, missing input names, notes, advantage details, step result) — through the one
    recompute path, unipo.algorithms.pipeline, exactly as the engine calls it."""
    missing: list[str] = []
    notes: list[str] = []
    inputs = dict(tensors.inputs)
    hp = algo.hparams
    if inputs["logprob"] is None:
        raise ValueError("this step stores no logprob column: nothing can be recomputed")
    if inputs["old_logprob"] is None:
        missing.append("old_logprob")
        notes.append("old_logprob is not stored: old = current log-probs, so every ratio is 1 and no clip fires.")
        inputs["old_logprob"] = inputs["logprob"]
    ref = inputs["ref_logprob"]
    if ref is None and algo.uses_reference:
        missing.append("ref_logprob")
        notes.append("ref_logprob is not stored (the run had no reference model): this algorithm's KL to the "
                     "reference is taken as 0, so its KL terms, and everything they feed, are not exact.")
    values = inputs["value"]
    if values is None and algo.uses_values:
        missing.append("value")
        notes.append("value is not stored (the run had no critic): GAE is computed with V = 0, i.e. plain "
                      "discounted returns, not what a critic would give.")
        values = torch.zeros_like(tensors.mask)
    entropy = inputs["entropy"]
    if entropy is None and (hp["top_entropy_quantile"] < 1.0 or hp["entropy_coef"] != 0.0):
        missing.append("entropy")
        notes.append("entropy is not stored: entropy-based token selection and the entropy bonus are computed "
                     "with H = 0, so they are not exact.")
        entropy = torch.zeros_like(tensors.mask)
    truncated = tensors.truncated
    if truncated is None:
        truncated = torch.zeros(len(tensors.rewards), dtype=torch.bool)
        if hp["mask_truncated_completions"]:
            missing.append("truncated")
            notes.append("truncated is not stored: no response is treated as cut off.")

    rollout_side = [c.name for c in algo.components if c.rollout_side]
    if rollout_side:
        notes.append(f"{', '.join(rollout_side)} act when the rollout is generated; a what-if keeps the stored "
                     "rollout (its responses and rewards) and recomputes the loss side only.")
    reasons = algo.batch_dependent()
    if reasons and whole_rollout is not True:
        where = "holds only part of its rollout" if whole_rollout is False else "may hold only part of its rollout"
        notes.append(f"This step {where}, and {'; '.join(reasons)}: advantages are computed over this step's "
                     "responses only, so they can differ from a full-rollout run.")
    if hp.get("adaptive_entropy"):
        notes.append("Adaptive entropy control depends on earlier steps; the coefficient's starting value is used.")
    if hp["advantage_estimator"] == "reinforce" and hp["reinforce_baseline"] == "moving_average":
        notes.append("The moving-average baseline depends on earlier rollouts; this step's own mean reward is used.")

    # Without a stored reference, a reference equal to the policy being scored makes every KL
    # estimate exactly 0 (the note above says so), while the algorithm code still runs unchanged.
    ref_for_reward, ref_for_loss = ref, ref
    if ref is None and algo.uses_reference:
        ref_for_reward, ref_for_loss = inputs["old_logprob"], inputs["logprob"]
    # The KL reward was computed at rollout time from the old log-probs; the loss's KL from the current.
    from unipo.algorithms.pipeline import recompute_advantages
    step_inputs = StepInputs(logprobs=inputs["logprob"], mask=tensors.mask, rewards=tensors.rewards,
                             group_ids=tensors.group_ids, old_logprobs=inputs["old_logprob"],
                             ref_logprobs=ref_for_reward, entropies=entropy, values=values, truncated=truncated,
                             sampling_logprobs=inputs.get("sampling_logprob"), token_ids=tensors.token_ids,
                             baseline_rewards=stored_baseline)
    details = recompute_advantages(algo, step_inputs)
    step_inputs.ref_logprobs, step_inputs.advantages = ref_for_loss, details.advantages
    result = recompute_step(algo, step_inputs)
    result.advantages = details
    return inputs, missing, notes, details, result


def _stored_greedy_baseline(table: pa.Table, header: dict) -> torch.Tensor | None:
    """ReMax's greedy-response rewards, when the run stored them (its own estimator read them)."""
    from unipo.server.run_algorithm import run_spec
    spec = run_spec(header)
    if spec is None or not any("baseline_rewards" in c.inputs for c in spec.components):
        return None
    if "baseline" not in table.column_names:
        return None
    return torch.as_tensor(table.column("baseline").take(pa.array(response_starts(table))).to_numpy()
                           .astype(np.float64), dtype=torch.float32)


def _response_totals(weight: torch.Tensor) -> np.ndarray:
    return weight.detach().to(torch.float64).sum(dim=1).numpy()


def _indices(mask: np.ndarray) -> dict:
    where = np.flatnonzero(mask)
    return {"count": int(len(where)), "indices": where[:FLIP_INDEX_LIMIT]}


def summary(tensors: StepTensors, out) -> dict:
    """Step loss, tokens pushed the other way (the push g changes sign), newly clipped tokens and
    per-response total weight: stored vs what-if."""
    stored = tensors.stored_terms
    result: dict = {"loss": {"whatif": float(out.loss.detach())}}
    if "weight" in stored and "token_objective" in stored:
        result["loss"]["stored"] = float(-(stored["weight"].double() * stored["token_objective"].double()).sum())
    else:
        result["loss"]["stored"] = None
    if PUSH_TERM in stored and PUSH_TERM in out.terms:
        old_push, new_push = flat(stored[PUSH_TERM], tensors), flat(out.terms[PUSH_TERM], tensors)
        result["push_flips"] = _indices(np.sign(old_push) * np.sign(new_push) < 0)
    else:
        result["push_flips"] = None
    new_clipped = flat(out.terms["clipped"], tensors) > 0
    result["newly_clipped"] = (_indices(new_clipped & ~(flat(stored["clipped"], tensors) > 0))
                               if "clipped" in stored else None)
    result["response_weight"] = {
        "stored": _response_totals(stored["weight"]) if "weight" in stored else None,
        "whatif": _response_totals(out.terms["weight"]),
    }
    return result


def _stored_flat(tokens_table: pa.Table, name: str) -> np.ndarray:
    """A stored per-token column in the flat token order (NaN where null; all NaN when absent)."""
    if name not in tokens_table.column_names:
        return np.full(tokens_table.num_rows, np.nan, dtype=np.float64)
    return tokens_table.column(name).to_numpy().astype(np.float64)


def differences(table: pa.Table, tensors: StepTensors, out) -> tuple[dict, dict]:
    """(per-token, per-response) what-if − stored differences, so the front-end never subtracts.

    Per token: `token_objective_delta`, `weight_delta`, `grad_coef_delta` (null where the stored value is
    null or the column was not stored). Per response: `weight_total_delta` = Σ what-if weight − Σ stored weight
    (null when the step stores no weight).
    """
    is_token = token_rows(table)
    tokens_table = table if is_token.all() else table.filter(pa.array(is_token))
    per_token = {}
    for name in ("token_objective", "weight", PUSH_TERM):
        whatif = flat(out.terms[name], tensors).astype(np.float64)
        per_token[f"{name}_delta"] = whatif - _stored_flat(tokens_table, name)
    # Σ over each response's tokens of (what-if − stored) weight: NaN (null) if a stored weight is null.
    n, rows = len(tensors.offsets) - 1, tensors.token_rows[:, 0]
    totals = np.bincount(rows, weights=per_token["weight_delta"], minlength=n)
    stored_weight = "weight" in tokens_table.column_names and tokens_table.column("weight").null_count < tokens_table.num_rows
    per_response = {"weight_total_delta": totals if stored_weight else None}
    per_token = {name: values.astype(np.float32) for name, values in per_token.items()}
    return per_token, per_response


def whatif_payload(table: pa.Table, step: int, header: dict, algo, describe: dict) -> dict:
    """The step shape (responses + flat tokens with offsets) holding the recomputed terms."""
    table = order_by_response(table)
    tensors = step_tensors(table)
    _, missing, notes, details, out = recompute(algo, tensors, whole_rollout=step_is_whole_rollout(table, header),
                                                stored_baseline=_stored_greedy_baseline(table, header))
    # `out` is the StepResult: its terms hold the push g with the objective's terms.
    first = step_identity(table)
    responses = {name: table.column(name).take(pa.array(response_starts(table))).to_numpy(zero_copy_only=False)
                 for name in ("response", "prompt", "group", "reward") if name in table.column_names}
    tokens: dict = {"offsets": tensors.offsets}
    for name, value in out.terms.items():
        tokens[name] = flat(value, tensors)
    for name, value in details.terms.items():
        target = responses if value.dim() == 1 else tokens
        target.setdefault(name, value.detach().numpy() if value.dim() == 1 else flat(value, tensors))
    if details.returns is not None:
        tokens["return"] = flat(details.returns, tensors)
    if details.advantages.dim() == 1:
        responses["advantage"] = details.advantages.detach().numpy()
    token_deltas, response_deltas = differences(table, tensors, out)
    tokens.update(token_deltas)
    responses.update(response_deltas)
    return {
        "step": step, **first,
        "algorithm": describe,
        "missing": missing,
        "notes": notes,
        "metrics": {"loss": float(out.loss.detach()), **details.metrics, **out.metrics},
        "composition": algo.composition,
        "responses": responses,
        "tokens": tokens,
        "summary": summary(tensors, out),
    }
