"""CITATION.cff is valid Citation File Format 1.2.0 and agrees with the package and the book's "How to cite" page."""

import datetime
import re
import tomllib
from pathlib import Path

import pytest
import yaml

import lsl

ROOT = Path(__file__).resolve().parents[1]

# CFF 1.2.0: required keys of the root object and of a reference (https://github.com/citation-file-format/citation-file-format/blob/1.2.0/schema.json)
ROOT_REQUIRED = {"cff-version", "message", "title", "authors"}
REFERENCE_REQUIRED = {"type", "title", "authors"}
# The CFF 1.2.0 schema's enumeration of reference and root types used here (a subset of the schema's list).
REFERENCE_TYPES = {"article", "book", "conference-paper", "generic", "proceedings", "report", "software", "thesis"}


@pytest.fixture(scope="module")
def cff():
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict), "CITATION.cff must be a YAML mapping"
    return data


def _check_authors(authors, where):
    assert isinstance(authors, list) and authors, f"{where}: authors must be a non-empty list"
    for a in authors:
        assert isinstance(a, dict), f"{where}: each author is a mapping, got {a!r}"
        # A person has family-names; an entity has name (CFF 1.2.0 definitions.person / definitions.entity).
        assert "family-names" in a or "name" in a, f"{where}: author {a!r} has neither 'family-names' nor 'name'"


def test_root_keys_and_version(cff):
    missing = ROOT_REQUIRED - cff.keys()
    assert not missing, f"CITATION.cff lacks the required keys {sorted(missing)}"
    assert cff["cff-version"] == "1.2.0"
    assert cff.get("type", "software") in {"software", "dataset"}
    _check_authors(cff["authors"], "CITATION.cff")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert str(cff["version"]) == project["version"] == lsl.__version__, "CITATION.cff version != package version"
    date = cff["date-released"]
    if isinstance(date, str):
        date = datetime.date.fromisoformat(date)
    assert isinstance(date, datetime.date)
    assert re.fullmatch(r"https://\S+", cff["repository-code"])


def test_references(cff):
    for i, ref in enumerate(cff.get("references", [])):
        missing = REFERENCE_REQUIRED - ref.keys()
        assert not missing, f"reference {i} lacks {sorted(missing)}"
        assert ref["type"] in REFERENCE_TYPES, f"reference {i}: unknown type {ref['type']!r}"
        _check_authors(ref["authors"], f"reference {i}")


def test_cite_page_agrees(cff):
    """The BibTeX on the book's "How to cite" page names the same title, version and repository."""
    page = (ROOT / "book" / "cite.md").read_text(encoding="utf-8")
    bib = re.search(r"```bibtex\n(.*?)```", page, re.S)
    assert bib, "book/cite.md has no ```bibtex block"
    entry = bib.group(1)
    assert cff["title"] in entry
    assert f"version = {{{cff['version']}}}" in entry
    assert cff["repository-code"] in entry
    assert entry.count("{") == entry.count("}"), "unbalanced braces in the BibTeX entry"


def test_the_bibliography_parses_and_every_cited_key_is_in_it():
    """book/references.bib is valid BibTeX with no key twice, and every {cite} of the book names one of its keys
    (the book build would stop at a broken entry only after the chapters have run)."""
    import re
    from pathlib import Path

    pybtex = __import__("pytest").importorskip("pybtex.database")
    root = Path(__file__).resolve().parents[1]
    text = (root / "book" / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,\s]+),", text, flags=re.M)
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    entries = pybtex.parse_string(text, "bibtex").entries
    assert set(entries) == set(keys)
    cited = set()
    for page in [*(root / "book").glob("*.md"), *(root / "book").glob("*.py")]:
        for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", page.read_text()):
            cited.update(k.strip() for k in group.split(","))
    assert cited and cited <= set(entries), sorted(cited - set(entries))
