"""Write the pages that list lsl's modules from the package itself, so that the list exists once.

The package says what it holds: ``lsl.CORE`` (the core's modules), ``lsl.FAMILIES`` (the subpackages), each
family's ``MODULES`` and ``BUILDS_ON``, ``lsl.book.MODULES``, and every module's docstring. From them this
writes

- ``book/api.md``, the API reference's index, one section per family, and ``book/api/<dotted name>.md``,
  one page per module (``automodule``), removing pages of modules that no longer exist;
- the package map between the ``package-map`` markers in ``README.md`` and ``book/architecture.md``;
- ``book/images/families.svg``, the families and the arrows of what each builds on.

Run ``python -m tools.package_map`` after adding, moving or describing a module; ``--check`` writes
nothing and exits with 1 if a file differs (``tests/test_api_pages.py`` runs it).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- package-map:start (written by tools/package_map.py) -->", "<!-- package-map:end -->"


def _first_line(module: str) -> str:
    """The first line of a module's docstring, read from its source (no import: the book layer stays unloaded)."""
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().split("\n")[0].strip()


def structure() -> dict:
    """The package's structure: core modules, families (modules, what they build on, summary), book modules."""
    sys.path.insert(0, str(ROOT))
    lsl = importlib.import_module("lsl")
    families = {}
    for fam in lsl.FAMILIES:
        pkg = importlib.import_module(f"lsl.{fam}")
        families[fam] = {"modules": list(pkg.MODULES), "builds_on": list(pkg.BUILDS_ON), "summary": _first_line(f"lsl.{fam}")}
    book = importlib.import_module("lsl.book")
    return {"core": list(lsl.CORE), "families": families, "book": list(book.MODULES)}


def _modules(s: dict) -> list[tuple[str, str]]:
    """(section, dotted module) in the order of the API reference."""
    out = [("core", f"lsl.{m}") for m in s["core"]]
    for fam, f in s["families"].items():
        out += [(fam, f"lsl.{fam}.{m}") for m in f["modules"]]
    out += [("book", f"lsl.book.{m}") for m in s["book"]]
    return out


def api_index(s: dict) -> str:
    lines = ["(api-reference)=", "# API reference", "",
             "The `lsl` package does every computation in the book; chapters only call it. Its tree shows its",
             "architecture: the **core** (the landscape abstraction and its evaluation), then one **family** of",
             "methods per subpackage, each building only on the core and the families listed beside it, and the",
             "**book layer** around the computation. Every function works on a flat parameter vector `theta`",
             "(one point `[D]` or a batch `[B, D]`), on CPU or GPU. Each module has its own page, which documents",
             "its public names (those in the module's `__all__`) and nothing else; {ref}`architecture` draws",
             "the families and says where a new experiment goes.",
             "",
             "This page is written by `tools/package_map.py` from the package itself.", "",
             "## The core", "", "The landscape abstraction and its evaluation, directly in `lsl/`.", ""]
    lines += [f"- [`{m}`](api/{m}.md): {_first_line(m)}" for sec, m in _modules(s) if sec == "core"]
    for fam, f in s["families"].items():
        builds = ", ".join(f"`lsl.{b}`" for b in f["builds_on"])
        lines += ["", f"## `lsl.{fam}`", "", f["summary"] + " Builds on the core" + (f" and {builds}." if builds else " only."), ""]
        lines += [f"- [`{m}`](api/{m}.md): {_first_line(m)}" for sec, m in _modules(s) if sec == fam]
    lines += ["", "## The book layer: `lsl.book`", "",
              "What the chapters use around the computation; the core and the families never import it, and",
              "`import lsl` does not load it (nor matplotlib, ipywidgets or myst-nb). A chapter opens with",
              '`P, cfg, device = lsl.book.setup("<chapter>")`, imports `glue`, `plots` and `report` from',
              "`lsl.book`, and asserts a claim that holds only at the chapter's real scale with `P.check_at_scale`.", ""]
    lines += [f"- [`{m}`](api/{m}.md): {_first_line(m)}" for sec, m in _modules(s) if sec == "book"]
    return "\n".join(lines) + "\n"


def api_page(module: str) -> str:
    return "\n".join([f"({module.replace('.', '-')})=", f"# `{module}`", "", "```{eval-rst}",
                      f".. automodule:: {module}", "   :members:", "```", ""])


