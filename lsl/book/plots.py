"""One house style for the book's figures, and the drawings that several chapters share."""

from __future__ import annotations

from typing import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["use_style", "figure", "wedges_3d", "cosine_matrix", "loss_plane", "spectrum", "path_loss", "PALETTE", "MAX_COLUMNS"]

#: Colours used throughout the book: Okabe-Ito (colour-blind safe), with a red that reads as red
#: (Paul Tol's) rather than Okabe-Ito's vermillion, which captions would otherwise call orange.
PALETTE = {
    "blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "red": "#CC3311",
    "purple": "#CC79A7", "sky": "#56B4E9", "yellow": "#F0E442", "black": "#000000",
    "lime": "#7CB518", "aqua": "#00B4B4",
}


def use_style() -> None:
    """Apply the book's matplotlib style globally, and high-resolution inline figures in a notebook.

    Text sizes are chosen for the rendered book: a two-panel figure shown at the column's width
    (about 750 px) keeps tick labels near the size of the body's footnotes. In IPython the inline
    backend is switched to ``retina`` PNGs (twice the pixels, shown at the same size), so figures
    stay sharp on high-density screens and when zoomed.
    """
    matplotlib.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 200,
        "figure.figsize": (6.4, 4.0),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "xtick.labelsize": 10,
        "ytick.labelsize": 10,
        "legend.fontsize": 10,
        "legend.frameon": True,
        "legend.framealpha": 0.85,
        "legend.edgecolor": "none",
        "axes.prop_cycle": matplotlib.cycler(color=[PALETTE[k] for k in ("blue", "orange", "green", "red", "purple", "sky")]),
    })
    _retina_inline()


def _retina_inline() -> None:
    """Inline figures as retina PNGs when running under IPython (a no-op elsewhere)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is None:
        return
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    set_matplotlib_formats("retina")


#: The most panels a figure puts side by side; more are wrapped onto further rows.
MAX_COLUMNS = 3


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 4.2, height: float = 3.4, **kwargs):
    """A figure with the book's style and a grid of axes, ``width x height`` inches per panel.

    At most :data:`MAX_COLUMNS` panels stand side by side, so that text stays legible at the book's
    column width. A single row of more panels (``nrows=1, ncols > 3``) is wrapped onto several rows
    (four panels as 2 x 2, five or six as rows of three); the axes are then returned as a flat array
    of ``ncols`` axes in reading order, exactly as for one row, and unused grid cells are removed.

    Args:
        ncols: panels per row (or the number of panels, for one row).
        nrows: rows of panels. With ``nrows > 1``, ``ncols`` must be at most :data:`MAX_COLUMNS`.
        width: width of one panel, in inches.
        height: height of one panel, in inches.
        **kwargs: passed to :func:`matplotlib.pyplot.subplots` (``sharey=True``, ...).

    Returns:
        ``(fig, axes)`` as from :func:`matplotlib.pyplot.subplots`.
    """
    use_style()
    if ncols > MAX_COLUMNS and nrows == 1:
        n = ncols
        cols = 2 if n == 4 else MAX_COLUMNS
        rows = -(-n // cols)
        fig, grid = plt.subplots(rows, cols, figsize=(width * cols, height * rows), layout="constrained", **kwargs)
        flat = np.asarray(grid).ravel()
        for ax in flat[n:]:
            ax.remove()
        return fig, flat[:n]
    if ncols > MAX_COLUMNS:
        raise ValueError(f"{ncols} panels side by side are too small to read in the book; use at most "
                         f"{MAX_COLUMNS} columns (or nrows=1, which wraps them onto rows)")
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


def _array(x) -> np.ndarray:
    """A NumPy array of ``x`` (a tensor on any device, a list or an array)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def loss_plane(ax, u, v, loss, *, levels=30, clip: float | None = None, anchors=None, names: Sequence[str] = (),
               extend: str = "neither", cmap: str = "viridis"):
    """Fill ``ax`` with the contours of a loss on a plane, optionally marking the points that span it.

    Args:
        ax: the axes.
        u, v: the plane's coordinates ``[n]`` (e.g. :attr:`lsl.probes.planes.LossPlane.u`, ``.v``).
        loss: the loss on the grid ``[n, n]``, rows along ``v`` (as the planes of :mod:`lsl.probes.radial` and
            :mod:`lsl.probes.planes` store it).
        levels: the number of contour levels, or the levels themselves.
        clip: draw losses above this value at this value (a high wall would otherwise take every colour).
        anchors: points to mark with white stars ``[k, 2]`` in the plane's coordinates.
        names: a label for each anchor, written beside its star.
        extend: ``contourf``'s ``extend`` (``"max"``, ``"both"``: values beyond the levels keep the end colours).
        cmap: the colour map.

    Returns:
        the contour set (for ``fig.colorbar``).
    """
    loss = _array(loss)
    if clip is not None:
        loss = np.minimum(loss, clip)
    cs = ax.contourf(_array(u), _array(v), loss, levels=levels, cmap=cmap, extend=extend)
    if anchors is not None:
        anchors = _array(anchors)
        ax.plot(anchors[:, 0], anchors[:, 1], "w*", ms=10, ls="none")
        for (x, y), name in zip(anchors.tolist(), names):
            ax.annotate(name, (x, y), color="w", xytext=(4, 4), textcoords="offset points")
    return cs


def spectrum(ax, eigenvalues, *, floor: float = 1e-6, label: str | None = None, fmt: str = "o-", **kwargs):
    """Plot sorted eigenvalues against their index on a log scale (the way the chapters show a Hessian's top).

    Args:
        ax: the axes.
        eigenvalues: the eigenvalues ``[k]``, largest first.
        floor: values below it (zero or negative ones, which a log scale cannot show) are drawn at it.
        label: the legend entry.
        fmt: the line format.
        **kwargs: passed to ``ax.semilogy`` (``ms``, ``lw``, ``color`` ...).

    Returns:
        the drawn lines.
    """
    ev = _array(eigenvalues)
    kwargs = {"ms": 2.5, "lw": 0.8, **kwargs}
    return ax.semilogy(np.arange(1, len(ev) + 1), np.maximum(ev, floor), fmt, label=label, **kwargs)


def path_loss(ax, s, loss, *, points_t=None, points_loss=None, label: str | None = None, color=None, **kwargs):
    """Plot a loss along a path (positions ``s`` in ``[0, 1]``), optionally with the path's vertices as dots.

    Args:
        ax: the axes.
        s, loss: positions along the path and the loss there ``[S]`` (e.g. :attr:`lsl.paths.tunnels.TunnelResult.s`,
            ``.tunnel_loss``).
        points_t, points_loss: the vertices' positions and losses ``[K]``, drawn as dots in the same colour.
        label: the legend entry of the line.
        color: the colour (default: the next of the house style).
        **kwargs: passed to ``ax.plot`` for the line.

    Returns:
        the drawn line.
    """
    (line,) = ax.plot(_array(s), _array(loss), label=label, color=color, **kwargs)
    if points_t is not None:
        ax.plot(_array(points_t), _array(points_loss), "o", ms=3, color=line.get_color())
    return line
