"""One rollout: prompts × group size sampled, scored, and given old/ref log-probs, values, advantages.

Everything the updates of this rollout need is computed here once, with the policy as it was
before the first update (the behaviour policy), and kept in a `Rollout`, which a checkpoint can
save whole so that resuming mid-rollout replays the same data.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

import torch

from unipo.engine.config import TrainConfig
from unipo.engine.data_order import PromptStream
from unipo.engine.policy import Policy
from unipo.algorithms import registry
from unipo.runs.schema import REWARD_COMPONENT_PREFIX
from unipo.engine.token_text import TokenTexts



@dataclass
class Rollout:
    index: int
    prompt_texts: list[str]            # per group
    group_ids: torch.Tensor            # [G] stream position of each prompt: the same across algorithms
    prompt_ids: list[list[int]]        # per response
    completion_ids: torch.Tensor       # [N, T]
    mask: torch.Tensor                 # [N, T]
    truncated: torch.Tensor            # [N] bool
    response_texts: list[str]
    token_strings: list[list[str]]     # per response, real tokens only
    rewards: torch.Tensor              # [N]
    reward_components: dict[str, torch.Tensor]
    correct: torch.Tensor              # [N] bool
    old_logprobs: torch.Tensor         # [N, T]
    sampling_logprobs: torch.Tensor | None = None  # [N, T] as generation sampled them (mismatch corrections)
    ref_logprobs: torch.Tensor | None = None
    values: torch.Tensor | None = None
    advantages: torch.Tensor | None = None   # [N] or [N, T]
    returns: torch.Tensor | None = None
    # advantage_details().terms: the estimator's intermediates, per response [N] (group_mean,
    # group_std, baseline, advantage_scale, shaped_reward) or per token [N, T] (token_reward,
    # kl_reward, td_error); stored as step columns under these names (the formula binds to them).
    advantage_terms: dict[str, torch.Tensor] = field(default_factory=dict)
    advantage_metrics: dict[str, float] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def group_size(self) -> int:
        return len(self.response_texts) // len(self.prompt_texts)

    def response_group_slots(self) -> torch.Tensor:
        """[N] index of each response's prompt within the rollout (what the algorithm groups by)."""
        return torch.arange(len(self.prompt_texts)).repeat_interleave(self.group_size)

    def to_state(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_state(cls, state: dict) -> "Rollout":
        return cls(**state)


@dataclass
class _Sampled:
    """Groups sampled in one generation round, before filtering."""
    examples: list
    group_ids: list[int]
    prompt_ids: list[list[int]]
    completion_ids: torch.Tensor
    mask: torch.Tensor
    truncated: torch.Tensor
    response_texts: list[str]
    rewards: torch.Tensor
    components: dict[str, torch.Tensor]
    correct: torch.Tensor
    sampling_logprobs: torch.Tensor | None = None
    filter_stats: dict = field(default_factory=dict)


def _pad_columns(tensors: list[torch.Tensor], value) -> torch.Tensor:
    width = max(t.shape[1] for t in tensors)
    return torch.cat([torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value) for t in tensors])


