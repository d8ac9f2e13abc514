"""TRL 1.16 losses beyond PPO/CISPO/SAPO, and the training–inference mismatch correction (torch-free).

- ratio "sequence_product": VESPO's sequence importance weight w_i = Π_t r_it (a sum of log-ratios,
  clamped as TRL), per response;
- clip "vespo": VESPO's Gamma weight φ(w) on a REINFORCE term (TRL loss_type="vespo");
- token_weight "importance_sampling": TRL's vllm_importance_sampling_correction (token / sequence,
  truncate / mask), the weight ρ = π_old/π_sampler stored as "is_weight".

TRL loss_type="luspo" needs nothing new: it is the PPO clip on GSPO's sequence ratio with the
seq-mean-token-sum aggregation (preset "luspo"). Tensor code: unipo.algorithms.vespo, .mismatch.
"""
from __future__ import annotations

import math

import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.components._shared import surrogate_factor
from unipo.algorithms.formula_terms import define_term
from unipo.algorithms.hparams import HParam
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, missing

LOG_W_MIN = math.log(1e-8)
LOG_W_MAX = 20.0
IS_MODES = ("token_truncate", "token_mask", "sequence_truncate", "sequence_mask")

define_term("vespo_k", r"k_i", None, "clip", "VESPO power k (vespo_k_pos if Â ≥ 0, else vespo_k_neg)")
define_term("vespo_lambda", r"\lambda_i", None, "clip", "VESPO decay λ (vespo_lambda_pos if Â ≥ 0, else vespo_lambda_neg)")
define_term("sampling_logprob", r"\ell^{\text{samp}}_{i,t}", "sampling_logprob", "token_weight",
            "log-probability the inference engine reported when it sampled the token")
define_term("is_weight", r"\rho_{i,t}", "is_weight", "token_weight",
            "training–inference importance weight π_old/π_sampler, truncated or masked (stop-gradient)")
define_term("is_clip_min", r"C_{\min}", None, "token_weight", "lower bound of the mismatch weight (vllm_importance_sampling_clip_min)")
define_term("is_clip_max", r"C_{\max}", None, "token_weight", "upper bound of the mismatch weight (vllm_importance_sampling_clip_max)")

_VESPO_CITATION = "Variational Sequence-Level Soft Policy Optimization (VESPO), arXiv:2602.10693"


# ---------------------------------------------------------------------------------------------
# ratio "sequence_product": w_i = exp(clamp(Σ_t m·clamp(ℓ − ℓ_old, ±20), log 1e-8, 20))

def _log_product(step):
    """Per response: log w_i recomputed from the stored columns, and the size of their float32 round-off."""
    lp, old = step.token("logprob"), step.token("old_logprob")
    if lp is None or old is None:
        return None, None
    kept = step.kept()
    log_w = np.clip(step.response_sum(np.clip(lp - old, -20.0, 20.0) * kept), LOG_W_MIN, LOG_W_MAX)
    # Every stored ℓ and ℓ_old carries its own rounding, and the sum does not average it away (unlike GSPO's mean).
    noise = step.response_sum((np.abs(lp) + np.abs(old)) * kept)
    return log_w, noise


def _product_relation(step, hp):
    name = "w_i = exp(clamp(Σ_t m·clamp(ℓ − ℓ_old, ±20), ln 1e-8, 20))"
    log_w, noise = _log_product(step)
    if log_w is None:
        return [missing("ratio", name, "logprob", "old_logprob")]
    kept = step.kept()
    w = np.exp(log_w)
    checks = [compare("ratio", name, step.token("ratio"), step.per_token(w) * kept, scale=step.per_token(w * noise))]
    if step.token("log_ratio") is not None:
        checks.append(compare("ratio", "log w_i = clamped Σ_t m·(ℓ − ℓ_old)", step.token("log_ratio"),
                              step.per_token(log_w) * kept, scale=step.per_token(noise)))
    return checks


