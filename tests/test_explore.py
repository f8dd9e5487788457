"""Tests for lsl.book.explore: the slider explorers, their callbacks and their static fallback figure."""

from __future__ import annotations

import base64
import sys

import pytest
import torch
from matplotlib.figure import Figure

from lsl.data import datasets, nets
from lsl.paths import tunnels
from lsl.book import explore, report
from lsl.network import NetworkLandscape
from lsl.toy import WedgeLandscape
from lsl.settings import TUNNEL_DEFAULTS

widgets = pytest.importorskip("ipywidgets")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _counting_explorer():
    calls = []

    def draw(fig, *, a, b):
        calls.append((a, b))
        ax = fig.subplots()
        ax.plot([0, 1], [a, b])

    ex = explore.Explorer(draw, [explore.Slider("a", 0, 10, 1, 3), explore.Slider("b", 0.0, 1.0, 0.1, 0.5)],
                          bounds=lambda v: {"b": (0.0, v["a"] / 10)})
    return ex, calls


def test_slider_clamps_and_knows_integers():
    s = explore.Slider("D", 10, 200, 10, 100)
    assert s.integer and s.clamp(500) == 200 and s.clamp(3.4) == 10 and s.clamp(57.6) == 58
    f = explore.Slider("r", 0.0, 3.0, 0.1, 1.0)
    assert not f.integer and f.clamp(5) == 3.0 and f.clamp(1.25, hi=1.0) == 1.0


def test_static_fallback_is_a_png_of_the_default_state():
    ex, calls = _counting_explorer()
    assert ex.values == {"a": 3, "b": 0.3}          # b clamped by the bound a / 10
    png = ex.png()
    assert png.startswith(PNG_MAGIC) and calls == [(3, 0.3)]
    assert ex.png() is png and len(calls) == 1       # drawn once per state
    fig = ex.figure(a=7)
    assert isinstance(fig, Figure) and calls[-1] == (7, 0.3)
    assert ex.values["a"] == 3                       # figure() does not change the state


