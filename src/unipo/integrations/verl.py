"""verl → UNIPO: a DataProto batch of verl's actor update as a StepRecord, and the actor config as an
AlgorithmSpec (docs/verl-hook.md says where in verl's update the hook sits).

What is mapped (verl 0.9 batch keys → StepRecord fields / stored columns):

    responses [N, T]                  → token_ids (and decoded tokens, response_text)
    response_mask [N, T]              → mask
    prompts [N, P] + attention_mask   → prompt_text (the prompt part of attention_mask, left-padded)
    non_tensor_batch["uid"] [N]       → group_id (first-seen order: uid strings become 0, 1, 2, …)
    token_level_scores [N, T]         → reward (its sum per response) and the `token_score` term
    token_level_rewards [N, T]        → the `token_reward` term (scores minus the in-reward KL)
    old_log_probs / ref_log_prob      → old_logprob / ref_logprob
    rollout_log_probs [N, T]          → the `sampling_logprob` term (inference engine's log-probs)
    advantages / returns / values     → the `advantage` term / returns / value
    log_probs, entropy (actor output) → logprob / entropy, and every term of UNIPO's recomputation

verl itself imports only on the caller's side (DataProto objects are read by attribute), so this
module loads without verl; tests/integrations/test_verl_mapping.py runs it on verl's own DataProto
and core_algos.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from unipo.algorithms import AlgorithmSpec
from unipo.algorithms.pipeline import StepInputs, recompute
from unipo.errors import UnipoError
from unipo.runs import StepRecord

# actor.policy_loss.loss_mode → UNIPO clip rule and ratio level
LOSS_MODES = {
    "vanilla": {"clip_mode": "ppo"},
    "gspo": {"clip_mode": "ppo", "importance_sampling_level": "sequence"},
    "clip_cov": {"clip_mode": "clip_cov"},
    "kl_cov": {"clip_mode": "kl_cov"},
    "cispo": {"clip_mode": "cispo"},
}
# actor.loss_agg_mode → UNIPO aggregation (verl normalises token-mean by the global batch's tokens)
AGGREGATIONS = {"token-mean": "token-mean", "seq-mean-token-mean": "seq-mean-token-mean",
                "seq-mean-token-sum": "seq-mean-token-sum", "seq-mean-token-sum-norm": "seq-mean-token-sum-norm"}
KL_TYPES = {"low_var_kl": "k3", "k3": "k3", "kl": "k1", "k1": "k1", "mse": "k2", "k2": "k2"}
ADVANTAGES = {"grpo": "group_norm", "rloo": "rloo", "reinforce_plus_plus": "reinforce_pp", "remax": "remax",
              "opo": "opo", "gae": "gae"}


def _get(config, key, default=None):
    if config is None:
        return default
    if isinstance(config, Mapping):
        return config.get(key, default)
    return getattr(config, key, default)


def spec_from_verl(actor, algorithm=None) -> AlgorithmSpec:
    """The UNIPO spec of verl's actor config (actor_rollout_ref.actor) and algorithm config."""
    policy_loss = _get(actor, "policy_loss", {}) or {}
    mode = _get(policy_loss, "loss_mode", "vanilla")
    if mode not in LOSS_MODES:
        raise UnipoError(f"verl actor.policy_loss.loss_mode: {mode!r} has no UNIPO mapping; known: {', '.join(LOSS_MODES)}")
    aggregation = _get(actor, "loss_agg_mode", "token-mean")
    if aggregation not in AGGREGATIONS:
        raise UnipoError(f"verl actor.loss_agg_mode: {aggregation!r} has no UNIPO mapping; known: {', '.join(AGGREGATIONS)}")
    epsilon = float(_get(actor, "clip_ratio_low", None) or _get(actor, "clip_ratio", 0.2))
    epsilon_high = float(_get(actor, "clip_ratio_high", None) or _get(actor, "clip_ratio", 0.2))
    hp: dict[str, Any] = dict(LOSS_MODES[mode], loss_aggregation=AGGREGATIONS[aggregation], epsilon=epsilon,
                              epsilon_high=epsilon_high)
    if mode == "vanilla" and _get(actor, "clip_ratio_c") is not None:
        hp["delta"] = float(_get(actor, "clip_ratio_c"))
    if _get(actor, "use_kl_loss", False):
        kl_type = _get(actor, "kl_loss_type", "low_var_kl")
        if kl_type not in KL_TYPES:
            raise UnipoError(f"verl actor.kl_loss_type: {kl_type!r} has no UNIPO mapping; known: {', '.join(KL_TYPES)}")
        hp.update(beta=float(_get(actor, "kl_loss_coef", 0.001)), kl_estimator=KL_TYPES[kl_type])
    if float(_get(actor, "entropy_coeff", 0.0) or 0.0):
        hp["entropy_coef"] = float(_get(actor, "entropy_coeff"))
    estimator = _get(algorithm, "adv_estimator", "grpo")
    if estimator not in ADVANTAGES:
        raise UnipoError(f"verl algorithm.adv_estimator: {estimator!r} has no UNIPO mapping; known: {', '.join(ADVANTAGES)}")
    hp["advantage_estimator"] = ADVANTAGES[estimator]
    hp["advantage_epsilon"] = 1e-6  # verl's epsilon in compute_grpo_outcome_advantage
    if estimator == "grpo":
        hp["scale_rewards"] = "group" if _get(algorithm, "norm_adv_by_std_in_grpo", True) else "none"
    for name in ("clip_cov_ratio", "clip_cov_lb", "clip_cov_ub", "kl_cov_ratio", "ppo_kl_coef"):
        if _get(policy_loss, name) is not None:
            hp[name] = float(_get(policy_loss, name))
    try:
        return AlgorithmSpec(f"verl-{mode}", **hp)
    except ValueError as exc:
        raise UnipoError(f"verl config: no UNIPO spec for these options ({exc})") from None


