"""Verdicts: how a claim of the papers fared, decided by one rule from a criterion declared in advance.

Every claim the book tests is listed in ``lsl/book/claims.yml`` with a **criterion** written before
the chapter measures anything: the quantities the chapter records (by name, each with what it
means), and two conditions on them, one for "reproduced" and one for "partly". A chapter records
what it measured with :func:`lsl.book.report.verdict`; :func:`decide` (the only place a verdict word
is made) evaluates the conditions:

- "reproduced" if the ``reproduced`` condition holds;
- else "partly" if the claim has a ``partly`` condition and it holds;
- else "not reproduced".

A condition is a small expression over the measured quantities and the shared **terms** of
``claims.yml`` (the book's one definition of "far below", "orthogonal", "grows with", ...), e.g.
``line_over_tunnel >= far_below and vertex_over_line <= low``. It may use arithmetic, comparisons,
``and``/``or``/``not``, and the functions of :data:`FUNCTIONS` (``all``, ``any``, ``abs``, ``min``,
``max``, ``mean``, ``grows``, ``falls``, ``fades``, ``rank``). A comparison of a list is element-wise
(``all(x > 0)``).

**Borderline.** A quantity measured over seeds is passed as a :class:`Spread` (its values); the
condition uses its mean. If moving any such quantity by one standard deviation up or down would
change the verdict, the verdict is *borderline*: it is shown as such on the scorecard, and a change of
it between machines or runs is not treated as a flip of the committed record (see ``book/verdicts``).

Nothing here imports torch; values may be numbers, booleans, lists, numpy arrays or tensors.
"""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

__all__ = ["VERDICTS", "Spread", "Verdict", "Criterion", "decide", "claims", "claim", "terms", "criterion",
           "FUNCTIONS", "CLAIMS_FILE", "check_expression"]

#: The verdicts a claim can get, in the words the scorecard shows.
VERDICTS = ("reproduced", "partly", "not reproduced", "not covered")
#: The declared claims and criteria (package data, so that a chapter run in Colab finds them).
CLAIMS_FILE = Path(__file__).with_name("claims.yml")


class Spread:
    """A quantity measured several times (seeds, draws, sets of optima): its mean, standard deviation and values.

    Pass it to :func:`lsl.book.report.verdict` in place of a number: the criterion sees the mean
    (element-wise for a quantity measured at several points, one row of ``values`` per repeat), and
    the standard deviation decides whether the verdict is borderline.

    Args:
        values: the repeats, a sequence of numbers (a scalar quantity) or of equally long sequences
            (a quantity measured at each point of a sweep); at least one.
    """

    def __init__(self, values: Any):
        import numpy as np

        x = np.asarray(_plain_list(values), dtype=float)
        if x.size == 0:
            raise ValueError("Spread needs at least one value")
        if not np.isfinite(x).all():
            raise ValueError(f"Spread: the values must be finite, got {x.tolist()}")
        self.values = x
        self.mean = x.mean(axis=0)
        self.sd = x.std(axis=0, ddof=1) if x.shape[0] > 1 else np.zeros_like(self.mean)
        self.n = int(x.shape[0])

    @classmethod
    def of(cls, mean: Any, sd: Any) -> "Spread":
        """A quantity with an uncertainty known otherwise than from repeats (e.g. a share of sweeps, some of
        which moved by less than the noise between seeds): its value ``mean`` and standard deviation ``sd``.

        Raises:
            ValueError: for a non-finite value or a negative or non-finite ``sd``.
        """
        import numpy as np

        m = np.asarray(_plain_list(mean), dtype=float)
        d = np.broadcast_to(np.asarray(_plain_list(sd), dtype=float), m.shape).copy()
        if not (np.isfinite(m).all() and np.isfinite(d).all() and (d >= 0).all()):
            raise ValueError(f"Spread.of needs a finite value and a finite sd >= 0, got {m.tolist()} ± {d.tolist()}")
        out = cls.__new__(cls)
        out.values, out.mean, out.sd, out.n = m[None], m, d, 0
        return out

    def __repr__(self) -> str:
        return f"Spread(mean={_jsonable(self.mean)}, sd={_jsonable(self.sd)}, n={self.n})"