def test_mimebundle_has_widget_and_png(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    ex, _ = _counting_explorer()
    bundle = ex._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/png", WIDGET_MIME}
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    assert bundle[WIDGET_MIME]["model_id"] == ex.widget.model_id


def test_mimebundle_on_colab_sends_only_the_widget(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    ex, _ = _counting_explorer()
    bundle = ex._repr_mimebundle_()
    assert WIDGET_MIME in bundle and "image/png" not in bundle


def test_mimebundle_without_ipywidgets_is_the_png(monkeypatch):
    ex, _ = _counting_explorer()
    monkeypatch.setitem(sys.modules, "ipywidgets", None)      # import fails
    bundle = ex._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/png"}


def test_slider_callback_redraws_the_image_and_respects_bounds():
    ex, calls = _counting_explorer()
    w = ex.widget
    assert isinstance(w, widgets.VBox)
    sliders = {c.description: c for row in w.children if isinstance(row, widgets.HBox) for c in row.children}
    image = w.children[-1]
    assert isinstance(image, widgets.Image) and bytes(image.value) == ex.png()
    assert sliders["b"].max == pytest.approx(0.3)
    before = bytes(image.value)
    sliders["a"].value = 9                            # what moving the slider does
    assert ex.values["a"] == 9 and calls[-1] == (9, 0.3)
    assert bytes(image.value) != bytes(before) and bytes(image.value).startswith(PNG_MAGIC)
    assert sliders["b"].max == pytest.approx(0.9)      # the dependent range followed
    sliders["b"].value = 0.8
    assert calls[-1] == (9, 0.8)
    ex.set(a=2)                                        # b is clamped to the new bound, the slider follows
    assert ex.values == {"a": 2, "b": 0.2} and sliders["b"].value == pytest.approx(0.2)
    n = len(calls)
    ex.set(a=2)                                        # no change, no redraw
    assert len(calls) == n


def test_wedge_explorer_default_state_and_update():
    model = explore.WedgeModel(steps=150, n_directions=10)
    ex = explore.wedge_explorer(D=40, n=30, d=12, radius=1.0, model=model, max_D=60)
    assert ex.values == {"D": 40, "n": 30, "d": 12, "radius": 1.0}
    assert ex.png().startswith(PNG_MAGIC)
    rel = model.rel_loss(40, 30, [12])
    assert 12 in rel and (40, 30, 12) in model._sweeps
    # moving the probe radius reuses the cached sweep and profile
    cached = dict(model._sweeps)
    ex.set(radius=2.0)
    assert model._sweeps == cached and ex.png().startswith(PNG_MAGIC)
    # n is bounded by D - 1 and d by D when D shrinks
    ex.set(D=20)
    assert ex.values["n"] == 19 and ex.values["d"] == 12
    assert set(model.grid(20, 19)) <= {1, 2}


def test_wedge_model_reproduces_the_cliff():
    model = explore.WedgeModel(n_planes=2, steps=400)
    rel = model.rel_loss(40, 30, [3, 10, 20])
    assert rel[3] > 1e-2 and rel[20] < model.tol          # far below d_lim it stalls, above it succeeds


def _tiny_network():
    ds = datasets.load("gaussian_mixture", n_classes=3, dim=4, n_train=60, n_test=30)
    models = [nets.make("mlp", ds.input_shape, ds.n_classes, width=8, depth=1, seed=s) for s in (0, 1)]
    L = NetworkLandscape(models[0], ds.x_train, ds.y_train, x_test=ds.x_test, y_test=ds.y_test)
    a, b = (L.theta_of(m) for m in models)
    return L, a, b


def test_path_viewer_on_a_network():
    L, a, b = _tiny_network()
    points = tunnels.linear_path(a, b, 5)
    ex = explore.path_viewer(L, points, n_examples=6)
    model = ex.draw.__self__
    torch.testing.assert_close(model.point(0.0), a)
    torch.testing.assert_close(model.point(1.0), b)
    torch.testing.assert_close(model.point(0.5), points[2])
    torch.testing.assert_close(model.point(0.375), 0.5 * (points[1] + points[2]))
    ends = model.at(0.0), model.at(1.0)
    assert ends[0]["agree_a"] == 1.0 and ends[1]["agree_b"] == 1.0
    assert ends[0]["probs"].shape == (6, 3)
    torch.testing.assert_close(ends[0]["probs"].sum(1), torch.ones(6))
    assert ends[0]["loss"] == pytest.approx(float(L.loss(a)), rel=1e-5)
    assert ex.png().startswith(PNG_MAGIC)
    slider = ex.widget.children[1].children[0]
    before = bytes(ex.widget.children[-1].value)
    slider.value = 0.9
    assert ex.values["t"] == pytest.approx(0.9) and bytes(ex.widget.children[-1].value) != before


def test_tunnel_viewer_reuses_the_measured_losses():
    toy = WedgeLandscape(20, 15)
    a, b = torch.randn(2, 20, generator=torch.Generator().manual_seed(0))
    tun = tunnels.build_tunnel(toy, toy.project(a), toy.project(b), n_points=5, settings=TUNNEL_DEFAULTS.replace(steps=20))
    ex = explore.tunnel_viewer(toy, tun, t=0.25)
    model = ex.draw.__self__
    assert not model.has_predictions
    assert torch.equal(model.losses, tun.tunnel_loss.cpu()) and torch.equal(model.line_losses, tun.line_loss.cpu())
    assert model.at(0.25)["loss"] == pytest.approx(float(toy.loss(tun.points[1])), rel=1e-5)
    assert ex.png().startswith(PNG_MAGIC)


def test_path_viewer_rejects_a_single_point():
    L, a, _ = _tiny_network()
    with pytest.raises(ValueError, match="at least two points"):
        explore.path_viewer(L, a[None])


def test_report_figure_displays_an_explorer(monkeypatch):
    shown = []
    monkeypatch.setattr(report, "_myst_glue", lambda: (lambda name, obj, display: shown.append((name, obj))))
    ex, _ = _counting_explorer()
    report.figure("fig-x", ex)
    assert shown == [("fig-x", ex)]
