"""Cost of per-token gradient attribution (engine/attribution.py), measured in one run:

- a plain update (forward, loss, backward, grad clip, optimizer step), the reference;
- the same update with exact attribution (‖∇θℓ‖ of every token, vmapped backward chunks) — the
  ratio is "× a plain update";
- the same update with GradLoc bisection on a flagged step (⌈log2 n⌉ + 1 backward passes), and
  whether bisection stops at the token the exact pass ranks first.

    .venv/bin/python benchmarks/bench_attribution.py [--model tiny|smollm2] [--responses 16] [--tokens 32]

The batch is N random completions of T tokens after a short prompt, with a GRPO loss on random
rewards (so every token is pushed). Timings are medians of --repeats runs on this machine.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from unipo.algorithms import StepInputs, get_preset, recompute
from unipo.engine.attribution import bisect_culprit, exact_contributions
from unipo.engine.policy import Policy


def load(name: str):
    if name == "tiny":
        from unipo.models.tiny import build_tiny_model
        return build_tiny_model(seed=0)
    from unipo.models.smollm2 import load_from_gguf
    return load_from_gguf()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", choices=("tiny", "smollm2"))
    parser.add_argument("--responses", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=32, help="tokens per vmapped backward (memory ~ chunk × parameters)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-graph", action="store_true",
                        help="also time exact attribution through the whole batch's graph (no re-scoring)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, tokenizer = load(args.model)
    model.eval()
    policy = Policy(model, tokenizer)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.0)  # lr 0: every repeat sees the same weights
    vocab = model.config.vocab_size
    n, t = args.responses, args.tokens
    prompts = [[int(x) for x in torch.randint(5, vocab, (6,))] for _ in range(n)]
    completions = torch.randint(5, vocab, (n, t))
    mask = torch.ones(n, t)
    rewards = torch.rand(n)
    groups = torch.arange(n) // 4
    algo = get_preset("grpo", beta=0.0)

    def update(extra=None):
        start = time.perf_counter()
        scores = policy.score_completions(prompts, completions, mask, with_entropy=False)
        result = recompute(algo, StepInputs(logprobs=scores.logprobs, mask=mask, rewards=rewards, group_ids=groups,
                                            old_logprobs=scores.logprobs.detach()))
        optimizer.zero_grad(set_to_none=True)
        result.loss.backward(retain_graph=extra is not None)
        push = result.collect_push()
        norm = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
        found = extra(scores.logprobs, push, mask) if extra else None
        optimizer.step()
        return time.perf_counter() - start, found, norm

    def timed(extra=None):
        runs = [update(extra) for _ in range(args.repeats)]
        return statistics.median(r[0] for r in runs), runs[-1][1], runs[-1][2]

    update()  # warm-up
    plain, _, grad_norm = timed()
    def rescore(rows):
        at = torch.tensor(rows)
        return policy.score_completions([prompts[i] for i in rows], completions[at], mask[at], with_entropy=False).logprobs

    # As the engine runs it: each response scored again, its tokens' backward passes on its own graph.
    exact, (token_norms, _), _ = timed(lambda lp, g, m: exact_contributions(lp, g, m, params, chunk=args.chunk,
                                                                            rescore=rescore))
    whole = None
    if args.batch_graph:
        whole, (batch_norms, _), _ = timed(lambda lp, g, m: exact_contributions(lp, g, m, params, chunk=args.chunk))
        agreement = float(((batch_norms - token_norms).abs().max() / token_norms.abs().max()))
    bisect, found, _ = timed(lambda lp, g, m: bisect_culprit(lp, g, m, params))
    top = divmod(int(token_norms.reshape(-1).argmax()), t)
    parameters = sum(p.numel() for p in params)
    print(f"model {args.model}: {parameters / 1e6:.2f}M parameters, {n} responses × {t} tokens = {n * t} tokens, "
          f"{args.threads} thread(s)")
    print(f"plain update            {plain * 1e3:9.1f} ms")
    print(f"with exact attribution  {exact * 1e3:9.1f} ms   × {exact / plain:6.1f} a plain update "
          f"({(exact - plain) / (n * t) * 1e3:.2f} ms per token)")
    if whole is not None:
        print(f"  (on the batch's graph {whole * 1e3:9.1f} ms   × {whole / plain:6.1f}; the two agree to "
              f"{agreement:.1e} of the largest ‖c‖)")
    print(f"with GradLoc bisection  {bisect * 1e3:9.1f} ms   × {bisect / plain:6.2f} a plain update "
          f"({found.probes} backward passes for {n * t} tokens)")
    print(f"bisection culprit {(found.response, found.position)} vs exact top {top}: "
          f"{'same token' if (found.response, found.position) == top else 'different'}; "
          f"culprit share of the gradient norm {found.culprit_norm / found.step_norm:.3f}; grad norm {grad_norm:.4g}")


if __name__ == "__main__":
    main()
