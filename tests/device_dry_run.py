"""Dry-run a chapter on the ``meta`` device and report where its landscapes compute.

``python -m tests.device_dry_run book/<chapter>.py`` executes the chapter's code cells (its
``py:percent`` twin) with ``LSL_DEVICE=meta``: the chapter's ``device`` (from
:func:`lsl.book.runtime.setup`) is then ``meta``, a device that carries shapes but no values, while
models built by :func:`lsl.data.nets.make` and tensors built without ``device=`` stay on the CPU. So a
CPU-only machine sees the device mistakes that a GPU would: a landscape computing on the CPU
while the chapter's data sit on the chapter's device, or a tensor made on one device meeting a
tensor on another.

Cells run in order in one namespace. A cell that needs values (``.item()``, printing, plotting,
the cache) stops with an error on ``meta``; that is expected, and the cells after it still run
(those that need its results fail too). Every landscape that is built is recorded: the devices of
its model and data, whether ``device=`` was given, and where it computes. Printed as one JSON
object on the last line of stdout:

- ``landscapes``: one record per landscape built (``cell``: the line of the cell in the chapter);
- ``device_errors``: errors of cells that mixed devices (``same device``, ``different devices``);
- ``cells``, ``cells_ok``: how many code cells there were and how many ran without error.

:mod:`tests.test_devices` runs it on every chapter and turns the records into assertions.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sys
import time

#: Error messages that mean tensors on different devices met (not that ``meta`` has no values).
DEVICE_ERROR = re.compile(r"same device|different devices|devices? mismatch|found at least two devices", re.I)


#: A cell is interrupted after this many seconds of this process's CPU time (not wall time, so a busy
#: machine does not cut cells shorter): on ``meta`` the landscape-building cells take well under a
#: second; what takes long is real work on the CPU (which the CPU chapter run covers anyway).
CELL_SECONDS = float(os.environ.get("LSL_DRY_RUN_CELL_SECONDS", "5"))


class CellTooLong(Exception):
    """A cell ran past :data:`CELL_SECONDS`."""


def _too_long(signum, frame):
    raise CellTooLong(f"interrupted after {CELL_SECONDS} s of CPU time")


def code_cells(source: str) -> list[tuple[int, str]]:
    """The code cells of a ``py:percent`` file: ``(first line number, code)``; markdown and the header skipped."""
    cells, current, start, kind = [], [], 1, None
    for number, line in enumerate(source.splitlines(), 1):
        if line.startswith("# %%"):
            if kind == "code":
                cells.append((start, "\n".join(current)))
            kind = "markdown" if "[markdown]" in line else "code"
            current, start = [], number + 1
        elif kind is not None:
            current.append(line)
    if kind == "code":
        cells.append((start, "\n".join(current)))
    return cells


def dry_run(path: str) -> dict:
    """Run the chapter at ``path`` on ``meta`` and return the report (see the module docstring)."""
    os.environ["LSL_DEVICE"] = "meta"
    os.environ.setdefault("LSL_PROFILE", "quick")
    os.environ["LSL_PROGRESS"] = "0"
    os.environ.setdefault("MPLBACKEND", "Agg")
    import torch

    import importlib
    import pkgutil

    import lsl
    from lsl import landscape, network

    for module in pkgutil.iter_modules(lsl.__path__):  # every Landscape subclass lsl defines
        with contextlib.suppress(Exception):
            importlib.import_module(f"lsl.{module.name}")

    state = {"cell": 0}
    records: list[dict] = []

    def all_subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from all_subclasses(sub)

    def devices(*tensors) -> list[str]:
        return sorted({str(t.device) for t in tensors if isinstance(t, torch.Tensor)})

    def wrap(cls):
        original = cls.__init__

        def __init__(self, *args, **kwargs):
            # record only the outermost constructor (a subclass calling its parent's is one landscape)
            outer = not getattr(self, "_lsl_dry_run_recording", False)
            rec = None
            if outer:
                self._lsl_dry_run_recording = True
                rec = {"cell": state["cell"], "kind": cls.__name__, "explicit_device": None}
                if issubclass(cls, network.NetworkLandscape):
                    model, x, y = (list(args) + [None] * 3)[:3]
                    model = kwargs.get("model", model)
                    x, y = kwargs.get("x", x), kwargs.get("y", y)
                    if isinstance(model, torch.nn.Module):
                        rec["model"] = devices(*model.parameters())
                    rec["data"] = devices(x, y, kwargs.get("x_test"), kwargs.get("y_test"))
                if kwargs.get("device") is not None:
                    rec["explicit_device"] = str(kwargs["device"])
            try:
                original(self, *args, **kwargs)
            finally:
                if outer:
                    self._lsl_dry_run_recording = False
            if rec is not None:
                rec["device"] = str(self.device)
                records.append(rec)

        cls.__init__ = __init__

    for cls in set(all_subclasses(landscape.Landscape)):
        if "__init__" in vars(cls):
            wrap(cls)

    source = open(path, encoding="utf-8").read()
    cells = code_cells(source)
    ns: dict = {"__name__": "__main__"}
    ok, device_errors, seconds = 0, [], {}
    for line, code in cells:
        state["cell"] = line
        started = time.perf_counter()
        signal.signal(signal.SIGVTALRM, _too_long)
        signal.setitimer(signal.ITIMER_VIRTUAL, CELL_SECONDS)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"{path}:{line}", "exec"), ns)
            ok += 1
        except Exception as err:  # noqa: BLE001 -- a cell that needs values fails on meta; that is expected
            if DEVICE_ERROR.search(str(err)):
                device_errors.append({"cell": line, "error": f"{type(err).__name__}: {str(err).splitlines()[0]}"})
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            seconds[line] = round(time.perf_counter() - started, 2)
            try:
                import matplotlib.pyplot as plt

                plt.close("all")
            except ImportError:
                pass
    return {"chapter": path, "device": str(lsl.book.profiles.device()), "cells": len(cells), "cells_ok": ok,
            "landscapes": records, "device_errors": device_errors, "seconds": seconds}


if __name__ == "__main__":
    report = dry_run(sys.argv[1])
    print(json.dumps(report))
