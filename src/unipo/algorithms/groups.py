"""Group statistics over responses that share a prompt (group_ids need not be contiguous)."""
from __future__ import annotations

import torch


class Groups:
    """Index of each response's group, and helpers to reduce per group and broadcast back."""

    def __init__(self, group_ids: torch.Tensor):
        _, self.index, self.counts = torch.unique(group_ids, return_inverse=True, return_counts=True)
        self.num_groups = int(self.counts.numel())

    def size_of_each(self, like: torch.Tensor) -> torch.Tensor:
        return self.counts.to(like.dtype)[self.index]

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Per-response: the sum of its group's values."""
        totals = torch.zeros(self.num_groups, dtype=values.dtype, device=values.device)
        return totals.index_add_(0, self.index, values)[self.index]

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        return self.sum(values) / self.size_of_each(values)

    def std(self, values: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """Unbiased (Bessel-corrected) standard deviation, as TRL's nanstd."""
        sizes = self.size_of_each(values)
        return torch.sqrt(self.sum((values - mean) ** 2) / (sizes - 1))

    def require_at_least_two(self, estimator: str) -> None:
        if self.num_groups and int(self.counts.min()) < 2:
            raise ValueError(
                f"group_ids: advantage estimator '{estimator}' needs at least 2 responses per group; "
                f"{int((self.counts < 2).sum())} group(s) have only 1"
            )


def is_zero_std(std: torch.Tensor) -> torch.Tensor:
    """TRL's test for a zero-variance group (torch.isclose to 0, i.e. std ≤ 1e-8)."""
    return torch.isclose(std, torch.zeros_like(std))


def whiten(values: torch.Tensor, epsilon: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(x − mean)/(std + ε) over the batch (masked tokens when `mask` is given), unbiased std."""
    if mask is None:
        mean = values.mean()
        return (values - mean) / (values.std() + epsilon)
    maskf = mask.to(values.dtype)
    count = maskf.sum()
    mean = (values * maskf).sum() / count.clamp(min=1.0)
    variance = (((values - mean) ** 2) * maskf).sum() / (count - 1).clamp(min=1.0)
    return (values - mean) / (torch.sqrt(variance) + epsilon) * maskf