@component("ratio", "sequence_product",
           summary="VESPO's sequence weight w_i = Π_t r_it (sum of log-ratios, clamped to [1e-8, e^20]), per response",
           compute="unipo.algorithms.vespo:sequence_product_ratio", inputs=("logprob", "old_logprob", "mask"),
           terms=("log_ratio", "ratio"), level="sequence", relation=_product_relation, citation=_VESPO_CITATION)
def sequence_product_card(hp):
    w = t("ratio", "w_i")
    return card("ratio", "sequence-product", "Importance ratio",
                rf"{w} = \exp\!\Big(\mathrm{{clip}}\Big(\sum_t m_{{i,t}}\,\mathrm{{clip}}\big({t('logprob')} - "
                rf"{t('old_logprob')}, \pm 20\big),\ \ln 10^{{-8}},\ 20\Big)\Big)",
                "One weight per response, the product of its token ratios π_θ/π_old (VESPO's sequence-level "
                "importance weight, TRL's get_gamma_weights): a sum of log-ratios, not GSPO's length-normalised "
                "mean, so long responses drift further from 1. Each token's log-ratio is clamped to ±20 and the "
                "sum to [ln 1e-8, 20], as TRL does. Every token of the response shares it.")


# ---------------------------------------------------------------------------------------------
# clip "vespo": u = sg(φ(w))·Â·ℓ, φ(w) = e^λ w^k e^{−λw}

def gamma_weight(r, a, hp):
    """numpy φ(w) with TRL's clamps, plus k, λ and w per value."""
    with np.errstate(divide="ignore"):
        log_w = np.clip(np.log(r), LOG_W_MIN, LOG_W_MAX)
    nonneg = a >= 0
    k = np.where(nonneg, hp["vespo_k_pos"], hp["vespo_k_neg"])
    lam = np.maximum(np.where(nonneg, hp["vespo_lambda_pos"], hp["vespo_lambda_neg"]), 1e-4)
    w = np.exp(log_w)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        phi = np.exp(lam + k * log_w - lam * w)
    return np.nan_to_num(phi, nan=0.0, posinf=0.0, neginf=0.0), k, lam, w


def _vespo_relation(step, hp):
    name = "u = sg(φ(w))·Â·ℓ, φ(w) = e^λ w^k e^{−λw}"
    r, a, lp = step.token("ratio"), step.token("advantage"), step.token("logprob")
    if r is None or a is None or lp is None:
        return [missing("clip", name, "ratio", "advantage", "logprob")]
    phi, k, lam, w = gamma_weight(r, a, hp)
    expected = phi * a * lp * surrogate_factor(step)
    # d log φ / d log w = k − λw: the float32 rounding of the stored w is amplified by that much.
    return [compare("clip", name, step.token("surrogate"), expected, scale=np.abs(expected) * (1 + np.abs(k - lam * w)))]


def _vespo_derivative(r, a, logprob, hp):
    """∂u/∂ℓ = φ(w)·Â (φ is a constant of the update)."""
    return gamma_weight(r, a, hp)[0] * a, "logprob"


@component("clip", "vespo", summary="VESPO: a smooth Gamma weight φ(w) of the sequence ratio on the REINFORCE term Â·ℓ",
           compute="unipo.algorithms.vespo:VESPO", inputs=("ratio", "advantage", "logprob"), terms=("surrogate",),
           relation=_vespo_relation, derivative=_vespo_derivative, citation=_VESPO_CITATION,
           hparams={
               "vespo_k_pos": HParam(2.0, "VESPO power k for Â ≥ 0: how hard low weights w < 1 are damped", minimum=0.0),
               "vespo_lambda_pos": HParam(3.0, "VESPO decay λ for Â ≥ 0: how hard high weights w > 1 are damped", minimum=0.0),
               "vespo_k_neg": HParam(3.0, "VESPO power k for Â < 0", minimum=0.0),
               "vespo_lambda_neg": HParam(2.0, "VESPO decay λ for Â < 0", minimum=0.0),
           })
