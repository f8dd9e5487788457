"""Preparing a chapter to run: device, profile and figure style in one call.

Every chapter's first code cell is the same, apart from the chapter's name::

    import sys, subprocess
    if "google.colab" in sys.modules:  # a fresh Colab runtime: install this book's lsl from its repository
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "<this book's lsl>"], check=True)
    import lsl
    P, cfg, device = lsl.book.setup("toy_model")

The install line must run before ``lsl`` can be imported, so it stays in the
cell; everything else is :func:`setup`, which

- picks the **device**: ``LSL_DEVICE`` if set, else the GPU when there is one, else the CPU;
- picks the **profile**: ``LSL_PROFILE`` if set, else ``quick``, on a GPU too. ``paper`` (the
  papers' datasets and sizes, hours of computation) runs only when asked for with
  ``LSL_PROFILE=paper``; ``smoke`` is the paper profile shrunk for the tests. The environment is
  read once, here: what comes later (``P.check_at_scale``, the verdicts' records) asks the returned
  profile, or :func:`active`, never the environment again;
- on Google Colab in the ``paper`` profile, downloads the chapter's datasets if they are missing
  (:func:`lsl.data.datasets.download`; Colab ships torchvision);
- sets the **run seed** (:mod:`lsl.seeds`): ``seed=`` if given, else ``LSL_SEED`` if set, else 0. Run seed
  ``k`` shifts every seed the chapter uses by ``k`` times :data:`lsl.seeds.STRIDE`, so two run seeds are
  independent repeats of the chapter (the scale ladder, :mod:`lsl.book.ladder`, runs each rung twice);
  run seed 0 is the chapter as written;
- applies the book's figure style and prints one line saying what it chose: in ``quick``, how to
  switch to ``paper``; in ``paper``, the chapter's expected run time on this device
  (:func:`expected_time`: measured if a run on a GPU was recorded, else an estimate, labelled so).

The environment variables always win, so ``make book`` (which sets ``LSL_PROFILE=quick``)
and a reader who sets ``os.environ["LSL_PROFILE"] = "paper"`` before the cell get exactly
what they asked for.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping, NamedTuple

import torch

from . import profiles, sizes, smoke

__all__ = ["Runtime", "setup", "active", "choose_profile", "run_seed", "on_colab", "has_network", "paper_datasets", "expected_time",
           "work", "SWITCH_HINT"]

#: Hosts tried (in order) to decide whether the machine has network access.
NETWORK_PROBES: tuple[tuple[str, int], ...] = (("pypi.org", 443), ("github.com", 443))


class Runtime(NamedTuple):
    """What :func:`setup` chose; unpacks as ``P, cfg, device = setup(...)``.

    ``profile`` is the active :class:`~lsl.book.profiles.Profile`, ``cfg`` the chapter's settings in it
    (a :class:`~lsl.book.profiles.ChapterConfig`), ``device`` the ``torch.device`` the chapter computes on.
    """

    profile: profiles.Profile
    cfg: profiles.ChapterConfig
    device: torch.device


def on_colab() -> bool:
    """Whether this kernel runs on Google Colab (Colab imports ``google.colab`` at start-up)."""
    return "google.colab" in sys.modules


def has_network(timeout: float = 2.0, probes: tuple[tuple[str, int], ...] = NETWORK_PROBES) -> bool:
    """Whether a TCP connection to one of ``probes`` (host, port) succeeds within ``timeout`` seconds."""
    for host, port in probes:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            continue
    return False


def choose_profile(env: Mapping[str, str]) -> tuple[str, str]:
    """The profile to use and why, as ``(name, reason)``.

    Args:
        env: the environment (``os.environ``); a non-empty ``LSL_PROFILE`` wins.

    Returns:
        ``LSL_PROFILE``'s profile (validated by :func:`lsl.book.profiles.get`) if it is set, else
        ``("quick", "the default")``, whatever the device: ``paper`` only when asked for.
    """
    wanted = env.get("LSL_PROFILE", "").strip()
    if wanted:
        return profiles.get(wanted).name, "set by LSL_PROFILE"
    return "quick", "the default"


#: The sentence the set-up line ends with in the ``quick`` profile.
SWITCH_HINT = ('for the papers\' datasets and sizes (hours, on a GPU) run os.environ["LSL_PROFILE"] = "paper" '
               "before this cell")

#: Measured paper-profile run times: written here by ``python -m benchmarks.paper_profile`` (its default
#: output) on a GPU, and shipped with the package, so that an installed book finds them too.
PAPER_TIMES = Path(__file__).resolve().parent / "paper_times.json"

#: Wall seconds of each chapter in the ``quick`` profile on 2 CPU cores (AMD EPYC, torch 2.13, a fresh
#: cache), measured with ``tests/nbval_cache`` under ``make test`` from a fresh clone on 2026-12-02
#: (hyperplanes, tunnels and connectors: each run on its own, nothing cached, on 2026-12-03; the guide
#: page own_network executed by nbclient on 2026-12-07, nothing cached, beside another job on the two
#: cores; dynamics: the CPU seconds of its nbclient run on one thread, nothing cached, on 2026-12-07, beside
#: other jobs); the base of :func:`expected_time`'s estimate. A chapter not listed is assumed to take the quick profile's
#: budget, 120 s.
QUICK_CPU_SECONDS: Mapping[str, float] = MappingProxyType({
    "toy_model": 19.0, "hyperplanes": 112.0, "tunnels": 81.0, "connectors": 107.0, "widths": 105.0, "ensembles": 80.0,
    "local_geometry": 73.0, "permutations": 15.0, "own_network": 86.0, "dynamics": 41.0})
QUICK_BUDGET_SECONDS = 120.0

#: Assumed speed of one GPU relative to 2 CPU cores for these networks (an assumption, not a
#: measurement: replaced by measured times as soon as :data:`PAPER_TIMES` holds a GPU run).
ASSUMED_GPU_SPEEDUP = 20.0

#: Numbers per example of each dataset, for :func:`work`.
INPUT_SIZE: Mapping[str, int] = {"mnist1d": 40, "digits": 64, "mnist": 784, "fashion_mnist": 784,
                                 "cifar10": 3072, "cifar100": 3072}


def _ints(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], int]]:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _ints(v, path + (str(k),))
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _ints(v, path)


def work(cfg: Mapping[str, Any], rules: Mapping[str, Any] | None = None) -> float:
    """A rough measure of a chapter's computation in one profile, to compare two profiles of it.

    The product of: the total number of optimisation steps (every integer setting whose name
    contains ``steps``, summed), the batch size (``batch_size``, else 1), the numbers per example of
    the chapter's dataset (:data:`INPUT_SIZE`, ``dataset``; 1 without one) and the mean width of its
    networks (integers whose smoke rule, declared in :mod:`lsl.book.sizes`, is ``"width"``; 1 without any). It
    ignores the numbers of models, grid points, directions and eigenvalues, so it is a crude,
    usually low, measure: good for orders of magnitude, not minutes.

    Args:
        cfg: a chapter's settings in one profile.
        rules: the chapter's smoke rules (default: those of ``cfg``'s chapter in :data:`lsl.book.sizes.SMOKE`),
            which say which integers are widths.

    Returns:
        the work, in arbitrary units (positive).
    """
    if rules is None:
        rules = sizes.SMOKE.get(getattr(cfg, "_chapter", None), {})
    items = list(_ints(dict(cfg), ()))
    steps = sum(v for path, v in items if "steps" in path[0] or (len(path) > 1 and "steps" in path[-1]))
    widths = [v for path, v in items if _kind(rules, path) == "width"]
    batch = cfg.get("batch_size") or 1
    inputs = INPUT_SIZE.get(str(cfg.get("dataset", "")), 1)
    return float(max(steps, 1) * batch * inputs * (sum(widths) / len(widths) if widths else 1.0))


def _kind(rules: Mapping[str, Any], path: tuple[str, ...]) -> str | None:
    """The smoke rule of the integer at ``path`` (setting, then inner key), or ``None`` without a rule."""
    rule = rules.get(path[0])
    if rule is None:
        return None
    try:
        return smoke.rule_at(rule, path[1] if len(path) > 1 else None)
    except KeyError:
        return None


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _measured_row(chapter: str, path: Path) -> tuple[dict, dict] | None:
    """The recorded GPU run of ``chapter`` (its file name, the key of its settings), if any."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("profile") != "paper" or not record.get("gpu"):
        return None
    for row in record.get("chapters", []):
        if row.get("status") == "ok" and "seconds" in row and str(row.get("chapter", "")) == chapter:
            return record, row
    return None


