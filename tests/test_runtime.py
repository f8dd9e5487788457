"""Tests for lsl.runtime: how a chapter chooses its profile and device."""

from __future__ import annotations

import os
import sys

import pytest
import torch

from lsl import profiles, runtime


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ("LSL_PROFILE", "LSL_DEVICE"):     # setup() writes LSL_PROFILE: setenv first so that it is restored
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


def _never(*_):
    raise AssertionError("the network must not be probed here")


@pytest.mark.parametrize("gpu,network,expected", [
    (True, True, "paper"),
    (True, False, "quick"),
    (False, True, "quick"),
    (False, False, "quick"),
])
def test_gpu_and_network_choose_paper_else_quick(gpu, network, expected):
    name, reason = runtime.choose_profile({}, gpu=gpu, network=network)
    assert name == expected and reason


def test_network_is_probed_only_on_a_gpu():
    assert runtime.choose_profile({}, gpu=False, network=_never)[0] == "quick"
    assert runtime.choose_profile({}, gpu=True, network=lambda: True)[0] == "paper"
    assert runtime.choose_profile({}, gpu=True, network=lambda: False)[0] == "quick"


@pytest.mark.parametrize("gpu,network", [(True, True), (False, False)])
@pytest.mark.parametrize("wanted", ["quick", "paper", " PAPER "])
def test_the_environment_variable_wins(gpu, network, wanted):
    name, reason = runtime.choose_profile({"LSL_PROFILE": wanted}, gpu=gpu, network=_never)
    assert name == wanted.strip().lower() and "LSL_PROFILE" in reason


def test_an_unknown_profile_is_an_error():
    with pytest.raises(ValueError, match="unknown profile"):
        runtime.choose_profile({"LSL_PROFILE": "huge"}, gpu=False, network=False)


def test_setup_on_a_cpu_picks_quick_and_says_so(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "has_network", _never)
    P, cfg, device = runtime.setup("toy")
    assert P.name == "quick" and device == torch.device("cpu")
    assert dict(cfg) == dict(profiles.get("quick").chapter("toy"))
    assert os.environ["LSL_PROFILE"] == "quick" and profiles.current() is P
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "profile quick" in out[0] and "device cpu" in out[0] and "'toy'" in out[0]


def test_setup_on_a_gpu_with_network_picks_paper(monkeypatch, capsys):
    monkeypatch.setattr(runtime.profiles, "device", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Fake GPU")
    monkeypatch.setattr(runtime, "has_network", lambda: True)
    P, cfg, device = runtime.setup("tunnels")
    assert P.name == "paper" and device.type == "cuda" and cfg.dataset == "fashion_mnist"
    assert os.environ["LSL_PROFILE"] == "paper"
    assert "profile paper (GPU and network)" in capsys.readouterr().out


def test_setup_honours_both_variables(monkeypatch, capsys):
    monkeypatch.setenv("LSL_PROFILE", "paper")
    monkeypatch.setenv("LSL_DEVICE", "cpu")
    monkeypatch.setattr(runtime, "has_network", _never)
    P, _, device = runtime.setup("toy", verbose=False)
    assert P.name == "paper" and device == torch.device("cpu")
    assert capsys.readouterr().out == ""


def test_setup_downloads_paper_data_only_on_colab(monkeypatch):
    fetched = []
    monkeypatch.setattr("lsl.data.download", lambda name, root=None: fetched.append(name))
    monkeypatch.setenv("LSL_PROFILE", "paper")
    runtime.setup("hyperplanes", verbose=False)
    assert fetched == []
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    runtime.setup("hyperplanes", verbose=False)
    assert fetched == ["mnist"]
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
