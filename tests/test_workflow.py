"""The publishing workflow (.github/workflows/book.yml) cannot run here; check what can be checked.

It must parse, run on a push to main, run the README's test command with targets and variables that
exist in the Makefile, upload the folder the quick-profile build writes, and deploy it to GitHub Pages.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
MAKEFILE = (ROOT / "Makefile").read_text()


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps(job: str) -> list[dict]:
    return workflow()["jobs"][job]["steps"]


def test_it_parses_and_runs_on_a_push_to_main():
    wf = workflow()
    on = wf.get("on", wf.get(True))          # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == ["main"]
    assert set(wf["jobs"]) == {"test", "deploy"}
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"


def test_it_runs_the_readmes_test_command_with_make_targets_and_variables_that_exist():
    readme = (ROOT / "README.md").read_text()
    runs = [s["run"] for s in steps("test") if "run" in s]
    assert runs, "the test job runs nothing"
    targets = set(re.findall(r"^([A-Za-z][\w.-]*):", MAKEFILE, flags=re.M))
    variables = set(re.findall(r"^(?:export\s+)?([A-Z_]+)\s*[?:]?=", MAKEFILE, flags=re.M))
    for run in runs:
        for line in run.strip().splitlines():
            words = shlex.split(line)
            if words[:2] == [".venv/bin/python", "-m"] and words[2].startswith("tools."):
                module = ROOT / (words[2].replace(".", "/") + ".py")
                assert module.exists(), f"{words[2]}: no such module in the repository"
                continue
            assert words[0] == "make", f"the workflow runs {words[0]!r}: only make targets and tools/ are checked to exist"
            for word in words[1:]:
                if "=" in word:
                    assert word.split("=")[0] in variables, f"{word}: no such variable in the Makefile"
                else:
                    assert word in targets, f"make {word}: no such target in the Makefile"
    assert any(shlex.split(r)[:2] == ["make", "test"] for r in runs)
    assert "make test" in readme, "the README's test command is make test"


def test_it_publishes_the_folder_the_build_writes_and_deploys_it():
    upload = [s for s in steps("test") if s.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert len(upload) == 1
    # the quick profile builds into BOOK_OUT = . (the Makefile), i.e. _build/html
    assert "BOOK_OUT := $(if $(filter quick,$(LSL_PROFILE)),.," in MAKEFILE
    assert upload[0]["with"]["path"] == "_build/html"
    deploy = workflow()["jobs"]["deploy"]
    assert deploy["needs"] == "test"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
    versions = [s["uses"] for s in steps("test") + deploy["steps"] if "uses" in s]
    assert all(re.fullmatch(r"actions/[\w-]+@v\d+", v) for v in versions), f"pin every action to a major version: {versions}"


def test_the_release_tag_is_created_kept_or_refused(tmp_path):
    """tools.release_tag: the tag v<version> the chapters install must hold the package the book shows."""
    import subprocess

    from tools import release_tag

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "lsl-book"\nversion = "0.1.0"\n')
    (tmp_path / "lsl").mkdir()
    (tmp_path / "lsl" / "__init__.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "one")
    assert release_tag.version_tag(tmp_path) == "v0.1.0"
    assert release_tag.status(tmp_path) == "create"
    git("tag", "v0.1.0")
    assert release_tag.status(tmp_path) == "ok"
    (tmp_path / "README.md").write_text("prose\n")              # not the package: the tag still holds it
    git("add", ".")
    git("commit", "-qm", "docs")
    assert release_tag.status(tmp_path) == "ok"
    (tmp_path / "lsl" / "__init__.py").write_text("x = 2\n")    # the package changed: bump the version
    git("commit", "-qam", "code")
    assert release_tag.status(tmp_path) == "stale"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "lsl-book"\nversion = "0.1.1"\n')
    git("commit", "-qam", "bump")
    assert release_tag.status(tmp_path) == "create"
