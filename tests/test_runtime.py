"""Tests for lsl.book.runtime: how a chapter chooses its profile and device."""

from __future__ import annotations

import json
from pathlib import Path
import os
import sys

import pytest
import torch

from lsl.book import profiles, runtime


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ("LSL_PROFILE", "LSL_DEVICE"):     # start from an environment without them (restored afterwards)
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


def _never(*_):
    raise AssertionError("the network must not be probed here")


@pytest.mark.parametrize("env", [{}, {"LSL_PROFILE": ""}, {"LSL_PROFILE": "  "}])
def test_quick_is_the_default_whatever_the_machine(env):
    assert runtime.choose_profile(env) == ("quick", "the default")


@pytest.mark.parametrize("wanted", ["quick", "paper", " PAPER ", "smoke"])
def test_the_environment_variable_wins(wanted):
    name, reason = runtime.choose_profile({"LSL_PROFILE": wanted})
    assert name == wanted.strip().lower() and "LSL_PROFILE" in reason


def test_an_unknown_profile_is_an_error():
    with pytest.raises(ValueError, match="unknown profile"):
        runtime.choose_profile({"LSL_PROFILE": "huge"})


def test_setup_on_a_cpu_picks_quick_and_says_so(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "has_network", _never)
    P, cfg, device = runtime.setup("toy_model")
    assert P.name == "quick" and device == torch.device("cpu")
    assert dict(cfg) == dict(profiles.get("quick").chapter("toy_model"))
    assert "LSL_PROFILE" not in os.environ and profiles.current() is P and runtime.active().profile is P
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "profile quick" in out[0] and "device cpu" in out[0] and "'toy_model'" in out[0]


