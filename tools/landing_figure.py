"""Draw the book's landing-page figure, ``book/images/landing.png``, with lsl on the toy wedge model.

Two optima of the n-wedge model sit on different wedges. The straight line between them climbs a
wall; the tunnel of Fort & Jastrzebski (Section 4.2) goes around it. Left: the loss on the plane
through both optima and the tunnel's midpoint, with the tunnel drawn on it. Right: the loss along
the straight line and along the tunnel. No network and no data are needed (a few seconds on a CPU).

Run from the repository root after changing the figure::

    python tools/landing_figure.py            # writes book/images/landing.png
    python tools/landing_figure.py out.png    # or somewhere else
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lsl.paths import tunnels
from lsl.probes import planes
from lsl.book import plots
from lsl.toy import WedgeLandscape
from lsl.training.trainer import train
from lsl.settings import TUNNEL_DEFAULTS, TrainSettings

OUT = Path(__file__).resolve().parent.parent / "book" / "images" / "landing.png"


def landing_figure(D: int = 60, n: int = 40, *, seed: int = 0, steps: int = 1500, n_points: int = 21,
                   grid: int = 121) -> Figure:
    """The landing figure: a loss plane through two toy optima and a tunnel's midpoint, and the two paths' losses.

    Args:
        D, n: the toy model (``n``-wedges in ``R^D``).
        seed: seeds the two starting points.
        steps: optimisation steps for the optima and for the tunnel.
        n_points: the tunnel's vertices.
        grid: points per axis of the loss plane.
    """
    toy = WedgeLandscape(D, n, dtype=torch.float64)
    inits = torch.randn(2, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    a, b = train(toy, inits, settings=TrainSettings(steps=steps, lr=0.05, schedule="cosine")).theta
    tun = tunnels.build_tunnel(toy, a, b, n_points=n_points, settings=TUNNEL_DEFAULTS.replace(steps=steps, lr=0.01), per_segment=20)
    mid = tun.points[len(tun.points) // 2]
    plane = planes.loss_plane(toy, a, b, mid, n=grid, margin=0.6)

    plots.use_style()
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=(1.15, 1))
    cs = ax1.contourf(plane.u, plane.v, plane.loss, levels=30, cmap="viridis")
    fig.colorbar(cs, ax=ax1, label="toy loss (distance to the nearest wedge)", shrink=0.9)
    xy = plane.coords(tun.points).numpy()
    ax1.plot(xy[[0, -1], 0], xy[[0, -1], 1], "--", color="w", lw=1.5, label="straight line")
    ax1.plot(xy[:, 0], xy[:, 1], "o-", color=plots.PALETTE["orange"], ms=3.5, lw=2, label="tunnel")
    for (x, y), name in zip(plane.anchors.numpy()[:2], ("A", "B")):
        ax1.plot(x, y, "w*", ms=14, mec="k")
        ax1.annotate(name, (x, y), color="w", fontsize=13, xytext=(6, 6), textcoords="offset points")
    ax1.set(xlabel="$e_1$ (towards B)", ylabel="$e_2$ (towards the tunnel's midpoint)",
            title=f"Two optima of the {n}-wedge model in $D = {D}$")
    ax1.legend(loc="lower right")
    ax1.grid(False)
    ax2.plot(tun.s, tun.line_loss, color="grey", lw=2, label="straight line")
    ax2.plot(tun.s, tun.tunnel_loss, color=plots.PALETTE["orange"], lw=2, label="tunnel")
    ax2.set(xlabel="position along the path (A at 0, B at 1)", ylabel="toy loss",
            title="A wall on the line, a tunnel around it")
    ax2.legend()
    return fig


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    landing_figure().savefig(out, dpi=110)
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main(sys.argv)
