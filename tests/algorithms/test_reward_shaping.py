"""DAPO soft overlong punishment, checked by hand."""
import pytest
import torch

from unipo.algorithms import soft_overlong_penalty


def test_soft_overlong_penalty_follows_dapo():
    # L_max = 20, L_cache = 4: free up to 16, linear to -1 at 20.
    lengths = torch.tensor([10, 16, 17, 18, 20, 21])
    expected = torch.tensor([0.0, 0.0, -0.25, -0.5, -1.0, -1.0])
    assert torch.allclose(soft_overlong_penalty(lengths, 20, 4), expected)
    assert torch.allclose(soft_overlong_penalty(lengths, 20, 4, factor=0.5), expected * 0.5)
    with pytest.raises(ValueError):
        soft_overlong_penalty(lengths, 20, 0)
