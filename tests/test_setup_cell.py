"""Every chapter opens with the same set-up cell, and that cell does the right thing on Colab and elsewhere.

The first code cell of every ``book/*.ipynb`` (new chapters included) must be exactly
``tools.setup_cell.render(<chapter>)``: the same cell apart from the chapter's name, installing the
distribution named in ``pyproject.toml`` from ``[project.urls] Repository`` at the tag ``v<version>``
(the version the book is built from). Executed with ``google.colab`` faked in ``sys.modules`` (and
``subprocess.run`` mocked), it must pip-install exactly that; outside Colab it must install nothing.
Either way it returns the profile, the chapter's settings and the device chosen by
:func:`lsl.book.runtime.setup`. ``tests/test_colab_install.py`` runs the real install from a local copy.

The repository URL has one source, ``[project.urls] Repository``: ``_config.yml`` and every GitHub
URL written in the README, the book's pages and the package must name that repository.
"""

from __future__ import annotations

import json
import re
import tomllib
import subprocess
import sys
import types
from pathlib import Path
from unittest import mock

import pytest
import torch
import yaml

import lsl
from lsl.book import profiles, runtime
from tools import setup_cell

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
SETUP_CALL = setup_cell.SETUP_CALL
first_code_cell = setup_cell.first_code_cell
PROJECT = setup_cell.project(ROOT)


def chapter_of(source: str) -> str:
    chapter = setup_cell.chapter_of(source)
    assert chapter, f"the first code cell does not call lsl.book.runtime.setup(\"<chapter>\"):\n{source}"
    return chapter


def install_spec() -> str:
    """What the set-up cell must install: the distribution, from the book's repository, at this version's tag."""
    return PROJECT.install_spec()


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
    problems = setup_cell.check(CHAPTERS, ROOT)
    assert not problems, "\n\n".join(problems)
    names = {p.name: chapter_of(first_code_cell(p)) for p in CHAPTERS}
    assert len(set(names.values())) == len(names), f"two chapters use the same settings: {names}"
    for nb, chapter in names.items():
        for profile in profiles.PROFILES.values():
            assert chapter in profile.chapters, f"{nb}: profile {profile.name!r} has no chapter {chapter!r}"


def test_the_check_notices_a_stale_cell(tmp_path):
    nb = json.loads(CHAPTERS[0].read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    source = first_code_cell(CHAPTERS[0])
    for stale in (source.replace(f"@{PROJECT.tag}", "@main"),                         # a moving branch
                  source.replace(PROJECT.repository, "https://github.com/someone/else"),
                  source.replace(f'"{PROJECT.name} @', '"lsl @')):                      # the old name
        assert stale != source
        cell["source"] = stale
        path = tmp_path / CHAPTERS[0].name
        path.write_text(json.dumps(nb))
        (problem,) = setup_cell.check([path], ROOT)
        assert "differs from the set-up cell" in problem and setup_cell.render(chapter_of(source)) in problem


def test_the_install_targets_this_books_repository_and_version():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert PROJECT.name == meta["name"] == "lsl-book"          # not `lsl`: that name is taken on PyPI
    assert lsl.__version__ == meta["version"], "lsl.__version__ and pyproject.toml disagree"
    spec = install_spec()
    assert spec == f"lsl-book @ git+{meta['urls']['Repository']}@v{meta['version']}"
    for path in CHAPTERS:
        assert f'"{spec}"' in first_code_cell(path), f"{path.name} does not install {spec!r}"


def test_config_names_the_one_repository():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] == PROJECT.repository
    assert config["repository"]["branch"] == "main"      # the Colab button opens the chapters on main


GITHUB_URL = re.compile(r"github\.com/(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?(?=[/@\s\"'`)>#]|$)")


def _files_that_name_the_repository() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "_config.yml", ROOT / "environment.yml", ROOT / "CITATION.cff"]
    files += sorted((ROOT / "book").glob("*.md")) + sorted((ROOT / "book").glob("*.py"))
    files += sorted((ROOT / "lsl").glob("*.py")) + sorted((ROOT / ".github").rglob("*.yml"))
    return [f for f in files if f.exists()]


def test_every_repository_url_is_the_one_in_pyproject():
    want = PROJECT.repository.split("github.com/")[1]
    found = {}
    for path in _files_that_name_the_repository():
        for m in GITHUB_URL.finditer(path.read_text()):
            found.setdefault(m["repo"], set()).add(path.relative_to(ROOT).as_posix())
    assert want in found, "the README or the book should link the repository"
    others = {repo: sorted(where) for repo, where in found.items() if repo != want and not repo.startswith("actions/")}
    assert not others, f"GitHub URLs other than {PROJECT.repository} (pyproject.toml [project.urls]): {others}"


def test_no_page_installs_the_unrelated_lsl():
    # `pip install lsl` installs the LWA Software Library; every install line names lsl-book.
    bad = re.compile(r"pip install[^\n`]*?(?<![\w/-])[\"']?lsl(?![\w-])(?!/)")   # not the URL's /lsl
    for path in _files_that_name_the_repository():
        for line in path.read_text().splitlines():
            assert not bad.search(line), f"{path.relative_to(ROOT)} installs `lsl`, not lsl-book: {line.strip()}"


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


def test_on_a_colab_gpu_asked_for_paper_the_cell_fetches_the_data(fresh_env, monkeypatch):
    # Which profile a GPU gets by default is lsl.book.runtime's business (tests/test_runtime.py); asked for
    # `paper`, the cell installs lsl and fetches the chapter's paper dataset once.
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv("LSL_PROFILE", "paper")
    monkeypatch.setattr(profiles, "device", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Tesla T4")
    monkeypatch.setattr(runtime, "has_network", lambda *a, **k: True)
    fetched = []
    monkeypatch.setattr("lsl.data.datasets.download", lambda name, root=None: fetched.append(name))
    path = next(p for p in CHAPTERS if p.stem == "tunnels")
    ns = run_cell(first_code_cell(path), path.name)
    fresh_env.assert_called_once()
    assert ns["P"].name == "paper" and ns["device"].type == "cuda"
    assert fetched == ["mnist", "fashion_mnist"]  # the chapter's paper datasets (its network's, then its robustness
                                                  # table's), each fetched once on Colab


def test_the_variables_win_in_the_cell(fresh_env, monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "paper")
    monkeypatch.setenv("LSL_DEVICE", "cpu")
    path = CHAPTERS[0]
    ns = run_cell(first_code_cell(path), path.name)
    assert ns["P"].name == "paper" and ns["device"] == torch.device("cpu")
