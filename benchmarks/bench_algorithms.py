"""Cost of algo.objective() (loss + every per-token term + metrics) relative to a bare inline loss.

For each preset on a 64×1024 float32 batch: median time of objective() over several repeats divided
by the median time of the same configuration's loss written inline (TRL-style, no terms kept).
Both forward only, and forward + backward. Ratios come from one run; goal ≤ 1.5×.

    .venv/bin/python benchmarks/bench_algorithms.py [--repeats 15]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from unipo.algorithms import get_preset, list_presets


def make_batch(n=64, t=1024, seed=0):
    g = torch.Generator().manual_seed(seed)
    logprobs = -torch.rand(n, t, generator=g) * 3
    lengths = torch.randint(t // 4, t + 1, (n,), generator=g)
    return dict(
        logprobs=logprobs, old=logprobs + 0.2 * torch.randn(n, t, generator=g),
        ref=logprobs + 0.2 * torch.randn(n, t, generator=g), entropies=torch.rand(n, t, generator=g) * 2,
        mask=torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1), advantages=torch.randn(n, generator=g),
        token_advantages=torch.randn(n, t, generator=g), truncated=torch.zeros(n, dtype=torch.bool),
    )


def bare_loss(hp, lp, old, ref, ent, mask, adv):
    """The configuration's loss written inline the way TRL does, keeping no terms."""
    maskf = mask.float()
    adv = adv.unsqueeze(1) if adv.dim() == 1 else adv
    level = hp["importance_sampling_level"]
    if level == "token":
        log_ratio = lp - old
    elif level == "sequence":
        log_ratio = ((lp - old) * maskf).sum(-1, keepdim=True) / maskf.sum(-1, keepdim=True).clamp(min=1)
    else:
        log_ratio = lp - lp.detach()
    r = torch.exp(log_ratio)
    mode = hp["clip_mode"]
    if mode == "ppo":
        per_token = -torch.min(r * adv, torch.clamp(r, 1 - hp["epsilon"], 1 + hp["epsilon_high"]) * adv)
    elif mode == "cispo":
        per_token = -torch.clamp(r, max=hp["epsilon_high"]).detach() * adv * lp
    elif mode == "sapo":
        tau = torch.where(adv > 0, hp["sapo_temperature_pos"], hp["sapo_temperature_neg"])
        per_token = -torch.sigmoid(tau * (r - 1)) * 4 / tau * adv
    else:
        per_token = -r * adv
    if hp["top_entropy_quantile"] < 1.0:
        threshold = torch.quantile(ent[mask].float(), 1 - hp["top_entropy_quantile"])
        per_token = per_token * ((ent * maskf >= threshold) & mask)
    if hp["beta"]:
        d = ref - lp
        per_token = per_token + hp["beta"] * (torch.exp(d) - d - 1)
    if hp["entropy_coef"]:
        per_token = per_token - hp["entropy_coef"] * ent
    agg = hp["loss_aggregation"]
    if agg == "seq-mean-token-mean":
        return ((per_token * maskf).sum(-1) / maskf.sum(-1).clamp(min=1)).mean()
    if agg in ("token-mean", "token-mean-local"):
        return (per_token * maskf).sum() / maskf.sum().clamp(min=1)
    if agg == "seq-mean-token-sum":
        return (per_token * maskf).sum() / maskf.shape[0]
    return (per_token * maskf).sum() / (maskf.shape[0] * maskf.shape[1])


def median_seconds(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)  # shared machine: one core, stable timings
    b = make_batch()
    print(f"batch 64x1024 float32, median of {args.repeats}, torch threads 1")
    print(f"{'preset':<14}{'bare fwd ms':>12}{'unipo fwd ms':>13}{'fwd ratio':>10}{'fwd+bwd ratio':>15}")
    for preset in list_presets():
        algo = get_preset(preset.name)
        hp = algo.hparams
        adv = b["token_advantages"] if algo.token_level_advantages else b["advantages"]

        def ours(backward=False):
            lp = b["logprobs"].clone().requires_grad_(backward)
            out = algo.objective(lp, b["old"], b["mask"], advantages=adv, ref_logprobs=b["ref"],
                                 entropies=b["entropies"], truncated=b["truncated"])
            if backward:
                out.loss.backward()

        def bare(backward=False):
            lp = b["logprobs"].clone().requires_grad_(backward)
            loss = bare_loss(hp, lp, b["old"], b["ref"], b["entropies"], b["mask"], adv)
            if backward:
                loss.backward()

        bare_fwd, ours_fwd = median_seconds(bare, args.repeats), median_seconds(ours, args.repeats)
        bare_both = median_seconds(lambda: bare(True), args.repeats)
        ours_both = median_seconds(lambda: ours(True), args.repeats)
        print(f"{preset.name:<14}{bare_fwd * 1e3:>12.2f}{ours_fwd * 1e3:>13.2f}{ours_fwd / bare_fwd:>9.2f}x"
              f"{ours_both / bare_both:>14.2f}x")


if __name__ == "__main__":
    main()
