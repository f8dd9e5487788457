"""Run the benchmarks, each against its peers in the same process, and write the results table.

    python -m benchmarks.run                       # everything, full sizes, CPU (+ GPU if present)
    python -m benchmarks.run --quick               # small sizes: a smoke test of the mechanics
    python -m benchmarks.run --only loss_plane_51,tunnel --devices cpu

``make bench`` installs the peers into ``.venv`` (torch pinned) and runs this with ``BENCH_ARGS``.
Writes ``benchmarks/results.json`` (a list of rows, one per benchmark, peer and device; see
``benchmarks/common.py:record``) and ``benchmarks/results.md`` (the same as a table, with the date,
the machine and how busy it was). Rows of benchmarks or devices that were not run this time are
kept from the previous ``results.json`` (each row carries its own date), unless ``--fresh``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import sys
from pathlib import Path

import torch

try:
    from . import common
except ImportError:  # run as python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks import common  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent

#: benchmark name -> (module, default repeats, what it measures)
BENCHMARKS = {
    "hessian_top20": ("benchmarks.hessian_top20", 3,
                      "Top-20 Hessian eigenvalues of an MLP on mnist1d (float64, full batch) at the same tolerance: "
                      "lsl's block Lanczos (`lsl.curvature.hessian.top_eigenvalues`) against curvlinops' "
                      "`HessianLinearOperator` with scipy's ARPACK `eigsh`, hessian-eigenthings 1.0's `lanczos` on its "
                      "`HessianOperator`, and PyHessian (power iteration with deflation; its defaults, and its "
                      "tolerance matched to lsl's). Accuracy against a tight reference; times are medians of "
                      "interleaved runs (lsl, curvlinops, hessian-eigenthings in turn)."),
    "loss_plane_51": ("benchmarks.loss_plane_51", 3,
                      "The training loss on a 51 x 51 grid of the plane through three optima: "
                      "`lsl.probes.planes.loss_plane` (batched evaluation) against the loss-landscapes package "
                      "(`planar_interpolation` with its `metrics.Loss`) and a plain per-point loop, on the same "
                      "2,601 points."),
    "batched_training_k8": ("benchmarks.batched_training", 2,
                            "Training 8 copies of an MLP that differ only in seed (Adam) or in learning rate "
                            "(SGD), as one `[8, D]` batch (`lsl.training.trainer.train`, `lsl.training.rows.train_rows`) against the "
                            "ordinary PyTorch loop run 8 times, same seeds and minibatch order; and one model "
                            "against one loop."),
    "tunnel": ("benchmarks.tunnel", 2,
               "One low-loss path between two optima: the paper's tunnel (`lsl.paths.tunnels.build_tunnel`) against a "
               "quadratic Bezier curve (`lsl.paths.tunnels.bezier_curve`, Garipov et al. 2018) run until its barrier "
               "is at most the tunnel's: gradient evaluations and wall time."),
}

#: why a row reads as it does (shown under the table)
NOTES = {
    "hessian_top20": (
        "PyHessian's power iteration with deflation needs several times more Hessian-vector products than "
        "Lanczos for a worse accuracy, and far more at a matched tolerance. hessian-eigenthings' `lanczos` runs a "
        "fixed number of steps from one vector: the benchmark times the fewest steps of a ladder (40 to 100) whose "
        "20 eigenvalues are as accurate as lsl's (`peer_config`). curvlinops + ARPACK needs fewer products than lsl (lsl's block of two "
        "start vectors certifies multiplicities); lsl is faster per product because for a layer stack its "
        "Hessian products are written out by hand (`lsl.stack.StackCurvature`: the forward and backward pass at "
        "the point once, then a few matrix products per layer for a whole block of vectors, no autograd graph), "
        "and its Lanczos checks convergence after every block. `seconds_per_product` and `product_to_gradient` "
        "in `results.json` give each method's cost of one product and its ratio to one gradient (CPU seconds, "
        "medians of interleaved runs). On a small model (the `--quick` sizes) fixed costs dominate."),
    "loss_plane_51": (
        "The loss-landscapes package and the plain loop evaluate one point at a time; each point's loss over "
        "4000 examples is about 58 MFLOP of matrix products, so both are compute-bound and batching alone buys "
        "little: lsl's general path (`torch.func.vmap` over `functional_call`, the `lsl's vmap path` row, which "
        "CNNs still take) is no faster than the loop, because vmap adds each bias in a separate pass and "
        "allocates every activation anew. For a layer stack (an MLP) lsl now evaluates points with "
        "`lsl.stack.LayerStack`: fused `baddbmm` layers, activations in place, the first layer computed once "
        "per direction of the plane (`NetworkLandscape.loss_affine`), and float32 tanh as 2 sigmoid(2h) - 1 "
        "(torch's CPU tanh costs ~1.5-1.9 ns per element against ~0.2-0.4 ns for its sigmoid on the AVX2 and "
        "AVX-512 kernels). Measured apart (AMD EPYC, best of 5, interleaved): vmap 4.57 s, stack with "
        "torch.tanh 3.96 s, plus the affine first layer 3.77 s, plus the sigmoid form of tanh 2.10 s; the "
        "loop 4.30 s. Most of the gain is the activation kernel, which a hand-written loop could also use; "
        "the `matmul limit` row is the loop's arithmetic at this machine's measured `torch.mm` throughput, "
        "the floor for any implementation that does all of it (lsl skips the first layer's share per point, "
        "so the limit is not a hard bound for it). The same machine with torch's other kernel sets "
        "(`ATEN_CPU_CAPABILITY`, 2026-12-02, best of 3; lsl / loss-landscapes / loop): AVX2 2.28 / 3.64 / "
        "3.92 s; `default` (no SIMD, where the sigmoid form is not used) 3.88 / 4.17 / 4.33 s. On an Intel "
        "Xeon (AVX-512, 2026-11) the loop and the peer took 3.05 s and 2.59 s against the vmap path's 3.23 s; "
        "the stack path has not been measured on an Intel machine yet."),
    "batched_training_k8": (
        "The batched step does the eight models' arithmetic in a few large kernels; the sequential loop pays "
        "Python, autograd, optimizer and kernel-launch overhead eight times per step. On a CPU the arithmetic of "
        "a 7k-parameter MLP on a 128-example minibatch is comparable to that overhead. For a layer stack lsl "
        "does not build an autograd graph: `lsl.stack.LayerStack.loss_and_grad` writes back-propagation out "
        "(three batched matrix products per layer), so even one model (the `1 torch loop` row) trains faster "
        "than the loop, and eight models share each product. With autograd instead (the commit before, measured "
        "the same day on the same machine, one thread): one model 0.82 s against the loop's 0.50 s, eight learning rates 3.16 s against 4.29 s, eight "
        "seeds with Adam 4.63 s against 7.23 s. On a GPU, where one small model leaves the device idle and every "
        "kernel launch costs the same whatever its size, it should win by much more (a GPU run is pending)."),
    "tunnel": (
        "Here the peer is a different algorithm for the same goal, not a different implementation: the tunnel "
        "optimises its division points one hyperplane each and leaves the loss between them unoptimised, while "
        "the Bezier curve trains the loss along the whole curve, so it reaches the same barrier with several "
        "times fewer gradient evaluations. That is a property of the paper's construction, which the book "
        "reproduces for its geometry (vertices in the hyperplanes normal to the line), not of the code: the two "
        "spend about the same time per gradient evaluation (`lsl_us_per_grad_eval`, `peer_us_per_grad_eval` in "
        "`results.json`). A speedup below 1 here means: for a low path alone, train a curve."),
}


def _fmt_seconds(s: float) -> str:
    return f"{s:.3f}" if s < 10 else f"{s:.1f}"


def _sizes_line(sizes: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sizes.items() if k not in ("quick",))


def _cell(text) -> str:
    """A markdown table cell: ``|`` escaped (the notes contain ``|x|``), no line breaks."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _short(row: dict) -> str:
    """A short accuracy summary for rows written before ``accuracy_short`` existed."""
    if "lsl_max_rel_err" in row:
        return f"rel. error {row['lsl_max_rel_err']:.0e} / {row['peer_max_rel_err']:.0e}"
    return "see below"


