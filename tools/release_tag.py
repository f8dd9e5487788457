"""The tag ``v<version>`` that the chapters' first cell installs on Colab, kept honest.

Every chapter's first cell installs the package at the tag ``v<version>`` of ``pyproject.toml``
(``tools/setup_cell.py``). So a published book is only right if that tag holds the package the book
was built from. The publishing workflow (``.github/workflows/book.yml``) runs this after ``make test``:

- no tag ``v<version>`` yet: create it on the commit being built (and push it with ``--push``);
- the tag exists and the package (``lsl/``, ``pyproject.toml``) is the same there as here: nothing to do;
- the tag exists but the package has changed since: fail, saying to bump ``version`` in
  ``pyproject.toml``, since readers on Colab would otherwise install older code than the book shows.

Usage::

    python -m tools.release_tag            # say what would happen; exit 1 if the version must be bumped
    python -m tools.release_tag --push     # create the tag if needed and push it to origin
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: What the installed package is made of: a change here needs a new version.
PACKAGE_PATHS = ("lsl", "pyproject.toml")


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=check)


def version_tag(root: Path = ROOT) -> str:
    """``v<version>`` from ``root/pyproject.toml``."""
    return "v" + tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def status(root: Path = ROOT) -> str:
    """``"create"`` (no such tag yet), ``"ok"`` (the tag holds this package) or ``"stale"`` (bump the version)."""
    tag = version_tag(root)
    if _git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}", check=False).returncode != 0:
        return "create"
    same = _git(root, "diff", "--quiet", tag, "HEAD", "--", *PACKAGE_PATHS, check=False).returncode == 0
    return "ok" if same else "stale"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--push", action="store_true", help="create the tag if needed and push it to origin")
    args = parser.parse_args(argv)
    tag, state = version_tag(), status()
    if state == "stale":
        print(f"release_tag: {tag} exists but lsl/ or pyproject.toml changed since; the chapters' first cell "
              f"would install the old code on Colab. Bump [project] version in pyproject.toml.", file=sys.stderr)
        return 1
    if state == "ok":
        print(f"release_tag: {tag} already holds this package")
        return 0
    print(f"release_tag: {tag} does not exist yet" + ("; creating it on HEAD" if args.push else ""))
    if args.push:
        _git(ROOT, "-c", "user.name=lsl-book release", "-c", "user.email=release@lsl-book.invalid",
             "tag", "-a", tag, "-m", f"lsl-book {tag[1:]}: the version the book's chapters install")
        _git(ROOT, "push", "origin", tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