def package_map(s: dict) -> str:
    """The map of the package for README.md and the architecture page (a code block)."""
    rows = [("lsl/", "the core: " + ", ".join(s["core"]))]
    for fam, f in s["families"].items():
        builds = "core" + "".join(f" + {b}" for b in f["builds_on"])
        rows.append((f"lsl/{fam}/", f"{', '.join(f['modules'])}   (builds on {builds})"))
    rows.append(("lsl/book/", "the book layer: " + ", ".join(s["book"]) + "   (the core never imports it)"))
    width = max(len(a) for a, _ in rows) + 2
    return "\n".join(["```", *(f"{a:<{width}}{b}" for a, b in rows), "```"])


def families_svg(s: dict) -> str:
    """Boxes for the core and each family in rows by depth, and an arrow to each family a box builds on
    (to the core only from the families that build on nothing else: every family may import the core)."""
    fams = s["families"]
    depth = {"core": 0}

    def d(f):
        if f not in depth:
            depth[f] = 1 + max([d(b) for b in fams[f]["builds_on"]] + [0])
        return depth[f]

    for f in fams:
        d(f)
    rows: dict[int, list[str]] = {}
    for f, k in depth.items():
        rows.setdefault(k, []).append(f)
    W, bw, bh, gap_y = 760, 150, 44, 70
    n_rows = max(rows) + 1
    H = n_rows * (bh + gap_y) + 20
    pos = {}
    for k in sorted(rows):   # each row ordered by where what it builds on sits (fewer crossing arrows)
        names = [n for n in (["core"] + list(fams)) if n in rows[k]]
        if k > 1:
            names.sort(key=lambda n: sum(pos[b][0] for b in fams[n]["builds_on"]) / len(fams[n]["builds_on"]))
        step = W / (len(names) + 1)
        for i, n in enumerate(names):
            pos[n] = (step * (i + 1), H - 20 - bh / 2 - k * (bh + gap_y))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
           'font-family="sans-serif" font-size="15">',
           '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>',
           '<rect width="100%" height="100%" fill="white"/>']
    for f in fams:
        for b in fams[f]["builds_on"] or ["core"]:   # every family builds on the core: drawn where it is all
            (x1, y1), (x2, y2) = pos[f], pos[b]
            out.append(f'<line x1="{x1:.0f}" y1="{y1 + bh / 2:.0f}" x2="{x2:.0f}" y2="{y2 - bh / 2:.0f}" '
                       'stroke="#666" stroke-width="1.5" marker-end="url(#a)"/>')
    for n, (x, y) in pos.items():
        fill = "#e8eef7" if n == "core" else "#f4f4f4"
        label = "core (lsl/)" if n == "core" else f"lsl.{n}"
        out.append(f'<rect x="{x - bw / 2:.0f}" y="{y - bh / 2:.0f}" width="{bw}" height="{bh}" rx="6" fill="{fill}" '
                   'stroke="#333"/>')
        out.append(f'<text x="{x:.0f}" y="{y + 5:.0f}" text-anchor="middle" fill="#111">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _with_map(text: str, block: str, path: Path) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"{path.relative_to(ROOT)} has no package-map markers ({START} ... {END})")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}\n{END}{tail}"


def expected(s: dict) -> dict[Path, str | None]:
    """Every file this tool writes, with its content (None: the file must not exist)."""
    files: dict[Path, str | None] = {ROOT / "book" / "api.md": api_index(s)}
    wanted = {m for _, m in _modules(s)}
    for m in wanted:
        files[ROOT / "book" / "api" / f"{m}.md"] = api_page(m)
    for p in (ROOT / "book" / "api").glob("*.md"):
        if p.stem not in wanted:
            files[p] = None
    block = package_map(s)
    for p in (ROOT / "README.md", ROOT / "book" / "architecture.md"):
        files[p] = _with_map(p.read_text(encoding="utf-8"), block, p)
    files[ROOT / "book" / "images" / "families.svg"] = families_svg(s)
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs")
    args = ap.parse_args(argv)
    stale = []
    for path, text in expected(structure()).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    if stale:
        print(("out of date: " if args.check else "wrote: ") + ", ".join(map(str, sorted(stale))))
        if args.check:
            print("run: python -m tools.package_map")
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
