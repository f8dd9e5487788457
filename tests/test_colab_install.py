"""The ways a reader installs the package, tried in fresh virtual environments.

- **Colab.** A fresh environment holding what a Colab runtime has before the first cell runs (torch,
  ipykernel, nbclient; no myst-nb, jupytext or any of the book's toolchain). A chapter is executed
  there by nbclient with its first cell exactly as committed, except that the repository URL points
  at a local clone (``git+file://``) and ``google.colab`` is importable. So the cell's pip command
  really installs ``lsl-book`` at the tag ``v<version>`` from git, with its dependencies, and the
  chapter then runs on what it installed (``lsl`` is imported from the environment, not this checkout).
- **Wheel and sdist.** Both are built from a clone and installed, one after the other, into the same
  fresh environment (after the Colab test it already holds the dependencies, so only ``lsl-book``
  itself is replaced; run alone, the wheel's install brings them); each must import from that
  environment and report its version.

The clone is of ``HEAD`` (uncommitted changes are not part of it), with the tag ``v<version>`` created
on it when the repository has none, as ``tools/release_tag.py`` does when the book is published.
torch is installed once, into an environment of its own that both fresh environments see (a ``.pth``
file), as Colab has torch preinstalled; everything else is installed into each fresh environment.
These tests take about a minute and a half; they are the only way to know the install path works.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parent.parent
TORCH_SPEC = re.search(r"^TORCH_SPEC \?= (\S+)$", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
TAG = f"v{PROJECT['version']}"
#: The chapter executed in the Colab environment: the shortest one in the quick profile.
CHAPTER = "permutations"

pytestmark = pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git repository (a clone of it is installed)")


def run(cmd, **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    return out


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


@pytest.fixture(scope="module")
def torch_layer(tmp_path_factory) -> Path:
    """torch (the Makefile's TORCH_SPEC) in an environment of its own: the preinstalled layer of Colab."""
    base = tmp_path_factory.mktemp("torch_layer") / "venv"
    run([sys.executable, "-m", "venv", base])
    run([base / "bin" / "python", "-m", "pip", "install", "-q", TORCH_SPEC])
    return site_packages(base)


def fresh_venv(path: Path, torch_layer: Path, *packages: str) -> Path:
    """A new virtual environment with an up-to-date pip that sees torch in ``torch_layer`` (as a
    Colab runtime has torch preinstalled beneath the user's packages); then ``packages``."""
    run([sys.executable, "-m", "venv", path])
    (site_packages(path) / "torch_layer.pth").write_text(f"{torch_layer}\n")
    python = path / "bin" / "python"
    run([python, "-m", "pip", "install", "-q", "--upgrade", "pip", *packages])
    return python


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A clone of HEAD with the tag the chapters' first cell installs."""
    repo = tmp_path_factory.mktemp("repo") / "lsl"
    run(["git", "clone", "-q", ROOT, repo])
    if subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/tags/{TAG}"], cwd=repo,
                      capture_output=True).returncode != 0:
        run(["git", "-c", "user.name=test", "-c", "user.email=test@test", "tag", TAG], cwd=repo)
    return repo


@pytest.fixture(scope="module")
def colab_python(tmp_path_factory, torch_layer) -> Path:
    """The Python of a fresh environment as a Colab runtime has it: torch beneath, ipykernel and nbclient."""
    return fresh_venv(tmp_path_factory.mktemp("colab") / "venv", torch_layer, "ipykernel", "nbclient")


def colab_notebook(clone: Path) -> nbformat.NotebookNode:
    """The chapter as committed, its first cell installing from the clone, on a pretend Colab runtime."""
    nb = nbformat.read(ROOT / "book" / f"{CHAPTER}.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    url = PROJECT["urls"]["Repository"]
    assert f"git+{url}@{TAG}" in first.source, "the first cell installs the tag of this version from the repository"
    first.source = first.source.replace(f"git+{url}@{TAG}", f"git+file://{clone}@{TAG}")
    pretend = nbformat.v4.new_code_cell('import sys, types\nsys.modules["google.colab"] = types.ModuleType("google.colab")')
    nb.cells.insert(0, pretend)
    return nb


def test_on_colab_the_first_cell_installs_lsl_book_from_git_and_the_chapter_runs(clone, colab_python, tmp_path):
    python = colab_python
    missing = run([python, "-c", "import importlib.util as u; print([m for m in ('lsl', 'myst_nb', 'jupytext', 'sklearn') "
                                 "if u.find_spec(m)])"], cwd=tmp_path).stdout.strip()
    assert missing == "[]", f"the fresh environment already has {missing}"
    nb_path = tmp_path / f"{CHAPTER}.ipynb"
    nbformat.write(colab_notebook(clone), nb_path)
    script = (
        "import sys, nbformat\n"
        "from nbclient import NotebookClient\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "NotebookClient(nb, timeout=900, kernel_name='python3', resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
        "nbformat.write(nb, sys.argv[1])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env.update(LSL_PROFILE="quick", LSL_PROGRESS="0", MPLBACKEND="Agg",
               LSL_CACHE_DIR=str(tmp_path / "cache"), PATH=f"{python.parent}:{env.get('PATH', '')}")
    run([python, "-c", script, nb_path, tmp_path], cwd=tmp_path, env=env, timeout=1500)
    where = run([python, "-c", "import lsl, importlib.metadata as m; print(lsl.__file__); print(m.version('lsl-book'))"],
                cwd=tmp_path, env=env).stdout.split()
    assert where[0].startswith(str(python.parent.parent)), f"lsl came from {where[0]}, not the fresh environment"
    assert where[1] == PROJECT["version"]
    out = nbformat.read(nb_path, as_version=4)
    text = "\n".join(o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "[Google Colab]" in text, "the set-up line says it is on Colab"
    errors = [o for c in out.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


def test_wheel_and_sdist_install_into_a_clean_environment_and_import(clone, colab_python, tmp_path):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, clone])
    run([sys.executable, "-c", f"import setuptools.build_meta as b; b.build_sdist({str(dist)!r})"], cwd=clone)
    name = PROJECT["name"].replace("-", "_")
    wheel = next(dist.glob(f"{name}-{PROJECT['version']}-*.whl"))
    sdist = next(dist.glob(f"{name}-{PROJECT['version']}.tar.gz"))
    python = colab_python
    run([python, "-m", "pip", "uninstall", "-q", "-y", PROJECT["name"]])    # what the Colab test installed, if it ran
    check = ("import importlib.metadata as m, lsl, lsl.landscape, lsl.curvature.hessian; "
             "print(lsl.__file__); print(m.version('lsl-book'))")
    for artefact, extra in ((wheel, []), (sdist, ["--no-deps"])):     # the sdist's dependencies are the wheel's
        run([python, "-m", "pip", "install", "-q", *extra, artefact])
        out = run([python, "-c", check], cwd=tmp_path).stdout.split()
        assert out[0].startswith(str(python.parent.parent)) and out[1] == PROJECT["version"], (artefact.name, out)
        run([python, "-m", "pip", "uninstall", "-q", "-y", PROJECT["name"]])
