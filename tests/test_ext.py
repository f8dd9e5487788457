"""Tests for the book's Sphinx extensions (_ext/): the scorecard, the student edition, figure alt text
and the provenance line, each on a tiny synthetic Sphinx + MyST project built in a temporary folder."""

from __future__ import annotations

import io
import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_parser")
from sphinx.application import Sphinx  # noqa: E402
from sphinx.errors import ExtensionError, SphinxError  # noqa: E402

EXT = Path(__file__).resolve().parent.parent / "_ext"
sys.path.insert(0, str(EXT))

import edition  # noqa: E402
import figure_alt  # noqa: E402
import provenance  # noqa: E402
import scorecard  # noqa: E402

from lsl.book import report  # noqa: E402


def build(src: Path, files: dict[str, str], extensions: list[str], **overrides) -> tuple[Path, str]:
    """Build ``files`` (name -> MyST text) with ``extensions``; return the HTML folder and the warnings."""
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(textwrap.dedent(text))
    (src / "conf.py").write_text(f"import sys; sys.path.insert(0, {str(EXT)!r})\n"
                                 f"extensions = ['myst_parser', *{extensions!r}]\n"
                                 "exclude_patterns = ['_build']\n")
    out = src / "_build" / "html"
    warnings = io.StringIO()
    app = Sphinx(str(src), str(src), str(out), str(src / "_build" / "doctrees"), "html",
                 confoverrides=overrides, status=None, warning=warnings, freshenv=True)
    app.build()
    return out, warnings.getvalue()


# ---------------------------------------------------------------------------------------------------
# Scorecard

CLAIMS = """
claims:
  - {id: c-one, paper: fj, where: Fig. 1, short: First in brief, claim: The first claim., paper_reports: "0.3", chapter: chap,
     criterion: {measures: {x: the first quantity}, reproduced: x > 0.3, partly: x > 0.1}}
  - {id: c-two, paper: fg, where: property 2, claim: The second claim., paper_reports: qualitative, chapter: chap,
     criterion: {measures: {y: the second quantity}, reproduced: y > 2, partly: y > 1}}
  - {id: c-three, paper: fj, where: §4, claim: A claim no chapter tests., chapter: none, why_not: no data}
"""

CHAPTER = """
# A chapter

## Measuring the first

```python
report.verdict("c-one", x=0.349, shown="0.349")
```

## Measuring the second

```python
report.verdict("c-two", y=1.5, shown="1.5", note="at quick scale")
```
"""


def glue_file(folder: Path, doc: str, records: list[dict]) -> None:
    """What myst-nb writes for an executed notebook that called lsl.book.report.verdict."""
    data = {report.VERDICT_PREFIX + r["claim"]: {"output_type": "display_data", "metadata": {},
                                                  "data": {"text/plain": repr(json.dumps(r))}} for r in records}
    data["other-glue"] = {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "'0.5'"}}
    (folder / f"{doc}.glue.json").parent.mkdir(parents=True, exist_ok=True)
    (folder / f"{doc}.glue.json").write_text(json.dumps(data))


def record(claim, verdict, measured, note="", profile="quick", borderline=False):
    return {"claim": claim, "verdict": verdict, "measured": measured, "note": note, "profile": profile,
            "borderline": borderline, "quantities": {"x": float(measured) if measured[0].isdigit() else measured},
            "spread": {}}


