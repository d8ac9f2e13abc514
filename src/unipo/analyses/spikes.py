"""Gradient-norm spikes: the rule the engine applies at train time and the server over a stored run.

Two tests, either flags a step (GradLoc, Tencent Hunyuan 2026, triggers its search on a grad-norm
threshold; a rolling z-score needs no threshold to be chosen):

- threshold: grad_norm > τ/√tokens. A token-mean loss averages n token gradients, so the norm of
  an ordinary update shrinks like 1/√n; scaling the threshold the same way keeps one τ meaningful
  for steps of any size (equivalently grad_norm·√tokens > τ);
- rolling z-score: (grad_norm − mean)/std over the previous `window` updates ≥ z, once at least
  `min_history` of them exist (a constant history has no z).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Verdict:
    spike: bool
    z: float                 # NaN when there is not enough history
    scaled: float | None     # grad_norm·√tokens (None without a token count)
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SpikeRule:
    threshold: float | None = None   # τ of grad_norm > τ/√tokens; None: z-score only
    z: float = 3.0
    window: int = 20
    min_history: int = 5

    def check(self, history, grad_norm: float, tokens: int | float | None) -> Verdict:
        reasons = []
        scaled = None
        if tokens is not None and tokens > 0 and math.isfinite(grad_norm):
            scaled = grad_norm * math.sqrt(tokens)
            if self.threshold is not None and scaled > self.threshold:
                reasons.append(f"grad_norm {grad_norm:.4g} > τ/√tokens = {self.threshold:.4g}/√{int(tokens)} "
                               f"= {self.threshold / math.sqrt(tokens):.4g}")
        recent = np.asarray([h for h in list(history)[-self.window:] if h is not None and math.isfinite(h)], float)
        z = math.nan
        if len(recent) >= self.min_history and math.isfinite(grad_norm):
            std = float(recent.std())
            if std > 0:
                z = (grad_norm - float(recent.mean())) / std
                if z >= self.z:
                    reasons.append(f"z-score {z:.2f} ≥ {self.z:g} over the previous {len(recent)} updates")
        return Verdict(bool(reasons), z, scaled, tuple(reasons))


def scan(grad_norms, tokens, rule: SpikeRule) -> list[Verdict]:
    """The rule applied along a run, each step judged on the steps before it (as at train time)."""
    verdicts = []
    history: list[float] = []
    for i, value in enumerate(grad_norms):
        count = None if tokens is None else tokens[i]
        value = math.nan if value is None else float(value)
        verdicts.append(rule.check(history, value, count))
        history.append(value)
    return verdicts
