# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# (chapter-scale)=
# # What moves with scale: the scale ladder
#
# ```{admonition} What you will learn
# :class: tip
# - which of the book's verdicts may be the scale talking rather than the claim: the quantities that the
#   papers measured on networks and data sets far larger than the book's {term}`profile` `quick`;
# - how each of them moves as the networks and the training grow, rung by rung, with the spread over
#   independent repeats;
# - how to read a record: the commit and the machine that made it, and when it has gone stale.
# ```
#
# Every verdict in the chapters comes from one scale: networks of a few thousand parameters trained for a
# few thousand steps. The papers used networks up to a hundred times larger. The **scale ladder** runs the
# chapters whose claims plausibly depend on scale at several sizes, its *rungs*: `smoke` (the paper
# profile's code paths, tiny), `quick` (the book), `medium` and `large` (offline data on a CPU, up to
# mnist1d with twenty thousand training examples and an MLP of about two hundred thousand parameters,
# like the paper's fully connected MNIST network), and `paper` (the papers' data and sizes, on a GPU).
# Each rung runs with two *run seeds*: every seed a chapter uses is shifted by the run seed
# (`lsl.seeds`), so the two runs are independent repeats and their difference is the seed spread.
#
# This page runs nothing. The ladder is run outside the book build by one command,
# `make records PROFILE=large` (or `python -m lsl.book.ladder`, see the README), which writes each run's
# verdicts, measured quantities, sizes, commit, machine, wall time and peak memory into
# `book/verdicts/<rung>/`; this page reads those records. A rung without records shows as "not run yet".
#
# For each quantity, `lsl/book/claims.yml` declares under `scale:`, before any rung above `quick` was
# run, the paper's value, how the distance from it is measured, and one criterion for the trend: the
# distance at the largest rung with records against the distance at `quick`.

# %%
# Set-up. On a fresh Google Colab runtime: install lsl (the package lsl-book) at v0.1.0, the version
# this book was built from. Everywhere: choose the device and the profile, and print the choice.
import sys, subprocess
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "lsl-book @ git+https://github.com/lsl-book/lsl@v0.1.0"], check=True)
import lsl.book
P, cfg, device = lsl.book.setup("scale")

# %% [markdown]
# ## The records
#
# Each row is one chapter at one rung: the run seeds recorded, the commit that made them (or "the book
# build" for the records that `make verdicts` writes), the date, the wall time and peak memory of each run,
# and whether the code that made it has changed since (`git diff <commit> -- lsl book/<chapter>.py`): a
# stale record stands until the ladder remakes it.

# %%
import math

import matplotlib.pyplot as plt

from lsl.book import glue, ladder, report, scale

records = ladder.read_records()
rungs = tuple(cfg.rungs)
status = scale.rung_status(records, ladder.CHAPTERS, rungs)
report.table([{"rung": r["rung"], "chapter": r["chapter"], "run seeds": r["seeds"], "commit": r["commit"],
               "date": r["date"], "wall time": r["wall"], "peak memory": r["peak"], "stale": r["stale"]}
              for r in status])

# %%
entries = scale.entries()
terms = scale.scale_terms()
series = {e["id"]: scale.series(e, records, rungs=rungs) for e in entries}
trends = {e["id"]: scale.trend(e, series[e["id"]]) for e in entries}
recorded = sorted({r["rung"] for r in status if r["seeds"] != "not run yet"}, key=rungs.index)
glue("scale-rungs-recorded", report.listing(recorded))
glue("scale-n-quantities", len(entries))
glue("scale-n-trends", sum(t is not None for t in trends.values()))
# the records hold what a verdict is decided from: finite numbers, one per seed that produced one
assert all(math.isfinite(v) for pts in series.values() for p in pts for v in p.values)

# %% [markdown]
# ## The quantities against scale
#
# The records hold rungs {glue:text}`scale-rungs-recorded`. Of the {glue:text}`scale-n-quantities`
# quantities, {glue:text}`scale-n-trends` have records at two rungs or more above `smoke`, enough for a
# trend. In each panel a point is the mean over run seeds and its bar their standard deviation; a hollow
# point is a stale record; the dashed line is the paper's value (for a one-sided statement, the bound the
# paper's statement implies). The horizontal axis is the rung, labelled with the parameter count D of the
# chapter's network where the chapter trains one on mnist1d.

