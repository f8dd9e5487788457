"""Checks of scalar and sequence arguments, one message per kind of mistake.

Every public function of :mod:`lsl` that takes a count, a fraction, a tolerance or a flag checks it at its
door with these, so that a wrong value fails at once with a message that names the argument, says what it
must be and what was given: ``n_planes must be an integer >= 1, got 0``. Tensors are checked by
:meth:`lsl.landscape.Landscape.check_theta` and :func:`lsl.landscape.check_finite`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

__all__ = ["integer", "number", "flag", "integers"]


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int``, if it is an integer (not a bool, not a float) within ``[low, high]``.

    Raises:
        TypeError: if it is not an integer (``2.5`` or ``True`` are refused: a fraction is not truncated).
        ValueError: if it is outside ``[low, high]``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer{_range(low, high)}, got {value}")
    return value


def number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite ``float`` within the given bounds (closed unless ``*_open``).

    Raises:
        TypeError: if it is not a real number (a bool is refused).
        ValueError: if it is NaN or infinite, or outside the bounds.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    bounds = _bounds(low, high, low_open, high_open)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number{bounds}, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be a number{bounds}, got {value}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name} must be a number{bounds}, got {value}")
    return value


def flag(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False`` (a string such as ``"no"`` is refused, not taken as true).

    Raises:
        TypeError: for anything but a bool.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def integers(name: str, values: Any, *, low: int | None = None, high: int | None = None) -> list[int]:
    """A non-empty sequence of integers within ``[low, high]``, as a list.

    Raises:
        TypeError: if ``values`` is not a sequence of integers.
        ValueError: if it is empty or an entry is outside ``[low, high]``.
    """
    if hasattr(values, "tolist") and not isinstance(values, (str, bytes)):   # a tensor or an array
        values = values.tolist()
        values = values if isinstance(values, list) else [values]
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) and not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of integers, got {values!r}")
    out = [integer(f"{name}[{k}]", v, low=low, high=high) for k, v in enumerate(values)]
    if not out:
        raise ValueError(f"{name} is empty: give at least one value")
    return out


def _range(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def _bounds(low, high, low_open, high_open) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return (" " + " and ".join(parts)) if parts else ""
