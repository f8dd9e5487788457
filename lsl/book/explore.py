"""Explorers: figures with sliders, for learning by moving a slider.

An :class:`Explorer` is a drawing function plus a few sliders. Shown in a live
notebook (Jupyter, Colab, VS Code) it is an ``ipywidgets`` panel: the sliders
above an image that is redrawn whenever a slider is released. In the static,
rendered book there is no kernel to redraw anything, so the same object also
carries a PNG of its current state: the book shows that figure (the book's
configuration tells myst-nb to prefer the PNG over the widget in HTML), never
an empty box. Use it like a figure::

    from lsl.book import explore, report
    report.figure("fig-toy-explorer", explore.wedge_explorer())

Two explorers are ready-made:

- :func:`wedge_explorer`: the toy n-wedge model. Sliders for ``D``, ``n``, the
  hyperplane dimension ``d`` and a probe radius; it trains in random ``d``-planes
  (the cliff at ``d = D - n``) and probes random directions from a point near a wedge.
- :func:`path_viewer` / :func:`tunnel_viewer`: a position along a path between two
  optima (a tunnel); it shows the loss along the path with a marker, and for a network
  the predicted class probabilities and labels at that point.

``ipywidgets`` is imported only when a widget is built, so the static figure works
without it.
"""

from __future__ import annotations

import base64
import io
import math
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lsl.paths import tunnels
from lsl.probes import radial
from lsl.subspaces import hyperplanes
from . import plots
from lsl.landscape import Landscape
from lsl.toy import WedgeLandscape
from lsl.settings import SUBSPACE_DEFAULTS

__all__ = ["Slider", "Explorer", "wedge_explorer", "WedgeModel", "path_viewer", "tunnel_viewer", "PathModel"]


@dataclass(frozen=True)
class Slider:
    """One control of an :class:`Explorer`.

    Attributes:
        name: the keyword the value is passed under.
        min, max, step: the range; integers make an integer slider.
        value: the starting value (the state of the static figure).
        description: the label shown next to the slider (default: ``name``).
    """

    name: str
    min: float
    max: float
    step: float
    value: float
    description: str | None = None

    @property
    def integer(self) -> bool:
        """Whether the slider takes integer values."""
        return all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                   for v in (self.min, self.max, self.step, self.value))

    def clamp(self, value: float, lo: float | None = None, hi: float | None = None) -> float:
        """``value`` limited to ``[lo or min, hi or max]`` and rounded to an integer for integer sliders."""
        lo = self.min if lo is None else lo
        hi = self.max if hi is None else hi
        value = min(max(value, lo), hi)
        return int(round(value)) if self.integer else float(value)


