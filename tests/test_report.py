"""Tests for lsl.book.report: numbers glued into the prose arrive there exactly as formatted."""

from __future__ import annotations

import pytest

from lsl.book import report


@pytest.mark.parametrize("text", ["29, 30, 33", "0.397", "12", "1.2e-05", "0.025 to 0.026", "(a)", "True"])
def test_glued_text_survives_myst_nb_plain_text_rendering(text):
    variables = pytest.importorskip("myst_nb.core.variables")
    shown = variables.format_plain_text(repr(report._Text(text)), "")
    assert shown == text


def test_fmt_significant_digits():
    assert report.fmt(0.39712, 3) == "0.397"
    assert report.fmt(7434) == "7434"


@pytest.mark.parametrize("value, digits, text", [
    (0.39999, 2, "0.40"),                 # trailing zeros kept: the precision is part of the number
    (0.4000000059604645, 2, "0.40"),      # a float32 0.4 is a measurement, not a typed 0.4
    (0.05, 3, "0.05"),                    # a typed setting is shown as typed, not as 0.0500
    (1e-3, 3, "0.001"),                   # never 1.00e-03
    (1e-4, 3, "10⁻⁴"),
    (1.23456e-5, 2, "1.2 × 10⁻⁵"),
    (0.0009999, 2, "1.0 × 10⁻³"),
    (27000, 3, "27,000"),
    (123456.7, 3, "123,457"),
    (999.7, 3, "1000"),
    (60.649, 3, "60.6"),
    (-0.25, 2, "-0.25"),
])
def test_fmt_writes_numbers_as_a_reader_does(value, digits, text):
    assert report.fmt(value, digits) == text


def test_fmt_accepts_tensors_and_rejects_bad_digits():
    torch = pytest.importorskip("torch")
    assert report.fmt(torch.tensor(0.39712), 3) == "0.397"
    assert report.fmt(torch.tensor(12)) == "12"
    with pytest.raises(ValueError, match="digits"):
        report.fmt(1.0, 0)


def test_fixed_has_no_negative_zero():
    assert report.fixed(-0.0001, 3) == "0.000"
    assert report.fixed(-0.0004, 3, sign=True) == "0.000"
    assert report.fixed(0.0123, 3, sign=True) == "+0.012"
    assert report.fixed(-0.0123, 2) == "-0.01"


def test_listing_plural_numbers():
    assert report.listing([1, 2, 3]) == "1, 2 and 3"
    assert report.listing(["a"]) == "a"
    assert report.listing([0.5, 0.25], conjunction="or") == "0.5 or 0.25"
    assert report.plural(1, "member") == "1 member"
    assert report.plural(3, "member") == "3 members"
    assert report.plural(2, "matrix", "matrices") == "2 matrices"
    np = pytest.importorskip("numpy")
    assert report.numbers(np.array([0.9509999752044678, -0.00001], dtype=np.float32)) == "[0.951, 0.000]"
    assert report.numbers([[1, 2], [3, 4]]) == "[1, 2, 3, 4]"


