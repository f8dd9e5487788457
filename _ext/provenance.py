"""A Sphinx extension for the book: every page says what it was built from.

A line at the end of every HTML page's article: the profile the chapters ran in (``LSL_PROFILE``,
default ``quick``), the version of the ``lsl`` package, the git commit (with "+ local changes" when
the work tree differs from it) and the build date (UTC; ``SOURCE_DATE_EPOCH`` if set, for
reproducible builds), plus "student edition" when ``LSL_EDITION=student`` (``_ext/edition.py``).

The text is a config value that triggers an HTML rebuild, so when the commit or the date changes every
page is rewritten with the new line (without re-reading the documents).
"""

from __future__ import annotations

import datetime as _dt
import html
import os
import subprocess
from pathlib import Path


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def package_version() -> str:
    """The installed version of ``lsl`` (distribution ``lsl-book``; without importing it), or "unknown"."""
    from importlib import metadata

    try:          # the import name is lsl; on PyPI that distribution name is another project
        return metadata.version("lsl-book")
    except metadata.PackageNotFoundError:
        return "unknown"


def commit(root: Path) -> str:
    """The short commit of ``root``'s repository, "+ local changes" if tracked files differ; "unknown" outside git."""
    head = _git(root, "rev-parse", "--short=10", "HEAD")
    if not head:
        return "unknown"
    dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    return f"{head} + local changes" if dirty else head


def build_date() -> str:
    """Today's date in UTC (or that of ``SOURCE_DATE_EPOCH``), as YYYY-MM-DD."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch else _dt.datetime.now(_dt.timezone.utc)
    return when.strftime("%Y-%m-%d")


def provenance(root: Path) -> dict[str, str]:
    """The facts the line shows."""
    return {
        "profile": os.environ.get("LSL_PROFILE", "quick"),
        "version": package_version(),
        "commit": commit(root),
        "date": build_date(),
        "edition": "student edition" if os.environ.get("LSL_EDITION", "").lower() == "student" else "",
    }


def render(facts: dict[str, str]) -> str:
    """The HTML line, e.g. "Built on 2026-12-02 from lsl 0.1.0, commit 1a2b3c4d5e, profile quick"."""
    text = (f"Built on {facts['date']} from lsl {facts['version']}, commit {facts['commit']}, "
            f"in the {facts['profile']} profile")
    if facts.get("edition"):
        text += f"; {facts['edition']}"
    return f'<p class="lsl-provenance" style="font-size: 0.8em; opacity: 0.75; margin-top: 2em;">{html.escape(text)}.</p>'


def _configure(app, config) -> None:
    config.lsl_provenance = render(provenance(Path(app.confdir)))


def add_line(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: append the line to the page's body."""
    if "body" in context and app.config.lsl_provenance:
        context["body"] = context["body"] + app.config.lsl_provenance


def setup(app):
    app.add_config_value("lsl_provenance", "", "html")
    app.connect("config-inited", _configure)
    app.connect("html-page-context", add_line)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
