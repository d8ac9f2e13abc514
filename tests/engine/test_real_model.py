"""Behaviour of the engine on the real warmed-up tiny model (the one `unipo demo` trains).

These catch the bugs that make "RL made accuracy worse" look like a tuning problem: a wrong sign,
an off-by-one between the logits and the tokens they predict, padding that shifts positions, a
prompt format that differs from the warm-up's, or an evaluation that measures something else
than the warm-up reported. The first test in a fresh environment warms the model up (~30-60 s on
2 cores); it is cached afterwards (~/.cache/unipo/models or $UNIPO_CACHE_DIR).
"""
from __future__ import annotations

import copy

import pytest
import torch

import unipo.engine.policy as policy_module
from unipo.algorithms import get_preset
from unipo.commands.demo import DEMO_ALGORITHMS
from unipo.engine.config import TrainConfig
from unipo.engine.data_order import PromptStream
from unipo.engine.minibatches import plan_minibatches
from unipo.engine.policy import Policy
from unipo.engine.rollout import collect_rollout
from unipo.engine.token_text import TokenTexts
from unipo.engine.trainer import Trainer
from unipo.engine.update import run_update
from unipo.models import evaluate_accuracy, load_policy_model
from unipo.models.warmup import MONITOR_SEED_OFFSET, supervised_batch
from unipo.tasks import get_task

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def task():
    return get_task("arithmetic")


@pytest.fixture(scope="module")
def loaded(task):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return load_policy_model("tiny", task=task, seed=0)
    finally:
        torch.set_num_threads(previous)


def fresh_model(loaded):
    return copy.deepcopy(loaded.model).eval()


class SamplingSpy:
    """Wraps the sampler the policy calls and records log π_T(token) of the distribution each
    token was actually drawn from (temperature-scaled logits, full softmax)."""

    def __init__(self, monkeypatch):
        self.original = policy_module.sample_next_token
        self.columns: list[torch.Tensor] = []
        monkeypatch.setattr(policy_module, "sample_next_token", self)

    def __call__(self, logits, temperature, top_p, generator):
        token = self.original(logits, temperature, top_p, generator)
        log_p = torch.log_softmax(logits.float() / temperature, dim=-1)
        self.columns.append(log_p.gather(-1, token[:, None]).squeeze(-1))
        return token

    def logprobs(self) -> torch.Tensor:
        return torch.stack(self.columns, dim=1)


# -- (b) the log-probs the losses use are those of the sampling distribution -----------------------

@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_rescored_logprobs_equal_the_sampling_distribution(loaded, task, monkeypatch, temperature):
    """collect_rollout's old log-probs (scored in chunks of different left-padding) equal, token by
    token, the log-probs under which generate drew each token."""
    config = TrainConfig(prompts_per_step=6, group_size=4, max_new_tokens=24, temperature=temperature,
                         scoring_batch_size=5, eval_prompts=0)
    policy = Policy(fresh_model(loaded), loaded.tokenizer)
    stream = PromptStream(task, seed=1)
    spy = SamplingSpy(monkeypatch)
    rollout = collect_rollout(0, policy, None, get_preset("grpo", beta=0.0), task, stream, config,
                              torch.Generator().manual_seed(0), TokenTexts(loaded.tokenizer))
    lengths = {len(ids) for ids in rollout.prompt_ids}
    assert len(lengths) > 1, "the batch must mix prompt lengths so left padding differs between rows"
    sampled = spy.logprobs()[:, : rollout.mask.shape[1]] * rollout.mask
    assert sampled.shape == rollout.old_logprobs.shape
    assert torch.allclose(rollout.old_logprobs, sampled, atol=1e-4), \
        (rollout.old_logprobs - sampled).abs().max()


# -- (c) the rollout sees prompts exactly as the warm-up trained on them ---------------------------

def test_rollout_tokenization_matches_the_warmup_format(loaded, task):
    tokenizer = loaded.tokenizer
    examples = task.prompts("train", 12, 5)
    batch = supervised_batch(tokenizer, task, examples)
    rollout_prompts = [list(ids) for ids in tokenizer([ex.prompt for ex in examples])["input_ids"]]
    answers = [tokenizer(task.reference_completion(ex), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
               for ex in examples]
    for row, (prompt_ids, answer_ids) in enumerate(zip(rollout_prompts, answers)):
        sequence = batch["input_ids"][row][batch["attention_mask"][row] > 0].tolist()
        assert prompt_ids[0] == tokenizer.bos_token_id
        # BOS + prompt is exactly the warm-up's context; the answer starts where its labels start.
        assert sequence == prompt_ids + answer_ids
        first_label = int((batch["labels"][row] != -100).nonzero()[0])
        assert first_label == len(prompt_ids)

    # The same gold completion scored the rollout way (left-padded prompt, completion after it) and
    # the warm-up way (right-padded, labels) has the same per-token log-probs.
    policy = Policy(fresh_model(loaded), tokenizer)
    width = max(len(a) for a in answers)
    completion = torch.tensor([a + [tokenizer.pad_token_id] * (width - len(a)) for a in answers])
    mask = torch.tensor([[1.0] * len(a) + [0.0] * (width - len(a)) for a in answers])
    with torch.no_grad():
        scored = policy.score_completions(rollout_prompts, completion, mask, temperature=1.0).logprobs
        logits = policy.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    log_p = torch.log_softmax(logits[:, :-1].float(), -1)
    labels = batch["labels"][:, 1:]
    warmup_lp = log_p.gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)
    for row, prompt_ids in enumerate(rollout_prompts):
        start = len(prompt_ids) - 1
        expected = warmup_lp[row, start:start + len(answers[row])]
        assert torch.allclose(scored[row, : len(answers[row])], expected, atol=1e-4)