def expected_time(chapter: str, device: torch.device, *, times: Path | None = None) -> str:
    """The chapter's expected run time in the ``paper`` profile on ``device``, and where it comes from.

    Measured if ``lsl/book/paper_times.json`` (:data:`PAPER_TIMES`, written by
    ``python -m benchmarks.paper_profile`` on a GPU) records a successful ``paper`` run of the chapter
    on a GPU and ``device`` is a GPU: that run's wall time, with the GPU it ran on. Otherwise an
    estimate, labelled ``estimate``: the chapter's ``quick`` run time on 2 CPU cores
    (:data:`QUICK_CPU_SECONDS`, else the quick budget of 120 s) times the ratio of :func:`work` in
    ``paper`` to ``quick``, divided on a GPU by :data:`ASSUMED_GPU_SPEEDUP` (an assumption). The work
    ratio ignores counts of models, directions and grid points, so the estimate is an order of
    magnitude, usually on the low side.

    Args:
        chapter: the chapter's name in the profiles.
        device: the device the chapter runs on.
        times: the measured-times file (default :data:`PAPER_TIMES`).

    Returns:
        a phrase such as ``"about 40 min (measured on NVIDIA H100, 2026-12-01)"`` or
        ``"about 3.1 h (estimate: ...)"``.
    """
    gpu = device.type == "cuda"
    found = _measured_row(chapter, PAPER_TIMES if times is None else Path(times)) if gpu else None
    if found:
        record, row = found
        return f"about {_duration(float(row['seconds']))} (measured on {record['gpu']}, {record.get('date', 'undated')})"
    quick = profiles.get("quick").chapter(chapter)
    paper = profiles.get("paper").chapter(chapter)
    base = QUICK_CPU_SECONDS.get(chapter)
    ratio = work(paper) / work(quick)
    seconds = (base if base is not None else QUICK_BUDGET_SECONDS) * ratio / (ASSUMED_GPU_SPEEDUP if gpu else 1.0)
    how = (f"quick profile's {'measured ' if base is not None else 'budget of '}"
           f"{base if base is not None else QUICK_BUDGET_SECONDS:.0f} s on 2 CPU cores x {ratio:.0f} times the work")
    how += f" / an assumed GPU speed-up of {ASSUMED_GPU_SPEEDUP:g}" if gpu else ""
    return f"about {_duration(seconds)} (estimate: {how}; no measured run on this kind of device)"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _strings(v)


