"""Putting computed numbers, verdicts and figures into a chapter's text.

:func:`glue` stores a formatted number under a name so that the chapter's prose can show it with
``{glue:text}`` (myst-nb); :func:`verdict` records how a claim of the papers fared, for the chapter's
text and for the book's scorecard page; :func:`figure` shows a figure in the notebook and registers
it for a numbered, captioned ``{glue:figure}`` in the book. Without myst-nb (plain Python, Colab)
they fall back to printing nothing and showing the figure, so chapters run anywhere.

The formatting helpers write numbers as a reader writes them: :func:`fmt` (significant digits,
trailing zeros kept: ``0.40``, never ``1.00e-03`` or ``-0.000``), :func:`fixed` (a fixed number of
decimals), :func:`listing` ("1, 2 and 3"), :func:`plural` ("1 member", "3 members") and
:func:`numbers` (a rounded list for ``print``, instead of a list of float32 reprs).

:func:`glue`, :func:`verdict` and :func:`figure` return ``None``, so that a cell ending in one of
them shows no stray value.
"""

from __future__ import annotations

import html
import json
import math
import os
from typing import Any, Iterable

__all__ = ["glue", "verdict", "decided", "figure", "table", "fmt", "fixed", "listing", "plural", "numbers", "spread", "rank_correlation",
           "VERDICTS", "VERDICT_PREFIX"]

#: The verdicts a claim can get, in the words the scorecard shows.
from .verdicts import VERDICTS  # noqa: E402  (the one list of verdict words)
#: Glue names under which :func:`verdict` stores its record for the scorecard (``_ext/scorecard.py``).
VERDICT_PREFIX = "lsl-verdict-record:"

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_MINUS = "\u2212"


class _Text:
    """A formatted string glued for ``{glue:text}``.

    Its plain-text display is the string's ``repr``: myst-nb passes glued plain text through
    ``ast.literal_eval`` to strip quotes, which turns a bare ``"29, 30, 33"`` into the tuple
    ``(29, 30, 33)``; a quoted string comes back unchanged.
    """

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return repr(self.text)


