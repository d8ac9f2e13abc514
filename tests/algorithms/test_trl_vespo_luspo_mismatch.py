"""VESPO, LUSPO and the training–inference mismatch correction equal TRL 1.16 (float64, loss and ∂/∂ℓ within 1e-8).

TRL's side is its own GRPOTrainer._compute_loss (tests/algorithms/trl_oracle_extra.py); the vLLM
importance-sampling ratio and its metrics are TRL's own lines of _generate_and_score_completions, run on
our tensors. UNIPO's side is `get_preset(...).objective(..., sampling_logprobs=...)`.

Where UNIPO deliberately differs from TRL (also said in the cards):
- VESPO with the mismatch correction: TRL folds the token weights into VESPO's sequence weight,
  φ(w·Π_t ρ_t), and does not multiply the loss by ρ. UNIPO's token_weight hook receives no advantages
  (φ's shape depends on their sign), so `is_correction` with clip_mode="vespo" raises ValueError rather
  than computing another algorithm (test_vespo_refuses_the_mismatch_correction).
- TRL builds VESPO's k and λ with torch.where on Python floats, i.e. rounded to float32 whatever the loss
  dtype; UNIPO keeps them in the advantages' dtype. Identical for float32-representable values (the
  defaults and every value tested here).
- TRL logs clip_ratio/* at importance_sampling_level="sequence" as a mean over sequences; UNIPO's
  clip_fraction_* are token means at every level (compared here at token level only).
- TRL's vespo/phi_seq_mean metric is not logged (the clip hook has no per-sequence metric); φ is
  recomputable from the stored ratio and advantage (the clip card's relation).
- With use_bias_correction_kl (TRL's default) TRL also multiplies the KL by the policy ratio; the oracle
  turns it off, as trl_grpo_oracle does (UNIPO's KL is never reweighted).
"""
import numpy as np
import pytest
import torch

from unipo.algorithms import get_preset, recompute, StepInputs
from unipo.algorithms.stored import StoredStep

pytestmark = pytest.mark.slow  # importing trl takes several seconds

D = torch.float64
TOL = 1e-8