def vespo_card(hp):
    w, k, lam = t("ratio", "w_i"), t("vespo_k"), t("vespo_lambda")
    latex = (rf"{t('surrogate')} = \mathrm{{sg}}\big(\phi({w})\big)\,{t('advantage')}\,{t('logprob')},\quad "
             rf"\phi(w) = e^{{{lam}}}\,w^{{{k}}}\,e^{{-{lam} w}}")
    text = (f"VESPO (TRL loss_type=\"vespo\"): instead of a hard clip, the sequence weight w sets a smooth, "
            f"stop-gradient factor φ(w) on the REINFORCE term Â·ℓ, so the push is φ(w)·Â. φ(1) = 1, it rises as "
            f"w^k for small w and decays as e^(−λw) for large w; for Â ≥ 0, k = {hp['vespo_k_pos']:g}, "
            f"λ = {hp['vespo_lambda_pos']:g}; for Â < 0, k = {hp['vespo_k_neg']:g}, λ = {hp['vespo_lambda_neg']:g} "
            "(λ is floored at 1e-4; a non-finite φ counts as 0). The value carries ℓ (negative), so its sign is "
            "not the push direction: see g.")
    return card("clip", "vespo", "Surrogate and trust region", latex, text)


# ---------------------------------------------------------------------------------------------
# token_weight "importance_sampling": ρ = clip/mask(exp(ℓ_old − ℓ_samp)), token or sequence

def check_is_settings(hp) -> None:
    """TRL's GRPOConfig / GRPOTrainer checks of the mismatch correction, as ValueError."""
    mode, low, high = (hp["vllm_importance_sampling_mode"], hp["vllm_importance_sampling_clip_min"],
                       hp["vllm_importance_sampling_clip_max"])
    if low is not None and high is not None and not low < high:
        raise ValueError(f"vllm_importance_sampling_clip_min: expected a value < vllm_importance_sampling_clip_max "
                         f"= {high}, got {low}")
    if mode.endswith("truncate") and low is None and high is None:
        raise ValueError(f"vllm_importance_sampling_mode: {mode!r} needs vllm_importance_sampling_clip_min or "
                         "vllm_importance_sampling_clip_max")
    if hp["clip_mode"] == "vespo":
        # TRL folds the token weights into VESPO's sequence weight, φ(w·Π_t ρ_it), instead of multiplying the
        # loss. φ depends on the advantage's sign, which the token_weight hook does not receive, and multiplying
        # by ρ would be another algorithm than TRL's: refused rather than computed differently.
        raise ValueError("is_correction: not available with clip_mode='vespo' (TRL folds the importance weight "
                         "into VESPO's φ(w·Πρ); the per-token weight hook cannot express that)")


def _is_active(hp):
    return hp["is_correction"] != "none"


def _is_relation(step, hp):
    name = "ρ = bound(exp(ℓ_old − ℓ_samp))"
    old, sampling, stored = step.token("old_logprob"), step.token("sampling_logprob"), step.token("is_weight")
    if old is None or sampling is None or stored is None:
        return [missing("token_weight", name, "old_logprob", "sampling_logprob", "is_weight")]
    mode, low, high = (hp["vllm_importance_sampling_mode"], hp["vllm_importance_sampling_clip_min"],
                       hp["vllm_importance_sampling_clip_max"])
    kept = step.kept()
    difference = np.nan_to_num((old - sampling) * kept, nan=0.0)
    noise = np.nan_to_num((np.abs(old) + np.abs(sampling)) * kept, nan=0.0)
    if mode.startswith("sequence"):
        difference = step.per_token(step.response_sum(difference))
        noise = step.per_token(step.response_sum(noise))
    with np.errstate(over="ignore"):
        raw = np.exp(difference)
    low_v = -np.inf if low is None else low
    high_v = np.inf if high is None else high
    if mode.endswith("truncate"):
        expected = np.clip(raw, low_v, high_v)
    else:
        expected = np.where((raw < low_v) | (raw > high_v), 0.0, raw)
    # A mask decision within the stored columns' round-off of a bound cannot be re-made from them.
    slack = 8 * 2.0 ** -23 * noise * raw + 1e-12
    ambiguous = np.zeros(raw.shape, dtype=bool)
    for bound in (low, high):
        if bound is not None:
            ambiguous |= np.abs(raw - bound) <= slack
    return [compare("token_weight", name, stored, expected * kept, where=~ambiguous, scale=expected * noise)]