def commit_records(folder: Path, records: list[dict]) -> None:
    """The committed verdicts of chapter ``chap`` (what LSL_RECORD_VERDICTS=1 writes)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chap.json").write_text(json.dumps({r["claim"]: scorecard.committed_record(r) for r in records}))


def scorecard_project(tmp_path, records, paper_records=None, committed=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "claims.yml").write_text(CLAIMS)
    commit_records(tmp_path / "verdicts" / "quick", records if committed is None else committed)
    glue_file(tmp_path / "_build" / "jupyter_execute", "chap", records)
    if paper_records is not None:
        glue_file(tmp_path / "_build" / "paper" / "_build" / "jupyter_execute", "chap", paper_records)
    files = {"index.md": "# Book\n\n```{toctree}\nchap\nscore\n```\n", "chap.md": CHAPTER,
             "score.md": "# Scorecard\n\n```{scorecard}\n```\n"}
    return build(tmp_path, files, ["scorecard"], lsl_scorecard_claims="claims.yml", lsl_scorecard_page="score",
                 lsl_verdict_records="verdicts")


def test_scorecard_lists_every_claim_with_its_verdict_section_and_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "quick")
    out, warnings = scorecard_project(tmp_path, [record("c-one", "reproduced", "0.349"),
                                                 record("c-two", "partly", "1.5", "at quick scale")],
                                      paper_records=[record("c-one", "reproduced", "0.41", profile="paper")])
    html = (out / "score.html").read_text()
    assert "3 claims: 1 reproduced, 1 partly, 1 not covered." in html
    assert "The first claim." in html and "The second claim." in html and "A claim no chapter tests." in html
    assert 'href="chap.html#measuring-the-first"' in html and 'href="chap.html#measuring-the-second"' in html
    assert "0.349" in html and "1.5 (at quick scale)" in html and "no data" in html
    text = re.sub(r"<[^>]+>", "", html)
    assert "x = 0.41" in text                              # the paper profile's record
    assert "lsl-verdict-not-covered" in html and "lsl-verdict-partly" in html
    # each claim's criterion, declared in claims.yml, is shown beside the numbers
    assert "x &gt; 0.3" in text and "y &gt; 1" in text and "the first quantity" in text
    assert 'href="#claim-c-one"' in html and 'id="claim-c-one"' in html
    # the summary table names each claim in a few words (its short name, else its first words), linked to its
    # details, under a row for its paper
    summary = html[html.index('<table class="lsl-scorecard'):html.index("</table>")]
    assert re.search(r'href="#claim-c-one"[^>]*>First in brief</a>', summary)
    assert re.search(r'href="#claim-c-two"[^>]*>The second claim\.</a>', summary)
    assert summary.index("Fort &amp; Jastrzebski (2019)") < summary.index("First in brief")
    assert "scorecard" not in warnings


def test_a_ladder_rung_with_records_gets_a_column_with_its_commit_and_date(tmp_path, monkeypatch):
    """A rung of the scale ladder (book/verdicts/large, records with a run entry) is a column titled with the
    commit and date of its records; a rung without records (medium here) gets none."""
    monkeypatch.setenv("LSL_PROFILE", "quick")
    large = {"c-one": {**scorecard.committed_record(record("c-one", "partly", "0.2")),
                       "run": {"commit": "0123456789abcdef", "date": "2026-12-08T01:02:03Z"}}}
    (tmp_path / "verdicts" / "large").mkdir(parents=True)
    (tmp_path / "verdicts" / "large" / "chap.json").write_text(json.dumps(large))
    (tmp_path / "verdicts" / "medium").mkdir(parents=True)
    out, _ = scorecard_project(tmp_path, [record("c-one", "reproduced", "0.349"), record("c-two", "partly", "1.5")])
    text = re.sub(r"<[^>]+>", "", (out / "score.html").read_text())
    assert "large (commit 0123456, 2026-12-08)" in text and "medium" not in text
    assert "Large (commit 0123456, 2026-12-08) (committed record)" in text


def test_a_short_name_is_the_claims_first_words_when_none_is_given():
    assert scorecard.short_name({"claim": "one two three", "short": "brief"}) == "brief"
    assert scorecard.short_name({"claim": "one two three four"}, words=3) == "one two three …"
    assert scorecard.short_name({"claim": "one two three"}, words=3) == "one two three"


def test_the_build_fails_when_a_chapter_does_not_report_a_listed_claim(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "quick")
    with pytest.raises(ExtensionError, match="chap reports no verdict for 'c-two'"):
        scorecard_project(tmp_path, [record("c-one", "reproduced", "0.349")])


def test_an_unknown_claim_warns_and_a_bad_verdict_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "quick")
    _, warnings = scorecard_project(tmp_path, [record("c-one", "reproduced", "1"), record("c-two", "partly", "2"),
                                               record("c-new", "reproduced", "3")])
    assert "'c-new', which lsl/book/claims.yml does not list" in warnings
    with pytest.raises(ExtensionError, match="'mostly'"):
        scorecard_project(tmp_path / "b", [record("c-one", "mostly", "1"), record("c-two", "partly", "2")])


def test_unexecuted_chapters_only_warn(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "quick")
    (tmp_path / "claims.yml").write_text(CLAIMS)
    files = {"index.md": "# Book\n\n```{toctree}\nchap\nscore\n```\n", "chap.md": CHAPTER,
             "score.md": "# Scorecard\n\n```{scorecard}\n```\n"}
    out, warnings = build(tmp_path, files, ["scorecard"], lsl_scorecard_claims="claims.yml", lsl_scorecard_page="score",
                          lsl_verdict_records="verdicts")
    assert "no executed output of chap" in warnings
    assert "3 claims: 1 not covered, 2 not run." in (out / "score.html").read_text()


def test_a_verdict_that_differs_from_the_committed_record_fails_the_build(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "quick")
    now = [record("c-one", "partly", "0.2"), record("c-two", "partly", "1.5")]
    then = [record("c-one", "reproduced", "0.349"), record("c-two", "partly", "1.5")]
    with pytest.raises(ExtensionError, match="c-one \\(chap\\): 'partly' in this build, 'reproduced' in"):
        scorecard_project(tmp_path, now, committed=then)


def test_a_borderline_verdict_may_differ_from_the_record(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "quick")
    now = [record("c-one", "partly", "0.29", borderline=True), record("c-two", "partly", "1.5")]
    then = [record("c-one", "reproduced", "0.31"), record("c-two", "partly", "1.5")]
    out, _ = scorecard_project(tmp_path, now, committed=then)
    assert "Partly (borderline)" in (out / "score.html").read_text()


def test_a_chapter_without_committed_records_fails_and_recording_writes_them(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "quick")
    recs = [record("c-one", "reproduced", "0.349"), record("c-two", "partly", "1.5")]
    with pytest.raises(ExtensionError, match="c-one \\(chap\\) has no committed verdict"):
        scorecard_project(tmp_path, recs, committed=[])
    monkeypatch.setenv("LSL_RECORD_VERDICTS", "1")
    scorecard_project(tmp_path / "b", recs, committed=[])
    written = json.loads((tmp_path / "b" / "verdicts" / "quick" / "chap.json").read_text())
    assert written["c-one"] == scorecard.committed_record(recs[0]) and set(written) == {"c-one", "c-two"}


def test_claims_file_is_checked(tmp_path):
    bad = tmp_path / "claims.yml"
    bad.write_text("claims:\n  - {id: a, paper: fj, where: x, claim: y, chapter: none}\n")
    with pytest.raises(ExtensionError, match="why_not"):
        scorecard.load_claims(bad)
    bad.write_text("claims:\n  - {id: a, paper: xx, where: x, claim: y, chapter: c}\n")
    with pytest.raises(ExtensionError, match="paper must be"):
        scorecard.load_claims(bad)
    bad.write_text("claims:\n  - {id: a, paper: fj, where: x, claim: y, chapter: c}\n"
                   "  - {id: a, paper: fj, where: x, claim: y, chapter: c}\n")
    with pytest.raises(ExtensionError, match="twice"):
        scorecard.load_claims(bad)


def test_the_books_claims_file_is_valid_and_every_chapter_reports_its_claims():
    root = Path(__file__).resolve().parent.parent
    claims = scorecard.load_claims(root / "lsl" / "book" / "claims.yml")
    papers = {c["paper"] for c in claims}
    assert {"fj", "fg"} <= papers, "both reproduced papers have claims"
    import yaml
    declared = yaml.safe_load((root / "lsl" / "book" / "claims.yml").read_text())["papers"]
    assert papers <= set(declared), f"claims name papers not declared under papers: {papers - set(declared)}"
    for c in claims:
        if c["chapter"] in (None, "none"):
            continue
        source = (root / f"{c['chapter']}.py").read_text()
        assert f'report.verdict("{c["id"]}"' in source, f"{c['chapter']} does not report {c['id']}"


# ---------------------------------------------------------------------------------------------------
# Student edition

EXERCISES = """
# Exercises

