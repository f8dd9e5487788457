"""The scale page's reader (lsl.book.scale): distances from the paper's value, the trend's verdict by the criterion
declared in claims.yml, rungs without records, and stale records (lsl.book.ladder.stale)."""

import math

import pytest

from lsl.book import ladder, profiles, scale


def entry(**kw):
    return {"id": "scale-x", "claim": "fj-tunnel-algorithm", "chapter": "book/tunnels",
            "quantity": "path_barrier / line_barrier", "paper": 0, "toward": "value", "shown": "x", **kw}


def rec(path, line, run=None):
    r = {"verdict": "partly", "borderline": False, "quantities": {"path_barrier": path, "line_barrier": line,
                                                                  "optima_loss": 0.1}, "spread": {}}
    return {"fj-tunnel-algorithm": {**r, **({"run": run} if run else {})}}


def test_every_declared_quantity_names_a_claim_of_its_chapter_and_a_known_distance():
    from lsl.book import verdicts

    chapters = {c["id"]: c["chapter"] for c in verdicts.claims()}
    crit = scale.criterion()
    assert set(crit.measures) == {"first", "last"}
    for e in scale.entries():
        assert chapters[e["claim"]] == e["chapter"], e["id"]
        assert e["toward"] in ("log", "value", "at_least", "at_most") and e["id"].startswith("scale-")
        assert math.isnan(scale.distance(e, math.nan))


@pytest.mark.parametrize("toward, value, paper, expected", [
    ("log", 10.0, 1000, 2.0), ("log", 1000.0, 10, 2.0), ("value", 0.3, 0, 0.3), ("at_least", 1.0, "noise", 1.0),
    ("at_least", 5.0, "noise", 0.0), ("at_most", 3.0, "low_loss", 2.0), ("at_most", 0.5, "low_loss", 0.0)])
def test_distances_from_the_papers_value(toward, value, paper, expected):
    assert scale.distance(entry(toward=toward, paper=paper), value) == pytest.approx(expected)


def test_the_trend_needs_two_rungs_above_smoke_and_follows_the_declared_criterion():
    e = entry()
    one = {("smoke", 0, "tunnels"): rec(0.5, 1.0), ("quick", 0, "tunnels"): rec(0.4, 1.0)}
    points = scale.series(e, one, rungs=("smoke", "quick", "medium"))
    assert [p.values for p in points] == [[0.5], [0.4], []]          # medium: not run yet, no crash
    assert scale.trend(e, points) is None
    for medium, verdict in ((0.1, "reproduced"), (0.3, "partly"), (0.6, "not reproduced")):
        recs = {**one, ("medium", 0, "tunnels"): rec(medium, 1.0), ("medium", 1, "tunnels"): rec(medium, 1.0)}
        t = scale.trend(e, scale.series(e, recs, rungs=("smoke", "quick", "medium")))
        assert t.verdict == verdict and t.measured["first"] == pytest.approx(0.4)
    # a seed whose quantity is not finite is left out of its rung, and counted
    recs = {**one, ("medium", 0, "tunnels"): rec(0.1, 0.0)}
    point = scale.series(e, recs, rungs=("medium",))[0]
    assert point.values == [] and point.left_out == [0]


def test_a_record_of_changed_code_or_sizes_is_stale(tmp_path):
    e = entry()
    sizes = ladder._jsonable(dict(profiles.get("medium").chapter("tunnels")))
    run = {"rung": "medium", "seed": 0, "chapter": "tunnels", "sizes": {**sizes, "steps": 1}, "commit": "0" * 40,
           "dirty": False}
    assert ladder.stale(tmp_path, run) is True                       # other sizes than the rung's now
    assert ladder.stale(tmp_path, {**run, "sizes": sizes}) is None   # no git history to ask
    assert ladder.stale(tmp_path, {"chapter": "tunnels"}) is None     # a record of the book build
    point = scale.series(e, {("medium", 0, "tunnels"): rec(0.1, 1.0, {**run, "dirty": True})}, root=tmp_path,
                         rungs=("medium",))[0]
    assert point.stale == [0]
    rows = scale.rung_status({("medium", 0, "tunnels"): rec(0.1, 1.0, {**run, "wall_s": 12.0, "peak_mb": 300.0,
                                                                       "date": "2026-12-08T00:00:00Z"})},
                             ("tunnels", "widths"), rungs=("medium",), root=tmp_path)
    assert rows[0]["seeds"] == "0" and rows[0]["stale"] == "seed 0" and rows[0]["wall"] == "12 s"
    assert rows[1]["seeds"] == "not run yet"
