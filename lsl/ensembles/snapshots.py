"""The sweep of the maximum learning rate of cyclic snapshots, and the rule that finds where training breaks down.

Fort & Jastrzebski (2019, Section 4.5, Figure 6) predict that the advantage of averaging the
snapshots' predictions over averaging their weights grows with the maximum learning rate of the
cycles: high enough, consecutive snapshots land on different wedges and their weight average falls
between them. A learning rate that throws a network out of its wedge is also one at which training
becomes unstable, so the sweep goes up to and past the point where training breaks down.

- :func:`snapshot_sweep` runs the cycles from the same starting points at every maximum learning
  rate (:func:`lsl.ensembles.swa.cyclic_snapshots`) and measures every snapshot, the weight average and the
  prediction average (:func:`lsl.ensembles.averaging.compare_averages`), and the training loss of the
  snapshots and of their weight average; it returns a :class:`SnapshotSweep`.
- :func:`find_breakdown` (or :meth:`SnapshotSweep.breakdown`) is the breakdown rule: training has
  broken down at a maximum learning rate where the last snapshots end, on average over the seeds,
  with a training loss above a multiple of the starting points' loss (or a non-finite one). It
  returns a :class:`Breakdown`: the first such learning rate and the ones to look at closely (the
  lowest, the largest stable one, one step past the breakdown).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lsl.ensembles.averaging import compare_averages
from lsl.landscape import Landscape
from lsl.network import NetworkLandscape
from lsl.settings import check_settings, SNAPSHOT_DEFAULTS, trainer, TrainSettings
from lsl.ensembles.swa import CyclicSnapshots, cyclic_snapshots, weight_average

__all__ = ["SnapshotSweep", "snapshot_sweep", "Breakdown", "find_breakdown"]


@dataclass(frozen=True)
class Breakdown:
    """Where training breaks down along a sweep of the maximum learning rate, and the learning rates to look at.

    The indices are positions in the sweep's learning rates. They are meaningful when the sweep
    reaches the breakdown and starts below it (:attr:`reached` and :attr:`starts_below`; assert
    both before using them). Otherwise they follow the rule's arithmetic: ``at`` is 0 when no
    learning rate breaks down, and ``stable`` is then ``-1`` (the last learning rate, in Python's
    indexing), as it is when the first learning rate already breaks down.

    Its tensors are on the CPU.

    Attributes:
        last_loss: the training loss of the last snapshots, mean over seeds, per learning rate
            ``[n_lr]`` (float64).
        threshold: the loss above which training counts as broken down (``factor`` times the
            reference loss).
        broken: ``True`` where training has broken down ``[n_lr]``: ``last_loss`` is not finite
            or above ``threshold``.
        low: the lowest learning rate of the sweep, ``0``.
        stable: the largest learning rate below the breakdown, ``at - 1``.
        at: the first learning rate at which training has broken down.
        high: one step past the breakdown, ``at + 1``, or the sweep's last if the breakdown is its last.
    """

    last_loss: torch.Tensor
    threshold: float
    broken: torch.Tensor
    low: int
    stable: int
    at: int
    high: int

    @property
    def reached(self) -> bool:
        """Whether training breaks down at some learning rate of the sweep."""
        return bool(self.broken.any())

    @property
    def starts_below(self) -> bool:
        """Whether the sweep's lowest learning rate is still stable."""
        return not bool(self.broken[0])


def find_breakdown(last_loss, reference_loss: float, factor: float) -> Breakdown:
    """The breakdown rule: the first maximum learning rate whose last snapshots end above ``factor`` times a reference loss.

    A tanh network rarely produces an infinite loss when its learning rate is too large; it
    saturates, and its loss stays high. So training counts as broken down where cycling made the
    network worse than where it started: the last snapshots' training loss (mean over seeds) is
    above ``factor * reference_loss``, or not finite.

    Args:
        last_loss: the last snapshots' training loss per learning rate, in the sweep's order
            ``[n_lr]`` (a tensor, array or sequence; :attr:`SnapshotSweep.last_loss`).
        reference_loss: the loss to compare with, e.g. the mean training loss of the starting points.
        factor: how many times the reference loss counts as broken down.

    Returns:
        a :class:`Breakdown` with the chosen indices.

    Raises:
        ValueError: if ``last_loss`` is not a non-empty vector.
    """
    if isinstance(last_loss, torch.Tensor):
        last_loss = last_loss.detach().cpu().numpy()
    last_loss = np.asarray(last_loss, dtype=np.float64)
    if last_loss.ndim != 1 or last_loss.size == 0:
        raise ValueError(f"last_loss must be a non-empty vector [n_lr], got shape {last_loss.shape}")
    threshold = factor * reference_loss
    broken = ~np.isfinite(last_loss) | (last_loss > threshold)
    at = int(np.argmax(broken))
    return Breakdown(last_loss=torch.from_numpy(last_loss), threshold=threshold, broken=torch.from_numpy(broken),
                     low=0, stable=at - 1, at=at, high=min(at + 1, len(last_loss) - 1))


