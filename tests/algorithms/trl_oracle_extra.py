"""More of TRL 1.16 driven on given tensors: loss_type "vespo"/"luspo" and the vLLM importance-sampling correction.

Like trl_grpo_oracle (whose stub accelerator it reuses), the loss is TRL's own GRPOTrainer._compute_loss
on a bare trainer. The vLLM importance-sampling ratio and its logged metrics are computed by TRL inside
_generate_and_score_completions, which needs a generation engine; rather than transcribe them, this
helper takes the two blocks' source text out of that method (inspect.getsource) and executes TRL's own
lines on our tensors:

- the ratio block, from `if self.use_vllm and self.vllm_importance_sampling_correction:` to the
  `# Compute the per-token log probabilities for the reference model` comment;
- the metrics block, from the second `if self.use_vllm and self.vllm_importance_sampling_correction:`
  (the one that starts with `delta = torch.abs(`) to `output = {`.

If TRL's source moves, the anchors are not found and the helper fails loudly instead of guessing.
"""
from __future__ import annotations

import inspect
import math
import textwrap

import pytest
import torch
from support.modules import load_sibling


_BASE = load_sibling(__file__, "trl_grpo_oracle", as_name="unipo_tests_algorithms_trl_grpo_oracle_for_extra")
trl_grpo = _BASE.trl_grpo

_RATIO_START = "if self.use_vllm and self.vllm_importance_sampling_correction:\n"
_RATIO_END = "# Compute the per-token log probabilities for the reference model"
_METRICS_START = "if self.use_vllm and self.vllm_importance_sampling_correction:\n"
_METRICS_FIRST_LINE = "delta = torch.abs(old_per_token_logps - sampling_per_token_logps)"
_METRICS_END = "output = {"


def _blocks():
    source = inspect.getsource(trl_grpo.GRPOTrainer._generate_and_score_completions)
    lines = source.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() + "\n" == _RATIO_START]
    ratio_start = next(i for i in starts if "per_token_logps_diff" in "".join(lines[i:i + 4]))
    ratio_end = next(i for i in range(ratio_start, len(lines)) if lines[i].strip() == _RATIO_END)
    metrics_start = next(i for i in starts if lines[i + 1].strip() == _METRICS_FIRST_LINE)
    metrics_end = next(i for i in range(metrics_start, len(lines)) if lines[i].strip() == _METRICS_END)
    ratio = textwrap.dedent("".join(lines[ratio_start:ratio_end]))
    metrics = textwrap.dedent("".join(lines[metrics_start:metrics_end]))
    return compile(ratio, "<trl ratio block>", "exec"), compile(metrics, "<trl metrics block>", "exec")


try:
    _RATIO_CODE, _METRICS_CODE = _blocks()
except StopIteration:  # pragma: no cover - only when TRL's source changed
    pytest.fail("trl_oracle_extra: TRL's vLLM importance-sampling blocks were not found in "
                "GRPOTrainer._generate_and_score_completions (TRL source changed?)")


def _trainer(*, loss_type, beta, epsilon, epsilon_high, delta, importance_sampling_level, top_entropy_quantile,
             max_completion_length, vespo, use_vllm, mode, clip_min, clip_max):
    return _BASE.bare_trainer(
        args=dict(delta=delta, sapo_temperature_pos=1.0, sapo_temperature_neg=1.05, **vespo),
        loss_type=loss_type, beta=beta, epsilon_low=epsilon,
        epsilon_high=epsilon if epsilon_high is None else epsilon_high,
        importance_sampling_level=importance_sampling_level, top_entropy_quantile=top_entropy_quantile,
        use_vllm=use_vllm, vllm_importance_sampling_correction=use_vllm, vllm_importance_sampling_mode=mode,
        vllm_importance_sampling_clip_min=clip_min, vllm_importance_sampling_clip_max=clip_max,
        max_completion_length=max_completion_length)


