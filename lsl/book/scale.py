"""How the scale-sensitive quantities move across the rungs of the scale ladder, read from the committed records.

The ladder (:mod:`lsl.book.ladder`) keeps a verdict record per (rung, run seed, chapter) in ``book/verdicts``.
``lsl/book/claims.yml`` declares under ``scale:`` (before any rung above ``quick`` was run) which quantity of
which claim's record to follow (:func:`entries`), the paper's value, how the distance from it is measured
(:func:`distance`), and one criterion for the trend (:func:`criterion`). This module only reads records: the
page ``book/scale`` draws what :func:`series` returns and states :func:`trend`'s verdicts; nothing here runs a
chapter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import profiles, verdicts

__all__ = ["Point", "entries", "criterion", "scale_terms", "distance", "quantity", "series", "trend",
           "parameter_count", "rung_status"]


@dataclass
class Point:
    """One rung of one quantity: its values over run seeds, and where they come from.

    Attributes:
        rung: the profile.
        values: the quantity at each run seed with a finite value (in the order of ``seeds``).
        seeds: the run seeds of ``values``.
        left_out: run seeds whose record gave no finite value.
        commits: the commits the records were made at (``None`` for a record written by the book build).
        dates: the records' dates.
        stale: run seeds whose record's code has changed since (or was made from uncommitted code).
        D: the parameter count of the chapter's network at this rung (``None`` where it cannot be told here).
    """

    rung: str
    values: list = field(default_factory=list)
    seeds: list = field(default_factory=list)
    left_out: list = field(default_factory=list)
    commits: list = field(default_factory=list)
    dates: list = field(default_factory=list)
    stale: list = field(default_factory=list)
    D: int | None = None

    @property
    def mean(self) -> float:
        """The mean over run seeds (NaN without values)."""
        return sum(self.values) / len(self.values) if self.values else math.nan

    @property
    def sd(self) -> float:
        """The standard deviation over run seeds (0 for one value, NaN without values)."""
        n = len(self.values)
        if n < 2:
            return 0.0 if n else math.nan
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (n - 1))


def _scale_block(path: Path | str = verdicts.CLAIMS_FILE) -> dict:
    block = verdicts._load(str(path)).get("scale")
    if not isinstance(block, dict) or not block.get("quantities"):
        raise ValueError(f"{path} has no 'scale:' block with quantities")
    return block


def entries(path: Path | str = verdicts.CLAIMS_FILE) -> list[dict]:
    """The scale-sensitive quantities declared under ``scale: quantities:`` in ``claims.yml``."""
    return list(_scale_block(path)["quantities"])


def scale_terms(path: Path | str = verdicts.CLAIMS_FILE) -> dict[str, float]:
    """The shared terms of ``claims.yml`` and those of its ``scale:`` block."""
    out = verdicts.terms(path)
    out.update({k: float(v["value"]) for k, v in (_scale_block(path).get("terms") or {}).items()})
    return out


def criterion(path: Path | str = verdicts.CLAIMS_FILE) -> verdicts.Criterion:
    """The trend's criterion (``scale: criterion:``), checked like a claim's."""
    spec = _scale_block(path)["criterion"]
    crit = verdicts.Criterion("scale", dict(spec["measures"]), str(spec["reproduced"]), str(spec.get("partly") or ""))
    allowed = set(crit.measures) | set(scale_terms(path))
    for expression in (crit.reproduced, crit.partly):
        if expression:
            verdicts.check_expression(expression, allowed)
    return crit


def _paper(entry: Mapping[str, Any], terms: Mapping[str, float]) -> float:
    value = entry["paper"]
    return float(terms[value]) if isinstance(value, str) else float(value)


def quantity(entry: Mapping[str, Any], record: Mapping[str, Any]) -> float:
    """The entry's quantity (its ``quantity`` expression) from one verdict record; NaN if not finite."""
    names = dict(verdicts.terms())
    names.update(record.get("quantities") or {})
    names.update({f"sd_{k}": v for k, v in (record.get("spread") or {}).items()})
    try:
        value = float(verdicts._evaluate(verdicts._parse(entry["quantity"]), names))
    except (ZeroDivisionError, KeyError, TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def distance(entry: Mapping[str, Any], value: float, terms: Mapping[str, float] | None = None) -> float:
    """How far ``value`` is from the paper's, as the entry's ``toward`` says (see ``claims.yml``): ``log``
    (``abs(log10(value / paper))``), ``value`` (``abs(value - paper)``), ``at_least`` (``max(0, paper - value)``)
    or ``at_most`` (``max(0, value - paper)``). NaN for a value that has no distance (e.g. a non-positive value
    on a log scale)."""
    paper = _paper(entry, scale_terms() if terms is None else terms)
    how = entry["toward"]
    if not math.isfinite(value):
        return math.nan
    if how == "log":
        return abs(math.log10(value / paper)) if value > 0 and paper > 0 else math.nan
    if how == "value":
        return abs(value - paper)
    if how == "at_least":
        return max(0.0, paper - value)
    if how == "at_most":
        return max(0.0, value - paper)
    raise ValueError(f"scale entry {entry.get('id')!r}: toward must be log, value, at_least or at_most, not {how!r}")


def parameter_count(chapter: str, rung: str) -> int | None:
    """D of the chapter's (first) network at a rung on mnist1d (``None`` for another data set or architecture)."""
    from lsl.data import nets

    cfg = profiles.get(rung).chapter(chapter)
    if cfg.get("dataset") != "mnist1d":
        return None
    if chapter == "local_geometry":
        return None                       # its scale-sensitive quantity is measured on Gaussian mixtures
    arch, options = (cfg["nets"][0][1], dict(cfg["nets"][0][2])) if "nets" in cfg else (cfg["arch"], dict(cfg["net"]))
    try:
        model = nets.make(arch, (40,), 10, seed=0, **options)
    except (TypeError, ValueError):
        return None
    return sum(p.numel() for p in model.parameters())


def series(entry: Mapping[str, Any], records: Mapping[tuple[str, int, str], Mapping[str, dict]],
           root: Path | None = None, rungs: tuple[str, ...] = profiles.LADDER) -> list[Point]:
    """The entry's quantity at each rung (in ``rungs``' order) over run seeds, from ``records``
    (:func:`lsl.book.ladder.read_records`); a rung without records has no values ("not run yet")."""
    from . import ladder

    chapter = entry["chapter"].split("/")[-1]
    out = []
    for rung in rungs:
        point = Point(rung, D=parameter_count(chapter, rung) if rung in profiles.PROFILES else None)
        for (g, seed, ch), recs in sorted(records.items()):
            if g != rung or ch != chapter or entry["claim"] not in recs:
                continue
            record = recs[entry["claim"]]
            value = quantity(entry, record)
            run = record.get("run") or {}
            if math.isfinite(value):
                point.values.append(value)
                point.seeds.append(seed)
            else:
                point.left_out.append(seed)
            point.commits.append(run.get("commit"))
            point.dates.append(run.get("date"))
            if run and (run.get("dirty") or ladder.stale(Path(root or ladder._root()), run)):
                point.stale.append(seed)
        out.append(point)
    return out


def trend(entry: Mapping[str, Any], points: list[Point]) -> verdicts.Verdict | None:
    """The trend's verdict by the declared criterion, from the distances at the smallest rung above ``smoke``
    with values (``first``) and at the largest (``last``), each a Spread over run seeds; ``None`` with fewer than
    two such rungs (not run yet)."""
    terms = scale_terms()
    usable = []
    for p in points:
        if p.rung == "smoke":
            continue
        d = [distance(entry, v, terms) for v in p.values]
        d = [x for x in d if math.isfinite(x)]
        if d:
            usable.append(d)
    if len(usable) < 2:
        return None
    return verdicts.decide(criterion(), {"first": verdicts.Spread(usable[0]), "last": verdicts.Spread(usable[-1])},
                           terms)


def rung_status(records: Mapping[tuple[str, int, str], Mapping[str, dict]], chapters: tuple[str, ...],
                rungs: tuple[str, ...] = profiles.LADDER, root: Path | None = None) -> list[dict]:
    """One row per rung and chapter: its recorded run seeds, commit, date, wall time, peak memory and staleness,
    or "not run yet"."""
    from . import ladder

    rows = []
    for rung in rungs:
        for chapter in chapters:
            found = {seed: recs for (g, seed, ch), recs in records.items() if g == rung and ch == chapter}
            if not found:
                rows.append({"rung": rung, "chapter": chapter, "seeds": "not run yet", "commit": "", "date": "",
                             "wall": "", "peak": "", "stale": ""})
                continue
            runs = {seed: next((r.get("run") for r in recs.values() if isinstance(r, dict) and r.get("run")), None)
                    for seed, recs in found.items()}
            made = [r for r in runs.values() if r]
            stale = [s for s, r in runs.items() if r and (r.get("dirty") or ladder.stale(Path(root or ladder._root()), r))]
            rows.append({
                "rung": rung, "chapter": chapter, "seeds": ", ".join(str(s) for s in sorted(found)),
                "commit": ", ".join(sorted({str(r.get("commit") or "")[:7] for r in made})) or "the book build",
                "date": max((str(r.get("date") or "")[:10] for r in made), default=""),
                "wall": " / ".join(f"{r['wall_s']:.0f} s" for r in made if r.get("wall_s")),
                "peak": " / ".join(f"{r['peak_mb']:.0f} MB" for r in made if r.get("peak_mb")),
                "stale": ", ".join(f"seed {s}" for s in sorted(stale)) or "no"})
    return rows