def _sample_groups(policy: Policy, task, stream: PromptStream, count: int, config: TrainConfig,
                   generator: torch.Generator, texts: TokenTexts, hp: dict) -> _Sampled:
    first_id = stream.position
    examples = stream.take(count)
    group = config.group_size
    encoded = policy.tokenizer([ex.prompt for ex in examples])["input_ids"]
    prompt_ids = [list(ids) for ids in encoded for _ in range(group)]
    gen = policy.generate(prompt_ids, max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                          top_p=config.top_p, generator=generator)
    lengths = gen.mask.sum(-1)
    response_texts, rewards, correct, components = [], [], [], {}
    for row in range(len(prompt_ids)):
        ids = gen.completion_ids[row, : int(lengths[row])].tolist()
        text = texts.completion_text(ids)
        result = task.score(examples[row // group], text)
        response_texts.append(text)
        rewards.append(float(result.reward))
        correct.append(bool(result.correct))
        for name, value in result.components.items():
            components.setdefault(name, [0.0] * len(prompt_ids))[row] = float(value)
    rewards_t = torch.tensor(rewards, dtype=torch.float32)
    components_t = {name: torch.tensor(v, dtype=torch.float32) for name, v in components.items()}
    # The algorithm's reward shaping (e.g. DAPO's soft overlong punishment), part of its preset: each
    # adds to the reward and is stored as the reward component its descriptor names (reward_<name>).
    shaping_hp = {**hp, "max_completion_length": hp["max_completion_length"] or config.max_new_tokens}
    for shaping in registry.active("reward_shaping", hp):
        penalty = shaping.load()(lengths, shaping_hp)
        components_t[shaping.response_terms[0].removeprefix(REWARD_COMPONENT_PREFIX)] = penalty
        rewards_t = rewards_t + penalty
    sampled = _Sampled(examples, list(range(first_id, first_id + count)), prompt_ids, gen.completion_ids,
                       gen.mask, gen.truncated, response_texts, rewards_t, components_t,
                       torch.tensor(correct, dtype=torch.bool), sampling_logprobs=gen.sampling_logprobs)
    return _filter_responses(sampled, group, hp)


def kept_group_size(config: TrainConfig, hp: dict) -> int:
    """Responses per prompt after the algorithm's response filters (GFPO keeps k of the G sampled)."""
    return int(hp["gfpo_keep"]) if hp.get("gfpo_keep") else config.group_size


def _filter_responses(sampled: _Sampled, group: int, hp: dict) -> _Sampled:
    """The algorithm's per-response sample filters (e.g. GFPO), applied before anything is scored."""
    for part in registry.active("sample_filter", hp):
        if part.compute is None:  # group-level filters (dynamic sampling) run in the sampling loop
            continue
        group_index = torch.arange(len(sampled.examples)).repeat_interleave(group)
        lengths = sampled.mask.sum(-1)
        keep, part_stats = part.load()(sampled.rewards, lengths, group_index, hp)
        stats = {**sampled.filter_stats, **part_stats}
        rows = keep.nonzero()[:, 0]
        sampled = _Sampled(
            examples=sampled.examples, group_ids=sampled.group_ids,
            prompt_ids=[sampled.prompt_ids[i] for i in rows.tolist()],
            completion_ids=sampled.completion_ids.index_select(0, rows), mask=sampled.mask.index_select(0, rows),
            truncated=sampled.truncated.index_select(0, rows),
            response_texts=[sampled.response_texts[i] for i in rows.tolist()],
            rewards=sampled.rewards.index_select(0, rows),
            components={name: value.index_select(0, rows) for name, value in sampled.components.items()},
            correct=sampled.correct.index_select(0, rows), filter_stats=stats,
            sampling_logprobs=None if sampled.sampling_logprobs is None else sampled.sampling_logprobs.index_select(0, rows))
        group = len(rows) // max(len(sampled.examples), 1)
    return sampled


def _select_groups(rounds: list[_Sampled], keep: list[tuple[int, int]], group: int) -> _Sampled:
    """Concatenate the chosen (round, group) pairs into one batch, padding completions to one width."""
    rows = [(r, g * group + k) for r, g in keep for k in range(group)]

    def gather(getter):
        return [getter(rounds[r], i) for r, i in rows]

    completion = _pad_columns([rounds[r].completion_ids[i:i + 1] for r, i in rows], 0)
    mask = _pad_columns([rounds[r].mask[i:i + 1] for r, i in rows], 0.0)
    sampling = (None if any(rounds[r].sampling_logprobs is None for r, _ in rows) else
                _pad_columns([rounds[r].sampling_logprobs[i:i + 1] for r, i in rows], 0.0))
    names = sorted({name for s in rounds for name in s.components})
    return _Sampled(
        examples=[rounds[r].examples[g] for r, g in keep],
        group_ids=[rounds[r].group_ids[g] for r, g in keep],
        prompt_ids=gather(lambda s, i: s.prompt_ids[i]),
        completion_ids=completion, mask=mask,
        truncated=torch.stack(gather(lambda s, i: s.truncated[i])),
        response_texts=gather(lambda s, i: s.response_texts[i]),
        rewards=torch.stack(gather(lambda s, i: s.rewards[i])),
        components={n: torch.stack(gather(lambda s, i, n=n: s.components.get(n, torch.zeros(len(s.rewards)))[i]))
                    for n in names},
        correct=torch.stack(gather(lambda s, i: s.correct[i])),
        filter_stats=_merged_filter_stats(rounds),
        sampling_logprobs=sampling,
    )


def _merged_filter_stats(rounds: list[_Sampled]) -> dict:
    """Filter statistics over several generation rounds: the worst margin, the mean of the rest."""
    merged: dict = {}
    for name in {name for r in rounds for name in r.filter_stats}:
        values = [r.filter_stats[name] for r in rounds if name in r.filter_stats]
        merged[name] = min(values) if name.endswith("margin") else sum(values) / len(values)
    return merged


def _sample_with_dynamic_filter(policy, task, stream, config, generator, texts, hp) -> tuple[_Sampled, dict]:
    """DAPO dynamic sampling: keep groups whose rewards differ, draw new prompts until the batch is
    full or the tries run out; a batch still short is topped up with dropped groups (in order) so
    every rollout keeps the same size."""
    group, wanted = kept_group_size(config, hp), config.prompts_per_step
    rounds: list[_Sampled] = []
    kept: list[tuple[int, int]] = []
    dropped: list[tuple[int, int]] = []
    tries = 0
    while len(kept) < wanted and tries <= hp["dynamic_sampling_max_tries"]:
        sampled = _sample_groups(policy, task, stream, wanted, config, generator, texts, hp)
        rounds.append(sampled)
        for g in range(wanted):
            rewards = sampled.rewards[g * group:(g + 1) * group]
            (kept if bool((rewards != rewards[0]).any()) else dropped).append((len(rounds) - 1, g))
        tries += 1
    chosen = kept[:wanted]
    filled = max(0, wanted - len(chosen))
    chosen += dropped[:filled]
    stats = {"dynamic_sampling_rounds": float(tries), "dynamic_sampling_dropped_groups": float(len(dropped)),
             "dynamic_sampling_filled_groups": float(filled)}
    return _select_groups(rounds, chosen, group), stats


@torch.no_grad()
def _score_in_chunks(policy: Policy, prompt_ids, completion_ids, mask, config: TrainConfig,
                     with_values: bool, with_entropy: bool = False):
    """(log-probs, values or None, entropies or None) of the completions, in chunks, without grad."""
    logprobs, values, entropies = [], [], []
    size = config.scoring_batch_size
    for start in range(0, len(prompt_ids), size):
        part = slice(start, start + size)
        scores = policy.score_completions(prompt_ids[part], completion_ids[part], mask[part],
                                          temperature=config.temperature, with_entropy=with_entropy,
                                          with_values=with_values)
        logprobs.append(scores.logprobs)
        if with_values:
            values.append(scores.values)
        if with_entropy:
            entropies.append(scores.entropies)
    return (torch.cat(logprobs), torch.cat(values) if with_values else None,
            torch.cat(entropies) if with_entropy else None)


def _advantages_read_entropy(hp: dict) -> bool:
    return any("entropy" in c.inputs for axis in ("advantage", "advantage_modifier")
               for c in registry.active(axis, hp))


def _greedy_baseline_rewards(policy: Policy, task, sampled: _Sampled, config: TrainConfig,
                             texts: TokenTexts) -> torch.Tensor:
    """ReMax's baseline: the reward of each prompt's greedy completion, one value per response [N]."""
    encoded = policy.tokenizer([ex.prompt for ex in sampled.examples])["input_ids"]
    gen = policy.generate([list(ids) for ids in encoded], max_new_tokens=config.max_new_tokens, temperature=0.0)
    lengths = gen.mask.sum(-1)
    per_prompt = []
    for row, example in enumerate(sampled.examples):
        text = texts.completion_text(gen.completion_ids[row, : int(lengths[row])].tolist())
        per_prompt.append(float(task.score(example, text).reward))
    group = len(sampled.response_texts) // max(len(sampled.examples), 1)
    return torch.tensor(per_prompt, dtype=torch.float32).repeat_interleave(group)


def collect_rollout(index: int, policy: Policy, reference: Policy | None, algo, task, stream: PromptStream,
                    config: TrainConfig, generator: torch.Generator, texts: TokenTexts) -> Rollout:
    started = time.perf_counter()
    hp = algo.hparams
    if hp["dynamic_sampling"]:
        sampled, stats = _sample_with_dynamic_filter(policy, task, stream, config, generator, texts, hp)
    else:
        sampled, stats = _sample_groups(policy, task, stream, config.prompts_per_step, config, generator, texts, hp), {}
    stats.update(sampled.filter_stats)
    generated = time.perf_counter()
    old_logprobs, values, rollout_entropies = _score_in_chunks(
        policy, sampled.prompt_ids, sampled.completion_ids, sampled.mask, config,
        with_values=bool(algo.uses_values), with_entropy=_advantages_read_entropy(hp))
    ref_logprobs = None
    if algo.uses_reference and reference is not None:
        ref_logprobs, _, _ = _score_in_chunks(reference, sampled.prompt_ids, sampled.completion_ids, sampled.mask,
                                              config, with_values=False)
    lengths = sampled.mask.sum(-1).long()
    rollout = Rollout(
        index=index,
        prompt_texts=[ex.prompt for ex in sampled.examples],
        group_ids=torch.tensor(sampled.group_ids, dtype=torch.long),
        prompt_ids=sampled.prompt_ids,
        completion_ids=sampled.completion_ids,
        mask=sampled.mask,
        truncated=sampled.truncated,
        response_texts=sampled.response_texts,
        token_strings=[texts.strings(sampled.completion_ids[i, : int(lengths[i])].tolist())
                       for i in range(len(sampled.prompt_ids))],
        rewards=sampled.rewards,
        reward_components=sampled.components,
        correct=sampled.correct,
        old_logprobs=old_logprobs,
        sampling_logprobs=sampled.sampling_logprobs,
        ref_logprobs=ref_logprobs,
        values=values,
    )
    baseline_rewards = None
    if "baseline_rewards" in registry.selected("advantage", hp).inputs:
        with torch.no_grad():
            baseline_rewards = _greedy_baseline_rewards(policy, task, sampled, config, texts)
    details = algo.advantage_details(rollout.rewards, rollout.response_group_slots(), mask=rollout.mask,
                                     values=values, logprobs=old_logprobs, ref_logprobs=ref_logprobs,
                                     token_ids=rollout.completion_ids, entropies=rollout_entropies,
                                     baseline_rewards=baseline_rewards)
    rollout.advantages = details.advantages.detach()
    rollout.returns = None if details.returns is None else details.returns.detach()
    rollout.advantage_terms = {name: value.detach() for name, value in (details.terms or {}).items()}
    rollout.advantage_metrics = {k: float(v) for k, v in (details.metrics or {}).items()}
    stats.update({"generation_seconds": generated - started,
                  "rollout_seconds": time.perf_counter() - started,
                  "rollout_tokens": float(sampled.mask.sum())})
    rollout.stats = stats
    return rollout