class Explorer:
    """A figure that redraws itself when sliders move; a static PNG where nothing can move.

    Args:
        draw: ``draw(fig, **values)`` draws the state ``values`` (one entry per slider) into an
            empty ``matplotlib.figure.Figure``.
        sliders: the controls, in display order.
        figsize: the figure's size in inches.
        bounds: optional ``bounds(values) -> {name: (lo, hi)}``: slider ranges that depend on the
            other sliders (for example ``n < D``); values are clamped to them.
        title: a line shown above the sliders in a live notebook.
        dpi: resolution of the image.

    Attributes:
        values: the current state, a dict ``name -> value``.
    """

    def __init__(self, draw: Callable[..., None], sliders: Sequence[Slider], *, figsize=(9.0, 3.4),
                 bounds: Callable[[dict], dict[str, tuple[float, float]]] | None = None, title: str | None = None,
                 dpi: float = 110):
        self.draw = draw
        self.dpi = dpi
        self.sliders = {s.name: s for s in sliders}
        self.figsize = figsize
        self.bounds = bounds
        self.title = title
        self.values: dict[str, Any] = self._clamped({s.name: s.value for s in sliders})
        self._png: bytes | None = None
        self._widget = None
        self._controls: dict[str, Any] = {}
        self._image = None
        self._syncing = False
        self.redraws = 0

    def _clamped(self, values: dict) -> dict:
        limits = self.bounds(values) if self.bounds else {}
        return {k: self.sliders[k].clamp(v, *limits.get(k, (None, None))) for k, v in values.items()}

    # -- the static side --------------------------------------------------------

    def figure(self, **values) -> Figure:
        """A new figure of the state ``values`` (default: the current state); not shown by pyplot."""
        state = self._clamped({**self.values, **values})
        plots.use_style()
        fig = Figure(figsize=self.figsize, layout="constrained")
        FigureCanvasAgg(fig)
        self.draw(fig, **state)
        return fig

    def png(self) -> bytes:
        """The current state as PNG bytes (drawn once per state)."""
        if self._png is None:
            buf = io.BytesIO()
            self.figure().savefig(buf, format="png", dpi=self.dpi)
            self._png = buf.getvalue()
            self.redraws += 1
        return self._png

    # -- the live side ----------------------------------------------------------

    @property
    def widget(self):
        """The ``ipywidgets`` panel (sliders and image), built on first access."""
        if self._widget is None:
            import ipywidgets as widgets

            for s in self.sliders.values():
                cls = widgets.IntSlider if s.integer else widgets.FloatSlider
                ctrl = cls(value=self.values[s.name], min=s.min, max=s.max, step=s.step,
                           description=s.description or s.name, continuous_update=False,
                           style={"description_width": "initial"}, layout=widgets.Layout(width="320px"))
                ctrl.observe(self._on_change, names="value")
                self._controls[s.name] = ctrl
            self._syncing = True
            try:
                self._sync_bounds()
            finally:
                self._syncing = False
            self._image = widgets.Image(value=self.png(), format="png", layout=widgets.Layout(max_width="100%"))
            rows = [widgets.HBox(list(self._controls.values())[i:i + 2]) for i in range(0, len(self._controls), 2)]
            header = [widgets.HTML(f"<b>{self.title}</b>")] if self.title else []
            self._widget = widgets.VBox(header + rows + [self._image])
        return self._widget

    def _sync_bounds(self) -> None:
        if not self.bounds:
            return
        for name, (lo, hi) in self.bounds(self.values).items():
            ctrl = self._controls.get(name)
            if ctrl is not None:
                if lo > ctrl.max:                 # keep min <= max while moving both
                    ctrl.max, ctrl.min = hi, lo
                else:
                    ctrl.min, ctrl.max = lo, hi

    def _on_change(self, change) -> None:
        if self._syncing:                          # a change made by set() itself
            return
        name = next(k for k, c in self._controls.items() if c is change["owner"])
        self.set(**{name: change["new"]})

    def set(self, **values) -> None:
        """Change the state (as moving sliders would) and redraw the image."""
        new = self._clamped({**self.values, **values})
        if new == self.values and self._png is not None:
            return
        self.values = new
        self._png = None
        if self._controls:
            self._syncing = True
            try:
                self._sync_bounds()
                for name, ctrl in self._controls.items():
                    if ctrl.value != self.values[name]:
                        ctrl.value = self.values[name]
            finally:
                self._syncing = False
        if self._image is not None:
            self._image.value = self.png()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Widget view for live front-ends, PNG of the current state for static ones.

        A notebook front-end with widget support shows the widget; the rendered book (told to
        skip widget views) and front-ends without widgets show the PNG. On Google Colab only
        the widget is sent.
        """
        bundle: dict[str, Any] = {"text/plain": repr(self)}
        colab = "google.colab" in sys.modules
        if not colab:
            bundle["image/png"] = base64.b64encode(self.png()).decode("ascii")
        try:
            view = self.widget._repr_mimebundle_()
        except ImportError:                       # no ipywidgets: the figure only
            view = None
        if view:
            bundle.update({k: v for k, v in view.items() if k != "text/plain"})
        elif colab:
            bundle["image/png"] = base64.b64encode(self.png()).decode("ascii")
        return bundle

    def __repr__(self) -> str:
        state = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return f"<Explorer {self.title or ''} ({state})>"


# ---------------------------------------------------------------------------
# The toy wedge model


class WedgeModel:
    """The computations behind :func:`wedge_explorer`, cached so that a slider move stays fast.

    Args:
        n_planes: random hyperplanes trained per dimension.
        steps, lr: their training (Adam with a cosine schedule, as in the toy chapter).
        tol: a plane succeeds when its final loss is below ``tol`` times its initial loss.
        n_directions: random directions of the radial probe.
        offset: distance of the probe's centre from the nearest wedge (relative to ``sqrt(D)``).
        seed: seeds the starting point, the planes and the directions.
    """

    def __init__(self, *, n_planes: int = 2, steps: int = 500, lr: float = 0.05, tol: float = 1e-3,
                 n_directions: int = 50, offset: float = 0.02, seed: int = 0):
        self.n_planes, self.steps, self.lr, self.tol = n_planes, steps, lr, tol
        self.n_directions, self.offset, self.seed = n_directions, offset, seed
        self._sweeps: dict[tuple[int, int, int], float] = {}
        self._profiles: dict[tuple[int, int], radial.RadialProfile] = {}

    def grid(self, D: int, n: int) -> list[int]:
        """The hyperplane dimensions swept for ``(D, n)``: fractions of ``D - n`` from 0.2 to 2, capped at ``D``."""
        s = D - n
        return sorted({min(D, max(1, round(s * f))) for f in (0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0)})

    def rel_loss(self, D: int, n: int, dims: Sequence[int]) -> dict[int, float]:
        """Median final / initial loss over ``n_planes`` random planes, for every ``d`` in ``dims``."""
        todo = [d for d in dict.fromkeys(int(d) for d in dims) if (D, n, d) not in self._sweeps]
        if todo:
            toy = WedgeLandscape(D, n, device="cpu")      # small and interactive: the CPU, whatever the chapter uses
            theta0 = torch.randn(D, generator=torch.Generator().manual_seed(self.seed + D))
            sw = hyperplanes.dimension_sweep(toy, theta0, todo, n_planes=self.n_planes, settings=SUBSPACE_DEFAULTS.replace(steps=self.steps, lr=self.lr, seed=self.seed + 1), tol=self.tol)
            for d, r in zip(todo, sw.rel_loss.median(1).values.tolist()):
                self._sweeps[D, n, d] = r
        return {int(d): self._sweeps[D, n, int(d)] for d in dims}

    def profile(self, D: int, n: int, r_max: float = 3.0, n_radii: int = 31) -> radial.RadialProfile:
        """Loss along ``n_directions`` random rays from a point near a wedge, radii ``0 .. r_max``."""
        if (D, n) not in self._profiles:
            toy = WedgeLandscape(D, n, device="cpu")      # small and interactive: the CPU, whatever the chapter uses
            g = torch.Generator().manual_seed(self.seed + 2)
            on_wedge = toy.project(torch.randn(D, generator=g))
            centre = on_wedge + self.offset * torch.randn(D, generator=g)
            self._profiles[D, n] = radial.radial_profile(toy, centre, torch.linspace(0, r_max, n_radii),
                                                        n_directions=self.n_directions, seed=self.seed + 3)
        return self._profiles[D, n]

    def draw(self, fig: Figure, *, D: int, n: int, d: int, radius: float) -> None:
        """Left: the hyperplane cliff for ``(D, n)`` with ``d`` marked; right: the radial probe at ``radius``."""
        s = D - n
        grid = self.grid(D, n)
        rel = self.rel_loss(D, n, grid + [d])
        ax1, ax2 = fig.subplots(1, 2)
        xs = np.array(grid)
        ax1.plot(xs, np.log10([rel[g] for g in grid]), "o-", ms=4, color=plots.PALETTE["blue"],
                 label="median over random planes")
        ok = rel[d] < self.tol
        ax1.plot([d], [math.log10(rel[d])], "*", ms=14, color=plots.PALETTE["red"],
                 label=f"d = {d}: {'reaches a wedge' if ok else 'stalls above the wedges'}")
        ax1.axvline(s, color="k", lw=0.8, ls="--")
        ax1.annotate("D - n", (s, 0.95), xycoords=("data", "axes fraction"), xytext=(3, 0),
                     textcoords="offset points", fontsize=9)
        ax1.axhline(math.log10(self.tol), color="grey", lw=0.8)
        ax1.set(xlabel="hyperplane dimension $d$", ylabel="log$_{10}$ final / initial loss",
                title=f"training in random $d$-planes, D={D}, n={n}")
        ax1.legend(loc="lower left")

        prof = self.profile(D, n)
        radii = prof.radii.numpy()
        predicted = np.sqrt(prof.base_loss ** 2 + radii ** 2 * s / D)
        ax2.plot(radii, prof.losses[:30].T.numpy(), color=plots.PALETTE["sky"], lw=0.5, alpha=0.6)
        ax2.plot(radii, predicted, "k--", label="$\\sqrt{L_0^2 + a^2 (D-n)/D}$")
        ax2.axvline(radius, color=plots.PALETTE["red"], lw=1)
        j = int(np.argmin(np.abs(radii - radius)))
        at = prof.losses[:, j]
        spread = float(at.std() / at.mean().clamp_min(1e-12)) if radius > 0 else 0.0
        ax2.set(xlabel="distance $a$ along a random direction", ylabel="toy loss",
                title=f"a = {radii[j]:.1f}: loss {float(at.mean()):.2f}, spread {100 * spread:.1f}%")
        ax2.legend(loc="upper left")


def wedge_explorer(D: int = 100, n: int = 70, d: int = 40, radius: float = 2.0, *, model: WedgeModel | None = None,
                   max_D: int = 200) -> Explorer:
    """An explorer of the n-wedge toy model (Sections 3.2-3.3 of Fort & Jastrzebski).

    Sliders: the dimension ``D``, the wedges' dimension ``n`` (``< D``), the hyperplane dimension
    ``d`` (``<= D``) and a probe radius. Left panel: the final loss of training inside random
    ``d``-dimensional planes, over a grid of ``d`` around ``D - n`` with the chosen ``d`` starred: the
    cliff at ``d = D - n``. Right panel: the loss along random directions from a point near a wedge,
    with the isotropic prediction and the spread across directions at the chosen radius.
    Results are cached per ``(D, n)``, so moving ``d`` or the radius is nearly instant.

    Args:
        D, n, d, radius: the starting state (the state of the static figure).
        model: the computations (default :class:`WedgeModel()`).
        max_D: the largest ``D`` the slider offers.
    """
    model = model or WedgeModel()
    sliders = [
        Slider("D", 10, max_D, 10, D, "D (dimension)"),
        Slider("n", 1, max_D - 1, 1, n, "n (wedge dimension)"),
        Slider("d", 1, max_D, 1, d, "d (hyperplane)"),
        Slider("radius", 0.0, 3.0, 0.1, float(radius), "probe radius a"),
    ]

    def bounds(values: dict) -> dict[str, tuple[float, float]]:
        D_ = int(values["D"])
        return {"n": (1, D_ - 1), "d": (1, D_)}

    return Explorer(model.draw, sliders, bounds=bounds, figsize=(9.5, 3.6),
                    title="The n-wedge model: move D, n, d and the probe radius")


# ---------------------------------------------------------------------------
# A path between two optima


class PathModel:
    """The computations behind :func:`path_viewer`: a polyline through ``points`` and what lies on it.

    Args:
        landscape: the landscape the path lives in.
        points: the path's vertices ``[K, D]`` (a tunnel: from one optimum to the other), at
            positions ``t = 0, 1/(K-1), ..., 1``.
        s, losses: the loss sampled densely along the path (default: computed with
            :func:`lsl.paths.tunnels.path_losses`, ``per_segment`` samples per segment).
        line_losses: the loss at the same positions along the straight line between the ends
            (default: computed likewise).
        n_examples: test examples whose predictions are shown (networks only).
        split: the data split the predictions and accuracies are measured on.
        names: what the two ends are called.
        label: what the path is called in the legend.
    """

    def __init__(self, landscape: Landscape, points: torch.Tensor, *, s: torch.Tensor | None = None,
                 losses: torch.Tensor | None = None, line_losses: torch.Tensor | None = None,
                 per_segment: int = 10, n_examples: int = 12, split: str = "test", names=("A", "B"),
                 label: str = "path"):
        self.landscape = landscape
        self.points = landscape.check_theta(points, "points")
        if self.points.dim() != 2 or self.points.shape[0] < 2:
            raise ValueError("a path needs at least two points [K, D]")
        if losses is None:
            s, losses = tunnels.path_losses(landscape, self.points, per_segment)
        if line_losses is None:
            line = tunnels.linear_path(self.points[0], self.points[-1], self.points.shape[0])
            _, line_losses = tunnels.path_losses(landscape, line, per_segment)
        if s is None:
            s = torch.linspace(0, 1, len(losses))
        self.s, self.losses, self.line_losses = s.cpu(), losses.detach().cpu(), line_losses.detach().cpu()
        self.names = names
        self.label = label
        self.split = split
        self.has_predictions = hasattr(landscape, "logits") and hasattr(landscape, "split")
        if self.has_predictions:
            x, y = landscape.split(split)
            self.x_show, self.y_show = x[:n_examples], y[:n_examples].cpu()
            with torch.no_grad():
                ends = landscape.predict(self.points[[0, -1]], split)
            self.labels_a, self.labels_b, self.y = ends[0], ends[1], y

    def point(self, t: float) -> torch.Tensor:
        """The point at position ``t`` in ``[0, 1]`` along the path (linear between vertices)."""
        K = self.points.shape[0]
        u = min(max(float(t), 0.0), 1.0) * (K - 1)
        i = min(int(math.floor(u)), K - 2)
        w = u - i
        return (1 - w) * self.points[i] + w * self.points[i + 1]

    def at(self, t: float) -> dict[str, Any]:
        """What the viewer shows at ``t``: the loss, and for networks accuracy, agreement and probabilities."""
        theta = self.point(t)
        out: dict[str, Any] = {"t": float(t), "loss": float(self.landscape.loss(theta))}
        if self.has_predictions:
            with torch.no_grad():
                labels = self.landscape.predict(theta, self.split)
                probs = torch.softmax(self.landscape.logits(theta, self.x_show), -1).cpu()
            out.update(accuracy=float((labels == self.y).float().mean()),
                       agree_a=float((labels == self.labels_a).float().mean()),
                       agree_b=float((labels == self.labels_b).float().mean()),
                       probs=probs)
        return out

    def draw(self, fig: Figure, *, t: float) -> None:
        """Left: loss along the path and the straight line, with ``t`` marked; right: predictions at ``t``."""
        here = self.at(t)
        if self.has_predictions:
            ax1, ax2 = fig.subplots(1, 2, width_ratios=(1.3, 1))
        else:
            ax1, ax2 = fig.subplots(1, 1), None
        ax1.plot(self.s, self.line_losses, color="grey", label="straight line")
        ax1.plot(self.s, self.losses, color=plots.PALETTE["orange"], label=self.label)
        ax1.axvline(t, color=plots.PALETTE["red"], lw=1)
        ax1.plot([t], [here["loss"]], "o", color=plots.PALETTE["red"], ms=7)
        a, b = self.names
        ax1.set(xlabel=f"position along the path ({a} at 0, {b} at 1)", ylabel="training loss",
                title=f"t = {t:.2f}: loss {here['loss']:.3f}")
        ax1.legend(loc="upper right")
        if ax2 is not None:
            probs = here["probs"].numpy()
            ax2.imshow(probs, aspect="auto", cmap="Blues", vmin=0, vmax=1)
            rows = np.arange(len(probs))
            ax2.plot(self.y_show.numpy(), rows, "o", mfc="none", mec=plots.PALETTE["red"], ms=9, label="true label")
            ax2.plot(probs.argmax(1), rows, "x", color="k", ms=6, label="predicted")
            ax2.set(xlabel="class", ylabel="test example", xticks=range(probs.shape[1]), yticks=rows,
                    title=f"accuracy {100 * here['accuracy']:.1f}%; same label as {a} {100 * here['agree_a']:.0f}%,"
                          f" as {b} {100 * here['agree_b']:.0f}%")
            ax2.title.set_fontsize(9)
            ax2.grid(False)
            ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)


def path_viewer(landscape: Landscape, points: torch.Tensor, *, t: float = 0.5, **options) -> Explorer:
    """An explorer of a path between two optima: a slider for the position ``t`` along it.

    Shows the loss along the path and along the straight line with the position marked, and for a
    network the predicted class probabilities of a few test examples at that point (circles: true
    labels, crosses: predictions), its test accuracy and how many test labels agree with each end.

    Args:
        landscape: the landscape.
        points: the path's vertices ``[K, D]``.
        t: the starting position (the state of the static figure).
        **options: see :class:`PathModel`.
    """
    model = PathModel(landscape, points, **options)
    figsize = (10.0, 3.8) if model.has_predictions else (6.0, 3.6)
    return Explorer(model.draw, [Slider("t", 0.0, 1.0, 0.01, float(t), "position t")], figsize=figsize,
                    title="Walk along the path: loss and predictions")


def tunnel_viewer(landscape: Landscape, tunnel: tunnels.TunnelResult, *, t: float = 0.5, **options) -> Explorer:
    """:func:`path_viewer` on a :class:`~lsl.paths.tunnels.TunnelResult`, reusing its measured losses."""
    options.setdefault("label", "tunnel")
    return path_viewer(landscape, tunnel.points, t=t, s=tunnel.s, losses=tunnel.tunnel_loss,
                       line_losses=tunnel.line_loss, **options)