def group_ids(uids) -> np.ndarray:
    """verl's per-response `uid` (one per prompt) → integer group ids in first-seen order."""
    seen: dict = {}
    return np.array([seen.setdefault(str(u), len(seen)) for u in uids], dtype=np.int64)


def _batch(data, key):
    batch = data.batch
    return batch[key] if key in batch.keys() else None


def record_from_dataproto(data, tokenizer, *, spec: AlgorithmSpec | None = None, log_probs: torch.Tensor | None = None,
                          entropy: torch.Tensor | None = None, rollout: int = 0, epoch: int = 0,
                          minibatch: int = 0) -> StepRecord:
    """One actor update's batch as a StepRecord. `log_probs`/`entropy`: the actor's outputs on this
    batch (verl's ppo_loss model_output); with `spec`, every term of UNIPO's recomputation on them
    (advantages as verl computed them) is stored too."""
    responses, mask = _batch(data, "responses"), _batch(data, "response_mask")
    if responses is None or mask is None:
        raise UnipoError("verl DataProto: needs batch keys 'responses' and 'response_mask'")
    n, t = responses.shape
    uids = data.non_tensor_batch.get("uid")
    groups = group_ids(uids) if uids is not None else np.arange(n)
    prompts = _batch(data, "prompts")
    attention = _batch(data, "attention_mask")
    prompt_texts = [""] * n
    if prompts is not None:
        prompt_mask = attention[:, :prompts.shape[1]].bool() if attention is not None else torch.ones_like(prompts, dtype=torch.bool)
        prompt_texts = [tokenizer.decode(prompts[i][prompt_mask[i]].tolist(), skip_special_tokens=False) for i in range(n)]
    mask_bool = mask.bool()
    from unipo.engine.token_text import TokenTexts
    texts = TokenTexts(tokenizer)
    ids = [responses[i][mask_bool[i]].tolist() for i in range(n)]
    scores = _batch(data, "token_level_scores")
    rewards = _batch(data, "token_level_rewards")
    reward = (scores if scores is not None else rewards)
    reward = (reward * mask).sum(-1) if reward is not None else torch.full((n,), float("nan"))
    terms: dict[str, torch.Tensor] = {}
    for key, name in (("token_level_scores", "token_score"), ("token_level_rewards", "token_reward"),
                      ("rollout_log_probs", "sampling_logprob"), ("advantages", "advantage")):
        value = _batch(data, key)
        if value is not None:
            terms[name] = value.detach().float()
    if spec is not None and log_probs is not None:
        result = recompute_batch(spec, data, log_probs, entropy=entropy)
        terms.update({k: v.detach() for k, v in result.terms.items() if v.dim() == 2})
    old = _batch(data, "old_log_probs")
    return StepRecord(
        prompt_index=groups, group_id=groups, prompt_text=prompt_texts,
        response_text=[tokenizer.decode(row, skip_special_tokens=True) for row in ids],
        reward=reward.detach().float(), mask=mask_bool, token_ids=responses, tokens=[texts.strings(row) for row in ids],
        logprob=None if log_probs is None else log_probs.detach(), old_logprob=old,
        ref_logprob=_batch(data, "ref_log_prob"), value=_batch(data, "values"), returns=_batch(data, "returns"),
        entropy=None if entropy is None else entropy.detach(), terms=terms,
        rollout=rollout, epoch=epoch, minibatch=minibatch)


def recompute_batch(spec: AlgorithmSpec, data, log_probs: torch.Tensor, *, entropy=None):
    """UNIPO's loss and terms on a verl batch, with verl's own advantages ([N, T])."""
    mask = _batch(data, "response_mask").bool()
    old = _batch(data, "old_log_probs")
    num_items = None
    if spec.hparams["loss_aggregation"] == "token-mean" and "batch_num_tokens" in data.meta_info:
        num_items = float(data.meta_info["batch_num_tokens"]) / float(data.meta_info.get("dp_size", 1))
    return recompute(spec, StepInputs(
        logprobs=log_probs, mask=mask, old_logprobs=old if old is not None else log_probs.detach(),
        ref_logprobs=_batch(data, "ref_log_prob"), entropies=entropy, advantages=_batch(data, "advantages"),
        token_ids=_batch(data, "responses"), num_items_in_batch=num_items))