def test_glue_and_verdict_return_none_and_the_verdict_is_decided_not_typed(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(report, "_myst_glue", lambda: (lambda name, obj, display: calls.append((name, obj, display))))
    assert report.glue("x", 0.39999, 2) is None
    assert calls[-1][0] == "x" and calls[-1][1].text == "0.40" and calls[-1][2] is False
    # fj-fig1-wall: reproduced if line_barrier >= wall * optima_loss (wall = 10); partly if line_barrier >= optima_loss
    assert report.verdict("fj-fig1-wall", line_barrier=8.0, optima_loss=0.03, shown="barrier 8.0") is None
    names = [c[0] for c in calls]
    assert report.VERDICT_PREFIX + "fj-fig1-wall" in names and "verdict-fj-fig1-wall" in names
    import ast, json
    record = json.loads(ast.literal_eval(repr(calls[names.index(report.VERDICT_PREFIX + "fj-fig1-wall")][1])))
    assert record["verdict"] == "reproduced" and record["measured"] == "barrier 8.0"
    assert record["quantities"] == {"line_barrier": 8.0, "optima_loss": 0.03} and record["borderline"] is False
    assert calls[names.index("verdict-fj-fig1-wall")][1].text == "Reproduced"
    assert calls[names.index("verdict-fj-fig1-wall-lower")][1].text == "reproduced"
    report.verdict("fj-fig1-wall", line_barrier=0.2, optima_loss=0.03)
    assert report.decided("fj-fig1-wall").verdict == "partly"
    report.verdict("fj-fig1-wall", line_barrier=0.01, optima_loss=0.03)
    assert report.decided("fj-fig1-wall").verdict == "not reproduced"
    out = capsys.readouterr().out      # outside a notebook the verdict line is printed, with its criterion
    assert "Verdict (fj-fig1-wall): Not reproduced. Criterion: reproduced if line_barrier >= wall * optima_loss" in out


@pytest.mark.parametrize("claim, measures, match", [
    ("", {}, "non-empty"),
    ("no-such-claim", {"x": 1}, "no claim"),
    ("fj-fig1-wall", {"line_barrier": 1.0}, "missing: optima_loss"),
    ("fj-fig1-wall", {"line_barrier": 1.0, "optima_loss": 0.1, "extra": 2}, "not declared: extra"),
    ("fj-fig1-wall", {"line_barrier": float("nan"), "optima_loss": 0.1}, "finite"),
])
def test_verdict_rejects_bad_input(claim, measures, match):
    with pytest.raises((ValueError, KeyError), match=match):
        report.verdict(claim, **measures)


def test_table_renders_markdown_and_text_and_rejects_ragged_rows():
    t = report.table([dict(name="MLP", ratio=1.23456, note="a|b"), dict(name="CNN", ratio=20, note="")])
    md = t._repr_markdown_().splitlines()
    assert md[0] == "| name | ratio | note |" and md[1] == "| --- | --- | --- |"
    assert md[2] == "| MLP | 1.23 | a\\|b |"        # numbers through fmt, pipes escaped
    assert repr(t).splitlines()[0].split() == ["name", "ratio", "note"]
    # HTML too, which the book's builder prefers (it shows a Markdown table in an output as a paragraph)
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.cells, self.tags = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)

        def handle_data(self, data):
            self.cells.append(data)

    parsed = Cells()
    parsed.feed(report.table([dict(name="<MLP>", ratio=1.23456)])._repr_html_())
    assert parsed.tags[:3] == ["div", "table", "thead"] and parsed.tags.count("th") == 2 and parsed.tags.count("td") == 2
    assert parsed.cells == ["name", "ratio", "<MLP>", "1.23"]      # escaped in the HTML, read back as written
    with pytest.raises(ValueError, match="row 1 has columns"):
        report.table([dict(a=1), dict(b=2)])
    with pytest.raises(ValueError, match="at least one row"):
        report.table([])


def test_spread_writes_mean_and_sample_standard_deviation():
    import numpy as np
    import torch

    assert report.spread([29, 31, 31]) == f"{np.mean([29, 31, 31]):.1f} ± {np.std([29, 31, 31], ddof=1):.1f}" == "30.3 ± 1.2"
    assert report.spread(np.array([1.0, 2.0, 3.0]), 2) == "2.00 ± 1.00"
    assert report.spread(torch.tensor([0.5])) == "0.5"
    with pytest.raises(ValueError, match="at least one"):
        report.spread([])


def test_rank_correlation_is_spearmans_on_data_without_ties():
    import numpy as np
    from scipy.stats import spearmanr

    from lsl.book import report

    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = rng.normal(size=9), rng.normal(size=9)
        assert report.rank_correlation(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert report.rank_correlation([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert report.rank_correlation([1, 2, 3], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="same length"):
        report.rank_correlation([1, 2], [1, 2, 3])
