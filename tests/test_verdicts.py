"""Tests of lsl.book.verdicts: the criteria of claims.yml, the criterion language, and the one verdict rule."""

import math

import numpy as np
import pytest
import yaml

from lsl.book import verdicts
from lsl.book.verdicts import Criterion, Spread, decide

TERMS = {"low_loss": 1.0, "below_wall": 0.5, "trend": 0.8, "noise": 2.0}


def crit(reproduced, partly="", **measures):
    return Criterion("c", measures or {"x": "a quantity"}, reproduced, partly)


# --- the declared claims ---------------------------------------------------------------------------

def test_every_covered_claim_declares_a_valid_criterion():
    covered = [c for c in verdicts.claims() if c["chapter"] not in (None, "none", "")]
    assert len(covered) >= 40
    for c in covered:
        cr = verdicts.criterion(c["id"])
        assert cr.measures and cr.reproduced
        for name, meaning in cr.measures.items():
            assert name.isidentifier() and isinstance(meaning, str) and len(meaning) > 10, (c["id"], name)


def test_every_term_has_a_value_and_a_meaning():
    data = yaml.safe_load(verdicts.CLAIMS_FILE.read_text())
    for name, entry in data["terms"].items():
        assert math.isfinite(float(entry["value"])) and len(entry["meaning"]) > 20, name
    assert set(verdicts.terms()) == set(data["terms"])


def test_a_criterion_naming_an_undeclared_quantity_is_refused(tmp_path):
    path = tmp_path / "claims.yml"
    path.write_text(yaml.safe_dump({"terms": {"t": {"value": 1, "meaning": "m"}}, "claims": [
        {"id": "c", "paper": "fj", "where": "w", "claim": "x", "chapter": "book/x",
         "criterion": {"measures": {"a": "what a is"}, "reproduced": "a > t and b < 1"}}]}))
    with pytest.raises(ValueError, match="uses b"):
        verdicts.criterion("c", path)


def test_an_unknown_claim_lists_the_known_ones():
    with pytest.raises(KeyError, match="fj-fig1-wedges"):
        verdicts.claim("no-such-claim")


@pytest.mark.parametrize("expression", ["__import__('os')", "x.real > 0", "x[0] > 1", "[a for a in x]",
                                        "(lambda: 1)()", "open('f')", "x if x else 1"])
def test_the_criterion_language_refuses_anything_but_arithmetic_and_the_vocabulary(expression):
    with pytest.raises(ValueError):
        verdicts.check_expression(expression, {"x", "a"})


# --- the one rule ------------------------------------------------------------------------------------

def test_reproduced_partly_and_not_reproduced_follow_the_conditions_in_order():
    c = crit("path <= low_loss * optima", "path <= below_wall * line", path="p", optima="o", line="l")
    assert decide(c, dict(path=0.01, optima=0.02, line=1.0), TERMS).verdict == "reproduced"
    assert decide(c, dict(path=0.4, optima=0.02, line=1.0), TERMS).verdict == "partly"
    assert decide(c, dict(path=0.6, optima=0.02, line=1.0), TERMS).verdict == "not reproduced"
    # the bound itself counts as inside
    assert decide(c, dict(path=0.02, optima=0.02, line=1.0), TERMS).verdict == "reproduced"


def test_without_a_partly_condition_a_failed_claim_is_not_reproduced():
    assert decide(crit("x > 1"), {"x": 0.5}, TERMS).verdict == "not reproduced"


def test_missing_extra_and_nonfinite_measures_are_refused_with_the_declared_names():
    c = crit("x > 1 and y > 1", x="x", y="y")
    with pytest.raises(ValueError, match="missing: y"):
        decide(c, {"x": 2}, TERMS)
    with pytest.raises(ValueError, match="not declared: z"):
        decide(c, {"x": 2, "y": 2, "z": 3}, TERMS)
    with pytest.raises(ValueError, match="not a finite number"):
        decide(c, {"x": math.nan, "y": 2}, TERMS)
    with pytest.raises(ValueError, match="non-finite"):
        decide(crit("all(x > 1)"), {"x": [1.0, math.inf]}, TERMS)


