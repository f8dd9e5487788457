"""Putting computed numbers and figures into a chapter's text.

:func:`glue` stores a formatted number under a name so that the chapter's
prose can show it with ``{glue:text}`` (myst-nb); :func:`figure` shows a
figure in the notebook and registers it for a numbered, captioned
``{glue:figure}`` in the book. Without myst-nb (plain Python, Colab) they
fall back to printing nothing and showing the figure, so chapters run anywhere.
"""

from __future__ import annotations

from typing import Any

__all__ = ["glue", "figure", "fmt"]


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


def fmt(value: Any, digits: int = 3) -> str:
    """Format a number for prose: integers as they are, floats with ``digits`` significant digits."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, (bool, int)):
        return str(value)
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 10 ** (digits + 2) or abs(value) < 1e-2):
            return f"{value:.{max(digits - 1, 1)}e}"
        text = f"{value:.{digits}g}"
        return f"{float(text):.0f}" if "e" in text else text
    return str(value)


def _myst_glue():
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return None
    return myst_glue


def glue(name: str, value: Any, digits: int = 3) -> str:
    """Register ``value`` (formatted by :func:`fmt`) under ``name`` for the book's text; returns the string.

    In the chapter's prose, ``{glue:text}`name``` inserts it. Without myst-nb it only returns the string.
    """
    text = fmt(value, digits)
    myst_glue = _myst_glue()
    if myst_glue is not None:
        myst_glue(name, _Text(text), display=False)
    return text


def figure(name: str, fig) -> None:
    """Show ``fig`` in the notebook and register it as ``name`` for a captioned ``{glue:figure}``.

    ``fig`` is a matplotlib figure, which is closed afterwards so that it is not shown twice,
    or any displayable object, such as an :class:`~lsl.explore.Explorer` (a live widget in a
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
