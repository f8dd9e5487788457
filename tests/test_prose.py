"""The prose of the chapters cannot contradict what they measured: no typed verdict word, no typed measurement.

Every verdict in the text comes from the record (``{glue:text}`verdict-<claim>```), and every measured
number is glued from the computation (``{glue:text}`name```), so a chapter that runs again on other
hardware, another profile or after a change says what that run found. This test reads the markdown
cells of every chapter, removes what may hold a number legitimately (math, glue and other roles, code,
links, directive options, years, references to figures, sections, panels, exercises and properties,
list and heading numbers, the names of data sets), and fails on

- a verdict word ("reproduced", "reproduces", "partly", "not reproduced") outside a glued value;
- a number outside :data:`ALLOWED`: the papers' own numbers, definitions, and settings named in the
  text, each listed with the reason it is typed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))

_STRIP = [
    re.compile(r"```.*?```", re.S),                      # fenced blocks: directives, code, figures
    re.compile(r"\$\$.*?\$\$", re.S),                    # display math
    re.compile(r"\$[^$]+\$"),                           # inline math (may run over a line break)
    re.compile(r"\{[a-z:]+\}`[^`]*`"),                   # roles: glue, cite, ref, numref, term, doc
    re.compile(r"`[^`]*`"),                              # code
    re.compile(r"\]\([^)]*\)"),                          # link targets
    re.compile(r"<!--.*?-->", re.S),                     # comments
    re.compile(r"^\s*\(\S+\)=\s*$", re.M),               # labels
    re.compile(r"^:[a-z-]+:.*$", re.M),                  # directive options
    re.compile(r"^\s*\d+\.\s", re.M),                    # numbered list items (exercises, steps)
    re.compile(r"^#+\s*\d+\.", re.M),                    # numbered headings
    re.compile(r"\b(?:19|20)\d\d[a-z]?\b"),              # years
    re.compile(r"(?:Fig(?:ure|s)?\.?|Sections?|§|Table|Eq\.|Exercises?|Meeting|Chapter|Appendix|Propert(?:y|ies)|"
               r"panels?|rule|version|v)\s*\d+(?:\.\d+)*(?:\s*(?:[–-]|and|to|,)\s*\d+(?:\.\d+)*)*", re.I),
    re.compile(r"\b(?:CIFAR|MNIST|ResNet|LeNet|mnist)-?\d+\b"),      # data sets and architectures
    re.compile(r"\b\d+\s*×\s*\d+\b|\b\d-D\b|\b\d+-(?:vertex|layer|dimensional|point|step)\b"),
    re.compile(r"[+−-]\s*1\b"),                         # m + 1, C − 1: arithmetic on a symbol
    re.compile(r"=\s*1(?:\s*,\s*2)?\s*(?:,\s*(?:\.\.\.|…)|to\b)"),  # "m = 1, 2, ...", "m = 1 to": enumerations
]
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?:\s?%)?(?![\w])")
_VERDICT = re.compile(r"\b(?:not reproduced|reproduced|reproduces|partly)\b", re.I)
#: A verdict word that describes a declared criterion, not an outcome: "reproduced if ...", "(partly)".
_CRITERION_WORDS = re.compile(r"\b(?:reproduced|partly)\s+if\b|\((?:reproduced|partly)\)", re.I)

#: Numbers that may be typed, by chapter: (a pattern matching the number in its sentence, why). A reason
#: ``"criterion:<claim>"`` says the number states that claim's declared criterion; the test checks that it
#: is one of the numbers of the criterion in lsl/book/claims.yml (or of the terms), so it cannot go stale.
ALLOWED = {
    "hyperplanes": [
        (r"reaches 90% of|90% of the accuracy|90% of full", "the definition of d_int90 (Li et al.)"),
        (r"about 750 for a fully connected|Li et al.'s 750|\(about 750\)", "Li et al.'s number"),
        (r"290 for LeNet|and 290 \(LeNet\)", "Li et al.'s number"),
        (r"about 260", "Li et al.'s factor D/d_int90"),
        (r"about 9000|2900 \(LeNet\)", "Li et al.'s numbers on CIFAR-10"),
        (r"about 300 short", "Fort & Jastrzebski's number"),
        (r"below 1% of", "the papers' scale, d_int90/D in Li et al."),
        (r"about\s+0\.05\)", "a setting suggested to the reader in an exercise"),
        (r"at least 3 \(partly\)", "criterion:fj-intrinsic-dimension"),
        (r"at least 0\.8 of its highest", "criterion:fg-goldilocks"),
        (r"within a factor of 2 of the standard (?:one|radius)", "criterion:fg-goldilocks"),
        (r"within a factor of 2 of its", "criterion:fj-short-vs-intrinsic"),
        (r"\(1 is uniform, 0 frozen\)", "the definition of the relative entropy's scale"),
    ],
    "local_geometry": [
        (r"40-90%", "Li et al.'s number"),
        (r"= 9 would be", "C − 1 for C = 10, arithmetic"),
    ],
    "own_network": [
        (r"reaches 90% of|falls short of 90%|\(90% of the", "the definition of d_int90 (Li et al.)"),
        (r"chance \(1/C\)", "math"),
    ],
    "connectors": [
        (r"\(0: for none\)", "what the count means when it is zero"),
    ],
    "tunnels": [
        (r"would give 50%|crossing, 100%", "what the two models predict, by arithmetic"),
    ],
    "toy_model": [
        (r"at 101 points on each segment", "criterion:fj-fig1-wedges"),
    ],
    "ensembles": [],
    "widths": [
        (r"above 2 at", "the stability limit 2/η of gradient descent"),
    ],
}

#: Verdict words that are not verdicts, by chapter: (a pattern matching the word in its sentence, why).
NOT_VERDICTS: dict[str, list[tuple[str, str]]] = {}


def _markdown(path: Path) -> list[str]:
    import nbformat

    return [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"]


def _clean(text: str) -> str:
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    return re.sub(r"\s+", " ", text)


def _context(text: str, start: int, end: int) -> str:
    return text[max(0, start - 60): end + 40]


def typed(path: Path) -> tuple[list[str], list[str]]:
    """The typed numbers and verdict words of a chapter that are not allowed, each with its context."""
    numbers, words = [], []
    allowed = [re.compile(p) for p, _ in ALLOWED.get(path.stem, [])]
    not_verdicts = [re.compile(p) for p, _ in NOT_VERDICTS.get(path.stem, [])]
    for source in _markdown(path):
        text = _clean(source)
        spans = [m.span() for a in allowed for m in a.finditer(text)]
        for m in _NUMBER.finditer(text):
            if not any(a <= m.start() < b for a, b in spans):
                numbers.append(f"{m.group()!r} in ...{_context(text, *m.span())}...")
        ok = [m.span() for a in [*not_verdicts, _CRITERION_WORDS] for m in a.finditer(text)]
        for m in _VERDICT.finditer(text):
            if not any(a <= m.start() < b for a, b in ok):
                words.append(f"{m.group()!r} in ...{_context(text, *m.span())}...")
    return numbers, words


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_typed_verdict_word(path):
    _, words = typed(path)
    assert not words, (f"{path.name}: a verdict word in the prose must be glued from the record "
                       f"({{glue:text}}`verdict-<claim>` or `verdict-<claim>-lower`): " + "; ".join(words))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_typed_measurement(path):
    numbers, _ = typed(path)
    assert not numbers, (f"{path.name}: glue measured numbers ({{glue:text}}`name`), or list a paper's number, a "
                         f"definition or a setting in ALLOWED with the reason: " + "; ".join(numbers))


def test_the_scan_finds_what_it_must():
    text = _clean("We measured a barrier of 0.57, about 60% accuracy; the claim is **reproduced**. "
                  "See Fig. 3 and §4.2 (2019); $x = 3$ and {glue:text}`n` and `f(3)`.\n2. *Exercise.*")
    assert [m.group() for m in _NUMBER.finditer(text)] == ["0.57", "60%"]
    assert [m.group() for m in _VERDICT.finditer(text)] == ["reproduced"]


def _criterion_numbers(claim: str) -> set[float]:
    from lsl.book import verdicts

    c = verdicts.claim(claim)["criterion"]
    text = " ".join([str(c["reproduced"]), str(c.get("partly", "")), *map(str, c["measures"].values())])
    return {float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)} | set(verdicts.terms().values())


@pytest.mark.parametrize("chapter", sorted(ALLOWED))
def test_a_criterion_typed_in_the_prose_is_the_declared_one(chapter):
    path = ROOT / "book" / f"{chapter}.ipynb"
    text = " ".join(_clean(s) for s in _markdown(path))
    for pattern, why in ALLOWED[chapter]:
        if why.startswith("criterion:"):
            declared = _criterion_numbers(why.split(":", 1)[1])
            for m in re.finditer(pattern, text):
                for number in _NUMBER.findall(m.group()):
                    assert float(number.rstrip("%").replace(",", "")) in declared, (
                        f"{chapter}: {m.group()!r} types {number}, which is not in the declared criterion of "
                        f"{why.split(':', 1)[1]} (lsl/book/claims.yml); glue it or fix the prose")


@pytest.mark.parametrize("chapter", sorted(ALLOWED))
def test_every_allowance_is_still_needed(chapter):
    path = ROOT / "book" / f"{chapter}.ipynb"
    text = " ".join(_clean(s) for s in _markdown(path))
    for pattern, why in ALLOWED[chapter] + NOT_VERDICTS.get(chapter, []):
        assert re.search(pattern, text), f"{chapter}: the allowance {pattern!r} ({why}) matches nothing; remove it"
