"""A Sphinx extension for the book: the scorecard of the papers' claims, generated from the chapters.

``lsl/book/claims.yml`` lists every claim of the papers with the chapter that tests it and the criterion
that decides its verdict. Each chapter records its measurements with :func:`lsl.book.report.verdict`,
which decides the verdict by the criterion (:func:`lsl.book.verdicts.decide`) and glues a JSON record
under ``lsl-verdict-record:<claim>``; myst-nb writes every executed notebook's glue data to
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
4. **fails the build** if a verdict differs from the committed record of its profile,
   ``book/verdicts/<profile>/<chapter>.json``, unless the verdict is borderline in the record or in
   this build (a measurement within one standard deviation of its threshold); with
   ``LSL_RECORD_VERDICTS=1`` it writes this build's records there instead, to be committed with the
   change that moved the verdict, so that every change of a verdict is deliberate and visible in a diff;
5. replaces the ``{scorecard}`` directive (in ``book/scorecard.md``) with the summary table (a row per
   paper, then one row per claim: the claim in a few words, its ``short`` name in ``claims.yml``, linked
   to its details, where the paper makes it, and its verdict in each profile, in narrow columns so that
   the table fits a laptop's width) and, below it, each claim with its criterion, the paper's number and
   ours.

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
                logger.warning(f"scorecard: {doc} reports a verdict for {claim!r}, which lsl/book/claims.yml does not "
                               f"list; add it there (with chapter: {doc})")
            elif listed[claim]["chapter"] != doc:
                logger.warning(f"scorecard: {doc} reports {claim!r}, which lsl/book/claims.yml assigns to "
                               f"{listed[claim]['chapter']}")
            if record.get("verdict") not in VERDICTS:
                raise ExtensionError(f"scorecard: {doc}: verdict {record.get('verdict')!r} for {claim!r} is not one "
                                     f"of {', '.join(VERDICTS)}")
    if missing:
        raise ExtensionError("scorecard: every claim that lsl/book/claims.yml assigns to a chapter needs a verdict "
                             "from that chapter (lsl.book.report.verdict(claim, outcome, measured=...)): "
                             + "; ".join(missing))
    if unexecuted:
        logger.warning(f"scorecard: no executed output of {', '.join(sorted(unexecuted))} (notebook execution "
                       "off?); their claims show as 'not run' on the scorecard")
    folder = Path(app.confdir) / app.config.lsl_verdict_records / profile
    env.lsl_scorecard["committed"] = compare_records(records, {c["id"]: c for c in claims}, folder,
                                                     write=os.environ.get("LSL_RECORD_VERDICTS") == "1")


def committed_record(record: dict) -> dict:
    """What a committed record keeps of a chapter's verdict record: the verdict and the measurements."""
    return {key: record.get(key) for key in ("verdict", "borderline", "quantities", "spread")}


def compare_records(records: dict[str, dict[str, dict]], listed: dict[str, dict], folder: Path,
                    write: bool = False) -> dict[str, dict]:
    """Check this build's verdicts against the committed ones in ``folder`` (or write them there).

    ``records`` is ``{docname: {claim: record}}`` as :func:`read_records` returns it; the committed
    records are ``folder/<chapter>.json`` (``{claim: record}``, the chapter's docname without its
    folder). A verdict that differs from the committed one fails, with both verdicts and the way to
    record the new one, unless either is borderline; a chapter or claim without a committed record
    fails too. With ``write`` the files are (re)written from this build instead.

    Returns:
        ``{claim: committed record}`` for the claims that have one (after writing, this build's).
    """
    committed: dict[str, dict] = {}
    problems = []
    for doc, recs in sorted(records.items()):
        recs = {claim: r for claim, r in recs.items() if claim in listed}
        if not recs:
            continue
        path = folder / (Path(doc).name + ".json")
        if write:
            folder.mkdir(parents=True, exist_ok=True)
            data = {claim: committed_record(r) for claim, r in sorted(recs.items())}
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf8")
            tmp.replace(path)
            logger.info(f"scorecard: wrote the verdicts of {doc} to {path}")
            committed.update(data)
            continue
        if not path.is_file():
            problems.append(f"{doc} has no committed verdicts ({path} is missing)")
            continue
        try:
            saved = json.loads(path.read_text(encoding="utf8"))
        except ValueError as exc:
            problems.append(f"{path} is not valid JSON ({exc})")
            continue
        committed.update(saved)
        for claim, r in sorted(recs.items()):
            old = saved.get(claim)
            if old is None:
                problems.append(f"{claim} ({doc}) has no committed verdict in {path}")
            elif old.get("verdict") != r.get("verdict") and not (old.get("borderline") or r.get("borderline")):
                problems.append(f"{claim} ({doc}): {r.get('verdict')!r} in this build, {old.get('verdict')!r} in "
                                f"{path} (measured now: {json.dumps(r.get('quantities'), ensure_ascii=False)[:300]}; "
                                f"then: {json.dumps(old.get('quantities'), ensure_ascii=False)[:300]})")
    if problems:
        raise ExtensionError("scorecard: the verdicts of this build differ from the committed records. If the change "
                             "is meant, record it (LSL_RECORD_VERDICTS=1 make book, or make verdicts) and commit "
                             "book/verdicts with the change that moved it; if not, find what moved it. "
                             + "; ".join(problems))
    return committed


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


