"""Shared helpers of the benchmarks: timing, devices, the machine's description and the result records.

Every benchmark module exposes ``run(device, quick, repeat) -> list[dict]``; each dict is one
row of ``results.json`` (see :func:`record`).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from typing import Callable

import torch


def devices(requested: str = "auto") -> list[torch.device]:
    """``"auto"``: the CPU, plus the GPU where one is available; else a comma-separated list (``cpu,cuda``)."""
    if requested == "auto":
        return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    out = []
    for name in requested.split(","):
        dev = torch.device(name.strip())
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise SystemExit(f"--devices asks for {name!r}, but torch sees no GPU")
        out.append(dev)
    return out


def device_name(device: torch.device) -> str:
    """``"cpu"``, or the GPU's name (e.g. ``"NVIDIA H100 80GB HBM3"``)."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU), so that wall times are complete."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> tuple[object, float, float]:
    """Run ``fn`` once: ``(its result, wall seconds, CPU seconds of this process)``, device work included."""
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t0, time.process_time() - c0


def best_of(fn: Callable[[], object], device: torch.device, repeat: int) -> tuple[object, float, float]:
    """The smallest wall time of ``repeat`` runs, with that run's CPU time, and the last run's result.

    On a shared machine the minimum is the run least disturbed by other processes.
    """
    best, out = None, None
    for _ in range(max(1, repeat)):
        out, wall, cpu = timed(fn, device)
        if best is None or wall < best[0]:
            best = (wall, cpu)
    return out, best[0], best[1]


def interleaved(fns: dict[str, Callable[[], object]], device: torch.device, repeat: int) -> dict[str, tuple]:
    """Best-of-``repeat`` timings of several functions, run in turn (a, b, c, a, b, c, ...).

    Alternating spreads a change in the machine's load over all of them alike. Returns, per
    name, ``(last result, best wall seconds, that run's CPU seconds)``.
    """
    best: dict[str, tuple] = {}
    for _ in range(max(1, repeat)):
        for name, fn in fns.items():
            out, wall, cpu = timed(fn, device)
            if name not in best or wall < best[name][1]:
                best[name] = (out, wall, cpu)
            else:
                best[name] = (out, best[name][1], best[name][2])
    return best


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def machine() -> str:
    """One line: CPU model, cores, memory, torch's intra-op threads, and the GPU if there is one."""
    mem = _memory_gib()
    parts = [f"{_cpu_model()}", f"{os.cpu_count()} cores"]
    if mem:
        parts.append(f"{mem:.0f} GiB")
    parts.append(f"torch threads {torch.get_num_threads()}")
    if torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    return ", ".join(parts)


def kernels() -> str:
    """torch's CPU kernel set in this process (``ATEN_CPU_CAPABILITY`` picks it: ``default``, ``AVX2``, ``AVX512``)."""
    return torch.backends.cpu.get_cpu_capability()


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (how busy the machine was: other processes' work)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def today() -> str:
    return _dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def record(benchmark: str, peer: str, device: torch.device, lsl_seconds: float, peer_seconds: float,
           accuracy_note: str, sizes: dict, **extra) -> dict:
    """One row of ``results.json`` (the keys every row has, then benchmark-specific ``extra``)."""
    row = {
        "benchmark": benchmark,
        "peer": peer,
        "device": device_name(device),
        "lsl_seconds": round(float(lsl_seconds), 4),
        "peer_seconds": round(float(peer_seconds), 4),
        "speedup": round(float(peer_seconds) / float(lsl_seconds), 2),
        "accuracy_note": accuracy_note,
        "machine": machine(),
        "kernels": kernels() if device_name(device) == "cpu" else "cuda",
        "torch": torch.__version__,
        "sizes": sizes,
    }
    row.update(extra)
    return row


def standalone(run: Callable[..., list[dict]], doc: str | None, repeat: int) -> None:
    """Command line of one benchmark module run on its own: ``--quick``, ``--device``, ``--repeat``; prints JSON rows."""
    import argparse
    import json

    ap = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    ap.add_argument("--repeat", type=int, default=repeat, help="timed repeats (best of)")
    args = ap.parse_args()
    for row in run(args.device, args.quick, args.repeat):
        print(json.dumps(row))