# %% tags=["remove-output", "hide-input"]
fig, axes = plt.subplots(2, 4, figsize=(16, 7.5))
for ax, entry in zip(axes.ravel(), entries):
    pts = series[entry["id"]]
    paper = float(terms[entry["paper"]]) if isinstance(entry["paper"], str) else float(entry["paper"])
    for i, p in enumerate(pts):
        if p.values:
            ax.errorbar([i], [p.mean], yerr=[p.sd], fmt="o", color="C0", capsize=4,
                        mfc="white" if p.stale else "C0")
            ax.plot([i] * len(p.values), p.values, ".", color="C0", alpha=0.4)
    ax.axhline(paper, ls="--", color="C3", label="paper")
    if entry["toward"] == "log":
        ax.set_yscale("log")
    ax.set_xticks(range(len(pts)))
    ax.set_xticklabels([p.rung + (f"\nD={p.D:,}" if p.D else "") + ("" if p.values else "\nnot run yet")
                        for p in pts], fontsize=8)
    ax.set_xlim(-0.5, len(pts) - 0.5)
    ax.set_title(entry["shown"], fontsize=9, wrap=True)
axes.ravel()[0].legend(fontsize=8)
fig.tight_layout()
report.figure("scale-ladder", fig)

# %% [markdown]
# ```{glue:figure} scale-ladder
# :name: fig-scale-ladder
#
# Each scale-sensitive quantity at each rung of the ladder: mean over run seeds with their standard
# deviation, single runs as small dots, the paper's value dashed.
# ```
#
# ## The trends
#
# For each quantity: the claim it comes from, the paper's value, the mean and spread at each rung, the
# trend's verdict by the declared criterion, and how much of the distance to the paper's value is left at
# the largest rung (the distance there over the distance at `quick`).

# %%
rows = []
for entry in entries:
    pts, t = series[entry["id"]], trends[entry["id"]]
    row = {"quantity": entry["shown"], "claim": entry["claim"], "the paper reports": entry["paper_reports"]}
    for p in pts:
        row[p.rung] = (f"{report.fmt(p.mean)} ± {report.fmt(p.sd)} ({report.plural(len(p.values), 'seed')})"
                       + (" (stale)" if p.stale else "") if p.values else "not run yet")
    if t is None:
        row["trend"], row["left"] = "not run yet", ""
    else:
        first, last = t.measured["first"], t.measured["last"]
        row["trend"] = t.word
        row["left"] = report.fmt(last / first) if first > 0 else ("at the paper's value" if last == 0 else "")
    glue(f"scale-trend-{entry['id']}", row["trend"])
    rows.append(row)
report.table(rows)

# %% [markdown]
# The intrinsic dimension's trend is {glue:text}`scale-trend-scale-intrinsic-dimension`; the short
# directions' {glue:text}`scale-trend-scale-short-vs-intrinsic`; the m-connectors'
# {glue:text}`scale-trend-scale-m-connectors`; the outlier gap's {glue:text}`scale-trend-scale-outlier-gap`;
# the tunnel against the line {glue:text}`scale-trend-scale-tunnel-barrier`; the effect of the learning
# rate on the tunnels' width {glue:text}`scale-trend-scale-fig5-effect`; the cyclic snapshots' diversity
# {glue:text}`scale-trend-scale-cyclic-diversity`; and prediction against weight averaging
# {glue:text}`scale-trend-scale-swa-vs-prediction`.
#
# ## Running the ladder
#
# `make records PROFILE=medium` runs the rung `medium` with the run seeds `SEEDS="0 1"`; each
# (rung, seed, chapter) is one fresh kernel, its records written when it ends, so an interrupted run
# resumes with what is left. `python -m lsl.book.ladder --dry-run --rungs large` lists what is left and
# how long it should take, estimated from the wall times of the records already made. With
# `--engine dask` the runs spread over a Dask cluster (a local one, or `--address` of a scheduler): the
# README's section on the scale ladder says how. A GPU run of the paper profile is recorded the same way,
# `make records PROFILE=paper`.
#
# ## Exercises
#
# 1. Read a record in `book/verdicts/quick/tunnels.json` and one of the ladder's in
#    `book/verdicts/medium/tunnels.json`. Which sizes changed between the rungs, and which quantities moved?
# 2. The trend's criterion compares only the smallest and the largest rung. Propose a criterion that uses
#    every rung, and say what it would need from the records (how many seeds per rung?).
# 3. Add a rung between `quick` and `medium` in `lsl/book/sizes.py` for one chapter, run it with
#    `python -m lsl.book.ladder --rungs <yours> --chapters tunnels --seeds 0 1`, and see where it falls.