@pytest.fixture(scope="module")
def extra():
    import importlib.util
    from pathlib import Path
    pytest.importorskip("trl")
    spec = importlib.util.spec_from_file_location("unipo_tests_algorithms_trl_oracle_extra",
                                                  Path(__file__).with_name("trl_oracle_extra.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def batch(seed=0, n=8, t=7, spread=0.4, sampling_spread=0.5, extremes=False, nan_sampling=False):
    """Random log-probs with prefix masks (row 1: 4 tokens, row 3: 2, row 5: none).

    extremes: row 0 has log-ratios +5 per token (Σ = 35 > 20: VESPO's upper clamp) and one token at +25
    (TRL's ±20 token clamp); row 2 has −4 per token (Σ = −28 < ln 1e-8: the lower clamp)."""
    g = torch.Generator().manual_seed(seed)
    logprobs = -torch.rand(n, t, generator=g, dtype=D) * 3
    old = logprobs + spread * torch.randn(n, t, generator=g, dtype=D)
    if extremes:
        old[0] = logprobs[0] - 5.0
        old[0, 3] = logprobs[0, 3] - 25.0
        old[2] = logprobs[2] + 4.0
    sampling = old + sampling_spread * torch.randn(n, t, generator=g, dtype=D)
    ref = logprobs + 0.3 * torch.randn(n, t, generator=g, dtype=D)
    mask = torch.ones(n, t, dtype=torch.bool)
    mask[1, 4:] = False
    mask[3, 2:] = False
    mask[5, :] = False
    if nan_sampling:
        sampling[4, 1] = float("nan")   # a token the engine could not score: ρ = 1
        sampling[1, 5] = float("nan")   # padding
    advantages = torch.randn(n, generator=g, dtype=D)
    entropies = torch.rand(n, t, generator=g, dtype=D) * 2
    return dict(logprobs=logprobs, old=old, sampling=sampling, ref=ref, mask=mask, advantages=advantages,
                entropies=entropies)


def compare(extra, preset, overrides, trl_options, data, *, with_sampling=False, num_items_in_batch=None):
    """(ours ObjectiveOutput, TRL loss, our grad, TRL grad, TRL loss metrics, TRL sampling metrics)."""
    uses_ref = trl_options.get("beta", 0.0) != 0.0
    ours_lp = data["logprobs"].clone().requires_grad_()
    theirs_lp = data["logprobs"].clone().requires_grad_()
    spec = get_preset(preset, **overrides)
    out = spec.objective(ours_lp, data["old"], data["mask"], advantages=data["advantages"],
                         ref_logprobs=data["ref"] if uses_ref else None, entropies=data["entropies"],
                         num_items_in_batch=num_items_in_batch,
                         sampling_logprobs=data["sampling"] if with_sampling else None)
    trl_is = {}
    if with_sampling:
        trl_is = {"sampling_logprobs": data["sampling"],
                  "vllm_importance_sampling_mode": spec.hparams["vllm_importance_sampling_mode"],
                  "vllm_importance_sampling_clip_min": spec.hparams["vllm_importance_sampling_clip_min"],
                  "vllm_importance_sampling_clip_max": spec.hparams["vllm_importance_sampling_clip_max"]}
    loss, metrics, sampling_metrics = extra.trl_loss(
        logprobs=theirs_lp, old_logprobs=data["old"], mask=data["mask"], advantages=data["advantages"],
        ref_logprobs=data["ref"] if uses_ref else None, entropies=data["entropies"],
        num_items_in_batch=num_items_in_batch, **trl_is, **trl_options)
    out.loss.backward()
    loss.backward()
    return out, loss, ours_lp.grad, theirs_lp.grad, metrics, sampling_metrics


def assert_parity(out, loss, ours_grad, theirs_grad):
    import os
    from support.parity_report import report
    report(os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0].split("::")[-1], out.loss.item() - loss.item(),
           float((ours_grad - theirs_grad).abs().max()))
    assert abs(out.loss.item() - loss.item()) < TOL
    assert torch.allclose(ours_grad, theirs_grad, atol=TOL, rtol=0)
    assert float(theirs_grad.abs().sum()) > 0


# ---------------------------------------------------------------------------------------------- VESPO

VESPO_CASES = [
    ("defaults", {}, {}, {}),
    ("custom-k-lambda", {"vespo_k_pos": 1.5, "vespo_lambda_pos": 0.5, "vespo_k_neg": 4.0, "vespo_lambda_neg": 1.25},
     {"vespo": {"vespo_k_pos": 1.5, "vespo_lambda_pos": 0.5, "vespo_k_neg": 4.0, "vespo_lambda_neg": 1.25}}, {}),
    ("global-token-count", {}, {}, {"num_items_in_batch": 100}),
    ("kl", {"beta": 0.04}, {"beta": 0.04}, {}),
    ("entropy-mask", {"top_entropy_quantile": 0.4}, {"top_entropy_quantile": 0.4}, {}),
]


@pytest.mark.parametrize("case,overrides,trl_options,call", VESPO_CASES, ids=[c[0] for c in VESPO_CASES])
def test_vespo_matches_trl(extra, case, overrides, trl_options, call):
    data = batch(1, extremes=True)
    out, loss, ours, theirs, metrics, _ = compare(extra, "vespo", overrides, {"loss_type": "vespo", **trl_options},
                                                  data, **call)
    assert_parity(out, loss, ours, theirs)


def test_vespo_clamps_fire_and_weights_equal_trl_get_gamma_weights(extra):
    data = batch(1, extremes=True)
    log_ratio = data["logprobs"] - data["old"]
    sums = (log_ratio * data["mask"]).sum(-1)
    assert sums.max() > 20 and sums.min() < np.log(1e-8)           # the sequence clamp fires both ways
    assert (log_ratio.abs() * data["mask"]).max() > 20             # and the token clamp
    from unipo.algorithms.vespo import gamma_weight, sequence_product_ratio
    hp = get_preset("vespo").hparams
    _, w = sequence_product_ratio(data["logprobs"], data["old"], data["mask"])
    ours = gamma_weight(w, data["advantages"].unsqueeze(1), hp)
    theirs = extra.trl_gamma_weights(advantages=data["advantages"], log_ratio=log_ratio, mask=data["mask"].to(D))
    assert torch.allclose(ours, theirs, atol=1e-12, rtol=1e-12)
    assert ours.min() < 1e-6 and 0.1 < ours.max()  # weights span damped and live responses


def test_vespo_gradient_is_phi_times_advantage(extra):
    data = batch(2)
    out, _, grad, _, metrics, _ = compare(extra, "vespo", {}, {"loss_type": "vespo"}, data)
    from unipo.algorithms.vespo import gamma_weight
    phi = gamma_weight(out.terms["ratio"][:, :1].clamp(min=1e-300), data["advantages"].unsqueeze(1),
                       get_preset("vespo").hparams)
    expected = -out.terms["weight"] * phi * data["advantages"].unsqueeze(1)
    assert torch.allclose(grad, expected, atol=1e-14, rtol=0)
    real = data["mask"].sum(-1) > 0
    mean_phi = float(torch.where(real.unsqueeze(1), phi, torch.ones_like(phi)).mean())  # TRL: all-pad row has w = 1
    assert mean_phi == pytest.approx(metrics["vespo/phi_seq_mean"], abs=1e-12)


def test_vespo_refuses_the_mismatch_correction():
    with pytest.raises(ValueError, match="not available with clip_mode='vespo'"):
        get_preset("vespo", is_correction="importance_sampling", vllm_importance_sampling_mode="token_truncate")


# ---------------------------------------------------------------------------------------------- LUSPO

LUSPO_CASES = [
    ("sequence-gspo-eps", {}, {"importance_sampling_level": "sequence", "epsilon": 3e-4, "epsilon_high": 4e-4},
     {"spread": 1e-3}),
    ("sequence-wide-eps", {"epsilon": 0.05, "epsilon_high": 0.08},
     {"importance_sampling_level": "sequence", "epsilon": 0.05, "epsilon_high": 0.08}, {"spread": 0.2}),
    ("sequence-kl", {"beta": 0.04}, {"importance_sampling_level": "sequence", "epsilon": 3e-4,
                                     "epsilon_high": 4e-4, "beta": 0.04}, {"spread": 1e-3}),
    ("token-level", {"importance_sampling_level": "token", "epsilon": 0.2, "epsilon_high": 0.28},
     {"importance_sampling_level": "token", "epsilon": 0.2, "epsilon_high": 0.28}, {"spread": 0.4}),
    ("dual-clip", {"importance_sampling_level": "token", "epsilon": 0.2, "epsilon_high": 0.2, "delta": 1.5},
     {"importance_sampling_level": "token", "epsilon": 0.2, "delta": 1.5}, {"spread": 0.4}),
]


@pytest.mark.parametrize("case,overrides,trl_options,data_options", LUSPO_CASES, ids=[c[0] for c in LUSPO_CASES])
def test_luspo_matches_trl(extra, case, overrides, trl_options, data_options):
    data = batch(3, **data_options)
    out, loss, ours, theirs, _, _ = compare(extra, "luspo", overrides, {"loss_type": "luspo", **trl_options}, data)
    assert_parity(out, loss, ours, theirs)
    assert 0 < out.metrics["clip_fraction_region"] < 1  # the clip fires on some responses, not all


def test_luspo_token_level_clip_fractions_match_trl(extra):
    options = {"importance_sampling_level": "token", "epsilon": 0.2, "epsilon_high": 0.28}
    out, _, _, _, metrics, _ = compare(extra, "luspo", options, {"loss_type": "luspo", **options}, batch(3))
    for ours, theirs in (("clip_fraction_low", "low_mean"), ("clip_fraction_high", "high_mean"),
                         ("clip_fraction_region", "region_mean")):
        assert out.metrics[ours] == pytest.approx(metrics[f"clip_ratio/{theirs}"], abs=1e-6)  # TRL: float32 flags


def test_luspo_is_gspo_loss_times_length():
    data = batch(3, spread=1e-3)
    out = get_preset("luspo").objective(data["logprobs"], data["old"], data["mask"], advantages=data["advantages"])
    gspo = get_preset("gspo").objective(data["logprobs"], data["old"], data["mask"], advantages=data["advantages"])
    lengths = data["mask"].sum(-1, keepdim=True).to(D)
    per_response = (gspo.terms["weight"] * gspo.terms["token_objective"]).sum(-1, keepdim=True) * len(lengths)
    assert out.loss.item() == pytest.approx(-(per_response * lengths).mean().item(), abs=1e-14)


# ------------------------------------------------------------------------- training–inference mismatch

MODES = ["token_truncate", "token_mask", "sequence_truncate", "sequence_mask"]
BOUNDS = [(None, 3.0), (0.5, 2.0)]
# preset, its overrides, TRL's loss options
LOSSES = {
    "dapo": ({"mask_truncated_completions": False}, {"loss_type": "dapo", "epsilon": 0.2, "epsilon_high": 0.28}),
    "luspo": ({}, {"loss_type": "luspo", "importance_sampling_level": "sequence", "epsilon": 3e-4,
                   "epsilon_high": 4e-4}),
    "grpo": ({}, {"loss_type": "grpo", "beta": 0.04}),
    "cispo": ({"epsilon_high": 1.2}, {"loss_type": "cispo", "epsilon_high": 1.2}),
    "sapo": ({}, {"loss_type": "sapo"}),
}
IS_CASES = [(preset, mode, bounds) for preset in LOSSES for mode in MODES for bounds in BOUNDS]


def is_overrides(mode, bounds):
    return {"is_correction": "importance_sampling", "vllm_importance_sampling_mode": mode,
            "vllm_importance_sampling_clip_min": bounds[0], "vllm_importance_sampling_clip_max": bounds[1]}


@pytest.mark.parametrize("preset,mode,bounds", IS_CASES, ids=[f"{p}-{m}-{b[0]}-{b[1]}" for p, m, b in IS_CASES])
def test_mismatch_correction_matches_trl(extra, preset, mode, bounds):
    overrides, trl_options = LOSSES[preset]
    data = batch(8, spread=1e-3 if preset == "luspo" else 0.4, sampling_spread=0.8, nan_sampling=True)
    out, loss, ours, theirs, _, sampling_metrics = compare(
        extra, preset, {**overrides, **is_overrides(mode, bounds)}, trl_options, data, with_sampling=True)
    assert_parity(out, loss, ours, theirs)
    # our stored weight is TRL's importance_sampling_ratio (broadcast to tokens, zero on padding)
    ratio, _ = extra.trl_importance_sampling(old_logprobs=data["old"], sampling_logprobs=data["sampling"],
                                             mask=data["mask"], mode=mode, clip_min=bounds[0], clip_max=bounds[1])
    maskf = data["mask"].to(D)
    assert torch.allclose(out.terms["is_weight"], ratio.expand_as(maskf) * maskf, atol=1e-15, rtol=0)
    # the bounds fire on the test data
    rows = data["mask"].any(-1, keepdim=True)
    real = data["mask"] if mode.startswith("token") else rows
    hit = (ratio == 0.0) if mode.endswith("mask") else torch.zeros_like(ratio, dtype=torch.bool)
    for bound in bounds:
        if bound is not None and mode.endswith("truncate"):
            hit = hit | (ratio == bound)
    assert bool((hit & real).any())
    for name, value in sampling_metrics.items():
        ours_name = name.removeprefix("sampling/").replace("/", "_")
        assert out.metrics[ours_name] == pytest.approx(value, abs=1e-12), name


def test_mismatch_weight_leaves_kl_and_entropy_bonus_alone(extra):
    data = batch(5)
    spec = get_preset("grpo", entropy_coef=0.01, **is_overrides("token_truncate", (0.5, 2.0)))
    out = spec.objective(data["logprobs"], data["old"], data["mask"], advantages=data["advantages"],
                         ref_logprobs=data["ref"], entropies=data["entropies"], sampling_logprobs=data["sampling"])
    terms = out.terms
    expected = terms["surrogate"] - terms["kl_penalty"] + terms["entropy_bonus"]
    assert torch.allclose(terms["token_objective"], expected, atol=1e-15)
    assert torch.allclose(terms["surrogate"] / torch.where(terms["is_weight"] == 0, 1.0, terms["is_weight"]) *
                          (terms["is_weight"] != 0),
                          get_preset("grpo").objective(data["logprobs"], data["old"], data["mask"],
                                                       advantages=data["advantages"], ref_logprobs=data["ref"]
                                                       ).terms["surrogate"] * (terms["is_weight"] != 0), atol=1e-14)


def test_mismatch_bad_settings_and_missing_sampling_logprobs():
    with pytest.raises(ValueError, match="vllm_importance_sampling_clip_min: expected a value <"):
        get_preset("dapo", **is_overrides("token_mask", (3.0, 2.0)))
    with pytest.raises(ValueError, match="needs vllm_importance_sampling_clip_min or"):
        get_preset("dapo", **is_overrides("sequence_truncate", (None, None)))
    with pytest.raises(ValueError, match="vllm_importance_sampling_mode: expected one of"):
        get_preset("dapo", **is_overrides("token_clip", (None, 3.0)))
    data = batch(0)
    spec = get_preset("dapo", mask_truncated_completions=False, **is_overrides("token_mask", (None, 3.0)))
    with pytest.raises(ValueError, match="sampling_logprobs: required"):
        spec.objective(data["logprobs"], data["old"], data["mask"], advantages=data["advantages"])
    with pytest.raises(ValueError, match=r"sampling_logprobs: expected shape \(8, 7\)"):
        spec.objective(data["logprobs"], data["old"], data["mask"], advantages=data["advantages"],
                       sampling_logprobs=data["sampling"][:, :3])


def test_mismatch_card_and_formula():
    spec = get_preset("luspo", **is_overrides("sequence_mask", (0.5, 3.0)))
    card = spec.formula.card("token_weight")
    assert card["variant"] == "is-sequence_mask" and "t-is_weight" in card["latex"] and "t-sampling_logprob" in card["latex"]
    assert "t-is_weight" in spec.formula.card("token_objective")["latex"]
    assert get_preset("luspo").formula.card("token_weight") is None
    assert {term["field"] for term in card["terms"]} >= {"is_weight", "sampling_logprob", "old_logprob"}


# ------------------------------------------------------------------- relations on the stored columns

def stored(terms, data, *, with_sampling, dtype=np.float64):
    mask = data["mask"].numpy()
    lengths = mask.sum(-1)
    columns = dict(terms)
    columns["logprob"] = data["logprobs"]
    columns["old_logprob"] = data["old"]
    if with_sampling:
        columns["sampling_logprob"] = data["sampling"]
    tokens = {name: value.detach().to(torch.float64).numpy()[mask].astype(dtype) for name, value in columns.items()
              if value.shape == data["mask"].shape}
    return StoredStep(tokens=tokens, responses={"response_length": lengths.astype(np.float64)},
                      offsets=np.concatenate([[0], np.cumsum(lengths)]))


RELATION_CASES = [("vespo", {}, False), ("luspo", {}, False),
                  ("luspo", is_overrides("sequence_mask", (0.5, 2.0)), True),
                  ("dapo", {"mask_truncated_completions": False, **is_overrides("token_truncate", (0.5, 2.0))}, True),
                  ("cispo", is_overrides("token_mask", (None, 1.5)), True)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("preset,overrides,with_sampling", RELATION_CASES,
                         ids=[f"{c[0]}-{c[1].get('vllm_importance_sampling_mode', 'plain')}" for c in RELATION_CASES])
def test_cards_hold_on_the_stored_columns(preset, overrides, with_sampling, dtype):
    data = {k: (v.to(dtype) if v.is_floating_point() else v)
            for k, v in batch(6, extremes=preset == "vespo", spread=0.05 if preset == "luspo" else 0.4,
                              nan_sampling=True).items()}
    spec = get_preset(preset, **overrides)
    result = recompute(spec, StepInputs(logprobs=data["logprobs"], mask=data["mask"], old_logprobs=data["old"],
                                        advantages=data["advantages"],
                                        sampling_logprobs=data["sampling"] if with_sampling else None))
    relations = spec.relations(stored(result.terms, data, with_sampling=with_sampling,
                                      dtype=np.float32 if dtype == torch.float32 else np.float64))
    failed = [r.to_dict() for r in relations if r.status == "fails"]
    assert not failed
    cards = {r.card for r in relations if r.holds}
    assert {"ratio", "clip", "grad_coef", "token_objective"} <= cards
    if with_sampling:
        assert "token_weight" in cards


def test_mismatch_relation_catches_a_wrong_weight():
    data = batch(6)
    spec = get_preset("dapo", mask_truncated_completions=False, **is_overrides("token_truncate", (0.5, 2.0)))
    result = recompute(spec, StepInputs(logprobs=data["logprobs"], mask=data["mask"], old_logprobs=data["old"],
                                        advantages=data["advantages"], sampling_logprobs=data["sampling"]))
    step = stored(result.terms, data, with_sampling=True)
    step.tokens["is_weight"] = step.tokens["is_weight"] * 1.01
    assert any(r.card == "token_weight" and r.status == "fails" for r in spec.relations(step))
