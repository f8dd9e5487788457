"""The scale ladder: the scale-sensitive chapters run at every rung and run seed, their verdicts kept as records.

The book's verdicts come from the ``quick`` profile. Whether a "partly" is the claim failing or the scale
being too small shows only across scales, so the chapters whose claims move with scale
(:data:`CHAPTERS`) are run at each **rung** (a profile: ``smoke``, ``quick``, the CPU rungs ``medium`` and
``large`` of :data:`lsl.book.profiles.RUNGS`, and ``paper`` on a GPU) and each **run seed**
(:mod:`lsl.seeds`: run seed ``k`` shifts every seed a chapter uses, so two run seeds are independent repeats).
Each (rung, seed, chapter) is one **item**: the chapter's notebook executed in a fresh kernel with
``LSL_PROFILE=<rung>`` and ``LSL_SEED=<seed>``, exactly as the book runs it.

**Records.** An item's verdicts are written where the book keeps its committed verdicts,
``book/verdicts/<rung>/<chapter>.json`` for run seed 0 and ``book/verdicts/<rung>/seed<k>/<chapter>.json``
for run seed ``k`` (:func:`record_path`), in the same format (``{claim: record}`` with ``verdict``,
``borderline``, ``quantities``, ``spread``; ``_ext/scorecard.py`` reads them), each record with a ``run``
entry added (:data:`RUN_FIELDS`): the rung, the seed, the chapter's sizes at that rung, the commit (and
whether the code differed from it), the date, the machine, the wall time, the kernel's peak memory and the
engine. Files are written atomically (a temporary file, then a rename), by the process that drives the run.

**Resumable.** An item whose record file exists and says it was made at that rung and seed is skipped
(:func:`done`), so an interrupted ladder run continues where it stopped; ``--force`` remakes records.

**Engines.** Items run one after another in this process (``--engine local``, the default) or, with
``--engine dask``, on a Dask cluster (``--address`` of a running scheduler, or a local cluster of
``--workers`` processes): each item is a task, and the driver writes its records as tasks finish. The
records are the same either way (tested). Dask is the optional extra ``ladder`` (``pip install
".[ladder]"``), not a dependency of ``lsl``.

From the repository's root::

    make records PROFILE=large                 # the large rung, run seeds 0 and 1
    python -m lsl.book.ladder --rungs medium large --seeds 0 1 --chapters tunnels
    python -m lsl.book.ladder --rungs large --engine dask --address tcp://scheduler:8786

A progress bar shows the items done and the time left, estimated from the wall times of the records
already made (:func:`estimate`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import profiles, runtime

__all__ = ["CHAPTERS", "RUN_FIELDS", "Item", "plan", "record_path", "done", "run_item", "estimate", "run",
           "main", "read_records", "commit_of", "stale", "check_record_file", "NOT_COMPUTING"]

#: The chapters whose claims move with scale (the rungs above ``quick`` enlarge these; the others run as in quick).
CHAPTERS = ("hyperplanes", "tunnels", "connectors", "local_geometry", "widths", "ensembles")
#: What the ``run`` entry of a ladder record holds (and ``cpu_s``, the kernel's CPU time, a cost that other jobs on
#: the machine do not inflate as they do the wall time).
RUN_FIELDS = ("rung", "seed", "chapter", "sizes", "commit", "dirty", "date", "machine", "wall_s", "peak_mb",
              "engine")
#: The fields of every committed verdict record (with ``run`` added by the ladder).
RECORD_FIELDS = ("verdict", "borderline", "quantities", "spread")
_PEAK = "LSL_LADDER_PEAK_KB"
_PEAK_CELL = ("try:\n    import resource\n    _u = resource.getrusage(resource.RUSAGE_SELF)\n"
              "    print('" + _PEAK + "', _u.ru_maxrss, _u.ru_utime + _u.ru_stime)\n"
              "except ImportError:\n    pass\n")


@dataclass(frozen=True, order=True)
class Item:
    """One run of the ladder: a chapter at a rung with a run seed."""

    rung: str
    seed: int
    chapter: str


def _root() -> Path:
    return Path(__file__).resolve().parents[2]


def plan(rungs: Sequence[str], seeds: Sequence[int], chapters: Sequence[str] = CHAPTERS) -> list[Item]:
    """Every (rung, seed, chapter), rungs in the order given, then seeds, then chapters.

    Raises:
        ValueError: for an unknown rung, or a chapter the rung has no sizes for.
    """
    items = []
    for rung in rungs:
        profile = profiles.get(rung)
        for seed in seeds:
            for chapter in chapters:
                profile.chapter(chapter)          # KeyError -> ValueError below
                items.append(Item(profile.name, int(seed), chapter))
    return items


def record_path(root: Path, item: Item) -> Path:
    """Where an item's records go: ``book/verdicts/<rung>/<chapter>.json`` (seed 0), ``.../seed<k>/...`` else."""
    folder = Path(root) / "book" / "verdicts" / item.rung
    if item.seed:
        folder = folder / f"seed{item.seed}"
    return folder / f"{item.chapter}.json"