def _plain_list(value: Any) -> Any:
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain_list(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """A JSON-ready copy (floats rounded to 6 significant digits, arrays as lists)."""
    value = _plain_list(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else str(value)
    return value


# ---------------------------------------------------------------------------------------------------
# The shared vocabulary: functions a criterion may call


def _array(x):
    import numpy as np

    return np.asarray(_plain_list(x), dtype=float)


def rank(x, y=None) -> float:
    """Spearman's rank correlation of ``x`` with ``y`` (default: with its position, 0, 1, 2, ...)."""
    import numpy as np

    a = _array(x).ravel()
    b = np.arange(a.size, dtype=float) if y is None else _array(y).ravel()
    if a.size != b.size or a.size < 2:
        raise ValueError(f"rank needs two sequences of the same length >= 2, got {a.size} and {b.size}")
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def grows(x, rho: float = 0.8) -> bool:
    """"Grows with": ``x`` (values along a sweep, in the sweep's order) has rank correlation at least ``rho``
    with its position, and its last value is above its first."""
    a = _array(x).ravel()
    return bool(rank(a) >= rho and a[-1] > a[0])


def falls(x, rho: float = 0.8) -> bool:
    """"Falls with": the mirror of :func:`grows` (rank correlation at most ``-rho``, last below first)."""
    a = _array(x).ravel()
    return bool(rank(a) <= -rho and a[-1] < a[0])


def fades(x, rise: float = 0.0) -> bool:
    """"An effect that fades": along a sweep, ``x`` rises above its first value by more than ``rise``, and then
    falls back, its last value below its largest by more than ``rise``. The largest value is then inside the
    sweep, never at either end."""
    a = _array(x).ravel()
    if a.size < 3:
        raise ValueError(f"fades needs a sweep of at least 3 values, got {a.size}")
    top = a.max()
    return bool(top - a[0] > rise and top - a[-1] > rise)


def _mean(x) -> float:
    return float(_array(x).mean())


def _all(x) -> bool:
    return bool(_array(x).astype(bool).all()) if not isinstance(x, bool) else x


def _any(x) -> bool:
    return bool(_array(x).astype(bool).any()) if not isinstance(x, bool) else x


def _abs(x):
    import numpy as np

    return np.abs(_array(x)) if _is_seq(x) else abs(x)


def _min(*x):
    return float(_array(x[0]).min()) if len(x) == 1 else min(x)


def _max(*x):
    return float(_array(x[0]).max()) if len(x) == 1 else max(x)


def _len(x) -> int:
    return int(_array(x).size)


def _is_seq(x) -> bool:
    return hasattr(x, "__len__") and not isinstance(x, str)


#: The functions a criterion may call, by name.
FUNCTIONS = {"all": _all, "any": _any, "abs": _abs, "min": _min, "max": _max, "mean": _mean, "len": _len,
             "grows": grows, "falls": falls, "fades": fades, "rank": rank, "sqrt": math.sqrt}

_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow}


def _evaluate(node: ast.AST, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in names:
            value = names[node.id]
            return _array(value) if _is_seq(value) else value
        raise NameError(node.id)
    if isinstance(node, (ast.List, ast.Tuple)):
        return _array([_evaluate(e, names) for e in node.elts])
    if isinstance(node, ast.BoolOp):
        values = [_evaluate(v, names) for v in node.values]
        for v in values:
            if _is_seq(v):
                raise ValueError("and/or need single truth values; wrap a list's comparison in all(...) or any(...)")
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, names)
        if isinstance(node.op, ast.Not):
            if _is_seq(value):
                raise ValueError("not needs a single truth value; use all(...) or any(...)")
            return not value
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left, names), _evaluate(node.right, names))
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, names)
        result = True
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, names)
            this = _COMPARE[type(op)](left, right)
            result = (result & this) if _is_seq(this) or _is_seq(result) else (result and this)
            left = right
        return result
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
            and not node.keywords:
        return FUNCTIONS[node.func.id](*[_evaluate(a, names) for a in node.args])
    raise ValueError(f"not allowed in a criterion: {ast.dump(node)[:80]}")


