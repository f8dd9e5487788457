import pytest
import torch

from lsl.curvature.spectrum import largest_gap, outlier_separation


def test_largest_gap_counts_outliers():
    ev = torch.tensor([9.0, 8.0, 7.5, 0.5, 0.45, 0.4, -0.1])
    assert largest_gap(ev) == 3
    assert outlier_separation(ev, 3) == pytest.approx(15.0)
    assert largest_gap(torch.tensor([5.0, 1.0, 0.9])) == 1


def test_largest_gap_rejects_bad_input():
    with pytest.raises(ValueError, match="descending"):
        largest_gap(torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="two"):
        largest_gap(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="k must be"):
        outlier_separation(torch.tensor([2.0, 1.0]), 2)
