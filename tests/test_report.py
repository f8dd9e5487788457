"""Tests for lsl.report: numbers glued into the prose arrive there exactly as formatted."""

from __future__ import annotations

import pytest

from lsl import report


@pytest.mark.parametrize("text", ["29, 30, 33", "0.397", "12", "1.2e-05", "0.025 to 0.026", "(a)", "True"])
def test_glued_text_survives_myst_nb_plain_text_rendering(text):
    variables = pytest.importorskip("myst_nb.core.variables")
    shown = variables.format_plain_text(repr(report._Text(text)), "")
    assert shown == text


def test_fmt_significant_digits():
    assert report.fmt(0.39712, 3) == "0.397"
    assert report.fmt(7434) == "7434"
