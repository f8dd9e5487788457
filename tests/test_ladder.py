"""The scale ladder (lsl.book.ladder): committed records are sound, the smallest rung recomputes to its record,
an interrupted run resumes where it stopped, and a Dask cluster of 2 workers makes the same records as this process
(the committed smoke records are made in-process).

The chapter recomputed here is ``permutations`` at the ``smoke`` rung (the cheapest chapter to execute): its
record in ``book/verdicts/smoke`` is compared with a fresh run within :data:`RTOL` (relative) and :data:`ATOL`
(absolute) on every measured quantity, and the verdicts must agree unless one is borderline. (``tests/test_smoke.py``
recomputes every chapter's smoke verdicts as well.)
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import pytest

from lsl.book import ladder
from lsl.book.ladder import Item

ROOT = Path(__file__).resolve().parents[1]
#: How closely a recomputed smoke record must match the committed one (the same code, possibly another CPU).
RTOL, ATOL = 0.05, 1e-6
CHEAP = "permutations"


def test_every_committed_record_is_sound():
    files = sorted((ROOT / "book" / "verdicts").rglob("*.json"))
    assert files, "no committed verdict records"
    problems = [p for f in files for p in ladder.check_record_file(f)]
    assert not problems, "\n".join(problems)


def test_the_schema_check_finds_problems(tmp_path):
    bad = tmp_path / "tunnels.json"
    bad.write_text(json.dumps({"fj-fig1-wall": {"verdict": "maybe", "borderline": False, "quantities": {},
                                                "spread": {"x": 1}},
                               "no-such-claim": {"verdict": "reproduced"}}))
    problems = "\n".join(ladder.check_record_file(bad))
    assert "verdict 'maybe'" in problems and "spread for an unmeasured" in problems
    assert "no-such-claim: not a claim" in problems and "fields missing" in problems


def test_plan_and_paths():
    items = ladder.plan(["smoke", "large"], [0, 1], ["tunnels"])
    assert items == [Item("smoke", 0, "tunnels"), Item("smoke", 1, "tunnels"), Item("large", 0, "tunnels"),
                     Item("large", 1, "tunnels")]
    assert ladder.record_path(ROOT, items[0]) == ROOT / "book/verdicts/smoke/tunnels.json"
    assert ladder.record_path(ROOT, items[3]) == ROOT / "book/verdicts/large/seed1/tunnels.json"
    with pytest.raises(ValueError, match="unknown profile"):
        ladder.plan(["huge"], [0])


def _fake_root(tmp_path: Path, chapters=("tunnels",)) -> Path:
    (tmp_path / "book").mkdir()
    for ch in chapters:
        shutil.copy(ROOT / "book" / f"{ch}.ipynb", tmp_path / "book" / f"{ch}.ipynb")
    return tmp_path


def test_an_interrupted_run_resumes_with_the_items_left(tmp_path):
    root = _fake_root(tmp_path)
    calls, interrupt = [], [True]

    def runner(item, notebook, env, *, workdir, engine):
        calls.append(item)
        if len(calls) == 2 and interrupt and interrupt.pop():       # Ctrl-C while the second item runs, once
            raise KeyboardInterrupt
        assert env["LSL_PROFILE"] == item.rung and env["LSL_SEED"] == str(item.seed)
        run = {"rung": item.rung, "seed": item.seed, "chapter": item.chapter, "sizes": {}, "date": "now",
               "machine": {}, "wall_s": 1.0, "peak_mb": 1.0, "engine": engine}
        return {"item": item, "error": None, "records": {
            "fj-fig1-wall": {"verdict": "reproduced", "borderline": False, "quantities": {"line_barrier": 1.0},
                             "spread": {}, "run": run}}}

    items = ladder.plan(["quick"], [0, 1, 2], ["tunnels"])
    with pytest.raises(KeyboardInterrupt):
        ladder.run(items, root=root, runner=runner, progress=False, log=lambda _: None)
    assert calls == items[:2] and ladder.done(root, items[0]) and not ladder.done(root, items[1])
    assert not list((root / "book" / "verdicts").rglob("*.tmp"))          # the interrupted item left nothing
    calls.clear()
    out = ladder.run(items, root=root, runner=runner, progress=False, log=lambda _: None)
    assert calls == items[1:] and out["skipped"] == items[:1] and out["ran"] == items[1:]
    assert all(ladder.done(root, it) for it in items)
    assert ladder.check_record_file(ladder.record_path(root, items[2])) == []


def _close(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL)
    return a == b


def _same_as_committed(record: dict) -> None:
    """A freshly made smoke record of :data:`CHEAP` against the committed one (made in-process by
    ``make verdicts``): the same claims, the same verdicts unless one is borderline, every quantity within
    :data:`RTOL`/:data:`ATOL`."""
    committed = json.loads((ROOT / "book" / "verdicts" / "smoke" / f"{CHEAP}.json").read_text())
    assert set(record) == set(committed)
    for claim, old in committed.items():
        new = record[claim]
        assert new["verdict"] == old["verdict"] or new["borderline"] or old["borderline"], claim
        for name, value in old["quantities"].items():
            assert _close(new["quantities"][name], value), (claim, name, new["quantities"][name], value)


def test_a_dask_cluster_of_two_workers_recomputes_the_smallest_rung(tmp_path):
    """The smallest rung, recomputed by a local Dask cluster of 2 workers (run seeds 0 and 1 side by side):
    run seed 0 gives the committed in-process record within the tolerance, run seed 1 a record of its own.
    (Without the optional extra the same recomputation runs in this process.)"""
    root = _fake_root(tmp_path, [CHEAP])
    if importlib.util.find_spec("distributed") is None:     # the ladder's engine is the optional extra .[ladder]
        out = ladder.run([Item("smoke", 0, CHEAP)], root=root, threads=1, progress=False, log=lambda _: None)
        assert not out["failed"], out["failed"]
        _same_as_committed(json.loads(ladder.record_path(root, Item("smoke", 0, CHEAP)).read_text()))
        pytest.skip("the Dask engine is the optional extra .[ladder]; recomputed in this process instead")
    items = ladder.plan(["smoke"], [0, 1], [CHEAP])
    out = ladder.run(items, root=root, engine="dask", workers=2, threads=1, progress=False, log=lambda _: None)
    assert not out["failed"], out["failed"]
    assert sorted(out["ran"]) == items
    first = json.loads(ladder.record_path(root, items[0]).read_text())
    _same_as_committed(first)
    assert all(r["run"]["rung"] == "smoke" and r["run"]["seed"] == 0 and r["run"]["wall_s"] > 0
               and r["run"]["engine"] == "dask" for r in first.values())
    second = json.loads(ladder.record_path(root, items[1]).read_text())
    assert all(r["run"]["seed"] == 1 and r["run"]["engine"] == "dask" for r in second.values())
