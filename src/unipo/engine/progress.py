"""A tqdm progress bar fed by the trainer's per-update callback: step, reward, KL, clip fraction, tokens/s."""
from __future__ import annotations

import sys


def _short(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


class ProgressBar:
    def __init__(self, label: str, total: int, enabled: bool = True):
        self.label = label
        self.total = total
        self.enabled = enabled
        self._bar = None

    def start(self, initial: int = 0) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm
        self._bar = tqdm(total=self.total, initial=initial, desc=self.label, unit="upd", file=sys.stderr,
                         dynamic_ncols=True, leave=True)

    def note(self, message: str) -> None:
        """A line about model loading / warm-up, printed above the bar."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(str(message), file=sys.stderr)
        else:
            print(str(message), file=sys.stderr, flush=True)

    def update(self, step: int, total: int, metrics: dict) -> None:
        if self._bar is None:
            return
        self._bar.set_postfix_str(
            f"reward {_short(metrics.get('rollout_reward_mean'), '.3f')} "
            f"kl {_short(metrics.get('kl_mean'), '.4f')} "
            f"clip {_short(metrics.get('clip_fraction_region'), '.3f')} "
            f"tok/s {_short(metrics.get('tokens_per_second'), '.0f')}", refresh=False)
        self._bar.update(step - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
