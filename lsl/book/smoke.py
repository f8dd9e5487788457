"""The ``smoke`` scale: the ``paper`` profile with every count shrunk by the rule declared beside it.

``LSL_PROFILE=smoke`` runs every chapter's paper-profile code paths (its data sets' formats, its
architectures, its optimisers) on a CPU in seconds, so that the tests catch what would break a
reader's paper-scale run. The sizes come from :mod:`lsl.book.sizes` by :func:`shrink_chapters`, each
setting by the rule declared beside it there (``sizes.SMOKE``), never guessed from its name: renaming a
setting cannot change its smoke size. :func:`lsl.book.profiles.derive_smoke` wraps them into a profile.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["shrink_chapters", "rule_at", "KINDS", "SMOKE_DIVISORS", "SMOKE_GRID", "SMOKE_FLOOR", "SMOKE_SEEDS"]

#: Divisor of each kind of integer setting (the rules declared in :mod:`lsl.book.sizes`).
#: Step counts and positions are divided by 100 (the paper's are multiples of 100), intervals between
#: checks or snapshots only by 10, so a run is checked or sampled a tenth as often; examples by 50, but the
#: examples a curvature estimate runs on (kind ``"subset"``: the Hessian's or the logit Jacobians' subset of
#: the training set) by 250, as every one of them is passed through hundreds of times (a Hessian-vector
#: product each, per Lanczos step) and a subset of any size runs the same code; every other count
#: (dimensions, points, planes, directions, models) by 10.
SMOKE_DIVISORS: Mapping[str, int] = MappingProxyType(
    {"steps": 100, "interval": 10, "examples": 50, "subset": 250, "width": 4, "count": 10})
#: A grid (a tuple of more than this many numbers) keeps this many: its first, middle and last value.
SMOKE_GRID = 3
#: Independent repetitions of an experiment (kind ``"seeds"``: a tuple of seeds, or their number) keep this many:
#: the fewest that still give a spread over seeds (a standard deviation, a pair to compare), which is all the
#: smoke run needs of them; every repetition runs the same code, so a third one only repeats its cost.
SMOKE_SEEDS = 2
#: No count shrinks below this (or below its paper value, if that is smaller): depth 2 stays 2, and a
#: path keeps an interior point, a connector three optima.
SMOKE_FLOOR = 3

#: The rules a setting can declare: how its integers shrink (``"names"``: a tuple of them names class counts or
#: the members of one experiment, such as the three optima that span a plane, and is kept; ``"seeds"``: independent
#: repetitions, a tuple of seeds or their number, keep :data:`SMOKE_SEEDS`; ``"cases"``: a list of experiments keeps
#: its first and last; ``"value"``: a value, not a count, such as a learning rate, a dataset or a grid of scales,
#: kept as it is).
KINDS = ("steps", "interval", "examples", "subset", "width", "count", "names", "seeds", "cases", "value")

Rule = "str | Mapping[str, str]"


def rule_at(rule, key: str | None = None) -> str:
    """The kind of an entry of a setting: the setting's rule, or for a mapping rule the rule of ``key``.

    A mapping rule (for a setting that holds options, e.g. ``net=dict(width=64, depth=2)``) gives each
    inner key its kind, and ``"*"`` the kind of everything else.

    Raises:
        KeyError: if a mapping rule has no entry for ``key`` and no ``"*"``.
    """
    if isinstance(rule, str):
        return rule
    if key is not None and key in rule:
        return rule[key]
    if "*" in rule:
        return rule["*"]
    raise KeyError(f"the smoke rule {dict(rule)} has no entry for {key!r} (nor '*')")


def _shrink_int(n: int, kind: str) -> int:
    if kind in ("steps", "interval"):  # at least one step
        return max(1, math.ceil(n / SMOKE_DIVISORS[kind])) if n > 0 else n
    if n <= SMOKE_FLOOR:
        return n
    return max(SMOKE_FLOOR, math.ceil(n / SMOKE_DIVISORS[kind]))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _shrink(value: Any, rule) -> Any:
    """``value`` at the smoke scale under ``rule`` (a kind, or a mapping of inner keys to kinds)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, Mapping):
        return {k: _shrink(v, rule_at(rule, str(k)) if isinstance(rule, Mapping) else rule) for k, v in value.items()}
    if isinstance(value, int):
        kind = rule_at(rule)
        if kind == "value":
            raise ValueError(f"an integer ({value}) under the smoke rule 'value': declare how it shrinks")
        if kind == "seeds":
            return min(value, SMOKE_SEEDS)
        return _shrink_int(value, "count" if kind == "names" else kind)
    if isinstance(value, (tuple, list)):
        kind = rule if isinstance(rule, str) else None
        if kind == "cases" and len(value) > 2:
            value = type(value)([value[0], value[-1]])
        if kind == "seeds":
            return type(value)(value[:SMOKE_SEEDS])
        items = list(value) if kind in ("names", "cases") else [_shrink(v, rule) for v in value]
        if len(items) > SMOKE_GRID and all(_is_number(v) for v in items):
            n = len(items)
            items = [items[0], items[(n - 1) // 2], items[-1]]
        return type(value)(items)
    return value


def _check_rules(name: str, settings: Mapping[str, Any], rules: Mapping[str, Any]) -> None:
    missing = sorted(set(settings) - set(rules))
    extra = sorted(set(rules) - set(settings))
    if missing or extra:
        raise ValueError(f"chapter {name!r}: every setting needs a smoke rule beside it in lsl/book/sizes.py; "
                         f"without one: {missing}; rules for no setting: {extra}")
    for key, rule in rules.items():
        kinds = [rule] if isinstance(rule, str) else list(rule.values())
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise ValueError(f"chapter {name!r}, setting {key!r}: unknown smoke rule {bad}; choose from {KINDS}")


def shrink_chapters(chapters: Mapping[str, Mapping[str, Any]],
                    rules: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ``smoke`` scale of the ``paper`` profile's chapters: every count shrunk by its rule, for tests on a CPU.

    Same datasets, architectures, optimisers, learning rates, thresholds and code paths as
    ``paper``; only sizes change, setting by setting:

    - floats, strings, booleans and ``None`` are kept (learning rates, tolerances, dataset and
      architecture names; ``n_train=None``, "all of it", reads all of the small test files);
    - an integer is divided by the divisor of its kind (:data:`SMOKE_DIVISORS`; the kind is the rule
      declared beside the setting in :mod:`lsl.book.sizes`: steps and positions in a run / 100, intervals
      between checks or snapshots / 10, examples and batch sizes / 50, the examples of a curvature
      estimate / 250, widths and channels / 4, any other count / 10), rounded up, and never made smaller than :data:`SMOKE_FLOOR` (values at or
      below it are kept, so a depth of 2 stays 2), except steps and intervals, which keep at least
      one step. The paper's step counts and positions are multiples of 100, so positions stay
      multiples of each other, and a run of ``S`` steps checked every ``E`` steps with ``S / E`` a
      multiple of 10 (as in every paper setting) is still checked a whole number of times;
    - a tuple of more than :data:`SMOKE_GRID` numbers (a grid: learning rates, dimensions,
      scales, moments) keeps its first, middle and last entry, after shrinking each;
    - a tuple naming class counts or the members of one experiment (kind ``"names"``) is kept as it is; a
      list of cases (kind ``"cases"``) keeps its first and last case;
    - independent repetitions (kind ``"seeds"``: a tuple of seeds, or how many) keep their first
      :data:`SMOKE_SEEDS` (a count of at most that many is kept): a spread over seeds still has two to
      compare, and every further seed would only run the same code again.

    A setting without a rule, or a rule without a setting, is an error (renaming a setting without its
    rule cannot silently change its smoke size). The smoke
    scale is for checking that the code runs; the chapters' claims are not expected to hold at it
    (:meth:`lsl.book.profiles.Profile.check_at_scale`).

    Args:
        chapters: the paper profile's settings per chapter.
        rules: each chapter's smoke rules (:data:`lsl.book.sizes.SMOKE`): setting -> kind (:data:`KINDS`),
            or for a setting that holds options, inner key -> kind (``"*"`` for the rest).

    Returns:
        the same chapters and settings, at the smoke scale.

    Raises:
        ValueError: for a chapter without rules, a setting without a rule or a rule without a setting, an
            unknown kind, or an integer under the rule ``"value"``.
    """
    out = {}
    for name, values in chapters.items():
        if name not in rules:
            raise ValueError(f"chapter {name!r} has no smoke rules in lsl/book/sizes.py (SMOKE)")
        _check_rules(name, values, rules[name])
        out[name] = {k: _shrink(v, rules[name][k]) for k, v in values.items()}
    return out
