"""The policy: a Hugging Face causal LM (+ optional value head) that samples completions and scores them.

Log-prob convention (the same as TRL's GRPOTrainer): the logits are divided by the sampling
temperature before the log-softmax, for sampling AND for every log-prob and entropy the losses use,
so the ratio compares the distribution the tokens were actually drawn from.

Layout of a scored batch: prompts left-padded to a common length P, completions right-padded to T,
position ids counted over real tokens only; the logits that predict completion token t sit at
position P - 1 + t. A completion includes its EOS token (mask 1 up to and including the first EOS),
as in TRL.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unipo.engine.value_head import ValueHead


@dataclass
class Generation:
    completion_ids: torch.Tensor  # [N, T] long, pad after the end
    mask: torch.Tensor            # [N, T] float, 1 for completion tokens (EOS included)
    truncated: torch.Tensor       # [N] bool: no EOS within max_new_tokens
    # [N, T] log-prob of each sampled token under the distribution it was sampled from (KV-cache
    # incremental forward, tempered, before top-p): the "inference engine" side of a training–inference
    # mismatch, which score_completions' full forward may differ from by float noise.
    sampling_logprobs: torch.Tensor | None = None


@dataclass
class TokenScores:
    logprobs: torch.Tensor             # [N, T]
    entropies: torch.Tensor | None     # [N, T]
    values: torch.Tensor | None        # [N, T]


def left_pad(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, P] ids and attention mask, sequences aligned to the right."""
    width = max((len(s) for s in sequences), default=0)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        if seq:
            ids[row, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
            attention[row, width - len(seq):] = 1
    return ids, attention


def positions_from_attention(attention: torch.Tensor) -> torch.Tensor:
    # Padding takes position 0 too; it is masked out of attention, so the value does not matter.
    return (attention.cumsum(-1) - 1).clamp(min=0)


def sample_next_token(logits: torch.Tensor, temperature: float, top_p: float,
                      generator: torch.Generator | None) -> torch.Tensor:
    """One token per row from temperature-scaled logits [N, V], nucleus-filtered when top_p < 1."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (the first token always survives).
        outside = sorted_probs.cumsum(-1) - sorted_probs >= top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


class Policy(nn.Module):
    """A causal LM and its tokenizer, plus a critic head when the algorithm needs values."""

    def __init__(self, model: nn.Module, tokenizer, value_head: ValueHead | None = None):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.value_head = value_head
        eos = tokenizer.eos_token_id
        if eos is None:
            raise ValueError("the tokenizer has no EOS token; completions could never end")
        self.eos_token_id = int(eos)
        pad = tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else eos)

    # -- sampling ---------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, prompt_ids: list[list[int]], *, max_new_tokens: int, temperature: float = 1.0,
                 top_p: float = 1.0, generator: torch.Generator | None = None) -> Generation:
        """Sample one completion per prompt with a KV cache.

        A hand-written loop rather than `model.generate`: on a ~1M-parameter model the per-token
        overhead of generate's processors dominates (see benchmarks/bench_engine.py), and a loop
        lets sampling draw from our own seeded generator.
        """
        n = len(prompt_ids)
        ids, attention = left_pad(prompt_ids, self.pad_token_id)
        positions = positions_from_attention(attention)
        finished = torch.zeros(n, dtype=torch.bool)
        tokens: list[torch.Tensor] = []
        sampled_logprobs: list[torch.Tensor] = []
        past = None
        step_input, step_positions = ids, positions
        for _ in range(max_new_tokens):
            out = self.model(input_ids=step_input, attention_mask=attention, position_ids=step_positions,
                             past_key_values=past, use_cache=True, logits_to_keep=1)
            past = out.past_key_values
            last = out.logits[:, -1, :]
            next_token = sample_next_token(last, temperature, top_p, generator)
            next_token = torch.where(finished, torch.full_like(next_token, self.pad_token_id), next_token)
            tokens.append(next_token)
            scale = temperature if temperature > 0 else 1.0
            sampled_logprobs.append(torch.log_softmax(last.float() / scale, dim=-1)
                                    .gather(-1, next_token.unsqueeze(-1)).squeeze(-1))
            finished |= next_token == self.eos_token_id
            if bool(finished.all()):
                break
            step_input = next_token.unsqueeze(-1)
            step_positions = step_positions[:, -1:] + 1
            attention = torch.cat([attention, torch.ones((n, 1), dtype=attention.dtype)], dim=-1)
        if not tokens:
            empty = torch.zeros((n, 0), dtype=torch.long)
            return Generation(empty, empty.float(), torch.ones(n, dtype=torch.bool), empty.float())
        completion = torch.stack(tokens, dim=1)
        is_eos = completion == self.eos_token_id
        # 1 up to and including the first EOS: count EOS seen strictly before each position.
        eos_before = is_eos.long().cumsum(-1) - is_eos.long()
        mask = (eos_before == 0).float()
        truncated = ~is_eos.any(-1)
        return Generation(completion, mask, truncated, torch.stack(sampled_logprobs, dim=1) * mask)

    # -- scoring ----------------------------------------------------------------------------------
    def score_completions(self, prompt_ids: list[list[int]], completion_ids: torch.Tensor,
                          mask: torch.Tensor, *, temperature: float = 1.0, with_entropy: bool = True,
                          with_values: bool = False) -> TokenScores:
        """Per-token log-probs (and entropies, values) of given completions, in one forward pass.

        Differentiable unless called under torch.no_grad(). Zero where mask is 0.
        """
        n, width = completion_ids.shape
        prompts, prompt_attention = left_pad(prompt_ids, self.pad_token_id)
        completion = torch.where(mask > 0, completion_ids, torch.full_like(completion_ids, self.pad_token_id))
        input_ids = torch.cat([prompts, completion], dim=1)
        attention = torch.cat([prompt_attention, mask.long()], dim=1)
        if width == 0:
            zeros = torch.zeros((n, 0))
            return TokenScores(zeros, zeros if with_entropy else None, zeros if with_values else None)
        want_hidden = with_values and self.value_head is not None
        out = self.model(input_ids=input_ids, attention_mask=attention,
                         position_ids=positions_from_attention(attention),
                         logits_to_keep=width + 1, output_hidden_states=want_hidden)
        logits = out.logits[:, :-1, :].float() / temperature
        log_p = torch.log_softmax(logits, dim=-1)
        logprobs = log_p.gather(-1, completion.unsqueeze(-1)).squeeze(-1) * mask
        entropies = None
        if with_entropy:
            entropies = -(log_p.exp() * log_p).sum(-1) * mask
        values = None
        if want_hidden:
            hidden = out.hidden_states[-1][:, -(width + 1):-1, :]
            values = self.value_head(hidden) * mask
        return TokenScores(logprobs, entropies, values)