1. Predict the threshold.

   ```{admonition} Solution
   :class: dropdown
   The threshold is D minus n.
   ```

```{admonition} Hint
Think of wedges.
```
"""


def test_student_edition_drops_solutions_and_keeps_the_rest(tmp_path):
    out, _ = build(tmp_path / "student", {"index.md": EXERCISES}, ["edition"], lsl_edition="student")
    html = (out / "index.html").read_text()
    assert "Predict the threshold." in html and "Think of wedges." in html
    assert "The threshold is D minus n." not in html and "Solution" not in html
    out, _ = build(tmp_path / "full", {"index.md": EXERCISES}, ["edition"])
    assert "The threshold is D minus n." in (out / "index.html").read_text()


def test_student_edition_rejects_an_unknown_edition(tmp_path):
    with pytest.raises(SphinxError, match="lsl_edition"):
        build(tmp_path, {"index.md": EXERCISES}, ["edition"], lsl_edition="teacher")


# ---------------------------------------------------------------------------------------------------
# Figure alt text and provenance

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def test_figures_get_their_caption_as_alt_text(tmp_path):
    (tmp_path / "img.png").write_bytes(PNG)
    page = ("# Figures\n\n```{figure} img.png\n\nThe loss along the line (lime), e.g. between optima. "
            "Second sentence.\n```\n\n```{figure} img.png\n:alt: Given alt.\n\nCaption.\n```\n\n"
            "![](img.png)\n")
    out, warnings = build(tmp_path, {"index.md": page}, ["figure_alt"])
    html = (out / "index.html").read_text()
    assert 'alt="The loss along the line (lime), e.g. between optima. Second sentence"' in html
    assert 'alt="Given alt."' in html
    assert "no alt text and no caption" in warnings        # the bare image


@pytest.mark.parametrize("caption, alt", [
    ("Left: loss. Right: accuracy.", "Left: loss. Right: accuracy"),
    ("A first sentence. " + "x" * 300 + ".", "A first sentence"),
    ("y " * 200, ("y " * 125).strip() + " …"),
    ("One sentence without a stop", "One sentence without a stop"),
    ("Cosines between deviations (the paper's Fig. 3, middle). More.", "Cosines between deviations (the paper's Fig. 3, middle). More"),
])
def test_first_sentence(caption, alt):
    assert figure_alt.first_sentence(caption) == alt


def test_every_page_shows_profile_version_commit_and_date(tmp_path, monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "paper")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764633600")     # 2025-12-02
    out, _ = build(tmp_path, {"index.md": "# Home\n\n```{toctree}\nother\n```\n", "other.md": "# Other\n"},
                   ["provenance"])
    for page in ("index.html", "other.html"):
        html = (out / page).read_text()
        assert 'class="lsl-provenance"' in html
        assert "Built on 2025-12-02 from lsl " in html and "in the paper profile" in html and "commit " in html
    facts = provenance.provenance(Path(__file__).resolve().parent.parent)
    assert facts["version"] != "unknown" and facts["commit"] != "unknown"


# ---------------------------------------------------------------------------
# MathJax served from the book (_ext/mathjax_local.py)


def test_mathjax_is_served_from_the_book(tmp_path):
    """A page with math loads MathJax from the book's own _static folder, which holds MathJax 3."""
    import mathjax_local

    if mathjax_local.mathjax_source() is None:
        pytest.skip("django-static-mathjax is not installed (the book extra has it)")
    files = {"index.md": "# Math\n\nThe loss {math}`L(\\theta)` and\n\n```{math}\nH = G + H_\\text{rest}\n```\n"}
    out, warnings = build(tmp_path, files, ["sphinx.ext.mathjax", "mathjax_local"])
    page = (out / "index.html").read_text()
    assert 'src="_static/mathjax/es5/tex-mml-chtml.js' in page and "cdn.jsdelivr" not in page
    assert (out / "_static" / "mathjax" / "es5" / "tex-mml-chtml.js").is_file()
    assert (out / "_static" / "mathjax" / "es5" / "output" / "chtml" / "fonts").is_dir()   # loaded on demand


