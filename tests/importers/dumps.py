"""Dumps written the way each framework writes them (the schema of the source file named per writer).

Values are deterministic (seeded numpy) so that tests can compare what was stored with what was written.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# poloclub/unipo docs/canonical_schema.json: the header and one entry of its example, verbatim
# (the schema file carries // comments; these are its values).
REFERENCE_HEADER = {
    "task": "math reasoning", "dataset": "GSM8K", "reward_strategy": "correctness + format", "algorithm": "ppo",
    "totalSteps": 2, "model_name": "meta-llama/Llama-3.2-1B-Instruct",
    "reference_model_name": "meta-llama/Llama-3.2-1B-Instruct",
    "hparams": {"gamma": 1.0, "gae_lambda": 0.95, "clip_eps": 0.2, "kl_coef": 0.04, "learning_rate": 1e-6,
                "group_size": 1},
}
REFERENCE_TOKENS = {
    "ids": [0, 1, 2, 3], "strings": ["The", " answer", " is", " $4$."],
    "log_probs": [-0.21, -0.58, -0.09, -0.73], "ref_log_probs": [-0.25, -0.61, -0.12, -0.81],
    "old_log_probs": [-0.22, -0.59, -0.10, -0.75], "values": [0.42, 0.48, 0.55, 0.81],
    "advantages": [0.35, 0.35, 0.35, 0.35], "returns": [0.0, 0.0, 0.0, 0.85], "token_kl": [0.04, 0.03, 0.03, 0.08],
    "rewards": [0.0, 0.0, 0.0, 0.85], "token_objective": [0.0035, 0.0035, 0.0035, 0.007],
}


def reference_entry(step: int, *, first: bool = True, prompts: bool = True, tokens: dict | None = None) -> dict:
    entry = {"step": step, "is_first_step_after_rollout_phase": first,
             "metrics": {"policy_objective": 0.112, "reward": 0.35, "kl": 0.12}}
    if prompts:
        entry["prompts"] = [{"prompt": "Compute $2 + 2$.", "responses": [{
            "id": f"step{step}_p0_sample0", "reward": 0.85, "advantage": 0.35,
            "response_text": "The answer is $4$.", "response_length": 4,
            "tokens": dict(tokens if tokens is not None else REFERENCE_TOKENS)}]}]
    return entry


def reference_json(path: Path, entries: list[dict], header: dict | None = None, **extra) -> Path:
    path.write_text(json.dumps({"header": header or dict(REFERENCE_HEADER, run_id="r-17"), "entries": entries, **extra}))
    return path


def reference_jsonl(path: Path, entries: list[dict], header: dict | None = None) -> Path:
    lines = [json.dumps({"type": "header", **(header or REFERENCE_HEADER)})]
    lines += [json.dumps({"type": "step", **entry}) for entry in entries]
    path.write_text("\n".join(lines) + "\n")
    return path


def prime_rl(root: Path, steps=(0, 1), ranks=2, group=2, prompt_len=3, completion_len=5, seed=0) -> Path:
    """PrimeIntellect-ai/prime-rl src/prime_rl/trainer/rl/token_export.py (TokenExporter._write):
    token_exports/step_<n>/rank_<r>.jsonl, one record per sequence, prompt tokens with loss_mask false."""
    rng = np.random.default_rng(seed)
    for step in steps:
        folder = root / "token_exports" / f"step_{step}"
        folder.mkdir(parents=True)
        for rank in range(ranks):
            prompt = rng.integers(5, 50, prompt_len).tolist()
            lines = []
            for k in range(group):
                completion = rng.integers(5, 50, completion_len).tolist()
                n = prompt_len + completion_len
                trainer = (-rng.random(n)).tolist()
                inference = (np.array(trainer) + rng.normal(0, 0.05, n)).tolist()
                advantage = float(rng.normal())
                mask = [False] * prompt_len + [True] * completion_len
                lines.append(json.dumps({
                    "schema_version": 1, "step": step, "export_step": step, "rank": rank, "micro_step": 0,
                    "micro_sequence_idx": k, "export_sequence_idx": k, "run_id": None, "env_name": "math",
                    "token_ids": prompt + completion, "position_ids": list(range(n)), "loss_mask": mask,
                    "advantages": [advantage if m else 0.0 for m in mask],
                    "losses": [{"rl": {"advantage": advantage if m else 0.0, "mask": m}} for m in mask],
                    "rewards": [None] * n, "inference_logprobs": inference, "trainer_logprobs": trainer,
                    "entropy": rng.random(n).tolist(),
                    "mismatch_kl": [None] * n, "log_importance_ratio": (np.array(trainer) - np.array(inference)).tolist(),
                    "importance_ratio": np.exp(np.array(trainer) - np.array(inference)).tolist(),
                    "prob_delta": [None] * n, "is_masked": [False] * n, "is_masked_high": [False] * n,
                    "is_masked_low": [False] * n}, separators=(",", ":"), allow_nan=False))
            (folder / f"rank_{rank}.jsonl").write_text("\n".join(lines) + "\n")
        (folder / "STABLE").touch()
    return root


def openrlhf(path: Path, steps=(1, 2), samples=3, length=4, seed=0, ids=False) -> Path:
    """RL Logging Board rows (HarderThenHarder/RLLoggingBoard; OpenRLHF PR #658)."""
    rng = np.random.default_rng(seed)
    rows = []
    for step in steps:
        for k in range(samples):
            tokens = [int(i) for i in rng.integers(5, 40, length)] if ids else [f"t{int(i)}" for i in rng.integers(0, 9, length)]
            rows.append({"prompt": f"p{k % 2}", "response": "".join(map(str, tokens)), "response_tokens": tokens,
                         "logprobs": (-rng.random(length)).tolist(), "ref_logprobs": (-rng.random(length)).tolist(),
                         "values": rng.random(length).tolist(), "token_rewards": [0.0] * (length - 1) + [1.0],
                         "reward": float(k), "step": step})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def verl(folder: Path, steps=(1, 2), samples=4) -> Path:
    """verl/trainer/ppo/ray_trainer.py _dump_generations: {global_steps}.jsonl, keys input, output, gts,
    score, step, then every reward_extra_info key (here acc) and uid."""
    folder.mkdir(parents=True, exist_ok=True)
    for step in steps:
        lines = [json.dumps({"input": f"What is {k // 2}+1?", "output": f"it is {k}.", "gts": str(k // 2 + 1),
                             "score": float(k % 2), "step": step, "acc": bool(k % 2) * 1.0, "uid": f"u{k // 2}"})
                 for k in range(samples)]
        (folder / f"{step}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def gradloc(folder: Path, step=7, rank=0, mb=1, rows=2, prompt_len=3, response_len=4) -> Path:
    """Tencent-Hunyuan/GradLoc patches/gradloc.patch: spike_inputs_gs*_rank*_batch*_mb*.json and
    bisect_tokens_gs*_rank*.json (hit_tokens with mb_idx, b, s, grad_norm, input_id)."""
    folder.mkdir(parents=True, exist_ok=True)
    input_ids = [[10 + b * 10 + j for j in range(prompt_len + response_len)] for b in range(rows)]
    mask = [[1] * (response_len - 1) + [0] for _ in range(rows)]
    (folder / f"spike_inputs_gs{step}_rank{rank}_batch0_mb{mb}.json").write_text(json.dumps({
        "rank": rank, "global_steps": step, "input_ids": input_ids,
        "advantages": [[0.5 * (b + 1)] * response_len for b in range(rows)], "response_mask": mask}))
    hit = {"mb_idx": mb, "b": 1, "s": 2, "grad_norm": 41.5, "input_id": input_ids[1][prompt_len + 2]}
    (folder / f"bisect_tokens_gs{step}_rank{rank}.json").write_text(json.dumps({"hit_tokens": [hit]}))
    return folder