def test_setup_on_a_gpu_with_network_picks_quick_and_says_how_to_switch(monkeypatch, capsys):
    monkeypatch.setattr(runtime.profiles, "device", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Fake GPU")
    monkeypatch.setattr(runtime, "has_network", _never)
    P, cfg, device = runtime.setup("tunnels")
    assert P.name == "quick" and device.type == "cuda" and cfg.dataset == "mnist1d"
    assert "LSL_PROFILE" not in os.environ          # read, never written
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "profile quick (the default)" in out[0] and "(Fake GPU)" in out[0]
    assert 'os.environ["LSL_PROFILE"] = "paper"' in out[0]


def test_paper_when_asked_prints_the_expected_time(monkeypatch, capsys):
    monkeypatch.setenv("LSL_PROFILE", "paper")
    monkeypatch.setattr(runtime.profiles, "device", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Fake GPU")
    monkeypatch.setattr(runtime, "PAPER_TIMES", runtime.PAPER_TIMES.with_name("no_such_file.json"))
    P, cfg, _ = runtime.setup("tunnels")
    assert P.name == "paper" and cfg.dataset == "fashion_mnist"
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "profile paper (set by LSL_PROFILE)" in out[0]
    assert "expected run time about" in out[0] and "(estimate:" in out[0]


def test_setup_honours_both_variables(monkeypatch, capsys):
    monkeypatch.setenv("LSL_PROFILE", "paper")
    monkeypatch.setenv("LSL_DEVICE", "cpu")
    monkeypatch.setattr(runtime, "has_network", _never)
    P, _, device = runtime.setup("toy_model", verbose=False)
    assert P.name == "paper" and device == torch.device("cpu")
    assert capsys.readouterr().out == ""


def test_setup_downloads_paper_data_only_on_colab(monkeypatch):
    fetched = []
    monkeypatch.setattr("lsl.data.datasets.download", lambda name, root=None: fetched.append(name))
    monkeypatch.setenv("LSL_PROFILE", "paper")
    runtime.setup("hyperplanes", verbose=False)
    assert fetched == []
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    runtime.setup("hyperplanes", verbose=False)
    assert fetched == ["mnist", "fashion_mnist"]           # its networks' data set and its second one (d_int on another data set)
    fetched.clear()
    monkeypatch.setenv("LSL_PROFILE", "quick")
    runtime.setup("hyperplanes", verbose=False)
    assert fetched == []


def test_paper_datasets_are_found_in_any_setting():
    assert runtime.paper_datasets({"dataset": "cifar10", "x": [("a", {"data": "Fashion-MNIST"})]}) == [
        "fashion_mnist", "cifar10"]
    assert runtime.paper_datasets(profiles.get("quick").chapter("tunnels")) == []


def test_unknown_chapter_names_the_known_ones():
    with pytest.raises(KeyError, match="known"):
        runtime.setup("no_such_chapter", verbose=False)


def test_has_network_is_false_when_nothing_answers():
    assert runtime.has_network(timeout=0.5, probes=(("127.0.0.1", 9),)) is False


# ---------------------------------------------------------------------------
# expected run time of the paper profile


def test_work_counts_steps_batch_inputs_and_width():
    cfg = {"dataset": "cifar10", "batch_size": 10, "steps": 100, "plane_steps": {"A": 50, "B": 50},
           "check_every": 7, "net": {"channels": (2, 4, 6)}, "n_planes": 99}
    rules = {"net": {"channels": "width"}}                         # which integers are widths: the smoke rules
    assert runtime.work(cfg, rules) == (100 + 50 + 50) * 10 * 3072 * 4     # check_every and n_planes are not work
    assert runtime.work(cfg, {}) == (100 + 50 + 50) * 10 * 3072          # no width declared: width 1
    assert runtime.work({"D": 100}) == 1.0                         # nothing to count: one unit


def test_the_estimate_is_quick_time_times_the_work_ratio(monkeypatch):
    monkeypatch.setattr(runtime, "QUICK_CPU_SECONDS", {"tunnels": 60.0})
    ratio = runtime.work(profiles.get("paper").chapter("tunnels")) / runtime.work(profiles.get("quick").chapter("tunnels"))
    missing = runtime.PAPER_TIMES.with_name("no_such_file.json")
    cpu = runtime.expected_time("tunnels", torch.device("cpu"), times=missing)
    gpu = runtime.expected_time("tunnels", torch.device("cuda"), times=missing)
    assert "estimate" in cpu and "estimate" in gpu and "GPU speed-up" in gpu and "GPU" not in cpu
    assert f"{ratio:.0f} times the work" in cpu and "measured 60 s" in cpu
    assert gpu.startswith(f"about {runtime._duration(60.0 * ratio / runtime.ASSUMED_GPU_SPEEDUP)} (estimate")
    assert cpu.startswith(f"about {runtime._duration(60.0 * ratio)} (estimate")


def _record(tmp_path, rows, gpu="NVIDIA H200", profile="paper"):
    path = tmp_path / "paper_times.json"
    path.write_text(json.dumps({"date": "2026-12-01", "profile": profile, "gpu": gpu, "chapters": rows}))
    return path


def test_a_measured_gpu_run_wins_over_the_estimate(tmp_path):
    path = _record(tmp_path, [{"chapter": "tunnels", "seconds": 2400.0, "status": "ok"}])
    got = runtime.expected_time("tunnels", torch.device("cuda"), times=path)
    assert got == "about 40 min (measured on NVIDIA H200, 2026-12-01)"
    assert "estimate" in runtime.expected_time("tunnels", torch.device("cpu"), times=path)   # a GPU time is no CPU time


def test_measured_rows_are_found_by_the_chapters_file_name(tmp_path):
    path = _record(tmp_path, [{"chapter": "toy_model", "seconds": 30.0, "status": "ok"},
                              {"chapter": "local_geometry", "seconds": 7200.0, "status": "error: x"}])
    assert runtime.expected_time("toy_model", torch.device("cuda"), times=path).startswith("about 30 s (measured")
    assert "estimate" in runtime.expected_time("local_geometry", torch.device("cuda"), times=path)   # failed: not a time


def test_the_chapters_keys_are_their_file_names():
    """A chapter's settings, its measured times and its set-up call all use the chapter's file name."""
    book = Path(__file__).resolve().parents[1] / "book"
    names = {p.stem for p in book.glob("*.ipynb")}
    for profile in ("quick", "paper", "smoke"):
        assert set(profiles.get(profile).chapters) == names, profile
    assert set(runtime.QUICK_CPU_SECONDS) <= names
    for name in names:
        assert f'lsl.book.setup("{name}")' in (book / f"{name}.py").read_text(), name


def test_the_writer_of_measured_times_writes_where_the_set_up_reads(tmp_path, monkeypatch):
    """benchmarks.paper_profile, run with its defaults, writes the file that expected_time reads by default
    (in a temporary tree; the chapter run itself is replaced by a recorded row)."""
    from benchmarks import paper_profile

    monkeypatch.setattr(runtime, "PAPER_TIMES", tmp_path / "lsl" / "book" / "paper_times.json")
    runtime.PAPER_TIMES.parent.mkdir(parents=True)
    monkeypatch.setattr(paper_profile, "run_chapter",
                        lambda path, timeout, env: {"chapter": path.stem, "seconds": 1500.0, "status": "ok"})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Fake GPU")
    paper_profile.main(["--chapters", "tunnels"])
    assert json.loads(runtime.PAPER_TIMES.read_text())["chapters"][0]["chapter"] == "tunnels"
    assert runtime.expected_time("tunnels", torch.device("cuda")) .startswith("about 25 min (measured on Fake GPU")


def test_measured_times_ship_with_the_package():
    """The default file sits inside the package, and the wheel takes it (package data)."""
    assert runtime.PAPER_TIMES.parent == Path(runtime.__file__).resolve().parent
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"book/paper_times.json"' in pyproject


@pytest.mark.parametrize("gpu,profile", [(None, "paper"), ("NVIDIA H200", "quick")])
def test_runs_that_are_not_paper_on_a_gpu_are_not_used(tmp_path, gpu, profile):
    path = _record(tmp_path, [{"chapter": "tunnels", "seconds": 10.0, "status": "ok"}], gpu=gpu, profile=profile)
    assert "estimate" in runtime.expected_time("tunnels", torch.device("cuda"), times=path)