def write_markdown(rows: list[dict], path: Path, header: dict) -> None:
    lines = ["# Benchmark results", ""]
    lines.append(f"Written by `{header['command']}` on {header['date']}.")
    lines.append("")
    lines.append(f"- Machine: {header['machine']}")
    lines.append(f"- torch {header['torch']}, Python {header['python']}, `OMP_NUM_THREADS` {header['omp']}")
    if header.get("load"):
        lines.append(f"- Load average (1, 5, 15 min) at the start {header['load'][0]}, at the end {header['load'][1]} "
                     f"on {os.cpu_count()} cores")
    if header.get("note"):
        lines.append(f"- {header['note']}")
    lines.append("- `speedup` = peer seconds / lsl seconds (above 1: lsl is faster); each time is the best of "
                 "the repeats given in `results.json` (hessian_top20: the median of interleaved runs).")
    lines.append("")
    lines.append("- `kernels`: torch's CPU kernel set for the row (`ATEN_CPU_CAPABILITY`: `default`, `AVX2`, `AVX512`; "
                 "rows measured before it was recorded show `?`); `make bench-kernels` reruns the curvature rows "
                 "under each kernel set the CPU has.")
    lines.append("")
    lines.append("| | benchmark | peer | device | kernels | lsl s | peer s | speedup | accuracy: lsl / peer |")
    lines.append("| ---: | --- | --- | --- | --- | ---: | ---: | ---: | --- |")
    order = {name: i for i, name in enumerate(BENCHMARKS)}
    rows = sorted(rows, key=lambda r: (order.get(r["benchmark"], 99), r["device"] != "cpu"))
    for i, r in enumerate(rows, 1):
        quick = " (quick sizes)" if r.get("sizes", {}).get("quick") else ""
        lines.append(f"| {i} | {r['benchmark']}{quick} | {_cell(r['peer'])} | {_cell(r['device'])} | "
                     f"{_cell(r.get('kernels', '?'))} | "
                     f"{_fmt_seconds(r['lsl_seconds'])} | {_fmt_seconds(r['peer_seconds'])} | {r['speedup']:.2f} | "
                     f"{_cell(r.get('accuracy_short') or _short(r))} |")
    lines.append("")
    lines.append("## How equal accuracy was checked")
    lines.append("")
    for i, r in enumerate(rows, 1):
        lines.append(f"{i}. {r['accuracy_note']}")
    lines.append("")
    lines.append("## What each benchmark measures")
    lines.append("")
    seen = []
    for r in rows:
        if r["benchmark"] in seen:
            continue
        seen.append(r["benchmark"])
        name = r["benchmark"]
        lines.append(f"**{name}.** {BENCHMARKS.get(name, ('', 0, ''))[2]} Sizes: {_sizes_line(r['sizes'])}. "
                     f"Measured {r.get('date', '?')}. {NOTES.get(name, '')}")
        lines.append("")
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help=f"comma-separated benchmarks, of: {', '.join(BENCHMARKS)}")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test of the mechanics, in about a minute")
    ap.add_argument("--repeat", type=int, default=None, help="runs per method (best wall time); default per benchmark")
    ap.add_argument("--devices", default="auto", help="'auto' (the CPU, and the GPU if torch sees one) or e.g. 'cpu,cuda'")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    ap.add_argument("--out", default=str(HERE), help="folder for results.json and results.md")
    ap.add_argument("--fresh", action="store_true", help="drop the rows of earlier runs instead of keeping those not rerun")
    ap.add_argument("--note", default="", help="a line for the header of results.md (e.g. the machine's state)")
    ap.add_argument("--markdown-only", action="store_true",
                    help="run nothing: rewrite results.md from results.json (header from its last run)")
    args = ap.parse_args(argv)
    if args.markdown_only:
        out = Path(args.out)
        rows = json.loads((out / "results.json").read_text())
        last = max(rows, key=lambda r: r.get("date", ""))
        header = dict(last.get("header", {})) or {"command": "python -m benchmarks.run", "date": last.get("date", "?"),
                                                  "machine": last["machine"], "torch": last["torch"],
                                                  "python": sys.version.split()[0], "omp": "?"}
        if args.note:
            header["note"] = args.note
        write_markdown(rows, out / "results.md", header)
        print((out / "results.md").read_text())
        return

    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("LSL_PROGRESS", "0")
    devs = common.devices(args.devices)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "results.json", out / "results.md"

    load0 = common.load_average()
    date = common.today()
    new_rows: list[dict] = []
    for name in names:
        module_name, default_repeat, _ = BENCHMARKS[name]
        module = importlib.import_module(module_name)
        repeat = args.repeat if args.repeat is not None else (1 if args.quick else default_repeat)
        for dev in devs:
            print(f"== {name} on {common.device_name(dev)} ({'quick' if args.quick else 'full'} sizes, "
                  f"best of {repeat}); load average {common.load_average()}", flush=True)
            la = common.load_average()
            rows = module.run(dev, args.quick, repeat)
            lb = common.load_average()
            for row in rows:
                row["date"] = date
                row["load_average"] = {"start": la, "end": lb}
            new_rows.extend(rows)

    old_rows: list[dict] = []
    if json_path.exists() and not args.fresh:
        try:
            old_rows = json.loads(json_path.read_text())
        except (json.JSONDecodeError, OSError):
            old_rows = []
    replaced = {(r["benchmark"], r["device"], r.get("kernels", "?")) for r in new_rows}
    kept = [r for r in old_rows if (r.get("benchmark"), r.get("device"), r.get("kernels", "?")) not in replaced]
    rows = kept + new_rows
    shown, skip = [], False
    for a in (argv if argv is not None else sys.argv[1:]):  # the command, without the note (shown apart)
        if skip or a == "--note" or a.startswith("--note="):
            skip = a == "--note"
            continue
        shown.append(a)
    cmd = " ".join(["python -m benchmarks.run"] + [shlex.quote(a) for a in shown])
    header = {"command": cmd.strip(), "date": date, "machine": common.machine(), "torch": torch.__version__,
              "python": sys.version.split()[0], "omp": os.environ.get("OMP_NUM_THREADS", "unset"),
              "load": (load0, common.load_average()), "note": args.note}
    for row in new_rows:
        row["header"] = header
    json_path.write_text(json.dumps(rows, indent=1) + "\n")
    write_markdown(rows, md_path, header)
    print(md_path.read_text())
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
