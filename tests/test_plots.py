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


def test_loss_plane_clips_marks_and_names_the_anchors():
    import torch

    fig, ax = plots.figure()
    u = v = np.linspace(-1, 1, 5)
    loss = torch.tensor(np.add.outer(v, u) ** 2)                    # a tensor is taken as it comes
    cs = plots.loss_plane(ax, u, v, loss, levels=np.linspace(0, 1, 6), clip=1.0, extend="max",
                          anchors=[[0.0, 0.0], [1.0, 0.0]], names=["A", "B"])
    assert cs.levels.min() == 0 and cs.levels.max() == 1
    stars = [line for line in ax.lines if line.get_marker() == "*"]
    assert len(stars) == 1 and list(stars[0].get_xdata()) == [0.0, 1.0]
    assert [t.get_text() for t in ax.texts] == ["A", "B"]


def test_spectrum_draws_every_eigenvalue_at_its_index_with_a_floor():
    fig, ax = plots.figure()
    (line,) = plots.spectrum(ax, np.array([5.0, 1.0, 0.0, -2.0]), floor=1e-3, label="H")
    assert list(line.get_xdata()) == [1, 2, 3, 4] and list(line.get_ydata()) == [5.0, 1.0, 1e-3, 1e-3]
    assert ax.get_yscale() == "log" and line.get_label() == "H"


def test_path_loss_draws_the_vertices_in_the_lines_colour():
    fig, ax = plots.figure()
    line = plots.path_loss(ax, [0, 0.5, 1], [1.0, 2.0, 1.0], points_t=[0, 1], points_loss=[1.0, 1.0], color="red", label="tunnel")
    dots = ax.lines[1]
    assert line.get_label() == "tunnel" and dots.get_marker() == "o" and dots.get_color() == line.get_color() == "red"
