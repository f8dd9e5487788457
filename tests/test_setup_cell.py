"""Every chapter opens with the same set-up cell, and that cell does the right thing on Colab and elsewhere.

The first code cell of every ``book/*.ipynb`` (new chapters included) must be identical apart from
the chapter's name. Executed with ``google.colab`` faked in ``sys.modules`` (and ``subprocess.run``
mocked), it must pip-install lsl from the repository named in ``_config.yml`` at the branch the book
is built from; outside Colab it must install nothing. Either way it returns the profile, the
chapter's settings and the device chosen by :func:`lsl.runtime.setup`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from pathlib import Path
from unittest import mock

import pytest
import torch
import yaml

import lsl
from lsl import profiles, runtime

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
SETUP_CALL = re.compile(r'lsl\.runtime\.setup\("(?P<chapter>[A-Za-z0-9_]+)"\)')


def first_code_cell(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cell"
    src = code[0]["source"]
    return "".join(src) if isinstance(src, list) else src


def chapter_of(source: str) -> str:
    m = SETUP_CALL.search(source)
    assert m, f"the first code cell does not call lsl.runtime.setup(\"<chapter>\"):\n{source}"
    return m["chapter"]


def install_spec() -> str:
    """What the set-up cell must install: the book's repository, at the branch the book is built from."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    return f"lsl @ git+{repo['url']}@{repo['branch']}"


@pytest.fixture
def fresh_env(monkeypatch):
    for var in ("LSL_PROFILE", "LSL_DEVICE"):   # setup() writes LSL_PROFILE: setenv first so that it is restored
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "has_network", lambda *a, **k: pytest.fail("no network probe on a CPU"))
    pip = mock.Mock(return_value=subprocess.CompletedProcess(args=[], returncode=0))
    monkeypatch.setattr(subprocess, "run", pip)
    return pip


def run_cell(source: str, name: str) -> dict:
    namespace: dict = {"__name__": "__main__"}
    exec(compile(source, name, "exec"), namespace)
    return namespace


def test_there_are_chapters():
    assert len(CHAPTERS) >= 4


def test_first_cells_are_identical_apart_from_the_chapter():
    sources = {p.name: first_code_cell(p) for p in CHAPTERS}
    names = {nb: chapter_of(src) for nb, src in sources.items()}
    templates = {SETUP_CALL.sub('lsl.runtime.setup("<chapter>")', src) for src in sources.values()}
    assert len(templates) == 1, "the set-up cells differ:\n\n" + "\n-----\n".join(sorted(templates))
    assert len(set(names.values())) == len(names), f"two chapters use the same settings: {names}"
    for nb, chapter in names.items():
        for profile in profiles.PROFILES.values():
            assert chapter in profile.chapters, f"{nb}: profile {profile.name!r} has no chapter {chapter!r}"


def test_the_install_targets_this_books_repository_and_version():
    spec = install_spec()
    assert spec == "lsl @ git+https://github.com/lsl-book/lsl@main"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{lsl.__version__}"' in pyproject, "lsl.__version__ and pyproject.toml disagree"
    for path in CHAPTERS:
        assert f'"{spec}"' in first_code_cell(path), f"{path.name} does not install {spec!r}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_on_colab_the_cell_installs_lsl_then_sets_up(path, fresh_env, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    source = first_code_cell(path)
    ns = run_cell(source, path.name)
    fresh_env.assert_called_once()
    (cmd,), kwargs = fresh_env.call_args
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    assert install_spec() in cmd and kwargs.get("check") is True
    chapter = chapter_of(source)
    assert ns["P"].name == "quick" and ns["device"] == torch.device("cpu")   # a CPU runtime: quick
    assert dict(ns["cfg"]) == dict(profiles.get("quick").chapter(chapter))
    assert "[Google Colab]" in capsys.readouterr().out


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_outside_colab_the_cell_installs_nothing(path, fresh_env, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    ns = run_cell(first_code_cell(path), path.name)
    fresh_env.assert_not_called()
    assert ns["P"].name == "quick" and ns["device"] == torch.device("cpu")


def test_on_a_colab_gpu_with_network_the_cell_chooses_paper(fresh_env, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(profiles, "device", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Tesla T4")
    monkeypatch.setattr(runtime, "has_network", lambda *a, **k: True)
    fetched = []
    monkeypatch.setattr("lsl.data.download", lambda name, root=None: fetched.append(name))
    path = next(p for p in CHAPTERS if p.stem == "tunnels")
    ns = run_cell(first_code_cell(path), path.name)
    fresh_env.assert_called_once()
    assert ns["P"].name == "paper" and ns["device"].type == "cuda"
    assert fetched == ["fashion_mnist"]          # the chapter's paper dataset, fetched once on Colab


def test_the_variables_win_in_the_cell(fresh_env, monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "paper")
    monkeypatch.setenv("LSL_DEVICE", "cpu")
    path = CHAPTERS[0]
    ns = run_cell(first_code_cell(path), path.name)
    assert ns["P"].name == "paper" and ns["device"] == torch.device("cpu")