# -- (d) evaluation measures what the warm-up reported --------------------------------------------

def test_evaluation_reproduces_the_warmup_accuracy_and_rollout_greedy_decoding(loaded, task):
    summary = loaded.info["warmup"]
    settings = loaded.info["identity"]["warmup"]
    model = fresh_model(loaded)
    again = evaluate_accuracy(model, loaded.tokenizer, task, n=settings["eval_size"], seed=MONITOR_SEED_OFFSET)
    assert again == summary["eval_accuracy"]

    # The engine's own greedy decoding (KV cache, left padding) answers like evaluate_accuracy.
    examples = task.prompts("eval", 128, 0)
    policy = Policy(model, loaded.tokenizer)
    texts = TokenTexts(loaded.tokenizer)
    prompt_ids = [list(ids) for ids in loaded.tokenizer([ex.prompt for ex in examples])["input_ids"]]
    generation = policy.generate(prompt_ids, max_new_tokens=32, temperature=0.0)
    lengths = generation.mask.sum(-1).long()
    correct = sum(task.score(ex, texts.completion_text(generation.completion_ids[i, : int(lengths[i])].tolist())).correct
                  for i, ex in enumerate(examples))
    assert correct / len(examples) == evaluate_accuracy(model, loaded.tokenizer, task, n=128, seed=0)


# -- (a) one update moves log-probs the way the advantages say ------------------------------------

@pytest.mark.parametrize("preset", DEMO_ALGORITHMS)
def test_an_update_raises_positive_and_lowers_negative_advantage_responses(loaded, task, tmp_path, preset):
    """On a fixed rollout of the real model, two updates (r ≡ 1, then r ≠ 1) with a small lr:
    responses with A > 0 gain log-probability on average, responses with A < 0 lose it, and the
    advantage-weighted change Σ A_i Δ log π(y_i) is positive after each update.

    Not asserted per response: sampled responses of a prompt share most of their tokens (a wrong
    answer often differs from the right one by its last digits), so pushing a right answer up
    also pushes the shared prefix of a wrong one up — measured on this rollout, about a third of
    the responses move against their own advantage's sign under a correct update."""
    config = TrainConfig(algo=preset, prompts_per_step=8, group_size=8, epochs=2, minibatches=1, lr=1e-5,
                         max_new_tokens=24, eval_prompts=0, checkpoint_every=0, capture=False, steps=2)
    algo = get_preset(preset, **({"max_completion_length": 24} if preset == "dr_grpo" else {}))
    trainer = Trainer(config, tmp_path / preset, algo=algo, task=task, model=fresh_model(loaded),
                      tokenizer=loaded.tokenizer)
    policy = trainer.policy
    rollout = collect_rollout(0, policy, trainer.reference, algo, task, trainer.stream, config,
                              trainer.generator, trainer.texts)
    advantages = rollout.advantages
    if advantages.dim() == 2:  # token-level (PPO): the response's summed advantage decides its sign
        advantages = (advantages * rollout.mask).sum(-1)
    positive, negative = advantages > 1e-6, advantages < -1e-6
    assert positive.any() and negative.any()

    def summed_logprobs():
        with torch.no_grad():
            return policy.score_completions(rollout.prompt_ids, rollout.completion_ids, rollout.mask,
                                            temperature=config.temperature).logprobs.sum(-1)

    plan = plan_minibatches(len(rollout.prompt_texts), rollout.group_size, config.epochs, config.minibatches,
                            config.seed, rollout.index)
    previous = summed_logprobs()
    for position, batch in enumerate(plan):
        run_update(policy, algo, trainer.optimizer, rollout, batch, config, first_of_rollout=position == 0)
        now = summed_logprobs()
        change = now - previous
        assert change[positive].mean() > 0, (preset, position, change[positive])
        assert change[negative].mean() < 0, (preset, position, change[negative])
        assert (advantages * change).sum() > 0
        previous = now
    trainer.writer.set_status("finished")