def paper_datasets(cfg: Mapping[str, Any]) -> list[str]:
    """The paper datasets (``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100``) a chapter's settings name."""
    from lsl.data.files import PAPER_DATASETS

    found = {s.strip().lower().replace("-", "_") for s in _strings(dict(cfg))}
    return [name for name in PAPER_DATASETS if name in found]


def run_seed(env: Mapping[str, str], seed: int | None = None) -> int:
    """The run seed (:mod:`lsl.seeds`): ``seed`` if given, else ``LSL_SEED`` from ``env`` if set, else 0.

    Raises:
        ValueError: for a value that is not a non-negative integer.
    """
    if seed is None:
        text = env.get("LSL_SEED", "").strip()
        try:
            seed = int(text) if text else 0
        except ValueError:
            raise ValueError(f"LSL_SEED={text!r} is not an integer; the run seed is 0, 1, 2, ...") from None
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"the run seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def setup(chapter: str, *, verbose: bool = True, seed: int | None = None) -> Runtime:
    """Prepare a chapter: choose device and profile, fetch missing paper data on Colab, set the style.

    Args:
        chapter: the chapter's file name without its suffix (``"toy_model"``, ``"hyperplanes"``,
            ``"local_geometry"``, ...), its key in the profiles.
        verbose: print one line saying what was chosen and why.
        seed: the run seed (default: ``LSL_SEED``, else 0), which shifts every seed the chapter uses
            (:mod:`lsl.seeds`); 0 is the chapter as written.

    Returns:
        a :class:`Runtime` ``(profile, cfg, device)``.
    """
    from lsl import seeds

    seeds.set_run(run_seed(os.environ, seed))
    device = profiles.device()
    gpu = device.type == "cuda"
    name, reason = choose_profile(os.environ)
    profile = profiles.get(name)
    cfg = profile.chapter(chapter)
    if name == "paper" and on_colab():
        from lsl.data import datasets

        for dataset in paper_datasets(cfg):
            datasets.download(dataset)
    from . import plots

    plots.use_style()
    if verbose:
        from lsl import __version__

        where = "Google Colab" if on_colab() else "local"
        gpu_name = f" ({torch.cuda.get_device_name(device)})" if gpu else ""
        line = f"lsl {__version__} [{where}] chapter {chapter!r}: profile {name} ({reason}); device {device}{gpu_name}"
        if seeds.run():
            line += f"; run seed {seeds.run()} (every seed shifted by {seeds.run() * seeds.STRIDE})"
        if name == "quick":
            line += f"; {SWITCH_HINT}"
        elif name == "paper":
            line += f"; expected run time {expected_time(chapter, device)}"
        elif name in profiles.RUNGS:
            line += "; a rung of the scale ladder (lsl.book.ladder), larger than quick"
        else:
            line += "; the paper profile's code paths at a tiny scale, claims not checked"
        print(line)
    global _ACTIVE
    _ACTIVE = Runtime(profile, cfg, device)
    return _ACTIVE


_ACTIVE: Runtime | None = None


def active() -> Runtime | None:
    """The :class:`Runtime` that the last :func:`setup` returned in this process (``None`` before any)."""
    return _ACTIVE
