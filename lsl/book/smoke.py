"""The ``smoke`` scale: the ``paper`` profile with every count shrunk by one rule.

``LSL_PROFILE=smoke`` runs every chapter's paper-profile code paths (its data sets' formats, its
architectures, its optimisers) on a CPU in seconds, so that the tests catch what would break a
reader's paper-scale run. The sizes come from :mod:`lsl.book.sizes` by :func:`shrink_chapters`;
:func:`lsl.book.profiles.derive_smoke` wraps them into a profile.
"""

from __future__ import annotations

import math
import re
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["shrink_chapters", "smoke_kind", "SMOKE_DIVISORS", "SMOKE_GRID", "SMOKE_FLOOR"]

#: Divisor of each kind of integer setting in :func:`derive_smoke` (see :func:`smoke_kind`).
#: Step counts and positions are divided by 100 (the paper's are multiples of 100), intervals between
#: checks or snapshots only by 10, so a run is checked or sampled a tenth as often; every other count
#: (dimensions, points, planes, directions, models) by 10.
SMOKE_DIVISORS: Mapping[str, int] = MappingProxyType(
    {"steps": 100, "interval": 10, "examples": 50, "width": 4, "count": 10})
#: A grid (a tuple of more than this many numbers) keeps this many: its first, middle and last value.
SMOKE_GRID = 3
#: No count shrinks below this (or below its paper value, if that is smaller): depth 2 stays 2, and a
#: path keeps an interior point, a connector three optima.
SMOKE_FLOOR = 3

_SMOKE_KINDS = (
    ("interval", re.compile(r"every")),
    ("steps", re.compile(r"steps|moments|checkpoints")),
    ("examples", re.compile(r"n_train|n_test|examples|per_class|batch_size")),
    ("width", re.compile(r"width|channels")),
    ("names", re.compile(r"seeds$|classes$")),
    ("cases", re.compile(r"cases$")),
)


def smoke_kind(path: tuple[str, ...]) -> str:
    """The kind of a setting for :func:`derive_smoke`, from its key and the keys that contain it.

    The innermost key that matches decides (``plane_steps={"MLP": 5000}`` is a step count,
    ``sweeps={"width": (8, 16, 32)}`` a width):

    - ``"interval"``: a key containing ``every`` (steps between two checks or snapshots);
    - ``"steps"``: a key containing ``steps``, ``moments`` or ``checkpoints`` (a number of steps or a
      position in a run);
    - ``"examples"``: ``n_train``, ``n_test``, ``examples``, ``per_class``, ``batch_size``;
    - ``"width"``: ``width``, ``channels``;
    - ``"names"``: a key ending in ``seeds`` or ``classes``: a tuple under it says *which* seeds
      or class counts, so its values are kept (an integer under it is still a count);
    - ``"cases"``: a key ending in ``cases``: a list of experiments (e.g. data set and activation
      pairs), thinned to its first and last entry (chosen so that those two differ in every field);
    - ``"count"``: everything else (dimensions, numbers of points, planes, directions, models ...).

    Args:
        path: the keys from the chapter's setting inwards, e.g. ``("plane_steps", "MLP")``.

    Returns:
        one of ``"interval"``, ``"steps"``, ``"examples"``, ``"width"``, ``"names"``, ``"cases"``, ``"count"``.
    """
    for key in reversed(path):
        for kind, pattern in _SMOKE_KINDS:
            if pattern.search(str(key)):
                return kind
    return "count"


def _shrink_int(n: int, kind: str) -> int:
    if kind in ("steps", "interval"):  # at least one step
        return max(1, math.ceil(n / SMOKE_DIVISORS[kind])) if n > 0 else n
    if n <= SMOKE_FLOOR:
        return n
    return max(SMOKE_FLOOR, math.ceil(n / SMOKE_DIVISORS[kind]))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _shrink(value: Any, path: tuple[str, ...]) -> Any:
    kind = smoke_kind(path)
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return _shrink_int(value, "count" if kind == "names" else kind)
    if isinstance(value, Mapping):
        return {k: _shrink(v, path + (str(k),)) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        if kind == "cases" and len(value) > 2:
            value = type(value)([value[0], value[-1]])
        if kind in ("names", "cases"):
            items = list(value)
        else:
            items = [_shrink(v, path) for v in value]
        if len(items) > SMOKE_GRID and all(_is_number(v) for v in items):
            n = len(items)
            items = [items[0], items[(n - 1) // 2], items[-1]]
        return type(value)(items)
    return value


def shrink_chapters(chapters: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ``smoke`` scale of the ``paper`` profile's chapters: every count shrunk by one rule, for tests on a CPU.

    Same datasets, architectures, optimisers, learning rates, thresholds and code paths as
    ``paper``; only sizes change, setting by setting:

    - floats, strings, booleans and ``None`` are kept (learning rates, tolerances, dataset and
      architecture names; ``n_train=None``, "all of it", reads all of the small test files);
    - an integer is divided by the divisor of its kind (:data:`SMOKE_DIVISORS`; the kind comes
      from the setting's name, :func:`smoke_kind`: steps and positions in a run / 100, intervals
      between checks or snapshots / 10, examples and batch sizes / 50, widths and channels / 4, any
      other count / 10), rounded up, and never made smaller than :data:`SMOKE_FLOOR` (values at or
      below it are kept, so a depth of 2 stays 2), except steps and intervals, which keep at least
      one step. The paper's step counts and positions are multiples of 100, so positions stay
      multiples of each other, and a run of ``S`` steps checked every ``E`` steps with ``S / E`` a
      multiple of 10 (as in every paper setting) is still checked a whole number of times;
    - a tuple of more than :data:`SMOKE_GRID` numbers (a grid: learning rates, dimensions,
      scales, moments) keeps its first, middle and last entry, after shrinking each;
    - a tuple naming seeds or class counts (kind ``"names"``) is kept as it is; a list of cases (kind
      ``"cases"``) keeps its first and last case.

    A new chapter's paper settings get their smoke scale from this rule automatically. The smoke
    scale is for checking that the code runs; the chapters' claims are not expected to hold at it
    (:meth:`lsl.book.profiles.Profile.check_at_scale`).

    Args:
        chapters: the paper profile's settings per chapter.

    Returns:
        the same chapters and settings, at the smoke scale.
    """
    return {name: {k: _shrink(v, (k,)) for k, v in values.items()} for name, values in chapters.items()}
