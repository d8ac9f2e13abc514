"""Drive TRL 1.16's own GRPOTrainer._compute_loss on given tensors (no model, no accelerator).

A bare trainer is built with __new__ and only the attributes _compute_loss reads; the model forward
is replaced by a function returning our log-prob tensor, so TRL's loss and its gradient w.r.t.
those log-probs can be compared with ours.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

trl_grpo = pytest.importorskip("trl.trainer.grpo_trainer")
sys.modules.pop("transformers", None)  # trl swaps sys.modules["transformers"]; restore a clean import
import transformers  # noqa: E402,F401


class _SingleProcessAccelerator:
    num_processes = 1

    def gather(self, x):
        return x

    def gather_for_metrics(self, x):
        return x

    def reduce(self, x, reduction="sum"):
        return x

    def pad_across_processes(self, x, dim=0, pad_index=0):
        return x


def bare_trainer(*, args: dict, **attributes):
    """A GRPOTrainer built with __new__ holding only what _compute_loss reads (single process, training,
    no KL bias correction: UNIPO never reweights the KL), plus `attributes` and extra `args`."""
    trainer = trl_grpo.GRPOTrainer.__new__(trl_grpo.GRPOTrainer)
    trainer.args = SimpleNamespace(use_bias_correction_kl=False, steps_per_generation=1, **args)
    defaults = dict(off_policy_mask_threshold=None, use_vllm=False, aux_loss_enabled=False,
                    _entropy_bonus_enabled=False, current_gradient_accumulation_steps=1,
                    model=SimpleNamespace(training=True), accelerator=_SingleProcessAccelerator(),
                    _metrics={"train": defaultdict(list), "eval": defaultdict(list)})
    for name, value in {**defaults, **attributes}.items():
        setattr(trainer, name, value)
    return trainer


def loss_inputs(trainer, *, logprobs, old_logprobs, mask, advantages, entropies, num_items_in_batch):
    """What _compute_loss reads: the model forward replaced by our log-probs and entropies."""
    if entropies is None:
        entropies = torch.zeros_like(logprobs.detach())
    trainer._get_per_token_logps_and_entropies = lambda *args, **kwargs: (logprobs, entropies, None)
    n, t = logprobs.shape
    return {
        "prompt_ids": torch.zeros(n, 1, dtype=torch.long), "prompt_mask": torch.ones(n, 1, dtype=torch.long),
        "completion_ids": torch.zeros(n, t, dtype=torch.long), "completion_mask": mask.long(),
        "advantages": advantages, "old_per_token_logps": old_logprobs,
        "num_items_in_batch": torch.as_tensor(mask.sum() if num_items_in_batch is None else num_items_in_batch,
                                              dtype=logprobs.dtype),
    }


def trl_loss(*, loss_type, logprobs, old_logprobs, mask, advantages, ref_logprobs=None, entropies=None,
             beta=0.0, epsilon=0.2, epsilon_high=None, delta=None, importance_sampling_level="token",
             top_entropy_quantile=1.0, max_completion_length=None, num_items_in_batch=None,
             sapo_temperature_pos=1.0, sapo_temperature_neg=1.05):
    """Return (loss, metrics) from TRL's _compute_loss; `logprobs` must require grad."""
    trainer = bare_trainer(args=dict(delta=delta, sapo_temperature_pos=sapo_temperature_pos,
                                     sapo_temperature_neg=sapo_temperature_neg),
                           loss_type=loss_type, beta=beta, epsilon_low=epsilon,
                           epsilon_high=epsilon if epsilon_high is None else epsilon_high,
                           importance_sampling_level=importance_sampling_level,
                           top_entropy_quantile=top_entropy_quantile, max_completion_length=max_completion_length)
    inputs = loss_inputs(trainer, logprobs=logprobs, old_logprobs=old_logprobs, mask=mask, advantages=advantages,
                         entropies=entropies, num_items_in_batch=num_items_in_batch)
    if ref_logprobs is not None:
        inputs["ref_per_token_logps"] = ref_logprobs
    loss = trainer._compute_loss(None, inputs)
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    return loss, metrics