def _plain(value: Any) -> Any:
    """A Python scalar from a 0-d tensor or array (or numpy scalar); anything else unchanged."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        return value.item()
    return value


def _unsigned_zero(text: str) -> str:
    """``"0.000"`` for ``"-0.000"``: a number that rounds to zero carries no sign."""
    if text.startswith("-") and not any(c in "123456789" for c in text.split("e")[0]):
        return text[1:]
    return text


def _group(integer_text: str) -> str:
    """Thousands separated by commas from 10,000 on (``27000`` -> ``27,000``; ``7434`` stays)."""
    sign, digits = ("-", integer_text[1:]) if integer_text.startswith("-") else ("", integer_text)
    if len(digits) <= 4:
        return integer_text
    return sign + f"{int(digits):,}"


def _short_decimal(value: float, digits: int) -> str | None:
    """``repr(value)`` when it has at most ``digits`` significant digits (0.05, 1e-05), else ``None``.

    Such a float was almost surely typed as a decimal (a setting, an exact ratio), so it is shown as
    typed rather than padded with zeros that would claim a measured precision.
    """
    text = repr(value)
    mantissa = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0").rstrip("0")
    return text if len(mantissa) <= digits else None


def fmt(value: Any, digits: int = 3) -> str:
    """Format a number for prose, as a reader writes it.

    Integers are written in full (commas from 10,000 on). Floats get ``digits`` significant digits
    and keep their trailing zeros (``fmt(0.39999, 2) == "0.40"``), except a float that is a short
    decimal, such as a setting typed as ``0.05``, which is shown as typed; a float of ``10**digits`` or more is
    rounded to an integer; one below 0.001 is written as a power of ten (``"1.2 × 10⁻⁵"``), never as
    ``1.20e-05``; one that rounds to zero has no minus sign. Strings are returned unchanged, so that a
    chapter can glue text.

    Args:
        value: an int, float, bool, string, or a 0-d tensor/array.
        digits: significant digits for a float (at least 1).

    Returns:
        The formatted text.

    Raises:
        ValueError: if ``digits`` is smaller than 1.
    """
    if digits < 1:
        raise ValueError(f"fmt: digits must be at least 1, got {digits}")
    value = _plain(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return _group(str(value))
    if not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == 0:
        return "0"
    if abs(value) >= 10 ** digits:
        return _group(str(round(value)))
    exact = _short_decimal(value, digits)
    if abs(value) < 1e-3:
        shown = digits if exact is None else max(1, len(exact.split("e")[0].lstrip("-").replace(".", "").strip("0")))
        mantissa, exponent = f"{value:.{shown - 1}e}".split("e")
        power = "10" + str(int(exponent)).translate(_SUPERSCRIPT)
        return power if mantissa == "1" else f"{mantissa} × {power}"
    if exact is not None:                 # a value typed as a decimal (0.05, a learning rate): as typed
        return exact[:-2] if exact.endswith(".0") else exact
    text = f"{value:#.{digits}g}"
    if "e" in text:                       # e.g. 999.7 with 3 digits -> "1.00e+03"
        return _group(str(round(value)))
    return _unsigned_zero(text.rstrip(".") if text.endswith(".") else text)


def fixed(value: Any, decimals: int = 2, sign: bool = False) -> str:
    """Format a number with a fixed number of decimals, without a minus sign on a rounded zero.

    Args:
        value: a number (or 0-d tensor/array).
        decimals: digits after the decimal point (0 or more).
        sign: write ``+`` before positive numbers (for differences).

    Returns:
        e.g. ``fixed(-0.0001, 3) == "0.000"``, ``fixed(0.0123, 3, sign=True) == "+0.012"``.
    """
    if decimals < 0:
        raise ValueError(f"fixed: decimals must be 0 or more, got {decimals}")
    value = float(_plain(value))
    text = _unsigned_zero(f"{value:{'+' if sign else ''}.{decimals}f}")
    if text.startswith("+") and not any(c in "123456789" for c in text):
        text = text[1:]
    return text


def listing(items: Iterable[Any], digits: int = 3, conjunction: str = "and") -> str:
    """Items joined as prose: ``"1, 2 and 3"``; numbers go through :func:`fmt`, strings stay."""
    words = [item if isinstance(item, str) else fmt(item, digits) for item in items]
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def rank_correlation(x: Iterable[Any], y: Iterable[Any]) -> float:
    """Spearman's rank correlation of two equally long sequences: the correlation of their ranks.

    Ranks are positions in sorted order (ties broken by position, as ``argsort`` does), so ``+1`` means
    ``y`` grows with ``x`` at every step and ``-1`` that it falls at every step.

    Args:
        x, y: the two sequences (lists, arrays or 1-d tensors), at least two values each.

    Returns:
        the correlation, in ``[-1, 1]``.
    """
    import numpy as np

    a, b = np.asarray(list(map(float, _values(x)))), np.asarray(list(map(float, _values(y))))
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"rank_correlation needs two sequences of the same length >= 2, got {a.size} and {b.size}")
    return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


def _values(v: Any) -> list:
    return v.tolist() if hasattr(v, "tolist") else list(v)


def spread(values: Iterable[Any], decimals: int = 1) -> str:
    """Values over seeds as prose: their mean and sample standard deviation, ``"33.3 ± 2.1"``.

    Both are written with ``decimals`` decimals (:func:`fixed`); one value is written alone (a
    spread of one seed would be meaningless).

    Args:
        values: the numbers, one per seed (a list, an array or a 1-d tensor).
        decimals: digits after the decimal point.
    """
    x = [float(_plain(v)) for v in values]
    if not x:
        raise ValueError("spread needs at least one value")
    if len(x) == 1:
        return fixed(x[0], decimals)
    mean = sum(x) / len(x)
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (len(x) - 1))
    return f"{fixed(mean, decimals)} ± {fixed(sd, decimals)}"


def plural(count: Any, singular: str, plural_form: str | None = None) -> str:
    """A count with its noun in the right number: ``plural(1, "member") == "1 member"``, else ``"3 members"``."""
    count = _plain(count)
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{fmt(count)} {word}"


def numbers(values: Iterable[Any], decimals: int = 3) -> str:
    """A list of numbers for ``print``, rounded: ``"[0.951, 0.873]"`` instead of float32 reprs.

    Args:
        values: numbers, or a tensor or array (flattened).
        decimals: digits after the decimal point for non-integers.
    """
    if hasattr(values, "tolist"):
        values = values.tolist()
    flat = []

    def walk(v):
        if isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        else:
            flat.append(_plain(v))

    walk(values)
    parts = [str(v) if isinstance(v, (bool, int)) else fixed(v, decimals) for v in flat]
    return "[" + ", ".join(parts) + "]"


def _myst_glue():
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return None
    return myst_glue


def glue(name: str, value: Any, digits: int = 3) -> None:
    """Register ``value`` (formatted by :func:`fmt`) under ``name`` for the book's text.

    In the chapter's prose, ``{glue:text}`name``` inserts it. Returns ``None`` (a cell that ends
    in ``glue(...)`` shows nothing); :func:`fmt` gives the text itself. Without myst-nb it does nothing.
    """
    text = fmt(value, digits)
    myst_glue = _myst_glue()
    if myst_glue is not None:
        myst_glue(name, _Text(text), display=False)


def _profile_name() -> str:
    """The profile of the chapter being run: the one :func:`lsl.book.setup` chose (the default before any)."""
    from . import runtime

    run = runtime.active()
    return run.profile.name if run is not None else runtime.choose_profile(os.environ)[0]


def verdict(claim: str, /, *, shown: str = "", note: str = "", **measured: Any) -> None:
    """Record what a chapter measured for a claim of the papers; the verdict is decided from it, never typed.

    The claim's criterion is declared in ``lsl/book/claims.yml`` (the quantities it measures and the
    conditions for "reproduced" and "partly"); :func:`lsl.book.verdicts.decide` turns the
    measurements into the verdict. The record goes to the chapter's text and to the book's scorecard:
    the glue names ``verdict-<claim>`` (the verdict, capitalised, e.g. "Reproduced", with
    "(borderline)" when it is), ``verdict-<claim>-lower`` (the same in lower case, for the middle of
    a sentence) and ``measured-<claim>`` (``shown``). The cell shows the verdict with its criterion
    and the measured values, so a reader sees the rule next to the numbers.

    Args:
        claim: the claim's id in ``claims.yml``, e.g. ``"fj-tunnel-algorithm"``.
        shown: what this build measured, in words, for the scorecard's "measured" column.
        note: a short qualification shown in the scorecard.
        **measured: every quantity the claim's criterion declares, by name: a number, a boolean, a
            sequence, or a :class:`lsl.book.verdicts.Spread` (a quantity measured over repeats).

    Raises:
        KeyError: for a claim that ``claims.yml`` does not list.
        ValueError: for a measure missing from, or not declared by, the criterion, or a non-finite value.
    """
    from . import verdicts

    if not claim or not isinstance(claim, str):
        raise ValueError(f"verdict: claim must be a non-empty id from lsl/book/claims.yml, got {claim!r}")
    crit = verdicts.criterion(claim)
    decided = verdicts.decide(crit, measured)
    _DECIDED[claim] = decided
    record = {
        "claim": claim,
        "verdict": decided.verdict,
        "borderline": decided.borderline,
        "quantities": decided.record()["measured"],
        "spread": decided.record()["spread"],
        "measured": fmt(shown),
        "note": note,
        "profile": _profile_name(),
    }
    myst_glue = _myst_glue()
    if myst_glue is not None:
        myst_glue(VERDICT_PREFIX + claim, _Text(json.dumps(record, sort_keys=True)), display=False)
        myst_glue(f"verdict-{claim}", _Text(decided.word), display=False)
        myst_glue(f"verdict-{claim}-lower", _Text(decided.word.lower()), display=False)
        myst_glue(f"measured-{claim}", _Text(record["measured"]), display=False)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python: say it on stdout
        print(_VerdictLine(crit, decided))
        return None
    if get_ipython() is not None:
        display(_VerdictLine(crit, decided))
    else:
        print(_VerdictLine(crit, decided))
    return None


_DECIDED: dict = {}


def decided(claim: str):
    """The :class:`lsl.book.verdicts.Verdict` that :func:`verdict` decided for ``claim`` in this run.

    For text that depends on the verdict (glue it: the word itself is ``verdict-<claim>``).

    Raises:
        KeyError: if this run has not recorded the claim yet.
    """
    if claim not in _DECIDED:
        raise KeyError(f"no verdict for {claim!r} yet in this run; call report.verdict({claim!r}, ...) first")
    return _DECIDED[claim]


class _VerdictLine:
    """One line under a verdict cell: the verdict, the declared criterion and the measured values."""

    def __init__(self, crit, decided):
        self.crit, self.decided = crit, decided

    def _values(self) -> str:
        parts = []
        for name, value in self.decided.measured.items():
            if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
                text = numbers(value, 3)
            else:
                text = fmt(value)
            if name in self.decided.spread:
                sd = self.decided.spread[name]
                text += " ± " + (numbers(sd, 3) if hasattr(sd, "tolist") and getattr(sd, "ndim", 0) else fmt(float(sd), 2))
            parts.append(f"{name} = {text}")
        return "; ".join(parts)

    def _rule(self) -> str:
        rule = f"reproduced if {self.crit.reproduced}"
        if self.crit.partly:
            rule += f"; partly if {self.crit.partly}"
        return rule

    def __repr__(self) -> str:
        return f"Verdict ({self.crit.claim}): {self.decided.word}. Criterion: {self._rule()}. Measured: {self._values()}."

    def _repr_html_(self) -> str:
        kind = self.decided.verdict.replace(" ", "-")
        return (f'<div class="lsl-verdict-line lsl-verdict-{kind}"><strong>Verdict</strong> '
                f'(<code>{html.escape(self.crit.claim)}</code>): <strong>{html.escape(self.decided.word)}</strong>. '
                f'Criterion, declared before measuring: <code>{html.escape(self._rule())}</code>. '
                f'Measured: {html.escape(self._values())}.</div>')


def figure(name: str, fig) -> None:
    """Show ``fig`` in the notebook and register it as ``name`` for a captioned ``{glue:figure}``.

    ``fig`` is a matplotlib figure, which is closed afterwards so that it is not shown twice,
    or any displayable object, such as an :class:`~lsl.book.explore.Explorer` (a live widget in a
    notebook, its static figure in the book).
    """
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    myst_glue = _myst_glue()
    if not isinstance(fig, Figure):
        if myst_glue is not None:
            myst_glue(name, fig, display=True)
        else:
            from IPython.display import display

            display(fig)
        return
    if myst_glue is not None:
        myst_glue(name, fig, display=True)
        plt.close(fig)
    else:
        plt.show()


class Table:
    """A small table of results: Markdown in a notebook and in the book, aligned text in a terminal.

    Args:
        rows: one dict per row, all with the same keys (the column headings, in order).
    """

    def __init__(self, rows: list[dict]):
        if not rows:
            raise ValueError("table: give at least one row")
        self.columns = list(rows[0])
        for i, row in enumerate(rows):
            if list(row) != self.columns:
                raise ValueError(f"table: row {i} has columns {list(row)}, expected {self.columns}")
        self.rows = [[fmt(v) if not isinstance(v, str) else v for v in row.values()] for row in rows]

    def _repr_markdown_(self) -> str:
        def line(cells):
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
        return "\n".join([line(self.columns), line(["---"] * len(self.columns))] + [line(r) for r in self.rows])

    def _repr_html_(self) -> str:
        # The book's HTML builder prefers text/html to text/markdown, and renders a Markdown table in a
        # cell's output as a plain paragraph: the table is given as HTML too.
        def row(cells, tag):
            return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"
        head = row(self.columns, "th")
        body = "".join(row(r, "td") for r in self.rows)
        # a table wider than the page scrolls sideways instead of being cut off
        return (f'<div class="lsl-table-wrap" style="overflow-x: auto"><table class="table lsl-table">'
                f'<thead>{head}</thead><tbody>{body}</tbody></table></div>')

    def __repr__(self) -> str:
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) for i, c in enumerate(self.columns)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in [self.columns] + self.rows]
        return "\n".join(lines)


def table(rows: list[dict]) -> Table:
    """A :class:`Table` of ``rows`` (dicts with the same keys); numbers are formatted by :func:`fmt`.

    Make it the last expression of a cell to show it; the book renders it as a Markdown table.
    """
    return Table(rows)
