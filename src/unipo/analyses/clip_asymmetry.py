"""Clip asymmetry: how often the clip fires, split by the sign of the advantage and the side of the clip."""
from __future__ import annotations

import numpy as np

from unipo.analyses.registry import Param, analysis

PAPER = ("Yu et al., DAPO (2025): clip-higher; Xi et al., BAPO: Balanced Policy Optimization with adaptive "
         "clipping (2025)")
CELLS = ("pos_high", "pos_low", "neg_high", "neg_low")


def step_cells(data) -> dict:
    advantage = data.floats("advantage")
    low = np.nan_to_num(data.floats("clipped_low"), nan=0.0) > 0
    high = np.nan_to_num(data.floats("clipped_high"), nan=0.0) > 0
    used = np.isfinite(advantage)
    if data.has("selected"):
        used &= np.nan_to_num(data.floats("selected"), nan=0.0) > 0
    total = max(1, int(used.sum()))
    pos, neg = used & (advantage > 0), used & (advantage < 0)
    return {"pos_high": float((pos & high).sum() / total), "pos_low": float((pos & low).sum() / total),
            "neg_high": float((neg & high).sum() / total), "neg_low": float((neg & low).sum() / total),
            "pos_tokens": int(pos.sum()), "neg_tokens": int(neg.sum()), "tokens": int(used.sum())}


@analysis(
    "clip_asymmetry", title="Clip asymmetry", level="run", requires=("advantage", "clipped_low", "clipped_high"),
    optional=("selected",), paper=PAPER,
    params={"max_steps": Param(60, "stored steps read (evenly spread)", int, 1, 1000)},
    explanation="""PPO's clip cuts the gradient of a token whose ratio left [1−ε_low, 1+ε_high] in the
    direction its advantage pushes: above for A > 0 (the update would raise an already-raised token), below
    for A < 0. The two sides act on different tokens: DAPO's clip-higher widens the upper side so
    low-probability tokens with positive advantage can still rise, and BAPO adapts both bounds to balance
    positive and negative contributions. Per stored step: the fraction of tokens clipped in each
    (sign of A × side) cell.""",
)
def clip_asymmetry(run, max_steps: int = 60) -> dict:
    series = {"step": [], **{c: [] for c in CELLS}}
    for n in run.sample_steps(int(max_steps)):
        data = run.step(n)
        if data.missing(("advantage", "clipped_low", "clipped_high")):
            continue
        cells = step_cells(data)
        series["step"].append(n)
        for c in CELLS:
            series[c].append(cells[c])
    hp = (run.header.get("algorithm") or {}).get("hparams") or {}
    return {**series, "epsilon": hp.get("epsilon"), "epsilon_high": hp.get("epsilon_high")}
