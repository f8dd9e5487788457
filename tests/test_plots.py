"""The book's figure helper keeps at most three panels side by side."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lsl.book import plots  # noqa: E402


@pytest.mark.parametrize("n, rows, cols", [(1, 1, 1), (2, 1, 2), (3, 1, 3), (4, 2, 2), (5, 2, 3), (6, 2, 3), (7, 3, 3)])
def test_one_row_wraps_to_at_most_three_columns(n, rows, cols):
    fig, axes = plots.figure(ncols=n, width=2.0, height=1.5)
    axes = np.atleast_1d(axes)
    assert axes.shape == (n,), "one row of panels comes back as a flat array of n axes"
    assert len(fig.axes) == n, "unused grid cells are removed"
    # The panels' positions: distinct columns per row at most three, rows in reading order.
    fig.canvas.draw()
    x0 = sorted({round(ax.get_position().x0, 3) for ax in axes})
    y0 = sorted({round(ax.get_position().y0, 3) for ax in axes})
    assert (len(y0), len(x0)) == (rows, cols)
    assert np.allclose(fig.get_size_inches(), (2.0 * cols, 1.5 * rows))
    tops = [ax.get_position().y0 for ax in axes]
    assert tops == sorted(tops, reverse=True), "panels are in reading order (top row first)"


def test_grid_wider_than_three_is_refused():
    with pytest.raises(ValueError, match="at most 3 columns"):
        plots.figure(ncols=4, nrows=2)