# ---------------------------------------------------------------------------------------------------
# Exercise labels

def test_exercises_of_a_numbered_chapter_are_labelled_and_anchored(tmp_path):
    files = {
        "index.md": """
            # Book

            ```{toctree}
            :numbered: 1
            one
            two
            ```
            """,
        "one.md": "# One\n\nNo exercises here.\n",
        "two.md": """
            # Two

            ## Exercises

            1. *Predict.* The first.
            2. The second, with a list:
               - a
               - b
            """,
        "apart.md": "# Apart\n\n## Exercises\n\n1. Not in the numbered tree.\n",
    }
    out, warnings = build(tmp_path, files, ["exercises"])
    html = (out / "two.html").read_text()
    assert re.search(r'<li id="exercise-2-1"><p><strong>Exercise 2\.1\. </strong><em>Predict\.</em> The first', html)
    assert re.search(r'<li id="exercise-2-2"><p><strong>Exercise 2\.2\. </strong>The second', html)
    assert "Exercise 2.3" not in html and "lsl-exercises" in html
    apart = (out / "apart.html").read_text()
    assert "Exercise" not in apart.replace("Exercises", "") and "lsl-exercises" not in apart
    assert "no numbered list" not in warnings


def test_an_exercises_section_without_a_list_warns(tmp_path):
    files = {"index.md": "# Book\n\n```{toctree}\n:numbered: 1\nthree\n```\n",
             "three.md": "# Three\n\n## Exercises\n\nOnly prose, no list.\n"}
    _, warnings = build(tmp_path, files, ["exercises"])
    assert "the Exercises section has no numbered list to label" in warnings