@lru_cache(maxsize=None)
def _parse(expression: str) -> ast.Expression:
    try:
        return ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"criterion {expression!r} is not an expression: {exc.msg}") from None


def _names(expression: str) -> set[str]:
    return {n.id for n in ast.walk(_parse(expression)) if isinstance(n, ast.Name)} - set(FUNCTIONS)


def check_expression(expression: str, allowed: set[str]) -> None:
    """Raise a ``ValueError`` if ``expression`` does not parse, uses a construct outside the criterion
    language, or a name outside ``allowed`` (the claim's measured quantities and the shared terms)."""
    tree = _parse(expression)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            raise ValueError(f"criterion {expression!r}: only the functions {', '.join(FUNCTIONS)} may be called")
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Lambda, ast.IfExp, ast.ListComp, ast.GeneratorExp,
                             ast.Dict, ast.Set, ast.NamedExpr, ast.Starred)):
            raise ValueError(f"criterion {expression!r}: {type(node).__name__} is not allowed")
    unknown = _names(expression) - allowed
    if unknown:
        raise ValueError(f"criterion {expression!r} uses {', '.join(sorted(unknown))}, which is neither one of the "
                         f"claim's measures nor a term of claims.yml")


# ---------------------------------------------------------------------------------------------------
# Criteria and verdicts


@dataclass(frozen=True)
class Criterion:
    """A claim's declared criterion: what is measured and the conditions for "reproduced" and "partly".

    Attributes:
        claim: the claim's id.
        measures: ``{name: what it means}`` for every quantity the chapter must record.
        reproduced: the condition for "reproduced" (an expression, see the module docstring).
        partly: the condition for "partly", or ``""`` when the claim has no partial verdict.
    """

    claim: str
    measures: dict
    reproduced: str
    partly: str = ""


@dataclass(frozen=True)
class Verdict:
    """A decided verdict: the word, whether it is borderline, and what it was decided from.

    Attributes:
        claim: the claim's id.
        verdict: one of "reproduced", "partly", "not reproduced".
        borderline: whether moving a quantity measured over repeats by one standard deviation would
            change the verdict.
        measured: the measured quantities as recorded (means for a :class:`Spread`).
        spread: the standard deviations of the quantities measured over repeats.
        sensitive: the quantities whose spread makes the verdict borderline.
    """

    claim: str
    verdict: str
    borderline: bool
    measured: dict = field(default_factory=dict)
    spread: dict = field(default_factory=dict)
    sensitive: tuple = ()

    @property
    def word(self) -> str:
        """The verdict as the text shows it: "Reproduced", "Partly", "Not reproduced" (", borderline")."""
        return self.verdict.capitalize() + (" (borderline)" if self.borderline else "")

    def record(self) -> dict:
        """A JSON-ready record of the verdict (what the committed records in ``book/verdicts`` hold)."""
        return {"verdict": self.verdict, "borderline": self.borderline,
                "measured": {k: _jsonable(v) for k, v in self.measured.items()},
                "spread": {k: _jsonable(v) for k, v in self.spread.items()},
                "sensitive": list(self.sensitive)}


@lru_cache(maxsize=None)
def _load(path: str) -> dict:
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf8")) or {}
    if not isinstance(data.get("claims"), list):
        raise ValueError(f"{path} has no 'claims:' list")
    return data


def claims(path: Path | str = CLAIMS_FILE) -> list[dict]:
    """Every claim of ``claims.yml`` (dicts with ``id``, ``paper``, ``where``, ``claim``, ``chapter``, ``criterion``...)."""
    return list(_load(str(path))["claims"])


def terms(path: Path | str = CLAIMS_FILE) -> dict[str, float]:
    """The shared terms of ``claims.yml``: ``{name: value}`` (their meanings are under ``terms:`` there)."""
    return {name: float(entry["value"]) for name, entry in (_load(str(path)).get("terms") or {}).items()}


