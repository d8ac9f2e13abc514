"""numpy helpers the built-in relations share (no registration here)."""
from __future__ import annotations

import numpy as np


def surrogate_factor(step) -> np.ndarray:
    """What multiplies a token's trust-region surrogate before it is stored: the token selection
    (already zero on filtered responses) or the response filter, times any per-token weight."""
    selected = step.token("selected")
    factor = step.kept() if selected is None else selected
    weight = step.token("is_weight")
    return factor if weight is None else factor * weight
