"""The chapters' first code cell (the set-up cell), rendered from ``pyproject.toml``.

Every chapter ``book/<name>.ipynb`` opens with the same code cell apart from the chapter's name (the
key of :func:`lsl.book.setup`). On Google Colab it pip-installs the distribution named in
``[project] name`` from the repository in ``[project.urls] Repository`` at the tag ``v<version>``,
the version the book was built from (the publishing workflow creates that tag; see
``tools/release_tag.py``); everywhere it then calls ``lsl.book.setup``. The repository URL is
written nowhere else by hand: ``tests/test_setup_cell.py`` compares every chapter's first cell with
:func:`render`, and ``_config.yml`` and the README with :func:`project`.

Usage::

    python -m tools.setup_cell CHAPTER    # print the cell for a new chapter (paste it into book/<name>.py)
    python -m tools.setup_cell --check    # check every book/*.ipynb; exit 1 and say what differs
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP_CALL = re.compile(r'lsl\.book\.setup\("(?P<chapter>[A-Za-z0-9_]+)"\)')

TEMPLATE = '''\
# Set-up. On a fresh Google Colab runtime: install lsl (the package {name}) at {tag}, the version
# this book was built from. Everywhere: choose the device and the profile, and print the choice.
import sys, subprocess
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "{spec}"], check=True)
import lsl.book
P, cfg, device = lsl.book.setup("{chapter}")'''


@dataclass(frozen=True)
class Project:
    """What ``pyproject.toml`` says about the distribution.

    Attributes:
        name: The distribution name (``[project] name``), e.g. ``lsl-book``.
        version: ``[project] version``.
        repository: ``[project.urls] Repository``, the one source of the repository URL.
    """

    name: str
    version: str
    repository: str

    @property
    def tag(self) -> str:
        """The git tag of this version, ``v<version>``."""
        return f"v{self.version}"

    def install_spec(self, url: str | None = None) -> str:
        """The pip requirement the set-up cell installs.

        Args:
            url: The repository URL to install from; ``None`` for :attr:`repository`. A test passes a
                ``file://`` URL of a local copy.

        Returns:
            ``"<name> @ git+<url>@v<version>"``.
        """
        return f"{self.name} @ git+{url or self.repository}@{self.tag}"


def project(root: Path = ROOT) -> Project:
    """Read the distribution's name, version and repository URL from ``pyproject.toml``.

    Args:
        root: The repository root holding ``pyproject.toml``.

    Returns:
        The :class:`Project`.

    Raises:
        ValueError: If ``[project.urls] Repository`` is missing.
    """
    meta = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    repo = meta.get("urls", {}).get("Repository")
    if not repo:
        raise ValueError("pyproject.toml has no [project.urls] Repository; the set-up cell installs from it")
    return Project(meta["name"], meta["version"], repo.rstrip("/"))


def render(chapter: str, root: Path = ROOT) -> str:
    """The set-up cell of a chapter, exactly as it must stand in ``book/<name>.ipynb``.

    Args:
        chapter: The chapter's key for :func:`lsl.book.setup` (its file name, e.g. ``"toy_model"``), letters, digits
            and underscores.
        root: The repository root.

    Returns:
        The cell's source, without a trailing newline.

    Raises:
        ValueError: If ``chapter`` is not a valid key.
    """
    if not re.fullmatch(r"[A-Za-z0-9_]+", chapter or ""):
        raise ValueError(f"chapter must be a key of lsl.book.setup (letters, digits, _), got {chapter!r}")
    p = project(root)
    return TEMPLATE.format(name=p.name, tag=p.tag, spec=p.install_spec(), chapter=chapter)


def first_code_cell(path: Path) -> str:
    """The source of the first code cell of a notebook.

    Args:
        path: An ``.ipynb`` file.

    Returns:
        The cell's source as one string.

    Raises:
        ValueError: If the notebook has no code cell.
    """
    cells = json.loads(Path(path).read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    if not code:
        raise ValueError(f"{path} has no code cell; a chapter starts with the set-up cell (python -m tools.setup_cell)")
    src = code[0]["source"]
    return "".join(src) if isinstance(src, list) else src


def chapter_of(source: str) -> str | None:
    """The chapter key a set-up cell passes to ``lsl.book.setup``, or ``None`` if it calls none."""
    m = SETUP_CALL.search(source)
    return m["chapter"] if m else None


def check(paths: list[Path], root: Path = ROOT) -> list[str]:
    """Compare each notebook's first code cell with :func:`render`.

    Args:
        paths: The ``.ipynb`` files.
        root: The repository root.

    Returns:
        One message per notebook whose cell differs (empty if all agree).
    """
    problems = []
    for path in paths:
        source = first_code_cell(path).rstrip("\n")
        chapter = chapter_of(source)
        if chapter is None:
            problems.append(f"{path.name}: the first code cell does not call lsl.book.setup(\"<chapter>\")")
            continue
        want = render(chapter, root)
        if source != want:
            problems.append(f"{path.name}: the first code cell differs from the set-up cell; it must read\n{want}\n"
                            f"(print it with: python -m tools.setup_cell {chapter}; edit book/{path.stem}.py, "
                            f"then jupytext --sync book/{path.stem}.py)")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: print a chapter's set-up cell, or ``--check`` every chapter."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", nargs="?", help="the chapter's key for lsl.book.setup, e.g. toy")
    parser.add_argument("--check", action="store_true", help="check the first cell of every book/*.ipynb")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(sorted((ROOT / "book").glob("*.ipynb")))
        print("\n\n".join(problems) or "every chapter's set-up cell is current")
        return 1 if problems else 0
    if not args.chapter:
        parser.error("name a chapter (e.g. toy) or pass --check")
    print(render(args.chapter))
    return 0


if __name__ == "__main__":
    sys.exit(main())
