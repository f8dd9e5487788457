"""environment.yml (conda / Binder) agrees with pyproject.toml and constraints.txt.

Every requirement of the package and of its ``book`` and ``test`` extras is in environment.yml and
nothing else is; a tool pinned in constraints.txt has the same exact version there; any other
requirement has the same specifier as in pyproject.toml; torch is the Makefile's ``TORCH_SPEC``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
from packaging.requirements import Requirement  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["book"] + project["optional-dependencies"]["test"]
    out = {}
    for text in reqs:
        req = Requirement(text)
        out[canonicalize_name(req.name)] = req
    return out


def environment_requirements() -> tuple[dict, list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    reqs = {}
    for line in pip:
        if line.startswith("-"):                     # --extra-index-url, -e .
            continue
        req = Requirement(line)
        reqs[canonicalize_name(req.name)] = req
    return reqs, conda + [p for p in pip if p.startswith("-")]


def constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_the_same_requirements():
    env, _ = environment_requirements()
    py = pyproject_requirements()
    assert set(env) == set(py), (f"only in environment.yml: {sorted(set(env) - set(py))}; "
                                 f"only in pyproject.toml: {sorted(set(py) - set(env))}")


def test_pins_and_specifiers_agree():
    env, _ = environment_requirements()
    py, pins = pyproject_requirements(), constraints()
    torch_spec = re.search(r"^TORCH_SPEC \?= (\S+)$", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
    for name, req in env.items():
        if name == "torch":
            assert str(req.specifier) == Requirement(torch_spec).specifier.__str__(), f"torch: {req} vs {torch_spec}"
            version = next(iter(req.specifier)).version
            assert py[name].specifier.contains(version), f"torch {version} is outside pyproject's {py[name].specifier}"
        elif name in pins:
            assert str(req.specifier) == f"=={pins[name]}", f"{name}: {req.specifier} in environment.yml, =={pins[name]} in constraints.txt"
            assert py[name].specifier.contains(pins[name]), f"{name}: the pin {pins[name]} is outside pyproject's {py[name].specifier}"
        else:
            assert req.specifier == py[name].specifier, f"{name}: {req.specifier} in environment.yml, {py[name].specifier} in pyproject.toml"


def test_python_and_the_package_itself():
    _, other = environment_requirements()
    assert "python=3.11" in other, "the toolchain's pins need Python 3.11 (constraints.txt)"
    assert "-e ." in other, "the environment installs the package (lsl-book) from the checkout"
    assert yaml.safe_load((ROOT / "environment.yml").read_text())["name"] == "lsl-book"
