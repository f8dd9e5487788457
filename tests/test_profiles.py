"""Tests for lsl.profiles: choosing the profile and the device from the environment."""

from __future__ import annotations

import pytest
import torch

from lsl import profiles


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv("LSL_PROFILE", raising=False)
    monkeypatch.delenv("LSL_DEVICE", raising=False)


def test_default_profile_is_quick():
    assert profiles.profile_name() == "quick"
    assert profiles.current().name == "quick"
    assert profiles.current() is profiles.PROFILES["quick"]


@pytest.mark.parametrize("value", ["paper", "PAPER", " paper "])
def test_paper_profile_from_environment(monkeypatch, value):
    monkeypatch.setenv("LSL_PROFILE", value)
    assert profiles.current().name == "paper"


def test_empty_profile_variable_means_quick(monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "")
    assert profiles.current().name == "quick"


def test_unknown_profile_names_the_allowed_ones(monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "huge")
    with pytest.raises(ValueError, match=r"unknown profile 'huge'.*\['paper', 'quick'\]"):
        profiles.current()
    with pytest.raises(ValueError, match="quick.*paper|paper.*quick"):
        profiles.get("fast")


def test_paper_is_at_least_as_large_as_quick():
    q, p = profiles.get("quick").chapter("toy"), profiles.get("paper").chapter("toy")
    assert set(q) == set(p)
    assert p.D_probe >= q.D_probe and p.n_planes >= q.n_planes and p.plane_steps >= q.plane_steps


def test_chapter_config_access():
    cfg = profiles.get("quick").chapter("toy")
    assert cfg.D_tunnel == cfg["D_tunnel"] == profiles.PROFILES["quick"].chapters["toy"]["D_tunnel"]
    assert len(cfg) == len(profiles.PROFILES["quick"].chapters["toy"])
    assert dict(cfg)["n_planes"] == cfg.n_planes
    assert "D_tunnel" in cfg
    assert "toy" in repr(cfg)
    with pytest.raises(AttributeError, match=r"chapter 'toy' has no setting 'D_tunel'; known: \[.*'D_tunnel'"):
        cfg.D_tunel
    with pytest.raises(KeyError):
        cfg["D_tunel"]
    with pytest.raises(TypeError):
        cfg._values["D_tunnel"] = 1  # read-only
    assert not hasattr(cfg, "no_such_setting")


def test_unknown_chapter():
    with pytest.raises(KeyError, match=r"no settings for chapter 'nope'.*toy"):
        profiles.get("quick").chapter("nope")


def test_device_respects_environment(monkeypatch):
    monkeypatch.setenv("LSL_DEVICE", "cpu")
    assert profiles.device() == torch.device("cpu")
    monkeypatch.setenv("LSL_DEVICE", " cpu ")
    assert profiles.device() == torch.device("cpu")
    monkeypatch.delenv("LSL_DEVICE")
    assert profiles.device() == torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised when CUDA is missing")
@pytest.mark.parametrize("value", ["cuda", "cuda:1"])
def test_device_cuda_without_gpu_is_an_error(monkeypatch, value):
    monkeypatch.setenv("LSL_DEVICE", value)
    with pytest.raises(RuntimeError, match=f"LSL_DEVICE={value}.*no CUDA device.*cpu"):
        profiles.device()


def test_bad_device_string(monkeypatch):
    monkeypatch.setenv("LSL_DEVICE", "not-a-device")
    with pytest.raises(RuntimeError):
        profiles.device()