def _group_row(title: str, ncols: int) -> nodes.row:
    """A row across the whole summary table that heads the claims of one paper."""
    entry = nodes.entry(morecols=ncols - 1, classes=["lsl-paper-row"])
    entry += nodes.paragraph("", "", nodes.strong(text=title))
    row = nodes.row()
    row += entry
    return row


def short_name(claim: dict, words: int = 8) -> str:
    """The claim in a few words for the summary table: its ``short`` field, else its first ``words`` words."""
    if claim.get("short"):
        return str(claim["short"])
    text = str(claim["claim"]).split()
    return " ".join(text[:words]) + (" …" if len(text) > words else "")


def _verdict_node(record: dict | None, verdict: str | None = None) -> nodes.inline:
    """The verdict as a coloured word (``lsl-verdict-<verdict>``), "borderline" added where it is."""
    verdict = verdict or (record or {}).get("verdict") or "not run"
    text = verdict.capitalize() + (" (borderline)" if (record or {}).get("borderline") else "")
    return nodes.inline(text=text, classes=["lsl-verdict", "lsl-verdict-" + verdict.replace(" ", "-")])


def _values_text(record: dict) -> str:
    """``name = value`` for each measured quantity of a record (± its standard deviation over repeats)."""
    parts = []
    spread = record.get("spread") or {}
    for name, value in (record.get("quantities") or {}).items():
        text = _short(value)
        if name in spread:
            text += " ± " + _short(spread[name])
        parts.append(f"{name} = {text}")
    return "; ".join(parts)


