"""Cost of unipo.algorithms.recompute() (loss + every per-token term + metrics + the push g) relative
to a bare inline loss.

For each preset on a 64×1024 float32 batch: median time of objective() divided by the median time
of the same configuration's loss written inline (TRL-style, no terms kept, no input validation).
Forward only, and forward + backward (what a training step pays). Inputs are what the engine
passes: ref_logprobs only when the spec uses a reference, entropies and truncated always.

All four variants of a preset are timed interleaved, round-robin, so that load from other
processes on a shared machine hits them alike; ratios come from one run; goal ≤ 1.5×.
"valid." is the time of objective's _validated() alone (argument checks and the mask's conversion to
0/1 floats; finiteness is checked from sums the metrics compute anyway, one extra reduction), and
"fwd w/o valid." the forward ratio without it. Times are thread CPU time (time the scheduler gives
other processes is not counted). --steady-malloc stops glibc from returning freed memory to the OS
between calls: on this CPU build, otherwise, fresh [N, T] tensors often page-fault (~1.5 µs per 4 KiB
page), which costs whoever keeps the most tensors alive (objective() keeps 15 terms); a caching
allocator (CUDA's) never does this.

    .venv/bin/python benchmarks/bench_algorithms.py [--repeats 41] [--steady-malloc] [--preset NAME ...]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from unipo.algorithms import StepInputs, get_preset, list_presets, recompute
from unipo.algorithms import objective as objective_module

# The presets whose loss bare_loss below writes inline (the newer ones have no inline twin here).
INLINE = ("reinforce", "rloo", "reinforce_pp", "ppo", "grpo", "dapo", "dr_grpo", "bnpo", "gspo", "cispo", "sapo",
          "gpg", "high_entropy", "luspo")


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


def bare_loss(hp, lp, old, ref, ent, mask, adv, truncated):
    """The configuration's loss written inline the way TRL does, keeping no terms."""
    if hp["mask_truncated_completions"]:
        mask = mask & ~truncated.unsqueeze(1)
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


def steady_malloc():
    import ctypes
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_trim_threshold, 2 ** 30)
    libc.mallopt(m_mmap_threshold, 2 ** 30)


CLOCK = time.thread_time  # CPU time of this thread: time the scheduler gives to other processes is not counted


def interleaved_medians(fns, repeats):
    """Median seconds of each fn, timed round-robin after one warm-up call each."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = CLOCK()
            fn()
            times[i].append(CLOCK() - start)
    return [statistics.median(t) for t in times]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--preset", nargs="*", help="only these presets (default: all)")
    parser.add_argument("--steady-malloc", action="store_true",
                        help="keep freed memory in the process (glibc mallopt: no trimming, no mmap), as a caching "
                             "allocator (CUDA's) does: fresh tensors then cost no page faults")
    args = parser.parse_args()
    if args.steady_malloc:
        steady_malloc()
    torch.set_num_threads(1)  # shared machine: one core, stable timings
    b = make_batch()
    print(f"batch 64x1024 float32, median thread CPU time of {args.repeats} interleaved rounds, torch threads 1, "
          f"{'steady' if args.steady_malloc else 'default'} malloc")
    print(f"{'preset':<14}{'bare fwd ms':>12}{'unipo fwd ms':>13}{'fwd ratio':>10}{'valid. ms':>10}"
          f"{'fwd w/o valid.':>15}{'bare f+b ms':>12}{'unipo f+b ms':>13}{'f+b ratio':>10}")
    validate = getattr(objective_module, "_validated", None)
    for preset in list_presets():
        if args.preset and preset.name not in args.preset or preset.name not in INLINE:
            continue
        algo = get_preset(preset.name)
        hp = algo.hparams
        adv = b["token_advantages"] if algo.token_level_advantages else b["advantages"]
        ref = b["ref"] if algo.uses_reference else None  # as the engine: a reference only when used

        def ours(backward=False):
            # As the engine calls it: the log-probs come out of a model's graph (here one multiply), the
            # push g is read from the same backward that trains.
            leaf = b["logprobs"].clone().requires_grad_(backward)
            lp = leaf * 1.0 if backward else leaf
            result = recompute(algo, StepInputs(logprobs=lp, mask=b["mask"], old_logprobs=b["old"], advantages=adv,
                                                ref_logprobs=ref, entropies=b["entropies"], truncated=b["truncated"]),
                               push=backward)
            if backward:
                result.loss.backward()
                result.collect_push()

        def bare(backward=False):
            leaf = b["logprobs"].clone().requires_grad_(backward)
            lp = leaf * 1.0 if backward else leaf
            loss = bare_loss(hp, lp, b["old"], b["ref"], b["entropies"], b["mask"], adv, b["truncated"])
            if backward:
                loss.backward()

        def validation():
            validate(hp, b["logprobs"], b["old"], b["mask"], adv, ref, b["entropies"], b["truncated"], hp["entropy_coef"])

        fns = [bare, ours, lambda: bare(True), lambda: ours(True)]
        if validate is not None:
            fns.append(validation)
        medians = interleaved_medians(fns, args.repeats)
        bare_fwd, ours_fwd, bare_both, ours_both = medians[:4]
        valid = medians[4] if validate is not None else float("nan")
        print(f"{preset.name:<14}{bare_fwd * 1e3:>12.3f}{ours_fwd * 1e3:>13.3f}{ours_fwd / bare_fwd:>9.2f}x"
              f"{valid * 1e3:>10.3f}{(ours_fwd - valid) / bare_fwd:>14.2f}x"
              f"{bare_both * 1e3:>12.3f}{ours_both * 1e3:>13.3f}{ours_both / bare_both:>9.2f}x")


if __name__ == "__main__":
    main()
