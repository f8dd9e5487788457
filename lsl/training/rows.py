"""Row-wise SGD to a target loss: ``B`` models trained at once, each with its own learning rate and L2 strength.

A ``[B, D]`` tensor holds ``B`` models that share the landscape and the minibatch
sequence. :func:`train_rows` runs plain SGD (optionally with heavy-ball momentum, as
``torch.optim.SGD`` with ``dampening=0``) on all of them at once: row ``b`` has its own
learning rate ``lrs[b]`` (its gradient step is scaled by it) and its own L2 strength
``l2s[b]`` (the penalty ``l2s[b] / 2 * ||theta_b||^2`` is added to its loss). Row ``b``
therefore follows the trajectory that
``lsl.training.trainer.train(..., settings=settings.replace(lr=lrs[b], l2=l2s[b]))`` (SGD at a
constant rate) would follow alone with the same seed (up to floating-point rounding; with dropout the
masks drawn for a stack differ from a lone run's, so equality is in distribution only).

**Training to a target loss.** The full-batch training loss of the rows still training
is checked every ``check_every`` steps (and at step 0); a row whose loss is below the
target at a check is stopped there, frozen, and dropped from the computation while the
others go on. This is the engine of :func:`lsl.training.families.train_family`, which trains
families of optima at matched training loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from lsl import seeds as run_seeds
from lsl.landscape import Landscape, check_finite
from lsl.settings import check_settings, ROWS_DEFAULTS, trainer, TrainSettings
from lsl.training.trainer import check_lr_fits, NONFINITE, START_HINT, NonFiniteLossError, minibatch_order, progress

__all__ = ["train_rows", "RowsResult"]


@dataclass(frozen=True)
class RowsResult:
    """What :func:`train_rows` returns (``B`` rows).

    ``theta`` is on the landscape's device; the per-row records (``steps``, ``reached``,
    ``diverged``, ``check_steps``, ``check_losses``) are on the CPU.

    Attributes:
        theta: final parameters ``[B, D]`` (``[D]`` if ``theta0`` was one point).
        steps: SGD steps each row took ``[B]``.
        reached: whether each row's full-batch loss fell below the target ``[B]``
            (all ``False`` when there was no target).
        diverged: whether each row's loss became NaN or infinite ``[B]``.
        check_steps: the steps at which the loss was checked ``[C]`` (0 first).
        check_losses: the full-batch training loss at each check ``[C, B]``; NaN once a row has stopped.
    """

    theta: torch.Tensor
    steps: torch.Tensor
    reached: torch.Tensor
    diverged: torch.Tensor
    check_steps: torch.Tensor
    check_losses: torch.Tensor


def _per_row(value, B: int, name: str, dtype, device) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
    if t.numel() == 1:
        t = t.expand(B)
    if t.numel() != B:
        raise ValueError(f"{name} must be one number or one per row ({B}); got {t.numel()} values")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite, got {t.tolist()}")
    return t.to(dtype=dtype, device=device).clone()


@trainer(ROWS_DEFAULTS)
def train_rows(
    landscape: Landscape,
    theta0: torch.Tensor,
    *,
    settings: TrainSettings = ROWS_DEFAULTS,
    lrs: Sequence[float] | torch.Tensor | None = None,
    l2s: Sequence[float] | torch.Tensor | None = None,
    seeds: Sequence[int] | None = None,
    target_loss: float | None = None,
    check_every: int = 50,
    nonfinite: str = "raise",
) -> RowsResult:
    """SGD on ``B`` models at once, each with its own learning rate and L2 strength, until a target loss.

    Every step draws the next minibatch of :func:`lsl.training.trainer.minibatch_order` (the same
    for all rows, in the order :func:`lsl.training.trainer.landscape_objective` draws them), and updates row ``b`` by ``theta_b -= lrs[b] * d_b`` where ``d_b`` is the
    gradient of ``loss_b + l2s[b] / 2 * ||theta_b||^2`` (or, with ``momentum``, the
    heavy-ball buffer ``d_b <- momentum * d_b + gradient``, as ``torch.optim.SGD``).
    So row ``b`` follows the run of ``lsl.training.trainer.train(landscape, theta0[b],
    settings=settings.replace(lr=lrs[b], l2=l2s[b], seed=seeds[b]))``.

    The full-batch training loss (:meth:`~lsl.landscape.Landscape.loss`: evaluation mode,
    no L2) of the rows still training is checked at step 0, every ``check_every`` steps
    and at ``settings.steps``. A row whose loss is below ``target_loss`` at a check is stopped
    there (its parameters and step count are those of that check). Stopped rows are left out
    of later steps.

    A loss that becomes NaN or infinite (the minibatch loss of a step, or the full-batch loss
    at a check) stops training with a :class:`lsl.training.trainer.NonFiniteLossError` naming the first
    such step, the row and its learning rate; it is noticed at the next check, so the
    per-step work makes no host-device round trip. With ``nonfinite="record"`` the row is
    instead stopped at that check and marked diverged, and the other rows go on.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.ROWS_DEFAULTS`:
    SGD, at most 1000 steps): ``steps`` (the cap on the number of steps), ``lr``, ``momentum``,
    ``batch_size``, ``l2``, ``seed``; ``lr``, ``l2`` and ``seed`` may instead be given one per row
    (``lrs``, ``l2s``, ``seeds``). The optimiser is plain
    SGD with a constant learning rate, so ``optimizer`` must be ``"sgd"`` and ``schedule``
    ``"constant"`` (``lr_min`` and ``cycle_steps`` are then unused).

    Args:
        landscape: the landscape (a network with data, or a landscape without data).
        theta0: starting points ``[B, D]`` (or one point ``[D]``).
        settings: the optimiser settings shared by the rows (default :data:`~lsl.settings.ROWS_DEFAULTS`):
            ``steps`` (the cap on the number of steps), ``lr`` (unless ``lrs`` is given), ``l2``,
            ``batch_size`` (``None``: the full batch), ``momentum`` (0: plain SGD) and ``seed``, which
            seeds the minibatch order and dropout masks (as in :func:`lsl.training.trainer.train`).
        lrs: one learning rate per row (or one number for all), in place of ``settings.lr``, which
            must then be left unset (``None``).
        l2s: one L2 strength per row (or one number for all), in place of ``settings.l2``, which
            must then be left at 0.
        seeds: one seed per row, in place of ``settings.seed`` (which must then be left at 0), so that
            rows trained from different seeds (each with its own minibatch order) share the steps:
            row ``b`` draws its minibatches from ``minibatch_order(landscape, batch_size, seeds[b])``,
            as it would alone, and the dropout masks are drawn from ``seeds[0]``.
        target_loss: stop a row once its full-batch loss is below this (``None``: train all
            rows for ``settings.steps``).
        check_every: steps between checks of the full-batch loss.
        nonfinite: ``"raise"`` (default) or ``"record"`` (mark diverged rows and go on), see above.

    Returns:
        a :class:`RowsResult`; ``theta`` on the landscape's device, the per-row records on the CPU.

    Raises:
        lsl.training.trainer.NonFiniteLossError: with ``nonfinite="raise"``, when a row's loss becomes non-finite.
        ValueError: for invalid settings, an optimiser or schedule other than SGD at a constant rate, or a
            ``theta0`` with NaN or infinite entries (named with their positions).
    """
    s = check_settings(settings, who="train_rows", needs=("steps",))
    # lr, l2 and seed may be one per row: lrs, l2s and seeds take the place of the settings' field
    for name, rows, default in (("lr", lrs, None), ("l2", l2s, 0.0), ("seed", seeds, 0)):
        if rows is not None and getattr(s, name) != default:
            raise ValueError(f"train_rows got both settings.{name}={getattr(s, name)!r} and {name}s= (one per row): "
                             f"give one of them (leave settings.{name} at {default!r})")
    row_seeds = None
    if seeds is not None:
        if isinstance(seeds, int) or not isinstance(seeds, Sequence):
            raise TypeError(f"seeds must be a sequence of integers, one per row, got {seeds!r}; "
                            "for one seed of all rows pass settings=....replace(seed=...)")
        row_seeds = list(seeds)
        if not row_seeds:
            raise ValueError("seeds is an empty sequence: give one seed per row")
        if isinstance(row_seeds[0], bool) or not isinstance(row_seeds[0], int):
            raise ValueError(f"every seed must be an integer, got {row_seeds}")
        s = s.replace(seed=row_seeds[0])
    if s.optimizer != "sgd" or s.schedule != "constant":
        raise ValueError(f"train_rows runs plain SGD with a constant learning rate; got optimizer={s.optimizer!r}, "
                         f"schedule={s.schedule!r}. Pass settings with optimizer='sgd' and schedule='constant' "
                         "(e.g. lsl.settings.ROWS_DEFAULTS.replace(...)), or use lsl.training.trainer.train for the others")
    lr = s.lr if lrs is None else lrs
    l2 = s.l2 if l2s is None else l2s
    if lr is None:
        raise ValueError("train_rows needs a learning rate: pass settings with lr, or lrs=... (one per row)")
    batch_size, momentum, max_steps, seed = s.batch_size, s.momentum, s.steps, s.seed
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
    theta0 = check_finite(landscape.check_theta(theta0, "theta0", finite=False), "theta0", hint=START_HINT)
    check_lr_fits(lr.tolist() if isinstance(lr, torch.Tensor) else lr, theta0.dtype)
    single = theta0.dim() == 1
    x = theta0.reshape(-1, landscape.D).detach().clone()
    B = x.shape[0]
    if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 1:
        raise ValueError(f"check_every must be an integer >= 1, got {check_every!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {max_steps!r}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    lr_t = _per_row(lr, B, "lr", x.dtype, x.device)
    l2_t = _per_row(l2, B, "l2", x.dtype, x.device)
    if bool((lr_t <= 0).any()):
        raise ValueError(f"every learning rate must be > 0, got {lr_t.tolist()}")
    if bool((l2_t < 0).any()):
        raise ValueError(f"every L2 strength must be >= 0, got {l2_t.tolist()}")
    has_data = landscape.n_train is not None
    if row_seeds is not None:
        if len(row_seeds) != B:
            raise ValueError(f"seeds gives {len(row_seeds)} seeds for {B} rows: give one per row")
        if any(isinstance(r, bool) or not isinstance(r, int) for r in row_seeds):
            raise ValueError(f"every seed must be an integer, got {row_seeds}")
    per_row = row_seeds is not None and len(set(row_seeds)) > 1 and has_data and batch_size is not None
    if per_row:
        row_batches = [minibatch_order(landscape, batch_size, r) for r in row_seeds]
    else:
        next_batch = minibatch_order(landscape, batch_size, seed)
    active = torch.ones(B, dtype=torch.bool)
    steps = torch.full((B,), max_steps, dtype=torch.long)
    reached = torch.zeros(B, dtype=torch.bool)
    diverged = torch.zeros(B, dtype=torch.bool)
    buf = torch.zeros_like(x) if momentum else None
    # the first step at which each row's minibatch loss was not finite (-1: none yet), kept on the device
    first_bad = torch.full((B,), -1, dtype=torch.long, device=x.device)
    check_steps: list[int] = []
    check_losses: list[torch.Tensor] = []

    def check(step: int) -> None:
        idx = active.nonzero().squeeze(1)
        if idx.numel() == 0:
            return
        with torch.no_grad():
            cur = landscape.loss(x[idx.to(x.device)]).detach().cpu().reshape(-1)
        row = torch.full((B,), float("nan"), dtype=cur.dtype)
        row[idx] = cur
        check_steps.append(step)
        check_losses.append(row)
        bad = ~torch.isfinite(cur)
        if nonfinite == "raise" and x.device.type != "meta":
            _raise_if_diverged(first_bad.cpu(), idx, bad, step, lr_t.cpu())
        done = bad | (cur < target_loss) if target_loss is not None else bad
        stop = idx[done]
        steps[stop] = step
        reached[idx[done & ~bad]] = True
        diverged[idx[bad]] = True
        active[stop] = False

    def note_nonfinite(losses: list[torch.Tensor], first_step: int, idx: torch.Tensor) -> None:
        """Record, for rows ``idx``, the first step since ``first_step`` whose minibatch loss was not finite."""
        if nonfinite != "raise" or not losses:
            return
        bad = ~torch.isfinite(torch.stack(losses))  # [steps, rows], on the device: no round trip here
        first = first_step + bad.to(torch.uint8).argmax(0)
        first_bad[idx] = torch.where((first_bad[idx] < 0) & bad.any(0), first, first_bad[idx])

    with torch.random.fork_rng(devices=[x.device] if x.is_cuda else []):
        torch.manual_seed(run_seeds.shifted(seed))
        check(0)
        step = 0
        bar = progress(range(max_steps), desc="sweep")
        # The active rows change only at checks: their indices on the device, and whether any of them has
        # an L2 penalty, are worked out after each check, not at every step, so that a step makes no
        # host-device round trip (each would wait for the device's queued work). The minibatch losses
        # since the last check are looked at, for NaN and infinity, at the next check.
        l2_host = l2_t.cpu()
        idx = None
        losses: list[torch.Tensor] = []
        since = 0
        for step in bar:
            if idx is None:
                if not bool(active.any()):
                    break
                idx_host = active.nonzero().squeeze(1)
                idx = idx_host.to(x.device)
                rows_host = idx_host.tolist()
                every_row = idx_host.numel() == B
                lr_a = lr_t[idx].unsqueeze(1)
                l2a = l2_t[idx].unsqueeze(1) if bool((l2_host[idx_host] != 0).any()) else None
                losses, since = [], step
            xa = x if every_row else x[idx]
            if per_row:  # each row its own minibatch: idx [rows, batch]
                kwargs = {"idx": torch.stack([row_batches[i]() for i in rows_host]), "train": True}
            else:
                kwargs = {"idx": next_batch(), "train": True} if has_data else {}
            loss, g = landscape.loss_and_grad(xa, **kwargs)
            losses.append(loss)
            if l2a is not None:
                g = g + l2a * xa  # the gradient of l2 / 2 * ||theta||^2
            if buf is not None:
                d = momentum * buf[idx] + g
                buf[idx] = d
            else:
                d = g
            if every_row:
                x.sub_(lr_a * d)
            else:
                x[idx] = xa - lr_a * d
            if (step + 1) % check_every == 0 or step + 1 == max_steps:
                note_nonfinite(losses, since, idx)
                check(step + 1)
                idx = None
        if hasattr(bar, "close"):
            bar.close()
    theta = x[0] if single else x
    return RowsResult(theta, steps, reached, diverged, torch.tensor(check_steps, dtype=torch.long),
                      torch.stack(check_losses))


def _raise_if_diverged(first_bad: torch.Tensor, idx: torch.Tensor, bad_at_check: torch.Tensor, step: int,
                       lr: torch.Tensor) -> None:
    """Raise :class:`lsl.training.trainer.NonFiniteLossError` for the earliest non-finite loss of any row."""
    steps = first_bad.clone()
    checked = idx[bad_at_check]
    steps[checked] = torch.where(steps[checked] < 0, torch.full_like(steps[checked], step), steps[checked])
    if not bool((steps >= 0).any()):
        return
    big = torch.iinfo(torch.long).max
    row = int(torch.where(steps >= 0, steps, torch.full_like(steps, big)).argmin())
    s, rate = int(steps[row]), float(lr[row])
    raise NonFiniteLossError(
        f"sweep training diverged: the loss of row {row} of {steps.numel()} became non-finite at step {s} "
        f"(the loss after {s} updates), with learning rate {rate:g}. Lower that learning rate, or pass "
        f"nonfinite='record' to mark diverged rows and go on", step=s, lr=rate, row=row)