def trl_importance_sampling(*, old_logprobs, sampling_logprobs, mask, mode="sequence_mask", clip_min=None,
                            clip_max=3.0):
    """(importance_sampling_ratio, metrics) from TRL's own lines of _generate_and_score_completions."""
    trainer = _trainer(loss_type="dapo", beta=0.0, epsilon=0.2, epsilon_high=None, delta=None,
                       importance_sampling_level="token", top_entropy_quantile=1.0, max_completion_length=None,
                       vespo={}, use_vllm=True, mode=mode, clip_min=clip_min, clip_max=clip_max)
    scope = {"self": trainer, "torch": torch, "math": math, "old_per_token_logps": old_logprobs,
             "sampling_per_token_logps": sampling_logprobs, "completion_mask": mask.long(), "tool_mask": None,
             "mode": "train", "device": old_logprobs.device, "nanmin": trl_grpo.nanmin, "nanmax": trl_grpo.nanmax}
    with torch.no_grad():
        exec(_RATIO_CODE, scope)  # noqa: S102 - TRL's own source, see the module docstring
        exec(_METRICS_CODE, scope)  # noqa: S102
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    return scope["vllm_importance_sampling_ratio"], metrics


def trl_loss(*, loss_type, logprobs, old_logprobs, mask, advantages, ref_logprobs=None, entropies=None, beta=0.0,
             epsilon=0.2, epsilon_high=None, delta=None, importance_sampling_level="token", top_entropy_quantile=1.0,
             max_completion_length=None, num_items_in_batch=None, vespo=None, sampling_logprobs=None,
             vllm_importance_sampling_mode="sequence_mask", vllm_importance_sampling_clip_min=None,
             vllm_importance_sampling_clip_max=3.0):
    """(loss, loss metrics, sampling metrics) from TRL; with sampling_logprobs, vLLM IS correction is on."""
    use_vllm = sampling_logprobs is not None
    trainer = _trainer(loss_type=loss_type, beta=beta, epsilon=epsilon, epsilon_high=epsilon_high, delta=delta,
                       importance_sampling_level=importance_sampling_level,
                       top_entropy_quantile=top_entropy_quantile, max_completion_length=max_completion_length,
                       vespo={"vespo_k_pos": 2.0, "vespo_lambda_pos": 3.0, "vespo_k_neg": 3.0,
                              "vespo_lambda_neg": 2.0, **(vespo or {})},
                       use_vllm=use_vllm, mode=vllm_importance_sampling_mode,
                       clip_min=vllm_importance_sampling_clip_min, clip_max=vllm_importance_sampling_clip_max)
    inputs = _BASE.loss_inputs(trainer, logprobs=logprobs, old_logprobs=old_logprobs, mask=mask,
                               advantages=advantages, entropies=entropies, num_items_in_batch=num_items_in_batch)
    sampling_metrics = {}
    if use_vllm:
        ratio, sampling_metrics = trl_importance_sampling(
            old_logprobs=old_logprobs, sampling_logprobs=sampling_logprobs, mask=mask,
            mode=vllm_importance_sampling_mode, clip_min=vllm_importance_sampling_clip_min,
            clip_max=vllm_importance_sampling_clip_max)
        inputs["importance_sampling_ratio"] = ratio
        inputs["sampling_per_token_logps"] = sampling_logprobs
    if ref_logprobs is not None:
        inputs["ref_per_token_logps"] = ref_logprobs
    loss = trainer._compute_loss(None, inputs)
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    return loss, metrics, sampling_metrics


def trl_gamma_weights(*, advantages, log_ratio, mask, importance_sampling_ratio=None, **vespo):
    """TRL's GRPOTrainer.get_gamma_weights (a staticmethod), advantages [N] or [N, 1]."""
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)
    return trl_grpo.GRPOTrainer.get_gamma_weights(advantages, log_ratio, mask, importance_sampling_ratio, **vespo)