def claim(claim_id: str, path: Path | str = CLAIMS_FILE) -> dict:
    """The entry of ``claims.yml`` for ``claim_id``; a ``KeyError`` that lists the ids if there is none."""
    for c in claims(path):
        if c["id"] == claim_id:
            return c
    known = ", ".join(c["id"] for c in claims(path))
    raise KeyError(f"no claim {claim_id!r} in {path}; the claims are: {known}")


def criterion(claim_id: str, path: Path | str = CLAIMS_FILE) -> Criterion:
    """The declared :class:`Criterion` of a claim, checked: every name it uses is a measure or a term."""
    entry = claim(claim_id, path)
    spec = entry.get("criterion")
    if not isinstance(spec, dict) or "reproduced" not in spec or not spec.get("measures"):
        raise ValueError(f"claim {claim_id!r} in {path} has no criterion with 'measures' and 'reproduced'")
    crit = Criterion(claim_id, dict(spec["measures"]), str(spec["reproduced"]), str(spec.get("partly") or ""))
    allowed = set(crit.measures) | set(terms(path))
    for expression in (crit.reproduced, crit.partly):
        if expression:
            check_expression(expression, allowed)
    return crit


def _word(crit: Criterion, names: Mapping[str, Any]) -> str:
    def holds(expression: str) -> bool:
        value = _evaluate(_parse(expression), names)
        if _is_seq(value):
            raise ValueError(f"criterion of {crit.claim!r}: {expression!r} gives a list; wrap it in all(...) or any(...)")
        return bool(value)

    if holds(crit.reproduced):
        return "reproduced"
    if crit.partly and holds(crit.partly):
        return "partly"
    return "not reproduced"


def decide(crit: Criterion, measured: Mapping[str, Any], term_values: Mapping[str, float] | None = None) -> Verdict:
    """The one rule that turns measurements into a verdict (see the module docstring).

    Args:
        crit: the claim's declared criterion (:func:`criterion`).
        measured: ``{name: value}`` for exactly the criterion's measures; a value is a number, a
            boolean, a sequence, or a :class:`Spread` (repeats, whose mean the conditions use).
        term_values: the shared terms (default: those of ``claims.yml``).

    Returns:
        the :class:`Verdict`.

    Raises:
        ValueError: if a measure is missing or unexpected, or a value is not finite.
    """
    import numpy as np

    missing = set(crit.measures) - set(measured)
    extra = set(measured) - set(crit.measures)
    if missing or extra:
        raise ValueError(f"verdict {crit.claim!r}: the criterion declared in claims.yml measures "
                         f"{', '.join(sorted(crit.measures))}; " +
                         (f"missing: {', '.join(sorted(missing))}" if missing else "") +
                         ("; " if missing and extra else "") +
                         (f"not declared: {', '.join(sorted(extra))}" if extra else ""))
    means, sds = {}, {}
    for name, value in measured.items():
        if isinstance(value, Spread):
            means[name], sds[name] = (value.mean.item() if value.mean.ndim == 0 else value.mean), value.sd
        else:
            value = _plain_list(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isfinite(value):
                raise ValueError(f"verdict {crit.claim!r}: {name} is {value}, not a finite number")
            if isinstance(value, list) and not np.isfinite(_array(value)).all():
                raise ValueError(f"verdict {crit.claim!r}: {name} has non-finite values {value}")
            means[name] = value
    base = dict(terms() if term_values is None else term_values)
    word = _word(crit, {**base, **means})
    sensitive = []
    for name, sd in sds.items():
        if not np.any(sd > 0):
            continue
        for sign in (1, -1):
            shifted = dict(means)
            shifted[name] = means[name] + sign * sd
            if _word(crit, {**base, **shifted}) != word:
                sensitive.append(name)
                break
    return Verdict(crit.claim, word, bool(sensitive), means, {k: v for k, v in sds.items()}, tuple(sensitive))
