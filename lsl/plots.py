"""One house style for the book's figures, and the drawings that several chapters share."""

from __future__ import annotations

from typing import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["use_style", "figure", "wedges_3d", "cosine_matrix", "PALETTE"]

#: Colours used throughout the book (colour-blind safe, Okabe-Ito).
PALETTE = {
    "blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "red": "#D55E00",
    "purple": "#CC79A7", "sky": "#56B4E9", "yellow": "#F0E442", "black": "#000000",
    "lime": "#7CB518", "aqua": "#00B4B4",
}


def use_style() -> None:
    """Apply the book's matplotlib style (sizes, fonts, colour cycle) globally."""
    matplotlib.rcParams.update({
        "figure.dpi": 110,
        "savefig.dpi": 150,
        "figure.figsize": (6.4, 4.0),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "legend.frameon": False,
        "axes.prop_cycle": matplotlib.cycler(color=[PALETTE[k] for k in ("blue", "orange", "green", "red", "purple", "sky")]),
    })


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 4.2, height: float = 3.4, **kwargs):
    """A figure with the book's style and a grid of axes, ``width x height`` inches per panel."""
    use_style()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), layout="constrained", **kwargs)
    return fig, axes


def wedges_3d(ax, *, radius: float = 1.0, thickness: float = 0.06, paths: Sequence[np.ndarray] = (), connector: np.ndarray | None = None):
    """Draw the three axis-aligned 2-wedges of ``R^3`` as thin translucent disks (Figure 1, left, of the paper).

    Args:
        ax: a 3-D axes (``projection="3d"``).
        radius: radius of each disk.
        thickness: drawn thickness of the short direction.
        paths: optimisation paths ``[T, 3]`` to draw on top.
        connector: a low-loss connection ``[K, 3]`` drawn dashed.
    """
    u = np.linspace(0, 2 * np.pi, 60)
    r = np.linspace(0, radius, 12)
    U, R = np.meshgrid(u, r)
    a, b = R * np.cos(U), R * np.sin(U)
    colours = [PALETTE["blue"], PALETTE["orange"], PALETTE["green"]]
    for axis, colour in zip(range(3), colours):
        for off in (-thickness / 2, thickness / 2):
            coords = [None, None, None]
            others = [i for i in range(3) if i != axis]
            coords[others[0]], coords[others[1]] = a, b
            coords[axis] = np.full_like(a, off)
            ax.plot_surface(*coords, color=colour, alpha=0.18, linewidth=0, shade=False)
    for path in paths:
        path = np.asarray(path)
        ax.plot(*path.T, color=PALETTE["black"], lw=1.5)
        ax.scatter(*path[-1], color=PALETTE["black"], s=25)
    if connector is not None:
        connector = np.asarray(connector)
        ax.plot(*connector.T, color=PALETTE["red"], lw=2, ls="--")
    ax.set_xlim(-radius, radius), ax.set_ylim(-radius, radius), ax.set_zlim(-radius, radius)
    ax.set_xlabel("$\\theta_1$"), ax.set_ylabel("$\\theta_2$"), ax.set_zlabel("$\\theta_3$")
    ax.set_box_aspect((1, 1, 1))
    return ax


def cosine_matrix(ax, cos: np.ndarray, t: np.ndarray | None = None, *, title: str = ""):
    """Show a matrix of cosines between deviation vectors, with a colour bar on ``[-1, 1]``."""
    cos = np.asarray(cos)
    extent = None if t is None else (t[0], t[-1], t[-1], t[0])
    im = ax.imshow(cos, vmin=-1, vmax=1, cmap="RdBu_r", extent=extent)
    ax.grid(False)
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label="cosine")
    return im