@dataclass(frozen=True)
class SnapshotSweep:
    """Cyclic snapshots at every maximum learning rate of a sweep, and their measurements.

    ``n_lr`` learning rates, ``S`` starting points (seeds), ``M`` snapshots (cycles) per run. The
    measurements are float64 tensors on the CPU (``diverged`` is boolean); the runs' tensors are on
    the landscape's device. Accuracies and NLLs are measured on the sweep's split (the test set by
    default), training losses on the loss landscape.

    Attributes:
        max_lrs: the maximum learning rates, in the sweep's order.
        runs: the cyclic run at each maximum learning rate (:class:`lsl.ensembles.swa.CyclicSnapshots`, all
            ``S`` starting points trained as one batch).
        accuracy: accuracy of every snapshot ``[n_lr, S, M]``.
        nll: test loss (cross-entropy) of every snapshot ``[n_lr, S, M]``.
        loss: training loss of every snapshot ``[n_lr, S, M]``.
        weight_accuracy: accuracy of each run's weight average (SWA) ``[n_lr, S]``.
        weight_nll: its test loss ``[n_lr, S]``.
        weight_loss: its training loss ``[n_lr, S]``.
        prediction_accuracy: accuracy of each run's prediction average (the snapshot ensemble) ``[n_lr, S]``.
        prediction_nll: its negative log-likelihood ``[n_lr, S]``.
        diverged: ``True`` where a run's loss became non-finite ``[n_lr, S]``.
    """

    max_lrs: tuple[float, ...]
    runs: tuple[CyclicSnapshots, ...]
    accuracy: torch.Tensor
    nll: torch.Tensor
    loss: torch.Tensor
    weight_accuracy: torch.Tensor
    weight_nll: torch.Tensor
    weight_loss: torch.Tensor
    prediction_accuracy: torch.Tensor
    prediction_nll: torch.Tensor
    diverged: torch.Tensor

    @property
    def any_diverged(self) -> bool:
        """Whether any run of the sweep produced a non-finite loss."""
        return bool(self.diverged.any())

    @property
    def last_loss(self) -> torch.Tensor:
        """The training loss of the last snapshots, mean over seeds, ``[n_lr]`` (float64, on the CPU).

        Computed with NumPy, as :func:`find_breakdown` compares it.
        """
        return torch.from_numpy(self.loss.numpy()[:, :, -1].mean(1))

    @property
    def jensen_gap(self) -> torch.Tensor:
        """The weight average's training loss minus the snapshots' mean training loss, ``[n_lr, S]`` (on the CPU).

        If the snapshots lie in one region where the loss is convex, the gap is at most zero
        (Jensen's inequality); a positive gap means their average left that region.
        """
        return torch.from_numpy(self.weight_loss.numpy() - self.loss.numpy().mean(-1))

    def breakdown(self, reference_loss: float, factor: float) -> Breakdown:
        """The breakdown rule (:func:`find_breakdown`) applied to :attr:`last_loss`.

        Args:
            reference_loss: the loss to compare with, e.g. the mean training loss of the starting points.
            factor: how many times the reference loss counts as broken down.
        """
        return find_breakdown(self.last_loss, reference_loss, factor)