def test_a_list_condition_must_be_reduced_explicitly():
    with pytest.raises(ValueError, match="all"):
        decide(crit("x > 1"), {"x": [2, 3]}, TERMS)
    assert decide(crit("all(x > 1)"), {"x": [2, 3]}, TERMS).verdict == "reproduced"
    assert decide(crit("any(x > 2.5)"), {"x": [2, 3]}, TERMS).verdict == "reproduced"


def test_grows_falls_and_fades_mean_what_claims_yml_says():
    assert verdicts.grows([1, 2, 3, 4], 0.8) and not verdicts.grows([1, 3, 2, 0.5], 0.8)
    assert verdicts.falls([4, 3, 2, 1], 0.8) and not verdicts.falls([1, 2, 3], 0.8)
    assert verdicts.fades([1, 3, 2]) and verdicts.fades([1, 3, 3, 2])
    assert not verdicts.fades([1, 2, 3]) and not verdicts.fades([3, 2, 1])
    assert not verdicts.fades([1, 1.05, 1.0], rise=0.1)
    with pytest.raises(ValueError, match="at least 3"):
        verdicts.fades([1, 2])


def test_rank_matches_a_brute_force_spearman_without_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.normal(size=7), rng.normal(size=7)
        rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
        d2 = ((rx - ry) ** 2).sum()
        assert verdicts.rank(x, y) == pytest.approx(1 - 6 * d2 / (7 * (49 - 1)))


def test_a_spread_near_the_threshold_makes_the_verdict_borderline():
    c = crit("x > 1")
    far = decide(c, {"x": Spread([2.0, 2.1, 1.9])}, TERMS)
    assert far.verdict == "reproduced" and not far.borderline
    near = decide(c, {"x": Spread([1.05, 0.9, 1.2])}, TERMS)
    assert near.verdict == "reproduced" and near.borderline and near.sensitive == ("x",)
    assert near.word == "Reproduced (borderline)"
    # one repeat has no spread: never borderline
    assert not decide(c, {"x": Spread([1.01])}, TERMS).borderline


def test_a_spread_over_a_sweep_is_judged_by_its_mean_curve():
    c = crit("grows(w, trend)", w="widths")
    runs = Spread([[1.0, 2.0, 3.0], [1.2, 2.1, 2.9], [0.9, 1.9, 3.2]])
    v = decide(c, {"w": runs}, TERMS)
    assert v.verdict == "reproduced" and v.measured["w"].tolist() == pytest.approx(runs.values.mean(0).tolist())
    assert v.record()["spread"]["w"] == pytest.approx(runs.values.std(0, ddof=1).tolist(), rel=1e-5)


def test_a_spread_with_a_known_sd_is_borderline_when_the_sd_reaches_the_threshold():
    c = crit("x == 1")
    v = decide(c, {"x": Spread.of(14 / 15, 1 / 15)}, TERMS)   # one of 15 sweeps moved by less than the noise
    assert v.verdict == "not reproduced" and v.borderline
    assert not decide(c, {"x": Spread.of(1.0, 0.0)}, TERMS).borderline
    with pytest.raises(ValueError, match="sd >= 0"):
        Spread.of(0.5, -0.1)


def test_a_spread_refuses_nonfinite_and_empty_values():
    with pytest.raises(ValueError):
        Spread([])
    with pytest.raises(ValueError, match="finite"):
        Spread([1.0, math.nan])


def test_values_may_be_tensors():
    torch = pytest.importorskip("torch")
    v = decide(crit("all(x > 0) and y < 1", x="x", y="y"), {"x": torch.tensor([1.0, 2.0]), "y": torch.tensor(0.5)}, TERMS)
    assert v.verdict == "reproduced"
    assert v.record()["measured"] == {"x": [1.0, 2.0], "y": 0.5}
