"""The benchmark machinery (benchmarks/): the results table, the loss-landscapes grid mapping, and the
chapter profiler's in-kernel probe. The peers are installed only by ``make bench``; tests that need
one are skipped without it. No timing is asserted here: speed is measured by ``make bench``."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import common, run


def _row(**kw):
    base = common.record("loss_plane_51", "a peer", torch.device("cpu"), 1.0, 4.0, "max |a - b| = 1e-7",
                         {"D": 10, "quick": True})
    base.update(kw)
    return base


def test_record_has_the_required_keys_and_speedup():
    r = _row()
    for key in ("benchmark", "peer", "device", "lsl_seconds", "peer_seconds", "speedup", "accuracy_note", "machine",
                "torch", "sizes"):
        assert key in r
    assert r["device"] == "cpu" and r["speedup"] == 4.0
    assert r["kernels"] == torch.backends.cpu.get_cpu_capability()  # the CPU kernel set it was measured with
    json.dumps(r)  # JSON-able


def test_markdown_table_escapes_pipes_and_keeps_one_line_per_row(tmp_path):
    rows = [_row(date="today"), _row(benchmark="tunnel", peer="p|q", date="today")]
    header = {"command": "python -m benchmarks.run", "date": "today", "machine": "m", "torch": "t", "python": "3",
              "omp": "unset", "load": ([1, 1, 1], [1, 1, 1]), "note": "busy"}
    path = tmp_path / "results.md"
    run.write_markdown(rows, path, header)
    text = path.read_text()
    table = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert len(table) == 4  # header, separator and two rows
    assert "## How equal accuracy was checked" in text and "1. max |a - b| = 1e-7" in text
    assert all(ln.count("|") - ln.count("\\|") == 10 for ln in table)  # 9 columns (kernels among them), escaped pipes aside
    assert "busy" in text and "(quick sizes)" in text


def test_runner_rejects_unknown_benchmarks(tmp_path):
    with pytest.raises(SystemExit):
        run.main(["--only", "nonsense", "--out", str(tmp_path)])


def test_loss_landscapes_grid_matches_lsl_on_the_shared_points():
    pytest.importorskip("loss_landscapes")
    from benchmarks import loss_plane_51 as lp
    from lsl.data import datasets, nets
    from lsl.probes import planes
    from lsl.network import NetworkLandscape

    ds = datasets.load("gaussian_mixture", n_train=30, n_test=5, n_classes=3, dim=4, dtype=torch.float64)
    models = [nets.make("mlp", ds.input_shape, ds.n_classes, seed=s, width=4, depth=1).double() for s in range(3)]
    land = NetworkLandscape(models[0], ds.x_train, ds.y_train)
    a, b, c = (land.theta_of(m) for m in models)
    plane = planes.loss_plane(land, a, b, c, n=lp.N)
    peer = lp.run_loss_landscapes(land, lp.peer_models(land, plane))
    assert peer.shape == (lp.N, lp.N)
    assert lp.compare_with_peer(plane.loss, peer) < 1e-10  # float64: the same points, the same values
    # and the mapping matters: comparing column i with lsl's column i unshifted does not match
    assert float(abs(peer[0, :] - plane.loss[:, 0].numpy()).max()) > 1e-6


def test_chapter_profiler_runs_a_notebook_and_reads_the_probe(tmp_path):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    import nbformat

    from benchmarks import paper_profile

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os, torch\nassert os.environ['LSL_PROFILE'] == 'quick'\nx = torch.ones(3)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    row = paper_profile.run_chapter(path, timeout=120, env={"LSL_PROFILE": "quick", "LSL_PROGRESS": "0"})
    assert row["chapter"] == "tiny" and row["status"] == "ok" and row["seconds"] > 0
    assert row["max_rss_bytes"] > 0
    assert ("peak_gpu_allocated_bytes" in row) == torch.cuda.is_available() or not torch.cuda.is_available()
    # a failing chapter is recorded, not raised
    nb.cells = [nbformat.v4.new_code_cell("raise RuntimeError('boom')")]
    nbformat.write(nb, path)
    row = paper_profile.run_chapter(path, timeout=120, env={"LSL_PROFILE": "quick"})
    assert row["status"].startswith("error") and "boom" in row["status"]
