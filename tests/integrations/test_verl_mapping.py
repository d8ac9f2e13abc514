"""unipo.integrations.verl on verl 0.9's own DataProto and core_algos (CPU): a batch of verl's actor
update becomes a stored step whose columns are verl's tensors, and UNIPO's loss with the spec mapped
from verl's actor config equals verl's own policy loss + KL loss on the same tensors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from support.modules import load_sibling

oracle = load_sibling(__file__.replace("integrations", "algorithms"), "verl_oracle",
                      as_name="unipo_tests_integrations_verl_oracle")
try:
    core_algos = oracle.load()
except ImportError as exc:  # pragma: no cover - verl not installed
    pytest.skip(str(exc), allow_module_level=True)

from unipo.integrations.verl import record_from_dataproto, spec_from_verl  # noqa: E402
from unipo.models.tokenizer import build_char_tokenizer  # noqa: E402
from unipo.runs import RunReader, RunWriter  # noqa: E402

pytestmark = pytest.mark.slow  # importing verl takes several seconds
N, P, T = 6, 5, 7


def verl_batch(tokenizer, seed=0):
    from verl.protocol import DataProto
    g = torch.Generator().manual_seed(seed)
    prompt_text = ["12+3=", "4+56=", "7+8="]
    prompts = torch.full((N, P), tokenizer.pad_token_id, dtype=torch.long)
    prompt_mask = torch.zeros(N, P, dtype=torch.long)
    for i in range(N):
        ids = tokenizer(prompt_text[i // 2], add_special_tokens=False)["input_ids"]
        prompts[i, P - len(ids):] = torch.tensor(ids)  # verl left-pads prompts
        prompt_mask[i, P - len(ids):] = 1
    vocab = [tokenizer.convert_tokens_to_ids(c) for c in "0123456789"]
    responses = torch.tensor(vocab)[torch.randint(0, 10, (N, T), generator=g)]
    lengths = torch.tensor([7, 3, 5, 7, 1, 4])
    response_mask = (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)).long()
    scores = torch.zeros(N, T)
    scores[torch.arange(N), lengths - 1] = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    uid = np.array(["a", "a", "b", "b", "c", "c"], dtype=object)
    advantages, returns = core_algos.compute_grpo_outcome_advantage(scores, response_mask, uid)
    old = -torch.rand(N, T, generator=g) * 2
    ref = old + 0.2 * torch.randn(N, T, generator=g)
    data = DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "response_mask": response_mask,
                 "attention_mask": torch.cat([prompt_mask, response_mask], dim=1), "token_level_scores": scores,
                 "token_level_rewards": scores, "old_log_probs": old, "ref_log_prob": ref,
                 "advantages": advantages, "returns": returns},
        non_tensors={"uid": uid})
    log_probs = old + 0.3 * torch.randn(N, T, generator=g)
    return data, log_probs, prompt_text


def test_a_verl_batch_is_stored_with_verls_tensors_and_loss(tmp_path):
    tokenizer = build_char_tokenizer()
    data, log_probs, prompt_text = verl_batch(tokenizer)
    actor = oracle.actor_config(epsilon=0.2, epsilon_high=0.28)
    actor.loss_agg_mode = "token-mean"
    actor.use_kl_loss, actor.kl_loss_type, actor.kl_loss_coef = True, "low_var_kl", 0.05
    spec = spec_from_verl(actor, {"adv_estimator": "grpo", "norm_adv_by_std_in_grpo": True})
    assert spec.hparams["epsilon_high"] == 0.28 and spec.hparams["beta"] == 0.05 and spec.hparams["kl_estimator"] == "k3"

    lp = log_probs.clone().requires_grad_()
    mask = data.batch["response_mask"].bool()
    pg, _ = core_algos.compute_policy_loss_vanilla(data.batch["old_log_probs"], lp, data.batch["advantages"], mask,
                                                   loss_agg_mode="token-mean", config=actor)
    kl = core_algos.kl_penalty(lp, data.batch["ref_log_prob"], "low_var_kl")
    verl_loss = pg + 0.05 * core_algos.agg_loss(kl, mask, "token-mean")
    record = record_from_dataproto(data, tokenizer, spec=spec, log_probs=log_probs.clone().requires_grad_())
    from unipo.integrations.verl import recompute_batch
    ours = recompute_batch(spec, data, log_probs.clone().requires_grad_())
    assert abs(float(ours.loss) - float(verl_loss)) < 1e-5

    writer = RunWriter.create(tmp_path / "run", {"source": "verl", "algorithm": spec.to_dict()})
    writer.write_step(0, record)
    writer.close()
    reader = RunReader(tmp_path / "run")
    responses = reader.responses(0)
    assert responses.column("group").to_pylist() == [0, 0, 1, 1, 2, 2]
    assert responses.column("prompt_text").to_pylist() == [prompt_text[i // 2] for i in range(N)]
    assert responses.column("reward").to_pylist() == [1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    assert responses.column("response_length").to_pylist() == [7, 3, 5, 7, 1, 4]
    tokens = reader.step(0)
    assert tokens.num_rows == int(mask.sum())
    stored_adv = np.array(tokens.column("advantage").to_pylist())
    assert np.allclose(stored_adv, data.batch["advantages"][mask].numpy(), atol=1e-6)
    assert np.allclose(np.array(tokens.column("old_logprob").to_pylist()), data.batch["old_log_probs"][mask].numpy(), atol=1e-6)
    assert tokens.column("token").to_pylist()[:3] == list(tokenizer.decode(data.batch["responses"][0, :3].tolist()))


def test_unmapped_verl_options_are_named():
    from unipo.errors import UnipoError
    with pytest.raises(UnipoError, match="loss_mode: 'geo_mean'"):
        spec_from_verl({"policy_loss": {"loss_mode": "geo_mean"}})
    with pytest.raises(UnipoError, match="loss_agg_mode: 'token-sum'"):
        spec_from_verl({"loss_agg_mode": "token-sum"})
