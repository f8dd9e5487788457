"""Training on a landscape: optimisers, learning-rate schedules, snapshots.

Everything works on flat parameter tensors. A ``[D]`` tensor is one model; a
``[B, D]`` tensor is ``B`` independent models trained at once (the loss of a
batch of points is one vectorised call, and Adam and SGD act element-wise, so
row ``b`` follows exactly the trajectory it would follow alone).

Data stay on the device as tensors: a minibatch is a random index set drawn
from a seeded generator, never a Python data loader.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Callable

import torch

from lsl import seeds
from lsl.landscape import Landscape, check_finite
from lsl.settings import OPTIMIZERS, SCHEDULES, TRAIN_DEFAULTS, check_settings, trainer, TrainSettings

__all__ = ["lr_schedule", "minimize", "train", "landscape_objective", "TrainResult", "progress",
           "NonFiniteLossError", "check_finite_losses", "check_lr_fits", "StepProjection", "KEEP"]

_OPTIMIZERS = OPTIMIZERS
_SCHEDULES = SCHEDULES
#: On a GPU (any device but the CPU), :func:`minimize` checks the losses for NaN and infinity every
#: this many steps: a check waits for the device's queued work, so checking every step would stall it.
CHECK_EVERY_ON_DEVICE = 25
#: What the error on a non-finite starting point advises (:func:`lsl.landscape.check_finite`).
def check_lr_fits(lr, dtype: torch.dtype) -> None:
    """Refuse learning rates that the parameters' floating-point type cannot hold.

    Args:
        lr: the learning rate (a number, or one per row).
        dtype: the parameters' floating-point type.

    Raises:
        ValueError: naming the learning rate and the largest number of ``dtype``.
    """
    big = torch.finfo(dtype).max
    for value in (lr if isinstance(lr, (list, tuple)) else [lr]):
        if isinstance(value, (int, float)) and abs(value) > big / 1e3:
            raise ValueError(f"lr={value:g} is too large for {dtype} parameters (whose largest number is {big:.3g}): "
                             "every step would overflow to infinity; use a learning rate such as 1e-3 to 1")


START_HINT = ("training cannot start from a non-finite point (the loss is undefined there, whatever the learning "
              "rate): check how it was made")


def progress(iterable, **kwargs):
    """A ``tqdm.auto`` progress bar, off when ``LSL_PROGRESS=0`` (as in tests and book builds)."""
    from tqdm.auto import tqdm

    disable = os.environ.get("LSL_PROGRESS", "1").strip() in ("0", "false", "no", "off")
    return tqdm(iterable, disable=disable or kwargs.pop("disable", False), leave=False, **kwargs)


def lr_schedule(kind: str, lr: float, steps: int, *, lr_min: float = 0.0, cycle_steps: int | None = None) -> Callable[[int], float]:
    """The learning rate at each step.

    Args:
        kind: ``"constant"``; ``"cosine"`` (from ``lr`` down to ``lr_min`` over ``steps``);
            ``"cyclic"`` (cosine from ``lr`` to ``lr_min`` within each cycle of
            ``cycle_steps`` steps, then a restart, as in snapshot ensembles).
        lr: the (maximum) learning rate.
        steps: total number of steps.
        lr_min: the minimum learning rate of cosine and cyclic schedules.
        cycle_steps: cycle length of the cyclic schedule.
    """
    if kind not in _SCHEDULES:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {_SCHEDULES}")
    if lr <= 0 or lr_min < 0 or lr_min > lr:
        raise ValueError(f"need 0 <= lr_min <= lr and lr > 0; got lr={lr}, lr_min={lr_min}")
    if kind == "constant":
        return lambda step: lr
    if kind == "cosine":
        return lambda step: lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * min(step, steps) / max(steps, 1)))
    if not cycle_steps or cycle_steps < 1:
        raise ValueError("the cyclic schedule needs cycle_steps >= 1")
    return lambda step: lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * (step % cycle_steps) / cycle_steps))


class NonFiniteLossError(FloatingPointError):
    """Training stopped because the loss became NaN or infinite.

    Attributes:
        step: the first step (0-based: the loss after ``step`` updates) whose loss is not finite.
        lr: the learning rate in use at that step.
        row: the first model (row of a ``[B, D]`` batch) with a non-finite loss, or ``None`` for one model.
    """

    def __init__(self, message: str, *, step: int, lr: float, row: int | None = None):
        super().__init__(message)
        self.step, self.lr, self.row = step, lr, row


#: Values of ``nonfinite`` that trainers accept.
NONFINITE = ("raise", "record")


def check_finite_losses(losses: torch.Tensor, lrs, *, first_step: int = 0, what: str = "training",
                        hint: str | None = None) -> None:
    """Raise :class:`NonFiniteLossError` if any loss in ``losses`` is NaN or infinite.

    The one check every trainer in :mod:`lsl` uses (:func:`minimize`, hence :func:`train`,
    the hyperplane, tunnel and curve optimisers and the ensembles; :func:`lsl.training.rows.train_rows`).
    The error names the first bad step and its learning rate, and the row for batched training.

    Args:
        losses: the losses of consecutive steps ``[S]`` or ``[S, B]`` (``B`` models trained at once).
        lrs: the learning rate of each of those steps: a sequence of ``S`` numbers, or one number
            per row ``[B]`` (a tensor) when every step used the same per-row rates.
        first_step: the step number of ``losses[0]``.
        what: what was being trained, for the message.
        hint: what to do, for the message (default: lower the learning rate).

    Raises:
        NonFiniteLossError: at the first non-finite loss.
    """
    if losses.device.type == "meta":  # shapes only (a dry run): there are no values to check
        return
    finite = torch.isfinite(losses)
    if bool(finite.all()):
        return
    bad = (~finite).reshape(finite.shape[0], -1)
    s = int(bad.any(1).to(torch.int8).argmax())
    row = int(bad[s].to(torch.int8).argmax()) if losses.dim() > 1 else None
    if isinstance(lrs, torch.Tensor) and lrs.dim() == 1 and losses.dim() > 1 and lrs.numel() == losses.shape[1]:
        rate = float(lrs[row])
    else:
        rate = float(lrs[s])
    value = float(losses.reshape(finite.shape[0], -1)[s, row or 0])
    rows = f" for model {row} of {losses.shape[1]}" if row is not None else ""
    step = first_step + s
    raise NonFiniteLossError(
        f"{what} diverged: the loss became {value} at step {step} (the loss after {step} updates){rows}, "
        f"with learning rate {rate:g}. "
        + (hint or "Lower the learning rate (or use a schedule that starts lower); to record divergence "
                   "instead of raising, pass nonfinite='record'."),
        step=step, lr=rate, row=row)


def _optimizer(name: str, params: list[torch.Tensor], lr: float, momentum: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {_OPTIMIZERS}")


#: What a :class:`StepProjection` keeps of each step: its component in the subspace, or the rest.
KEEP = ("onto", "out")


@dataclass(frozen=True)
class StepProjection:
    """Training with every step projected onto a subspace, or with that subspace projected out.

    Pass one as ``project=`` to :func:`train` or :func:`minimize`. Every ``every`` steps (first
    before step 0) the trainer calls ``basis(x, step)`` with the current parameters ``x`` ``[D]`` and
    the number of steps done; it returns orthonormal rows ``V`` ``[k, D]`` (``0 <= k <= D``) that span
    the subspace until the next call. After each optimiser step ``x -> x'``, the displacement is
    replaced by its projection::

        x' = x + V^T V (x' - x)          keep="onto"
        x' = x + (d - V^T V d), d = x' - x   keep="out"

    It is the step that is projected, not the gradient, so the displacement stays in the subspace
    (its complement) whatever the optimiser; for SGD without momentum the two are the same. With
    ``V`` the top Hessian eigenvectors these are the Dom-SGD and Bulk-SGD of Song, Ahn & Yun (2025)
    (:func:`lsl.probes.hessian_subspace.top_subspace`). ``V = I`` with ``keep="onto"`` or ``k = 0``
    with ``keep="out"`` leave training as it is (up to rounding in ``x + (x' - x)``); ``k = 0`` with
    ``keep="onto"`` freezes the parameters.

    Attributes:
        basis: ``(x, steps_done) -> V`` ``[k, D]``, orthonormal rows on ``x``'s device and dtype.
        every: recompute the basis every this many steps (``>= 1``).
        keep: ``"onto"`` (the step's component in the span of ``V``) or ``"out"`` (the rest).
    """

    basis: Callable[[torch.Tensor, int], torch.Tensor]
    every: int = 1
    keep: str = "onto"

    def __post_init__(self) -> None:
        if not callable(self.basis):
            raise TypeError(f"StepProjection.basis must be callable (x, steps_done) -> V [k, D], got {self.basis!r}")
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"StepProjection.every must be an integer >= 1 (steps between recomputations), got {self.every!r}")
        if self.keep not in KEEP:
            raise ValueError(f"StepProjection.keep must be one of {KEEP}, got {self.keep!r}")

    def subspace(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """The checked basis at ``x`` after ``step`` steps: ``basis(x, step)``, orthonormal rows ``[k, D]``.

        Raises:
            ValueError: if the rows are not ``[k, D]`` with ``k <= D`` or not orthonormal.
        """
        V = self.basis(x, step)
        D = x.shape[-1]
        if not isinstance(V, torch.Tensor) or V.dim() != 2 or V.shape[1] != D or V.shape[0] > D:
            raise ValueError(f"StepProjection.basis must return orthonormal rows [k, D] with D = {D} and k <= D, got "
                             f"{tuple(V.shape) if isinstance(V, torch.Tensor) else type(V).__name__}")
        V = V.detach().to(device=x.device, dtype=x.dtype)
        if V.shape[0]:
            gram = V @ V.T
            tol = 1e-4 if x.dtype in (torch.float32, torch.float16, torch.bfloat16) else 1e-8
            if float((gram - torch.eye(V.shape[0], dtype=V.dtype, device=V.device)).abs().max()) > tol:
                raise ValueError("StepProjection.basis must return orthonormal rows (orthonormalise them, e.g. with "
                                 "torch.linalg.qr(V.T).Q.T)")
        return V

    def apply(self, V: torch.Tensor, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        """The projected point: ``before`` plus the kept part of the step ``after - before``."""
        d = after - before
        inside = (d @ V.T) @ V
        return before + (inside if self.keep == "onto" else d - inside)


@trainer(TRAIN_DEFAULTS)
def minimize(
    objective: Callable[[torch.Tensor, int], torch.Tensor],
    x0: torch.Tensor,
    *,
    settings: TrainSettings = TRAIN_DEFAULTS,
    after_step: Callable[[torch.Tensor], None] | None = None,
    snapshot_every: int | None = None,
    until: Callable[[torch.Tensor, int], bool] | None = None,
    desc: str | None = None,
    nonfinite: str = "raise",
    project: StepProjection | None = None,
) -> "TrainResult":
    """Minimise ``objective(x, step)`` from ``x0`` with Adam or SGD.

    The objective returns one loss per row of ``x`` (``[B]``) or a scalar; their
    sum is differentiated, so rows are optimised independently.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.TRAIN_DEFAULTS`): ``steps``, ``lr``,
    ``optimizer``, ``schedule``, ``lr_min``, ``cycle_steps``, ``momentum``. The objective is given, so
    ``batch_size``, ``l2`` and ``seed`` are not used here: they describe a landscape's objective
    (:func:`landscape_objective`).

    Args:
        objective: ``(x, step) -> loss``; ``x`` has the shape of ``x0``.
        x0: starting point (not modified).
        settings: the optimiser settings (see :class:`~lsl.settings.TrainSettings` and :func:`lr_schedule`);
            ``steps`` and ``lr`` must be given.
        after_step: called with ``x`` (under ``no_grad``) after every step, e.g. a projection onto a constraint.
        snapshot_every: store ``x`` every this many steps (and at the end).
        until: called with ``(x, steps_done)`` (under ``no_grad``) after every step; training stops
            early when it returns ``True``. Keep it cheap, or check only every few steps: a
            host synchronisation per step slows GPU training.
        desc: progress-bar label.
        nonfinite: ``"raise"`` (default): stop with a :class:`NonFiniteLossError` naming the step
            and the learning rate when the loss becomes NaN or infinite; ``"record"``: go on and
            keep the non-finite losses in the result (for runs where divergence is what is
            measured, as :func:`lsl.ensembles.swa.cyclic_snapshots`). The losses are checked every
            step on a CPU and every :data:`CHECK_EVERY_ON_DEVICE` steps (and at the end) on
            other devices, where each check waits for the device; the error names the first
            non-finite step either way.
        project: a :class:`StepProjection`: every step's displacement projected onto a subspace
            (or with it projected out), the subspace recomputed every ``project.every`` steps;
            ``x0`` must be one point ``[D]``. Applied before ``after_step``.

    Returns:
        a :class:`TrainResult` whose ``theta`` is the final ``x`` (its tensors on ``x0``'s device,
        ``lrs`` on the CPU).

    Raises:
        NonFiniteLossError: with ``nonfinite="raise"``, when the loss becomes non-finite.
        ValueError: for invalid settings (see :class:`~lsl.settings.TrainSettings`), or an ``x0`` with
            NaN or infinite entries (named with their positions: the loss is undefined there).
    """
    s = check_settings(settings, who="minimize")
    steps, lr, optimizer = s.steps, s.lr, s.optimizer
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
    check_finite(x0, "x0", hint=START_HINT)
    check_lr_fits(lr, x0.dtype)
    if project is not None and not isinstance(project, StepProjection):
        raise TypeError(f"project must be a lsl.training.trainer.StepProjection, got {type(project).__name__}")
    if project is not None and x0.dim() != 1:
        raise ValueError(f"project= trains one point [D] at a time, got x0 of shape {tuple(x0.shape)}")
    check_every = 1 if x0.device.type == "cpu" else CHECK_EVERY_ON_DEVICE
    checked = 0
    x = x0.detach().clone().requires_grad_(True)
    opt = _optimizer(optimizer, [x], lr, s.momentum)
    sched = lr_schedule(s.schedule, lr, steps, lr_min=s.lr_min, cycle_steps=s.cycle_steps)
    losses, lrs, snaps, snap_steps = [], [], [], []
    for step in progress(range(steps), desc=desc or optimizer):
        rate = sched(step)
        for group in opt.param_groups:
            group["lr"] = rate
        opt.zero_grad(set_to_none=True)
        loss = objective(x, step)
        loss.sum().backward()
        if project is not None:
            if step % project.every == 0:   # outside no_grad: a basis of Hessian eigenvectors differentiates
                basis = project.subspace(x.detach(), step)
            before = x.detach().clone()
        opt.step()
        if project is not None:
            with torch.no_grad():
                x.copy_(project.apply(basis, before, x.detach()))
        if after_step is not None:
            with torch.no_grad():
                after_step(x)
        losses.append(loss.detach())
        lrs.append(rate)
        if nonfinite == "raise" and ((step + 1) % check_every == 0 or step + 1 == steps):
            check_finite_losses(torch.stack(losses[checked:]), lrs[checked:], first_step=checked,
                                what=desc or "training")
            checked = step + 1
        stop = False
        if until is not None:
            with torch.no_grad():
                stop = bool(until(x, step + 1))
        if snapshot_every and ((step + 1) % snapshot_every == 0 or step + 1 == steps or stop):
            snaps.append(x.detach().clone())
            snap_steps.append(step + 1)
        if stop:
            break
    if nonfinite == "raise" and checked < len(losses):
        check_finite_losses(torch.stack(losses[checked:]), lrs[checked:], first_step=checked, what=desc or "training")
    return TrainResult(
        theta=x.detach(),
        losses=torch.stack(losses) if losses else torch.empty(0, device=x0.device),
        lrs=torch.tensor(lrs),
        snapshots=torch.stack(snaps) if snaps else None,
        snapshot_steps=snap_steps,
    )


def minibatch_order(landscape: Landscape, batch_size: int | None, seed: int = 0) -> Callable[[], torch.Tensor | None]:
    """The minibatches of the trainers, one per call: ``next_batch() -> idx`` (``None`` for the full batch).

    Each epoch is a seeded random permutation of the training examples cut into batches of
    ``batch_size`` (the ragged last batch of an epoch is dropped); the permutation is drawn on the
    CPU, so the order is the same on every device. :func:`landscape_objective` and
    :func:`lsl.training.rows.train_rows` draw their minibatches from it.

    Args:
        landscape: the landscape (its ``n_train`` examples).
        batch_size: minibatch size, or ``None`` for the full batch (and for landscapes without data).
        seed: seeds the order.
    """
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)):
        raise TypeError(f"batch_size must be an int or None, got {batch_size!r}")
    if batch_size is not None and landscape.n_train is None:
        raise ValueError(f"{type(landscape).__name__} has no data: leave batch_size=None")
    if batch_size is not None and not 1 <= batch_size <= landscape.n_train:
        raise ValueError(f"batch_size must be in [1, {landscape.n_train}], got {batch_size}")
    gen = torch.Generator(device="cpu").manual_seed(seeds.shifted(seed))
    order: list[torch.Tensor] = []

    def next_batch() -> torch.Tensor | None:
        if batch_size is None:
            return None
        if not order:
            # One host-to-device copy per epoch, not one per step: a copy from the host waits for the
            # device's queued work, which would stall a GPU at every step.
            perm = torch.randperm(landscape.n_train, generator=gen).to(landscape.device)
            order.extend(perm.split(batch_size))
            if len(order) > 1 and order[-1].numel() < batch_size:
                order.pop()
        return order.pop(0)

    return next_batch


def landscape_objective(
    landscape: Landscape, *, batch_size: int | None = None, l2: float = 0.0, seed: int = 0
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The training objective of a landscape: minibatch loss (training mode) plus L2.

    Each call draws the next minibatch of :func:`minibatch_order` (a seeded epoch-wise
    permutation; the ragged last batch of an epoch is dropped); with ``batch_size=None`` it is
    the full-batch loss. Landscapes without data (the toy model) take no batch.

    Args:
        landscape: the landscape.
        batch_size: minibatch size, or ``None`` for the full batch.
        l2: adds ``l2 / 2 * ||theta||^2`` per point.
        seed: seeds the minibatch order.

    Returns:
        a function ``theta -> loss`` (``[D]`` -> scalar, ``[B, D]`` -> ``[B]``), differentiable once: the
        loss is the landscape's :meth:`~lsl.landscape.Landscape.first_order_loss` (for a layer stack,
        back-propagation written out), so second derivatives must go through ``landscape.loss`` instead.
    """
    next_batch = minibatch_order(landscape, batch_size, seed)
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    has_data = landscape.n_train is not None

    def objective(theta: torch.Tensor) -> torch.Tensor:
        kwargs = {"idx": next_batch(), "train": True} if has_data else {}
        loss = landscape.first_order_loss(theta, **kwargs)
        if l2:
            loss = loss + 0.5 * l2 * (theta * theta).sum(-1)
        return loss

    return objective


@dataclass(frozen=True)
class TrainResult:
    """What a training run returns (:func:`train`, :func:`minimize`).

    Its tensors are on the landscape's device (the device of ``x0`` for :func:`minimize`), except
    ``lrs``, which is on the CPU.

    Attributes:
        theta: final parameters, ``[D]`` or ``[B, D]``.
        losses: the (minibatch) loss at every step, ``[steps]`` or ``[steps, B]``.
        lrs: learning rate at every step ``[steps]`` (on the CPU).
        snapshots: stored parameters ``[S, D]`` or ``[S, B, D]``, or ``None``.
        snapshot_steps: the step after which each snapshot was taken.
    """

    theta: torch.Tensor
    losses: torch.Tensor
    lrs: torch.Tensor
    snapshots: torch.Tensor | None = None
    snapshot_steps: list[int] = field(default_factory=list)


def _entry_problem(entry: dict[str, torch.Tensor]) -> str | None:
    """Why a cached run is not one that :func:`train` can have produced, or ``None``."""
    theta, losses, snaps = entry["theta"], entry["losses"], entry.get("snapshots")
    if not bool(torch.isfinite(theta).all()) and bool(torch.isfinite(losses).all()):
        return "theta has non-finite entries while every recorded loss is finite"
    if (0 if snaps is None else snaps.shape[0]) != entry["snapshot_steps"].numel():
        return "the snapshots and their steps disagree in number"
    return None


@trainer(TRAIN_DEFAULTS)
def train(
    landscape: Landscape,
    theta0: torch.Tensor,
    *,
    settings: TrainSettings = TRAIN_DEFAULTS,
    snapshot_every: int | None = None,
    cache: bool = False,
    nonfinite: str = "raise",
    project: StepProjection | None = None,
) -> TrainResult:
    """Train one model (``theta0`` of shape ``[D]``) or ``B`` models at once (``[B, D]``).

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.TRAIN_DEFAULTS`: Adam, a constant
    learning rate, the full batch): all of them. All models in a batch see the same minibatch at
    each step; ``seed`` seeds the minibatch order and dropout masks (same seed, same run).

    Args:
        landscape: what to minimise (a network with data, or the toy model).
        theta0: initial parameters.
        settings: the optimiser settings (see :class:`~lsl.settings.TrainSettings`); ``steps`` and
            ``lr`` must be given.
        snapshot_every: store the parameters every this many steps (e.g. at each cycle's end).
        cache: store the result on disk (:mod:`lsl.cache`) under a key made of everything that
            determines it: the landscape's :meth:`~lsl.landscape.Landscape.fingerprint` (for a network,
            the code of its module and loss and the values they hold), a digest of ``theta0``, every
            training setting, the device type and the versions of torch and ``lsl``. A second call
            with the same inputs loads the result instead of training; a loaded entry is checked by content
            (a digest, the shapes, dtypes and finiteness of its tensors), and one that fails is
            retrained with a warning. When the key cannot be trusted (a loss closing over an object
            that cannot be digested), the run is trained and not cached, with a warning.
        nonfinite: ``"raise"`` (default) stops with a :class:`NonFiniteLossError` naming the step
            and the learning rate when the loss becomes NaN or infinite (a cached run with
            non-finite losses raises the same way); ``"record"`` keeps going and records them
            (see :func:`minimize`).
        project: a :class:`StepProjection`: each step projected onto a subspace recomputed every few
            steps (or with it projected out), as in Song, Ahn & Yun's Dom-SGD and Bulk-SGD; one model
            ``[D]`` at a time, and not with ``cache=True`` (a subspace provider cannot be put in a key).

    Returns:
        a :class:`TrainResult`, its tensors on the landscape's device (``lrs`` on the CPU).

    Raises:
        NonFiniteLossError: with ``nonfinite="raise"``, when the loss becomes non-finite.
        ValueError: for invalid settings (see :class:`~lsl.settings.TrainSettings`), or a ``theta0`` with
            NaN or infinite entries (named with their positions: the loss is undefined there).
    """
    s = check_settings(settings, who="train")
    theta0 = check_finite(landscape.check_theta(theta0, "theta0", finite=False), "theta0", hint=START_HINT)
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
    if project is not None and cache:
        raise ValueError("train: project= cannot be cached (its subspace provider is code, not a value a cache key "
                         "can hold); pass cache=False")
    # the cache key's settings: the same names and values as before the settings object (issue 17), so
    # that runs cached earlier are still found
    key_settings = dict(steps=s.steps, lr=s.lr, optimizer=s.optimizer, schedule=s.schedule, lr_min=s.lr_min,
                    cycle_steps=s.cycle_steps, momentum=s.momentum, batch_size=s.batch_size, l2=s.l2,
                    snapshot_every=snapshot_every, seed=s.seed)
    if cache:
        from lsl import cache
        from lsl.landscape import tensor_digest

        key = cache.trusted_key(lambda: {
            "what": "lsl.training.trainer.train", "landscape": landscape.fingerprint(), "theta0": tensor_digest(theta0),
            "settings": key_settings, "device": landscape.device.type, "torch": torch.__version__},
            what="this training run") if cache.enabled() else None

        def compute() -> dict[str, torch.Tensor]:
            res = train(landscape, theta0, settings=s, snapshot_every=snapshot_every, nonfinite=nonfinite)
            out = {"theta": res.theta, "losses": res.losses, "lrs": res.lrs,
                   "snapshot_steps": torch.tensor(res.snapshot_steps, dtype=torch.long)}
            if res.snapshots is not None:
                out["snapshots"] = res.snapshots
            return out

        lead = tuple(theta0.shape[:-1])
        expect = {"theta": cache.Expect(tuple(theta0.shape), theta0.dtype),
                  "losses": cache.Expect((s.steps, *lead) if s.steps else None),
                  "lrs": cache.Expect((s.steps,), finite=True),
                  "snapshot_steps": cache.Expect((None,), torch.long),
                  "snapshots": cache.Expect((None, *theta0.shape), theta0.dtype, optional=True)}
        got = cache.cached(key, compute, device=landscape.device, expect=expect, check=_entry_problem)
        if nonfinite == "raise":  # a run recorded with nonfinite="record" may sit in the cache
            check_finite_losses(got["losses"], got["lrs"].tolist(), what="train (loaded from the cache)")
        return TrainResult(got["theta"], got["losses"], got["lrs"].cpu(), got.get("snapshots"),
                           got["snapshot_steps"].tolist())
    objective = landscape_objective(landscape, batch_size=s.batch_size, l2=s.l2, seed=s.seed)
    with torch.random.fork_rng(devices=[theta0.device] if theta0.is_cuda else []):
        torch.manual_seed(seeds.shifted(s.seed))
        return minimize(
            lambda theta, step: objective(theta), theta0, settings=s,
            snapshot_every=snapshot_every, desc="train", nonfinite=nonfinite, project=project,
        )