def _short(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


#: The profiles in the order of their scale (lsl.book.profiles.LADDER; not imported: the build must not need torch).
LADDER = ("smoke", "quick", "medium", "large", "paper")


def _provenance(recs: dict) -> str:
    """``commit <hash>, <date>`` of the records the scale ladder made (``run`` entries), or ``""``."""
    runs = [r.get("run") for r in recs.values() if isinstance(r, dict) and isinstance(r.get("run"), dict)]
    if not runs:
        return ""
    commits = sorted({str(r.get("commit") or "?")[:7] for r in runs})
    date = max(str(r.get("date") or "")[:10] for r in runs)
    return f"commit {', '.join(commits)}, {date}"


def _other_profiles(app, data) -> list[tuple[str, dict]]:
    """``[(column title, {claim: record})]`` of the profiles other than this build's, from the committed records
    (run seed 0: ``book/verdicts/<profile>/*.json``; the scale ladder's rungs too, titled with the commit and date
    of their records), and, for ``paper``, from a paper-profile build beside this one when there is one."""
    root = Path(app.confdir) / app.config.lsl_verdict_records
    present = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    order = [p for p in LADDER if p in present or p == "paper"] + [p for p in present if p not in LADDER]
    found = []
    for profile in order:
        if profile == data["profile"]:
            continue
        recs: dict = {}
        folder = root / profile
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                try:
                    recs.update(json.loads(path.read_text(encoding="utf8")))
                except ValueError:
                    logger.warning(f"scorecard: {path} is not valid JSON")
        if profile == "paper":
            for doc_records in data["other"].values():
                recs.update(doc_records)
        if recs:                     # a profile never recorded (paper, before a GPU run) gets no column
            where = _provenance(recs)
            found.append((f"{profile} ({where})" if where else profile, recs))
    return found


def build_table(app, doctree, docname) -> None:
    """``doctree-resolved``: put the summary table and the claims' details in place of ``{scorecard}``."""
    placeholders = list(doctree.findall(scorecard_node))
    if not placeholders:
        return
    data = getattr(app.env, "lsl_scorecard", None)
    if data is None:                    # e.g. env-updated not run (a parallel reader): load now
        collect(app, app.env)
        data = app.env.lsl_scorecard
    sections = getattr(app.env, "lsl_verdict_sections", {})
    profile = data["profile"]
    others = _other_profiles(app, data)
    counts = {v: 0 for v in VERDICTS}
    counts["not run"] = 0
    summary_rows, details = [], []
    for paper, title in PAPERS.items():
        claims = [c for c in data["claims"] if c["paper"] == paper]
        if not claims:
            continue
        details.append(nodes.rubric(text=title))
        summary_rows.append(_group_row(title, 2 + len(others)))
        for c in claims:
            chapter = c["chapter"] if c["chapter"] not in (None, "none", "") else None
            record = data["records"].get(chapter, {}).get(c["id"]) if chapter else None
            verdict = "not covered" if chapter is None else (record["verdict"] if record else "not run")
            counts[verdict] += 1
            anchor = "claim-" + c["id"]
            # summary row: the claim in a few words (linked to its details) and where the paper makes it,
            # then its verdict in each profile
            name = nodes.paragraph()
            name += nodes.reference("", short_name(c), internal=True, refuri=f"#{anchor}")
            name += nodes.inline(text=f" {c['where']}", classes=["lsl-claim-where"])
            cells = [name, nodes.paragraph("", "", _verdict_node(record, verdict))]
            for _, recs in others:
                other = recs.get(c["id"])
                cells.append(nodes.paragraph("", "", _verdict_node(other, None if other else
                                                                   ("not covered" if chapter is None else "—"))))
            summary_rows.append(_row(cells))
            # details
            box = nodes.container(classes=["lsl-claim"], ids=[anchor])
            head = nodes.paragraph()
            head += nodes.strong(text=c["where"])
            head += nodes.Text(" " + c["claim"] + " ")
            head += _verdict_node(record, verdict)
            box += head
            items = nodes.bullet_list()

            def item(label: str, *content) -> None:
                para = nodes.paragraph()
                para += nodes.emphasis(text=label + ": ")
                for node in content:
                    para += node if isinstance(node, nodes.Node) else nodes.Text(str(node))
                li = nodes.list_item()
                li += para
                items.append(li)

            if chapter:
                title_text = app.env.titles[chapter].astext() if chapter in app.env.titles else chapter
                section_title, section_id = sections.get(chapter, {}).get(c["id"], ("", ""))
                uri = app.builder.get_relative_uri(docname, chapter)
                links = [nodes.reference("", title_text, internal=True, refuri=uri)]
                if section_title:
                    links += [nodes.Text(", "), nodes.reference("", section_title, internal=True,
                                                                refuri=f"{uri}#{section_id}")]
                item("Tested in", *links)
            else:
                item("Not covered", c.get("why_not", ""))
            crit = c.get("criterion") or {}
            if crit:
                rule = [nodes.Text("reproduced if "), nodes.literal(text=str(crit["reproduced"]))]
                if crit.get("partly"):
                    rule += [nodes.Text("; partly if "), nodes.literal(text=str(crit["partly"]))]
                rule.append(nodes.Text("; else not reproduced"))
                item("Criterion, declared before measuring", *rule)
                item("Measures", "; ".join(f"{name}: {meaning}" for name, meaning in crit["measures"].items()))
            item("The paper reports", c.get("paper_reports") or "—")
            if record is not None:
                shown = record.get("measured") or ""
                if record.get("note"):
                    shown = f"{shown} ({record['note']})" if shown else record["note"]
                item(f"Measured ({profile} profile, this build)", shown or "—")
                if record.get("quantities"):
                    item("Values the criterion saw", nodes.literal(text=_values_text(record)))
            for other_profile, recs in others:
                other = recs.get(c["id"])
                if other is not None:
                    item(f"{other_profile[0].upper() + other_profile[1:]} (committed record)", _verdict_node(other),
                         nodes.Text(". "), nodes.literal(text=_values_text(other)))
            box += items
            details.append(box)
    summary = nodes.paragraph()
    shown = [f"{n} {v}" for v, n in counts.items() if n]
    summary += nodes.Text(f"{sum(counts.values())} claims: " + ", ".join(shown) + ".")
    headers = ["Claim", f"{profile} (this build)"] + [p for p, _ in others]
    table = _table(headers, summary_rows, [52] + [16] * (1 + len(others)))
    wrap = nodes.container(classes=["lsl-table-wrap"])
    wrap += table
    for node in placeholders:
        node.replace_self([summary, wrap, nodes.rubric(text="Each claim, its criterion and the numbers"), *details])


def setup(app):
    app.add_config_value("lsl_scorecard_claims", "lsl/book/claims.yml", "env")
    app.add_config_value("lsl_verdict_records", "book/verdicts", "env")
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