def done(root: Path, item: Item) -> bool:
    """Whether the item's record file exists and was made by the ladder at the item's rung and seed."""
    path = record_path(root, item)
    try:
        records = json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError):
        return False
    runs = [r.get("run") for r in records.values() if isinstance(r, dict)]
    return bool(runs) and all(isinstance(r, dict) and r.get("rung") == item.rung and r.get("seed") == item.seed
                              for r in runs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def commit_of(root: Path) -> tuple[str | None, bool]:
    """The repository's commit and whether ``lsl`` or ``book`` differ from it (``(None, False)`` without git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "lsl", "book"], cwd=root,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None, False
    changed = [line for line in dirty.stdout.splitlines() if "book/verdicts/" not in line]
    return head.stdout.strip(), bool(changed)


#: Files of ``lsl`` that do not change what a chapter computes: the ladder and the scale page's reader (they only
#: write and read records), the book layer's list of its modules, and the sizes table (a record keeps its sizes,
#: compared by :func:`stale` instead).
NOT_COMPUTING = ("lsl/book/ladder.py", "lsl/book/scale.py", "lsl/book/__init__.py", "lsl/book/sizes.py")


def stale(root: Path, run_info: Mapping[str, Any]) -> bool | None:
    """Whether the code that made a record has changed since: ``git diff --quiet <commit> -- lsl book/<chapter>.py``
    (leaving out :data:`NOT_COMPUTING`), or the chapter's sizes at the record's rung are no longer the recorded ones.

    Returns ``None`` when it cannot be told (no commit in the record, no git, or an unknown commit).
    """
    commit, chapter = run_info.get("commit"), run_info.get("chapter")
    if not commit or not chapter:
        return None
    rung = run_info.get("rung")
    if rung in profiles.PROFILES and "sizes" in run_info:
        try:
            if _jsonable(dict(profiles.get(rung).chapter(chapter))) != run_info["sizes"]:
                return True
        except KeyError:
            return True
    excluded = [f":(exclude){path}" for path in NOT_COMPUTING]
    try:
        out = subprocess.run(["git", "diff", "--quiet", commit, "--", "lsl", f"book/{chapter}.py", *excluded],
                             cwd=root, capture_output=True)
    except OSError:
        return None
    return {0: False, 1: True}.get(out.returncode)


def _machine(threads: int | None) -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": threads, "gpu": gpu, "python": platform.python_version(),
            "torch": torch.__version__, "system": platform.system()}


def _records_of(nb) -> tuple[dict[str, dict], float | None, float | None]:
    """The verdict records an executed notebook glued (``lsl.book.report.verdict``), its kernel's peak memory (MB)
    and its kernel's CPU time (s)."""
    import ast

    from .report import VERDICT_PREFIX

    found, peak, cpu = {}, None, None
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = ((out.get("metadata") or {}).get("scrapbook") or {}).get("name", "")
            if name.startswith(VERDICT_PREFIX):
                text = next(v for k, v in out["data"].items() if k.endswith("text/plain"))
                found[name[len(VERDICT_PREFIX):]] = json.loads(ast.literal_eval(text))
            if out.get("output_type") == "stream" and _PEAK in out.get("text", ""):
                kb, *rest = out["text"].split(_PEAK, 1)[1].split()
                peak = round(float(kb) / 1024, 1)
                cpu = round(float(rest[0]), 1) if rest else None
    return found, peak, cpu


def run_item(item: Item, notebook: str, env: Mapping[str, str], *, workdir: str | None = None,
             engine: str = "local", timeout: int = 7200) -> dict:
    """Execute one item: the chapter's notebook (its JSON text) in a fresh kernel with ``env`` added.

    Runs wherever it is called (this process, or a Dask worker): the kernel gets this process's environment
    with ``env`` on top (the rung, the run seed, the cache folder, the thread count), and a last cell that
    reports its peak memory.

    Args:
        item: the rung, run seed and chapter.
        notebook: the chapter's ``.ipynb`` as text (shipped to a remote worker with the task).
        env: environment variables for the kernel (at least ``LSL_PROFILE`` and ``LSL_SEED``).
        workdir: the folder the notebook runs in (its ``book/`` folder; a temporary one if missing here).
        engine: the engine's name, for the record.
        timeout: seconds a cell may take.

    Returns:
        ``{"item": item, "records": {claim: record}, "error": None or the error's text}``; every record has its
        ``run`` entry (:data:`RUN_FIELDS`) except ``commit`` and ``dirty``, which the driver adds.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.reads(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_CELL))
    full_env = {**os.environ, **{k: str(v) for k, v in env.items()}}
    with contextlib.ExitStack() as stack:
        if not workdir or not Path(workdir).is_dir():
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="lsl-ladder-"))
        client = NotebookClient(nb, timeout=timeout, startup_timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": workdir}})
        t0 = time.perf_counter()
        error = None
        try:
            client.execute(env=full_env)
        except Exception as exc:  # a failed chapter is reported, and the ladder goes on with the next item
            error = f"{type(exc).__name__}: {str(exc)[-2000:]}"
        wall = time.perf_counter() - t0
    records, peak, cpu = _records_of(nb)
    sizes = _jsonable(dict(profiles.get(item.rung).chapter(item.chapter)))
    info = {"rung": item.rung, "seed": item.seed, "chapter": item.chapter, "sizes": sizes,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": _machine(int(full_env["OMP_NUM_THREADS"]) if full_env.get("OMP_NUM_THREADS", "").isdigit()
                                else None),
            "wall_s": round(wall, 1), "cpu_s": cpu, "peak_mb": peak, "engine": engine}
    kept = {claim: {**{k: r.get(k) for k in RECORD_FIELDS}, "run": info} for claim, r in records.items()}
    return {"item": item, "records": kept, "error": error}


def _listed(claims_file: Path | None = None) -> dict[str, str]:
    from . import verdicts

    return {c["id"]: str(c.get("chapter") or "") for c in verdicts.claims(claims_file or verdicts.CLAIMS_FILE)}


def _write(path: Path, records: Mapping[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dict(sorted(records.items())), indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                   encoding="utf8")
    tmp.replace(path)


def read_records(root: Path | None = None) -> dict[tuple[str, int, str], dict[str, dict]]:
    """Every committed verdict record under ``book/verdicts``: ``{(rung, seed, chapter): {claim: record}}``."""
    folder = Path(root or _root()) / "book" / "verdicts"
    found = {}
    for path in sorted(folder.rglob("*.json")):
        parts = path.relative_to(folder).parts
        rung = parts[0]
        seed = int(parts[1][4:]) if len(parts) == 3 and parts[1].startswith("seed") else 0
        try:
            found[(rung, seed, path.stem)] = json.loads(path.read_text(encoding="utf8"))
        except ValueError:
            continue
    return found


def check_record_file(path: Path, listed: Mapping[str, str] | None = None) -> list[str]:
    """The problems of one committed record file: its schema, and claim ids that ``claims.yml`` does not list
    for its chapter. An empty list when it is sound."""
    from .verdicts import VERDICTS

    listed = _listed() if listed is None else listed
    problems = []
    try:
        data = json.loads(Path(path).read_text(encoding="utf8"))
    except (OSError, ValueError) as exc:
        return [f"{path}: not readable JSON ({exc})"]
    if not isinstance(data, dict) or not data:
        return [f"{path}: not a non-empty mapping of claims to records"]
    chapter = f"book/{Path(path).stem}"
    for claim, record in data.items():
        where = f"{path}: {claim}"
        if claim not in listed:
            problems.append(f"{where}: not a claim of claims.yml")
        elif listed[claim] != chapter:
            problems.append(f"{where}: claims.yml assigns it to {listed[claim]}, not {chapter}")
        if not isinstance(record, dict):
            problems.append(f"{where}: not a record")
            continue
        missing = [k for k in RECORD_FIELDS if k not in record]
        extra = sorted(set(record) - set(RECORD_FIELDS) - {"run"})
        if missing or extra:
            problems.append(f"{where}: fields missing {missing}, unknown {extra}")
        if record.get("verdict") not in VERDICTS:
            problems.append(f"{where}: verdict {record.get('verdict')!r}")
        if not isinstance(record.get("quantities"), dict) or not isinstance(record.get("spread"), dict):
            problems.append(f"{where}: quantities and spread must be mappings")
        elif set(record["spread"]) - set(record["quantities"]):
            problems.append(f"{where}: a spread for an unmeasured quantity")
        info = record.get("run")
        if info is not None:
            lacking = [k for k in RUN_FIELDS if k not in info]
            if lacking:
                problems.append(f"{where}: its run lacks {lacking}")
            elif info["chapter"] != Path(path).stem or (info["seed"] == 0) != (Path(path).parent.name[:4] != "seed"):
                problems.append(f"{where}: its run (chapter {info['chapter']}, seed {info['seed']}) is not this file's")
    return problems


def estimate(item: Item, previous: Mapping[tuple[str, int, str], Mapping[str, dict]]) -> float:
    """Seconds the item should take: the wall time of a record of the same rung and chapter (any seed) when there
    is one; else that of the nearest lower rung with a record (or the quick profile's measured time,
    :data:`lsl.book.runtime.QUICK_CPU_SECONDS`), times the ratio of :func:`lsl.book.runtime.work` between the
    rungs (a crude measure of the computation: an order of magnitude)."""
    def wall(rung: str) -> float | None:
        times = [r["run"]["wall_s"] for (g, _, c), recs in previous.items() if g == rung and c == item.chapter
                 for r in recs.values() if isinstance(r, dict) and isinstance(r.get("run"), dict)
                 and r["run"].get("wall_s")]
        return max(times) if times else None

    own = wall(item.rung)
    if own is not None:
        return own
    order = list(profiles.LADDER)
    here = order.index(item.rung) if item.rung in order else len(order)
    cfg = profiles.get(item.rung).chapter(item.chapter)
    for lower in reversed(order[:here]):
        base = wall(lower)
        if base is None and lower == "quick":
            base = runtime.QUICK_CPU_SECONDS.get(item.chapter, runtime.QUICK_BUDGET_SECONDS)
        if base is not None:
            return base * runtime.work(cfg) / runtime.work(profiles.get(lower).chapter(item.chapter))
    return runtime.QUICK_BUDGET_SECONDS


def _duration(seconds: float) -> str:
    return runtime._duration(seconds)


def _env_for(item: Item, root: Path, cache: Path, threads: int | None, data_dir: str | None) -> dict[str, str]:
    env = {"LSL_PROFILE": item.rung, "LSL_SEED": str(item.seed), "LSL_PROGRESS": "0", "MPLBACKEND": "Agg",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1",
           "LSL_CACHE_DIR": str(cache / item.rung / f"seed{item.seed}"),
           # the kernel imports this checkout's lsl, also where lsl is not installed
           "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if data_dir:
        env["LSL_DATA_DIR"] = data_dir
    return env


def run(items: Sequence[Item], *, root: Path | None = None, engine: str = "local", address: str | None = None,
        workers: int = 2, threads: int | None = None, force: bool = False, cache: Path | None = None,
        progress: bool = True, runner: Callable[..., dict] | None = None, log: Callable[[str], None] = print) -> dict:
    """Run the items not done yet (:func:`done`) and write their records (see the module docstring).

    Args:
        items: what to run (:func:`plan`).
        root: the repository (default: this checkout).
        engine: ``"local"`` (one item after another in this process) or ``"dask"``.
        address: a Dask scheduler's address (``tcp://host:8786``); without one, a local cluster of ``workers``
            processes with one thread each.
        workers: the local cluster's processes.
        threads: ``OMP_NUM_THREADS`` of each chapter's kernel (default: as this process's environment says).
        force: remake records that exist.
        cache: the folder of each (rung, seed)'s own trained-model cache (default ``_build/ladder_cache``).
        progress: show a progress bar with the time left.
        runner: the function that runs one item (default :func:`run_item`; tests replace it).
        log: where to say what happens.

    Returns:
        ``{"ran": [items], "skipped": [items], "failed": {item: error}, "seconds": wall time}``.
    """
    root = Path(root or _root())
    cache = Path(cache or root / "_build" / "ladder_cache")
    runner = runner or run_item
    previous = read_records(root)
    todo = [it for it in items if force or not done(root, it)]
    skipped = [it for it in items if it not in todo]
    est = {it: estimate(it, previous) for it in todo}
    log(f"ladder: {len(items)} item(s), {len(skipped)} already recorded, {len(todo)} to run "
        f"(about {_duration(sum(est.values()))} by the records' wall times; engine {engine})")
    result = {"ran": [], "skipped": skipped, "failed": {}, "seconds": 0.0}
    if not todo:
        return result
    commit, dirty = commit_of(root)
    if dirty:
        log("ladder: lsl/ or book/ differ from the commit: the records say so (dirty), and count as stale")
    listed = _listed()
    data_dir = None
    with contextlib.ExitStack() as stack:
        if any(it.rung == "smoke" for it in todo) and not os.environ.get("LSL_DATA_DIR"):
            sys.path.insert(0, str(root))
            from tests import fake_datasets      # small files in the paper datasets' formats (the smoke rung)

            data_dir = str(fake_datasets.write_all(Path(stack.enter_context(tempfile.TemporaryDirectory()))))
        bar = _bar(sum(est.values()), len(todo), progress)
        stack.callback(bar.close)
        t0 = time.perf_counter()

        def finish(out: dict) -> None:
            it = out["item"]
            recs = {c: r for c, r in out["records"].items() if listed.get(c) == f"book/{it.chapter}"}
            if out["error"] or not recs:
                result["failed"][it] = out["error"] or "no verdict recorded"
                log(f"ladder: {it.rung} seed {it.seed} {it.chapter} FAILED: {result['failed'][it][-500:]}")
            else:
                for r in recs.values():
                    r["run"].update(commit=commit, dirty=dirty)
                _write(record_path(root, it), recs)
                result["ran"].append(it)
                wall = next(iter(recs.values()))["run"]["wall_s"]
                log(f"ladder: {it.rung} seed {it.seed} {it.chapter}: {len(recs)} verdicts in {wall:.0f} s "
                    f"(estimated {est[it]:.0f} s) -> {record_path(root, it).relative_to(root)}")
            bar.advance(est[it])

        def job(it: Item) -> tuple:
            notebook = (root / "book" / f"{it.chapter}.ipynb").read_text(encoding="utf8")
            return it, notebook, _env_for(it, root, cache, threads, data_dir)

        if engine == "local":
            for it in todo:
                item, notebook, env = job(it)
                finish(runner(item, notebook, env, workdir=str(root / "book"), engine="local"))
        elif engine == "dask":
            from distributed import Client, LocalCluster, as_completed

            if address:
                client = stack.enter_context(Client(address))
            else:
                cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                           dashboard_address=None))
                client = stack.enter_context(Client(cluster))
            futures = [client.submit(runner, *job(it), workdir=str(root / "book"), engine="dask", pure=False)
                       for it in todo]
            for future in as_completed(futures):
                finish(future.result())
        else:
            raise ValueError(f"unknown engine {engine!r}: choose local or dask")
        result["seconds"] = time.perf_counter() - t0
    return result


class _bar:
    """A progress bar over the estimated seconds (tqdm when installed and wanted, else nothing)."""

    def __init__(self, total: float, n: int, show: bool):
        self.tqdm = None
        if show:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self.tqdm = tqdm(total=round(total), unit="s", desc=f"ladder ({n} items, estimated)", dynamic_ncols=True)

    def advance(self, seconds: float) -> None:
        if self.tqdm is not None:
            self.tqdm.update(round(seconds))

    def close(self) -> None:
        if self.tqdm is not None:
            self.tqdm.close()


def main(argv: Iterable[str] | None = None) -> int:
    """The command line (``python -m lsl.book.ladder --help``); returns the exit status (1 if an item failed)."""
    parser = argparse.ArgumentParser(prog="python -m lsl.book.ladder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rungs", nargs="+", default=["smoke", "quick", *profiles.RUNGS],
                        help="profiles to run (default: smoke quick medium large; paper on a GPU)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="run seeds (default: 0 1)")
    parser.add_argument("--chapters", nargs="+", default=list(CHAPTERS), help="chapters (default: the scale-sensitive ones)")
    parser.add_argument("--engine", choices=("local", "dask"), default="local")
    parser.add_argument("--address", default=None, help="a Dask scheduler's address (default: a local cluster)")
    parser.add_argument("--workers", type=int, default=2, help="processes of the local Dask cluster")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of each chapter's kernel")
    parser.add_argument("--force", action="store_true", help="remake records that exist")
    parser.add_argument("--dry-run", action="store_true", help="list the items and their estimated times, run nothing")
    args = parser.parse_args(list(argv) if argv is not None else None)
    items = plan(args.rungs, args.seeds, args.chapters)
    if args.dry_run:
        root = _root()
        previous = read_records(root)
        total = 0.0
        for it in items:
            state = "recorded" if done(root, it) else f"about {_duration(estimate(it, previous))}"
            total += 0.0 if done(root, it) else estimate(it, previous)
            print(f"{it.rung:8s} seed {it.seed}  {it.chapter:16s} {state}")
        print(f"to run: about {_duration(total)}")
        return 0
    out = run(items, engine=args.engine, address=args.address, workers=args.workers, threads=args.threads,
              force=args.force)
    print(f"ladder: ran {len(out['ran'])}, skipped {len(out['skipped'])}, failed {len(out['failed'])} "
          f"in {_duration(out['seconds'])}")
    return 1 if out["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
