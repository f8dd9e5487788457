"""The evaluation policy: how a batch of parameter points times a set of examples is split into vectorised calls.

Every batched evaluation of :mod:`lsl` (losses, logits and gradients of many points, lines, planes,
paths, probes, ensembles' members, batches of Hessian-vector products) asks this module how many
points go into one vectorised call, and nothing else decides it. The answer follows a memory
budget per device type (:class:`Budget`, kept in :data:`BUDGETS`):

- **points materialised at once** (:func:`points_per_batch`): a caller that builds points
  (``origin + coeffs @ directions``, a path, the rays of a probe) builds at most
  :attr:`Budget.elements` parameter values (points x ``D``) at a time, on every device;
- **points per vectorised call** (:func:`points_per_call`, :func:`vmap_chunk_size`): on a CPU at most
  :attr:`Budget.point_examples` point-example evaluations (points x examples) per call, because a
  CPU is fastest when one call's activations stay small enough for its caches (measured on 2 cores:
  for the 51 x 51 loss plane of an MLP 40-64-64-10 on 4000 examples, calls of 8 points were about
  three times faster than one call over all 2,601, with identical values); on an accelerator at
  most :attr:`Budget.elements` parameter values per call;
- **examples per call** (:func:`examples_per_call`), where a path splits the examples instead of the
  points (the members' outputs of an ensemble on a whole split).

Two things win over the budget. A landscape built with ``chunk_size=`` (see
:class:`~lsl.network.NetworkLandscape`) takes exactly that many points per call, on every device.
Evaluations that draw random numbers per point (dropout masks in training mode) take one call
(unless ``chunk_size`` is given), so that the masks drawn do not depend on the budget.

The budget is changed in one place, :data:`BUDGETS`, for a whole session
(``lsl.batching.BUDGETS["cuda"] = Budget(elements=2**24)`` on a smaller GPU), or for a block of code
with :func:`use`. The CPU budget's numbers are those the book was run with: changing them changes
how points are grouped, which can change results in their last bits (a call of one point takes
other kernels than a call of several), never more.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Iterator

import torch

__all__ = ["Budget", "BUDGETS", "budget", "use", "points_per_call", "vmap_chunk_size", "points_per_batch",
           "examples_per_call"]


@dataclass(frozen=True)
class Budget:
    """The memory budget of batched evaluations on one device type.

    Attributes:
        elements: parameter values (points x ``D``) that a caller materialises at once, and, where
            :attr:`point_examples` is ``None``, that one vectorised call evaluates.
        point_examples: point-example evaluations (points x examples each point sees) per
            vectorised call, or ``None`` to bound the calls by :attr:`elements` instead.
        examples: examples per call where a path splits the examples rather than the points.
    """

    elements: int = 2**25
    point_examples: int | None = None
    examples: int = 512

    def __post_init__(self):
        for name in ("elements", "point_examples", "examples"):
            value = getattr(self, name)
            if value is None and name == "point_examples":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Budget.{name} must be a positive integer, got {value!r}")


#: The budget of each device type. ``"cpu"`` bounds each call by point-example evaluations (the rule
#: measured fastest on a CPU); ``"cuda"`` by parameter values. A device type not listed (``"mps"``,
#: ``"meta"``, ...) follows ``"cuda"``: ``meta``, which has shapes but no values, is a dry run of an
#: accelerator. Replace an entry to change the budget for the session (or use :func:`use`).
BUDGETS: dict[str, Budget] = {
    "cpu": Budget(elements=2**25, point_examples=32768, examples=512),
    "cuda": Budget(elements=2**25, point_examples=None, examples=512),
}


def _device_type(device: torch.device | str) -> str:
    return torch.device(device).type


def budget(device: torch.device | str) -> Budget:
    """The budget that applies on ``device`` (its type's entry of :data:`BUDGETS`, else ``"cuda"``'s).

    Args:
        device: a device or its name (``"cpu"``, ``"cuda:0"``, ``"meta"``).

    Returns:
        a :class:`Budget`.
    """
    kind = _device_type(device)
    return BUDGETS.get(kind, BUDGETS["cuda"])


@contextlib.contextmanager
def use(device_type: str, **fields: int | None) -> Iterator[Budget]:
    """Change the budget of one device type for a block of code (tests, or a run on a smaller device).

    ``with lsl.batching.use("cpu", point_examples=64): ...`` evaluates in calls of fewer points;
    on leaving the block the previous budget is restored.

    Args:
        device_type: ``"cpu"``, ``"cuda"``, or another type (which then gets an entry of its own,
            starting from ``"cuda"``'s budget).
        **fields: the :class:`Budget` fields to change.

    Yields:
        the budget in force inside the block.

    Raises:
        TypeError: for a field that :class:`Budget` does not have.
        ValueError: for a value that is not a positive integer.
    """
    kind = _device_type(device_type)
    had = kind in BUDGETS
    old = BUDGETS.get(kind)
    new = dataclasses.replace(budget(kind), **fields)
    BUDGETS[kind] = new
    try:
        yield new
    finally:
        if had:
            BUDGETS[kind] = old
        else:
            del BUDGETS[kind]


def _count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def points_per_call(device: torch.device | str, n_examples: int, D: int, n_points: int, *,
                    chunk_size: int | None = None, random: bool = False) -> int:
    """How many of ``n_points`` points one vectorised call evaluates, each on ``n_examples`` examples.

    The rules, in order: a given ``chunk_size`` wins; an evaluation that draws random numbers per
    point (``random``) takes all points in one call; on a device whose budget has
    :attr:`~Budget.point_examples` (a CPU) a call takes ``point_examples // n_examples`` points;
    elsewhere ``elements // D`` points. The points may also be tangent vectors at one point (a batch
    of Hessian-vector products costs about as much per vector as a gradient per point).

    Args:
        device: where the evaluation runs.
        n_examples: examples each point sees.
        D: parameters per point.
        n_points: points in the batch.
        chunk_size: the landscape's own ``chunk_size`` (``None``: follow the budget).
        random: whether each point draws random numbers (dropout masks).

    Returns:
        an integer in ``[1, max(1, n_points)]``.
    """
    _count("n_examples", n_examples, 0)
    _count("D", D, 1)
    _count("n_points", n_points, 0)
    if chunk_size is not None:
        per = _count("chunk_size", chunk_size, 1)
    elif random:
        per = n_points
    else:
        b = budget(device)
        if b.point_examples is not None:
            per = b.point_examples // max(1, n_examples)
        else:
            per = b.elements // D
    return max(1, min(per, n_points))


def vmap_chunk_size(device: torch.device | str, n_examples: int, D: int, n_points: int, *,
                    chunk_size: int | None = None, random: bool = False) -> int | None:
    """:func:`points_per_call` as ``torch.func.vmap``'s ``chunk_size``: ``None`` when one call takes every point.

    Args:
        device, n_examples, D, n_points, chunk_size, random: as for :func:`points_per_call`.

    Returns:
        the number of points per call, or ``None`` for one call.
    """
    per = points_per_call(device, n_examples, D, n_points, chunk_size=chunk_size, random=random)
    return None if per >= n_points else per


def points_per_batch(device: torch.device | str, D: int, n_points: int, *, per_point: int = 1,
                     max_elements: int | None = None) -> int:
    """How many of ``n_points`` points a caller materialises at once, each holding ``per_point`` vectors of ``D`` values.

    A line, a plane or a path is built a batch at a time, at most :attr:`Budget.elements`
    parameter values (``max_elements`` if given) per batch; each batch is then evaluated in calls of
    :func:`points_per_call` points. ``per_point`` counts the vectors one unit of the batch
    holds (a ray probed at ``R`` radii holds ``R`` points).

    Args:
        device: where the points are built.
        D: parameters per point.
        n_points: units in the whole batch.
        per_point: parameter vectors per unit.
        max_elements: a caller's own bound on the values at once (``None``: the budget's).

    Returns:
        an integer in ``[1, max(1, n_points)]``.
    """
    _count("D", D, 1)
    _count("n_points", n_points, 0)
    _count("per_point", per_point, 0)
    elements = budget(device).elements if max_elements is None else _count("max_elements", max_elements, 1)
    return max(1, min(elements // max(1, per_point * D), n_points))


def examples_per_call(device: torch.device | str, n_examples: int) -> int:
    """How many of ``n_examples`` examples one call takes where a path splits the examples (not the points).

    The members of an ensemble are evaluated on a whole split this way; within each slice of the
    examples, the points are split by :func:`points_per_call`.

    Args:
        device: where the evaluation runs.
        n_examples: examples in the split.

    Returns:
        an integer in ``[1, max(1, n_examples)]``.
    """
    _count("n_examples", n_examples, 0)
    return max(1, min(budget(device).examples, n_examples))
