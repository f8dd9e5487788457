"""A Sphinx extension for the book: the scorecard of the papers' claims, generated from the chapters.

``book/claims.yml`` lists every claim of the two papers with the chapter that tests it. Each chapter
reports its verdicts with :func:`lsl.book.report.verdict`, which glues a JSON record under
``lsl-verdict-record:<claim>``; myst-nb writes every executed notebook's glue data to
``<build>/jupyter_execute/<doc>.glue.json``. This extension

1. finds, while each chapter is read, the section whose code cell calls ``verdict("<claim>", ...)``
   (so that the scorecard links to the section that tests the claim);
2. after all documents are read, loads the verdict records from the glue files of this build and,
   for a column of paper-profile numbers, from the paper profile's build (``_build/paper/_build``)
   when it exists (or from the quick build's, when this build is the paper one);
3. **fails the build** (a Sphinx ``ExtensionError``) if an executed chapter did not report a
   verdict for a claim that ``claims.yml`` assigns to it, and warns about a verdict for a claim that
   is not listed; when the chapters were not executed at all (``execute_notebooks: off``) it only
   warns, so that a quick look at the pages stays possible;
4. replaces the ``{scorecard}`` directive (in ``book/scorecard.md``) with the table.

The scorecard page is re-read and re-written on every build, so it never shows stale verdicts.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

RECORD_PREFIX = "lsl-verdict-record:"        # lsl.book.report.VERDICT_PREFIX (not imported: the book's build
VERDICTS = ("reproduced", "partly", "not reproduced", "not covered")   # must not need torch to load)
PAPERS = {"fj": "Fort & Jastrzebski (2019)", "fg": "Fort & Ganguli (2019)"}
_CALL = re.compile(r"""verdict\(\s*(?:claim\s*=\s*)?["']([A-Za-z0-9_.:-]+)["']""")


class scorecard_node(nodes.General, nodes.Element):
    """Placeholder for the table; filled in when the page is resolved."""


class ScorecardDirective(Directive):
    """``{scorecard}``: the table of every claim in ``claims.yml`` with this build's verdicts."""

    has_content = False

    def run(self):
        return [scorecard_node()]


# ---------------------------------------------------------------------------------------------------
# Reading: claims, records, sections


def load_claims(path: Path) -> list[dict]:
    """The claims of ``claims.yml``, checked: unique ids, known papers, a chapter or a reason why not.

    ``claims.yml`` may add papers to :data:`PAPERS` under ``papers:`` (key: title shown above its table).
    """
    import yaml

    if not path.is_file():
        raise ExtensionError(f"scorecard: {path} is missing; it lists the papers' claims (see _ext/scorecard.py)")
    data = yaml.safe_load(path.read_text(encoding="utf8")) or {}
    PAPERS.update(data.get("papers") or {})
    claims = data.get("claims")
    if not isinstance(claims, list) or not claims:
        raise ExtensionError(f"scorecard: {path} has no 'claims:' list")
    seen = set()
    for c in claims:
        missing = [k for k in ("id", "paper", "where", "claim", "chapter") if k not in c]
        if missing:
            raise ExtensionError(f"scorecard: claim {c.get('id', c)!r} in {path} lacks {', '.join(missing)}")
        if c["id"] in seen:
            raise ExtensionError(f"scorecard: claim id {c['id']!r} appears twice in {path}")
        seen.add(c["id"])
        if c["paper"] not in PAPERS:
            raise ExtensionError(f"scorecard: claim {c['id']!r}: paper must be one of {', '.join(PAPERS)}")
        if c["chapter"] in (None, "none", "") and not c.get("why_not"):
            raise ExtensionError(f"scorecard: claim {c['id']!r} is covered by no chapter; say why in 'why_not'")
    return claims


def read_records(folder: Path) -> dict[str, dict[str, dict]]:
    """``{docname: {claim: record}}`` from the myst-nb glue files (``*.glue.json``) under ``folder``."""
    found: dict[str, dict[str, dict]] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*.glue.json")):
        docname = path.relative_to(folder).as_posix()[: -len(".glue.json")]
        try:
            glue = json.loads(path.read_text(encoding="utf8"))
        except (OSError, ValueError) as exc:
            logger.warning(f"scorecard: cannot read {path}: {exc}")
            continue
        records = found.setdefault(docname, {})
        for key, output in glue.items():
            if not key.startswith(RECORD_PREFIX):
                continue
            text = (output.get("data") or {}).get("text/plain", "")
            try:
                record = json.loads(ast.literal_eval(text))
            except (ValueError, SyntaxError) as exc:
                logger.warning(f"scorecard: verdict {key!r} in {path} is not a record: {exc}")
                continue
            records[key[len(RECORD_PREFIX):]] = record
    return found


def find_sections(app, doctree) -> None:
    """``doctree-read``: remember the section holding each ``verdict("<claim>", ...)`` call of a document."""
    env = app.env
    if not hasattr(env, "lsl_verdict_sections"):
        env.lsl_verdict_sections = {}
    sections = {}
    for block in doctree.findall(nodes.literal_block):
        for claim in _CALL.findall(block.astext()):
            parent = block.parent
            while parent is not None and not isinstance(parent, nodes.section):
                parent = parent.parent
            if parent is not None and parent.get("ids"):
                title = parent[0].astext() if parent.children and isinstance(parent[0], nodes.title) else ""
                sections[claim] = (title, parent["ids"][0])
    if sections:
        env.lsl_verdict_sections[env.docname] = sections
    else:
        env.lsl_verdict_sections.pop(env.docname, None)


def purge(app, env, docname) -> None:
    getattr(env, "lsl_verdict_sections", {}).pop(docname, None)


def merge(app, env, docnames, other) -> None:
    if not hasattr(env, "lsl_verdict_sections"):
        env.lsl_verdict_sections = {}
    env.lsl_verdict_sections.update(getattr(other, "lsl_verdict_sections", {}))


def always_reread(app, env, added, changed, removed):
    """``env-get-outdated``: the scorecard page is regenerated on every build."""
    return [d for d in (app.config.lsl_scorecard_page,) if d in env.found_docs]


# ---------------------------------------------------------------------------------------------------
# Checking


def _folders(app) -> tuple[Path, Path | None, str]:
    """This build's glue folder, the other profile's (or None) and this build's profile."""
    here = Path(app.outdir).parent / "jupyter_execute"
    profile = os.environ.get("LSL_PROFILE", "quick")
    root = Path(app.confdir)
    other = root / "_build" / "paper" / "_build" / "jupyter_execute" if profile != "paper" \
        else root / "_build" / "jupyter_execute"
    other = other.resolve()
    return here, (other if other != here.resolve() else None), profile


def collect(app, env) -> None:
    """``env-updated``: load the claims and the records, and fail on a claim a chapter did not report."""
    claims = load_claims(Path(app.confdir) / app.config.lsl_scorecard_claims)
    here, other, profile = _folders(app)
    records = read_records(here)
    env.lsl_scorecard = {"claims": claims, "records": records, "profile": profile,
                         "other": read_records(other) if other else {}}
    listed = {c["id"]: c for c in claims}
    executed = {doc for doc, rec in records.items() if doc in env.found_docs}
    missing, unexecuted = [], set()
    for c in claims:
        chapter = c["chapter"]
        if chapter in (None, "none", ""):
            continue
        if chapter not in env.found_docs:
            raise ExtensionError(f"scorecard: claim {c['id']!r} names chapter {chapter!r}, which is not in the book")
        if chapter not in executed:
            unexecuted.add(chapter)
        elif c["id"] not in records[chapter]:
            missing.append(f"{chapter} reports no verdict for {c['id']!r}")
    for doc, recs in records.items():
        for claim, record in recs.items():
            if claim not in listed:
                logger.warning(f"scorecard: {doc} reports a verdict for {claim!r}, which book/claims.yml does not "
                               f"list; add it there (with chapter: {doc})")
            elif listed[claim]["chapter"] != doc:
                logger.warning(f"scorecard: {doc} reports {claim!r}, which book/claims.yml assigns to "
                               f"{listed[claim]['chapter']}")
            if record.get("verdict") not in VERDICTS:
                raise ExtensionError(f"scorecard: {doc}: verdict {record.get('verdict')!r} for {claim!r} is not one "
                                     f"of {', '.join(VERDICTS)}")
    if missing:
        raise ExtensionError("scorecard: every claim that book/claims.yml assigns to a chapter needs a verdict "
                             "from that chapter (lsl.book.report.verdict(claim, outcome, measured=...)): "
                             + "; ".join(missing))
    if unexecuted:
        logger.warning(f"scorecard: no executed output of {', '.join(sorted(unexecuted))} (notebook execution "
                       "off?); their claims show as 'not run' on the scorecard")


# ---------------------------------------------------------------------------------------------------
# Writing the table


def _row(cells: list) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        if isinstance(cell, nodes.Node):
            entry += cell
        else:
            entry += nodes.paragraph(text=str(cell))
        row += entry
    return row


def _table(headers: list[str], rows: list[nodes.row], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["lsl-scorecard"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    head = nodes.thead()
    head += _row(headers)
    group += head
    body = nodes.tbody()
    for r in rows:
        body += r
    group += body
    return table


def build_table(app, doctree, docname) -> None:
    """``doctree-resolved``: put the table in place of the ``{scorecard}`` placeholder."""
    placeholders = list(doctree.findall(scorecard_node))
    if not placeholders:
        return
    data = getattr(app.env, "lsl_scorecard", None)
    if data is None:                    # e.g. env-updated not run (a parallel reader): load now
        collect(app, app.env)
        data = app.env.lsl_scorecard
    sections = getattr(app.env, "lsl_verdict_sections", {})
    profile = data["profile"]
    other_profile = "paper" if profile != "paper" else "quick"
    counts = {v: 0 for v in VERDICTS}
    counts["not run"] = 0
    content = []
    for paper, title in PAPERS.items():
        rows = []
        for c in (c for c in data["claims"] if c["paper"] == paper):
            chapter = c["chapter"] if c["chapter"] not in (None, "none", "") else None
            record = data["records"].get(chapter, {}).get(c["id"]) if chapter else None
            other = data["other"].get(chapter, {}).get(c["id"]) if chapter else None
            claim_cell = nodes.paragraph()
            claim_cell += nodes.strong(text=c["where"])
            claim_cell += nodes.Text(" " + c["claim"])
            where = nodes.paragraph()
            if chapter:
                title_text = app.env.titles[chapter].astext() if chapter in app.env.titles else chapter
                section_title, section_id = sections.get(chapter, {}).get(c["id"], ("", ""))
                uri = app.builder.get_relative_uri(docname, chapter)
                where += nodes.reference("", title_text, internal=True, refuri=uri)
                if section_title:
                    where += nodes.Text(", ")
                    where += nodes.reference("", section_title, internal=True, refuri=f"{uri}#{section_id}")
            else:
                where += nodes.emphasis(text=f"not covered: {c.get('why_not', '')}")
            if chapter is None:
                verdict, measured = "not covered", "—"
            elif record is None:
                verdict, measured = "not run", "—"
            else:
                verdict = record["verdict"]
                measured = record.get("measured") or "—"
                if record.get("note"):
                    measured = f"{measured} ({record['note']})" if measured != "—" else record["note"]
            counts[verdict] += 1
            verdict_cell = nodes.paragraph()
            verdict_cell += nodes.inline(text=verdict.capitalize(),
                                         classes=["lsl-verdict", "lsl-verdict-" + verdict.replace(" ", "-")])
            paper_text = (record or {}).get("paper") or c.get("paper_reports", "") or "—"
            other_text = "—" if other is None else f"{other.get('measured') or '—'} ({other['verdict']})"
            rows.append(_row([claim_cell, where, verdict_cell, measured, paper_text, other_text]))
        section = nodes.rubric(text=title)
        content += [section, _table(["Claim", "Tested in", "Verdict", f"Measured ({profile} profile, this build)",
                                     "The paper reports", f"Measured ({other_profile} profile)"], rows,
                                    [34, 16, 10, 18, 12, 10])]
    summary = nodes.paragraph()
    shown = [f"{n} {v}" for v, n in counts.items() if n]
    summary += nodes.Text(f"{sum(counts.values())} claims: " + ", ".join(shown) + ".")
    for node in placeholders:
        node.replace_self([summary, *content])


def setup(app):
    app.add_config_value("lsl_scorecard_claims", "book/claims.yml", "env")
    app.add_config_value("lsl_scorecard_page", "book/scorecard", "env")
    app.add_node(scorecard_node)
    app.add_directive("scorecard", ScorecardDirective)
    app.connect("doctree-read", find_sections)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-get-outdated", always_reread)
    app.connect("env-updated", collect)
    app.connect("doctree-resolved", build_table)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