@component("token_weight", "importance_sampling",
           summary="training–inference mismatch correction ρ = π_old/π_sampler, truncated or masked (TRL vLLM IS, verl TIS/MIS)",
           compute="unipo.algorithms.mismatch:mismatch_weight", inputs=("old_logprob", "sampling_logprob", "mask"),
           terms=("is_weight",), active=_is_active, relation=_is_relation,
           citation="Yao et al., Your Efficient RL Framework Secretly Brings You Off-Policy RL Training (2025, TIS); "
                    "Liu et al., When Speed Kills Stability: Demystifying RL Collapse from the Training-Inference "
                    "Mismatch (2025, MIS); TRL GRPOConfig.vllm_importance_sampling_*",
           hparams={
               "is_correction": HParam("none", "training–inference mismatch correction: none, or weight each token's "
                                       "surrogate by ρ = π_old/π_sampler (TRL vllm_importance_sampling_correction)",
                                       ("none", "importance_sampling"), str),
               "vllm_importance_sampling_mode": HParam("sequence_mask", "mismatch weight per token or per sequence, "
                                                       "truncated to or masked outside [C_min, C_max]", IS_MODES, str),
               "vllm_importance_sampling_clip_max": HParam(3.0, "C_max of the mismatch weight (none = no upper bound)",
                                                           kind=(float, None), minimum=0.0),
               "vllm_importance_sampling_clip_min": HParam(None, "C_min of the mismatch weight (none = no lower bound)",
                                                           kind=(float, None), minimum=0.0),
           })
def importance_sampling_card(hp):
    check_is_settings(hp)
    mode, low, high = (hp["vllm_importance_sampling_mode"], hp["vllm_importance_sampling_clip_min"],
                       hp["vllm_importance_sampling_clip_max"])
    rho, old, sampling = t("is_weight"), t("old_logprob"), t("sampling_logprob")
    sequence = mode.startswith("sequence")
    old_s = t("old_logprob", r"\ell^{\text{old}}_{i,s}")
    sampling_s = t("sampling_logprob", r"\ell^{\text{samp}}_{i,s}")
    exponent = (rf"\sum_{{s}} m_{{i,s}}\big({old_s} - {sampling_s}\big)" if sequence else rf"{old} - {sampling}")
    symbol = t("is_weight", r"\rho_i") if sequence else rho
    d = r"d_i" if sequence else r"d_{i,t}"
    lo = t("is_clip_min") if low is not None else r"0"
    hi = t("is_clip_max") if high is not None else r"\infty"
    if mode.endswith("truncate"):
        latex = rf"{symbol} = \mathrm{{clip}}\big(e^{{{d}}},\ {lo},\ {hi}\big)"
        rule = "truncated to"
    else:
        latex = rf"{symbol} = e^{{{d}}}\;\mathbb{{1}}\big[{lo} \le e^{{{d}}} \le {hi}\big]"
        rule = "set to 0 outside"
    latex += rf",\quad {d} = {exponent}"
    bounds = f"[{'0' if low is None else f'{low:g}'}, {'∞' if high is None else f'{high:g}'}]"
    text = (f"Training–inference mismatch correction ({mode}): the sampler scored the tokens slightly differently "
            f"from the training engine, so each {'response' if sequence else 'token'} is reweighted by "
            f"π_old/π_sampler{' (the product over its tokens)' if sequence else ''}, {rule} {bounds}, as TRL's "
            "vllm_importance_sampling_correction. ρ is a stop-gradient factor on the surrogate only: the KL penalty "
            "and the entropy bonus are not reweighted. A token the sampler did not score (NaN) gets ρ = 1. "
            "It is an option of any preset except VESPO (TRL folds it into VESPO's w). verl's TIS is token_truncate "
            "(C_max only, verl also clamps the log-ratio to ±20), IcePop is token_mask; verl's rejection (MIS) "
            "drops tokens from the denominator as well, here a masked token keeps its place in it.")
    return card("token_weight", f"is-{mode}", "Training–inference mismatch", latex, text)