@trainer(SNAPSHOT_DEFAULTS)
def snapshot_sweep(
    landscape: NetworkLandscape,
    start: torch.Tensor,
    max_lrs,
    *,
    cycles: int,
    settings: TrainSettings = SNAPSHOT_DEFAULTS,
    split: str = "test",
    loss_landscape: Landscape | None = None,
    loader_x=None,
    cache: bool = True,
) -> SnapshotSweep:
    """Cyclic snapshots from the same starting points at every maximum learning rate, each measured.

    At each maximum learning rate, :func:`lsl.ensembles.swa.cyclic_snapshots` trains all starting points
    as one batch; then, for each starting point, :func:`lsl.ensembles.averaging.compare_averages` measures
    every snapshot, their weight average and their prediction average on ``split``, and
    ``loss_landscape`` gives the training loss of every snapshot and of the weight average.

    Settings (:class:`~lsl.settings.TrainSettings`, as :func:`lsl.ensembles.swa.cyclic_snapshots`, default
    :data:`~lsl.settings.SNAPSHOT_DEFAULTS`): the learning rate is each of ``max_lrs`` in turn
    (so ``settings.lr`` must be left unset); every other field is the settings'.

    Args:
        landscape: a network landscape with a test split.
        start: the starting points ``[S, D]`` (e.g. independently pre-trained networks), or one ``[D]`` (``S = 1``).
        max_lrs: the maximum learning rates of the cycles, in the order of the sweep.
        cycles: cycles (= snapshots) per run, ``M``.
        settings: the optimiser settings (default :data:`~lsl.settings.SNAPSHOT_DEFAULTS`), with
            ``cycle_steps`` given and ``lr`` unset (see :func:`lsl.ensembles.swa.cyclic_snapshots`).
        split: where accuracies and NLLs are measured, ``"test"`` or ``"train"``.
        loss_landscape: where training losses are measured, e.g. ``landscape.subset(n)`` for the
            first ``n`` training examples (default: ``landscape``).
        loader_x: leave ``None``: the weight average's batch-norm statistics are the training data's at the
            average, the one policy of :class:`~lsl.network.NetworkLandscape` (given for a network with batch
            norm it raises a ``ValueError``, see :func:`lsl.ensembles.swa.swa_landscape`; ignored without).
        cache: store the runs on disk (see :func:`lsl.training.trainer.train`).

    Returns:
        a :class:`SnapshotSweep`.

    Raises:
        ValueError: if ``max_lrs`` is empty, ``cycles`` is not a positive integer, or the settings are invalid (see :func:`lsl.ensembles.swa.cyclic_snapshots`).
    """
    check_settings(settings, who="snapshot_sweep", needs=("cycle_steps",))
    if settings.lr is not None:
        raise ValueError(f"snapshot_sweep takes its learning rates as max_lrs, one per run; got settings.lr={settings.lr!r} "
                         "as well: leave settings.lr unset (None)")
    max_lrs = tuple(float(lr) for lr in max_lrs)
    if not max_lrs:
        raise ValueError("max_lrs must name at least one maximum learning rate")
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
        raise ValueError(f"cycles must be an integer >= 1, got {cycles!r}")
    one = landscape.check_theta(start, "start").dim() == 1
    S = 1 if one else start.shape[0]
    loss_landscape = landscape if loss_landscape is None else loss_landscape
    n_lr = len(max_lrs)
    f64 = dict(dtype=torch.float64)
    acc, nll, loss = (torch.zeros(n_lr, S, cycles, **f64) for _ in range(3))
    w_acc, w_nll, w_loss, p_acc, p_nll = (torch.zeros(n_lr, S, **f64) for _ in range(5))
    diverged = torch.zeros(n_lr, S, dtype=torch.bool)
    runs = []
    for i, lr in enumerate(max_lrs):
        run = cyclic_snapshots(landscape, start, cycles=cycles, settings=settings.replace(lr=lr), cache=cache)
        runs.append(run)
        diverged[i] = run.diverged.cpu()
        for s in range(S):
            snaps = run.snapshots if one else run.snapshots[:, s]  # [M, D], the snapshots of seed s
            cmp = compare_averages(landscape, snaps, split, loader_x)
            acc[i, s], nll[i, s] = cmp.members.member_accuracy.cpu(), cmp.members.member_nll.cpu()
            w_acc[i, s], w_nll[i, s] = cmp.weight_accuracy, cmp.weight_nll
            p_acc[i, s], p_nll[i, s] = cmp.prediction_accuracy, cmp.prediction_nll
            loss[i, s] = loss_landscape.loss(snaps).cpu()
            w_loss[i, s] = loss_landscape.loss(weight_average(snaps)).item()
    return SnapshotSweep(max_lrs=max_lrs, runs=tuple(runs), accuracy=acc, nll=nll, loss=loss, weight_accuracy=w_acc,
                         weight_nll=w_nll, weight_loss=w_loss, prediction_accuracy=p_acc, prediction_nll=p_nll,
                         diverged=diverged)
