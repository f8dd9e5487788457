"""Run every chapter under a profile and record its wall time and peak GPU memory.

Meant for a GPU machine and the ``paper`` profile (the papers' datasets and sizes)::

    .venv/bin/python -m benchmarks.paper_profile                     # every book/*.ipynb, LSL_PROFILE=paper
    .venv/bin/python -m benchmarks.paper_profile --profile quick --chapters toy_model   # the mechanics, on a CPU

Each chapter is executed with ``nbclient`` in a fresh kernel (so the peak memory is that
chapter's own), from ``book/`` as its working directory, with ``LSL_PROFILE`` set and progress bars
off. A copy of the notebook gets one extra cell at the end that reports, from inside the kernel,
``torch.cuda.max_memory_allocated()`` and ``max_memory_reserved()`` (when a GPU is in use) and the
kernel's peak resident memory; the chapter files themselves are never changed. By default the
chapters run with a fresh, empty ``LSL_CACHE_DIR``, so that every chapter computes everything it
caches (``--cache-dir`` to reuse a cache instead: times then measure a warm rerun).

Writes ``lsl/book/paper_times.json`` (``lsl.book.runtime.PAPER_TIMES``, where the chapters' set-up
reads measured times, shipped with the package; ``--out`` to write elsewhere): the date, machine, torch version, profile, and per
chapter its wall seconds, status (``ok`` or the error), peak GPU memory and peak resident memory.
The paper datasets must be available (``LSL_DATA_DIR``, see ``lsl.data.datasets``); a chapter that cannot
find them fails and is recorded as such.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

try:
    from . import common
except ImportError:  # run as python benchmarks/paper_profile.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks import common  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
MARKER = "LSL_PAPER_PROFILE "

#: the cell appended to every chapter: measures from inside the kernel
PROBE_CELL = f"""\
import json as _json, resource as _resource, sys as _sys
_out = {{"max_rss_bytes": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss * 1024}}
if "torch" in _sys.modules:
    import torch as _torch
    if _torch.cuda.is_available() and _torch.cuda.is_initialized():
        _out["gpu"] = _torch.cuda.get_device_name()
        _out["peak_gpu_allocated_bytes"] = _torch.cuda.max_memory_allocated()
        _out["peak_gpu_reserved_bytes"] = _torch.cuda.max_memory_reserved()
print({MARKER!r} + _json.dumps(_out))
"""


def run_chapter(path: Path, *, timeout: int, env: dict[str, str]) -> dict:
    """Execute one chapter in a fresh kernel; its wall time, status and the probe cell's measurements."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE_CELL))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    status = "ok"
    t0 = time.perf_counter()
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        status = f"error: {type(exc).__name__}: {lines[-1] if lines else ''}"[:500]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - t0
    row = {"chapter": path.stem, "seconds": round(seconds, 2), "status": status}
    for out in nb.cells[-1].get("outputs", []):
        text = out.get("text", "")
        for line in text.splitlines():
            if line.startswith(MARKER):
                row.update(json.loads(line[len(MARKER):]))
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="paper", help="LSL_PROFILE for every chapter (default: paper)")
    ap.add_argument("--chapters", default="", help="comma-separated chapter names (default: every book/*.ipynb)")
    ap.add_argument("--timeout", type=int, default=6 * 3600, help="seconds allowed per cell")
    ap.add_argument("--cache-dir", default=None, help="LSL_CACHE_DIR to use (default: a fresh empty folder)")
    ap.add_argument("--out", default=None, help="where to write (default: lsl.book.runtime.PAPER_TIMES, read by the book)")
    args = ap.parse_args(argv)

    import torch

    names = [c.strip() for c in args.chapters.split(",") if c.strip()]
    paths = [BOOK / f"{n}.ipynb" for n in names] if names else sorted(BOOK.glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"no such chapter(s): {missing}")
    with tempfile.TemporaryDirectory(prefix="lsl_profile_cache_") as fresh:
        cache_dir = args.cache_dir or fresh
        env = {"LSL_PROFILE": args.profile, "LSL_PROGRESS": "0", "LSL_CACHE_DIR": cache_dir,
               "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        rows = []
        for path in paths:
            print(f"== {path.stem} (LSL_PROFILE={args.profile})", flush=True)
            row = run_chapter(path, timeout=args.timeout, env=env)
            gpu = row.get("peak_gpu_allocated_bytes")
            print(f"   {row['seconds']:.1f} s, {row['status']}"
                  + (f", peak GPU memory {gpu / 2**30:.2f} GiB" if gpu is not None else ""), flush=True)
            rows.append(row)
    result = {
        "date": common.today(),
        "profile": args.profile,
        "machine": common.machine(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cache": "reused: " + args.cache_dir if args.cache_dir else "fresh (every chapter computes what it caches)",
        "total_seconds": round(sum(r["seconds"] for r in rows), 1),
        "chapters": rows,
    }
    if args.out is None:
        from lsl.book import runtime

        out = runtime.PAPER_TIMES
    else:
        out = Path(args.out)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    failed = [r["chapter"] for r in rows if r["status"] != "ok"]
    if failed:
        print(f"chapters that failed: {failed}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
