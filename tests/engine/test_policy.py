import torch

from unipo.engine.policy import Policy, left_pad, sample_next_token
from unipo.engine.value_head import ValueHead


def encode(tokenizer, texts):
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


def test_generation_masks_end_at_first_eos_and_flags_truncation(model, tokenizer):
    policy = Policy(model, tokenizer)
    gen = policy.generate(encode(tokenizer, ["1+2=", "33+4="] * 4), max_new_tokens=6,
                          generator=torch.Generator().manual_seed(0))
    for row in range(gen.completion_ids.shape[0]):
        ids = gen.completion_ids[row].tolist()
        length = int(gen.mask[row].sum())
        if gen.truncated[row]:
            assert policy.eos_token_id not in ids[:length] and length == gen.completion_ids.shape[1]
        else:
            assert ids[length - 1] == policy.eos_token_id
            assert policy.eos_token_id not in ids[: length - 1]


def test_generation_is_reproducible_with_a_seeded_generator(model, tokenizer):
    policy = Policy(model, tokenizer)
    prompts = encode(tokenizer, ["1+2=", "33+4=", "5="])
    a = policy.generate(prompts, max_new_tokens=8, generator=torch.Generator().manual_seed(3))
    b = policy.generate(prompts, max_new_tokens=8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.completion_ids, b.completion_ids)


def test_scores_of_a_row_do_not_depend_on_the_rest_of_the_batch(model, tokenizer):
    """Left padding and position ids are right: a short prompt padded in a batch scores as alone."""
    policy = Policy(model, tokenizer)
    prompts = encode(tokenizer, ["1+2=", "333+44="])
    gen = policy.generate(prompts, max_new_tokens=5, generator=torch.Generator().manual_seed(1))
    batch = policy.score_completions(prompts, gen.completion_ids, gen.mask, temperature=0.7)
    alone = policy.score_completions(prompts[:1], gen.completion_ids[:1], gen.mask[:1], temperature=0.7)
    assert torch.allclose(batch.logprobs[:1], alone.logprobs, atol=1e-5)
    assert torch.allclose(batch.entropies[:1], alone.entropies, atol=1e-5)


def test_cached_generation_logits_match_a_full_forward(model, tokenizer):
    """Greedy decoding with the KV cache picks the argmax of the full-sequence forward at every step."""
    policy = Policy(model, tokenizer)
    prompts = encode(tokenizer, ["12+3=", "4="])
    gen = policy.generate(prompts, max_new_tokens=6, temperature=0.0)
    scores = policy.score_completions(prompts, gen.completion_ids, gen.mask)
    # Greedy tokens have the highest log-prob of their distribution: log p >= -log(V) at least.
    ids, attention = left_pad(prompts, policy.pad_token_id)
    for row in range(2):
        seq = prompts[row] + gen.completion_ids[row][gen.mask[row] > 0].tolist()
        logits = model(input_ids=torch.tensor([seq])).logits[0]
        expected = logits[len(prompts[row]) - 1:-1].argmax(-1)
        assert expected.tolist() == gen.completion_ids[row][gen.mask[row] > 0].tolist()
        lp = torch.log_softmax(logits[len(prompts[row]) - 1:-1], -1).gather(-1, expected[:, None]).squeeze(-1)
        assert torch.allclose(lp, scores.logprobs[row][gen.mask[row] > 0], atol=1e-5)


def test_top_p_keeps_only_the_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    gen = torch.Generator().manual_seed(0)
    draws = {int(sample_next_token(logits, 1.0, 0.7, gen)) for _ in range(200)}
    assert draws == {0, 1}


def test_value_head_gives_one_value_per_completion_token(model, tokenizer):
    policy = Policy(model, tokenizer, ValueHead(model.config.hidden_size))
    prompts = encode(tokenizer, ["1+2=", "3="])
    gen = policy.generate(prompts, max_new_tokens=4, generator=torch.Generator().manual_seed(0))
    policy.value_head.linear.bias.data.fill_(0.5)
    scores = policy.score_completions(prompts, gen.completion_ids, gen.mask, with_values=True)
    assert torch.allclose(scores.values, 0.5 * gen.mask)
    scores.values.sum().backward()
    assert policy.value_head.linear.weight.grad.abs().sum() > 0
