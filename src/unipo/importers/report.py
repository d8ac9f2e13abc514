"""The end-of-import report: what was stored, which per-token fields were present, and which views
and what-ifs the missing inputs make unavailable."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from unipo.runs.record import StepRecord

# Stored column -> what cannot be shown without it.
NEEDED_BY = {
    "token_id": "token-level views (a text-only dump: give --tokenizer DIR to tokenise it)",
    "logprob": "ratio, clip and push (g) cards and every what-if recompute",
    "old_logprob": "a real importance ratio (without behaviour log-probs r = 1)",
    "ref_logprob": "KL-to-reference cards",
    "value": "critic / GAE views",
    "entropy": "entropy views and entropy-based what-ifs (80/20, GTPO)",
    "advantage": "per-token advantages as the trainer used them (recomputed from rewards where possible)",
    "reward": "reward and advantage-estimator what-ifs",
}


@dataclass
class ImportReport:
    format: str
    run_path: str = ""
    steps: int = 0
    metrics_only_steps: int = 0
    responses: int = 0
    tokens: int = 0
    fields: set[str] = field(default_factory=set)   # per-token columns with at least one value
    has_reward: bool = False
    recomputed: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def add_step(self, record: StepRecord | None) -> None:
        self.steps += 1
        if record is None:
            self.metrics_only_steps += 1
            return
        mask = np.asarray(record.mask, dtype=bool)
        self.responses += mask.shape[0]
        self.tokens += int(mask.sum())
        if mask.any():
            self.fields.add("token_id")
        if np.isfinite(np.asarray(record.reward, dtype=np.float64)).any():
            self.has_reward = True
        arrays = {"logprob": record.logprob, "old_logprob": record.old_logprob, "ref_logprob": record.ref_logprob,
                  "value": record.value, "return": record.returns, "entropy": record.entropy, **record.terms}
        for name, values in arrays.items():
            if values is not None and name not in self.fields and mask.any():
                if np.isfinite(np.asarray(values, dtype=np.float32)[mask]).any():
                    self.fields.add(name)

    def missing(self) -> dict[str, str]:
        present = self.fields | ({"reward"} if self.has_reward else set())
        if self.responses == 0:
            return {"prompts": "every per-response and per-token view (metrics only: the charts remain)"}
        return {name: why for name, why in NEEDED_BY.items() if name not in present}

    def as_dict(self) -> dict:
        return {"format": self.format, "steps": self.steps, "metrics_only_steps": self.metrics_only_steps,
                "responses": self.responses, "tokens": self.tokens, "per_token_fields": sorted(self.fields),
                "recomputed": sorted(self.recomputed), "unavailable": self.missing(), "notes": list(self.notes)}

    def text(self) -> str:
        lines = [f"imported {self.format} -> {self.run_path}",
                 f"  steps: {self.steps}" + (f" ({self.metrics_only_steps} metrics only)" if self.metrics_only_steps else ""),
                 f"  responses: {self.responses}", f"  tokens: {self.tokens}",
                 f"  per-token fields: {', '.join(sorted(self.fields)) or 'none (response-level run)'}"]
        if self.recomputed:
            lines.append(f"  recomputed terms: {', '.join(sorted(self.recomputed))}")
        missing = self.missing()
        if missing:
            lines.append("  unavailable (input missing):")
            lines.extend(f"    {name}: {why}" for name, why in missing.items())
        if self.notes:
            lines.append("  notes:")
            lines.extend(f"    {note}" for note in self.notes)
        return "\n".join(lines)
