"""tools/landing_figure.py, which draws the landing page's figure, still runs (at a tiny size)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent.parent


def test_landing_figure_draws_and_the_committed_image_exists(tmp_path):
    spec = importlib.util.spec_from_file_location("landing_figure", ROOT / "tools" / "landing_figure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fig = module.landing_figure(D=12, n=8, steps=60, n_points=5, grid=11)
    assert isinstance(fig, Figure) and len(fig.axes) >= 2
    out = tmp_path / "landing.png"
    fig.savefig(out)
    assert out.read_bytes().startswith(b"\x89PNG")
    assert module.OUT == ROOT / "book" / "images" / "landing.png" and module.OUT.is_file()
    assert "images/landing.png" in (ROOT / "book" / "intro.md").read_text()
