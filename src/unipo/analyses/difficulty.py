"""Difficulty bias (HA-DW, Yang et al. 2026): how group-relative advantages treat easy and hard prompts."""
from __future__ import annotations

import numpy as np

from unipo.analyses.registry import Param, analysis

PAPER = "Yang et al., Your Group-Relative Advantage Is Biased (arXiv 2601.08521, 2026; HA-DW)"
# The what-ifs that show the same step under other advantages (asked of /whatif, not computed here).
VARIANTS = [
    {"label": "std-normalised (GRPO)", "algo": None, "hparams": {"scale_rewards": "group"}},
    {"label": "centred only (Dr. GRPO)", "algo": None, "hparams": {"scale_rewards": "none"}},
    {"label": "HA-DW", "algo": None, "hparams": {"use_hadw": True}},
]


def bucket(accuracy: float, hard: float, easy: float) -> str:
    return "hard" if accuracy < hard else "easy" if accuracy > easy else "medium"


def prompt_table(data, correct_threshold: float) -> list[dict]:
    response = data.ints("response")
    prompt = data.ints("prompt")
    rids, rewards = data.per_response("reward")
    _, advantages = data.per_response("advantage")
    firsts = np.flatnonzero(np.r_[True, response[1:] != response[:-1]])
    rprompt = prompt[firsts]
    push = np.abs(np.nan_to_num(data.floats("grad_coef"), nan=0.0)) if data.has("grad_coef") else None
    weight = np.nan_to_num(data.floats("weight"), nan=0.0) if data.has("weight") else None
    total_push = float(push.sum()) if push is not None else 0.0
    rows = []
    for p in np.unique(rprompt):
        members = rprompt == p
        correct = rewards[members] > correct_threshold
        tokens = prompt == p
        rows.append({
            "prompt": int(p), "responses": int(members.sum()), "accuracy": float(correct.mean()),
            "reward_mean": float(np.nanmean(rewards[members])),
            "advantage_scale": float(np.nanmean(np.abs(advantages[members]))),
            "advantage_correct": float(np.nanmean(advantages[members][correct])) if correct.any() else None,
            "advantage_wrong": float(np.nanmean(advantages[members][~correct])) if (~correct).any() else None,
            "push": float(push[tokens].sum()) if push is not None else None,
            "push_share": float(push[tokens].sum() / total_push) if push is not None and total_push > 0 else None,
            "weight": float(weight[tokens].sum()) if weight is not None else None,
        })
    return rows


def shares_by_bucket(rows: list[dict], hard: float, easy: float) -> dict:
    out = {"hard": 0.0, "medium": 0.0, "easy": 0.0}
    for row in rows:
        if row["push_share"] is not None:
            out[bucket(row["accuracy"], hard, easy)] += row["push_share"]
    return out


COMMON = {"correct_threshold": Param(0.5, "a reward above this counts as correct", float),
          "hard": Param(1 / 3, "group accuracy below this: a hard prompt", float, 0, 1),
          "easy": Param(2 / 3, "group accuracy above this: an easy prompt", float, 0, 1)}


@analysis(
    "difficulty", title="Difficulty bias", level="step", requires=("reward", "advantage", "prompt"),
    optional=("grad_coef", "weight"), paper=PAPER, params=COMMON,
    explanation="""Group-relative advantages are biased by prompt difficulty: conditioned on a group that
    is not all right or all wrong, the estimate underestimates the true advantage on hard prompts and
    overestimates it on easy ones (Yang et al.; HA-DW reweights by a history-aware difficulty anchor).
    Per prompt: the group's accuracy, its advantage scale, and the push Σ|g| and aggregation weight its
    tokens got. The same step under std-normalised, centred-only and HA-DW advantages comes from the
    what-if path (the variants listed).""",
)
def difficulty(data, correct_threshold: float = 0.5, hard: float = 1 / 3, easy: float = 2 / 3) -> dict:
    rows = prompt_table(data, correct_threshold)
    for row in rows:
        row["bucket"] = bucket(row["accuracy"], hard, easy)
    return {"prompts": rows, "push_share_by_bucket": shares_by_bucket(rows, hard, easy), "variants": VARIANTS}


@analysis(
    "difficulty_over_run", title="Gradient to easy vs hard prompts", level="run",
    requires=("reward", "advantage", "prompt", "grad_coef"), paper=PAPER,
    params={**COMMON, "max_steps": Param(40, "stored steps read (evenly spread)", int, 1, 1000)},
    explanation="""Over the run: the share of each update's push Σ|g| that went to hard, medium and easy
    prompts (by their group's accuracy), on up to max_steps stored steps spread evenly.""",
)
def difficulty_over_run(run, correct_threshold=0.5, hard=1 / 3, easy=2 / 3, max_steps=40) -> dict:
    series = {"step": [], "hard": [], "medium": [], "easy": []}
    for n in run.sample_steps(int(max_steps)):
        data = run.step(n)
        if data.missing(("reward", "advantage", "prompt", "grad_coef")):
            continue
        shares = shares_by_bucket(prompt_table(data, correct_threshold), hard, easy)
        series["step"].append(n)
        for key in ("hard", "medium", "easy"):
            series[key].append(shares[key])
    return series


def compare_variants(stored, variants: list[tuple[str, object]], correct_threshold: float = 0.5,
                     hard: float = 1 / 3, easy: float = 2 / 3) -> dict:
    """The per-prompt table of the stored step beside the same table for each what-if variant
    (`variants`: (label, StepData of its payload)); accuracy is the stored rollout's in every column."""
    columns = [("stored", stored)] + list(variants)
    tables = {}
    for label, data in columns:
        absent = data.missing(("reward", "advantage", "prompt"))
        tables[label] = {"missing": absent, "rows": {} if absent else
                         {r["prompt"]: r for r in prompt_table(data, correct_threshold)}}
    prompts = sorted(tables["stored"]["rows"])
    rows = []
    for p in prompts:
        base = tables["stored"]["rows"][p]
        row = {"prompt": p, "accuracy": base["accuracy"], "bucket": bucket(base["accuracy"], hard, easy), "by": {}}
        for label, _ in columns:
            found = tables[label]["rows"].get(p)
            row["by"][label] = None if found is None else {
                k: found[k] for k in ("advantage_scale", "advantage_correct", "advantage_wrong", "push_share")}
        rows.append(row)
    return {"labels": [label for label, _ in columns], "prompts": rows,
            "missing": {label: t["missing"] for label, t in tables.items() if t["missing"]},
            "push_share_by_bucket": {label: shares_by_bucket(list(t["rows"].values()), hard, easy)
                                     for label, t in tables.items() if not t["missing"]}}
